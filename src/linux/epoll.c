/* The epoll poller: applies the loop's batched interest changes, waits for
 * events and dispatches them to watchers. It implements the poller
 * contract of internal.h; an io_uring poller can implement the same.
 */
#include "internal.h"
#include "dispatch.h"
#include "uring.h"
#include "uring_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* The watcher event bits are epoll's own, so no translation is needed. */
_Static_assert(UV__POLLIN == EPOLLIN, "event bits");
_Static_assert(UV__POLLPRI == EPOLLPRI, "event bits");
_Static_assert(UV__POLLOUT == EPOLLOUT, "event bits");
_Static_assert(UV__POLLERR == EPOLLERR, "event bits");
_Static_assert(UV__POLLHUP == EPOLLHUP, "event bits");
_Static_assert(UV__POLLRDHUP == EPOLLRDHUP, "event bits");
/* The rearm mark is a flag no watcher asks for and epoll never reports. */
_Static_assert(UV__IO_REARM == EPOLLONESHOT, "rearm mark");
_Static_assert(UV__POLLEXCL == EPOLLEXCLUSIVE, "exclusive mark");

/* Events taken per epoll_wait. When a wait fills the array, a few more
 * non-blocking waits follow so that a busy loop still sees every ready
 * descriptor each iteration without starving the other phases. */
#define UV__MAX_EVENTS 1024
#define UV__EXTRA_ROUNDS 8

int uv__poller_init(uv_loop_t* loop) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  int poller;
  if (fd == -1)
    return uv__neg_errno();
  loop->backend_fd = fd;
  uv__mpoll_init(loop);   /* NODELOOP_POLLER=poll, if the kernel can */
  /* The ring's poller takes its descriptor now, not at some later poll,
   * where it would take a number the program just closed. */
  poller = uv__ring_poller();
  if ((poller == UV__POLLER_RING || poller == UV__POLLER_RING_CTL) &&
      uv__ring_mode() >= 0)
    (void) uv__ring_get(loop);
  return 0;
}

void uv__poller_close(uv_loop_t* loop) {
  uv__mpoll_close(loop);
  if (loop->backend_fd != -1) {
    uv__close(loop->backend_fd);
    loop->backend_fd = -1;
  }
}

/* A forked child shares the parent's epoll instance; it needs its own,
 * with every watcher registered again. */
int uv__poller_fork(uv_loop_t* loop) {
  int err;

  uv__mpoll_fork(loop);
  uv__poller_close(loop);
  err = uv__poller_init(loop);
  if (err != 0)
    return err;
  uv__io_forget_all(loop);
  return 0;
}

int uv__poller_check_fd(uv_loop_t* loop, int fd) {
  struct epoll_event e;
  int err = 0;

  memset(&e, 0, sizeof(e));
  e.events = EPOLLIN;
  e.data.fd = -1;
  if (epoll_ctl(loop->backend_fd, EPOLL_CTL_ADD, fd, &e) == 0) {
    epoll_ctl(loop->backend_fd, EPOLL_CTL_DEL, fd, &e);
  } else if (errno != EEXIST) {
    err = uv__neg_errno();
  }
  return err;
}

void uv__poller_invalidate_fd(uv_loop_t* loop, int fd) {
  struct epoll_event* events = loop->poll_events;
  struct epoll_event dummy;
  int i;

  /* Events already fetched for fd in this round must not reach whatever
   * watcher gets the descriptor number next. */
  for (i = 0; events != NULL && i < loop->poll_nevents; i++)
    if (events[i].data.fd == fd)
      events[i].data.fd = -1;
  if (loop->mpoll != NULL) {
    uv__mpoll_invalidate(loop, fd);
    return;
  }
  memset(&dummy, 0, sizeof(dummy));
  /* ENOENT/EBADF: already gone (closed behind our back); nothing to do. */
  epoll_ctl(loop->backend_fd, EPOLL_CTL_DEL, fd, &dummy);
}

