/* Streams: what TCP sockets, pipes and TTYs share. Reading what is ready,
 * connecting, listening and accepting, and receiving descriptors over IPC
 * pipes; writing and shutdown are in src/stream_write.c.
 *
 * Callbacks run from the stream's watcher, in the poll phase (events) or
 * in the pending phase (work a call such as uv_write() finished at once:
 * libuv never runs a request's callback from inside the call that made it).
 */
#include "internal.h"
#include "dispatch.h"
#include "stream.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Reads per readiness event: enough to drain a busy socket, few enough
 * that one connection cannot hold the loop. */
#define UV__READS_PER_EVENT 32
#define UV__READ_SUGGESTED 65536
/* Descriptors one recvmsg() can carry on an IPC pipe. */
#define UV__IPC_MAX_FDS 64

_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec), "uv_buf_t is iovec");
_Static_assert(offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base),
               "uv_buf_t is iovec");
_Static_assert(offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t is iovec");

/* Descriptors received on an IPC pipe beyond the first (accepted_fd). */
struct uv__fd_queue {
  unsigned int head;
  unsigned int count;
  unsigned int size;
  int fds[];
};

static void stream_io(uv_loop_t* loop, uv__io_t* w, unsigned int events);

int uv__stream_is_type(uv_handle_type type) {
  return type == UV_TCP || type == UV_NAMED_PIPE || type == UV_TTY;
}

/* The descriptor a handle passed with uv_write2() stands for: a stream's
 * or a UDP socket's (its watcher sits elsewhere in the structure). -1 for
 * any other handle. */
int uv__stream_send_handle_fd(const uv_stream_t* h) {
  if (uv__stream_is_type(h->type))
    return h->io_watcher.fd;
  if (h->type == UV_UDP)
    return ((const uv_udp_t*) h)->io_watcher.fd;
  return -1;
}

int uv__stream_check_send_handle(const uv_stream_t* h) {
  if (!uv__stream_is_type(h->type) && h->type != UV_UDP)
    return UV_EINVAL;
  if (uv__stream_send_handle_fd(h) < 0)
    return UV_EBADF;
  return 0;
}

int uv__stream_is_ipc(const uv_stream_t* s) {
  return s->type == UV_NAMED_PIPE && ((const uv_pipe_t*) s)->ipc;
}

int uv__socket(int domain, int type, int protocol) {
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd == -1)
    return uv__neg_errno();
  return fd;
}

int uv__socket_name(int fd, uv__name_fn fn, struct sockaddr* name,
                    int* namelen) {
  socklen_t len = (socklen_t) *namelen;

  if (fn(fd, name, &len) != 0)
    return uv__neg_errno();
  *namelen = (int) len;
  return 0;
}

/* When accept() fails for want of descriptors, the pending connections
 * are accepted with a descriptor kept in reserve and closed at once: the
 * clients see a reset instead of the server spinning on a listen socket
 * that stays readable. One reserve serves the whole process; it is taken
 * when the first stream is created, while descriptors are still free. */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reserve_once = PTHREAD_ONCE_INIT;
static int reserve_fd = -1;

static void reserve_open(void) {
  pthread_mutex_lock(&reserve_lock);
  if (reserve_fd == -1)
    reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  pthread_mutex_unlock(&reserve_lock);
}

void uv__stream_init(uv_loop_t* loop, uv_stream_t* s, uv_handle_type type) {
  uv__handle_init(loop, (uv_handle_t*) s, type);
  s->write_queue_size = 0;
  s->alloc_cb = NULL;
  s->read_cb = NULL;
  s->connect_req = NULL;
  s->shutdown_req = NULL;
  uv__io_init(&s->io_watcher, stream_io, -1);
  uv__queue_init(&s->write_queue);
  uv__queue_init(&s->write_completed_queue);
  s->connection_cb = NULL;
  s->delayed_error = 0;
  s->accepted_fd = -1;
  s->queued_fds = NULL;
  pthread_once(&reserve_once, reserve_open);
}

int uv__stream_open(uv_stream_t* s, int fd, unsigned int flags) {
  if (s->io_watcher.fd != -1 && s->io_watcher.fd != fd)
    return UV_EBUSY;
  if (uv__fd_in_use(s->loop, fd))
    return UV_EEXIST;
  s->io_watcher.fd = fd;
  s->flags |= flags;
  if (s->type == UV_TCP)
    return uv__tcp_apply_options((uv_tcp_t*) s, fd);
  return 0;
}

