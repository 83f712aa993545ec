// The Node side of bench/threads.c: the same operations with
// worker_threads (and piscina for the pool). Usage:
//   node threads.js MODE N [PISCINA_DIR]
// Prints one JSON line with the figures of MODE:
//   start   N workers one after the other: ms to 'online', to first message
//   oneway  N small messages from a worker: messages/s
//   rtt     N round trips of a small message: us per round trip
//   mib     N round trips of 1 MiB, copied and transferred: ms each
//   idle    N idle workers: RSS per worker in KiB
//   pool    N tiny tasks on piscina with 2 threads: tasks/s
'use strict';
const { Worker, isMainThread, parentPort, workerData } =
    require('node:worker_threads');
const path = require('node:path');

if (!isMainThread) {
  const mode = workerData.mode;
  if (mode === 'start') {
    parentPort.postMessage(1);
  } else if (mode === 'oneway') {
    for (let i = 0; i < workerData.n; i++) parentPort.postMessage(i);
  } else if (mode === 'idle') {
    parentPort.on('message', () => parentPort.close());
    parentPort.postMessage('up');
  } else if (mode === 'mib-transfer') {
    parentPort.on('message', (b) => {
      if (b === null) return parentPort.close();
      parentPort.postMessage(b, [b]);
    });
  } else {  // echo: rtt, mib-copy
    parentPort.on('message', (m) => {
      if (m === null) return parentPort.close();
      parentPort.postMessage(m);
    });
  }
  return;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;  // ms
const mode = process.argv[2], n = Number(process.argv[3]);
const out = (o) => {
  o.node = process.version;
  o.uv = process.versions.uv;
  console.log(JSON.stringify(o));
};

async function start() {
  let online = 0, first = 0;
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const w = new Worker(__filename, { workerData: { mode: 'start' } });
    await new Promise((resolve) => {
      w.once('online', () => { online += now() - t0; });
      w.once('message', () => { first += now() - t0; resolve(); });
    });
    await w.terminate();
  }
  out({ online_ms: online / n, first_message_ms: first / n });
}

function oneway() {
  const w = new Worker(__filename, { workerData: { mode: 'oneway', n } });
  let got = 0, t0 = 0;
  w.on('online', () => { t0 = now(); });
  w.on('message', () => {
    if (++got === n) {
      const s = (now() - t0) / 1e3;
      out({ messages_per_s: n / s });
      w.terminate();
    }
  });
}

function echo(m, transfer, cb) {
  const w = new Worker(__filename, {
    workerData: { mode: transfer ? 'mib-transfer' : 'echo' } });
  let left = n, t0;
  const send = () => transfer ? w.postMessage(m, [m]) : w.postMessage(m);
  w.on('message', (back) => {
    if (transfer) m = back;
    if (--left === 0) {
      const per = (now() - t0) / n;
      w.postMessage(null);
      return cb(per);
    }
    send();
  });
  w.once('online', () => { t0 = now(); send(); });
}

function idle() {
  const before = process.memoryUsage().rss;
  const ws = [];
  let up = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, { workerData: { mode: 'idle' } });
    w.once('message', () => {
      if (++up < n) return;
      setTimeout(() => {
        const per = (process.memoryUsage().rss - before) / n / 1024;
        for (const x of ws) x.postMessage('bye');
        out({ rss_per_worker_kib: per });
      }, 200);
    });
    ws.push(w);
  }
}

async function pool() {
  const dir = process.argv[4];
  const Piscina = require(path.join(dir, 'node_modules', 'piscina'));
  const p = new Piscina({
    filename: path.join(__dirname, 'threads-task.js'),
    minThreads: 2, maxThreads: 2 });
  // Warm up, then time.
  await Promise.all(Array.from({ length: 1000 }, (_, i) => p.run(i)));
  const t0 = now();
  await Promise.all(Array.from({ length: n }, (_, i) => p.run(i)));
  const s = (now() - t0) / 1e3;
  out({ tasks_per_s: n / s });
  await p.destroy();
}

if (mode === 'start') start();
else if (mode === 'oneway') oneway();
else if (mode === 'rtt') echo(1, false, (per) => out({ rtt_us: per * 1e3 }));
else if (mode === 'mib') {
  echo(Buffer.alloc(1 << 20, 1), false, (copied) => {
    echo(new ArrayBuffer(1 << 20), true, (moved) => {
      out({ copied_ms: copied, transferred_ms: moved });
    });
  });
} else if (mode === 'idle') idle();
else if (mode === 'pool') pool();
else { console.error('unknown mode ' + mode); process.exit(2); }