/* The kernel refused change op of watcher w with err. Some refusals are
 * stale state, put right here; otherwise the watcher gets an error event,
 * delivered by the pending callbacks that follow this poll, so that its
 * owner reports the failure instead of waiting forever. Returns 1 then
 * (the wait must not block), 0 if the change took after all. */
int uv__poller_ctl_failed(uv_loop_t* loop, uv__io_t* w, int op, int err) {
  struct epoll_event e;

  memset(&e, 0, sizeof(e));
  e.events = w->wanted;
  e.data.fd = w->fd;
  /* A registration the watcher did not know of: replaced, not modified,
   * since the kernel refuses to modify an exclusive one (UV__POLLEXCL). */
  if (op == EPOLL_CTL_ADD && err == EEXIST &&
      epoll_ctl(loop->backend_fd, EPOLL_CTL_DEL, w->fd, &e) == 0 &&
      epoll_ctl(loop->backend_fd, EPOLL_CTL_ADD, w->fd, &e) == 0) {
    w->armed = w->wanted;
    return 0;
  }
  /* The registration went with the file, closed behind the loop's back,
   * and the number names another file now (see uv__io_rearm). */
  if (op == EPOLL_CTL_MOD && err == ENOENT &&
      epoll_ctl(loop->backend_fd, EPOLL_CTL_ADD, w->fd, &e) == 0) {
    w->armed = w->wanted;
    return 0;
  }
  if (op == EPOLL_CTL_DEL) {
    w->armed = 0;   /* the descriptor is gone already */
    return 0;
  }
  w->armed = 0;
  w->fed_events = UV__POLLERR;
  uv__io_feed(loop, w);
  return 1;
}

/* The epoll_ctl operation that takes a watcher from armed to wanted. An
 * exclusive watch (UV__POLLEXCL) is only ever added and removed. */
int uv__poller_ctl_op(const uv__io_t* w) {
  if (w->wanted == 0)
    return EPOLL_CTL_DEL;
  return w->armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
}

/* Hands every recorded interest change to the kernel. Returns how many
 * were refused: the wait must not block then. */
static int apply_changes(uv_loop_t* loop) {
  struct epoll_event e;
  struct uv__queue* q;
  uv__io_t* w;
  int refused = 0;
  int op;

  while (!uv__queue_empty(&loop->watcher_queue)) {
    q = uv__queue_head(&loop->watcher_queue);
    uv__queue_remove(q);
    w = uv__container_of(q, uv__io_t, change_node);
    if (w->wanted == w->armed)
      continue;
    memset(&e, 0, sizeof(e));
    e.events = w->wanted;
    e.data.fd = w->fd;
    op = uv__poller_ctl_op(w);
    if (epoll_ctl(loop->backend_fd, op, w->fd, &e) != 0)
      refused += uv__poller_ctl_failed(loop, w, op, errno);
    else
      w->armed = w->wanted;
  }
  return refused;
}

/* The poll phase lends its event buffer to the spin (poll_events, with
 * poll_nevents -1): what a look finds is kept there and dispatched as is,
 * one system call instead of a look and then a wait. */
int uv__poller_peek(uv_loop_t* loop) {
  struct epoll_event e;
  int n;

  if (loop->mpoll != NULL)
    return uv__mpoll_ready(loop);
  if (loop->poll_events != NULL && loop->poll_nevents == -1) {
    n = epoll_wait(loop->backend_fd, loop->poll_events, UV__MAX_EVENTS, 0);
    if (n <= 0)
      return 0;
    loop->poll_nevents = n;
    return 1;
  }
  /* Every registration is level-triggered: looking takes nothing away
   * from the wait that follows. */
  return epoll_wait(loop->backend_fd, &e, 1, 0) > 0;
}

/* Interest changes: with the ring's poller (NODELOOP_POLLER), in the
 * wait's own system call (*poller is then UV__POLLER_RING or
 * UV__POLLER_POLL and nothing happens here), or in one before it; all of
 * them before it if `early` (a spin that looks at the kernel's answer
 * comes first). Returns how many were refused: the wait must not block
 * then. */
