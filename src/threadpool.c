/* The worker pool, shared by every loop of the process: blocking work
 * (file system, DNS, user jobs) runs on its threads, and each item's
 * completion goes back to the loop that submitted it.
 *
 * Global state, kept in this one file: the queue, the threads, and their
 * lock. It starts on first use, is reset in a forked child (whose copy has
 * no threads) and is torn down by uv_library_shutdown().
 *
 * Lock order: pool.mutex before loop->wq_mutex.
 */
#include "internal.h"
#include "dispatch.h"
#include "threadpool.h"
#include "uring.h"
#include "observe.h"

#include <stdlib.h>
#include <string.h>

#define UV__POOL_DEFAULT_SIZE 4
#define UV__POOL_MAX_SIZE 1024
/* The longest a worker looks for work before it sleeps (wait_for_work):
 * the next item it waits for comes from a callback of the loop; one that
 * takes longer than this before it submits dwarfs the wakeup the look
 * saves, and a loop with a large spin budget (NODELOOP_SPIN_US) may have
 * nothing more to submit at all. */
#define UV__POOL_LOOK_MAX_NS ((uint64_t) 50 * 1000)

/* The thread table is static, so that the pool starts without allocating:
 * a program whose allocator fails (uv_replace_allocator) still gets its
 * work done, as with libuv. */
static struct {
  uv_once_t once;
  uv_mutex_t mutex;
  uv_cond_t cond;
  uv_thread_t threads[UV__POOL_MAX_SIZE];
  unsigned int nthreads;
  unsigned int idle;              /* threads waiting on cond */
  unsigned int spinning;          /* threads looking for work unlocked */
  unsigned int cpus;              /* uv_available_parallelism() at start */
  unsigned int slow_running;
  unsigned int slow_max;          /* half the threads, at least one */
  int stopping;
  struct uv__queue queue;         /* submitted, not started, in order */
  struct uv__queue slow_waiting;  /* slow items, in order */
  struct uv__queue slow_turn;     /* on queue: the next slow item's turn */
  unsigned int queued;            /* items in the two queues */
  unsigned int busy;              /* workers running an item */
} pool = {UV_ONCE_INIT};

/* An item's request type (NL_WORK_* + 1) is kept in the low three bits of
 * its loop pointer, always clear in a real one (the loop is 8-aligned):
 * the item needs no extra field to be known as DNS (slow) or to lead back
 * to its request. */
#define ITEM_TAG_MASK ((uintptr_t) 7)

static uv_loop_t* item_loop(const struct uv__work* w) {
  return (uv_loop_t*) ((uintptr_t) w->loop & ~ITEM_TAG_MASK);
}

static int item_wkind(const struct uv__work* w) {
  return (int) ((uintptr_t) w->loop & ITEM_TAG_MASK) - 1;
}

static int item_is_slow(const struct uv__work* w) {
  int wkind = item_wkind(w);
  return wkind == NL_WORK_GETADDRINFO || wkind == NL_WORK_GETNAMEINFO;
}

static uv_req_t* item_req(struct uv__work* w) {
  static const size_t offsets[NL_WORK_KIND_COUNT] = {
      [NL_WORK_FS] = offsetof(uv_fs_t, work_req),
      [NL_WORK_USER] = offsetof(uv_work_t, work_req),
      [NL_WORK_GETADDRINFO] = offsetof(uv_getaddrinfo_t, work_req),
      [NL_WORK_GETNAMEINFO] = offsetof(uv_getnameinfo_t, work_req),
      [NL_WORK_RANDOM] = offsetof(uv_random_t, work_req),
  };
  return (uv_req_t*) ((char*) w - offsets[item_wkind(w)]);
}

/* Pool lock held. */
static void count_queued(int delta) {
  __atomic_store_n(&pool.queued, pool.queued + (unsigned int) delta,
                   __ATOMIC_RELAXED);
}

static void count_busy(int delta) {
  __atomic_store_n(&pool.busy, pool.busy + (unsigned int) delta,
                   __ATOMIC_RELAXED);
}

void uv__work_stats(unsigned int* queued, unsigned int* busy,
                    unsigned int* threads) {
  *queued = __atomic_load_n(&pool.queued, __ATOMIC_RELAXED);
  *busy = __atomic_load_n(&pool.busy, __ATOMIC_RELAXED);
  *threads = __atomic_load_n(&pool.nthreads, __ATOMIC_RELAXED);
}

