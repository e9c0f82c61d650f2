/*
 * fileserver-test.c -- black-box tests for the fileserver example.
 *
 * Usage: fileserver-test PATH/TO/fileserver
 *
 * Builds a document tree in a fresh temporary directory, starts the server
 * on it (port 0: the kernel picks a free port, read back from the
 * "listening on http://ADDR:PORT/" line), and talks HTTP to it over plain
 * blocking sockets with receive timeouts -- deliberately no libuv here, so
 * the client can't share a bug with the server. A second server instance
 * runs with -c 2 for the connection-limit test. At the end the server gets
 * SIGTERM and must exit with status 0 (under ASan a leak makes that fail).
 *
 * Prints one line per test and "N passed, N failed"; exits 1 on failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BIG_SIZE (3 * 1024 * 1024 + 123)   /* several CHUNKs, odd tail */
#define IO_TIMEOUT_MS 10000                /* generous: ASan is slow */

static char tmpdir[] = "/tmp/fileserver-test.XXXXXX";
static char rootdir[256];
static int port;            /* main instance: -t 1 */
static int limit_port;      /* second instance: -c 2 */
static pid_t server_pid, limit_pid;
static char file1k[1024];
static char *big;

static const char *cur_test;
static int cur_failed;

/* ---- test framework --------------------------------------------------- */

static void failf(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  if (!cur_failed)
    printf("FAIL %s\n", cur_test);
  cur_failed = 1;
  printf("    %s:%d: ", file, line);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

/* CHECK leaves the current test function on failure. */
#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      failf(__FILE__, __LINE__, __VA_ARGS__);                                \
      return;                                                                \
    }                                                                        \
  } while (0)

#define TEST(name) static void test_##name(void)

/* ---- helpers ---------------------------------------------------------- */

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void write_file(const char *rel, const void *data, size_t len) {
  char path[512];
  int fd;
  snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(path);
  if (write(fd, data, len) != (ssize_t) len) die("write");
  close(fd);
}

static void make_dir(const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
  if (mkdir(path, 0755) != 0) die(path);
}

static void make_link(const char *target, const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
  if (symlink(target, path) != 0) die(path);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(int p) {
  struct sockaddr_in sa;
  struct timeval tv = { IO_TIMEOUT_MS / 1000, 0 };
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short) p);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *) &sa, sizeof sa) != 0) die("connect");
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

static int send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t) n;
  }
  return 0;
}

static int send_str(int fd, const char *s) {
  return send_all(fd, s, strlen(s));
}

/* A connection with its own receive buffer, so pipelined responses that
 * arrive in one segment are split correctly. */
struct client {
  int fd;
  size_t len;
  char buf[64 * 1024];
};

struct response {
  int status;
  char head[8192];          /* status line + headers, NUL-terminated */
  long long content_length; /* -1 if absent */
  char *body;
  size_t body_len;
};

static void client_open(struct client *c, int p) {
  c->fd = connect_to(p);
  c->len = 0;
}

static void client_close(struct client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

static void response_free(struct response *r) {
  free(r->body);
  r->body = NULL;
}

/* Reads more into c->buf; returns bytes read, 0 on EOF, -1 on error. */
static ssize_t client_fill(struct client *c) {
  ssize_t n;
  if (c->len == sizeof c->buf) return -1;
  do
    n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) c->len += (size_t) n;
  return n;
}

static void client_consume(struct client *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* Value of header `name` in r->head (case-insensitive name), or NULL.
 * Returned pointer is into a static buffer. */
static const char *header(const struct response *r, const char *name) {
  static char val[1024];
  size_t nlen = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p != NULL && p[2] != '\0') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    if (end == NULL) break;
    if ((size_t) (end - line) > nlen && line[nlen] == ':' &&
        strncasecmp(line, name, nlen) == 0) {
      const char *v = line + nlen + 1;
      size_t vlen;
      while (*v == ' ') v++;
      vlen = (size_t) (end - v);
      if (vlen >= sizeof val) vlen = sizeof val - 1;
      memcpy(val, v, vlen);
      val[vlen] = '\0';
      return val;
    }
    p = end;
  }
  return NULL;
}

/* Reads one response. head_request: the body is not sent (HEAD).
 * Returns 0, or -1 with a reason in *why. */
