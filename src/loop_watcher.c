/* Idle, prepare and check handles: a callback once per loop iteration, in
 * the phase of their name. The three types share one layout and the list
 * logic below; only the callback calls are typed.
 *
 * Order within a phase: the most recently started handle runs first.
 * During a phase the list is detached and each handle is put back before
 * its callback runs, so a handle started from a callback of its own phase
 * waits for the next iteration and a stopped one does not run.
 */
#include "internal.h"
#include "dispatch.h"

_Static_assert(offsetof(uv_idle_t, queue) == offsetof(uv_prepare_t, queue),
               "same layout");
_Static_assert(offsetof(uv_idle_t, queue) == offsetof(uv_check_t, queue),
               "same layout");

static int watcher_init(uv_loop_t* loop, uv_handle_t* h, uv_handle_type type,
                        struct uv__queue* node) {
  if (loop == NULL || h == NULL)
    return UV_EINVAL;
  uv__handle_init(loop, h, type);
  uv__queue_init(node);
  return 0;
}

/* Returns 1 when the handle was active already: then, as in libuv, the
 * call changes nothing, not even the callback. */
static int watcher_start(uv_handle_t* h, uv_handle_type type,
                         struct uv__queue* list, struct uv__queue* node,
                         int has_cb) {
  if (h == NULL || h->type != type)
    return UV_EINVAL;
  if (uv__is_active(h))
    return 1;
  if (!has_cb || uv__is_closing(h))
    return UV_EINVAL;
  uv__queue_insert_head(list, node);
  uv__handle_start(h);
  return 0;
}

static int watcher_stop(uv_handle_t* h, uv_handle_type type,
                        struct uv__queue* node) {
  if (h == NULL || h->type != type)
    return UV_EINVAL;
  if (!uv__is_active(h))
    return 0;
  uv__queue_remove(node);
  uv__handle_stop(h);
  return 0;
}

/* o: the loop's observation state, or NULL. Inlined twice into each
 * phase, so that an unobserved loop runs a loop without the hooks. */
static inline __attribute__((always_inline)) void run_watchers(
    struct uv__queue* list, struct nl__obs* o,
    void (*call)(struct uv__queue* node, struct nl__obs* o)) {
  struct uv__queue batch;
  struct uv__queue* q;

  uv__queue_move(list, &batch);
  while (!uv__queue_empty(&batch)) {
    q = uv__queue_head(&batch);
    uv__queue_remove(q);
    uv__queue_insert_tail(list, q);
    call(q, o);
  }
}

/* ---------------------------------------------------------------------
 * idle
 */
int uv_idle_init(uv_loop_t* loop, uv_idle_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_init(loop, (uv_handle_t*) handle, UV_IDLE, &handle->queue);
}

int uv_idle_start(uv_idle_t* handle, uv_idle_cb cb) {
  int r;
  if (handle == NULL)
    return UV_EINVAL;
  r = watcher_start((uv_handle_t*) handle, UV_IDLE, &handle->loop->idle_handles,
                    &handle->queue, cb != NULL);
  if (r == 0)
    handle->idle_cb = cb;
  return r < 0 ? r : 0;
}

int uv_idle_stop(uv_idle_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_stop((uv_handle_t*) handle, UV_IDLE, &handle->queue);
}

void uv__idle_close(uv_idle_t* handle) {
  uv_idle_stop(handle);
}

static inline __attribute__((always_inline)) void call_idle(
    struct uv__queue* q, struct nl__obs* o) {
  uv__dispatch_idle(uv__container_of(q, uv_idle_t, queue), o);
}

void uv__run_idle(uv_loop_t* loop) {
  run_watchers(&loop->idle_handles, NULL, call_idle);
}

void uv__run_idle_observed(uv_loop_t* loop, struct nl__obs* o) {
  run_watchers(&loop->idle_handles, o, call_idle);
}

/* ---------------------------------------------------------------------
 * prepare
 */
int uv_prepare_init(uv_loop_t* loop, uv_prepare_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_init(loop, (uv_handle_t*) handle, UV_PREPARE,
                      &handle->queue);
}

int uv_prepare_start(uv_prepare_t* handle, uv_prepare_cb cb) {
  int r;
  if (handle == NULL)
    return UV_EINVAL;
  r = watcher_start((uv_handle_t*) handle, UV_PREPARE,
                    &handle->loop->prepare_handles, &handle->queue,
                    cb != NULL);
  if (r == 0)
    handle->prepare_cb = cb;
  return r < 0 ? r : 0;
}

int uv_prepare_stop(uv_prepare_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_stop((uv_handle_t*) handle, UV_PREPARE, &handle->queue);
}

void uv__prepare_close(uv_prepare_t* handle) {
  uv_prepare_stop(handle);
}

static inline __attribute__((always_inline)) void call_prepare(
    struct uv__queue* q, struct nl__obs* o) {
  uv__dispatch_prepare(uv__container_of(q, uv_prepare_t, queue), o);
}

void uv__run_prepare(uv_loop_t* loop) {
  run_watchers(&loop->prepare_handles, NULL, call_prepare);
}

void uv__run_prepare_observed(uv_loop_t* loop, struct nl__obs* o) {
  run_watchers(&loop->prepare_handles, o, call_prepare);
}

/* ---------------------------------------------------------------------
 * check
 */
int uv_check_init(uv_loop_t* loop, uv_check_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_init(loop, (uv_handle_t*) handle, UV_CHECK, &handle->queue);
}

int uv_check_start(uv_check_t* handle, uv_check_cb cb) {
  int r;
  if (handle == NULL)
    return UV_EINVAL;
  r = watcher_start((uv_handle_t*) handle, UV_CHECK,
                    &handle->loop->check_handles, &handle->queue, cb != NULL);
  if (r == 0)
    handle->check_cb = cb;
  return r < 0 ? r : 0;
}

int uv_check_stop(uv_check_t* handle) {
  if (handle == NULL)
    return UV_EINVAL;
  return watcher_stop((uv_handle_t*) handle, UV_CHECK, &handle->queue);
}

void uv__check_close(uv_check_t* handle) {
  uv_check_stop(handle);
}

static inline __attribute__((always_inline)) void call_check(
    struct uv__queue* q, struct nl__obs* o) {
  uv__dispatch_check(uv__container_of(q, uv_check_t, queue), o);
}

void uv__run_check(uv_loop_t* loop) {
  run_watchers(&loop->check_handles, NULL, call_check);
}

void uv__run_check_observed(uv_loop_t* loop, struct nl__obs* o) {
  run_watchers(&loop->check_handles, o, call_check);
}
