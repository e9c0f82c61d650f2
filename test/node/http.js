// http: a server, keep-alive requests, a POST body, a large response.
'use strict';
const http = require('http');

const big = 'x'.repeat(1024 * 1024);
const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (d) => (n += d.length));
    req.on('end', () => res.end('got ' + n));
    return;
  }
  if (req.url === '/big') return res.end(big);
  res.setHeader('Content-Type', 'text/plain');
  res.end('hello ' + req.url);
});

server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (p) => new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path: p, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve([res.statusCode, body, res.socket]));
    }).on('error', reject);
  });
  let first;
  for (let i = 0; i < 5; i++) {
    const [code, body, sock] = await get('/r' + i);
    first = first || sock;
    console.log(code, body, 'same socket:', sock === first);
  }
  const [code, body] = await get('/big');
  console.log('big:', code, body.length);
  const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/', agent },
    (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => {
        console.log('post:', res.statusCode, b);
        agent.destroy();
        server.close(() => console.log('closed'));
      });
    });
  for (let i = 0; i < 100; i++) req.write(Buffer.alloc(10000, 1));
  req.end();
});
