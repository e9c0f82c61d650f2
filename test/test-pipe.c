/* Pipe handles: Unix-domain sockets bound to paths (bind, listen, connect,
 * accept, names, permissions, errors), abstract names, uv_pipe() and
 * uv_pipe_open() of plain pipes, and a pipe to a child process. The error
 * codes for bad input are the ones Debian's libuv 1.44.2 returns. */
#include "stream-helpers.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static int close_calls;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

static const char* tmp_path(const char* name) {
  static char bufs[4][512];
  static int next;
  char* b = bufs[next++ % 4];
  snprintf(b, sizeof(bufs[0]), "%s/%s", nl_test_tmpdir(), name);
  return b;
}

static int is_socket_file(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static mode_t file_mode(const char* path) {
  struct stat st;
  CHECK_OK(stat(path, &st));
  return st.st_mode & 07777;
}

/* ---------------------------------------------------------------------
 * A server that accepts one connection and reads it, and a client.
 */
struct server {
  uv_pipe_t listener;
  uv_pipe_t conn;
  uv_pipe_t spare;
  int connections;
  int spare_accept;
  struct sh_sink sink;
};

static void server_connection_cb(uv_stream_t* l, int status) {
  struct server* s = (struct server*) l->data;
  CHECK_OK(status);
  s->connections++;
  CHECK_EQ(s->connections, 1);
  CHECK_OK(uv_pipe_init(l->loop, &s->conn, 0));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &s->conn));
  sh_sink_start(&s->sink, (uv_stream_t*) &s->conn);
  CHECK_OK(uv_pipe_init(l->loop, &s->spare, 0));
  s->spare_accept = uv_accept(l, (uv_stream_t*) &s->spare);
}

static void server_start(uv_loop_t* loop, struct server* s,
                         const char* path) {
  memset(s, 0, sizeof(*s));
  CHECK_OK(uv_pipe_init(loop, &s->listener, 0));
  s->listener.data = s;
  CHECK_OK(uv_pipe_bind(&s->listener, path));
  CHECK_OK(uv_listen((uv_stream_t*) &s->listener, 8, server_connection_cb));
}

struct client {
  uv_pipe_t pipe;
  uv_connect_t req;
  int connects;
  int status;
};

static void client_connect_cb(uv_connect_t* req, int status) {
  struct client* c = (struct client*) req->data;
  CHECK(req == &c->req);
  CHECK(req->handle == (uv_stream_t*) &c->pipe);
  c->connects++;
  c->status = status;
}

static void client_connect(uv_loop_t* loop, struct client* c,
                           const char* path) {
  memset(c, 0, sizeof(*c));
  c->req.data = c;
  CHECK_OK(uv_pipe_init(loop, &c->pipe, 0));
  uv_pipe_connect(&c->req, &c->pipe, path, client_connect_cb);
  CHECK_EQ(c->connects, 0);   /* the result comes from the loop */
}

static size_t name_of(const uv_pipe_t* p, int peer, char* buf, size_t cap) {
  size_t len = cap;
  if (peer)
    CHECK_OK(uv_pipe_getpeername(p, buf, &len));
  else
    CHECK_OK(uv_pipe_getsockname(p, buf, &len));
  return len;
}

