// child_process: spawn, exec, fork with IPC, an exec error, a signal.
'use strict';
const cp = require('child_process');

if (process.argv[2] === 'child') {
  process.on('message', (m) => {
    if (m === 'bye') return process.disconnect();
    process.send({ echo: m, pid: typeof process.pid });
  });
  return;
}

const steps = [
  (next) => {
    const c = cp.spawn('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    let out = '', err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code, sig) => {
      console.log('spawn:', JSON.stringify(out), JSON.stringify(err), code, sig);
      next();
    });
  },
  (next) => cp.exec('echo "$((6 * 7))"', (err, stdout) => {
    console.log('exec:', err, stdout.trim());
    next();
  }),
  (next) => {
    const c = cp.spawn('cat');
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => {
      console.log('stdin to cat:', out.length, code);
      next();
    });
    for (let i = 0; i < 100; i++) c.stdin.write('line ' + i + '\n');
    c.stdin.end();
  },
  (next) => {
    const c = cp.fork(__filename, ['child']);
    let n = 0;
    c.on('message', (m) => {
      console.log('fork message:', JSON.stringify(m));
      if (++n < 3) c.send('ping ' + n); else c.send('bye');
    });
    c.on('exit', (code) => {
      console.log('fork exit:', code);
      next();
    });
    c.send('ping 0');
  },
  (next) => {
    const c = cp.spawn('/nonexistent/program');
    c.on('error', (e) => {
      console.log('spawn error:', e.code);
      next();
    });
  },
  (next) => {
    const c = cp.spawn('sleep', ['10']);
    c.on('exit', (code, sig) => {
      console.log('killed:', code, sig);
      next();
    });
    setTimeout(() => c.kill('SIGTERM'), 50);
  },
  (next) => {
    const r = cp.spawnSync('sh', ['-c', 'echo sync; exit 4']);
    console.log('spawnSync:', r.stdout.toString().trim(), r.status);
    next();
  },
];

(function run(i) {
  if (i < steps.length) steps[i](() => run(i + 1));
  else console.log('done');
})(0);
