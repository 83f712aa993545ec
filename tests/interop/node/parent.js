'use strict';
// Node parent, C child: node parent.js AGENT SCENARIO
// Forks the C agent the way Node docs do for a non-Node program:
// child_process.fork(file, {execPath: file}).
const { fork, spawn } = require('child_process');
const { once } = require('events');
const { run } = require('./driver');

const [agent, scenario, how] = process.argv.slice(2);
// "spawn": spawn() with 'ipc' in stdio at index 4 (NODE_CHANNEL_FD=4).
const child =
  how === 'spawn'
    ? spawn(agent, ['interop_agent'], { stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'ipc'] })
    : fork('interop_agent', [], { execPath: agent });
const exited = once(child, 'exit');
run(child, scenario, async () => {
  const [code, signal] = await exited;
  if (code !== 0) throw new Error(`C child exited ${code} ${signal}`);
});
