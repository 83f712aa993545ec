'use strict';
// The Node side of bench/shared: an Atomics.wait / Atomics.notify ping-pong
// between the main thread and one worker on a SharedArrayBuffer.
//
//   shared.js MODE WARMUP N
//
// MODE sync: both sides block in Atomics.wait. MODE async: the main thread
// waits with Atomics.waitAsync (awaiting its promise), the worker blocks.
// Prints one JSON line: nanoseconds per round trip over the last N of
// WARMUP + N round trips.
const { Worker, isMainThread, workerData } = require('worker_threads');

// One side of the ping-pong: the word's parity says whose turn it is.
function side(a, me, total, warmup) {
  let t0 = 0n;
  for (let i = 0; i < total; i++) {
    if (i === warmup) t0 = process.hrtime.bigint();
    let v;
    while (((v = Atomics.load(a, 0)) & 1) !== me) Atomics.wait(a, 0, v);
    Atomics.store(a, 0, v + 1);
    Atomics.notify(a, 0, 1);
  }
  return process.hrtime.bigint() - t0;
}

// The same with Atomics.waitAsync: the thread's loop stays free.
async function sideAsync(a, me, total, warmup) {
  let t0 = 0n;
  for (let i = 0; i < total; i++) {
    if (i === warmup) t0 = process.hrtime.bigint();
    let v;
    while (((v = Atomics.load(a, 0)) & 1) !== me) {
      const r = Atomics.waitAsync(a, 0, v);
      if (r.async) await r.value;
    }
    Atomics.store(a, 0, v + 1);
    Atomics.notify(a, 0, 1);
  }
  return process.hrtime.bigint() - t0;
}

async function main() {
  const mode = process.argv[2];
  const warmup = Number(process.argv[3]);
  const n = Number(process.argv[4]);
  const sab = new SharedArrayBuffer(64);
  const a = new Int32Array(sab);
  const w = new Worker(__filename, { workerData: { sab, total: warmup + n } });
  w.on('error', (e) => { throw e; });
  // Wait until the worker runs, so its start-up is not timed.
  Atomics.wait(a, 1, 0);
  const ns = mode === 'async' ? await sideAsync(a, 0, warmup + n, warmup)
                               : side(a, 0, warmup + n, warmup);
  w.on('exit', () => {
    console.log(JSON.stringify({
      node: process.version, uv: process.versions.uv,
      ns_per_rtt: Number(ns) / n,
    }));
  });
}

if (isMainThread) {
  main();
} else {
  const a = new Int32Array(workerData.sab);
  Atomics.store(a, 1, 1);
  Atomics.notify(a, 1);
  side(a, 1, workerData.total, 0);
}
