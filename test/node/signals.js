// Signals delivered to JavaScript handlers through the loop. Node's
// signal handles do not keep the loop alive: a timer does until the end.
'use strict';
const keep = setInterval(() => {}, 1000);
let n = 0;
process.on('SIGUSR2', () => {
  console.log('SIGUSR2', ++n);
  if (n < 3) process.kill(process.pid, 'SIGUSR2');
  else process.kill(process.pid, 'SIGINT');
});
process.on('SIGINT', () => {
  console.log('SIGINT handled');
  process.removeAllListeners('SIGUSR2');
  process.removeAllListeners('SIGINT');
  setTimeout(() => {
    console.log('done');
    clearInterval(keep);
  }, 10);
});
process.kill(process.pid, 'SIGUSR2');
