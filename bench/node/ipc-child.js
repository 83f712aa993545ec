'use strict';
// The child of bench/node/ipc-parent.js (forked by it): the Node side of
// each test of bench/ipc.
//
//   ipc-child.js TEST WARMUP N

const test = process.argv[2];

if (test === 'fork') {
  process.send({ i: 0, s: 'hello' });
} else {
  const w = Number(process.argv[3]);
  const n = Number(process.argv[4]);
  if (test === 'tput') {
    // All in one loop, ignoring send()'s false: Node's fastest here (it
    // queues everything, ~900 MB for 1.1M messages). Waiting for a send's
    // callback whenever send() returned false, or sending 1000 per
    // setImmediate, were each about 1.5x slower.
    for (let i = 0; i < w + n; i++) process.send({ i, s: 'hello' });
  } else if (test === 'rtt') {
    process.on('message', (m) => process.send(m));
  } else if (test === 'big') {
    let k = 0;
    process.on('message', () => process.send({ i: k++, s: 'hello' }));
  } else if (test === 'fds') {
    let count = 0;
    let t0;
    process.on('message', (m, handle) => {
      if (!handle) throw new Error('a message without its handle');
      handle.destroy();
      count++;
      if (count === w) t0 = process.hrtime.bigint();
      if (count === w + n) {
        process.send({ ns: Number(process.hrtime.bigint() - t0) });
      }
    });
  }
}
