/* Writing to streams: a FIFO queue of requests, each tried at once when
 * nothing is ahead of it; what the descriptor did not take waits for it to
 * become writable, and requests queued behind one another go out several
 * to a call. Callbacks run later, from the stream's watcher or the pending
 * phase, never inside uv_write(). Then uv_try_write() and uv_shutdown(),
 * which waits for the queued writes.
 */
#include "internal.h"
#include "dispatch.h"
#include "stream.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bytes of the request not yet written. */
static size_t req_remaining(const uv_write_t* req) {
  size_t n = 0;
  unsigned int i;
  for (i = req->write_index; i < req->nbufs; i++)
    n += req->bufs[i].len;
  return n;
}

/* writev() that turns the SIGPIPE of a vanished reader into a plain EPIPE
 * for descriptors that are not sockets (sockets use MSG_NOSIGNAL). The
 * signal is thread-directed, so blocking it here and taking it back
 * leaves the rest of the program undisturbed. */
static ssize_t writev_nosigpipe(int fd, const struct iovec* iov, int n) {
  static const struct timespec zero;
  sigset_t pipe_set;
  sigset_t old;
  ssize_t r;
  int err;

  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  r = writev(fd, iov, n);
  err = errno;
  if (r == -1 && err == EPIPE && !sigismember(&old, SIGPIPE))
    while (sigtimedwait(&pipe_set, NULL, &zero) == -1 && errno == EINTR) {
    }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return r;
}

/* One write attempt of up to IOV_MAX buffers, passing send_handle's
 * descriptor along when there is one. Returns bytes or -errno. */
static ssize_t write_bufs(uv_stream_t* s, const uv_buf_t* bufs,
                          unsigned int nbufs, uv_stream_t* send_handle) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  struct cmsghdr* cmsg;
  int fd = s->io_watcher.fd;
  int n = nbufs > IOV_MAX ? IOV_MAX : (int) nbufs;
  ssize_t r;

  do {
    if (send_handle == NULL && n == 1 && (s->flags & UV__STREAM_SOCKET)) {
      /* One buffer: send() skips the message header sendmsg() copies in,
       * which is most of the difference to a plain write(). */
      r = send(fd, bufs[0].base, bufs[0].len, MSG_NOSIGNAL);
    } else if (send_handle != NULL || (s->flags & UV__STREAM_SOCKET)) {
      memset(&msg, 0, sizeof(msg));
      msg.msg_iov = (struct iovec*) bufs;
      msg.msg_iovlen = (size_t) n;
      if (send_handle != NULL) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        fd = uv__stream_send_handle_fd(send_handle);
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        fd = s->io_watcher.fd;
      }
      r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else if (s->flags & UV__STREAM_TERMINAL) {
      r = writev(fd, (const struct iovec*) bufs, n);
    } else {
      r = writev_nosigpipe(fd, (const struct iovec*) bufs, n);
    }
  } while (r == -1 && errno == EINTR);
  if (r == -1)
    return errno == EWOULDBLOCK ? UV_EAGAIN : uv__neg_errno();
  return r;
}

/* Consumes n written bytes from the request's buffers. */
static void req_advance(uv_write_t* req, size_t n) {
  uv_buf_t* b;

  while (req->write_index < req->nbufs) {
    b = &req->bufs[req->write_index];
    if (n < b->len) {
      b->base += n;
      b->len -= n;
      return;
    }
    n -= b->len;
    req->write_index++;
  }
}

/* Writes as much of the request as the descriptor takes. 0 when all of it
 * went, UV_EAGAIN when the rest must wait, or an error. */
