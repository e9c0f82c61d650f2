/* The loop's life cycle: init and close, the default loop, configuration,
 * fork, and the small accessors of its state.
 */
#include "internal.h"
#include "uring.h"
#include "signals.h"
#include "threadpool.h"
#include "observe.h"

#include <signal.h>
#include <stdarg.h>
#include <string.h>

_Static_assert(sizeof(uv_loop_t) == 848, "uv_loop_t must keep libuv's size");
_Static_assert(sizeof(struct uv__queue) == 2 * sizeof(void*),
               "struct uv__queue must match libuv's void*[2] queues");

static uv_loop_t default_loop_struct;
static uv_loop_t* default_loop_ptr;

int uv_loop_init(uv_loop_t* loop) {
  void* saved_data;
  int err;

  if (loop == NULL)
    return UV_EINVAL;

  /* libuv keeps the user's data pointer across init; programs rely on it. */
  saved_data = loop->data;
  memset(loop, 0, sizeof(*loop));
  loop->data = saved_data;

  uv__queue_init(uv__queue_of(loop->handle_queue));
  uv__queue_init(&loop->pending_queue);
  uv__queue_init(&loop->watcher_queue);
  uv__queue_init(&loop->idle_handles);
  uv__queue_init(&loop->prepare_handles);
  uv__queue_init(&loop->check_handles);
  uv__queue_init(&loop->async_ready);
  uv__queue_init(&loop->process_handles);
  loop->backend_fd = -1;
  loop->async_fd = -1;
  loop->signal_pipefd[0] = -1;
  loop->signal_pipefd[1] = -1;
  loop->inotify_fd = -1;
  uv__update_time(loop);

  err = uv__work_loop_init(loop);
  if (err != 0)
    return err;
  err = uv__poller_init(loop);
  if (err != 0)
    goto fail_poller;
  err = uv__async_loop_init(loop);
  if (err != 0)
    goto fail_async;
  nl__obs_loop_init(loop);       /* NODELOOP_TRACE, _BLOCKED_MS, _STATS */
  return 0;

fail_async:
  uv__ring_close(loop);
  uv__poller_close(loop);
fail_poller:
  uv__work_loop_close(loop);
  return err;
}

int uv_loop_close(uv_loop_t* loop) {
  struct uv__queue* head;
  struct uv__queue* q;
  uv_handle_t* h;
  void* saved_data;

  if (loop == NULL)
    return UV_EINVAL;
  if (loop->flags & UV__LOOP_CLOSED)
    return 0;
  if (loop->active_reqs.count != 0)
    return UV_EBUSY;
  head = uv__queue_of(loop->handle_queue);
  for (q = uv__queue_head(head); q != head; q = uv__queue_next(q)) {
    h = uv__container_of(q, uv_handle_t, handle_queue);
    if (!(h->flags & UV__HANDLE_INTERNAL))
      return UV_EBUSY;
  }

  nl__obs_loop_close(loop);      /* observe.h: last report, free */
  uv__process_loop_close(loop);  /* process.c: the SIGCHLD watcher */
  uv__fs_event_loop_close(loop); /* linux/fs_event.c: inotify */
  uv__signal_loop_close(loop);   /* signal.c: the loop's signal pipe */
  uv__async_loop_close(loop);
  uv__ring_close(loop);          /* linux/uring.c: the io_uring */
  uv__poller_close(loop);
  uv__free(loop->watchers);
  loop->watchers = NULL;
  loop->nwatchers = 0;
  uv__work_loop_close(loop);

  if (loop == default_loop_ptr)
    default_loop_ptr = NULL;

  /* Scrub the private state so that use after close fails loudly, but
   * keep data and the closed mark. */
  saved_data = loop->data;
  memset(loop, 0, sizeof(*loop));
  loop->data = saved_data;
  loop->flags = UV__LOOP_CLOSED;
  loop->backend_fd = -1;
  loop->async_fd = -1;
  loop->signal_pipefd[0] = -1;
  loop->signal_pipefd[1] = -1;
  loop->inotify_fd = -1;
  uv__queue_init(uv__queue_of(loop->handle_queue));
  return 0;
}

/* Not thread-safe, as in libuv: the first call must not race another. */
uv_loop_t* uv_default_loop(void) {
  if (default_loop_ptr != NULL)
    return default_loop_ptr;
  if (uv_loop_init(&default_loop_struct) != 0)
    return NULL;
  default_loop_ptr = &default_loop_struct;
  return default_loop_ptr;
}

/* For the trace writer (trace.c), which names the default loop's thread:
 * true once uv_default_loop() has handed this loop out. */
int uv__loop_is_default(const uv_loop_t* loop);
int uv__loop_is_default(const uv_loop_t* loop) {
  return loop != NULL && loop == default_loop_ptr;
}

uv_loop_t* uv_loop_new(void) {
  uv_loop_t* loop = uv__malloc(sizeof(*loop));
  if (loop == NULL)
    return NULL;
  loop->data = NULL;
  if (uv_loop_init(loop) != 0) {
    uv__free(loop);
    return NULL;
  }
  return loop;
}

void uv_loop_delete(uv_loop_t* loop) {
  uv_loop_t* default_loop = default_loop_ptr;
  int err;

  if (loop == NULL)
    return;
  err = uv_loop_close(loop);
  (void) err;
  assert(err == 0);
  if (loop != default_loop)
    uv__free(loop);
}

int uv_loop_configure(uv_loop_t* loop, uv_loop_option option, ...) {
  va_list ap;
  int signum;

  if (loop == NULL)
    return UV_EINVAL;
  switch (option) {
    case UV_METRICS_IDLE_TIME:
      loop->flags |= UV__LOOP_METRICS_IDLE;
      return 0;
    case UV_LOOP_BLOCK_SIGNAL:
      va_start(ap, option);
      signum = va_arg(ap, int);
      va_end(ap);
      /* Only SIGPROF is supported, as in libuv: profilers send it often
       * enough to make every wait return early. */
      if (signum != SIGPROF)
        return UV_EINVAL;
      loop->flags |= UV__LOOP_BLOCK_SIGPROF;
      return 0;
    default:
      return UV_ENOSYS;
  }
}

/* Called in the child after fork(): everything that the parent and child
 * would otherwise share in the kernel is created again. */
int uv_loop_fork(uv_loop_t* loop) {
  int err;

  if (loop == NULL)
    return UV_EINVAL;
  uv__work_loop_fork(loop);
  uv__ring_fork(loop);           /* before the poller registers again */
  err = uv__poller_fork(loop);
  if (err != 0)
    return err;
  err = uv__async_loop_fork(loop);
  if (err != 0)
    return err;
  err = uv__fs_event_loop_fork(loop);  /* linux/fs_event.c: inotify */
  if (err != 0)
    return err;
  return uv__signal_loop_fork(loop);   /* signal.c: a pipe of its own */
}

int uv_backend_fd(const uv_loop_t* loop) {
  return loop != NULL ? loop->backend_fd : UV_EINVAL;
}

uint64_t uv_now(const uv_loop_t* loop) {
  return loop != NULL ? loop->time : 0;
}

void uv_update_time(uv_loop_t* loop) {
  if (loop != NULL)
    uv__update_time(loop);
}

uint64_t uv_metrics_idle_time(uv_loop_t* loop) {
  if (loop == NULL)
    return 0;
  return __atomic_load_n(&loop->idle_time, __ATOMIC_RELAXED);
}