/* A stream counts as active while it reads, listens, connects or has
 * writes waiting for the descriptor, as in libuv. */
void uv__stream_update_active(uv_stream_t* s) {
  if ((s->flags & (UV__STREAM_READING | UV__STREAM_LISTENING)) ||
      (s->io_watcher.wanted & UV__POLLOUT) || s->connect_req != NULL)
    uv__handle_start((uv_handle_t*) s);
  else
    uv__handle_stop((uv_handle_t*) s);
}

int uv__stream_watch(uv_stream_t* s, unsigned int events) {
  int err = uv__io_start(s->loop, &s->io_watcher, events);
  uv__stream_update_active(s);
  return err;
}

void uv__stream_unwatch(uv_stream_t* s, unsigned int events) {
  uv__io_stop(s->loop, &s->io_watcher, events);
  uv__stream_update_active(s);
}

/* ---------------------------------------------------------------------
 * Reading.
 */

/* queued_fds holds received descriptors on a connected IPC pipe, and a
 * listener's accept retry timer while it waits for descriptors: never
 * both, but the flag says which. */
static struct uv__fd_queue* fd_queue(const uv_stream_t* s) {
  if (s->flags & UV__STREAM_ACCEPT_RETRY)
    return NULL;
  return s->queued_fds;
}

static int queue_fd(uv_stream_t* s, int fd) {
  struct uv__fd_queue* q = fd_queue(s);
  struct uv__fd_queue* bigger;
  unsigned int size;
  unsigned int i;

  if (s->accepted_fd == -1) {
    s->accepted_fd = fd;
    return 0;
  }
  if (q == NULL || q->count == q->size) {
    size = q == NULL ? 8 : q->size * 2;
    bigger = uv__malloc(sizeof(*bigger) + size * sizeof(int));
    if (bigger == NULL)
      return UV_ENOMEM;
    bigger->head = 0;
    bigger->count = 0;
    bigger->size = size;
    for (i = 0; q != NULL && i < q->count; i++)
      bigger->fds[bigger->count++] = q->fds[(q->head + i) % q->size];
    uv__free(q);
    s->queued_fds = q = bigger;
  }
  q->fds[(q->head + q->count) % q->size] = fd;
  q->count++;
  return 0;
}

/* The next received descriptor moves up to accepted_fd. */
static void next_fd(uv_stream_t* s) {
  struct uv__fd_queue* q = fd_queue(s);

  s->accepted_fd = -1;
  if (q == NULL || q->count == 0)
    return;
  s->accepted_fd = q->fds[q->head];
  q->head = (q->head + 1) % q->size;
  q->count--;
}

int uv__stream_pending_count(const uv_stream_t* s) {
  const struct uv__fd_queue* q = fd_queue(s);

  if (s->accepted_fd == -1)
    return 0;
  return 1 + (q != NULL ? (int) q->count : 0);
}

static void close_queued_fds(uv_stream_t* s) {
  while (s->accepted_fd != -1) {
    uv__close(s->accepted_fd);
    next_fd(s);
  }
  if (!(s->flags & UV__STREAM_ACCEPT_RETRY)) {
    uv__free(s->queued_fds);
    s->queued_fds = NULL;
  }
}

/* recvmsg() on an IPC pipe: the bytes go to buf, the descriptors that
 * came with them to the stream's pending queue. */
static ssize_t read_ipc(uv_stream_t* s, uv_buf_t* buf) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * UV__IPC_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  struct cmsghdr* cmsg;
  struct iovec iov;
  ssize_t n;
  size_t i;
  size_t nfds;
  int fd;
  int err = 0;

  iov.iov_base = buf->base;
  iov.iov_len = buf->len;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  do
    n = recvmsg(s->io_watcher.fd, &msg, MSG_CMSG_CLOEXEC);
  while (n == -1 && errno == EINTR);
  if (n == -1)
    return -errno;
  for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
       cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
      continue;
    nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (i = 0; i < nfds; i++) {
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      if (err == 0)
        err = queue_fd(s, fd);
      if (err != 0)
        uv__close(fd);   /* no memory to keep it: it is lost, say so */
    }
  }
  if (err != 0)
    return err;
  return n;
}

