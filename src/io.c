/* Watchers: the loop's table of file descriptors it polls, and the
 * bookkeeping that lets interest changes reach the kernel in one batch per
 * iteration. The kernel side is behind the poller contract (internal.h).
 */
#include "internal.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void uv__io_init(uv__io_t* w, uv__io_cb cb, int fd) {
  assert(cb != NULL);
  assert(fd >= -1);
  w->cb = cb;
  w->fd = fd;
  w->wanted = 0;
  w->armed = 0;
  w->fed_events = 0;
  uv__queue_init(&w->pending_node);
  uv__queue_init(&w->change_node);
}

/* Grows the fd -> watcher table to hold fd. Amortised O(1); the only
 * allocation on this path, and only when a new highest fd appears. */
static int grow_watchers(uv_loop_t* loop, int fd) {
  unsigned int n = loop->nwatchers;
  unsigned int want = (unsigned int) fd + 1;
  uv__io_t** table;

  if (want <= n)
    return 0;
  n = n == 0 ? 64 : n;
  while (n < want)
    n *= 2;
  table = uv__realloc(loop->watchers, n * sizeof(*table));
  if (table == NULL)
    return UV_ENOMEM;
  memset(table + loop->nwatchers, 0,
         (n - loop->nwatchers) * sizeof(*table));
  loop->watchers = table;
  loop->nwatchers = n;
  return 0;
}

static void note_change(uv_loop_t* loop, uv__io_t* w) {
  if (w->wanted != w->armed) {
    if (!uv__queue_linked(&w->change_node))
      uv__queue_insert_tail(&loop->watcher_queue, &w->change_node);
  } else if (uv__queue_linked(&w->change_node)) {
    uv__queue_remove(&w->change_node);
  }
}

int uv__io_start(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  int err;

  assert(w->fd >= 0);
  assert(events != 0);
  err = grow_watchers(loop, w->fd);
  if (err != 0)
    return err;
  w->wanted |= events;
  if (loop->watchers[w->fd] != w) {
    assert(loop->watchers[w->fd] == NULL);
    loop->watchers[w->fd] = w;
    loop->nfds++;
  }
  note_change(loop, w);
  return 0;
}

void uv__io_stop(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  if (w->fd < 0)
    return;
  w->wanted &= ~events;
  if ((w->wanted & ~UV__POLLEXCL) == 0)
    w->wanted = 0;   /* a mark alone asks for nothing */
  if (w->wanted == 0 && (unsigned int) w->fd < loop->nwatchers &&
      loop->watchers[w->fd] == w) {
    /* The kernel registration is dropped lazily by the next poll, so a
     * stop followed by a start in the same iteration costs nothing. */
    loop->watchers[w->fd] = NULL;
    loop->nfds--;
  }
  note_change(loop, w);
}

/* Stops the watcher for good, before its descriptor is closed: the kernel
 * registration must go now, because a duplicate of the descriptor would
 * keep it alive under a number that may be reused. */
void uv__io_close(uv_loop_t* loop, uv__io_t* w) {
  if (w->fd < 0)
    return;
  uv__io_stop(loop, w, w->wanted | w->armed);
  if (uv__queue_linked(&w->change_node))
    uv__queue_remove(&w->change_node);
  if (uv__queue_linked(&w->pending_node))
    uv__queue_remove(&w->pending_node);
  if (w->armed != 0) {
    uv__poller_invalidate_fd(loop, w->fd);
    w->armed = 0;
  }
}

/* Runs the watcher's callback in the next pending phase. */
void uv__io_feed(uv_loop_t* loop, uv__io_t* w) {
  if (!uv__queue_linked(&w->pending_node))
    uv__queue_insert_tail(&loop->pending_queue, &w->pending_node);
}

/* Makes the next poll register the watcher's interest again, even if it
 * has not changed. For watchers whose descriptor belongs to the user (poll
 * handles): if it was closed behind the loop's back, the kernel dropped
 * the registration with it, and the number may now name another file that
 * the user means to watch. The poller then adds it afresh, or reports an
 * error event if the number names nothing. Costs one epoll_ctl at the next
 * poll; nothing if the watcher is not registered yet. */
void uv__io_rearm(uv_loop_t* loop, uv__io_t* w) {
  if (w->armed == 0)
    return;
  w->armed |= UV__IO_REARM;
  note_change(loop, w);
}

/* The kernel forgot every registration (a new poller instance after a
 * fork, or a poller given up): each running watcher is queued so that the
 * next poll registers it afresh. */
void uv__io_forget_all(uv_loop_t* loop) {
  unsigned int i;
  uv__io_t* w;

  for (i = 0; i < loop->nwatchers; i++) {
    w = loop->watchers[i];
    if (w == NULL)
      continue;
    w->armed = 0;
    if (w->wanted != 0 && !uv__queue_linked(&w->change_node))
      uv__queue_insert_tail(&loop->watcher_queue, &w->change_node);
  }
}

/* ---------------------------------------------------------------------
 * Descriptor helpers.
 */
int uv__close(int fd) {
  /* On Linux the descriptor is released even when close() reports EINTR;
   * retrying could close a descriptor another thread just received. */
  if (close(fd) == -1 && errno != EINTR && errno != EINPROGRESS)
    return uv__neg_errno();
  return 0;
}

int uv__fd_in_use(const uv_loop_t* loop, int fd) {
  return fd >= 0 && (unsigned int) fd < loop->nwatchers &&
         loop->watchers[fd] != NULL;
}

/* FIONBIO: one system call where F_GETFL + F_SETFL take two, and the
 * other status flags (O_APPEND...) stay as they are. */
int uv__nonblock(int fd, int set) {
  int on = set != 0;
  if (ioctl(fd, FIONBIO, &on) != 0)
    return uv__neg_errno();
  return 0;
}

/* Writes all of buf unless the descriptor fails: for reports and tables
 * (metrics, watchdog), where a line that cannot be written is dropped. */
void uv__write_all(int fd, const char* buf, size_t len) {
  ssize_t n;

  while (len > 0) {
    n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    buf += n;
    len -= (size_t) n;
  }
}
