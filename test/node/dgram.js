// dgram: two UDP sockets on loopback, datagrams in order, a connected
// socket, close.
'use strict';
const dgram = require('dgram');

const a = dgram.createSocket('udp4');
const b = dgram.createSocket('udp4');
const got = [];
b.on('message', (msg, rinfo) => {
  got.push(msg.toString());
  if (got.length === 5) {
    console.log('received:', got.join(','), rinfo.address);
    connected();
  }
});
b.bind(0, '127.0.0.1', () => {
  a.bind(0, '127.0.0.1', () => {
    const port = b.address().port;
    for (let i = 0; i < 5; i++) a.send('m' + i, port, '127.0.0.1');
  });
});

function connected() {
  a.connect(b.address().port, '127.0.0.1', () => {
    console.log('connected to:', a.remoteAddress().address);
    b.removeAllListeners('message');
    b.on('message', (msg) => {
      console.log('connected send:', msg.toString());
      a.close(() => b.close(() => console.log('closed')));
    });
    a.send('via connect');
  });
}
