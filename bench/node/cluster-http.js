// Node's cluster hello world, the anchor bench/cluster.sh compares
// examples/cluster-http with. Usage:
//   NODE_CLUSTER_SCHED_POLICY=rr|none WORKERS=2 node cluster-http.js PORT
// The primary forks WORKERS workers and re-forks one that dies (as the
// Node docs' example does in its 'exit' handler); it logs, one line each,
// with the wall clock in seconds since the epoch:
//   <time> worker <id> (pid <pid>) listening on <address>:<port>
//   <time> worker <id> (pid <pid>) died
// SIGINT/SIGTERM: disconnect every worker, then exit 0.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');

const port = Number(process.argv[2] || process.env.PORT || 8000);

function log(line) {
  const t = (Date.now() / 1000).toFixed(6);
  process.stdout.write(`${t} ${line}\n`);
}

if (cluster.isPrimary) {
  const n = Number(process.env.WORKERS || 2);
  let stopping = false;
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('listening', (w, a) => {
    log(`worker ${w.id} (pid ${w.process.pid}) listening on ` +
        `${a.address}:${a.port}`);
  });
  cluster.on('exit', (w, code, signal) => {
    log(`worker ${w.id} (pid ${w.process.pid}) died`);
    if (!stopping) cluster.fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`Hello from worker ${process.pid}\n`);
  }).listen(port, '127.0.0.1');
}