TEST(bind_listen_connect_accept) {
  const char* path = tmp_path("sock");
  struct server s;
  struct client c;
  struct sh_sink back;
  char name[256];
  uv_buf_t buf = uv_buf_init("from client", 11);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  server_start(&loop, &s, path);
  CHECK(is_socket_file(path));
  CHECK(uv_is_active((uv_handle_t*) &s.listener));
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &s.listener), UV_NAMED_PIPE);
  client_connect(&loop, &c, path);
  SH_RUN_UNTIL(&loop, c.connects == 1 && s.connections == 1);
  CHECK_OK(c.status);
  CHECK_EQ(s.spare_accept, UV_EAGAIN);
  CHECK(uv_is_readable((uv_stream_t*) &c.pipe));
  CHECK(uv_is_writable((uv_stream_t*) &c.pipe));
  CHECK_EQ(uv_pipe_pending_count(&c.pipe), 0);
  CHECK_EQ(uv_pipe_pending_type(&c.pipe), UV_UNKNOWN_HANDLE);

  /* Names: the path on the listener, the accepted end and as the
   * client's peer; nothing for the unbound client. */
  CHECK_EQ(name_of(&s.listener, 0, name, sizeof(name)), strlen(path));
  CHECK_STREQ(name, path);
  CHECK_EQ(name_of(&s.conn, 0, name, sizeof(name)), strlen(path));
  CHECK_STREQ(name, path);
  CHECK_EQ(name_of(&c.pipe, 1, name, sizeof(name)), strlen(path));
  CHECK_STREQ(name, path);
  CHECK_EQ(name_of(&c.pipe, 0, name, sizeof(name)), 0);
  CHECK_EQ(name_of(&s.conn, 1, name, sizeof(name)), 0);

  /* Data both ways. */
  CHECK_EQ(uv_try_write((uv_stream_t*) &c.pipe, &buf, 1), 11);
  sh_sink_start(&back, (uv_stream_t*) &c.pipe);
  buf = uv_buf_init("from server", 11);
  CHECK_EQ(uv_try_write((uv_stream_t*) &s.conn, &buf, 1), 11);
  SH_RUN_UNTIL(&loop, s.sink.len == 11 && back.len == 11);
  CHECK(memcmp(s.sink.data, "from client", 11) == 0);
  CHECK(memcmp(back.data, "from server", 11) == 0);

  /* The client leaves: the server reads the end, once. */
  uv_close((uv_handle_t*) &c.pipe, close_cb);
  SH_RUN_UNTIL(&loop, s.sink.eof == 1);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);   /* the listener */
  CHECK_EQ(s.sink.after_end, 0);
  CHECK_EQ(back.eof + back.after_end, 0);

  /* Closing the listener removes its socket file. */
  uv_close((uv_handle_t*) &s.listener, close_cb);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 2);
  CHECK(!is_socket_file(path));
  CHECK_EQ(errno, ENOENT);
  sh_sink_free(&s.sink);
  sh_sink_free(&back);
  nl_test_close_loop(&loop);
}

TEST(bind_errors) {
  const char* path = tmp_path("sock");
  uv_pipe_t a, b, c, d;
  char name[64];
  size_t len = sizeof(name);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &a, 0));
  /* Not bound yet. */
  CHECK_EQ(uv_listen((uv_stream_t*) &a, 4, NULL), UV_EINVAL);
  CHECK_EQ(uv_pipe_getsockname(&a, name, &len), UV_EBADF);
  CHECK_EQ(len, 0);
  CHECK_EQ(uv_pipe_chmod(&a, UV_READABLE), UV_EBADF);
  CHECK_EQ(uv_fileno((uv_handle_t*) &a, &(uv_os_fd_t){0}), UV_EBADF);

  CHECK_OK(uv_pipe_bind(&a, path));
  CHECK_EQ(uv_pipe_bind(&a, path), UV_EINVAL);   /* bound already */
  len = sizeof(name);
  CHECK_EQ(uv_pipe_getpeername(&a, name, &len), UV_ENOTCONN);
  CHECK_EQ(len, 0);

  /* The path is taken, by a socket or by a directory. */
  CHECK_OK(uv_pipe_init(&loop, &b, 0));
  CHECK_EQ(uv_pipe_bind(&b, path), UV_EADDRINUSE);
  CHECK_EQ(uv_pipe_bind(&b, nl_test_tmpdir()), UV_EADDRINUSE);
  /* A missing directory: libuv reports ENOENT as EACCES. */
  CHECK_OK(uv_pipe_init(&loop, &c, 0));
  CHECK_EQ(uv_pipe_bind(&c, tmp_path("missing/sock")), UV_EACCES);
  /* A bad descriptor. */
  CHECK_OK(uv_pipe_init(&loop, &d, 0));
  CHECK_EQ(uv_pipe_open(&d, 100000), UV_EBADF);
  nl_test_close_loop(&loop);
  CHECK(!is_socket_file(path));
}

