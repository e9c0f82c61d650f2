/*
 * fileserver.c -- a small HTTP/1.1 static file server.
 *
 * Usage: fileserver [-a ADDR] [-p PORT] [-t SECONDS] [-c MAXCONN] DIR
 *   -a ADDR     IPv4 or IPv6 address to bind (default 127.0.0.1)
 *   -p PORT     TCP port (default 8080; 0 picks a free one, which is printed)
 *   -t SECONDS  idle-connection timeout (default 10)
 *   -c MAXCONN  concurrent connections; above it new ones are accepted and
 *               closed at once (default 1024)
 *
 * Prints "listening on http://ADDR:PORT/" once it accepts connections.
 *
 * Behaviour:
 *   - GET and HEAD; any other method gets 405 (with Allow).
 *   - Keep-alive and pipelining: requests on a connection are parsed one at
 *     a time (the parser is paused after each one), so responses leave in
 *     request order and unparsed pipelined bytes simply wait in the input
 *     buffer. Reading stops while that buffer is full.
 *   - Paths: percent-decoded first, then "." and ".." segments are removed;
 *     a ".." that would climb above DIR is 403. The result is resolved with
 *     uv_fs_realpath and must be DIR itself or below "DIR/" (so symlinks
 *     pointing outside DIR are 403 too). The file is opened with O_NOFOLLOW
 *     so a symlink swapped in after the check is refused.
 *   - A directory is served as its index.html (checked the same way); a
 *     directory without one is 404. Special files (FIFOs, devices) are 403.
 *   - 400 for a malformed request, 431 when the request line plus headers
 *     exceed 8 KiB, 413 when a body exceeds 8 KiB. These three close the
 *     connection (the stream can't be trusted past them), as does any
 *     server error; 403/404/405 keep it open.
 *   - Files are read through libuv's worker pool (realpath, open, fstat,
 *     read, close are all uv_fs_* requests); the loop thread never blocks
 *     on the file system. Big files go out in 64 KiB chunks, the next chunk
 *     read only when the previous one has been written: memory per
 *     connection stays bounded and a slow client slows only its own reads.
 *   - Response headers are built with one snprintf; headers and the first
 *     chunk of the body leave in a single uv_write of two buffers.
 *   - Closing after a response shuts down our side and drains what the
 *     client still sends for a short while before closing ("lingering
 *     close"): closing with unread input would make the kernel send a RST
 *     that can destroy the error response before the client reads it.
 *   - SIGINT/SIGTERM: stop listening, close every connection, wait for the
 *     in-flight file requests, then uv_loop_close() (which must return 0).
 */
/* uv.h needs POSIX types (pthread_rwlock_t...) that strict -std=c11 hides;
 * this also declares gmtime_r. */
#define _POSIX_C_SOURCE 200809L

#include <uv.h>
#include <http_parser.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>   /* S_ISREG / S_ISDIR for uv_stat_t.st_mode */
#include <time.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

enum {
  IN_SIZE = 16 * 1024,        /* per-connection input buffer */
  MAX_HEADER = 8 * 1024,      /* request line + headers, else 431 */
  MAX_BODY = 8 * 1024,        /* request body, else 413 */
  CHUNK = 64 * 1024,          /* file read/write unit */
  LINGER_MS = 2000            /* how long to drain input after our FIN */
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_fs_t fs;                 /* the one sequential file request */
  uv_fs_t fs_close;           /* closes the file while the last write runs */
  uv_write_t wr;
  uv_shutdown_t sd;
  http_parser parser;
  struct conn *prev, *next;

  unsigned refs;              /* open handles + in-flight requests */
  uint64_t deadline;          /* loop time after which we're idle */
  unsigned closing : 1;       /* uv_close called, only cleanup remains */
  unsigned reading : 1;
  unsigned eof : 1;           /* peer finished sending */
  unsigned busy : 1;          /* a request is being answered */
  unsigned draining : 1;      /* response done, discarding input, closing */
  unsigned msg_done : 1;      /* parser completed a request */
  unsigned writing : 1;
  unsigned fs_active : 1;     /* c->fs in flight */
  unsigned last_write : 1;    /* the running write ends the response */
  unsigned is_index : 1;      /* c->path is DIR/.../index.html */
  unsigned head_only : 1;
  unsigned keep_alive : 1;    /* of the request being answered */
  unsigned sent_any : 1;      /* part of the response is on its way */
  unsigned req_keep_alive : 1; /* captured in on_message_complete */
  unsigned req_upgrade : 1;
  int req_method;
  int pending;                /* parts of the response still running */

