/* Fixtures shared by the stream tests (test-tcp.c, test-stream.c,
 * test-pipe.c, test-ipc.c, test-tty.c): a byte pattern that shows order
 * and corruption, loopback addresses and ports, connected pairs of TCP and
 * Unix handles, a sink that collects what a stream reads, and plain
 * sockets made and read outside libuv. Everything is static: each test
 * file is its own program. */
#ifndef NL_STREAM_HELPERS_H_
#define NL_STREAM_HELPERS_H_

#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * The pattern: byte i of a stream is sh_byte(i). Its period (251, a
 * prime) is not a divisor of any buffer size used, so a chunk delivered
 * twice, dropped or out of order shows as a mismatch.
 */
static inline unsigned char sh_byte(size_t i) {
  return (unsigned char) ((i % 251) ^ ((i / 251) & 0x7f));
}

static inline void sh_fill(char* buf, size_t off, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (char) sh_byte(off + i);
}

/* Returns the index of the first byte that is not the pattern's, or len. */
static inline size_t sh_mismatch(const char* buf, size_t off, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    if ((unsigned char) buf[i] != sh_byte(off + i))
      return i;
  return len;
}

/* ---------------------------------------------------------------------
 * Addresses and ports.
 */
static inline struct sockaddr_in sh_ip4(int port) {
  struct sockaddr_in a;
  CHECK_OK(uv_ip4_addr("127.0.0.1", port, &a));
  return a;
}

static inline struct sockaddr_in6 sh_ip6(int port) {
  struct sockaddr_in6 a;
  CHECK_OK(uv_ip6_addr("::1", port, &a));
  return a;
}

/* The local port of a bound TCP handle. */
static inline int sh_port(const uv_tcp_t* h) {
  struct sockaddr_storage ss;
  int len = (int) sizeof(ss);
  CHECK_OK(uv_tcp_getsockname(h, (struct sockaddr*) &ss, &len));
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6*) &ss)->sin6_port);
  CHECK_EQ(ss.ss_family, AF_INET);
  return ntohs(((struct sockaddr_in*) &ss)->sin_port);
}

/* Family, address and port are equal. */
static inline int sh_same_addr(const struct sockaddr_storage* a,
                     const struct sockaddr_storage* b) {
  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in* x = (const struct sockaddr_in*) a;
    const struct sockaddr_in* y = (const struct sockaddr_in*) b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6* x = (const struct sockaddr_in6*) a;
    const struct sockaddr_in6* y = (const struct sockaddr_in6*) b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  return 0;
}

/* A loopback port nothing listens on: the kernel picks a free one for a
 * socket that is then closed. */
static inline int sh_closed_port(void) {
  struct sockaddr_in a = sh_ip4(0);
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  CHECK_OK(bind(fd, (struct sockaddr*) &a, sizeof(a)));
  CHECK_OK(getsockname(fd, (struct sockaddr*) &a, &len));
  CHECK_OK(close(fd));
  return ntohs(a.sin_port);
}

/* Whether ::1 can be bound: IPv6 cases skip when it cannot. */
static inline int sh_have_ipv6(void) {
  struct sockaddr_in6 a = sh_ip6(0);
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int ok;
  if (fd < 0)
    return 0;
  ok = bind(fd, (struct sockaddr*) &a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

/* Bytes waiting to be read on a socket. */
static inline int sh_inq(int fd) {
  int n = -1;
  CHECK_OK(ioctl(fd, FIONREAD, &n));
  return n;
}

static inline int sh_fd(const void* handle) {
  uv_os_fd_t fd;
  CHECK_OK(uv_fileno((const uv_handle_t*) handle, &fd));
  return fd;
}

static inline int sh_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  CHECK(fl != -1);
  return (fl & O_NONBLOCK) != 0;
}

static inline int sh_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFD);
  CHECK(fl != -1);
  return (fl & FD_CLOEXEC) != 0;
}

/* ---------------------------------------------------------------------
 * Connected pairs. sh_tcp_pair() connects `client` to `server_side`
 * through a listener on 127.0.0.1 that it closes again: when it returns,
 * the two handles are connected and idle and the listener is gone.
 */
struct sh_pair_ctx {
  uv_tcp_t listener;
  uv_tcp_t* accepted;
  uv_connect_t req;
  int connected;
  int accept_status;
  int closed;
};