/* uv_pipe_bind and uv_pipe_connect cut a path to the 107 bytes that fit
 * in sun_path (documented): both use the cut name. */
TEST(long_name_is_truncated) {
  char path[200], cut[108];
  char name[256];
  struct server s;
  struct client c;
  uv_loop_t loop;

  if (strlen(nl_test_tmpdir()) > 80)
    nl_test_skip("the scratch directory's path is too long");
  snprintf(path, sizeof(path), "%s/", nl_test_tmpdir());
  while (strlen(path) < 150)
    strcat(path, "n");
  memcpy(cut, path, 107);
  cut[107] = '\0';

  CHECK_OK(uv_loop_init(&loop));
  server_start(&loop, &s, path);
  CHECK(is_socket_file(cut));
  CHECK_EQ(name_of(&s.listener, 0, name, sizeof(name)), 107);
  CHECK_STREQ(name, cut);
  client_connect(&loop, &c, path);
  SH_RUN_UNTIL(&loop, c.connects == 1 && s.connections == 1);
  CHECK_OK(c.status);
  CHECK_EQ(name_of(&c.pipe, 1, name, sizeof(name)), 107);
  CHECK_STREQ(name, cut);
  sh_sink_free(&s.sink);
  nl_test_close_loop(&loop);
}

/* Abstract names (a leading NUL byte) cannot be given to uv_pipe_bind,
 * which takes a C string; a socket bound to one outside libuv can be
 * opened, listened on and accepted from, and its name read back: the
 * leading NUL and the bytes after it, without a terminator. */
TEST(abstract_name) {
  static const char abstract[] = "\0nodeloop-test-abstract-XXXXXX";
  struct sockaddr_un sa;
  socklen_t salen;
  struct server s;
  char name[64];
  size_t len, nlen;
  int fd, cfd;
  uv_loop_t loop;

  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  nlen = sizeof(abstract) - 1;
  memcpy(sa.sun_path, abstract, nlen);
  /* A name of this process's own, so parallel runs do not collide. */
  snprintf(sa.sun_path + nlen - 6, 7, "%06u", (unsigned) getpid() % 1000000u);
  salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + nlen);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  CHECK_OK(bind(fd, (struct sockaddr*) &sa, salen));

  CHECK_OK(uv_loop_init(&loop));
  memset(&s, 0, sizeof(s));
  CHECK_OK(uv_pipe_init(&loop, &s.listener, 0));
  s.listener.data = &s;
  CHECK_OK(uv_pipe_open(&s.listener, fd));
  memset(name, 'x', sizeof(name));
  len = sizeof(name);
  CHECK_OK(uv_pipe_getsockname(&s.listener, name, &len));
  CHECK_EQ(len, nlen);
  CHECK(memcmp(name, sa.sun_path, nlen) == 0);
  CHECK_EQ(name[nlen], 'x');
  len = nlen;
  CHECK_EQ(uv_pipe_getsockname(&s.listener, name, &len), UV_ENOBUFS);
  CHECK_EQ(len, nlen + 1);
  /* There is no file whose mode could change. */
  CHECK_EQ(uv_pipe_chmod(&s.listener, UV_READABLE), UV_ENOENT);

  CHECK_OK(uv_listen((uv_stream_t*) &s.listener, 4, server_connection_cb));
  cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(cfd >= 0);
  CHECK_OK(connect(cfd, (struct sockaddr*) &sa, salen));
  sh_write_all(cfd, "abstract", 8);
  SH_RUN_UNTIL(&loop, s.sink.len == 8);
  CHECK(memcmp(s.sink.data, "abstract", 8) == 0);
  len = sizeof(name);
  CHECK_OK(uv_pipe_getsockname(&s.conn, name, &len));
  CHECK_EQ(len, nlen);
  CHECK(memcmp(name, sa.sun_path, nlen) == 0);
  CHECK_OK(close(cfd));
  SH_RUN_UNTIL(&loop, s.sink.eof == 1);
  sh_sink_free(&s.sink);
  nl_test_close_loop(&loop);
}

