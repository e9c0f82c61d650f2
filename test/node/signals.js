// Signals delivered to JavaScript handlers through the loop.
'use strict';
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
  setTimeout(() => console.log('done'), 10);
});
process.kill(process.pid, 'SIGUSR2');