static int read_response(struct client *c, struct response *r,
                         int head_request, const char **why) {
  char *end;
  size_t hlen;
  const char *cl;

  memset(r, 0, sizeof *r);
  r->content_length = -1;
  for (;;) {
    ssize_t n;
    /* memmem, not strstr: a pipelined binary body may follow. */
    if ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL)
      break;
    n = client_fill(c);
    if (n == 0) { *why = "EOF before end of headers"; return -1; }
    if (n < 0) { *why = "recv error/timeout before end of headers"; return -1; }
  }
  hlen = (size_t) (end - c->buf) + 4;
  if (hlen >= sizeof r->head) { *why = "headers too long"; return -1; }
  memcpy(r->head, c->buf, hlen);
  r->head[hlen] = '\0';
  client_consume(c, hlen);
  if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) {
    *why = "bad status line";
    return -1;
  }
  cl = header(r, "Content-Length");
  if (cl != NULL) r->content_length = atoll(cl);
  if (head_request || r->content_length <= 0) return 0;

  r->body = malloc((size_t) r->content_length + 1);
  if (r->body == NULL) die("malloc");
  while (r->body_len < (size_t) r->content_length) {
    size_t want = (size_t) r->content_length - r->body_len;
    if (c->len == 0) {
      ssize_t n = client_fill(c);
      if (n <= 0) { *why = "EOF/timeout inside body"; return -1; }
    }
    if (want > c->len) want = c->len;
    memcpy(r->body + r->body_len, c->buf, want);
    r->body_len += want;
    client_consume(c, want);
  }
  r->body[r->body_len] = '\0';
  return 0;
}

/* Waits until the server closes the connection: 1 if it did (EOF or
 * reset) within ms, 0 otherwise. Data received meanwhile is discarded. */
static int wait_closed(int fd, int ms) {
  long long deadline = now_ms() + ms;
  char tmp[4096];
  for (;;) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    long long left = deadline - now_ms();
    ssize_t n;
    if (left <= 0) return 0;
    if (poll(&pfd, 1, (int) left) <= 0) return 0;
    n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n == 0) return 1;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return 1;
  }
}

/* One request on a fresh connection. */
static int fetch(int p, const char *request, int head_request,
                 struct response *r, const char **why) {
  struct client *c = malloc(sizeof *c);
  int rc;
  if (c == NULL) die("malloc");
  client_open(c, p);
  rc = send_str(c->fd, request) == 0 ? read_response(c, r, head_request, why)
                                     : (*why = "send failed", -1);
  client_close(c);
  free(c);
  return rc;
}

static int get_status(const char *target) {
  char req[2048];
  struct response r;
  const char *why;
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
  if (fetch(port, req, 0, &r, &why) != 0) return -1;
  response_free(&r);
  return r.status;
}

/* ---- tests ------------------------------------------------------------ */

