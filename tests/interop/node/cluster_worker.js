// A Node cluster worker for muster's interop tests: an HTTP server whose
// body is this worker's pid. Run by a C primary: node cluster_worker.js
// [host] [port].
'use strict';
const cluster = require('cluster');
const http = require('http');

if (!cluster.isWorker) {
  console.error('cluster_worker.js: not a cluster worker');
  process.exit(2);
}
const host = process.argv[2] || '127.0.0.1';
const port = +(process.argv[3] || 0);
http.createServer((req, res) => {
  res.setHeader('Connection', 'close');
  res.end(`${process.pid}\n`);
}).listen(port, host);