  /* request being parsed */
  int err_status;             /* set by parser callbacks: 413 / 431 */
  uint64_t body_bytes;
  size_t url_len;
  char url[MAX_HEADER];

  /* response being sent */
  uv_file fd;
  uint64_t size, off;
  char *buf;                  /* file data; grows up to CHUNK */
  size_t buf_cap;
  char hdr[1024];
  size_t hdr_len;
  char path[PATH_MAX + 32];

  size_t in_pos, in_len;
  char in[IN_SIZE];
};

static uv_loop_t loop_storage;
static uv_loop_t *loop = &loop_storage;
static uv_tcp_t server;
static uv_signal_t sig_int, sig_term;
static uv_fs_t root_req;
static struct conn *conns;
static unsigned nconns;
static int listening, stopping, exit_code;

static const char *opt_addr = "127.0.0.1";
static int opt_port = 8080;
static uint64_t opt_timeout_ms = 10000;
static unsigned opt_max_conns = 1024;
static const char *opt_dir;

static char root[PATH_MAX];   /* resolved DIR, no trailing '/' ("" for /) */
static size_t root_len;

static http_parser_settings parser_settings;

/* The connection that embeds a request: the requests are fields of struct
 * conn, so no req->data bookkeeping is needed. */
#define CONN_OF(ptr, field) \
  ((struct conn *) (void *) ((char *) (ptr) - offsetof(struct conn, field)))

static void conn_close(struct conn *c);
static void pump(struct conn *c);
static void on_sock_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_sock_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void on_realpath(uv_fs_t *req);

/* ---- small helpers ---------------------------------------------------- */

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  return p;
}