/* A buffer too small for the name (with its terminating NUL) gets
 * UV_ENOBUFS, is left alone, and the size needed comes back. */
TEST(name_buffer_too_small) {
  const char* path = tmp_path("sock");
  size_t plen = strlen(path);
  struct server s;
  struct client c;
  char name[256];
  size_t len;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  server_start(&loop, &s, path);
  memset(name, 'x', sizeof(name));
  len = 5;
  CHECK_EQ(uv_pipe_getsockname(&s.listener, name, &len), UV_ENOBUFS);
  CHECK_EQ(len, plen + 1);
  CHECK_EQ(name[0], 'x');
  len = plen;
  CHECK_EQ(uv_pipe_getsockname(&s.listener, name, &len), UV_ENOBUFS);
  CHECK_EQ(len, plen + 1);
  len = plen + 1;
  CHECK_OK(uv_pipe_getsockname(&s.listener, name, &len));
  CHECK_EQ(len, plen);
  CHECK_EQ(name[plen], '\0');
  CHECK_STREQ(name, path);

  client_connect(&loop, &c, path);
  SH_RUN_UNTIL(&loop, c.connects == 1);
  len = 3;
  CHECK_EQ(uv_pipe_getpeername(&c.pipe, name, &len), UV_ENOBUFS);
  CHECK_EQ(len, plen + 1);
  sh_sink_free(&s.sink);
  nl_test_close_loop(&loop);
}

/* uv_pipe_pending_instances is a Windows setting; on Linux it changes
 * nothing: every connection is accepted. */
struct many {
  uv_pipe_t conns[5];
  int n;
};

static void many_connection_cb(uv_stream_t* l, int status) {
  struct many* m = (struct many*) l->data;
  CHECK_OK(status);
  CHECK(m->n < 5);
  CHECK_OK(uv_pipe_init(l->loop, &m->conns[m->n], 0));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &m->conns[m->n]));
  m->n++;
}

TEST(pending_instances) {
  const char* path = tmp_path("sock");
  uv_pipe_t l;
  struct many m;
  struct client c[5];
  int i;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  memset(&m, 0, sizeof(m));
  CHECK_OK(uv_pipe_init(&loop, &l, 0));
  l.data = &m;
  uv_pipe_pending_instances(&l, 1);
  CHECK_OK(uv_pipe_bind(&l, path));
  uv_pipe_pending_instances(&l, 2);
  CHECK_OK(uv_listen((uv_stream_t*) &l, 8, many_connection_cb));
  for (i = 0; i < 5; i++)
    client_connect(&loop, &c[i], path);
  SH_RUN_UNTIL(&loop, m.n == 5 && c[4].connects == 1);
  for (i = 0; i < 5; i++)
    CHECK_OK(c[i].status);
  nl_test_close_loop(&loop);
}

/* uv_pipe_chmod adds read or write permission for everyone to the socket
 * file; it never takes permissions away. */
TEST(chmod) {
  const char* path = tmp_path("sock");
  uv_pipe_t p;
  mode_t old;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  old = umask(077);
  CHECK_OK(uv_pipe_bind(&p, path));
  umask(old);
  CHECK_EQ(file_mode(path), 0700);
  CHECK_OK(uv_pipe_chmod(&p, UV_READABLE));
  CHECK_EQ(file_mode(path), 0744);
  CHECK_OK(uv_pipe_chmod(&p, UV_WRITABLE));
  CHECK_EQ(file_mode(path), 0766);
  CHECK_OK(uv_pipe_chmod(&p, UV_READABLE | UV_WRITABLE));
  CHECK_EQ(file_mode(path), 0766);
  CHECK_EQ(uv_pipe_chmod(&p, 0), UV_EINVAL);
  CHECK_EQ(uv_pipe_chmod(&p, 4), UV_EINVAL);
  CHECK_EQ(uv_pipe_chmod(&p, UV_READABLE | 4), UV_EINVAL);
  CHECK_EQ(file_mode(path), 0766);

  CHECK_OK(chmod(path, 0600));
  CHECK_OK(uv_pipe_chmod(&p, UV_READABLE | UV_WRITABLE));
  CHECK_EQ(file_mode(path), 0666);
  nl_test_close_loop(&loop);
}