/* Put in place of the work function of a cancelled item; never runs. */
static void cancelled_marker(struct uv__work* w) {
  (void) w;
  abort();
}

/* Hands a finished (or cancelled) item to its loop. Only the first item
 * of a batch writes to the loop's wakeup descriptor; the loop takes the
 * whole batch when it wakes. Returns how long (ns) the worker should look
 * for the loop's next item before it sleeps: the loop's spin budget while
 * that loop spins, else 0 (see wait_for_work). */
static uint64_t post_done(struct uv__work* w) {
  uv_loop_t* loop = item_loop(w);
  unsigned int seen = 0;
  uint64_t spin_ns;
  int wake;

  uv_mutex_lock(&loop->wq_mutex);
  spin_ns = 0;
  if (__atomic_load_n(&loop->spin.pool, __ATOMIC_RELAXED))
    spin_ns = (uint64_t) loop->spin.budget_us * 1000;
  if (spin_ns > UV__POOL_LOOK_MAX_NS)
    spin_ns = UV__POOL_LOOK_MAX_NS;
  uv__queue_insert_tail(&loop->wq_done, &w->node);
  /* Atomic because the loop peeks at it without the lock between waits. */
  wake = !__atomic_exchange_n(&loop->wq_notified, 1, __ATOMIC_SEQ_CST);
  if (wake && uv__async_wake_begin(loop))
    seen = __atomic_load_n(&loop->wq_taken, __ATOMIC_RELAXED);
  else
    wake = 0;
  uv_mutex_unlock(&loop->wq_mutex);
  /* Once unlocked, the loop may run the completion, free the request and
   * even be closed; the write comes after the unlock all the same, so
   * that the loop it wakes does not block on the lock this thread holds,
   * and uv_loop_close() waits for it. */
  if (wake)
    uv__async_wake_end(loop, &loop->wq_taken, seen);
  return spin_ns;
}

/* A loop that spins catches this completion at once, and its callback
 * often submits the next item within microseconds (one stat after
 * another, say). A worker asleep by then costs the loop a wakeup (a
 * futex system call) and the item the time the kernel takes to wake a
 * thread: tens of microseconds on some VMs, several times the work. So
 * while its loop spins, a worker that finds nothing to do looks for work
 * for as long as the loop would (at most UV__POOL_LOOK_MAX_NS), before it
 * sleeps. Whether that pays is the loop's judgement (src/async.c), which
 * samples callbacks per second with both spins and with neither. Called
 * with the pool unlocked; returns with it locked. */
static void wait_for_work(uint64_t spin_ns) {
  uint64_t start;
  int i;

  uv_mutex_lock(&pool.mutex);
  /* Only while a CPU is free for it besides the loop and the busy
   * workers: a spinner that takes a CPU from them slows the very loop
   * that is to submit the next item. One is enough to take that item. */
  if (spin_ns == 0 || !uv__queue_empty(&pool.queue) || pool.stopping ||
      pool.spinning != 0 || pool.busy + 2 > pool.cpus)
    return;
  /* Counted, so that a submission finds it and does not wake a sleeper. */
  pool.spinning++;
  uv_mutex_unlock(&pool.mutex);
  start = uv__hrtime_ns();
  do {
    for (i = 0; i < 64; i++) {
      if (__atomic_load_n(&pool.queued, __ATOMIC_RELAXED) != 0)
        goto found;
      uv__cpu_relax();
    }
  } while (uv__hrtime_ns() - start < spin_ns);
found:
  /* The queue is looked at again under the lock: an item submitted after
   * the last look, when this thread no longer counted, woke a sleeper. */
  uv_mutex_lock(&pool.mutex);
  pool.spinning--;
}

/* Pool lock held. Takes the next item a worker may start off its queue,
 * or returns NULL. Slow items (DNS) wait in a list of their own and take
 * turns with the rest: the main queue holds one turn for them while any
 * wait (submission queues it). A worker that reaches the turn starts the
 * first of them, and puts the turn back at the tail if more wait, behind
 * what was queued meanwhile. While half the threads run slow items, a
 * worker that reaches the turn moves it to the tail and takes the item
 * behind it, as libuv does. */
static struct uv__work* take_item(int* slow) {
  struct uv__queue* q;