static int write_req(uv_stream_t* s, uv_write_t* req) {
  size_t want;
  ssize_t r;
  unsigned int i;
  unsigned int n;

  for (;;) {
    /* Skip empty buffers so a request of empty buffers needs no call. */
    while (req->write_index < req->nbufs &&
           req->bufs[req->write_index].len == 0)
      req->write_index++;
    if (req->write_index == req->nbufs && req->send_handle == NULL)
      return 0;
    n = req->nbufs - req->write_index;
    if (n > IOV_MAX)
      n = IOV_MAX;
    want = 0;
    for (i = 0; i < n; i++)
      want += req->bufs[req->write_index + i].len;
    r = write_bufs(s, req->bufs + req->write_index, n, req->send_handle);
    if (r < 0)
      return (int) r;
    /* The descriptor went with the first bytes. */
    req->send_handle = NULL;
    req_advance(req, (size_t) r);
    s->write_queue_size -= (size_t) r;
    if (req->write_index == req->nbufs)
      return 0;
    /* A short write means the socket buffer is full: wait for POLLOUT
     * rather than make a call that would fail with EAGAIN. A blocking
     * descriptor is written until done. */
    if ((size_t) r < want && !(s->flags & UV__STREAM_BLOCKING))
      return UV_EAGAIN;
  }
}

static void finish_req(uv_stream_t* s, uv_write_t* req, int err) {
  uv__queue_remove(&req->queue);
  s->write_queue_size -= req_remaining(req);
  req->write_index = req->nbufs;
  req->error = err;
  uv__queue_insert_tail(&s->write_completed_queue, &req->queue);
}

/* Every queued write fails with UV_ECANCELED (callbacks run later). */
void uv__stream_cancel_writes(uv_stream_t* s) {
  while (!uv__queue_empty(&s->write_queue))
    finish_req(s, uv__container_of(uv__queue_head(&s->write_queue),
                                   uv_write_t, queue), UV_ECANCELED);
}

/* Buffers one gathered write takes from several queued requests: enough
 * to turn a queue of small writes into a few calls, small enough for the
 * stack of any thread that runs a loop. */
#define UV__WRITE_GATHER 64

/* Buffers of the request not yet written that hold bytes. */
static unsigned int req_pieces(const uv_write_t* req) {
  unsigned int n = 0;
  unsigned int i;
  for (i = req->write_index; i < req->nbufs; i++)
    n += req->bufs[i].len > 0;
  return n;
}

/* One call for the head request and those queued behind it. Requests the
 * call covered finish in order; a partly written one keeps its place.
 * Some requests must go by themselves, as they would in libuv:
 * - one that passes a handle (the descriptor rides on its first byte);
 * - any on a socket of records (SOCK_SEQPACKET or SOCK_DGRAM opened with
 *   uv_pipe_open), where each call is one message;
 * - on a pipe or FIFO, any that would take the call past PIPE_BUF bytes:
 *   up to that size the kernel writes a call whole, so another process
 *   writing to the same pipe cannot land inside a request.
 * Returns what write_req() would for the head, or 1 when there was nothing
 * to gather. */
static int write_gathered(uv_stream_t* s) {
  uv_buf_t bufs[UV__WRITE_GATHER];
  struct uv__queue* q;
  uv_write_t* req;
  size_t want = 0;
  size_t left;
  size_t n;
  ssize_t r;
  unsigned int nbufs = 0;
  unsigned int nreqs = 0;
  unsigned int i;
  int atomic = !(s->flags & (UV__STREAM_SOCKET | UV__STREAM_TERMINAL));

  /* Most writes find the queue empty but for themselves: no copying. */
  q = uv__queue_head(&s->write_queue);
  if (uv__queue_next(q) == &s->write_queue ||
      (s->type == UV_NAMED_PIPE && (s->flags & UV__PIPE_RECORDS)))
    return 1;
  for (; q != &s->write_queue && nbufs < UV__WRITE_GATHER;
       q = uv__queue_next(q)) {
    req = uv__container_of(q, uv_write_t, queue);
    if (req->send_handle != NULL)
      break;
    if (atomic && (want + req_remaining(req) > PIPE_BUF ||
                   nbufs + req_pieces(req) > UV__WRITE_GATHER))
      break;
    for (i = req->write_index; i < req->nbufs && nbufs < UV__WRITE_GATHER; i++)
      if (req->bufs[i].len > 0) {
        bufs[nbufs++] = req->bufs[i];
        want += req->bufs[i].len;
      }
    nreqs++;
  }
  if (nreqs < 2 || nbufs == 0)
    return 1;

  r = write_bufs(s, bufs, nbufs, NULL);
  /* The error may belong to a later request (a buffer the kernel cannot
   * read) or to the gathering itself: the head then goes alone and gets
   * the result it would have got by itself. */
  if (r < 0)
    return r == UV_EAGAIN ? (int) r : 1;
  s->write_queue_size -= (size_t) r;
  for (left = (size_t) r; !uv__queue_empty(&s->write_queue);) {
    req = uv__container_of(uv__queue_head(&s->write_queue), uv_write_t, queue);
    n = req_remaining(req);
    if (n > left || req->send_handle != NULL) {
      req_advance(req, left);
      break;
    }
    req_advance(req, n);
    left -= n;
    finish_req(s, req, 0);
  }
  /* As in write_req(): a short write means the buffer is full. */
  if ((size_t) r < want && !(s->flags & UV__STREAM_BLOCKING))
    return UV_EAGAIN;
  return 0;
}

