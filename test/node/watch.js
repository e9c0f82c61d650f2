// fs.watch (inotify) and fs.watchFile (stat polling).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nl-node-watch-'));
const seen = new Set();
const w = fs.watch(dir, (event, name) => {
  seen.add(event + ':' + name);
  if (seen.has('rename:new.txt') && !step.done) {
    step.done = true;
    w.close();
    console.log('fs.watch saw:', [...seen].filter((e) => e.endsWith('new.txt'))
      .map((e) => e.split(':')[0]).includes('rename'));
    watchFile();
  }
});
const step = { done: false };
setTimeout(() => fs.writeFileSync(path.join(dir, 'new.txt'), 'x'), 50);

function watchFile() {
  const f = path.join(dir, 'polled.txt');
  fs.writeFileSync(f, 'a');
  fs.watchFile(f, { interval: 20 }, (curr, prev) => {
    console.log('watchFile:', prev.size, '->', curr.size);
    fs.unwatchFile(f);
    fs.rmSync(dir, { recursive: true });
    console.log('done');
  });
  setTimeout(() => fs.writeFileSync(f, 'abc'), 100);
}