static void read_failed(uv_stream_t* s, int err, const uv_buf_t* buf) {
  s->flags &= ~(UV__STREAM_READING | UV__STREAM_READABLE |
                UV__STREAM_WRITABLE);
  uv__stream_unwatch(s, UV__POLLIN);
  uv__dispatch_read(s, err, buf);
}

/* A descriptor epoll refuses (a regular file opened as a pipe) is always
 * ready and never reported: its reads continue from the pending phase
 * until the end of the file. */
static void read_again_if_unpolled(uv_stream_t* s) {
  if ((s->flags & UV__STREAM_READING) && s->io_watcher.fd != -1 &&
      s->io_watcher.armed == 0) {
    s->io_watcher.fed_events = UV__POLLIN | UV__POLLOUT;
    uv__io_feed(s->loop, &s->io_watcher);
  }
}

/* The end of the stream: the stream stays readable (a new uv_read_start
 * reports it again) but stops reading. */
static void read_eof(uv_stream_t* s, const uv_buf_t* buf) {
  s->flags |= UV__STREAM_EOF;
  s->flags &= ~UV__STREAM_READING;
  uv__stream_unwatch(s, UV__POLLIN);
  uv__dispatch_read(s, UV_EOF, buf);
}

static void read_ready(uv_stream_t* s, unsigned int events) {
  int count = UV__READS_PER_EVENT;
  uv_buf_t buf;
  ssize_t n;

  while ((s->flags & UV__STREAM_READING) && s->io_watcher.fd != -1 &&
         count-- > 0) {
    buf = uv_buf_init(NULL, 0);
    uv__dispatch_alloc(s, UV__READ_SUGGESTED, &buf);
    if (buf.base == NULL || buf.len == 0) {
      uv__dispatch_read(s, UV_ENOBUFS, &buf);
      return;
    }
    if (!(s->flags & UV__STREAM_READING) || s->io_watcher.fd == -1) {
      /* Stopped or closed by the alloc callback: hand the buffer back. */
      uv__dispatch_read(s, 0, &buf);
      return;
    }
    if (uv__stream_is_ipc(s)) {
      n = read_ipc(s, &buf);
    } else {
      do
        n = read(s->io_watcher.fd, buf.base, buf.len);
      while (n == -1 && errno == EINTR);
      if (n == -1)
        n = -errno;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      uv__dispatch_read(s, 0, &buf);   /* lets the caller free buf */
      return;
    }
    if (n < 0) {
      read_failed(s, (int) n, &buf);
      return;
    }
    if (n == 0) {
      read_eof(s, &buf);
      return;
    }
    uv__dispatch_read(s, n, &buf);
    /* Drained, or a blocking descriptor that must not be read again
     * before the next event says there is more. */
    if ((size_t) n < buf.len || (s->flags & UV__STREAM_BLOCKING)) {
      /* The peer hung up (a reset, or both directions closed) and this
       * read drained what it had sent: that is the end of the stream, as
       * libuv reports it, rather than the reset the next read returns. */
      if ((size_t) n < buf.len && (events & UV__POLLHUP) &&
          (s->flags & UV__STREAM_READING) && s->io_watcher.fd != -1) {
        buf = uv_buf_init(NULL, 0);
        read_eof(s, &buf);
      }
      break;
    }
  }
  read_again_if_unpolled(s);
}

int uv_read_start(uv_stream_t* s, uv_alloc_cb alloc_cb, uv_read_cb read_cb) {
  int err;

  if (s == NULL || alloc_cb == NULL || read_cb == NULL ||
      !uv__stream_is_type(s->type) || uv__is_closing((uv_handle_t*) s))
    return UV_EINVAL;
  if (s->io_watcher.fd < 0 || !(s->flags & UV__STREAM_READABLE))
    return UV_ENOTCONN;
  if (s->flags & UV__STREAM_READING)
    return UV_EALREADY;
  s->alloc_cb = alloc_cb;
  s->read_cb = read_cb;
  err = uv__io_start(s->loop, &s->io_watcher, UV__POLLIN);
  if (err != 0)
    return err;
  s->flags |= UV__STREAM_READING;
  uv__stream_update_active(s);
  return 0;
}

int uv_read_stop(uv_stream_t* s) {
  if (s == NULL || !uv__stream_is_type(s->type))
    return UV_EINVAL;
  if (!(s->flags & UV__STREAM_READING))
    return 0;
  s->flags &= ~UV__STREAM_READING;
  uv__stream_unwatch(s, UV__POLLIN);
  return 0;
}