TEST(get_200) {
  struct response r;
  const char *why = "", *h;
  char want_lm[64];
  struct stat st;
  struct tm tm;
  char path[512];

  CHECK(fetch(port, "GET /file1k.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, &r,
              &why) == 0, "%s", why);
  CHECK(r.status == 200, "status %d", r.status);
  CHECK(r.content_length == 1024, "Content-Length %lld", r.content_length);
  CHECK(r.body_len == 1024 && memcmp(r.body, file1k, 1024) == 0, "body");
  h = header(&r, "Content-Type");
  CHECK(h && strcmp(h, "text/plain; charset=utf-8") == 0, "Content-Type %s",
        h ? h : "(none)");
  CHECK(header(&r, "Date") != NULL, "no Date");
  snprintf(path, sizeof path, "%s/file1k.txt", rootdir);
  stat(path, &st);
  gmtime_r(&st.st_mtime, &tm);
  strftime(want_lm, sizeof want_lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  h = header(&r, "Last-Modified");
  CHECK(h && strcmp(h, want_lm) == 0, "Last-Modified '%s' want '%s'",
        h ? h : "(none)", want_lm);
  h = header(&r, "Connection");
  CHECK(h && strcasecmp(h, "keep-alive") == 0, "Connection %s",
        h ? h : "(none)");
  response_free(&r);
}

TEST(head_no_body) {
  /* If HEAD sent a body, the GET after it on the same connection would
   * parse garbage. */
  struct client c;
  struct response r;
  const char *why = "";

  client_open(&c, port);
  CHECK(send_str(c.fd, "HEAD /file1k.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0,
        "send");
  CHECK(read_response(&c, &r, 1, &why) == 0, "%s", why);
  CHECK(r.status == 200 && r.content_length == 1024, "status %d CL %lld",
        r.status, r.content_length);
  CHECK(c.len == 0, "bytes after HEAD headers");
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 200 && strcmp(r.body, "AAAA\n") == 0, "GET after HEAD");
  response_free(&r);
  client_close(&c);
}

TEST(keep_alive) {
  struct client c;
  struct response r;
  const char *why = "";
  int i;

  client_open(&c, port);
  for (i = 0; i < 3; i++) {
    CHECK(send_str(c.fd, "GET /file1k.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0,
          "send %d", i);
    CHECK(read_response(&c, &r, 0, &why) == 0, "request %d: %s", i, why);
    CHECK(r.status == 200 && r.body_len == 1024, "request %d status %d", i,
          r.status);
    response_free(&r);
  }
  client_close(&c);
}

TEST(pipelined) {
  /* One write, four requests, a big file and an error among them: the
   * responses must come back complete and in order. */
  static const char reqs[] =
      "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  struct client *c = malloc(sizeof *c);
  struct response r;
  const char *why = "";

  client_open(c, port);
  CHECK(send_str(c->fd, reqs) == 0, "send");
  CHECK(read_response(c, &r, 0, &why) == 0, "1: %s", why);
  CHECK(r.status == 200 && strcmp(r.body, "AAAA\n") == 0, "1: wrong");
  response_free(&r);
  CHECK(read_response(c, &r, 0, &why) == 0, "2: %s", why);
  CHECK(r.status == 200 && r.body_len == BIG_SIZE &&
        memcmp(r.body, big, BIG_SIZE) == 0, "2: wrong big body");
  response_free(&r);
  CHECK(read_response(c, &r, 0, &why) == 0, "3: %s", why);
  CHECK(r.status == 404, "3: status %d", r.status);
  response_free(&r);
  CHECK(read_response(c, &r, 0, &why) == 0, "4: %s", why);
  CHECK(r.status == 200 && strcmp(r.body, "CCCC\n") == 0, "4: wrong");
  response_free(&r);
  client_close(c);
  free(c);
}

TEST(pipelined_many_small) {
  /* More pipelined requests than the server's input buffer holds. */
  enum { N = 2000 };   /* ~66 KB of requests, IN_SIZE is 16 KiB */
  static const char one[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  char *all = malloc(N * (sizeof one - 1) + 1);
  struct client *c = malloc(sizeof *c);
  struct response r;
  const char *why = "";
  int i;

  for (i = 0; i < N; i++)
    memcpy(all + i * (sizeof one - 1), one, sizeof one - 1);
  client_open(c, port);
  CHECK(send_all(c->fd, all, N * (sizeof one - 1)) == 0, "send");
  for (i = 0; i < N; i++) {
    CHECK(read_response(c, &r, 0, &why) == 0, "%d: %s", i, why);
    CHECK(r.status == 200 && strcmp(r.body, "AAAA\n") == 0, "%d: wrong", i);
    response_free(&r);
  }
  client_close(c);
  free(c);
  free(all);
}

TEST(not_found_keeps_connection) {
  struct client c;
  struct response r;
  const char *why = "";

  client_open(&c, port);
  CHECK(send_str(c.fd, "GET /nope.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0,
        "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 404, "status %d", r.status);
  response_free(&r);
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 200, "status after 404: %d", r.status);
  response_free(&r);
  client_close(&c);
}

TEST(forbidden_traversal) {
  static const char *const targets[] = {
    "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2Fetc%2Fpasswd",
    "/sub/../../etc/passwd",
    "/./sub/./../../../../../../etc/passwd",
    "/..",
  };
  size_t i;
  for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    int st = get_status(targets[i]);
    CHECK(st == 403, "%s -> %d", targets[i], st);
  }
}

TEST(dotdot_inside_root_ok) {
  int st = get_status("/sub/../a.txt");
  CHECK(st == 200, "/sub/../a.txt -> %d", st);
}

TEST(symlinks) {
  int st;
  st = get_status("/link_out");
  CHECK(st == 403, "symlink to a file outside -> %d", st);
  st = get_status("/linkdir_out/secret.txt");
  CHECK(st == 403, "through a symlinked dir outside -> %d", st);
  st = get_status("/link_root_prefix/secret.txt");
  CHECK(st == 403, "sibling dir sharing the root's prefix -> %d", st);
  st = get_status("/link_in");
  CHECK(st == 200, "symlink inside -> %d", st);
}

TEST(bad_request) {
  struct client c;
  struct response r;
  const char *why = "";

  client_open(&c, port);
  CHECK(send_str(c.fd, "GARBAGE\x01\x02 nonsense\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 400, "status %d", r.status);
  CHECK(wait_closed(c.fd, 3000), "connection not closed after 400");
  response_free(&r);
  client_close(&c);

  CHECK(get_status("/%zz") == 400, "bad escape not 400");
  CHECK(get_status("/a%00.txt") == 400, "%%00 not 400");
}

TEST(header_too_large) {
  char *req = malloc(32 * 1024);
  struct client c;
  struct response r;
  const char *why = "";
  size_t n;

  n = (size_t) sprintf(req, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + n, 'x', 20 * 1024);
  n += 20 * 1024;
  memcpy(req + n, "\r\n\r\n", 4);
  n += 4;
  client_open(&c, port);
  /* The server may answer before reading it all; a short send is fine. */
  send_all(c.fd, req, n);
  free(req);
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 431, "status %d", r.status);
  CHECK(wait_closed(c.fd, 4000), "connection not closed after 431");
  response_free(&r);
  client_close(&c);
}

TEST(body_too_large) {
  struct client c;
  struct response r;
  const char *why = "";

  client_open(&c, port);
  CHECK(send_str(c.fd, "POST /a.txt HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 100000\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 413, "status %d", r.status);
  response_free(&r);
  client_close(&c);

  /* chunked, too big in total */
  client_open(&c, port);
  CHECK(send_str(c.fd, "POST /a.txt HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"
                       "3000\r\n") == 0, "send");
  {
    char junk[0x3000];
    memset(junk, 'j', sizeof junk);
    send_all(c.fd, junk, sizeof junk);
  }
  CHECK(read_response(&c, &r, 0, &why) == 0, "chunked: %s", why);
  CHECK(r.status == 413, "chunked: status %d", r.status);
  response_free(&r);
  client_close(&c);
}

TEST(method_not_allowed) {
  struct client c;
  struct response r;
  const char *why = "", *h;

  client_open(&c, port);
  CHECK(send_str(c.fd, "POST /a.txt HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 5\r\n\r\nhello") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 405, "status %d", r.status);
  h = header(&r, "Allow");
  CHECK(h && strcmp(h, "GET, HEAD") == 0, "Allow %s", h ? h : "(none)");
  response_free(&r);
  /* the small body was consumed; the connection is still usable */
  CHECK(send_str(c.fd, "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 405, "DELETE status %d", r.status);
  response_free(&r);
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 200, "GET after 405: %d", r.status);
  response_free(&r);
  client_close(&c);
}

TEST(directory_index) {
  struct response r;
  const char *why = "", *h;

  CHECK(fetch(port, "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n", 0, &r, &why) == 0,
        "%s", why);
  CHECK(r.status == 200 && strcmp(r.body, "<p>sub index</p>\n") == 0,
        "/sub/ status %d", r.status);
  h = header(&r, "Content-Type");
  CHECK(h && strncmp(h, "text/html", 9) == 0, "Content-Type %s",
        h ? h : "(none)");
  response_free(&r);
  CHECK(get_status("/sub") == 200, "/sub");
  CHECK(get_status("/") == 200, "/ (root index)");
  CHECK(get_status("/noindex/") == 404, "dir without index.html");
  CHECK(get_status("/dirindex/") == 404, "index.html that is a directory");
}

TEST(content_types) {
  static const struct { const char *file, *type; } t[] = {
    { "/t.html", "text/html; charset=utf-8" },
    { "/t.css", "text/css; charset=utf-8" },
    { "/t.js", "text/javascript; charset=utf-8" },
    { "/t.json", "application/json" },
    { "/t.txt", "text/plain; charset=utf-8" },
    { "/t.png", "image/png" },
    { "/t.jpg", "image/jpeg" },
    { "/t.gif", "image/gif" },
    { "/t.svg", "image/svg+xml" },
    { "/t.ico", "image/x-icon" },
    { "/t.pdf", "application/pdf" },
    { "/t.wasm", "application/wasm" },
    { "/t.PNG", "image/png" },
    { "/t.bin", "application/octet-stream" },
    { "/noext", "application/octet-stream" },
  };
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++) {
    char req[256];
    struct response r;
    const char *why = "", *h;
    snprintf(req, sizeof req, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", t[i].file);
    CHECK(fetch(port, req, 1, &r, &why) == 0, "%s: %s", t[i].file, why);
    h = header(&r, "Content-Type");
    CHECK(r.status == 200 && h && strcmp(h, t[i].type) == 0,
          "%s: status %d type %s", t[i].file, r.status, h ? h : "(none)");
  }
}

TEST(big_file) {
  struct response r;
  const char *why = "";
  CHECK(fetch(port, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 0, &r, &why)
        == 0, "%s", why);
  CHECK(r.status == 200 && r.content_length == BIG_SIZE, "status %d CL %lld",
        r.status, r.content_length);
  CHECK(r.body_len == BIG_SIZE && memcmp(r.body, big, BIG_SIZE) == 0, "body");
  response_free(&r);
}

TEST(empty_file) {
  struct response r;
  const char *why = "";
  CHECK(fetch(port, "GET /empty.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, &r, &why)
        == 0, "%s", why);
  CHECK(r.status == 200 && r.content_length == 0, "status %d CL %lld",
        r.status, r.content_length);
}

TEST(percent_and_query) {
  CHECK(get_status("/hello%20world.txt") == 200, "percent-encoded name");
  CHECK(get_status("/file1k.txt?x=1&y=%2e%2e") == 200, "query ignored");
  CHECK(get_status("http://x/a.txt") == 200, "absolute-form target");
}

TEST(special_file_forbidden) {
  int st = get_status("/fifo");
  CHECK(st == 403, "fifo -> %d", st);
}

TEST(connection_close) {
  struct client c;
  struct response r;
  const char *why = "", *h;

  client_open(&c, port);
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  h = header(&r, "Connection");
  CHECK(r.status == 200 && h && strcasecmp(h, "close") == 0,
        "status %d Connection %s", r.status, h ? h : "(none)");
  CHECK(wait_closed(c.fd, 3000), "server kept the connection");
  response_free(&r);
  client_close(&c);

  client_open(&c, port);           /* HTTP/1.0 without keep-alive */
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.0\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "1.0: %s", why);
  CHECK(r.status == 200, "1.0: status %d", r.status);
  CHECK(wait_closed(c.fd, 3000), "1.0: server kept the connection");
  response_free(&r);
  client_close(&c);
}

TEST(split_request) {
  /* A request trickling in a few bytes at a time. */
  static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  struct client c;
  struct response r;
  const char *why = "";
  size_t i;

  client_open(&c, port);
  for (i = 0; i < sizeof req - 1; i += 3) {
    size_t n = sizeof req - 1 - i < 3 ? sizeof req - 1 - i : 3;
    CHECK(send_all(c.fd, req + i, n) == 0, "send");
    usleep(2000);
  }
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  CHECK(r.status == 200 && strcmp(r.body, "AAAA\n") == 0, "status %d",
        r.status);
  response_free(&r);
  client_close(&c);
}

TEST(half_close_after_pipeline) {
  /* Requests followed by our FIN: all are still answered, then EOF. */
  struct client c;
  struct response r;
  const char *why = "";

  client_open(&c, port);
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  shutdown(c.fd, SHUT_WR);
  CHECK(read_response(&c, &r, 0, &why) == 0, "1: %s", why);
  CHECK(r.status == 200 && strcmp(r.body, "AAAA\n") == 0, "1: wrong");
  response_free(&r);
  CHECK(read_response(&c, &r, 0, &why) == 0, "2: %s", why);
  CHECK(r.status == 200 && strcmp(r.body, "CCCC\n") == 0, "2: wrong");
  response_free(&r);
  CHECK(c.len == 0 && wait_closed(c.fd, 3000), "no EOF after answers");
  client_close(&c);
}

TEST(many_connections) {
  /* 64 connections open at once, requests interleaved. */
  enum { N = 64, ROUNDS = 3 };
  struct client *cs = malloc(N * sizeof *cs);
  struct response r;
  const char *why = "";
  int i, k;

  for (i = 0; i < N; i++) client_open(&cs[i], port);
  for (k = 0; k < ROUNDS; k++) {
    for (i = 0; i < N; i++)
      CHECK(send_str(cs[i].fd, "GET /file1k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            == 0, "send %d", i);
    for (i = N - 1; i >= 0; i--) {
      CHECK(read_response(&cs[i], &r, 0, &why) == 0, "conn %d: %s", i, why);
      CHECK(r.status == 200 && r.body_len == 1024 &&
            memcmp(r.body, file1k, 1024) == 0, "conn %d: wrong", i);
      response_free(&r);
    }
  }
  for (i = 0; i < N; i++) client_close(&cs[i]);
  free(cs);
}

TEST(idle_timeout) {
  /* The server runs with -t 1. */
  struct client c;
  struct response r;
  const char *why = "";
  long long t0 = now_ms(), dt;

  client_open(&c, port);
  CHECK(wait_closed(c.fd, 5000), "idle connection not closed in 5 s");
  dt = now_ms() - t0;
  CHECK(dt >= 700, "closed too early (%lld ms)", dt);
  client_close(&c);

  /* also after a completed request */
  client_open(&c, port);
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&c, &r, 0, &why) == 0, "%s", why);
  response_free(&r);
  CHECK(wait_closed(c.fd, 5000), "keep-alive connection not closed in 5 s");
  client_close(&c);

  /* and with half a request */
  client_open(&c, port);
  CHECK(send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHo") == 0, "send");
  CHECK(wait_closed(c.fd, 5000), "half-request connection not closed");
  client_close(&c);
}

TEST(connection_limit) {
  /* Second instance: -c 2. */
  struct client a, b, c, d;
  struct response r;
  const char *why = "";
  int got_response;

  client_open(&a, limit_port);
  client_open(&b, limit_port);
  /* A request on each makes sure the server has accepted both. */
  CHECK(send_str(a.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&a, &r, 0, &why) == 0, "a: %s", why);
  response_free(&r);
  CHECK(send_str(b.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&b, &r, 0, &why) == 0, "b: %s", why);
  response_free(&r);

  client_open(&c, limit_port);
  send_str(c.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  got_response = read_response(&c, &r, 0, &why) == 0;
  if (got_response) response_free(&r);
  CHECK(!got_response, "third connection was served");
  client_close(&c);

  client_close(&a);
  usleep(200 * 1000);               /* let the server see the close */
  client_open(&d, limit_port);
  CHECK(send_str(d.fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(read_response(&d, &r, 0, &why) == 0, "after a slot freed: %s", why);
  CHECK(r.status == 200, "status %d", r.status);
  response_free(&r);
  client_close(&d);
  client_close(&b);
}

/* ---- setup ------------------------------------------------------------ */

static pid_t start_server(const char *bin, const char *const *extra,
                          int *port_out) {
  int pfd[2];
  pid_t pid;
  char line[256];
  size_t n = 0;
  long long deadline = now_ms() + 20000;
  const char *argv[16];
  int i = 0, j;

  if (pipe(pfd) != 0) die("pipe");
  argv[i++] = bin;
  argv[i++] = "-p";
  argv[i++] = "0";
  for (j = 0; extra[j] != NULL; j++) argv[i++] = extra[j];
  argv[i++] = rootdir;
  argv[i] = NULL;
  pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execv(bin, (char *const *) argv);
    perror(bin);
    _exit(127);
  }
  close(pfd[1]);
  /* Wait for "listening on http://127.0.0.1:PORT/". */
  while (n < sizeof line - 1) {
    struct pollfd p = { pfd[0], POLLIN, 0 };
    long long left = deadline - now_ms();
    ssize_t r;
    if (left <= 0 || poll(&p, 1, (int) left) <= 0) break;
    r = read(pfd[0], line + n, 1);
    if (r <= 0) break;
    if (line[n] == '\n') break;
    n++;
  }
  line[n] = '\0';
  close(pfd[0]);   /* the server writes nothing more to stdout */
  {
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on http://", 20) != 0 || colon == NULL) {
      fprintf(stderr, "server did not start (got '%s')\n", line);
      kill(pid, SIGKILL);
      exit(2);
    }
    *port_out = atoi(colon + 1);
  }
  return pid;
}

/* Sends SIGTERM and expects a clean exit with status 0 within 10 s. */
static int stop_server(pid_t pid, const char *name) {
  long long deadline = now_ms() + 10000;
  int status;
  kill(pid, SIGTERM);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (now_ms() > deadline) {
      printf("FAIL %s: no exit 10 s after SIGTERM\n", name);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return 0;
    }
    usleep(20 * 1000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("FAIL %s: exit status %d (signal %d)\n", name,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
  }
  printf("ok   %s\n", name);
  return 1;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void) st; (void) flag; (void) ftw;
  remove(path);
  return 0;
}

static void make_tree(void) {
  size_t i;
  char path[512];
  static const char *const typed[] = {
    "t.html", "t.css", "t.js", "t.json", "t.txt", "t.png", "t.jpg", "t.gif",
    "t.svg", "t.ico", "t.pdf", "t.wasm", "t.PNG", "t.bin", "noext",
  };

  if (mkdtemp(tmpdir) == NULL) die("mkdtemp");
  snprintf(rootdir, sizeof rootdir, "%s/www", tmpdir);
  make_dir("www");
  make_dir("outside");
  make_dir("www-secret");             /* shares the root's name as prefix */
  write_file("outside/secret.txt", "secret\n", 7);
  write_file("www-secret/secret.txt", "secret\n", 7);

  for (i = 0; i < sizeof file1k; i++)
    file1k[i] = (char) ('a' + i % 26);
  write_file("www/file1k.txt", file1k, sizeof file1k);
  big = malloc(BIG_SIZE);
  for (i = 0; i < BIG_SIZE; i++)
    big[i] = (char) ((i * 2654435761u) >> 13);
  write_file("www/big.bin", big, BIG_SIZE);
  write_file("www/a.txt", "AAAA\n", 5);
  write_file("www/c.txt", "CCCC\n", 5);
  write_file("www/empty.txt", "", 0);
  write_file("www/hello world.txt", "hi\n", 3);
  write_file("www/index.html", "<p>root</p>\n", 12);
  make_dir("www/sub");
  write_file("www/sub/index.html", "<p>sub index</p>\n", 17);
  make_dir("www/noindex");
  make_dir("www/dirindex");
  make_dir("www/dirindex/index.html");
  for (i = 0; i < sizeof typed / sizeof typed[0]; i++) {
    snprintf(path, sizeof path, "www/%s", typed[i]);
    write_file(path, "x", 1);
  }
  make_link("../outside/secret.txt", "www/link_out");
  make_link("../outside", "www/linkdir_out");
  make_link("../www-secret", "www/link_root_prefix");
  make_link("a.txt", "www/link_in");
  snprintf(path, sizeof path, "%s/www/fifo", tmpdir);
  if (mkfifo(path, 0644) != 0) die("mkfifo");
}

struct test_case {
  const char *name;
  void (*fn)(void);
};

#define T(name) { #name, test_##name }
static const struct test_case tests[] = {
  T(get_200),
  T(head_no_body),
  T(keep_alive),
  T(pipelined),
  T(pipelined_many_small),
  T(not_found_keeps_connection),
  T(forbidden_traversal),
  T(dotdot_inside_root_ok),
  T(symlinks),
  T(bad_request),
  T(header_too_large),
  T(body_too_large),
  T(method_not_allowed),
  T(directory_index),
  T(content_types),
  T(big_file),
  T(empty_file),
  T(percent_and_query),
  T(special_file_forbidden),
  T(connection_close),
  T(split_request),
  T(half_close_after_pipeline),
  T(many_connections),
  T(idle_timeout),
  T(connection_limit),
};

int main(int argc, char **argv) {
  static const char *const main_args[] = { "-t", "1", NULL };
  static const char *const limit_args[] = { "-c", "2", NULL };
  const char *only = argc > 2 ? argv[2] : NULL;
  int passed = 0, failed = 0, ran = 0;
  size_t i;

  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH/TO/fileserver [TESTNAME]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  make_tree();
  server_pid = start_server(argv[1], main_args, &port);
  limit_pid = start_server(argv[1], limit_args, &limit_port);

  for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (only && strcmp(only, tests[i].name) != 0) continue;
    ran++;
    cur_test = tests[i].name;
    cur_failed = 0;
    tests[i].fn();
    if (cur_failed) {
      failed++;
    } else {
      passed++;
      printf("ok   %s\n", tests[i].name);
    }
  }

  if (ran == 0) {
    fprintf(stderr, "no test named %s\n", only ? only : "");
    failed++;
  }

  /* Leave a connection mid-download and one idle: shutdown must cope. */
  {
    int fd1 = connect_to(port), fd2 = connect_to(port);
    send_str(fd1, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);
    if (stop_server(server_pid, "sigterm_clean_exit")) passed++;
    else failed++;
    close(fd1);
    close(fd2);
  }
  if (stop_server(limit_pid, "sigterm_clean_exit_limit")) passed++;
  else failed++;

  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(big);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
