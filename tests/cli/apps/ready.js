// A Node app started with wait_ready: it says "ready" (PM2's
// process.send('ready')) READY_DELAY ms after it started, or never when
// NO_READY=1.
const delay = Number(process.env.READY_DELAY || 0);
console.log(`up ${process.pid}`);
if (process.env.NO_READY !== '1')
  setTimeout(() => { console.log(`ready ${process.pid}`); process.send('ready'); }, delay);
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
