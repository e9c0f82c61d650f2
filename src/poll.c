/* Poll handles: a callback when a descriptor the user owns becomes
 * readable, writable, disconnected or has priority data, for libraries
 * that do their own I/O (c-ares, libcurl, libssh2).
 *
 * A handle is a watcher (internal.h) on the user's descriptor. The loop
 * owns the registration, the user owns the descriptor, and the user may
 * close it right after uv_poll_stop() or uv_close(), or, against the
 * documentation, while the handle is active. So stopping deregisters at
 * once instead of lazily, and restarting re-registers (uv__io_rearm):
 * a registration can never outlive the handle's interest or miss a new
 * file behind a reused number.
 *
 * What the callback sees, as libuv 1.44 reports it (observed on Debian's
 * libuv, and listed in test/test-poll.c):
 *   - only events the handle asked for, at least one per call;
 *   - an error event (EPOLLERR) stops the handle and is reported as
 *     status UV_EBADF with no events, whatever the descriptor's own error
 *     (reading SO_ERROR here would consume it; the user may want it);
 *   - except with priority data: the kernel's sysfs and cgroup files
 *     report a change as EPOLLERR | EPOLLPRI, which is UV_PRIORITIZED,
 *     the event the documentation names for them;
 *   - a hang-up with nothing else the handle watches (a pipe whose writer
 *     closed) is reported as every event the handle watches, so that the
 *     user's read or write meets the end of file or the error.
 */
#include "internal.h"
#include "uring.h"
#include "dispatch.h"


#define UV__POLL_EVENTS \
  (UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED)

/* The poller events of each uv_poll_event, in both directions. */
static unsigned int to_io_events(int pevents) {
  unsigned int events = 0;

  if (pevents & UV_READABLE)
    events |= UV__POLLIN;
  if (pevents & UV_WRITABLE)
    events |= UV__POLLOUT;
  if (pevents & UV_DISCONNECT)
    events |= UV__POLLRDHUP;
  if (pevents & UV_PRIORITIZED)
    events |= UV__POLLPRI;
  return events;
}

static int to_poll_events(unsigned int events) {
  int pevents = 0;

  if (events & UV__POLLIN)
    pevents |= UV_READABLE;
  if (events & UV__POLLOUT)
    pevents |= UV_WRITABLE;
  if (events & UV__POLLRDHUP)
    pevents |= UV_DISCONNECT;
  if (events & UV__POLLPRI)
    pevents |= UV_PRIORITIZED;
  return pevents;
}

/* The handle whose watcher is on fd, if any: another poll handle, or one
 * of the loop's own descriptors (its async eventfd, its signal pipe). */
static const uv__io_t* watcher_of(const uv_loop_t* loop, int fd) {
  if (fd < 0 || (unsigned int) fd >= loop->nwatchers)
    return NULL;
  return loop->watchers[fd];
}

/* Deregisters now: the user may close the descriptor as soon as this
 * returns, and a registration left for the next poll would then survive
 * in the kernel under a duplicate of it (after fork, dup) and report
 * another file's events under a reused number. Events already fetched for
 * the descriptor in this round are dropped too, so that libuv's promise
 * holds: no callback after uv_poll_stop(), even one already pending. */
static void poll_stop(uv_poll_t* handle) {
  uv__io_close(handle->loop, &handle->io_watcher);
  uv__handle_stop((uv_handle_t*) handle);
}

/* The poller could not register the descriptor (it feeds an error event
 * to a watcher with nothing armed). Ask the kernel why: mostly EBADF, a
 * descriptor closed behind the loop's back, which libuv reports too (or
 * worse: it aborts), but ENOSPC (max_user_watches) and ENOMEM deserve
 * their own name. A number that can be registered now (closed and reused
 * since) leaves nothing better than EBADF. Error path only. */
static int registration_error(uv_poll_t* handle) {
  int err = uv__poller_check_fd(handle->loop, handle->io_watcher.fd);
  return err != 0 ? err : UV_EBADF;
}

