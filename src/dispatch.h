/* The one place every loop phase and every user callback passes through.
 *
 * uv_run() brackets each phase with nl__phase_enter/leave, and each handle
 * type calls its user callbacks only through the uv__dispatch_* functions
 * below. Tracing, blocked-loop detection and per-phase metrics hook in
 * here without touching the handle types. Today the hooks only keep the
 * loop's notion of the current phase; they cost a store each.
 */
#ifndef NL_DISPATCH_H_
#define NL_DISPATCH_H_

#include "internal.h"

enum nl__phase {
  NL__PHASE_NONE = 0,
  NL__PHASE_TIMERS,
  NL__PHASE_PENDING,
  NL__PHASE_IDLE,
  NL__PHASE_PREPARE,
  NL__PHASE_POLL,
  NL__PHASE_CHECK,
  NL__PHASE_CLOSING
};

static inline void nl__phase_enter(uv_loop_t* loop, enum nl__phase phase) {
  loop->phase = (int) phase;
}

static inline void nl__phase_leave(uv_loop_t* loop, enum nl__phase phase) {
  (void) phase;
  loop->phase = NL__PHASE_NONE;
}

/* Brackets one user callback; `obj` is the handle or request. */
static inline void nl__cb_enter(uv_loop_t* loop, const void* obj) {
  (void) loop;
  (void) obj;
}

static inline void nl__cb_leave(uv_loop_t* loop, const void* obj) {
  (void) loop;
  (void) obj;
}

static inline void uv__dispatch_timer(uv_timer_t* t) {
  uv_loop_t* loop = t->loop;
  nl__cb_enter(loop, t);
  t->timer_cb(t);
  nl__cb_leave(loop, t);
}

static inline void uv__dispatch_idle(uv_idle_t* h) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->idle_cb(h);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_prepare(uv_prepare_t* h) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->prepare_cb(h);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_check(uv_check_t* h) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->check_cb(h);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_async(uv_async_t* h) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->async_cb(h);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_close(uv_handle_t* h) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->close_cb(h);
  nl__cb_leave(loop, h);
}

/* Internal I/O callbacks (which in turn call user callbacks through the
 * functions above or their stream, UDP and process counterparts). */
static inline void uv__dispatch_io(uv_loop_t* loop, uv__io_t* w,
                                   unsigned int events) {
  w->cb(loop, w, events);
}

#endif /* NL_DISPATCH_H_ */