int uv_is_readable(const uv_stream_t* s) {
  return s != NULL && (s->flags & UV__STREAM_READABLE) != 0;
}

int uv_is_writable(const uv_stream_t* s) {
  return s != NULL && (s->flags & UV__STREAM_WRITABLE) != 0;
}

int uv_stream_set_blocking(uv_stream_t* s, int blocking) {
  int err;

  if (s == NULL || !uv__stream_is_type(s->type))
    return UV_EINVAL;
  if (s->io_watcher.fd < 0)
    return UV_EBADF;
  err = uv__nonblock(s->io_watcher.fd, !blocking);
  if (err != 0)
    return err;
  if (blocking)
    s->flags |= UV__STREAM_BLOCKING;
  else
    s->flags &= ~UV__STREAM_BLOCKING;
  return 0;
}

/* ---------------------------------------------------------------------
 * Connecting.
 */

void uv__stream_connect_begin(uv_stream_t* s, uv_connect_t* req,
                              uv_connect_cb cb, int err) {
  uv__req_init(s->loop, (uv_req_t*) req, UV_CONNECT);
  req->cb = cb;
  req->handle = s;
  uv__queue_init(&req->queue);
  uv__req_register(s->loop, req);
  s->connect_req = req;
  s->delayed_error = err;
  if (err != 0 || s->io_watcher.fd == -1) {
    uv__io_feed(s->loop, &s->io_watcher);
  } else if (uv__stream_watch(s, UV__POLLOUT) != 0) {
    s->io_watcher.fed_events = UV__POLLERR;   /* not known: ask SO_ERROR */
    uv__io_feed(s->loop, &s->io_watcher);
  }
  uv__stream_update_active(s);
}

static void connect_done(uv_stream_t* s, unsigned int events) {
  uv_connect_t* req = s->connect_req;
  socklen_t len;
  int err = s->delayed_error;

  /* Writable with neither error nor hang-up: the kernel finished the
   * connect and it succeeded (a failure sets the socket's error, which
   * poll reports), so SO_ERROR, one system call per connection, has
   * nothing to say. */
  if (err == 0 && s->io_watcher.fd != -1 &&
      ((events & (UV__POLLERR | UV__POLLHUP)) != 0 ||
       (events & UV__POLLOUT) == 0)) {
    len = sizeof(err);
    if (getsockopt(s->io_watcher.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err == EINPROGRESS)
      return;   /* not yet */
    err = -err;
  }
  s->delayed_error = 0;
  s->connect_req = NULL;
  if (err != 0 || uv__queue_empty(&s->write_queue))
    uv__io_stop(s->loop, &s->io_watcher, UV__POLLOUT);
  uv__stream_update_active(s);
  uv__req_unregister(s->loop, req);
  if (req->cb != NULL)
    uv__dispatch_connect(req, err);
  if (s->io_watcher.fd == -1)
    return;
  if (err != 0) {
    uv__stream_cancel_writes(s);
  } else {
    uv__stream_write_queued(s);
  }
  uv__stream_write_callbacks(s);
  uv__stream_maybe_shutdown(s);
}

/* ---------------------------------------------------------------------
 * The watcher of a connected stream.
 */
static void stream_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  uv_stream_t* s = uv__container_of(w, uv_stream_t, io_watcher);

  (void) loop;
  if (s->connect_req != NULL) {
    connect_done(s, events);
    return;
  }
  if (events & (UV__POLLIN | UV__POLLERR | UV__POLLHUP))
    read_ready(s, events);
  if (s->io_watcher.fd == -1)
    return;
  if (events & (UV__POLLOUT | UV__POLLERR | UV__POLLHUP)) {
    uv__stream_write_queued(s);
    uv__stream_write_callbacks(s);
    uv__stream_maybe_shutdown(s);
  }
}

/* ---------------------------------------------------------------------
 * Listening and accepting.
 */