  *slow = 0;
  for (;;) {
    if (uv__queue_empty(&pool.queue))
      return NULL;
    q = uv__queue_head(&pool.queue);
    if (q != &pool.slow_turn)
      break;
    if (pool.slow_running >= pool.slow_max) {
      if (uv__queue_next(q) == &pool.queue)
        return NULL;   /* nothing else: it waits for a slow item to end */
      uv__queue_remove(q);
      uv__queue_insert_tail(&pool.queue, q);
      q = uv__queue_head(&pool.queue);
      break;
    }
    uv__queue_remove(q);
    if (uv__queue_empty(&pool.slow_waiting))
      continue;   /* they were cancelled */
    q = uv__queue_head(&pool.slow_waiting);
    uv__queue_remove(q);
    if (!uv__queue_empty(&pool.slow_waiting))
      uv__queue_insert_tail(&pool.queue, &pool.slow_turn);
    pool.slow_running++;
    *slow = 1;
    return uv__container_of(q, struct uv__work, node);
  }
  uv__queue_remove(q);
  return uv__container_of(q, struct uv__work, node);
}

static void worker(void* arg) {
  struct uv__work* w = NULL;   /* set by take_item unless stopping */
  uv_req_t* req;
  uint64_t start;
  int slow = 0;

  (void) arg;
  uv_mutex_lock(&pool.mutex);
  for (;;) {
    while (!pool.stopping && (w = take_item(&slow)) == NULL) {
      pool.idle++;
      uv_cond_wait(&pool.cond, &pool.mutex);
      pool.idle--;
    }
    if (pool.stopping)
      break;
    count_queued(-1);
    count_busy(1);
    uv_mutex_unlock(&pool.mutex);

    /* Items of observed loops carry their submit time (observe.h). */
    req = item_req(w);
    start = 0;
    if (req->reserved[NL__REQ_SUBMIT] != NULL)
      start = nl__obs_work_begin(req);
    w->work(w);
    if (start != 0)
      nl__obs_work_end(req, item_wkind(w), start, -1);

    uv_mutex_lock(&pool.mutex);
    count_busy(-1);
    /* No longer cancellable: see uv__work_cancel. Atomic: the loop thread
     * looks at it without the lock to tell ring requests from the pool's
     * (uv__ring_fs_cancel). */
    __atomic_store_n(&w->work, NULL, __ATOMIC_RELAXED);
    if (slow)
      pool.slow_running--;   /* a turn held back is due now */
    uv_mutex_unlock(&pool.mutex);
    wait_for_work(post_done(w));
  }
  uv_mutex_unlock(&pool.mutex);
}

static unsigned int pool_size(void) {
  const char* s = getenv("UV_THREADPOOL_SIZE");
  long n;

  if (s == NULL || *s == '\0')
    return UV__POOL_DEFAULT_SIZE;
  n = strtol(s, NULL, 10);
  if (n < 1)
    n = 1;
  if (n > UV__POOL_MAX_SIZE)
    n = UV__POOL_MAX_SIZE;
  return (unsigned int) n;
}

static void reset_after_fork(void);

/* The lock, the condition and the queues; the threads start with the
 * first submission (start_threads). */
static void pool_init(void) {
  static int atfork_registered;

  if (!atfork_registered) {
    atfork_registered = 1;
    pthread_atfork(NULL, NULL, reset_after_fork);
  }
  /* glibc's mutex and condition initialisers cannot fail for these
   * attributes; without them no pool could work at all. */
  if (uv_mutex_init(&pool.mutex) != 0 || uv_cond_init(&pool.cond) != 0)
    abort();
  uv__queue_init(&pool.queue);
  uv__queue_init(&pool.slow_waiting);
  uv__queue_init(&pool.slow_turn);
}

/* Pool lock held. Starts as many threads as it can, up to the configured
 * number; if none starts (no memory for a stack, RLIMIT_NPROC), returns
 * the error, and the next submission tries again. */
static int start_threads(void) {
  unsigned int n = pool_size();
  unsigned int i;
  int err = 0;

  pool.stopping = 0;
  pool.cpus = uv_available_parallelism();
  for (i = 0; i < n; i++) {
    err = uv_thread_create(&pool.threads[i], worker, NULL);
    if (err != 0)
      break;
    pool.nthreads++;
  }
  if (pool.nthreads == 0)
    return err;
  /* Workers read it only once this thread unlocks. With fewer threads
   * than asked for, DNS still gets only half. */
  pool.slow_max = (pool.nthreads + 1) / 2;
  return 0;
}