static void poll_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  uv_poll_t* handle = uv__container_of(w, uv_poll_t, io_watcher);
  unsigned int wanted = w->wanted;
  int status;
  int pevents;

  (void) loop;
  if ((events & UV__POLLERR) && !(events & wanted & UV__POLLPRI)) {
    status = w->armed == 0 ? registration_error(handle) : UV_EBADF;
    poll_stop(handle);
    uv__dispatch_poll(handle, status, 0);
    return;
  }
  /* A bare hang-up: see the top of the file. */
  if (!(events & wanted))
    events |= wanted;
  pevents = to_poll_events(events & wanted);
  if (pevents != 0)
    uv__dispatch_poll(handle, 0, pevents);
}

/* ---------------------------------------------------------------------
 * The API.
 */

/* The same answers as libuv's: UV_EEXIST for a descriptor this loop
 * watches already (another handle polls it, or it is the loop's own
 * eventfd, signal pipe or io_uring), else whatever epoll says of it:
 * UV_EPERM for regular files, directories and /dev/null, UV_EBADF for a
 * closed one, UV_EINVAL for the loop's own epoll descriptor. Only a
 * descriptor that passes is made non-blocking (libuv leaves a refused one
 * alone too, and has set accepted ones non-blocking since 1.2.2): the
 * user of a poll handle must be able to read until EAGAIN. */
int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd) {
  int err;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  if (watcher_of(loop, fd) != NULL ||
      (fd >= 0 && (fd == uv__ring_fd(loop) || fd == uv__mpoll_fd(loop))))
    return UV_EEXIST;
  err = uv__poller_check_fd(loop, fd);
  if (err != 0)
    return err;
  err = uv__nonblock(fd, 1);
  if (err != 0)
    return err;

  uv__handle_init(loop, (uv_handle_t*) handle, UV_POLL);
  handle->poll_cb = NULL;
  uv__io_init(&handle->io_watcher, poll_io, fd);
  return 0;
}

/* On Unix a socket is a descriptor like any other. */
int uv_poll_init_socket(uv_loop_t* loop, uv_poll_t* handle,
                        uv_os_sock_t socket) {
  return uv_poll_init(loop, handle, socket);
}

static int is_poll(const uv_poll_t* handle) {
  return handle != NULL && handle->type == UV_POLL;
}

/* libuv asserts on unknown event bits, a closing handle and (by crashing
 * at the first event) a missing callback; here they are UV_EINVAL. Its
 * answer for a descriptor another handle polls is kept: UV_EEXIST, even
 * when the call would only stop this handle. Zero events stop the
 * handle. On an active handle the new events and callback replace the
 * old ones, and events already fetched for the old interest are filtered
 * by the poller against the new one. */
int uv_poll_start(uv_poll_t* handle, int pevents, uv_poll_cb poll_cb) {
  const uv__io_t* owner;
  unsigned int events;
  uv__io_t* w;
  uv_loop_t* loop;
  int err;

  if (!is_poll(handle) || uv__is_closing((uv_handle_t*) handle))
    return UV_EINVAL;
  if ((pevents & ~UV__POLL_EVENTS) != 0)
    return UV_EINVAL;
  if (pevents != 0 && poll_cb == NULL)
    return UV_EINVAL;
  loop = handle->loop;
  w = &handle->io_watcher;
  owner = watcher_of(loop, w->fd);
  if (owner != NULL && owner != w)
    return UV_EEXIST;

  if (pevents == 0) {
    poll_stop(handle);
    return 0;
  }

  events = to_io_events(pevents);
  if (uv__is_active((uv_handle_t*) handle)) {
    /* Add before removing, so that the watcher never looks stopped (the
     * table entry stays put, and so does the kernel registration). */
    err = uv__io_start(loop, w, events);
    assert(err == 0);   /* the table holds this fd already */
    uv__io_stop(loop, w, w->wanted & ~events);
    uv__io_rearm(loop, w);
  } else {
    err = uv__io_start(loop, w, events);
    if (err != 0)
      return err;
  }
  handle->poll_cb = poll_cb;
  uv__handle_start((uv_handle_t*) handle);
  return 0;
}

/* Stopping a stopped, closing or closed handle changes nothing. */
int uv_poll_stop(uv_poll_t* handle) {
  if (!is_poll(handle))
    return UV_EINVAL;
  poll_stop(handle);
  return 0;
}

/* Called by uv_close(); the descriptor stays open, it is the user's. */
void uv__poll_close(uv_poll_t* handle) {
  poll_stop(handle);
}