static const char *const wday_names[] =
  { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] =
  { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate (RFC 7231 7.1.1.1); names spelled out so the locale can't
 * change them. */
static void http_date(char out[32], time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT",
           wday_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The Date header changes once a second; format it only then. */
static const char *date_now(void) {
  static char buf[32];
  static time_t last = (time_t) -1;
  time_t now = time(NULL);
  if (now != last) {
    http_date(buf, now);
    last = now;
  }
  return buf;
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  default: return "Error";
  }
}

static int ascii_lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int ext_is(const char *ext, const char *want) {
  for (; *ext && *want; ext++, want++)
    if (ascii_lower((unsigned char) *ext) != *want) return 0;
  return *ext == '\0' && *want == '\0';
}

static const char *content_type(const char *path) {
  static const struct { const char *ext, *type; } types[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "txt", "text/plain; charset=utf-8" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "svg", "image/svg+xml" },
    { "ico", "image/x-icon" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
  };
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  size_t i;

  if (dot != NULL && (slash == NULL || dot > slash))
    for (i = 0; i < sizeof types / sizeof types[0]; i++)
      if (ext_is(dot + 1, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = ascii_lower(ch);
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* Percent-decode in[0..len) and drop "." / ".." segments. Writes a path
 * that starts with '/' into out. Returns 0, or the HTTP status to send:
 * 400 for bad escapes or NUL, 403 for ".." above the root, 404 for a path
 * too long to be a file name. Decoding comes first so "%2e%2e" and "%2f"
 * get the same treatment as their literal forms. */
static int clean_path(const char *in, size_t len, char *out, size_t outsz) {
  char dec[MAX_HEADER];
  size_t i, n = 0, o = 0, seg;

  if (len == 0 || in[0] != '/') return 400;
  for (i = 0; i < len; i++) {
    int ch = (unsigned char) in[i];
    if (ch == '%') {
      int hi, lo;
      if (i + 2 >= len) return 400;
      hi = hexval((unsigned char) in[i + 1]);
      lo = hexval((unsigned char) in[i + 2]);
      if (hi < 0 || lo < 0) return 400;
      ch = hi * 16 + lo;
      i += 2;
    }
    if (ch == '\0') return 400;
    if (n >= sizeof dec) return 404;
    dec[n++] = (char) ch;
  }

  /* dec[0] == '/'. Walk segments; out holds the cleaned path so far, with
   * no trailing '/', o its length. */
  for (i = 0; i < n; i = seg) {
    size_t start, slen;
    while (i < n && dec[i] == '/') i++;
    start = i;
    for (seg = i; seg < n && dec[seg] != '/'; seg++) {}
    slen = seg - start;
    if (slen == 0 || (slen == 1 && dec[start] == '.')) continue;
    if (slen == 2 && dec[start] == '.' && dec[start + 1] == '.') {
      if (o == 0) return 403;                    /* above the root */
      while (o > 0 && out[o - 1] != '/') o--;
      o--;                                       /* drop the '/' too */
      continue;
    }
    if (o + 1 + slen + 1 > outsz) return 404;
    out[o++] = '/';
    memcpy(out + o, dec + start, slen);
    o += slen;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
  return 0;
}

/* ---- connection lifetime ---------------------------------------------- */

static void conn_unref(struct conn *c) {
  if (--c->refs == 0) {
    free(c->buf);
    free(c);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  conn_unref(h->data);
}

static void on_fs_close_done(uv_fs_t *req);

/* Start closing the open file in parallel with whatever else runs. Counts
 * as one part of the response. */
static void file_close_async(struct conn *c) {
  uv_file fd = c->fd;
  c->fd = -1;
  c->refs++;
  c->pending++;
  if (uv_fs_close(loop, &c->fs_close, fd, on_fs_close_done) < 0) {
    /* Can't happen with a valid req. Give the ref back without freeing:
     * every caller still holds the connection (its handles' close
     * callbacks release it later). */
    uv_fs_req_cleanup(&c->fs_close);
    c->pending--;
    c->refs--;
  }
}

static void conn_close(struct conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  nconns--;
  /* Closing the stream cancels our write/shutdown (their callbacks still
   * run, with UV_ECANCELED). A file request in flight can't be cancelled
   * reliably; its callback sees c->closing and closes the file. */
  uv_close((uv_handle_t *) &c->tcp, on_handle_closed);
  uv_close((uv_handle_t *) &c->timer, on_handle_closed);
  if (c->fd >= 0 && !c->fs_active)
    file_close_async(c);
}

static void touch(struct conn *c) {
  c->deadline = uv_now(loop) + opt_timeout_ms;
}

/* Read while there is room and a reason; stop otherwise. */
static void update_reading(struct conn *c) {
  int want = !c->closing && !c->eof &&
             (c->draining || c->in_len - c->in_pos < IN_SIZE);
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *) &c->tcp, on_sock_alloc,
                      on_sock_read) < 0) {
      conn_close(c);
      return;
    }
    c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *) &c->tcp);
    c->reading = 0;
  }
}

/* The idle timer is armed once and re-armed lazily: activity only moves
 * c->deadline, which is cheaper than restarting a timer per read/write. */
static void on_timer(uv_timer_t *t) {
  struct conn *c = t->data;
  uint64_t now = uv_now(loop);

  if (c->busy && !c->writing && !c->draining)
    touch(c);           /* waiting on the disk, not on the client */
  if (now < c->deadline) {
    uv_timer_start(t, on_timer, c->deadline - now, 0);
    return;
  }
  conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = CONN_OF(req, sd);
  if (!c->closing && (status < 0 || c->eof))
    conn_close(c);
  conn_unref(c);
}

/* Finish the connection gracefully: FIN now, keep discarding input until
 * the peer's FIN or LINGER_MS, then close. */
static void conn_end(struct conn *c) {
  if (c->eof) {
    conn_close(c);
    return;
  }
  c->draining = 1;
  c->deadline = uv_now(loop) + (opt_timeout_ms < LINGER_MS ? opt_timeout_ms
                                                           : LINGER_MS);
  if (uv_shutdown(&c->sd, (uv_stream_t *) &c->tcp, on_shutdown) < 0) {
    conn_close(c);
    return;
  }
  c->refs++;
  uv_timer_start(&c->timer, on_timer, c->deadline - uv_now(loop), 0);
  update_reading(c);
}