/* The child of a fork() has the pool's memory but none of its threads:
 * forget it all, so that the first use in the child starts a fresh pool.
 * Items the parent had queued are not run in the child. */
static void reset_after_fork(void) {
  static const uv_once_t fresh = UV_ONCE_INIT;
  if (pool.nthreads == 0)
    return;
  memset(&pool, 0, sizeof(pool));
  pool.once = fresh;
}

int uv__work_submit(uv_loop_t* loop, void* req, struct uv__work* w,
                    int wkind,
                    void (*work)(struct uv__work* w),
                    void (*done)(struct uv__work* w, int status)) {
  struct nl__obs* o;
  int slow;
  int err;

  uv_once(&pool.once, pool_init);
  uv__req_register(loop, req);
  w->work = work;
  w->done = done;
  w->loop = (uv_loop_t*) ((uintptr_t) loop | (uintptr_t) (wkind + 1));
  assert(item_req(w) == req);
  ((uv_req_t*) req)->reserved[NL__REQ_SUBMIT] = NULL;
  o = nl__obs_of(loop);
  if (o != NULL)
    nl__obs_work_submit(o, req, wkind);
  uv_mutex_lock(&pool.mutex);
  if (pool.nthreads == 0) {
    err = start_threads();
    if (err != 0) {
      uv_mutex_unlock(&pool.mutex);
      w->work = NULL;
      ((uv_req_t*) req)->reserved[NL__REQ_SUBMIT] = NULL;
      uv__req_unregister(loop, req);
      return err;
    }
  }
  slow = item_is_slow(w);
  if (slow) {
    uv__queue_insert_tail(&pool.slow_waiting, &w->node);
    if (!uv__queue_linked(&pool.slow_turn))
      uv__queue_insert_tail(&pool.queue, &pool.slow_turn);
  } else {
    uv__queue_insert_tail(&pool.queue, &w->node);
  }
  count_queued(1);
  /* A worker looking for work takes this item without a wakeup; a slow
   * item held back by the others wakes nobody. */
  if (pool.idle > 0 && pool.queued > pool.spinning &&
      (!slow || pool.slow_running < pool.slow_max))
    uv_cond_signal(&pool.cond);
  uv_mutex_unlock(&pool.mutex);
  return 0;
}

/* An item can be cancelled while it waits in the queue; once a worker has
 * taken it, it runs to completion. Every field it looks at is read under
 * the pool lock, which the workers hold when they change them. */
int uv__work_cancel(uv_loop_t* loop, struct uv__work* w) {
  int cancellable;

  (void) loop;
  uv_once(&pool.once, pool_init);
  uv_mutex_lock(&pool.mutex);
  cancellable = w->work != NULL && w->work != cancelled_marker &&
                uv__queue_linked(&w->node);
  if (cancellable) {
    uv__queue_remove(&w->node);
    count_queued(-1);
    w->work = cancelled_marker;
  }
  uv_mutex_unlock(&pool.mutex);
  if (!cancellable)
    return UV_EBUSY;
  post_done(w);
  return 0;
}

/* Runs on the loop thread when its wakeup descriptor fires: the after
 * callbacks of everything finished since the last time. */
void uv__work_done(uv_loop_t* loop) {
  struct uv__queue batch;
  struct uv__queue* q;
  struct uv__work* w;
  struct nl__obs* o;
  uv_req_t* req;
  int status;

  /* Nothing delivered: a worker raises the flag, under the lock, with
   * every completion it adds, and only this thread lowers it. */
  if (!__atomic_load_n(&loop->wq_notified, __ATOMIC_SEQ_CST))
    return;
  uv_mutex_lock(&loop->wq_mutex);
  uv__queue_move(&loop->wq_done, &batch);
  __atomic_store_n(&loop->wq_notified, 0, __ATOMIC_SEQ_CST);
  if (!uv__queue_empty(&batch))
    __atomic_add_fetch(&loop->wq_taken, 1, __ATOMIC_SEQ_CST);
  uv_mutex_unlock(&loop->wq_mutex);

  while (!uv__queue_empty(&batch)) {
    q = uv__queue_head(&batch);
    uv__queue_remove(q);
    w = uv__container_of(q, struct uv__work, node);
    /* What a spin before the wait could have caught (see async.c). */
    loop->spin.events++;
    status = w->work == cancelled_marker ? UV_ECANCELED : 0;
    w->work = NULL;
    req = item_req(w);
    o = nl__obs_of(loop);
    if (o != NULL && req->reserved[NL__REQ_SUBMIT] != NULL)
      nl__obs_work_done(o, req, item_wkind(w));
    w->loop = item_loop(w);
    /* The done functions dispatch the user's callback (dispatch.h). */
    w->done(w, status);
  }
}

