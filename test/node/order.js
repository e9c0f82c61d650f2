// Timers, setImmediate, process.nextTick, promises: the order Node
// documents, which comes from the loop's phases.
'use strict';
const fs = require('fs');
const log = (s) => console.log(s);

log('main: start');
process.nextTick(() => log('nextTick 1'));
Promise.resolve().then(() => log('promise 1'));
queueMicrotask(() => log('microtask 1'));
process.nextTick(() => log('nextTick 2'));

setTimeout(() => log('timeout 10'), 10);
setTimeout(() => log('timeout 1'), 1);
setTimeout(() => log('timeout 5'), 5);
setTimeout(() => log('timeout 5 again'), 5);

let n = 0;
const iv = setInterval(() => {
  log('interval ' + ++n);
  if (n === 3) {
    clearInterval(iv);
    phase2();
  }
}, 15);

// From an I/O callback, the check phase (immediates) comes before the
// next timers phase: this order is fixed.
function phase2() {
  fs.readFile(__filename, () => {
    setTimeout(() => log('io: timeout 0'), 0);
    setImmediate(() => {
      log('io: immediate 1');
      process.nextTick(() => log('io: nextTick inside immediate'));
    });
    setImmediate(() => log('io: immediate 2'));
    Promise.resolve().then(() => log('io: promise'));
  });
}

const t = setTimeout(() => log('never: cleared'), 20);
clearTimeout(t);
// An unreferenced timer does not keep the loop alive.
setTimeout(() => log('never: unref timer'), 2000).unref();
log('main: end');