static int shed_connections(int listen_fd) {
  int err = UV_EMFILE;
  int fd;

  pthread_mutex_lock(&reserve_lock);
  if (reserve_fd == -1)   /* lost to another thread last time: try again */
    reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  if (reserve_fd != -1) {
    uv__close(reserve_fd);
    reserve_fd = -1;
    for (;;) {
      fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd != -1) {
        uv__close(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      err = errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN
                                                     : uv__neg_errno();
      break;
    }
    reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  }
  pthread_mutex_unlock(&reserve_lock);
  return err;
}

/* A listener shared by several loops (the same socket handed to each, as
 * libuv's multi-accept servers and Node's cluster do) wakes one sleeping
 * loop per connection, not all of them to race for one accept. */
#define LISTEN_EVENTS (UV__POLLIN | UV__POLLEXCL)

/* Without a reserve the listener cannot shed; it stops watching for a
 * moment instead of spinning, then looks again. */
#define UV__ACCEPT_RETRY_MS 100

struct uv__accept_retry {
  uv_timer_t timer;
  uv_stream_t* server;
};

static void accept_retry_cb(uv_timer_t* timer) {
  struct uv__accept_retry* r = uv__container_of(timer, struct uv__accept_retry,
                                                timer);
  uv_stream_t* s = r->server;

  if ((s->flags & UV__STREAM_LISTENING) && s->io_watcher.fd != -1 &&
      !(s->flags & UV__STREAM_ACCEPT_PAUSED))
    uv__stream_watch(s, LISTEN_EVENTS);
}

static void accept_retry_free(uv_handle_t* h) {
  uv__free(uv__container_of((uv_timer_t*) h, struct uv__accept_retry, timer));
}

static void accept_retry_later(uv_stream_t* s) {
  struct uv__accept_retry* r = s->queued_fds;

  if (!(s->flags & UV__STREAM_ACCEPT_RETRY)) {
    r = uv__malloc(sizeof(*r));
    if (r == NULL)
      return;   /* no memory either: the next event tries again */
    uv_timer_init(s->loop, &r->timer);
    r->timer.flags |= UV__HANDLE_INTERNAL;
    uv_unref((uv_handle_t*) &r->timer);
    r->server = s;
    s->queued_fds = r;
    s->flags |= UV__STREAM_ACCEPT_RETRY;
  }
  uv__io_stop(s->loop, &s->io_watcher, UV__POLLIN);
  uv_timer_start(&r->timer, accept_retry_cb, UV__ACCEPT_RETRY_MS, 0);
}

static void server_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  uv_stream_t* s = uv__container_of(w, uv_stream_t, io_watcher);
  int err;
  int fd;

  (void) loop;
  (void) events;
  while ((s->flags & UV__STREAM_LISTENING) && s->io_watcher.fd != -1) {
    if (s->accepted_fd != -1) {
      /* The last connection was not taken: wait for uv_accept(). */
      s->flags |= UV__STREAM_ACCEPT_PAUSED;
      uv__io_stop(s->loop, &s->io_watcher, UV__POLLIN);
      return;
    }
    fd = accept4(s->io_watcher.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1) {
      err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK)
        return;
      if (err == EINTR || err == ECONNABORTED)
        continue;
      err = -err;
      if (err == UV_EMFILE || err == UV_ENFILE) {
        if (shed_connections(s->io_watcher.fd) == UV_EAGAIN)
          return;
        accept_retry_later(s);
      }
      if (s->connection_cb != NULL)
        uv__dispatch_connection(s, err);
      return;   /* the next event tries again */
    }
    s->accepted_fd = fd;
    if (s->connection_cb != NULL)
      uv__dispatch_connection(s, 0);
  }
}

int uv__stream_listen(uv_stream_t* s, int backlog, uv_connection_cb cb) {
  int err;

  if (listen(s->io_watcher.fd, backlog) != 0)
    return uv__neg_errno();
  s->connection_cb = cb;
  s->io_watcher.cb = server_io;
  s->flags |= UV__STREAM_LISTENING;
  err = uv__stream_watch(s, LISTEN_EVENTS);
  if (err != 0)
    s->flags &= ~UV__STREAM_LISTENING;
  uv__stream_update_active(s);
  return err;
}

int uv_listen(uv_stream_t* s, int backlog, uv_connection_cb cb) {
  /* A NULL callback is allowed (libuv's tests listen without one); the
   * connections then wait in the backlog. */
  if (s == NULL || uv__is_closing((uv_handle_t*) s))
    return UV_EINVAL;
  switch (s->type) {
    case UV_TCP:
      return uv__tcp_listen((uv_tcp_t*) s, backlog, cb);
    case UV_NAMED_PIPE:
      return uv__pipe_listen((uv_pipe_t*) s, backlog, cb);
    default:
      return UV_EINVAL;
  }
}