static inline void sh_pair_close_cb(uv_handle_t* h) {
  ((struct sh_pair_ctx*) h->data)->closed = 1;
}

static inline void sh_pair_connection_cb(uv_stream_t* server, int status) {
  struct sh_pair_ctx* c = (struct sh_pair_ctx*) server->data;
  CHECK_OK(status);
  CHECK_EQ(c->accept_status, 1);
  CHECK_OK(uv_tcp_init(server->loop, c->accepted));
  c->accept_status = uv_accept(server, (uv_stream_t*) c->accepted);
}

static inline void sh_pair_connect_cb(uv_connect_t* req, int status) {
  struct sh_pair_ctx* c = (struct sh_pair_ctx*) req->data;
  CHECK_OK(status);
  c->connected++;
}

static inline void sh_tcp_pair(uv_loop_t* loop, uv_tcp_t* client,
                               uv_tcp_t* server_side) {
  struct sh_pair_ctx c;
  struct sockaddr_in a = sh_ip4(0);

  memset(&c, 0, sizeof(c));
  c.accepted = server_side;
  c.accept_status = 1;
  c.req.data = &c;
  CHECK_OK(uv_tcp_init(loop, &c.listener));
  c.listener.data = &c;
  CHECK_OK(uv_tcp_bind(&c.listener, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &c.listener, 8, sh_pair_connection_cb));
  a = sh_ip4(sh_port(&c.listener));
  CHECK_OK(uv_tcp_init(loop, client));
  CHECK_OK(uv_tcp_connect(&c.req, client, (struct sockaddr*) &a,
                          sh_pair_connect_cb));
  while (c.connected == 0 || c.accept_status == 1)
    CHECK(uv_run(loop, UV_RUN_ONCE) != 0);
  CHECK_EQ(c.connected, 1);
  CHECK_OK(c.accept_status);
  uv_close((uv_handle_t*) &c.listener, sh_pair_close_cb);
  while (!c.closed)
    uv_run(loop, UV_RUN_NOWAIT);
  CHECK(!uv_is_active((uv_handle_t*) client));
  CHECK(!uv_is_active((uv_handle_t*) server_side));
}

/* A connected pair of AF_UNIX stream sockets, close-on-exec; blocking. */
static inline void sh_socketpair(int fds[2]) {
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
}

/* Two pipe handles over a socketpair (IPC pipes when ipc is set). */
static inline void sh_unix_pair(uv_loop_t* loop, uv_pipe_t* a, uv_pipe_t* b,
                                int ipc) {
  int fds[2];
  sh_socketpair(fds);
  CHECK_OK(uv_pipe_init(loop, a, ipc));
  CHECK_OK(uv_pipe_init(loop, b, ipc));
  CHECK_OK(uv_pipe_open(a, fds[0]));
  CHECK_OK(uv_pipe_open(b, fds[1]));
}

/* ---------------------------------------------------------------------
 * A sink: collects what a stream reads into a growing buffer. The stream's
 * data field points to it. Every read callback must follow an allocation
 * that was not yet consumed.
 */
struct sh_sink {
  char* data;
  size_t len;
  size_t cap;
  int allocs;           /* allocations not yet given back by a read */
  int reads;            /* read callbacks with data */
  int empty_reads;      /* nread == 0 */
  int eof;
  int error;            /* the first error other than UV_EOF */
  int after_end;        /* callbacks after EOF or an error: must stay 0 */
  size_t stop_at;       /* read_stop once len reaches this (0: never) */
  char chunk[65536];
};

static inline void sh_sink_init(struct sh_sink* s, uv_stream_t* stream) {
  memset(s, 0, sizeof(*s) - sizeof(s->chunk));
  stream->data = s;
}

static inline void sh_sink_free(struct sh_sink* s) {
  free(s->data);
  s->data = NULL;
}

static inline void sh_sink_alloc_cb(uv_handle_t* h, size_t suggested,
                                    uv_buf_t* buf) {
  struct sh_sink* s = (struct sh_sink*) h->data;
  CHECK(suggested > 0);
  CHECK_EQ(s->allocs, 0);
  s->allocs++;
  *buf = uv_buf_init(s->chunk, sizeof(s->chunk));
}