/* ---- responses -------------------------------------------------------- */

static void response_done(struct conn *c) {
  c->busy = 0;
  c->is_index = 0;
  if (!c->keep_alive) {
    conn_end(c);
    return;
  }
  pump(c);              /* next pipelined request, if any */
}

static void part_done(struct conn *c) {
  if (--c->pending == 0 && !c->closing)
    response_done(c);
}

static void on_fs_close_done(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs_close);
  uv_fs_req_cleanup(req);
  part_done(c);
  conn_unref(c);
}

static void start_file_read(struct conn *c);

static void on_write(uv_write_t *req, int status) {
  struct conn *c = CONN_OF(req, wr);

  c->writing = 0;
  if (status < 0) {
    conn_close(c);      /* no-op if already closing (UV_ECANCELED) */
  } else if (!c->closing) {
    touch(c);
    if (c->last_write)
      part_done(c);
    else
      start_file_read(c);
  }
  conn_unref(c);
}

static void send_bufs(struct conn *c, uv_buf_t *bufs, unsigned n, int last) {
  c->last_write = last ? 1 : 0;
  if (last) c->pending++;
  if (uv_write(&c->wr, (uv_stream_t *) &c->tcp, bufs, n, on_write) < 0) {
    if (last) c->pending--;
    conn_close(c);
    return;
  }
  c->sent_any = 1;
  c->writing = 1;
  c->refs++;
}

/* A complete error response (headers and a short text body) in c->hdr. */
static void respond_error(struct conn *c, int status, int force_close) {
  char body[64];
  int blen, n;
  uv_buf_t b;

  c->busy = 1;
  if (force_close) c->keep_alive = 0;
  blen = snprintf(body, sizeof body, "%d %s\n", status, reason(status));
  n = snprintf(c->hdr, sizeof c->hdr,
               "HTTP/1.1 %d %s\r\n"
               "Date: %s\r\n"
               "Server: nodeloop-fileserver\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %d\r\n"
               "%s"
               "Connection: %s\r\n"
               "\r\n"
               "%s",
               status, reason(status), date_now(), blen,
               status == 405 ? "Allow: GET, HEAD\r\n" : "",
               c->keep_alive ? "keep-alive" : "close",
               c->head_only ? "" : body);
  c->hdr_len = (size_t) n;
  c->pending = 0;
  if (c->fd >= 0)
    file_close_async(c);
  b = uv_buf_init(c->hdr, (unsigned int) c->hdr_len);
  send_bufs(c, &b, 1, 1);
}

static int status_from_uv(int err) {
  switch (err) {
  case UV_ENOENT:
  case UV_ENOTDIR:
  case UV_ENAMETOOLONG:
    return 404;
  case UV_EACCES:
  case UV_EPERM:
  case UV_ELOOP:
    return 403;
  default:
    return 500;
  }
}

/* Common start of every file-request callback: take the result, release
 * the request, and bail out if the connection went away meanwhile. */
static int fs_finish(struct conn *c, uv_fs_t *req, ssize_t *result) {
  *result = req->result;
  c->fs_active = 0;
  uv_fs_req_cleanup(req);
  if (c->closing) {
    if (c->fd >= 0) file_close_async(c);
    conn_unref(c);
    return -1;
  }
  conn_unref(c);        /* the connection itself still holds refs */
  return 0;
}

static int fs_start_check(struct conn *c, int r) {
  if (r < 0) {
    uv_fs_req_cleanup(&c->fs);
    if (c->sent_any)
      conn_close(c);    /* mid-body: nothing sane left to send */
    else
      respond_error(c, 500, 1);
    return r;
  }
  c->fs_active = 1;
  c->refs++;
  return 0;
}

