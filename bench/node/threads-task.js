// The tiny task of the pool benchmark (bench/node/threads.js, piscina).
'use strict';
module.exports = (x) => x + 1;
