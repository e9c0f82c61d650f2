/* The poller on multishot polls (NODELOOP_POLLER=poll): the loop's
 * watchers as IORING_OP_POLL_ADD entries with IORING_POLL_ADD_MULTI on a
 * ring of the poller's own, and no epoll wait at all. Interest changes are
 * entries too (POLL_REMOVE, or POLL_REMOVE with IORING_POLL_UPDATE_EVENTS
 * to change the events), written as they are found and handed to the
 * kernel by the io_uring_enter that waits.
 *
 * Three differences from epoll are made up for here:
 *  - A multishot poll posts once per wakeup of the file, as EPOLLET would
 *    (the kernel refuses IORING_POLL_ADD_LEVEL with MULTI). The rest of
 *    the loop expects epoll's level-triggered reports, so a watcher that
 *    was dispatched and still wants what it got has its poll updated with
 *    the same events after the round: the kernel looks at the file again
 *    and posts at once if it is still ready.
 *  - A poll holds a reference on its file: closing the number does not
 *    end it, and the file stays open until the poll is removed.
 *    uv__io_close removes it at once, before the owner closes the
 *    descriptor, and uv_run submits what is queued before it returns.
 *  - Completions are in memory, not fetched by a call: one fetched late
 *    must not reach a watcher that has the number since. user_data holds
 *    the descriptor and a generation, bumped whenever the descriptor's
 *    poll is removed; completions of an older one are dropped.
 *
 * epoll's instance stays the loop's backend descriptor, holding only this
 * ring's descriptor, so that an embedder polling uv_backend_fd() wakes
 * when completions arrive.
 */
#include "internal.h"
#include "uring.h"
#include "uring_int.h"

#include <linux/time_types.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MP_SQ_ENTRIES 256
#define MP_CQ_ENTRIES 4096

/* user_data: a poll's is gen << 32 | fd (bit 63 clear); removals and
 * updates carry MP_CTL, and their completions say nothing we need. */
#define MP_CTL (1ULL << 63)
#define MP_GEN_MASK 0x7fffffffu

/* What the kernel has for one descriptor number. */
struct mp_slot {
  uv__io_t* w;                      /* whose poll it is; NULL: none */
  uint32_t gen;
  uint32_t events;
  int recheck_next;                 /* on the recheck list: next fd + 1 */
  int rechecking;
  unsigned int reap_seq;            /* the reap that last reported it */
  int reap_index;                   /* ... at this place in events */
};

struct nl__mpoll {
  int fd;
  struct nl__ring_queues q;
  int taskrun_flag;                 /* the kernel says when work waits */
  unsigned int nslots;
  struct mp_slot* slots;            /* by descriptor number */
  int recheck_head;                 /* fd + 1, 0: none */
  unsigned int reap_seq;
};