int uv_accept(uv_stream_t* server, uv_stream_t* client) {
  unsigned int flags = UV__STREAM_READABLE | UV__STREAM_WRITABLE;
  int fd;
  int err;

  if (server == NULL || client == NULL || !uv__stream_is_type(server->type))
    return UV_EINVAL;
  fd = server->accepted_fd;
  if (fd == -1)
    return UV_EAGAIN;
  if (uv__is_closing((uv_handle_t*) client))
    return UV_EINVAL;
  /* A client that has a descriptor already cannot take the connection;
   * it stays queued for the next uv_accept(). */
  if ((uv__stream_is_type(client->type) && client->io_watcher.fd != -1) ||
      (client->type == UV_UDP &&
       ((uv_udp_t*) client)->io_watcher.fd != -1))
    return UV_EBUSY;

  switch (client->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
      if (uv__stream_is_ipc(server)) {
        /* A received descriptor: it may be a pipe rather than a socket,
         * and it comes in the sender's blocking mode. */
        if (client->type == UV_NAMED_PIPE)
          flags |= uv__pipe_fd_flags(fd);
        else
          flags |= uv__pipe_fd_flags(fd) & UV__STREAM_SOCKET;
        uv__nonblock(fd, 1);
      } else {
        flags |= UV__STREAM_SOCKET;
      }
      err = uv__stream_open(client, fd, flags);
      break;
    case UV_UDP:
      /* A datagram socket received over an IPC pipe. */
      err = uv__stream_is_ipc(server) ? uv_udp_open((uv_udp_t*) client, fd) : UV_EINVAL;
      break;
    default:
      err = UV_EINVAL;
      break;
  }
  if (err != 0) {
    /* As in libuv the connection is dropped: keeping it would make every
     * later accept fail the same way. */
    uv__close(fd);
  }
  next_fd(server);
  if ((server->flags & UV__STREAM_ACCEPT_PAUSED) && server->accepted_fd == -1) {
    server->flags &= ~UV__STREAM_ACCEPT_PAUSED;
    uv__stream_watch(server, LISTEN_EVENTS);
  }
  return err;
}

/* ---------------------------------------------------------------------
 * Closing.
 */
void uv__stream_close(uv_stream_t* s) {
  int fd = s->io_watcher.fd;

  uv__io_close(s->loop, &s->io_watcher);
  s->flags &= ~(UV__STREAM_READING | UV__STREAM_READABLE |
                UV__STREAM_WRITABLE | UV__STREAM_LISTENING |
                UV__STREAM_ACCEPT_PAUSED);
  uv__handle_stop((uv_handle_t*) s);
  if (fd != -1) {
    /* Standard descriptors stay open: the process may still use them
     * (libuv does the same). */
    if (fd > STDERR_FILENO)
      uv__close(fd);
    s->io_watcher.fd = -1;
  }
  if (s->flags & UV__STREAM_ACCEPT_RETRY) {
    struct uv__accept_retry* r = s->queued_fds;
    s->queued_fds = NULL;
    s->flags &= ~UV__STREAM_ACCEPT_RETRY;
    uv_close((uv_handle_t*) &r->timer, accept_retry_free);
  }
  close_queued_fds(s);
  if (s->type == UV_NAMED_PIPE)
    uv__pipe_close((uv_pipe_t*) s);
  uv__make_close_pending((uv_handle_t*) s);
}

void uv__stream_destroy(uv_stream_t* s) {
  uv_connect_t* creq = s->connect_req;
  uv_shutdown_t* sreq = s->shutdown_req;

  if (creq != NULL) {
    s->connect_req = NULL;
    uv__req_unregister(s->loop, creq);
    if (creq->cb != NULL)
      uv__dispatch_connect(creq, UV_ECANCELED);
  }
  uv__stream_cancel_writes(s);
  uv__stream_write_callbacks(s);
  if (sreq != NULL && s->shutdown_req == sreq) {
    s->shutdown_req = NULL;
    uv__req_unregister(s->loop, sreq);
    if (sreq->cb != NULL)
      uv__dispatch_shutdown(sreq, UV_ECANCELED);
  }
  assert(s->write_queue_size == 0);
}
