// observe-http: a small HTTP server and three requests to it on one
// keep-alive connection, then exit. tools/node-check.sh runs it on
// nodeloop with NODELOOP_TRACE and keeps the trace in
// build/node18/out/observe-http.json (docs/observability.md walks
// through it).
'use strict';
const http = require('http');
const fs = require('fs');

const server = http.createServer((req, res) => {
  if (req.url === '/file') {
    // fs:open, fs:fstat, fs:read, fs:close: on the loop's io_uring (or the
    // worker pool without it).
    fs.readFile(__filename, (err, data) => {
      res.end(err ? 'error' : data.length + ' bytes');
    });
    return;
  }
  setTimeout(() => res.end('hello ' + req.url), 2);
});

server.listen(0, '127.0.0.1', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.address().port, path, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode + ' ' + body));
      }).on('error', reject);
  });
  for (const p of ['/a', '/file', '/b'])
    console.log(p, (await get(p)).replace(/\d+ bytes/, 'N bytes'));
  agent.destroy();
  server.close(() => console.log('closed'));
});