static int apply_interest(uv_loop_t* loop, int* poller, int early) {
  int refused = 0;
  int p;

  if (early && loop->mpoll != NULL)
    uv__mpoll_submit(loop);   /* or gives the watchers back to epoll */
  p = loop->mpoll != NULL ? UV__POLLER_POLL : UV__POLLER_EPOLL;
  if (p == UV__POLLER_EPOLL && !uv__queue_empty(&loop->watcher_queue)) {
    p = uv__ring_poller();
    if (p == UV__POLLER_POLL)
      p = UV__POLLER_EPOLL;   /* its ring was refused: epoll */
    if (p == UV__POLLER_RING && early)
      p = UV__POLLER_RING_CTL;
  }
  if (p == UV__POLLER_RING_CTL)
    (void) uv__ring_poll(loop, NULL, 0, 0, &refused);
  if (p == UV__POLLER_EPOLL || p == UV__POLLER_RING_CTL)
    refused += apply_changes(loop);   /* what the ring left, if any */
  *poller = p;
  return refused;
}

/* ring: NULL to wait with epoll_wait, else the ring's poller applies
 * the interest changes and waits (*ring counts the changes it refused),
 * or leaves both to epoll if it cannot. */
static int wait_events(uv_loop_t* loop, struct epoll_event* events,
                       int timeout, int* ring) {
  sigset_t set;
  uint64_t start = 0;
  int n = -2;

  if (loop->flags & UV__LOOP_METRICS_IDLE)
    start = uv__hrtime_ns();
  if (loop->mpoll != NULL || ring != NULL) {
    n = loop->mpoll != NULL
            ? uv__mpoll_wait(loop, events, UV__MAX_EVENTS, timeout)
            : uv__ring_poll(loop, events, UV__MAX_EVENTS, timeout, ring);
    /* -2: the ring could not (the poller on multishot polls is given up
     * for good); epoll applies the changes and waits. */
    if (n == -2 && apply_changes(loop) != 0)
      timeout = 0;
  }
  if (n != -2) {
    /* done by the ring */
  } else if (loop->flags & UV__LOOP_BLOCK_SIGPROF) {
    sigemptyset(&set);
    sigaddset(&set, SIGPROF);
    n = epoll_pwait(loop->backend_fd, events, UV__MAX_EVENTS, timeout, &set);
  } else {
    n = epoll_wait(loop->backend_fd, events, UV__MAX_EVENTS, timeout);
  }
  if (start != 0 && timeout != 0)
    __atomic_add_fetch(&loop->idle_time, uv__hrtime_ns() - start,
                       __ATOMIC_RELAXED);
  return n;
}

static void dispatch_events(uv_loop_t* loop, struct epoll_event* events,
                            int n) {
  unsigned int mask;
  uv__io_t* w;
  int fd;
  int i;

  loop->poll_events = events;
  loop->poll_nevents = n;
  for (i = 0; i < n; i++) {
    fd = events[i].data.fd;
    if (fd < 0)
      continue;   /* invalidated earlier in this round */
    w = (unsigned int) fd < loop->nwatchers ? loop->watchers[fd] : NULL;
    if (w == NULL) {
      /* Stopped since the wait began. Its change is queued: the next
       * apply_changes removes the registration, or keeps it if the
       * watcher starts again before then (removing it here would leave a
       * restarted watcher armed in name only). */
      continue;
    }
    mask = events[i].events & (w->wanted | UV__POLLERR | UV__POLLHUP);
    if (mask != 0)
      uv__dispatch_io(loop, w, mask);
  }
  loop->poll_events = NULL;
  loop->poll_nevents = 0;
}

/* o: the loop's observation state, or NULL; inlined into the two entry
 * points below, so that an unobserved loop's poll has no hooks at all. */
