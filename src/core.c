/* uv_run(): one loop iteration is the sequence of phases Node.js documents:
 *
 *   timers -> pending callbacks -> idle -> prepare -> poll -> check -> close
 *
 * Each phase is one named call below, bracketed by the dispatch hooks, so
 * the function reads like the diagram (docs/design.md describes the same
 * steps in the same order).
 */
#include "internal.h"
#include "dispatch.h"
#include "stream.h"
#include "uring.h"

/* Callbacks deferred by the poll phase (completed writes, for instance)
 * run right after it, a bounded number of rounds so that callbacks that
 * keep deferring more cannot starve the rest of the loop. */
#define UV__PENDING_ROUNDS_AFTER_POLL 8

int uv__loop_alive(const uv_loop_t* loop) {
  return loop->active_handles > 0 || loop->active_reqs.count > 0 ||
         loop->closing_head != NULL;
}

int uv_loop_alive(const uv_loop_t* loop) {
  if (loop == NULL)
    return 0;
  return uv__loop_alive(loop);
}

/* 0 when anything can run without waiting; otherwise the time until the
 * nearest timer, or -1 (wait for I/O without limit). */
static inline __attribute__((always_inline)) int backend_timeout(
    const uv_loop_t* loop) {
  if (loop->stop_flag != 0)
    return 0;
  if (loop->active_handles == 0 && loop->active_reqs.count == 0)
    return 0;
  if (!uv__queue_empty(&loop->idle_handles))
    return 0;
  if (!uv__queue_empty(&loop->pending_queue))
    return 0;
  if (loop->closing_head != NULL)
    return 0;
  return uv__next_timeout(loop);
}

/* For programs that wait on uv_backend_fd() themselves: interest changes
 * reach the kernel only inside uv_run(), so while some are recorded the
 * embedder must not block on the descriptor before running the loop. */
int uv_backend_timeout(const uv_loop_t* loop) {
  if (loop == NULL)
    return 0;
  if (!uv__queue_empty(&loop->watcher_queue) || uv__ring_ready(loop) ||
      uv__mpoll_pending(loop))
    return 0;
  return backend_timeout(loop);
}

/* Runs the callbacks of watchers fed to the pending queue. Returns whether
 * any ran. Watchers fed while this runs wait for the next round. */
int uv__run_pending(uv_loop_t* loop) {
  struct uv__queue batch;
  struct uv__queue* q;
  unsigned int events;
  uv__io_t* w;

  if (uv__queue_empty(&loop->pending_queue))
    return 0;
  uv__queue_move(&loop->pending_queue, &batch);
  while (!uv__queue_empty(&batch)) {
    q = uv__queue_head(&batch);
    uv__queue_remove(q);
    w = uv__container_of(q, uv__io_t, pending_node);
    events = w->fed_events != 0 ? w->fed_events : UV__POLLOUT;
    w->fed_events = 0;
    uv__dispatch_io(loop, w, events);
  }
  return 1;
}

static void finish_close(uv_handle_t* h) {
  assert(h->flags & UV__HANDLE_CLOSING);
  assert(!(h->flags & UV__HANDLE_CLOSED));
  h->flags |= UV__HANDLE_CLOSED;
  h->flags &= ~UV__HANDLE_CLOSE_PENDING;
  uv__queue_remove(&h->handle_queue);
  if (h->type == UV_TCP || h->type == UV_NAMED_PIPE || h->type == UV_TTY)
    uv__stream_destroy((uv_stream_t*) h);
  else if (h->type == UV_UDP)
    uv__udp_destroy((uv_udp_t*) h);
  if (h->close_cb != NULL)
    uv__dispatch_close(h);
}

/* Close callbacks run newest first, as in libuv: the reverse of the order
 * of the uv_close() calls. That order also starts with the handles the
 * closes touched last, which are still in the cache. Handles closed by
 * these callbacks wait for the next iteration's close phase. */
static void run_closing_handles(uv_loop_t* loop) {
  uv_handle_t* h = loop->closing_head;
  uv_handle_t* next;

  loop->closing_head = NULL;
  while (h != NULL) {
    next = h->next_closing;
    h->next_closing = NULL;
    finish_close(h);
    h = next;
  }
}

void uv__make_close_pending(uv_handle_t* h) {
  uv_loop_t* loop = h->loop;

  assert(h->flags & UV__HANDLE_CLOSING);
  assert(!(h->flags & UV__HANDLE_CLOSE_PENDING));
  h->flags |= UV__HANDLE_CLOSE_PENDING;
  /* A push: touches this handle only. */
  h->next_closing = loop->closing_head;
  loop->closing_head = h;
}

/* The phases. Each takes the loop's observation state `o`; uv_run() calls
 * them through run_iteration(), inlined twice: once with o = NULL for
 * loops nobody observes (the hooks compile away), once with the state. */
#define NL__INLINE static inline __attribute__((always_inline))

NL__INLINE void phase_timers(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_TIMERS);
  if (o != NULL)
    uv__run_timers_observed(loop, o);
  else if (loop->timer_heap_min != NULL)
    uv__run_timers(loop);
  nl__phase_leave(loop, o, NL__PHASE_TIMERS);
}

NL__INLINE void phase_pending(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_PENDING);
  uv__run_pending(loop);
  nl__phase_leave(loop, o, NL__PHASE_PENDING);
}

