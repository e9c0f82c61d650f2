// process.exit() from a timer: 'exit' listeners run, nothing else does.
// The timers start from an immediate, so that the immediate runs first
// however long Node takes to reach its loop (a 5 ms timer started by the
// script itself may already be due in the first iteration's timer phase).
'use strict';
process.on('exit', (code) => console.log('exit listener', code));
setImmediate(() => {
  console.log('immediate before exit');
  setTimeout(() => {
    console.log('timer calls process.exit(3)');
    setImmediate(() => console.log('never: immediate after exit'));
    process.nextTick(() => console.log('never: nextTick after exit'));
    process.exit(3);
  }, 5);
  setTimeout(() => console.log('never: later timer'), 50);
});