static inline void sh_sink_read_cb(uv_stream_t* stream, ssize_t nread,
                                   const uv_buf_t* buf) {
  struct sh_sink* s = (struct sh_sink*) stream->data;

  if (s->eof || s->error)
    s->after_end++;
  if (nread == UV_EOF) {
    s->eof++;
    s->allocs = 0;
    return;
  }
  if (nread < 0) {
    s->error = (int) nread;
    s->allocs = 0;
    return;
  }
  CHECK_EQ(s->allocs, 1);
  s->allocs = 0;
  CHECK(buf->base == s->chunk);
  if (nread == 0) {
    s->empty_reads++;
    return;
  }
  s->reads++;
  if (s->len + (size_t) nread > s->cap) {
    s->cap = (s->len + (size_t) nread) * 2;
    s->data = realloc(s->data, s->cap);
    CHECK(s->data != NULL);
  }
  memcpy(s->data + s->len, buf->base, (size_t) nread);
  s->len += (size_t) nread;
  if (s->stop_at != 0 && s->len >= s->stop_at)
    CHECK_OK(uv_read_stop(stream));
}

static inline void sh_sink_start(struct sh_sink* s, uv_stream_t* stream) {
  sh_sink_init(s, stream);
  CHECK_OK(uv_read_start(stream, sh_sink_alloc_cb, sh_sink_read_cb));
}

/* Runs the loop once at a time until cond() holds; fails if the loop runs
 * out of work first. */
#define SH_RUN_UNTIL(loop, cond)                                            \
  do {                                                                      \
    while (!(cond))                                                         \
      CHECK(uv_run((loop), UV_RUN_ONCE) != 0 || (cond));                    \
  } while (0)

/* Writes all of buf to a blocking descriptor. */
static inline void sh_write_all(int fd, const void* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, (const char*) buf + done, len - done);
    CHECK(n > 0);
    done += (size_t) n;
  }
}

/* ---------------------------------------------------------------------
 * Plain sockets, made and read outside libuv.
 */
static inline int sh_sockopt(const void* handle, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  CHECK_OK(getsockopt(sh_fd(handle), level, name, &v, &len));
  return v;
}

/* Sockets made outside libuv: a listening one and a connected one. */
static inline int sh_raw_listener(int* port) {
  struct sockaddr_in a = sh_ip4(0);
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  CHECK_OK(bind(fd, (struct sockaddr*) &a, sizeof(a)));
  CHECK_OK(listen(fd, 8));
  CHECK_OK(getsockname(fd, (struct sockaddr*) &a, &len));
  *port = ntohs(a.sin_port);
  return fd;
}

static inline int sh_raw_connect(int port) {
  struct sockaddr_in a = sh_ip4(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  CHECK_OK(connect(fd, (struct sockaddr*) &a, sizeof(a)));
  return fd;
}

/* A pipe handle on one end of a socketpair and the other end plain, for
 * the cases that need to know exactly what the kernel holds. */
static inline int sh_raw_pair(uv_loop_t* loop, uv_pipe_t* p) {
  int fds[2];
  sh_socketpair(fds);
  CHECK_OK(uv_pipe_init(loop, p, 0));
  CHECK_OK(uv_pipe_open(p, fds[0]));
  return fds[1];
}

/* Reads what is waiting on a plain descriptor without blocking, checking
 * it against the pattern from *off on. Returns the bytes read. */
static inline size_t sh_raw_drain(int fd, size_t* off, size_t max) {
  static char buf[65536];
  size_t total = 0;
  while (total < max) {
    size_t want = max - total < sizeof(buf) ? max - total : sizeof(buf);
    ssize_t n = recv(fd, buf, want, MSG_DONTWAIT);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      break;
    }
    CHECK(n > 0);
    CHECK_EQ(sh_mismatch(buf, *off, (size_t) n), n);
    *off += (size_t) n;
    total += (size_t) n;
  }
  return total;
}

/* Fills the kernel's buffers of a stream whose peer does not read, with
 * the pattern from *off on, using uv_try_write. */
static inline void sh_fill_kernel(uv_stream_t* s, size_t* off) {
  static char chunk[65536];
  int n;
  for (;;) {
    uv_buf_t b = uv_buf_init(chunk, sizeof(chunk));
    sh_fill(chunk, *off, sizeof(chunk));
    n = uv_try_write(s, &b, 1);
    if (n == UV_EAGAIN)
      return;
    CHECK(n > 0);
    *off += (size_t) n;
  }
}

#endif /* NL_STREAM_HELPERS_H_ */