/* Writes queued requests in order until the descriptor is full. Finished
 * ones move to the completed queue; their callbacks run later. */
void uv__stream_write_queued(uv_stream_t* s) {
  struct uv__queue* q;
  uv_write_t* req;
  int err;

  while (!uv__queue_empty(&s->write_queue) && s->io_watcher.fd != -1) {
    err = write_gathered(s);
    if (err == 0)
      continue;
    q = uv__queue_head(&s->write_queue);
    req = uv__container_of(q, uv_write_t, queue);
    if (err == 1)
      err = write_req(s, req);
    if (err == UV_EAGAIN) {
      if (!(s->io_watcher.wanted & UV__POLLOUT))
        uv__stream_watch(s, UV__POLLOUT);
      return;
    }
    finish_req(s, req, err);
  }
  if (s->io_watcher.wanted & UV__POLLOUT)
    uv__stream_unwatch(s, UV__POLLOUT);
}

void uv__stream_write_callbacks(uv_stream_t* s) {
  struct uv__queue done;
  struct uv__queue* q;
  uv_write_t* req;

  if (uv__queue_empty(&s->write_completed_queue))
    return;
  /* All of these get their callback even if one of them closes the
   * stream; later completions wait for the next round. */
  uv__queue_move(&s->write_completed_queue, &done);
  while (!uv__queue_empty(&done)) {
    q = uv__queue_head(&done);
    uv__queue_remove(q);
    req = uv__container_of(q, uv_write_t, queue);
    if (req->bufs != req->bufsml)
      uv__free(req->bufs);
    req->bufs = NULL;
    uv__req_unregister(s->loop, req);
    if (req->cb != NULL)
      uv__dispatch_write(req, req->error);
  }
}

/* The shutdown waits for every queued write; its callback follows theirs. */
void uv__stream_maybe_shutdown(uv_stream_t* s) {
  uv_shutdown_t* req = s->shutdown_req;
  int err = 0;

  if (req == NULL || !uv__queue_empty(&s->write_queue) ||
      s->connect_req != NULL || s->io_watcher.fd == -1)
    return;
  s->shutdown_req = NULL;
  s->flags &= ~UV__STREAM_SHUTTING;
  if (shutdown(s->io_watcher.fd, SHUT_WR) != 0)
    err = uv__neg_errno();
  else
    s->flags |= UV__STREAM_SHUT;
  uv__req_unregister(s->loop, req);
  if (req->cb != NULL)
    uv__dispatch_shutdown(req, err);
}

