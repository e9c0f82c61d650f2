#!/usr/bin/env node
// node-fileserver.js -- the fileserver example redone with Node's http and
// fs modules, for side-by-side benchmarks (e.g. wrk -t2 -c100 -d10s).
//
// Usage: node node-fileserver.js [-a ADDR] [-p PORT] [-t SECONDS] DIR
//
// Same per-request work as fileserver.c, so the comparison is fair:
// realpath, open, fstat, read, close through the worker pool (callback fs
// API, no caching), the same 403/404/405 rules, GET and HEAD, keep-alive.
// Files up to 64 KiB are read into one buffer and sent with the headers;
// bigger ones are streamed (createReadStream handles back-pressure).
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');

const CHUNK = 64 * 1024;
const TYPES = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8', json: 'application/json',
  txt: 'text/plain; charset=utf-8', png: 'image/png', jpg: 'image/jpeg',
  jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml',
  ico: 'image/x-icon', pdf: 'application/pdf', wasm: 'application/wasm',
};

let addr = '127.0.0.1', port = 8080, timeoutSec = 10, dir = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-a') addr = args[++i];
  else if (a === '-p') port = Number(args[++i]);
  else if (a === '-t') timeoutSec = Number(args[++i]);
  else if (a[0] !== '-' && dir === null) dir = a;
  else {
    console.error('usage: node node-fileserver.js [-a ADDR] [-p PORT] [-t SECONDS] DIR');
    process.exit(2);
  }
}
if (dir === null) {
  console.error('usage: node node-fileserver.js [-a ADDR] [-p PORT] [-t SECONDS] DIR');
  process.exit(2);
}

function contentType(p) {
  const ext = path.extname(p).slice(1).toLowerCase();
  return TYPES[ext] || 'application/octet-stream';
}

function sendError(req, res, status, extra) {
  const body = `${status} ${http.STATUS_CODES[status]}\n`;
  res.writeHead(status, Object.assign({
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  }, extra || {}));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function statusFromErr(err) {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR' ||
      err.code === 'ENAMETOOLONG') return 404;
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'ELOOP')
    return 403;
  return 500;
}

function inside(root, p) {
  return p === root || p.startsWith(root === '/' ? '/' : root + '/');
}

function serve(root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return sendError(req, res, 405, { Allow: 'GET, HEAD' });

  let pathname = req.url;
  const q = pathname.indexOf('?');
  if (q >= 0) pathname = pathname.slice(0, q);
  if (pathname[0] !== '/') {
    try { pathname = new URL(pathname).pathname; } catch (e) { pathname = ''; }
  }
  let decoded;
  try { decoded = decodeURIComponent(pathname); } catch (e) { decoded = null; }
  if (!decoded || decoded[0] !== '/' || decoded.includes('\0'))
    return sendError(req, res, 400);
  // Remove "." / ".."; a ".." above the root is refused outright.
  const out = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return sendError(req, res, 403);
      out.pop();
    } else out.push(seg);
  }
  open(root, req, res, (root === '/' ? '' : root) + '/' + out.join('/'), false);
}

function open(root, req, res, target, isIndex) {
  fs.realpath(target, (err, real) => {
    if (err) return sendError(req, res, statusFromErr(err));
    if (!inside(root, real)) return sendError(req, res, 403);
    fs.open(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK |
            fs.constants.O_NOFOLLOW, (err2, fd) => {
      if (err2) return sendError(req, res, statusFromErr(err2));
      fs.fstat(fd, (err3, st) => {
        if (err3 || st.isDirectory() || !st.isFile()) {
          return fs.close(fd, () => {
            if (err3) return sendError(req, res, 500);
            if (st.isDirectory() && !isIndex)
              return open(root, req, res, real + '/index.html', true);
            sendError(req, res, st.isDirectory() ? 404 : 403);
          });
        }
        const headers = {
          'Content-Type': contentType(real),
          'Content-Length': st.size,
          'Last-Modified': st.mtime.toUTCString(),
        };
        if (req.method === 'HEAD' || st.size === 0) {
          res.writeHead(200, headers);
          res.end();
          return fs.close(fd, () => {});
        }
        if (st.size <= CHUNK) {
          const buf = Buffer.allocUnsafe(st.size);
          return fs.read(fd, buf, 0, st.size, 0, (err4, n) => {
            fs.close(fd, () => {});
            if (err4 || n !== st.size) return sendError(req, res, 500);
            res.writeHead(200, headers);
            res.end(buf);
          });
        }
        res.writeHead(200, headers);
        const rs = fs.createReadStream(null, { fd, start: 0, end: st.size - 1 });
        rs.on('error', () => res.destroy());
        rs.pipe(res);
      });
    });
  });
}

fs.realpath(dir, (err, root) => {
  if (err) {
    console.error(`${dir}: ${err.message}`);
    process.exit(1);
  }
  if (root !== '/' && root.endsWith('/')) root = root.slice(0, -1);
  const server = http.createServer((req, res) => serve(root, req, res));
  server.keepAliveTimeout = timeoutSec * 1000;
  server.listen(port, addr, () => {
    const a = server.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`listening on http://${host}:${a.port}/\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
});
