/* TCP handles: sockets created on first need (or early with
 * uv_tcp_init_ex), bind, listen, connect and the socket options libuv
 * exposes. Reading and writing are the stream's (stream.c).
 */
#include "internal.h"
#include "stream.h"

#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

/* Keep-alive delay applied when uv_tcp_keepalive() ran before the socket
 * existed without a delay to remember (libuv's default too). */
#define UV__KEEPALIVE_DEFAULT 60

static int addr_len(const struct sockaddr* addr, socklen_t* len) {
  if (addr->sa_family == AF_INET)
    *len = sizeof(struct sockaddr_in);
  else if (addr->sa_family == AF_INET6)
    *len = sizeof(struct sockaddr_in6);
  else
    return UV_EINVAL;
  return 0;
}

static int set_keepalive(int fd, int on, unsigned int delay) {
  int d = (int) delay;

  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
    return uv__neg_errno();
  if (on && setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &d, sizeof(d)) != 0)
    return uv__neg_errno();
  return 0;
}

int uv__tcp_apply_options(uv_tcp_t* tcp, int fd) {
  int on = 1;
  int err;

  if ((tcp->flags & UV__TCP_NODELAY) &&
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
    return uv__neg_errno();
  if (tcp->flags & UV__TCP_KEEPALIVE) {
    err = set_keepalive(fd, 1, tcp->u.tcp.keepalive_delay);
    if (err != 0)
      return err;
  }
  return 0;
}

/* Gives the handle a socket of the given family unless it has one; the
 * flags (readable, writable) are added either way. */
static int ensure_socket(uv_tcp_t* tcp, int domain, unsigned int flags) {
  int err;
  int fd;

  if (tcp->io_watcher.fd != -1) {
    tcp->flags |= flags;
    return 0;
  }
  fd = uv__socket(domain, SOCK_STREAM, 0);
  if (fd < 0)
    return fd;
  err = uv__stream_open((uv_stream_t*) tcp, fd, flags | UV__STREAM_SOCKET);
  if (err != 0) {
    tcp->io_watcher.fd = -1;
    uv__close(fd);
  }
  return err;
}

int uv_tcp_init_ex(uv_loop_t* loop, uv_tcp_t* tcp, unsigned int flags) {
  int domain = (int) (flags & 0xFF);
  int err;

  if (loop == NULL || tcp == NULL)
    return UV_EINVAL;
  if (flags & ~0xFFu)
    return UV_EINVAL;
  if (domain != AF_UNSPEC && domain != AF_INET && domain != AF_INET6)
    return UV_EINVAL;
  uv__stream_init(loop, (uv_stream_t*) tcp, UV_TCP);
  tcp->u.tcp.keepalive_delay = UV__KEEPALIVE_DEFAULT;
  if (domain != AF_UNSPEC) {
    err = ensure_socket(tcp, domain, 0);
    if (err != 0) {
      uv__queue_remove(&tcp->handle_queue);
      return err;
    }
  }
  return 0;
}

int uv_tcp_init(uv_loop_t* loop, uv_tcp_t* tcp) {
  return uv_tcp_init_ex(loop, tcp, AF_UNSPEC);
}

int uv_tcp_open(uv_tcp_t* tcp, uv_os_sock_t sock) {
  int err;

  if (tcp == NULL || tcp->type != UV_TCP || sock < 0)
    return UV_EINVAL;
  if (uv__fd_in_use(tcp->loop, sock))
    return UV_EEXIST;
  err = uv__nonblock(sock, 1);
  if (err != 0)
    return err;
  return uv__stream_open((uv_stream_t*) tcp, sock,
                         UV__STREAM_READABLE | UV__STREAM_WRITABLE |
                         UV__STREAM_SOCKET);
}

int uv_tcp_bind(uv_tcp_t* tcp, const struct sockaddr* addr,
                unsigned int flags) {
  socklen_t len;
  int on;
  int err;

  if (tcp == NULL || addr == NULL || tcp->type != UV_TCP ||
      uv__is_closing((uv_handle_t*) tcp))
    return UV_EINVAL;
  if (addr_len(addr, &len) != 0)
    return UV_EINVAL;
  /* Unknown flags are ignored, as libuv does. */
  if ((flags & UV_TCP_IPV6ONLY) && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  err = ensure_socket(tcp, addr->sa_family, 0);
  if (err != 0)
    return err;
  on = 1;
  if (setsockopt(tcp->io_watcher.fd, SOL_SOCKET, SO_REUSEADDR, &on,
                 sizeof(on)) != 0)
    return uv__neg_errno();
  if (addr->sa_family == AF_INET6) {
    on = (flags & UV_TCP_IPV6ONLY) != 0;
    if (setsockopt(tcp->io_watcher.fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
                   sizeof(on)) != 0)
      return uv__neg_errno();
  }
  if (bind(tcp->io_watcher.fd, addr, len) != 0) {
    /* An address in use is reported by listen or connect, as libuv does
     * everywhere (some systems only know it then). */
    if (errno != EADDRINUSE)
      return errno == EAFNOSUPPORT ? UV_EINVAL : uv__neg_errno();
    tcp->delayed_error = UV_EADDRINUSE;
  } else {
    tcp->delayed_error = 0;   /* an earlier failed bind no longer counts */
  }
  tcp->flags |= UV__TCP_BOUND;
  return 0;
}

int uv__tcp_listen(uv_tcp_t* tcp, int backlog, uv_connection_cb cb) {
  int err;

  if (tcp->delayed_error != 0)
    return tcp->delayed_error;
  /* An unbound socket listens on a port the kernel picks. */
  err = ensure_socket(tcp, AF_INET, 0);
  if (err != 0)
    return err;
  return uv__stream_listen((uv_stream_t*) tcp, backlog, cb);
}

int uv_tcp_connect(uv_connect_t* req, uv_tcp_t* tcp,
                   const struct sockaddr* addr, uv_connect_cb cb) {
  socklen_t len;
  int err;
  int r;

  if (req == NULL || tcp == NULL || addr == NULL || tcp->type != UV_TCP ||
      uv__is_closing((uv_handle_t*) tcp))
    return UV_EINVAL;
  if (addr_len(addr, &len) != 0)
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  if (tcp->connect_req != NULL)
    return UV_EALREADY;
  /* A bind that failed: the callback says so, and the stream never
   * becomes readable or writable. */
  err = ensure_socket(tcp, addr->sa_family,
                      tcp->delayed_error != 0 ? 0 : UV__STREAM_READABLE |
                                                    UV__STREAM_WRITABLE);
  if (err != 0)
    return err;

  err = tcp->delayed_error;
  if (err == 0) {
    do
      r = connect(tcp->io_watcher.fd, addr, len);
    while (r == -1 && errno == EINTR);
    if (r == -1 && errno != EINPROGRESS) {
      if (errno != ECONNREFUSED)
        return uv__neg_errno();
      err = UV_ECONNREFUSED;
    }
  }
  uv__stream_connect_begin((uv_stream_t*) tcp, req, cb, err);
  return 0;
}

static int tcp_name(const uv_tcp_t* tcp, uv__name_fn fn,
                    struct sockaddr* name, int* namelen) {
  if (tcp == NULL || name == NULL || namelen == NULL || *namelen < 0)
    return UV_EINVAL;
  if (tcp->delayed_error != 0)
    return tcp->delayed_error;
  if (tcp->io_watcher.fd < 0)
    return UV_EBADF;
  return uv__socket_name(tcp->io_watcher.fd, fn, name, namelen);
}

int uv_tcp_getsockname(const uv_tcp_t* tcp, struct sockaddr* name,
                       int* namelen) {
  return tcp_name(tcp, getsockname, name, namelen);
}

int uv_tcp_getpeername(const uv_tcp_t* tcp, struct sockaddr* name,
                       int* namelen) {
  return tcp_name(tcp, getpeername, name, namelen);
}

int uv_tcp_nodelay(uv_tcp_t* tcp, int enable) {
  int on = enable != 0;

  if (tcp == NULL || tcp->type != UV_TCP)
    return UV_EINVAL;
  if (tcp->io_watcher.fd != -1 &&
      setsockopt(tcp->io_watcher.fd, IPPROTO_TCP, TCP_NODELAY, &on,
                 sizeof(on)) != 0)
    return uv__neg_errno();
  if (on)
    tcp->flags |= UV__TCP_NODELAY;
  else
    tcp->flags &= ~UV__TCP_NODELAY;
  return 0;
}

int uv_tcp_keepalive(uv_tcp_t* tcp, int enable, unsigned int delay) {
  int err;

  if (tcp == NULL || tcp->type != UV_TCP)
    return UV_EINVAL;
  if (tcp->io_watcher.fd != -1) {
    err = set_keepalive(tcp->io_watcher.fd, enable != 0, delay);
    if (err != 0)
      return err;
  }
  if (enable) {
    tcp->flags |= UV__TCP_KEEPALIVE;
    tcp->u.tcp.keepalive_delay = delay;
  } else {
    tcp->flags &= ~UV__TCP_KEEPALIVE;
  }
  return 0;
}

/* A Windows tuning knob; on Linux every accept is already simultaneous. */
int uv_tcp_simultaneous_accepts(uv_tcp_t* tcp, int enable) {
  (void) enable;
  if (tcp == NULL || tcp->type != UV_TCP)
    return UV_EINVAL;
  return 0;
}

int uv_tcp_close_reset(uv_tcp_t* tcp, uv_close_cb close_cb) {
  struct linger l = {1, 0};

  if (tcp == NULL || tcp->type != UV_TCP ||
      uv__is_closing((uv_handle_t*) tcp))
    return UV_EINVAL;
  /* A reset racing a pending shutdown is not the same on every system:
   * libuv refuses it until the shutdown is done. */
  if (tcp->flags & UV__STREAM_SHUTTING)
    return UV_EINVAL;
  if (tcp->io_watcher.fd < 0)
    return UV_EBADF;
  if (setsockopt(tcp->io_watcher.fd, SOL_SOCKET, SO_LINGER, &l,
                 sizeof(l)) != 0)
    return uv__neg_errno();
  uv_close((uv_handle_t*) tcp, close_cb);
  return 0;
}
