// Captures the NODE_CLUSTER messages of a real Node cluster run, both
// ways, one JSON text per file, for the seed corpus of fuzz/fuzz-cluster.c:
//
//   node fuzz/capture/cluster.js fuzz/corpus/fuzz-cluster
//
// A primary forks 2 workers under round-robin (and 1 more under
// SCHED_NONE, in a second primary process) that listen on TCP, a Unix
// path and UDP, take a connection each, then disconnect: online,
// queryServer, its replies, listening, newconn, {ack, accepted}, close,
// disconnect. Each message is written
// as JSON.stringify gives it, which is what Node puts on the wire.
'use strict';
const cluster = require('cluster');
const fs = require('fs');
const net = require('net');
const dgram = require('dgram');
const os = require('os');
const path = require('path');

const out = process.argv[2] || process.env.CAPTURE_DIR;
const sock = path.join(os.tmpdir(), `muster-capture-${process.ppid}.sock`);

function save(dir, m) {
  if (!m || m.cmd !== 'NODE_CLUSTER') return;
  const what = m.act || `ack-${m.ack}`;
  const name = `${dir}-${what}-${m.seq}`.replace(/[^A-Za-z0-9._-]/g, '_');
  fs.writeFileSync(path.join(out, name), JSON.stringify(m));
}

function finish(policy) {
  for (const id in cluster.workers) cluster.workers[id].process.kill();
  try { fs.unlinkSync(sock + policy); } catch (e) {}
  if (policy === 'rr') {
    require('child_process').spawnSync(
        process.execPath, [__filename, out],
        { env: { ...process.env, CAPTURE_POLICY: 'none' }, stdio: 'inherit' });
  }
  process.exit(0);
}

if (cluster.isPrimary) {
  const policy = process.env.CAPTURE_POLICY || 'rr';
  cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE
                                               : cluster.SCHED_RR;
  cluster.setupPrimary({ args: [out], env: { CAPTURE_DIR: out } });
  const n = policy === 'none' ? 1 : 2;
  let listening = 0;
  for (let i = 0; i < n; i++) {
    const w = cluster.fork({ CAPTURE_POLICY: policy });
    w.process.on('internalMessage', (m) => save(`${policy}-w2p`, m));
    w.on('listening', (a) => {
      if (a.addressType !== 4) return;
      if (++listening < n) return;
      // One connection per worker on the TCP server.
      let done = 0;
      for (let k = 0; k < n; k++) {
        const c = net.connect(a.port, '127.0.0.1', () => c.end('x'));
        c.on('close', () => {
          if (++done < n) return;
          // disconnect sends "disconnect" and gets "close" for each key;
          // a worker that lingers after that is killed, the capture is in.
          cluster.disconnect();
          setTimeout(() => finish(policy), 1500);
        });
      }
    });
  }
} else {
  const policy = process.env.CAPTURE_POLICY;
  process.on('internalMessage', (m) => save(`${policy}-p2w`, m));
  const s = net.createServer((c) => { c.end(); });
  s.listen(0, '127.0.0.1');
  if (cluster.worker.id === 1) {
    net.createServer(() => {}).listen(sock + policy);
    const u = dgram.createSocket('udp4');
    u.bind(0, '127.0.0.1', () => u.close()); // its query is what counts
  }
}
