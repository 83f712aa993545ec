// A Node app: writes argv[2] numbered lines tagged with its instance,
// every tenth to stderr, as fast as it can; then stays up.
const n = Number(process.argv[2] || 1000);
const i = process.env.MUSTER_INSTANCE;
const pad = 'x'.repeat(80);
for (let k = 1; k <= n; k++) {
  const line = `i${i} n${k} ${pad}`;
  if (k % 10 === 0) console.error(line);
  else console.log(line);
}
setInterval(() => {}, 1000);