static void on_file_read(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs);
  uv_buf_t bufs[2];
  unsigned n = 0;
  ssize_t r;

  if (fs_finish(c, req, &r) < 0) return;
  if (r <= 0) {
    /* Read error, or the file shrank below the Content-Length we sent. */
    if (c->off == 0)
      respond_error(c, 500, 1);
    else
      conn_close(c);
    return;
  }
  if (c->off == 0)
    bufs[n++] = uv_buf_init(c->hdr, (unsigned int) c->hdr_len);
  bufs[n++] = uv_buf_init(c->buf, (unsigned int) r);
  c->off += (uint64_t) r;
  if (c->off >= c->size) {
    file_close_async(c);     /* runs alongside the last write */
    send_bufs(c, bufs, n, 1);
  } else {
    send_bufs(c, bufs, n, 0);
  }
}

static void start_file_read(struct conn *c) {
  uint64_t left = c->size - c->off;
  size_t len = left < CHUNK ? (size_t) left : CHUNK;
  uv_buf_t b = uv_buf_init(c->buf, (unsigned int) len);

  fs_start_check(c, uv_fs_read(loop, &c->fs, c->fd, &b, 1,
                               (int64_t) c->off, on_file_read));
}

static void on_dir_closed(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs);
  size_t len = strlen(c->path);
  ssize_t r;

  if (fs_finish(c, req, &r) < 0) return;
  if (len + sizeof "/index.html" > sizeof c->path) {
    respond_error(c, 404, 0);
    return;
  }
  memcpy(c->path + len, "/index.html", sizeof "/index.html");
  c->is_index = 1;
  fs_start_check(c, uv_fs_realpath(loop, &c->fs, c->path, on_realpath));
}

static void on_fstat(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs);
  uint64_t mode = req->statbuf.st_mode;
  uint64_t size = req->statbuf.st_size;
  time_t mtime = (time_t) req->statbuf.st_mtim.tv_sec;
  char lastmod[32];
  ssize_t r;
  int n;

  if (fs_finish(c, req, &r) < 0) return;
  if (r < 0) {
    respond_error(c, 500, 1);
    return;
  }
  if (S_ISDIR(mode)) {
    if (c->is_index) {                  /* index.html is a directory */
      respond_error(c, 404, 0);
      return;
    }
    /* Close the directory first, then look for its index.html. */
    uv_file fd = c->fd;
    c->fd = -1;
    fs_start_check(c, uv_fs_close(loop, &c->fs, fd, on_dir_closed));
    return;
  }
  if (!S_ISREG(mode)) {
    respond_error(c, 403, 0);
    return;
  }

  c->size = size;
  c->off = 0;
  http_date(lastmod, mtime);
  n = snprintf(c->hdr, sizeof c->hdr,
               "HTTP/1.1 200 OK\r\n"
               "Date: %s\r\n"
               "Server: nodeloop-fileserver\r\n"
               "Content-Type: %s\r\n"
               "Content-Length: %llu\r\n"
               "Last-Modified: %s\r\n"
               "Connection: %s\r\n"
               "\r\n",
               date_now(), content_type(c->path),
               (unsigned long long) size, lastmod,
               c->keep_alive ? "keep-alive" : "close");
  c->hdr_len = (size_t) n;
  c->pending = 0;

  if (c->head_only || size == 0) {
    uv_buf_t b = uv_buf_init(c->hdr, (unsigned int) c->hdr_len);
    file_close_async(c);
    send_bufs(c, &b, 1, 1);
    return;
  }
  if (c->buf_cap < CHUNK && c->buf_cap < size) {
    /* Grow to what this file needs, at most CHUNK; kept for the next
     * request on this connection. */
    size_t want = size < CHUNK ? (size_t) size : CHUNK;
    free(c->buf);
    c->buf = xmalloc(want);
    c->buf_cap = want;
  }
  start_file_read(c);
}

static void on_open(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs);
  ssize_t r = req->result;

  if (r >= 0) c->fd = (uv_file) r;     /* so fs_finish closes it if needed */
  if (fs_finish(c, req, &r) < 0) return;
  if (r < 0) {
    respond_error(c, status_from_uv((int) r), 0);
    return;
  }
  fs_start_check(c, uv_fs_fstat(loop, &c->fs, c->fd, on_fstat));
}

