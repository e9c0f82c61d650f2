// worker_threads: a second loop on another thread, messages both ways.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

if (!isMainThread) {
  parentPort.on('message', (n) => {
    let s = 0;
    for (let i = 1; i <= n; i++) s += i;
    setTimeout(() => parentPort.postMessage({ n, s, data: workerData }), 5);
  });
  return;
}

const w = new Worker(__filename, { workerData: 'hi' });
let left = 3;
w.on('message', (m) => {
  console.log('worker:', JSON.stringify(m));
  if (--left === 0) w.terminate().then((code) => console.log('terminated:', code));
});
w.on('online', () => console.log('online'));
for (const n of [10, 100, 1000]) w.postMessage(n);
