// A Node cluster primary running muster's C worker fixture:
//   node cluster_primary.js FIXTURE N REQUESTS
// It forks N `FIXTURE cluster_worker tcp 127.0.0.1 0` workers, sends
// REQUESTS requests once all listen, prints one JSON line
// {"workers":[pids],"answers":[pids],"exits":[[code,signal,afterDisconnect]]}
// and disconnects the workers.
'use strict';
const cluster = require('cluster');
const net = require('net');

const [fixture, nStr, reqStr] = process.argv.slice(2);
const n = +nStr, requests = +reqStr;
// cluster.fork() runs process.execPath with [...execArgv, exec, ...args]:
// pointing execPath at the fixture runs the C worker directly.
process.execPath = fixture;
cluster.setupPrimary({
  exec: 'cluster_worker',
  args: ['tcp', '127.0.0.1', '0'],
  execArgv: [],
});

const workers = [];
const answers = [];
const exits = [];
let listening = 0;
let port = 0;

function ask(i) {
  if (i === requests) return done();
  const s = net.connect(port, '127.0.0.1', () => s.write('x\n'));
  let buf = '';
  s.on('data', (d) => { buf += d; });
  s.on('close', () => { answers.push(parseInt(buf, 10) || -1); ask(i + 1); });
  s.on('error', () => {});
}

function done() {
  cluster.disconnect(() => {
    setTimeout(() => {
      console.log(JSON.stringify({ workers, answers, exits }));
    }, 100);
  });
}

cluster.on('exit', (w, code, signal) =>
  exits.push([code, signal, w.exitedAfterDisconnect]));
cluster.on('listening', (w, address) => {
  port = address.port;
  if (++listening === n) ask(0);
});
for (let i = 0; i < n; i++) workers.push(cluster.fork().process.pid);
setTimeout(() => { console.error('timeout'); process.exit(3); }, 20000).unref();
