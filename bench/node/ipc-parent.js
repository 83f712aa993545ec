'use strict';
// The Node side of bench/ipc: a parent that forks bench/node/ipc-child.js
// with child_process.fork() (json serialization, Node's default) and runs
// one test over the IPC channel. Prints one JSON line that build/bench/ipc
// reads: ns, the nanoseconds of the N timed operations.
//
//   node bench/node/ipc-parent.js TEST WARMUP N
//
// TEST is tput, rtt, big, fds or fork, with the same protocol as the C
// variants (see bench/ipc.c): WARMUP untimed operations first, on the same
// pair of processes; Node's start-up is timed only by fork (it is what that
// test measures).

const { fork } = require('child_process');
const net = require('net');
const os = require('os');
const path = require('path');

const test = process.argv[2];
const w = Number(process.argv[3]);
const n = Number(process.argv[4]);
const child = path.join(__dirname, 'ipc-child.js');
const BIG = 1024 * 1024;
const FD_WINDOW = 64;

if (!['tput', 'rtt', 'big', 'fds', 'fork'].includes(test) || !(w >= 0) ||
    !(n > 0)) {
  console.error('usage: node ipc-parent.js tput|rtt|big|fds|fork WARMUP N');
  process.exit(2);
}

const now = () => process.hrtime.bigint();
const hello = (i) => ({ i, s: 'hello' });

function report(ns) {
  console.log(JSON.stringify({
    test, w, n, ns: Number(ns), node: process.version,
    uv: process.versions.uv,
  }));
}

function start(args) {
  const c = fork(child, args);
  c.on('error', (err) => { throw err; });
  c.on('exit', (code, signal) => {
    if (code !== 0) {
      console.error(`ipc-child.js: exit ${code} signal ${signal}`);
      process.exit(1);
    }
  });
  return c;
}

function end(c) {
  if (c.connected) c.disconnect();
}

// Counts the child's messages: the clock runs from the W-th to the last,
// and `next` (if any) is called after each of the others.
function count(c, next) {
  let received = 0;
  let t0;
  c.on('message', () => {
    received++;
    if (received === w) t0 = now();
    if (received === w + n) {
      report(now() - t0);
      end(c);
    } else if (next) {
      next(received);
    }
  });
}

// The child streams W + N messages.
function tput() {
  count(start([test, String(w), String(n)]));
}

// Ping-pong: each ping leaves when the previous pong arrived.
function pingPong() {
  const c = start([test, String(w), String(n)]);
  const big = { s: 'x'.repeat(BIG - 8) }; // BIG bytes of JSON text
  const ping = (i) => c.send(test === 'big' ? big : hello(i));
  count(c, ping);
  ping(0);
}

// W + N sockets, each with a message, FD_WINDOW sends in flight; the child
// times them and answers {ns}.
function fds() {
  const dir = require('fs').mkdtempSync(path.join(os.tmpdir(), 'ipc-bench-'));
  const where = path.join(dir, 'sock');
  const server = net.createServer((peer) => peer.on('error', () => {}));
  server.listen(where, () => {
    const sock = net.connect(where, () => {
      const c = start([test, String(w), String(n)]);
      let sent = 0;
      let inFlight = 0;
      const pump = () => {
        while (inFlight < FD_WINDOW && sent < w + n) {
          inFlight++;
          c.send(hello(sent++), sock, { keepOpen: true }, onSent);
        }
      };
      const onSent = (err) => {
        if (err) throw err;
        inFlight--;
        pump();
      };
      c.on('message', (m) => {
        report(m.ns);
        end(c);
        sock.destroy();
        server.close();
        require('fs').rmSync(dir, { recursive: true, force: true });
      });
      pump();
    });
  });
}

// N children one after the other: fork() to the first message.
function forks() {
  let left = n;
  let total = 0n;
  const next = () => {
    if (left-- === 0) return report(total);
    const t0 = now();
    const c = start([test, '0', '1']);
    c.once('message', () => {
      total += now() - t0;
      end(c);
    });
    c.on('exit', next);
  };
  next();
}

({ tput, rtt: pingPong, big: pingPong, fds, fork: forks })[test]();
