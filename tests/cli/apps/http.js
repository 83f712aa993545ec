// A Node HTTP app: answers with its instance number; SIGTERM closes it.
const http = require('http');
const port = Number(process.env.PORT || 0) + Number(process.env.NODE_APP_INSTANCE || 0);
const server = http.createServer((req, res) => res.end(`instance ${process.env.MUSTER_INSTANCE}\n`));
server.listen(port, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