static void on_realpath(uv_fs_t *req) {
  struct conn *c = CONN_OF(req, fs);
  ssize_t r = req->result;
  int inside = 0;

  if (r == 0) {
    size_t len = strlen(req->ptr);
    if (len < sizeof c->path) {
      memcpy(c->path, req->ptr, len + 1);
      /* DIR itself, or below "DIR/": a '/' must follow the prefix, else
       * "/srv/www-secret" would pass for root "/srv/www". */
      inside = strncmp(c->path, root, root_len) == 0 &&
               (c->path[root_len] == '\0' || c->path[root_len] == '/');
    }
  }
  if (fs_finish(c, req, &r) < 0) return;
  if (r < 0) {
    respond_error(c, status_from_uv((int) r), 0);
    return;
  }
  if (!inside) {
    respond_error(c, 403, 0);
    return;
  }
  /* O_NONBLOCK: opening a FIFO must not park a worker thread forever.
   * O_NOFOLLOW: the path was just resolved, a symlink here is a swap. */
  fs_start_check(c, uv_fs_open(loop, &c->fs, c->path,
                               UV_FS_O_RDONLY | UV_FS_O_NONBLOCK |
                               UV_FS_O_NOFOLLOW, 0, on_open));
}

static void handle_request(struct conn *c) {
  struct http_parser_url u;
  char clean[PATH_MAX];
  int st;

  c->busy = 1;
  c->msg_done = 0;
  c->sent_any = 0;
  /* After an Upgrade request the parser stops; so do we. */
  c->keep_alive = c->req_keep_alive && !c->req_upgrade;
  c->head_only = c->req_method == HTTP_HEAD;

  if (c->req_method != HTTP_GET && c->req_method != HTTP_HEAD) {
    respond_error(c, 405, 0);
    return;
  }
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    respond_error(c, 400, 1);
    return;
  }
  st = clean_path(c->url + u.field_data[UF_PATH].off,
                  u.field_data[UF_PATH].len, clean, sizeof clean);
  if (st == 0 && root_len + strlen(clean) + 1 > sizeof c->path)
    st = 404;
  if (st != 0) {
    respond_error(c, st, st == 400);
    return;
  }
  memcpy(c->path, root, root_len);
  strcpy(c->path + root_len, clean);
  fs_start_check(c, uv_fs_realpath(loop, &c->fs, c->path, on_realpath));
}

/* ---- HTTP parsing ----------------------------------------------------- */

static int on_message_begin(http_parser *p) {
  struct conn *c = p->data;
  c->url_len = 0;
  c->body_bytes = 0;
  c->err_status = 0;
  c->head_only = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (len > sizeof c->url - c->url_len) {
    c->err_status = 431;
    return -1;
  }
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct conn *c = p->data;
  /* content_length is ULLONG_MAX when absent (and for chunked bodies,
   * which on_body counts instead). */
  if (p->content_length != ULLONG_MAX && p->content_length > MAX_BODY) {
    c->err_status = 413;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  c->body_bytes += len;         /* the body itself is ignored */
  if (c->body_bytes > MAX_BODY) {
    c->err_status = 413;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct conn *c = p->data;
  c->msg_done = 1;
  c->req_keep_alive = http_should_keep_alive(p) ? 1 : 0;
  c->req_upgrade = p->upgrade;
  c->req_method = (int) p->method;
  /* Stop here: http_parser_execute returns just past this request and the
   * rest of the input (pipelined requests) waits until we've answered. */
  http_parser_pause(p, 1);
  return 0;
}

/* Feed buffered input to the parser while no request is in progress. */
static void pump(struct conn *c) {
  while (!c->busy && !c->closing && !c->draining &&
         c->in_pos < c->in_len) {
    size_t n = http_parser_execute(&c->parser, &parser_settings,
                                   c->in + c->in_pos, c->in_len - c->in_pos);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    c->in_pos += n;
    if (c->err_status != 0) {
      respond_error(c, c->err_status, 1);
    } else if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      if (c->msg_done) handle_request(c);
    } else if (e == HPE_HEADER_OVERFLOW) {
      respond_error(c, 431, 1);
    } else if (e != HPE_OK) {
      respond_error(c, 400, 1);
    } else if (c->in_pos < c->in_len) {
      conn_close(c);    /* parser stopped without a reason we know */
    }
  }
  if (c->closing || c->draining) return;
  if (c->in_pos == c->in_len) c->in_pos = c->in_len = 0;
  if (c->eof && !c->busy) {
    conn_end(c);        /* everything the peer sent has been answered */
    return;
  }
  update_reading(c);
}

/* ---- socket I/O ------------------------------------------------------- */

static void on_sock_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  struct conn *c = h->data;
  if (c->draining) {                    /* input is discarded */
    *b = uv_buf_init(c->in, sizeof c->in);
    return;
  }
  if (c->in_pos > 0) {                  /* keep unparsed bytes at the front */
    memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
    c->in_len -= c->in_pos;
    c->in_pos = 0;
  }
  /* update_reading() guarantees there's room. */
  *b = uv_buf_init(c->in + c->in_len, (unsigned int) (sizeof c->in -
                                                      c->in_len));
}

