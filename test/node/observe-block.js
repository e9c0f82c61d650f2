// observe-block: a setTimeout callback that keeps the loop thread busy for
// 300 ms, for the blocked-loop watchdog (NODELOOP_BLOCKED_MS=100;
// tools/node-check.sh runs it on nodeloop only).
'use strict';
setTimeout(function blockTheLoop() {
  const start = Date.now();
  while (Date.now() - start < 300);
  console.log('blocked for ' + (Date.now() - start >= 300 ? '300 ms' : 'less'));
}, 10);
