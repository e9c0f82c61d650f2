// process.exit() from a timer: 'exit' listeners run, nothing else does.
'use strict';
process.on('exit', (code) => console.log('exit listener', code));
setImmediate(() => console.log('immediate before exit'));
setTimeout(() => {
  console.log('timer calls process.exit(3)');
  setImmediate(() => console.log('never: immediate after exit'));
  process.nextTick(() => console.log('never: nextTick after exit'));
  process.exit(3);
}, 5);
setTimeout(() => console.log('never: later timer'), 50);