static void on_sock_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  struct conn *c = s->data;

  if (nread > 0) {
    if (c->draining) return;    /* lingering: no extension of the deadline */
    touch(c);
    c->in_len += (size_t) nread;
    if (!c->busy)
      pump(c);
    else
      update_reading(c);        /* stop if the buffer filled up */
    return;
  }
  if (nread == 0) return;       /* EAGAIN */
  if (nread == UV_EOF) {
    c->eof = 1;
    uv_read_stop(s);
    c->reading = 0;
    if (c->draining) {
      conn_close(c);            /* our data and FIN are already queued */
    } else if (!c->busy) {
      pump(c);                  /* ends the connection */
    }
    return;
  }
  conn_close(c);                /* ECONNRESET etc. */
}

static void free_handle(uv_handle_t *h) {
  free(h);
}

static void on_connection(uv_stream_t *srv, int status) {
  struct conn *c;

  if (status < 0) {
    fprintf(stderr, "accept: %s\n", uv_strerror(status));
    return;
  }
  if (nconns >= opt_max_conns) {
    /* Over the limit: accept (so the kernel queue doesn't fill up with
     * connections nobody serves) and close right away. */
    uv_tcp_t *t = xmalloc(sizeof *t);
    uv_tcp_init(loop, t);
    uv_accept(srv, (uv_stream_t *) t);
    uv_close((uv_handle_t *) t, free_handle);
    return;
  }

  c = xmalloc(sizeof *c);
  /* Zero only the header part; buffers are written before being read. */
  memset(c, 0, offsetof(struct conn, url));
  c->fd = -1;
  c->buf = NULL;
  c->buf_cap = 0;
  c->in_pos = c->in_len = 0;
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->refs = 2;                  /* the two handles */
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = conns;
  if (conns) conns->prev = c;
  conns = c;
  nconns++;

  if (uv_accept(srv, (uv_stream_t *) &c->tcp) < 0) {
    conn_close(c);
    return;
  }
  /* Responses go out in one write; no reason to let Nagle hold the next
   * pipelined one back waiting for an ACK. */
  uv_tcp_nodelay(&c->tcp, 1);
  touch(c);
  uv_timer_start(&c->timer, on_timer, opt_timeout_ms, 0);
  update_reading(c);
}

/* ---- startup and shutdown --------------------------------------------- */

static void stop_all(void) {
  struct conn *c, *next;

  if (stopping) return;
  stopping = 1;
  uv_close((uv_handle_t *) &sig_int, NULL);
  uv_close((uv_handle_t *) &sig_term, NULL);
  if (listening)
    uv_close((uv_handle_t *) &server, NULL);
  for (c = conns; c != NULL; c = next) {
    next = c->next;             /* conn_close unlinks c */
    conn_close(c);
  }
}

static void on_signal(uv_signal_t *sig, int signum) {
  fprintf(stderr, "signal %d: shutting down\n", signum);
  stop_all();
}

