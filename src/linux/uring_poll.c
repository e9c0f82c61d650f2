/* The poller's use of the ring (NODELOOP_POLLER; the contract is in
 * uring.h): the loop's interest changes as IORING_OP_EPOLL_CTL entries
 * instead of one epoll_ctl call each.
 *
 *   ring-ctl  the changes go to the kernel in one io_uring_enter, then
 *             epoll_wait waits as before;
 *   ring      the changes, an IORING_OP_EPOLL_WAIT and its timeout go in
 *             one linked chain, submitted by the io_uring_enter that also
 *             waits for it: one system call for the whole poll.
 *
 * The ring is used only while no file request is in the kernel, so every
 * completion in the queue is the poller's, and each call reaps all of its
 * own before it returns: the kernel never holds the events array or a
 * wait after the poll, and no event outlives the round it was fetched in
 * (uv__poller_invalidate_fd keeps working as with epoll_wait).
 */
#include "internal.h"
#include "uring.h"
#include "uring_int.h"

#include <linux/time_types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define NL_OP_EPOLL_WAIT 59         /* Linux 6.15 */

/* user_data of the poller's entries; ring requests use slot numbers. */
#define POLL_TAG (1ULL << 63)

/* Changes per io_uring_enter; the wait and its timeout take the rest. */
#define POLL_BATCH (RING_ENTRIES - 2)

struct poll_batch {
  unsigned int nctl;
  uv__io_t* w[POLL_BATCH];
  int op[POLL_BATCH];
  struct epoll_event ev[POLL_BATCH];
};

/* NODELOOP_POLLER, read once. */
static atomic_int poller_env;

int uv__ring_poller(void) {
  int m = atomic_load_explicit(&poller_env, memory_order_relaxed);
  const char* env;

  if (m == 0) {
    env = getenv("NODELOOP_POLLER");
    m = UV__POLLER_EPOLL + 1;
    if (env != NULL && strcmp(env, "ring") == 0)
      m = UV__POLLER_RING + 1;
    else if (env != NULL && strcmp(env, "ring-ctl") == 0)
      m = UV__POLLER_RING_CTL + 1;
    else if (env != NULL && strcmp(env, "poll") == 0)
      m = UV__POLLER_POLL + 1;
    atomic_store_explicit(&poller_env, m, memory_order_relaxed);
  }
  return m - 1;
}

/* The loop's ring if the poller may use it now, else NULL. */
static struct nl__ring* poll_ring(uv_loop_t* loop, int wait) {
  struct nl__ring* r;

  if (uv__ring_mode() < 0 ||
      atomic_load_explicit(&uv__ring_refused, memory_order_relaxed))
    return NULL;
  r = uv__ring_get(loop);
  if (r == NULL || r->fd < 0 || r->broken || r->poll_broken)
    return NULL;
  if (r->inflight != 0 || r->q.sq_tail != *r->q.sq_ktail ||
      !r->ops[IORING_OP_EPOLL_CTL])
    return NULL;
  /* The SIGPROF mask of uv_loop_configure() is epoll_pwait's. */
  if (wait && (!r->ops[NL_OP_EPOLL_WAIT] ||
               !r->ops[IORING_OP_LINK_TIMEOUT] ||
               (loop->flags & UV__LOOP_BLOCK_SIGPROF)))
    return NULL;
  return r;
}

static struct io_uring_sqe* poll_sqe(struct nl__ring* r, int op,
                                     unsigned int tag) {
  struct io_uring_sqe* sqe = &r->q.sqes[r->q.sq_tail & r->q.sq_mask];

  memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = (unsigned char) op;
  sqe->user_data = POLL_TAG | tag;
  r->q.sq_tail++;
  return sqe;
}

static void requeue(uv_loop_t* loop, uv__io_t* w) {
  if (!uv__queue_linked(&w->change_node))
    uv__queue_insert_tail(&loop->watcher_queue, &w->change_node);
}

/* Takes up to POLL_BATCH changes off the loop's queue into entries. */
static void batch_fill(uv_loop_t* loop, struct nl__ring* r,
                       struct poll_batch* b) {
  struct io_uring_sqe* sqe;
  struct uv__queue* q;
  uv__io_t* w;
  unsigned int i;

  b->nctl = 0;
  while (b->nctl < POLL_BATCH && !uv__queue_empty(&loop->watcher_queue)) {
    q = uv__queue_head(&loop->watcher_queue);
    uv__queue_remove(q);
    w = uv__container_of(q, uv__io_t, change_node);
    if (w->wanted == w->armed)
      continue;
    i = b->nctl++;
    b->w[i] = w;
    b->op[i] = uv__poller_ctl_op(w);
    memset(&b->ev[i], 0, sizeof(b->ev[i]));
    b->ev[i].events = w->wanted;
    b->ev[i].data.fd = w->fd;
    sqe = poll_sqe(r, IORING_OP_EPOLL_CTL, i);
    sqe->fd = loop->backend_fd;
    sqe->len = (unsigned int) b->op[i];
    sqe->off = (unsigned int) w->fd;
    sqe->addr = (uintptr_t) &b->ev[i];
  }
}

