// process.exit ordering: beforeExit, exit, exitCode, pending work.
'use strict';
let before = 0;
process.on('beforeExit', (code) => {
  console.log('beforeExit', code, ++before);
  if (before === 1) setTimeout(() => console.log('timer from beforeExit'), 1);
});
process.on('exit', (code) => {
  console.log('exit', code);
  setTimeout(() => console.log('never runs'), 0);
});
setImmediate(() => console.log('immediate'));
process.exitCode = 7;
console.log('main');
