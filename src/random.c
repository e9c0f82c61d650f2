/* uv_random(): cryptographically strong random bytes from the kernel, on
 * the caller's thread or, with a callback, on the worker pool.
 */
#include "internal.h"
#include "dispatch.h"
#include "random.h"
#include "threadpool.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set once getrandom(2) has been seen to be missing, so that later calls
 * go straight to /dev/urandom. Racing writers store the same value. */
static atomic_int getrandom_missing;

/* Set once /dev/random has reported the pool initialised. */
static atomic_int urandom_ready;

/* Returns 0 when filled, UV_ENOSYS when the system call is unavailable,
 * else the error. Large requests can come back short (before Linux 5.18,
 * at most 32 MiB - 1 per call) or be interrupted by a signal, hence the
 * loop. */
static int fill_getrandom(unsigned char* p, size_t len) {
  ssize_t n;

  while (len > 0) {
    n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* A seccomp filter that does not know getrandom typically answers
       * EPERM, which the system call itself never returns. */
      if (errno == ENOSYS || errno == EPERM)
        return UV_ENOSYS;
      return uv__neg_errno();
    }
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

/* /dev/urandom never blocks, even before the pool has been seeded after
 * boot; waiting once for /dev/random to become readable rules that out.
 * poll() rather than read() so that no entropy is consumed on kernels
 * before 5.6, where /dev/random still accounted for it. */
static int wait_urandom_ready(void) {
  struct pollfd pfd;
  int fd;
  int r;

  if (atomic_load(&urandom_ready))
    return 0;

  do
    fd = open("/dev/random", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return uv__neg_errno();

  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  do
    r = poll(&pfd, 1, -1);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    r = uv__neg_errno();
    close(fd);
    return r;
  }
  close(fd);
  atomic_store(&urandom_ready, 1);
  return 0;
}

static int fill_urandom(unsigned char* p, size_t len) {
  struct stat st;
  ssize_t n;
  int err;
  int fd;

  err = wait_urandom_ready();
  if (err != 0)
    return err;

  do
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return uv__neg_errno();

  /* Guards against a chroot or container where the path is a plain
   * file, which would hand out the same "random" bytes every time. */
  if (fstat(fd, &st) != 0) {
    err = uv__neg_errno();
    goto out;
  }
  if (!S_ISCHR(st.st_mode)) {
    err = UV_EIO;
    goto out;
  }

  err = 0;
  while (len > 0) {
    n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = uv__neg_errno();
      goto out;
    }
    if (n == 0) {
      err = UV_EIO;
      goto out;
    }
    p += n;
    len -= (size_t) n;
  }

out:
  /* Read-only descriptors: close() has nothing to report worth acting on,
   * and on Linux the descriptor is released even on EINTR. */
  close(fd);
  return err;
}

int uv__random_fill(void* buf, size_t len) {
  int err;

  if (!atomic_load(&getrandom_missing)) {
    err = fill_getrandom(buf, len);
    if (err != UV_ENOSYS)
      return err;
    atomic_store(&getrandom_missing, 1);
  }
  /* Bytes getrandom() already wrote stay; the rest, refilled from the
   * start, overwrites them, which costs little and keeps this simple. */
  return fill_urandom(buf, len);
}

static void random_work(struct uv__work* w) {
  uv_random_t* req = uv__container_of(w, uv_random_t, work_req);
  req->status = uv__random_fill(req->buf, req->buflen);
}

static void random_done(struct uv__work* w, int status) {
  uv_random_t* req = uv__container_of(w, uv_random_t, work_req);

  uv__req_unregister(req->loop, req);
  if (status == UV_ECANCELED)
    req->status = UV_ECANCELED;
  uv__dispatch_random(req, req->status, req->buf, req->buflen);
}

int uv_random(uv_loop_t* loop,
              uv_random_t* req,
              void* buf,
              size_t buflen,
              unsigned int flags,
              uv_random_cb cb) {
  /* The order of the checks is libuv's: an oversized request is E2BIG
   * even when the flags are also invalid. */
  if (buflen > 0x7FFFFFFFu)
    return UV_E2BIG;
  if (flags != 0)
    return UV_EINVAL;
  if (buf == NULL && buflen > 0)
    return UV_EINVAL;

  if (cb == NULL) {
    if (buflen == 0)
      return 0;
    return uv__random_fill(buf, buflen);
  }

  if (loop == NULL || req == NULL)
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  uv__req_init(loop, (uv_req_t*) req, UV_RANDOM);
  req->loop = loop;
  req->status = 0;
  req->buf = buf;
  req->buflen = buflen;
  req->cb = cb;
  /* Even an empty request goes through the pool, so that the callback
   * always runs later, from the loop, as callers expect. */
  return uv__work_submit(loop, req, &req->work_req, NL_WORK_RANDOM,
                         random_work, random_done);
}
