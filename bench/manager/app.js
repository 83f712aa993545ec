// The Node app of bench/manager.sh: an HTTP server on 127.0.0.1:PORT
// (first argument, else $PORT) answering "ok\n".
'use strict';
const http = require('node:http');
const port = Number(process.argv[2] || process.env.PORT);
http.createServer((req, res) => res.end('ok\n'))
  .listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
