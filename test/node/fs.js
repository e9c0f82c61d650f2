// fs with callbacks, promises and streams (the worker pool under each).
'use strict';
const fs = require('fs');
const fsp = require('fs/promises');
const os = require('os');
const path = require('path');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nl-node-fs-'));
const big = Buffer.alloc(3 * 1024 * 1024 + 17);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;

function sum(buf) {
  let s = 0;
  for (let i = 0; i < buf.length; i++) s = (s * 31 + buf[i]) >>> 0;
  return s;
}

fs.writeFile(path.join(dir, 'a.txt'), 'hello from callbacks\n', (err) => {
  if (err) throw err;
  fs.readFile(path.join(dir, 'a.txt'), 'utf8', (err2, data) => {
    if (err2) throw err2;
    console.log('callback read:', JSON.stringify(data));
    fs.stat(path.join(dir, 'a.txt'), (err3, st) => {
      console.log('stat size:', st.size, 'isFile:', st.isFile());
      fs.readFile(path.join(dir, 'missing'), (err4) => {
        console.log('missing:', err4.code);
        promises();
      });
    });
  });
});

async function promises() {
  await fsp.writeFile(path.join(dir, 'b.bin'), big);
  const back = await fsp.readFile(path.join(dir, 'b.bin'));
  console.log('promise round trip:', back.length, sum(back) === sum(big));
  await fsp.mkdir(path.join(dir, 'sub/deeper'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'sub/x'), 'x');
  const names = (await fsp.readdir(dir)).sort();
  console.log('readdir:', names.join(','));
  const fh = await fsp.open(path.join(dir, 'b.bin'), 'r');
  const { bytesRead, buffer } = await fh.read(Buffer.alloc(10), 0, 10, 1000);
  console.log('filehandle read:', bytesRead, buffer.toString('hex'));
  await fh.close();
  streams();
}

function streams() {
  const src = path.join(dir, 'b.bin');
  const dst = path.join(dir, 'c.bin');
  let chunks = 0;
  const rs = fs.createReadStream(src, { highWaterMark: 64 * 1024 });
  rs.on('data', () => chunks++);
  rs.pipe(fs.createWriteStream(dst)).on('finish', () => {
    const copy = fs.readFileSync(dst);
    console.log('stream copy:', copy.length, sum(copy) === sum(big),
                'chunks:', chunks);
    fs.rm(dir, { recursive: true }, (err) => {
      console.log('removed:', err === null, fs.existsSync(dir));
    });
  });
}
