'use strict';
// Node child, C parent: started by the agent (interop_parent) with the
// channel on fd 3 and NODE_CHANNEL_FD=3. node child.js SCENARIO
const { run } = require('./driver');

if (typeof process.send !== 'function') {
  console.error('no IPC channel');
  process.exit(1);
}
run(process, process.argv[2], async () => {});