static int mp_setup(struct nl__mpoll* m) {
  struct io_uring_params p;
  int fd;

  /* COOP_TASKRUN: the kernel's work for a wakeup (posting the
   * completion) waits for the loop thread's next system call instead of
   * interrupting it; TASKRUN_FLAG says in memory that some is waiting. */
  memset(&p, 0, sizeof(p));
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG;
  p.cq_entries = MP_CQ_ENTRIES;
  fd = uv__ring_setup(MP_SQ_ENTRIES, &p);   /* before 5.19: interrupts */
  if (fd < 0)
    return -1;
  m->taskrun_flag = (p.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
  m->fd = fd;
  /* Waits with a timeout (5.11), completions never dropped (5.5), one
   * map (5.4); CQE_SKIP (5.17) stands for multishot polls (5.13). */
  if (!(p.features & IORING_FEAT_EXT_ARG) ||
      !(p.features & IORING_FEAT_NODROP) ||
      !(p.features & IORING_FEAT_SINGLE_MMAP) ||
      !(p.features & IORING_FEAT_CQE_SKIP))
    return -1;
  return uv__ring_map(fd, &p, &m->q);
}

/* The kernel's half only: in a forked child this leaves the parent's
 * polls alone (the parent still holds the ring). */
static void mp_close_kernel(struct nl__mpoll* m) {
  uv__ring_unmap(&m->q);
  if (m->fd >= 0)
    uv__close(m->fd);
  m->fd = -1;
}

void uv__mpoll_close(uv_loop_t* loop) {
  struct nl__mpoll* m = loop->mpoll;

  if (m == NULL)
    return;
  loop->mpoll = NULL;
  mp_close_kernel(m);
  uv__free(m->slots);
  uv__free(m);
}

/* Made with the loop (uv__poller_init), after its epoll instance. No
 * ring, or a kernel without what this needs: the loop stays on epoll. */
void uv__mpoll_init(uv_loop_t* loop) {
  struct epoll_event e;
  struct nl__mpoll* m;

  if (uv__ring_poller() != UV__POLLER_POLL || uv__ring_mode() < 0 ||
      atomic_load_explicit(&uv__ring_refused, memory_order_relaxed))
    return;
  m = uv__calloc(1, sizeof(*m));
  if (m == NULL)
    return;
  m->fd = -1;
  loop->mpoll = m;
  memset(&e, 0, sizeof(e));
  e.events = EPOLLIN;
  e.data.fd = -1;   /* never dispatched: the loop does not wait on epoll */
  if (mp_setup(m) != 0 ||
      epoll_ctl(loop->backend_fd, EPOLL_CTL_ADD, m->fd, &e) != 0)
    uv__mpoll_close(loop);
}

int uv__mpoll_fd(const uv_loop_t* loop) {
  return loop->mpoll != NULL ? loop->mpoll->fd : -1;
}

/* Submits what is written; no wait. 0, or -1 if the kernel refused. */
static int mp_submit(struct nl__mpoll* m) {
  unsigned int n;
  int rc;

  __atomic_store_n(m->q.sq_ktail, m->q.sq_tail, __ATOMIC_RELEASE);
  for (;;) {
    n = m->q.sq_tail - __atomic_load_n(m->q.sq_khead, __ATOMIC_ACQUIRE);
    if (n == 0)
      return 0;
    rc = uv__ring_enter(m->fd, n, 0, 0);
    if (rc == 0 || (rc < 0 && errno != EINTR))
      return -1;
  }
}

/* Room for one entry; submits to make it if the queue is full. NULL if
 * the kernel refuses (the caller gives up the ring). */
static struct io_uring_sqe* mp_sqe(struct nl__mpoll* m, int op,
                                   uint64_t data) {
  struct io_uring_sqe* sqe;

  if (m->q.sq_tail - __atomic_load_n(m->q.sq_khead, __ATOMIC_ACQUIRE) >=
          MP_SQ_ENTRIES &&
      mp_submit(m) != 0)
    return NULL;
  sqe = &m->q.sqes[m->q.sq_tail & m->q.sq_mask];
  memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = (unsigned char) op;
  sqe->user_data = data;
  /* A removal or update that succeeds posts nothing, so it cannot end the
   * wait it is submitted with. */
  if (data & MP_CTL)
    sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
  m->q.sq_tail++;
  return sqe;
}

static uint64_t mp_data(const struct mp_slot* s, int fd) {
  return (uint64_t) (s->gen & MP_GEN_MASK) << 32 | (uint32_t) fd;
}

static int mp_grow(struct nl__mpoll* m, int fd) {
  unsigned int n = m->nslots;
  struct mp_slot* t;

  if ((unsigned int) fd < n)
    return 0;
  n = n == 0 ? 64 : n;
  while (n <= (unsigned int) fd)
    n *= 2;
  t = uv__realloc(m->slots, n * sizeof(*t));
  if (t == NULL)
    return -1;
  memset(t + m->nslots, 0, (n - m->nslots) * sizeof(*t));
  m->slots = t;
  m->nslots = n;
  return 0;
}

/* Removes the poll of slot s (descriptor fd). Its last completions carry
 * the old generation and are dropped. */
static int mp_remove(struct nl__mpoll* m, struct mp_slot* s, int fd) {
  struct io_uring_sqe* sqe;

  sqe = mp_sqe(m, IORING_OP_POLL_REMOVE, MP_CTL);
  if (sqe == NULL)
    return -1;
  sqe->addr = mp_data(s, fd);
  s->gen++;
  s->w = NULL;
  s->events = 0;
  return 0;
}

/* Gives the poll of slot s new events; the kernel also looks at the
 * file again and posts at once if it is ready. */
static int mp_update(struct nl__mpoll* m, struct mp_slot* s, int fd,
                     unsigned int events) {
  struct io_uring_sqe* sqe;

  sqe = mp_sqe(m, IORING_OP_POLL_REMOVE, MP_CTL);
  if (sqe == NULL)
    return -1;
  sqe->addr = mp_data(s, fd);
  sqe->len = IORING_POLL_UPDATE_EVENTS | IORING_POLL_ADD_MULTI;
  sqe->poll32_events = events;
  return 0;
}

/* Hands watcher w's interest to the kernel: ADD, UPDATE or REMOVE. */
static int mp_change(struct nl__mpoll* m, uv__io_t* w) {
  struct io_uring_sqe* sqe;
  struct mp_slot* s;
  /* Every ring's poll of a shared listener is woken: no exclusive mark. */
  unsigned int want = w->wanted & ~UV__POLLEXCL;
  int fd = w->fd;

  if (mp_grow(m, fd) != 0)
    return -1;
  s = &m->slots[fd];
  /* Another watcher's poll on the number (stopped, not closed): it goes
   * first, and that watcher is registered no more. */
  if (s->w != NULL && s->w != w) {
    s->w->armed = 0;
    if (mp_remove(m, s, fd) != 0)
      return -1;
  }
  /* A rearm (uv__io_rearm): the number may name another file now. */
  if (s->w == w && (want == 0 || (w->armed & UV__IO_REARM)))
    if (mp_remove(m, s, fd) != 0)
      return -1;
  w->armed = 0;
  if (want == 0)
    return 0;
  if (s->w == NULL) {
    sqe = mp_sqe(m, IORING_OP_POLL_ADD, mp_data(s, fd));
    if (sqe == NULL)
      return -1;
    sqe->fd = fd;
    sqe->len = IORING_POLL_ADD_MULTI;
    sqe->poll32_events = want;   /* the bits are epoll's and poll's */
  } else if (s->events != want && mp_update(m, s, fd, want) != 0) {
    return -1;
  }
  s->w = w;
  s->events = want;
  w->armed = w->wanted;
  return 0;
}

/* Gives up the ring for this loop: every watcher goes back to epoll,
 * registered afresh, and closing the ring ends its polls. */
static void mp_abandon(uv_loop_t* loop) {
  epoll_ctl(loop->backend_fd, EPOLL_CTL_DEL, loop->mpoll->fd, NULL);
  uv__mpoll_fork(loop);   /* drops the ring and every watcher's mark */
  uv__io_forget_all(loop);
}

/* The changes, then the rechecks: written just before the wait, so
 * that the kernel looks at the files after the callbacks have read. */
static int mp_apply(uv_loop_t* loop, struct nl__mpoll* m) {
  struct uv__queue* q;
  struct mp_slot* s;
  uv__io_t* w;
  int fd;

  while (!uv__queue_empty(&loop->watcher_queue)) {
    q = uv__queue_head(&loop->watcher_queue);
    w = uv__container_of(q, uv__io_t, change_node);
    if (w->wanted != w->armed && mp_change(m, w) != 0)
      return -1;
    uv__queue_remove(q);
  }
  while (m->recheck_head != 0) {
    fd = m->recheck_head - 1;
    s = &m->slots[fd];
    if (s->w != NULL && mp_update(m, s, fd, s->events) != 0)
      return -1;
    m->recheck_head = s->recheck_next;
    s->recheck_next = 0;
    s->rechecking = 0;
  }
  return 0;
}

/* A poll the kernel ended (no IORING_CQE_F_MORE): by a removal of ours
 * (old generation, dropped before this), an error, or its own reasons
 * (thread exit, memory). The watcher is registered again, or told of an
 * error as epoll.c does when epoll_ctl refuses. */
static void mp_ended(uv_loop_t* loop, struct mp_slot* s, int res) {
  uv__io_t* w = s->w;

  s->gen++;
  s->w = NULL;
  s->events = 0;
  if (w == NULL)
    return;
  w->armed = 0;
  if (w->wanted == 0)
    return;
  if (res < 0 && res != -ECANCELED) {
    w->fed_events = UV__POLLERR;
    uv__io_feed(loop, w);
  } else if (!uv__queue_linked(&w->change_node)) {
    uv__queue_insert_tail(&loop->watcher_queue, &w->change_node);
  }
}

/* Moves completions into events (epoll's layout: the mask, and user_data
 * whose low half is the descriptor, as data.fd). */
static int mp_reap(uv_loop_t* loop, struct nl__mpoll* m,
                   struct epoll_event* events, int maxevents) {
  struct io_uring_cqe* cqe;
  struct mp_slot* s;
  unsigned int head, tail;
  uint64_t data;
  int n = 0;
  int fd;

  m->reap_seq++;
  head = *m->q.cq_khead;
  tail = __atomic_load_n(m->q.cq_ktail, __ATOMIC_ACQUIRE);
  for (; head != tail && n < maxevents; head++) {
    cqe = &m->q.cqes[head & m->q.cq_mask];
    data = cqe->user_data;
    if (data & MP_CTL)
      continue;
    fd = (int) (uint32_t) data;
    if ((unsigned int) fd >= m->nslots)
      continue;
    s = &m->slots[fd];
    if ((uint32_t) (data >> 32) != (s->gen & MP_GEN_MASK))
      continue;   /* a poll removed since */
    if (!(cqe->flags & IORING_CQE_F_MORE))
      mp_ended(loop, s, cqe->res);
    if (cqe->res <= 0)
      continue;
    /* Each wakeup posts its own completion: several for one file in a
     * batch are one report, as epoll makes them (a second would find the
     * file drained or filled by the first's callback). */
    if (s->reap_seq == m->reap_seq &&
        events[s->reap_index].data.u64 == data) {
      events[s->reap_index].events |= (uint32_t) cqe->res;
      continue;
    }
    s->reap_seq = m->reap_seq;
    s->reap_index = n;
    events[n].events = (uint32_t) cqe->res;
    events[n].data.u64 = data;
    n++;
  }
  __atomic_store_n(m->q.cq_khead, head, __ATOMIC_RELEASE);
  return n;
}

int uv__mpoll_wait(uv_loop_t* loop, struct epoll_event* events,
                   int maxevents, int timeout) {
  struct nl__mpoll* m = loop->mpoll;
  unsigned int flags;
  unsigned int n;
  sigset_t set;
  int intr;
  int rc;

  if (mp_apply(loop, m) != 0)
    goto abandon;
  __atomic_store_n(m->q.sq_ktail, m->q.sq_tail, __ATOMIC_RELEASE);
  n = m->q.sq_tail - __atomic_load_n(m->q.sq_khead, __ATOMIC_ACQUIRE);
  if (*m->q.cq_khead != __atomic_load_n(m->q.cq_ktail, __ATOMIC_ACQUIRE))
    timeout = 0;   /* something to report already */
  flags = __atomic_load_n(m->q.sq_kflags, __ATOMIC_RELAXED);
  /* Nothing to submit, no wait, and no kernel work held for this thread
   * (the completions of wakeups it has not posted yet): the completion
   * queue in memory is the whole answer, without a system call. */
  if (n == 0 && timeout == 0 && m->taskrun_flag &&
      !(flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
    return mp_reap(loop, m, events, maxevents);

  if (loop->flags & UV__LOOP_BLOCK_SIGPROF) {
    /* The mask for the wait, as epoll.c gives epoll_pwait. */
    sigemptyset(&set);
    sigaddset(&set, SIGPROF);
  }
  rc = uv__ring_wait(&m->q, m->fd, n, timeout != 0 ? 1 : 0, timeout,
                     (loop->flags & UV__LOOP_BLOCK_SIGPROF) ? &set : NULL);
  intr = rc < 0 && errno == EINTR;
  if (rc < 0 && errno != EINTR && errno != ETIME && errno != EAGAIN &&
      errno != EBUSY)
    goto abandon;
  if (m->q.sq_tail != __atomic_load_n(m->q.sq_khead, __ATOMIC_ACQUIRE) &&
      mp_submit(m) != 0)
    goto abandon;
  rc = mp_reap(loop, m, events, maxevents);
  if (rc == 0 && timeout != 0 && intr) {
    errno = EINTR;
    return -1;
  }
  return rc;

abandon:
  mp_abandon(loop);
  return -2;
}

/* After a round's dispatch: polls of watchers that got what they still
 * want are looked at again by the next wait (see the top of the file). */
void uv__mpoll_recheck(uv_loop_t* loop, struct epoll_event* events, int n) {
  struct nl__mpoll* m = loop->mpoll;
  struct mp_slot* s;
  uv__io_t* w;
  int fd;
  int i;

  for (i = 0; i < n; i++) {
    fd = events[i].data.fd;
    if (fd < 0 || (unsigned int) fd >= m->nslots)
      continue;   /* closed in this round */
    s = &m->slots[fd];
    if (s->w == NULL || s->rechecking)
      continue;
    /* A change waiting for the next poll looks at the file anyway. A
     * watcher stopped in this round (its event dropped) and started
     * again before the poll must not lose the edge: looked at too. */
    w = (unsigned int) fd < loop->nwatchers ? loop->watchers[fd] : NULL;
    if (w == s->w && w->wanted != w->armed)
      continue;
    s->rechecking = 1;
    s->recheck_next = m->recheck_head;
    m->recheck_head = fd + 1;
  }
}

/* uv__io_close: the poll goes now, so that closing the descriptor closes
 * the file. */
void uv__mpoll_invalidate(uv_loop_t* loop, int fd) {
  struct nl__mpoll* m = loop->mpoll;

  if ((unsigned int) fd >= m->nslots || m->slots[fd].w == NULL)
    return;
  if (mp_remove(m, &m->slots[fd], fd) != 0 || mp_submit(m) != 0)
    mp_abandon(loop);
}

/* uv_run() returns: polls of stopped watchers go now, since each holds
 * its file open (a program may close the descriptor and not run the loop
 * again); the rest waits for the next poll. */
void uv__mpoll_flush(uv_loop_t* loop) {
  struct nl__mpoll* m = loop->mpoll;
  struct uv__queue* q;
  struct uv__queue* next;
  uv__io_t* w;

  if (m == NULL)
    return;
  for (q = uv__queue_head(&loop->watcher_queue);
       q != &loop->watcher_queue; q = next) {
    next = uv__queue_next(q);
    w = uv__container_of(q, uv__io_t, change_node);
    if (w->wanted != 0 || w->armed == 0)
      continue;
    if (mp_change(m, w) != 0)
      goto abandon;
    uv__queue_remove(q);
  }
  if (m->q.sq_tail != *m->q.sq_ktail && mp_submit(m) != 0)
    goto abandon;
  return;

abandon:
  mp_abandon(loop);
}

/* Before a spin: the changes and rechecks go to the kernel now, without a
 * wait, so that uv__mpoll_ready() covers every watcher while the loop
 * spins. */
void uv__mpoll_submit(uv_loop_t* loop) {
  struct nl__mpoll* m = loop->mpoll;

  if (m == NULL)
    return;
  if (mp_apply(loop, m) != 0 ||
      (m->q.sq_tail != *m->q.sq_ktail && mp_submit(m) != 0))
    mp_abandon(loop);
}

/* Whether rechecks wait for a poll (uv_backend_timeout): an embedder
 * must run the loop before it blocks on uv_backend_fd(). */
int uv__mpoll_pending(const uv_loop_t* loop) {
  const struct nl__mpoll* m = loop->mpoll;

  return m != NULL && m->recheck_head != 0;
}

/* Whether completions wait (or the kernel's work that posts them): the
 * poll must fetch them, or the ring's descriptor stays readable. */
int uv__mpoll_ready(const uv_loop_t* loop) {
  const struct nl__mpoll* m = loop->mpoll;

  if (m == NULL)
    return 0;
  return m->recheck_head != 0 ||
         *m->q.cq_khead != __atomic_load_n(m->q.cq_ktail, __ATOMIC_ACQUIRE) ||
         (__atomic_load_n(m->q.sq_kflags, __ATOMIC_RELAXED) &
          (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
}

/* Drops the ring without touching its polls (in a forked child they are
 * the parent's), and the marks of the watchers that had one, stopped ones
 * included: the caller registers every running watcher again. */
void uv__mpoll_fork(uv_loop_t* loop) {
  struct nl__mpoll* m = loop->mpoll;
  unsigned int i;

  if (m == NULL)
    return;
  for (i = 0; i < m->nslots; i++)
    if (m->slots[i].w != NULL)
      m->slots[i].w->armed = 0;
  uv__mpoll_close(loop);
}
