// dns.lookup (getaddrinfo on the worker pool) and a reverse lookup.
'use strict';
const dns = require('dns');

dns.lookup('localhost', { family: 4 }, (err, address, family) => {
  console.log('lookup localhost:', err, address, family);
  dns.lookup('127.0.0.1', { all: true }, (err2, list) => {
    console.log('lookup numeric:', err2, JSON.stringify(list));
    dns.lookup('no-such-host.invalid', (err3) => {
      console.log('lookup invalid:', err3 && err3.code);
      dns.lookupService('127.0.0.1', 22, (err4, host, service) => {
        console.log('lookupService:', err4 === null, typeof host, service);
        dns.promises.lookup('localhost', 4).then((r) =>
          console.log('promises:', r.address, r.family));
      });
    });
  });
});
