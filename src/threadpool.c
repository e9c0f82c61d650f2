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

#include <string.h>

#include <stdlib.h>

#define UV__POOL_DEFAULT_SIZE 4
#define UV__POOL_MAX_SIZE 1024

static struct {
  uv_once_t once;
  uv_mutex_t mutex;
  uv_cond_t cond;
  uv_thread_t* threads;
  unsigned int nthreads;
  unsigned int idle;              /* threads waiting on cond */
  unsigned int slow_running;
  unsigned int slow_max;          /* half the threads, at least one */
  int stopping;
  struct uv__queue queue;         /* submitted, not started, in order */
  struct uv__queue slow_waiting;  /* slow items held back by slow_max */
} pool = {UV_ONCE_INIT};

/* Slow items (DNS) are tagged in the low bit of their loop pointer, which
 * is always clear in a real pointer, so the item needs no extra field. */
static uv_loop_t* item_loop(const struct uv__work* w) {
  return (uv_loop_t*) ((uintptr_t) w->loop & ~(uintptr_t) 1);
}

static int item_is_slow(const struct uv__work* w) {
  return ((uintptr_t) w->loop & 1) != 0;
}

/* Put in place of the work function of a cancelled item; never runs. */
static void cancelled_marker(struct uv__work* w) {
  (void) w;
  abort();
}

/* Hands a finished (or cancelled) item to its loop. Only the first item
 * of a batch writes to the loop's wakeup descriptor; the loop takes the
 * whole batch when it wakes. */
static void post_done(struct uv__work* w) {
  uv_loop_t* loop = item_loop(w);
  int wake;

  uv_mutex_lock(&loop->wq_mutex);
  uv__queue_insert_tail(&loop->wq_done, &w->node);
  /* Atomic because the loop peeks at it without the lock between waits. */
  wake = !__atomic_exchange_n(&loop->wq_notified, 1, __ATOMIC_SEQ_CST);
  /* The wakeup happens under the lock: once it is released the loop may
   * run the completion and even be closed, so this thread must not touch
   * the loop after unlocking. */
  if (wake)
    uv__async_wake_if_waiting(loop);
  uv_mutex_unlock(&loop->wq_mutex);
}

static void worker(void* arg) {
  struct uv__queue* q;
  struct uv__work* w;
  int slow;

  (void) arg;
  uv_mutex_lock(&pool.mutex);
  for (;;) {
    while (uv__queue_empty(&pool.queue) && !pool.stopping) {
      pool.idle++;
      uv_cond_wait(&pool.cond, &pool.mutex);
      pool.idle--;
    }
    if (pool.stopping)
      break;
    q = uv__queue_head(&pool.queue);
    uv__queue_remove(q);
    w = uv__container_of(q, struct uv__work, node);
    slow = item_is_slow(w);
    if (slow) {
      if (pool.slow_running >= pool.slow_max) {
        uv__queue_insert_tail(&pool.slow_waiting, q);
        continue;
      }
      pool.slow_running++;
    }
    uv_mutex_unlock(&pool.mutex);

    w->work(w);

    uv_mutex_lock(&pool.mutex);
    /* No longer cancellable: see uv__work_cancel. */
    w->work = NULL;
    if (slow) {
      pool.slow_running--;
      if (!uv__queue_empty(&pool.slow_waiting)) {
        q = uv__queue_head(&pool.slow_waiting);
        uv__queue_remove(q);
        uv__queue_insert_head(&pool.queue, q);
      }
    }
    uv_mutex_unlock(&pool.mutex);
    post_done(w);
    uv_mutex_lock(&pool.mutex);
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

static void pool_init(void) {
  static int atfork_registered;
  unsigned int n = pool_size();
  unsigned int i;

  if (!atfork_registered) {
    atfork_registered = 1;
    pthread_atfork(NULL, NULL, reset_after_fork);
  }
  /* Without a lock, a condition variable or threads, nothing that uses
   * the pool can work: there is no way to report it to a caller of
   * uv_queue_work that expects the work to run, so give up loudly. */
  if (uv_mutex_init(&pool.mutex) != 0 || uv_cond_init(&pool.cond) != 0)
    abort();
  uv__queue_init(&pool.queue);
  uv__queue_init(&pool.slow_waiting);
  pool.threads = uv__calloc(n, sizeof(pool.threads[0]));
  if (pool.threads == NULL)
    abort();
  pool.slow_max = (n + 1) / 2;
  pool.stopping = 0;
  for (i = 0; i < n; i++) {
    if (uv_thread_create(&pool.threads[i], worker, NULL) != 0)
      break;
    pool.nthreads++;
  }
  if (pool.nthreads == 0)
    abort();
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

void uv__work_submit(uv_loop_t* loop, struct uv__work* w,
                     enum uv__work_kind kind,
                     void (*work)(struct uv__work* w),
                     void (*done)(struct uv__work* w, int status)) {
  uv_once(&pool.once, pool_init);
  w->work = work;
  w->done = done;
  w->loop = kind == UV__WORK_SLOW_IO
                ? (uv_loop_t*) ((uintptr_t) loop | 1)
                : loop;
  uv_mutex_lock(&pool.mutex);
  uv__queue_insert_tail(&pool.queue, &w->node);
  if (pool.idle > 0)
    uv_cond_signal(&pool.cond);
  uv_mutex_unlock(&pool.mutex);
}

/* An item can be cancelled while it waits in the queue; once a worker has
 * taken it, it runs to completion. */
int uv__work_cancel(uv_loop_t* loop, struct uv__work* w) {
  int cancellable;

  (void) loop;
  if (pool.nthreads == 0)
    return UV_EBUSY;
  uv_mutex_lock(&pool.mutex);
  cancellable = w->work != NULL && w->work != cancelled_marker &&
                uv__queue_linked(&w->node);
  if (cancellable) {
    uv__queue_remove(&w->node);
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
  int status;

  uv_mutex_lock(&loop->wq_mutex);
  uv__queue_move(&loop->wq_done, &batch);
  __atomic_store_n(&loop->wq_notified, 0, __ATOMIC_SEQ_CST);
  uv_mutex_unlock(&loop->wq_mutex);

  while (!uv__queue_empty(&batch)) {
    q = uv__queue_head(&batch);
    uv__queue_remove(q);
    w = uv__container_of(q, struct uv__work, node);
    status = w->work == cancelled_marker ? UV_ECANCELED : 0;
    w->work = NULL;
    w->loop = item_loop(w);
    nl__cb_enter(loop, w);
    w->done(w, status);
    nl__cb_leave(loop, w);
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
  uv__free(pool.threads);
  uv_mutex_destroy(&pool.mutex);
  uv_cond_destroy(&pool.cond);
  pool.threads = NULL;
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
  uv__req_unregister(req->loop);
  if (req->after_work_cb != NULL)
    req->after_work_cb(req, status);
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
  /* A request that never went to the pool (a synchronous fs call) has no
   * work function and nothing to cancel. */
  if (w->work == NULL)
    return UV_EBUSY;
  return uv__work_cancel(loop, w);
}

int uv_queue_work(uv_loop_t* loop, uv_work_t* req, uv_work_cb work_cb,
                  uv_after_work_cb after_work_cb) {
  if (loop == NULL || req == NULL || work_cb == NULL)
    return UV_EINVAL;
  uv__req_init(loop, (uv_req_t*) req, UV_WORK);
  uv__req_register(loop);
  req->loop = loop;
  req->work_cb = work_cb;
  req->after_work_cb = after_work_cb;
  uv__work_submit(loop, &req->work_req, UV__WORK_CPU, user_work, user_done);
  return 0;
}
