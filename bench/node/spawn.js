'use strict';
// The Node side of bench/spawn: spawn /bin/true and wait for it, N times in
// a row, with child_process.spawn (waiting for 'close', the event that
// comes once the exit is known and stdio has ended) or spawnSync, both with
// Node's default stdio (pipe, pipe, pipe). Prints one JSON line that
// build/bench/spawn reads.
//
//   node bench/node/spawn.js async|sync [N] [WARMUP] [FILE]
//
// Only the spawns are timed: Node's own start-up and the warm-up spawns
// (which let V8 compile the code paths involved) are not.

const { spawn, spawnSync } = require('child_process');

const mode = process.argv[2];
const n = Number(process.argv[3] || 500);
const warmup = Number(process.argv[4] || 20);
const file = process.argv[5] || '/bin/true';

if ((mode !== 'async' && mode !== 'sync') || !(n > 0) || !(warmup >= 0)) {
  console.error('usage: node spawn.js async|sync [N] [WARMUP] [FILE]');
  process.exit(2);
}

function report(t0, cpu0) {
  const ns = process.hrtime.bigint() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({
    mode,
    n,
    total_ns: Number(ns),
    us_per_spawn: Number(ns) / 1e3 / n,
    cpu_us_per_spawn: (cpu.user + cpu.system) / n,
    node: process.version,
    uv: process.versions.uv,
  }));
}

function fail(what) {
  console.error(`spawn ${file}: ${what}`);
  process.exit(1);
}

function runSync(count) {
  for (let i = 0; i < count; i++) {
    const r = spawnSync(file);
    if (r.error) fail(r.error.code);
    if (r.status !== 0) fail(`exit ${r.status} signal ${r.signal}`);
  }
}

// Sequential: the next spawn starts from the previous child's 'close'.
function runAsync(count, done) {
  let left = count;
  const next = () => {
    if (left-- === 0) return done();
    const child = spawn(file);
    child.on('error', (err) => fail(err.code));
    child.on('close', (code, signal) => {
      if (code !== 0) fail(`exit ${code} signal ${signal}`);
      next();
    });
  };
  next();
}

if (mode === 'sync') {
  runSync(warmup);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  runSync(n);
  report(t0, cpu0);
} else {
  runAsync(warmup, () => {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    runAsync(n, () => report(t0, cpu0));
  });
}