NL__INLINE void phase_idle(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_IDLE);
  /* Unobserved, an empty phase is not even entered. */
  if (o != NULL)
    uv__run_idle_observed(loop, o);
  else if (!uv__queue_empty(&loop->idle_handles))
    uv__run_idle(loop);
  nl__phase_leave(loop, o, NL__PHASE_IDLE);
}

NL__INLINE void phase_prepare(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_PREPARE);
  /* Unobserved, an empty phase is not even entered. */
  if (o != NULL)
    uv__run_prepare_observed(loop, o);
  else if (!uv__queue_empty(&loop->prepare_handles))
    uv__run_prepare(loop);
  nl__phase_leave(loop, o, NL__PHASE_PREPARE);
}

NL__INLINE void phase_poll(uv_loop_t* loop, struct nl__obs* o, int timeout) {
  int round;

  nl__phase_enter(loop, o, NL__PHASE_POLL);
  if (o != NULL)
    uv__poller_poll_observed(loop, timeout, o);
  else
    uv__poller_poll(loop, timeout);
  for (round = 0; round < UV__PENDING_ROUNDS_AFTER_POLL; round++)
    if (!uv__run_pending(loop))
      break;
  nl__phase_leave(loop, o, NL__PHASE_POLL);
}

NL__INLINE void phase_check(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_CHECK);
  /* Unobserved, an empty phase is not even entered. */
  if (o != NULL)
    uv__run_check_observed(loop, o);
  else if (!uv__queue_empty(&loop->check_handles))
    uv__run_check(loop);
  nl__phase_leave(loop, o, NL__PHASE_CHECK);
}

NL__INLINE void phase_close(uv_loop_t* loop, struct nl__obs* o) {
  nl__phase_enter(loop, o, NL__PHASE_CLOSING);
  if (loop->closing_head != NULL)
    run_closing_handles(loop);
  nl__phase_leave(loop, o, NL__PHASE_CLOSING);
}

/* One iteration, in the order of the diagram at the top of this file. */
NL__INLINE void run_iteration(uv_loop_t* loop, struct nl__obs* o,
                              uv_run_mode mode) {
  int can_sleep;
  int timeout;

  if (o != NULL)
    nl__obs_iter_begin(o);
  uv__update_time(loop);
  phase_timers(loop, o);

  /* UV_RUN_ONCE must not block when this iteration had pending or idle
   * callbacks to run, even if they stopped themselves since. */
  can_sleep = uv__queue_empty(&loop->pending_queue) &&
              uv__queue_empty(&loop->idle_handles);
  phase_pending(loop, o);
  phase_idle(loop, o);
  phase_prepare(loop, o);

  timeout = 0;
  if (mode == UV_RUN_DEFAULT || (mode == UV_RUN_ONCE && can_sleep))
    timeout = backend_timeout(loop);
  phase_poll(loop, o, timeout);

  phase_check(loop, o);
  phase_close(loop, o);

  if (mode == UV_RUN_ONCE) {
    /* UV_RUN_ONCE promises progress: a poll that ended by its timeout
     * must still run the timer it waited for. */
    uv__update_time(loop);
    phase_timers(loop, o);
  }
  loop->iteration++;
  if (o != NULL)
    nl__obs_iter_end(o);
}

int uv_run(uv_loop_t* loop, uv_run_mode mode) {
  struct nl__obs_nest nest;
  struct nl__obs* outer;
  struct nl__obs* o;
  int alive;

  if (loop == NULL || (unsigned int) mode > UV_RUN_NOWAIT)
    return UV_EINVAL;

  /* Called from a callback, this runs inside the caller's iteration and
   * phase, whose observation state is set aside meanwhile. */
  outer = nl__obs_of(loop);
  if (outer != NULL)
    nl__obs_nest_enter(outer, &nest);

  alive = uv__loop_alive(loop);
  if (!alive)
    uv__update_time(loop);

  uv__async_run_begin(loop);
  while (alive && loop->stop_flag == 0) {
    /* Read each iteration: a callback may start observing the loop. */
    o = nl__obs_of(loop);
    if (o == NULL) {
      run_iteration(loop, NULL, mode);
    } else {
      nl__obs_run_begin(o);
      run_iteration(loop, o, mode);
      nl__obs_run_end(o);
    }
    alive = uv__loop_alive(loop);
    if (mode != UV_RUN_DEFAULT)
      break;
  }

  uv__async_run_end(loop);
  if (loop->mpoll != NULL)
    uv__mpoll_flush(loop);   /* NODELOOP_POLLER=poll: stopped watchers */
  /* A stop request ends this call only; the next uv_run() runs normally. */
  loop->stop_flag = 0;
  if (outer != NULL)
    nl__obs_nest_leave(outer, &nest);
  return alive;
}

void uv_stop(uv_loop_t* loop) {
  if (loop != NULL)
    loop->stop_flag = 1;
}

const char* nl_loop_phase(const uv_loop_t* loop) {
  static const char* const names[] = {
      "none", "timers", "pending", "idle", "prepare", "poll", "check", "close"};
  if (loop == NULL || loop->phase < 0 ||
      (size_t) loop->phase >= UV__ARRAY_SIZE(names))
    return "none";
  return names[loop->phase];
}

uint64_t nl_loop_iterations(const uv_loop_t* loop) {
  return loop != NULL ? loop->iteration : 0;
}