/* Reaps the poller's completions; returns how many. */
static unsigned int batch_reap(uv_loop_t* loop, struct nl__ring* r,
                               struct poll_batch* b, int* nev,
                               int* refused, int* cut) {
  struct io_uring_cqe* cqe;
  unsigned int head, tail, i, n = 0;
  uv__io_t* w;
  int res;

  for (;;) {
    head = *r->q.cq_khead;
    tail = __atomic_load_n(r->q.cq_ktail, __ATOMIC_ACQUIRE);
    if (head == tail)
      return n;
    cqe = &r->q.cqes[head & r->q.cq_mask];
    i = (unsigned int) (cqe->user_data & ~POLL_TAG);
    res = cqe->res;
    __atomic_store_n(r->q.cq_khead, head + 1, __ATOMIC_RELEASE);
    n++;
    if (i < b->nctl) {
      w = b->w[i];
      if (res == 0)
        w->armed = b->ev[i].events;
      else if (res == -ECANCELED)
        requeue(loop, w);   /* an earlier change in the chain failed */
      else {
        *cut = 1;
        *refused += uv__poller_ctl_failed(loop, w, b->op[i], -res);
      }
    } else if (i == b->nctl) {
      /* The wait: events, or cancelled by its timeout or a failed
       * change. What makes epoll_wait fail makes this fail too. */
      if (res == -EBADF || res == -EFAULT || res == -EINVAL)
        abort();   /* as in epoll.c: the loop's state is corrupt */
      *nev = res > 0 ? res : 0;
    }
    /* else its timeout, which says nothing the wait did not. */
  }
}

/* Submits the nsqe entries written since head0 and reaps every
 * completion they make. Returns 0, or -1 if the kernel took none (the
 * changes are back on the loop's queue). */
static int batch_run(uv_loop_t* loop, struct nl__ring* r,
                     struct poll_batch* b, unsigned int head0,
                     unsigned int nsqe, int* nev, int* refused, int* cut) {
  struct io_uring_sqe* sqe;
  unsigned int taken, got, i;
  int rc;
  int err;

  __atomic_store_n(r->q.sq_ktail, r->q.sq_tail, __ATOMIC_RELEASE);
  rc = uv__ring_wait(&r->q, r->fd, nsqe, nsqe, -1, NULL);
  err = rc < 0 ? errno : 0;
  taken = __atomic_load_n(r->q.sq_khead, __ATOMIC_ACQUIRE) - head0;
  if (taken < nsqe) {
    /* Entries the kernel did not look at: back to the loop's queue. A
     * refusal that will not pass (seccomp, a broken chain) leaves the
     * poller on epoll for good. */
    for (i = head0 + taken; i != r->q.sq_tail; i++) {
      sqe = &r->q.sqes[i & r->q.sq_mask];
      if ((sqe->user_data & ~POLL_TAG) < b->nctl)
        requeue(loop, b->w[sqe->user_data & ~POLL_TAG]);
    }
    __atomic_store_n(r->q.sq_ktail, head0 + taken, __ATOMIC_RELEASE);
    r->q.sq_tail = head0 + taken;
    if (taken > 0 || (err != EINTR && err != EAGAIN && err != EBUSY &&
                      err != ENOMEM))
      r->poll_broken = 1;
    if (taken == 0)
      return -1;
  }
  got = 0;
  for (;;) {
    got += batch_reap(loop, r, b, nev, refused, cut);
    if (got >= taken)
      return 0;
    /* A signal ended the wait, not the chain: wait for the rest (the
     * chain's timeout still bounds it). */
    rc = uv__ring_wait(&r->q, r->fd, 0, taken - got, -1, NULL);
    if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
      abort();   /* the ring holds the events array: no way out */
  }
}

int uv__ring_poll(uv_loop_t* loop, struct epoll_event* events,
                  int maxevents, int timeout, int* refused) {
  struct __kernel_timespec ts;
  struct io_uring_sqe* sqe;
  struct poll_batch b;
  struct nl__ring* r;
  unsigned int head0, nsqe, i;
  int nev = 0;
  int last;
  int cut;

  r = poll_ring(loop, events != NULL);
  if (r == NULL)
    return -2;
  for (;;) {
    head0 = r->q.sq_tail;
    batch_fill(loop, r, &b);
    last = uv__queue_empty(&loop->watcher_queue);
    nsqe = b.nctl;
    if (last && events != NULL) {
      /* A refused change must not be followed by a wait that blocks:
       * linked, its failure cancels the rest of the chain. */
      for (i = 0; i < b.nctl; i++)
        r->q.sqes[(head0 + i) & r->q.sq_mask].flags |= IOSQE_IO_LINK;
      sqe = poll_sqe(r, NL_OP_EPOLL_WAIT, b.nctl);
      sqe->fd = loop->backend_fd;
      sqe->addr = (uintptr_t) events;
      sqe->len = (unsigned int) maxevents;
      nsqe++;
      if (*refused > 0)
        timeout = 0;
      if (timeout >= 0) {
        /* The kernel cancels the wait itself when the time is up, so
         * that nothing is left in flight after this call. */
        sqe->flags |= IOSQE_IO_LINK;
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (long long) (timeout % 1000) * 1000000;
        sqe = poll_sqe(r, IORING_OP_LINK_TIMEOUT, b.nctl + 1);
        sqe->addr = (uintptr_t) &ts;
        sqe->len = 1;
        nsqe++;
      }
    }
    cut = 0;
    if (nsqe > 0 &&
        batch_run(loop, r, &b, head0, nsqe, &nev, refused, &cut) != 0)
      return -2;
    /* A failed change cut the chain, wait included: the changes it
     * cancelled are queued again, and the wait follows them as epoll's
     * would (without blocking if a change was refused). */
    if (last && !(cut && events != NULL))
      return nev;
  }
}
