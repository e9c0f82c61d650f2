// net: a server and clients on one loop; echo, back-pressure, half-close.
'use strict';
const net = require('net');

const payload = Buffer.alloc(4 * 1024 * 1024);
for (let i = 0; i < payload.length; i++) payload[i] = i % 251;

const server = net.createServer({ allowHalfOpen: true }, (sock) => {
  const parts = [];
  sock.on('data', (d) => parts.push(d));
  sock.on('end', () => {
    const all = Buffer.concat(parts);
    // Echo back after the client's half-close, then close our side.
    sock.end(all);
  });
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  console.log('listening:', typeof port);
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
    console.log('connected:', c.remoteAddress);
    const flushed = c.write(payload);
    console.log('write buffered (back-pressure):', flushed === false);
    c.end();
  });
  const got = [];
  c.on('data', (d) => got.push(d));
  c.on('end', () => {
    const back = Buffer.concat(got);
    console.log('echoed:', back.length, back.equals(payload));
    manyClients(port);
  });
});

function manyClients(port) {
  const N = 200;
  let done = 0;
  for (let i = 0; i < N; i++) {
    const c = net.connect(port, '127.0.0.1', () => c.end('client ' + i));
    let s = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (s += d));
    c.on('end', () => {
      if (s !== 'client ' + i) console.log('mismatch', i, s);
      if (++done === N) {
        console.log('clients done:', done);
        refused();
      }
    });
  }
}

function refused() {
  const port = server.address().port;
  server.close(() => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', (e) => console.log('refused after close:', e.code));
  });
}
