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

function tcp() {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => sock.end('echo ' + d));
  });
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => {
      c.write('ping');
    });
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('end', () => {
      step('tcp: ' + got);
      server.close(() => step('done'));
    });
  });
}