/* The loop's own state for completions; the pool itself is global. */
int uv__work_loop_init(uv_loop_t* loop) {
  uv__queue_init(&loop->wq_done);
  __atomic_store_n(&loop->wq_notified, 0, __ATOMIC_RELAXED);
  return uv_mutex_init(&loop->wq_mutex);
}

void uv__work_loop_close(uv_loop_t* loop) {
  uv_mutex_destroy(&loop->wq_mutex);
}

/* A pool thread of the parent may have held the lock at the fork; the
 * child has no such thread, so the lock starts over. Completions already
 * delivered stay queued and run in the child. */
void uv__work_loop_fork(uv_loop_t* loop) {
  if (uv_mutex_init(&loop->wq_mutex) != 0)
    abort();
  __atomic_store_n(&loop->wq_notified, 0, __ATOMIC_RELAXED);
}

void uv__threadpool_shutdown(void) {
  unsigned int i;

  if (pool.nthreads == 0)
    return;
  uv_mutex_lock(&pool.mutex);
  pool.stopping = 1;
  uv_cond_broadcast(&pool.cond);
  uv_mutex_unlock(&pool.mutex);
  for (i = 0; i < pool.nthreads; i++)
    uv_thread_join(&pool.threads[i]);
  uv_mutex_destroy(&pool.mutex);
  uv_cond_destroy(&pool.cond);
  pool.nthreads = 0;
}

/* ---------------------------------------------------------------------
 * uv_queue_work: user jobs.
 */
static void user_work(struct uv__work* w) {
  uv_work_t* req = uv__container_of(w, uv_work_t, work_req);
  req->work_cb(req);
}

static void user_done(struct uv__work* w, int status) {
  uv_work_t* req = uv__container_of(w, uv_work_t, work_req);
  uv__req_unregister(req->loop, req);
  if (req->after_work_cb != NULL)
    uv__dispatch_after_work(req, status);
}

int uv_cancel(uv_req_t* req) {
  struct uv__work* w;
  uv_loop_t* loop;

  if (req == NULL)
    return UV_EINVAL;
  switch (req->type) {
    case UV_FS:
      loop = ((uv_fs_t*) req)->loop;
      w = &((uv_fs_t*) req)->work_req;
      if (uv__req_in_flight(req)) {
        int r = uv__ring_fs_cancel((uv_fs_t*) req);
        if (r != -1)
          return r;   /* the ring's, not the pool's */
      }
      break;
    case UV_GETADDRINFO:
      loop = ((uv_getaddrinfo_t*) req)->loop;
      w = &((uv_getaddrinfo_t*) req)->work_req;
      break;
    case UV_GETNAMEINFO:
      loop = ((uv_getnameinfo_t*) req)->loop;
      w = &((uv_getnameinfo_t*) req)->work_req;
      break;
    case UV_RANDOM:
      loop = ((uv_random_t*) req)->loop;
      w = &((uv_random_t*) req)->work_req;
      break;
    case UV_WORK:
      loop = ((uv_work_t*) req)->loop;
      w = &((uv_work_t*) req)->work_req;
      break;
    default:
      return UV_EINVAL;
  }
  /* A request that is not in flight (never submitted, a synchronous fs
   * call, already completed) has nothing to cancel. */
  if (!uv__req_in_flight(req))
    return UV_EBUSY;
  return uv__work_cancel(loop, w);
}

int uv_queue_work(uv_loop_t* loop, uv_work_t* req, uv_work_cb work_cb,
                  uv_after_work_cb after_work_cb) {
  if (loop == NULL || req == NULL || work_cb == NULL)
    return UV_EINVAL;
  /* Its fields are in use by a worker or on a queue: leave them alone. */
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  uv__req_init(loop, (uv_req_t*) req, UV_WORK);
  req->loop = loop;
  req->work_cb = work_cb;
  req->after_work_cb = after_work_cb;
  return uv__work_submit(loop, req, &req->work_req, NL_WORK_USER, user_work,
                         user_done);
}
