// observe-trace: a bit of every kind of loop work, for a NODELOOP_TRACE
// trace that tools/node-trace-check.py reads (tools/node-check.sh runs it
// on nodeloop only; not one of the both-libuvs comparisons).
// setTimeout (timers), setImmediate (check), fs.readFile (pool: open,
// fstat, read, close), a TCP round trip on 127.0.0.1, then exit.
'use strict';
const fs = require('fs');
const net = require('net');

const step = (s) => console.log(s);

setTimeout(() => {
  step('timeout');
  setImmediate(() => {
    step('immediate');
    fs.readFile(__filename, (err, data) => {
      if (err) throw err;
      step('readFile: ' + (data.length > 0));
      tcp();
    });
  });
}, 5);

// The answer is large: Node writes with uv_try_write first, and only what
// the socket does not take at once goes through uv_write (and its write
// callback).
const big = Buffer.alloc(8 * 1024 * 1024, 'x');

function tcp() {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => sock.end(Buffer.concat([Buffer.from('echo ' + d + ' '), big])));
  });
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => {
      c.write('ping');
    });
    let got = 0, head = '';
    c.on('data', (d) => {
      if (got === 0) head = d.toString('latin1', 0, 10);
      got += d.length;
    });
    c.on('end', () => {
      step('tcp: ' + head + ' + ' + (got - 10) + ' bytes');
      server.close(() => step('done'));
    });
  });
}