static int start_listening(void) {
  struct sockaddr_storage ss;
  int namelen = (int) sizeof ss;
  char host[64];
  int port, r;

  if (strchr(opt_addr, ':') != NULL)
    r = uv_ip6_addr(opt_addr, opt_port, (struct sockaddr_in6 *) &ss);
  else
    r = uv_ip4_addr(opt_addr, opt_port, (struct sockaddr_in *) &ss);
  if (r < 0) {
    fprintf(stderr, "bad address %s\n", opt_addr);
    return r;
  }
  uv_tcp_init(loop, &server);
  listening = 1;
  if ((r = uv_tcp_bind(&server, (struct sockaddr *) &ss, 0)) < 0 ||
      (r = uv_listen((uv_stream_t *) &server, 511, on_connection)) < 0 ||
      (r = uv_tcp_getsockname(&server, (struct sockaddr *) &ss,
                              &namelen)) < 0) {
    fprintf(stderr, "listen on %s:%d: %s\n", opt_addr, opt_port,
            uv_strerror(r));
    return r;
  }
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *) &ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    printf("listening on http://[%s]:%d/\n", host, port);
  } else {
    uv_ip4_name((struct sockaddr_in *) &ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    printf("listening on http://%s:%d/\n", host, port);
  }
  fflush(stdout);     /* a test harness waits for this line */
  return 0;
}

static void on_root_stat(uv_fs_t *req) {
  int ok = req->result == 0 && S_ISDIR(req->statbuf.st_mode);
  uv_fs_req_cleanup(req);
  if (!ok) {
    fprintf(stderr, "%s: not a directory\n", opt_dir);
    exit_code = 1;
    stop_all();
    return;
  }
  if (!stopping && start_listening() < 0) {
    exit_code = 1;
    stop_all();
  }
}

/* DIR is resolved asynchronously too: even at startup the loop thread
 * makes no blocking file-system call. */
static void on_root_realpath(uv_fs_t *req) {
  int r = (int) req->result;
  if (r == 0) {
    size_t len = strlen(req->ptr);
    if (len >= sizeof root) {
      r = UV_ENAMETOOLONG;
    } else {
      memcpy(root, req->ptr, len + 1);
      if (len == 1) len = 0;            /* "/" : every path is inside */
      root[len] = '\0';
      root_len = len;
    }
  }
  uv_fs_req_cleanup(req);
  if (r < 0) {
    fprintf(stderr, "%s: %s\n", opt_dir, uv_strerror(r));
    exit_code = 1;
    stop_all();
    return;
  }
  if (stopping) return;
  uv_fs_stat(loop, &root_req, root_len ? root : "/", on_root_stat);
}

static void usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [-a ADDR] [-p PORT] [-t SECONDS] [-c MAXCONN] DIR\n",
          prog);
  exit(2);
}

int main(int argc, char **argv) {
  int i, r;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      if (opt_dir != NULL) usage(argv[0]);
      opt_dir = a;
      continue;
    }
    if (a[1] == '\0' || a[2] != '\0' || i + 1 >= argc) usage(argv[0]);
    switch (a[1]) {
    case 'a': opt_addr = argv[++i]; break;
    case 'p': opt_port = atoi(argv[++i]); break;
    case 't': opt_timeout_ms = (uint64_t) (atof(argv[++i]) * 1000); break;
    case 'c': opt_max_conns = (unsigned) atoi(argv[++i]); break;
    default: usage(argv[0]);
    }
  }
  if (opt_dir == NULL || opt_port < 0 || opt_port > 65535 ||
      opt_timeout_ms == 0 || opt_max_conns == 0)
    usage(argv[0]);

  parser_settings.on_message_begin = on_message_begin;
  parser_settings.on_url = on_url;
  parser_settings.on_headers_complete = on_headers_complete;
  parser_settings.on_body = on_body;
  parser_settings.on_message_complete = on_message_complete;
  /* Process-wide in http_parser: request line + headers above this are
   * HPE_HEADER_OVERFLOW, answered with 431. */
  http_parser_set_max_header_size(MAX_HEADER);

  if ((r = uv_loop_init(loop)) < 0) {
    fprintf(stderr, "uv_loop_init: %s\n", uv_strerror(r));
    return 1;
  }
  uv_signal_init(loop, &sig_int);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_fs_realpath(loop, &root_req, opt_dir, on_root_realpath);

  uv_run(loop, UV_RUN_DEFAULT);
  r = uv_loop_close(loop);
  if (r != 0) {
    fprintf(stderr, "uv_loop_close: %s\n", uv_strerror(r));
    return 1;
  }
  return exit_code;
}