/* uv_pipe(): both ends close-on-exec, each non-blocking on request;
 * unknown flags are ignored. */
TEST(pipe_flags) {
  uv_file fds[2];
  char buf[4];
  int i;

  for (i = 0; i < 4; i++) {
    int f0 = (i & 1) ? UV_NONBLOCK_PIPE : 0;
    int f1 = (i & 2) ? UV_NONBLOCK_PIPE : 0;
    CHECK_OK(uv_pipe(fds, f0, f1));
    CHECK(sh_cloexec(fds[0]) && sh_cloexec(fds[1]));
    CHECK_EQ(sh_nonblocking(fds[0]), f0 != 0);
    CHECK_EQ(sh_nonblocking(fds[1]), f1 != 0);
    CHECK_EQ(uv_guess_handle(fds[0]), UV_NAMED_PIPE);
    sh_write_all(fds[1], "abc", 3);
    CHECK_EQ(read(fds[0], buf, sizeof(buf)), 3);
    CHECK_OK(close(fds[0]));
    CHECK_OK(close(fds[1]));
  }
  CHECK_OK(uv_pipe(fds, UV_CREATE_PIPE | UV_READABLE_PIPE, 0x100));
  CHECK(!sh_nonblocking(fds[0]) && !sh_nonblocking(fds[1]));
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
}

/* uv_pipe_open of each end of a plain pipe: non-blocking, one direction
 * each; shutdown of a plain pipe fails in its callback (not a socket). */
static int shutdown_status = 1;

static void shutdown_cb(uv_shutdown_t* req, int status) {
  (void) req;
  shutdown_status = status;
}

TEST(open_plain_pipe) {
  uv_file fds[2];
  uv_pipe_t r, w;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  struct sh_sink sink;
  char buf[16];
  uv_buf_t b = uv_buf_init("to the raw end", 14);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe(fds, 0, 0));
  CHECK_OK(uv_pipe_init(&loop, &r, 0));
  CHECK_OK(uv_pipe_open(&r, fds[0]));
  CHECK(sh_nonblocking(fds[0]));
  CHECK(uv_is_readable((uv_stream_t*) &r));
  CHECK(!uv_is_writable((uv_stream_t*) &r));
  CHECK_EQ(uv_write(&wreq, (uv_stream_t*) &r, &b, 1, NULL), UV_EPIPE);
  CHECK_EQ(uv_shutdown(&sreq, (uv_stream_t*) &r, shutdown_cb), UV_ENOTCONN);
  sh_sink_start(&sink, (uv_stream_t*) &r);
  sh_write_all(fds[1], "to the handle", 13);
  SH_RUN_UNTIL(&loop, sink.len == 13);
  CHECK(memcmp(sink.data, "to the handle", 13) == 0);
  CHECK_OK(close(fds[1]));
  SH_RUN_UNTIL(&loop, sink.eof == 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(sink.after_end, 0);
  sh_sink_free(&sink);

  CHECK_OK(uv_pipe(fds, 0, 0));
  CHECK_OK(uv_pipe_init(&loop, &w, 0));
  CHECK_OK(uv_pipe_open(&w, fds[1]));
  CHECK(!uv_is_readable((uv_stream_t*) &w));
  CHECK(uv_is_writable((uv_stream_t*) &w));
  CHECK_EQ(uv_read_start((uv_stream_t*) &w, sh_sink_alloc_cb,
                         sh_sink_read_cb), UV_ENOTCONN);
  CHECK_EQ(uv_try_write((uv_stream_t*) &w, &b, 1), 14);
  CHECK_EQ(read(fds[0], buf, sizeof(buf)), 14);
  CHECK(memcmp(buf, "to the raw end", 14) == 0);
  CHECK_OK(uv_shutdown(&sreq, (uv_stream_t*) &w, shutdown_cb));
  CHECK_EQ(shutdown_status, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(shutdown_status, UV_ENOTSOCK);
  CHECK_OK(close(fds[0]));
  nl_test_close_loop(&loop);
}

/* Connection errors arrive through the callback: a missing path, a socket
 * nobody listens on, a path that is not a socket. */
TEST(connect_errors) {
  const char* missing = tmp_path("missing");
  const char* idle = tmp_path("idle");
  const char* file = tmp_path("file");
  struct client c[3];
  uv_pipe_t bound;
  int fd, i;
  uv_loop_t loop;

  fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_OK(close(fd));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &bound, 0));
  CHECK_OK(uv_pipe_bind(&bound, idle));
  client_connect(&loop, &c[0], missing);
  client_connect(&loop, &c[1], idle);
  client_connect(&loop, &c[2], file);
  SH_RUN_UNTIL(&loop, c[0].connects + c[1].connects + c[2].connects == 3);
  CHECK_EQ(c[0].status, UV_ENOENT);
  CHECK_EQ(c[1].status, UV_ECONNREFUSED);
  CHECK_EQ(c[2].status, UV_ECONNREFUSED);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(c[i].connects, 1);
    CHECK(!uv_is_active((uv_handle_t*) &c[i].pipe));
  }
  nl_test_close_loop(&loop);
}