int uv_write2(uv_write_t* req, uv_stream_t* s, const uv_buf_t bufs[],
              unsigned int nbufs, uv_stream_t* send_handle, uv_write_cb cb) {
  size_t total = 0;
  int was_empty;
  unsigned int i;
  int err;

  if (req == NULL || s == NULL || (bufs == NULL && nbufs > 0) ||
      !uv__stream_is_type(s->type))
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  if (s->io_watcher.fd < 0)
    return UV_EBADF;
  if (!(s->flags & UV__STREAM_WRITABLE))
    return UV_EPIPE;
  if (send_handle != NULL) {
    if (!uv__stream_is_ipc(s))
      return UV_EINVAL;
    err = uv__stream_check_send_handle(send_handle);
    if (err != 0)
      return err;
  }

  uv__req_init(s->loop, (uv_req_t*) req, UV_WRITE);
  req->cb = cb;
  req->handle = s;
  req->send_handle = send_handle;
  req->error = 0;
  req->write_index = 0;
  req->nbufs = nbufs;
  req->bufs = req->bufsml;
  if (nbufs > UV__ARRAY_SIZE(req->bufsml)) {
    req->bufs = uv__malloc(nbufs * sizeof(bufs[0]));
    if (req->bufs == NULL)
      return UV_ENOMEM;
  }
  if (nbufs > 0)
    memcpy(req->bufs, bufs, nbufs * sizeof(bufs[0]));
  for (i = 0; i < nbufs; i++)
    total += bufs[i].len;

  was_empty = uv__queue_empty(&s->write_queue);
  uv__req_register(s->loop, req);
  uv__queue_insert_tail(&s->write_queue, &req->queue);
  s->write_queue_size += total;

  /* An empty queue means nothing is ahead of this request: try it now.
   * Otherwise the writable event (or the connection) will get to it. */
  if (was_empty && s->connect_req == NULL) {
    uv__stream_write_queued(s);
    if (!uv__queue_empty(&s->write_completed_queue))
      uv__io_feed(s->loop, &s->io_watcher);
  }
  return 0;
}

int uv_write(uv_write_t* req, uv_stream_t* s, const uv_buf_t bufs[],
             unsigned int nbufs, uv_write_cb cb) {
  return uv_write2(req, s, bufs, nbufs, NULL, cb);
}

int uv_try_write2(uv_stream_t* s, const uv_buf_t bufs[], unsigned int nbufs,
                  uv_stream_t* send_handle) {
  ssize_t r;
  int err;

  if (s == NULL || (bufs == NULL && nbufs > 0) || !uv__stream_is_type(s->type))
    return UV_EINVAL;
  /* Bytes must not overtake the queue or a connection in progress. */
  if (s->connect_req != NULL || !uv__queue_empty(&s->write_queue))
    return UV_EAGAIN;
  if (s->io_watcher.fd < 0)
    return UV_EBADF;
  if (!(s->flags & UV__STREAM_WRITABLE))
    return UV_EPIPE;
  /* On a stream that is not an IPC pipe the handle is ignored and only
   * the bytes go, as in libuv. */
  if (send_handle != NULL && !uv__stream_is_ipc(s))
    send_handle = NULL;
  if (send_handle != NULL) {
    err = uv__stream_check_send_handle(send_handle);
    if (err != 0)
      return err;
  }
  while (nbufs > 0 && bufs[0].len == 0 && send_handle == NULL) {
    bufs++;
    nbufs--;
  }
  if (nbufs == 0 && send_handle == NULL)
    return 0;
  r = write_bufs(s, bufs, nbufs, send_handle);
  if (r < 0)
    return (int) r;
  return r > INT_MAX ? INT_MAX : (int) r;
}

int uv_try_write(uv_stream_t* s, const uv_buf_t bufs[], unsigned int nbufs) {
  return uv_try_write2(s, bufs, nbufs, NULL);
}

int uv_shutdown(uv_shutdown_t* req, uv_stream_t* s, uv_shutdown_cb cb) {
  if (req == NULL || s == NULL || !uv__stream_is_type(s->type))
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  if (s->io_watcher.fd < 0 || !(s->flags & UV__STREAM_WRITABLE) ||
      (s->flags & (UV__STREAM_SHUT | UV__STREAM_SHUTTING)) ||
      uv__is_closing((uv_handle_t*) s))
    return UV_ENOTCONN;

  uv__req_init(s->loop, (uv_req_t*) req, UV_SHUTDOWN);
  req->handle = s;
  req->cb = cb;
  uv__req_register(s->loop, req);
  s->shutdown_req = req;
  s->flags |= UV__STREAM_SHUTTING;
  s->flags &= ~UV__STREAM_WRITABLE;
  /* Done, at the earliest, in the next pending phase; while connecting,
   * when the connection is done (a fed event must not pass for the
   * connection's). */
  if (uv__queue_empty(&s->write_queue) && s->connect_req == NULL)
    uv__io_feed(s->loop, &s->io_watcher);
  return 0;
}

size_t uv_stream_get_write_queue_size(const uv_stream_t* s) {
  return s != NULL ? s->write_queue_size : 0;
}