static inline __attribute__((always_inline)) void poll_loop(
    uv_loop_t* loop, int timeout, struct nl__obs* o) {
  struct epoll_event events[UV__MAX_EVENTS];
  uint64_t deadline = 0;
  int rounds = 0;
  int sleeping;
  int refused;
  int peeked;
  int poller;
  int spun;
  int n;

  /* File requests queued since the last poll go to the kernel in one
   * batch; those that completed at once have their callbacks run here. */
  if (loop->ring != NULL && uv__ring_flush(loop))
    timeout = 0;
  /* Sends and completions that arrived while the loop was running come
   * without a wakeup; they run here, in the poll phase, without waiting. */
  if (uv__async_poll_check(loop))
    timeout = 0;
  if (timeout > 0)
    deadline = loop->time + (uint64_t) timeout;
  /* A spin that asks the poller must ask about every watcher. */
  if (timeout != 0 && loop->spin.spin &&
      (!uv__queue_empty(&loop->watcher_queue) || loop->mpoll != NULL) &&
      apply_interest(loop, &poller, 1) != 0)
    timeout = 0;
  /* The time this may block (the spin included) is the kernel wait of
   * observe.h; dispatching events after it is not. */
  if (o != NULL && timeout != 0)
    nl__obs_wait_enter(o);
  peeked = 0;
  if (timeout != 0) {
    /* The ring's pollers (NODELOOP_POLLER) wait their own way. */
    if (uv__ring_poller() == UV__POLLER_EPOLL) {
      loop->poll_events = events;
      loop->poll_nevents = -1;
    }
    spun = uv__async_spin(loop, timeout);
    if (spun == 2 && loop->poll_nevents > 0)
      peeked = loop->poll_nevents;
    loop->poll_events = NULL;
    loop->poll_nevents = 0;
    if (spun == 2 || (spun == 1 && uv__async_poll_check(loop))) {
      timeout = 0;
    } else if (timeout > 0) {
      /* The spin used part of the time to the next timer. */
      uv__update_time(loop);
      timeout = loop->time >= deadline ? 0 : (int) (deadline - loop->time);
    }
  }
  /* Only the loop's own wakeup descriptor is watched and the wait would
   * not block: the check above saw everything it could report, so the
   * system call is skipped (an idle loop spinning through iterations
   * makes none at all). */
  if (timeout == 0 && loop->nfds == 1 &&
      uv__queue_empty(&loop->watcher_queue) &&
      loop->async_io_watcher.armed != 0 &&
      (loop->mpoll == NULL || !uv__mpoll_ready(loop))) {
    uv__update_time(loop);
    uv__async_wait_end(loop);
    if (o != NULL)
      nl__obs_wait_leave(o);
    return;
  }

  for (;;) {
    if (peeked > 0) {
      /* The spin's look fetched them, and no interest changed since (the
       * spin applied the changes first and runs no callback): they are
       * this round's wait. */
      n = peeked;
      peeked = 0;
      sleeping = 0;
    } else {
      refused = apply_interest(loop, &poller, 0);
      if (refused != 0)
        timeout = 0;
      sleeping = timeout != 0 && !uv__async_sleep_begin(loop);
      if (!sleeping)
        timeout = 0;
      if (o != NULL && timeout != 0)
        nl__obs_wait_enter(o);
      n = wait_events(loop, events, timeout,
                      poller == UV__POLLER_RING ? &refused : NULL);
    }
    if (o != NULL)
      nl__obs_wait_leave(o);
    if (sleeping)
      uv__async_sleep_end(loop);
    /* The callbacks below see the time at which the wait returned. */
    uv__update_time(loop);
    if (n != -1)
      uv__async_wait_end(loop);
    if (n == -1) {
      if (errno != EINTR)
        abort();   /* EBADF/EFAULT/EINVAL: the loop's state is corrupt */
      if (timeout > 0) {
        if (loop->time >= deadline)
          return;
        timeout = (int) (deadline - loop->time);
      }
      continue;
    }
    dispatch_events(loop, events, n);
    if (loop->mpoll != NULL)
      uv__mpoll_recheck(loop, events, n);
    if (n < UV__MAX_EVENTS || ++rounds > UV__EXTRA_ROUNDS)
      return;
    timeout = 0;
  }
}

void uv__poller_poll(uv_loop_t* loop, int timeout) {
  poll_loop(loop, timeout, NULL);
}

void uv__poller_poll_observed(uv_loop_t* loop, int timeout,
                              struct nl__obs* o) {
  poll_loop(loop, timeout, o);
}