/* A pipe to a child process (made with fork; the child uses plain system
 * calls only): the parent writes a message through a handle and closes
 * it, the child echoes it back reversed through another pipe and exits
 * with a code the parent checks. */
static uv_write_t child_wreq;
static int child_writes;

static void child_write_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  child_writes++;
  uv_close((uv_handle_t*) req->handle, close_cb);
}

TEST(pipe_to_child) {
  static const char msg[] = "a message for the child process";
  uv_file to_child[2], from_child[2];
  uv_pipe_t out, in;
  struct sh_sink sink;
  uv_buf_t b = uv_buf_init((char*) msg, sizeof(msg) - 1);
  pid_t pid;
  int status;
  size_t i;
  uv_loop_t loop;

  CHECK_OK(uv_pipe(to_child, 0, 0));
  CHECK_OK(uv_pipe(from_child, 0, 0));
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char buf[256], rev[256];
    size_t got = 0, k;
    ssize_t n;
    close(to_child[1]);
    close(from_child[0]);
    while ((n = read(to_child[0], buf + got, sizeof(buf) - got)) > 0)
      got += (size_t) n;
    if (n < 0)
      _exit(10);
    for (k = 0; k < got; k++)
      rev[k] = buf[got - 1 - k];
    if (write(from_child[1], rev, got) != (ssize_t) got)
      _exit(11);
    _exit(got == sizeof(msg) - 1 ? 42 : 12);
  }
  CHECK_OK(close(to_child[0]));
  CHECK_OK(close(from_child[1]));

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &out, 0));
  CHECK_OK(uv_pipe_open(&out, to_child[1]));
  CHECK_OK(uv_pipe_init(&loop, &in, 0));
  CHECK_OK(uv_pipe_open(&in, from_child[0]));
  sh_sink_start(&sink, (uv_stream_t*) &in);
  CHECK_OK(uv_write(&child_wreq, (uv_stream_t*) &out, &b, 1,
                    child_write_cb));
  SH_RUN_UNTIL(&loop, sink.eof == 1);
  CHECK_EQ(child_writes, 1);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(sink.len, sizeof(msg) - 1);
  for (i = 0; i < sink.len; i++)
    CHECK_EQ(sink.data[i], msg[sizeof(msg) - 2 - i]);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(sink.after_end, 0);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 42);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
}
