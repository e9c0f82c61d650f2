/* The one place every loop phase and every user callback passes through.
 *
 * uv_run() brackets each phase with nl__phase_enter/leave, and each handle
 * type calls its user callbacks only through the uv__dispatch_* functions
 * below. Tracing, blocked-loop detection and per-phase metrics hook in
 * here (observe.h) without touching the handle types; on a loop nobody
 * observes, each hook costs a load and an untaken branch.
 */
#ifndef NL_DISPATCH_H_
#define NL_DISPATCH_H_

#include "internal.h"
#include "observe.h"

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

/* Phase brackets. `o` is the loop's observation state, or a constant NULL
 * in the copy of the iteration that uv_run() uses for unobserved loops,
 * where these reduce to the store of the phase. */
static inline void nl__phase_enter(uv_loop_t* loop, struct nl__obs* o,
                                   enum nl__phase phase) {
  loop->phase = (int) phase;
  if (o != NULL)
    nl__obs_phase_enter(o, (int) phase);
}

static inline void nl__phase_leave(uv_loop_t* loop, struct nl__obs* o,
                                   enum nl__phase phase) {
  if (o != NULL)
    nl__obs_phase_leave(o, (int) phase);
  loop->phase = NL__PHASE_NONE;
}

/* A function's address as data, for dladdr; the union avoids the
 * conversion ISO C leaves undefined. */
static inline const void* nl__fn_to_ptr(void (*fn)(void)) {
  union { void (*f)(void); const void* p; } u;
  u.f = fn;
  return u.p;
}
#define nl__fn_addr(fn) nl__fn_to_ptr((void (*)(void)) (fn))

/* Runs `call`, one user callback of the given kind on `obj` (the handle
 * or request), bracketed by the hooks. The observation state is read
 * once: the callback may free obj. */
#define NL__CB(loop, kind, obj, fn, call)                                    \
  do {                                                                       \
    struct nl__obs* nl_o_ = nl__obs_of(loop);                                \
    NL__CB_O(nl_o_, kind, obj, fn, call);                                    \
  } while (0)

/* The same with the observation state read by the caller, once per phase
 * for the phases that run many callbacks back to back (timers, idle,
 * prepare, check). The call is written twice so that on the usual path
 * nothing has to live across it. */
#define NL__CB_O(o, kind, obj, fn, call)                                     \
  do {                                                                       \
    if (__builtin_expect((o) == NULL, 1)) {                                  \
      call;                                                                  \
    } else {                                                                 \
      nl__obs_cb_enter((o), (kind), (obj), nl__fn_addr(fn));                 \
      call;                                                                  \
      nl__obs_cb_leave(o);                                                   \
    }                                                                        \
  } while (0)

static inline void uv__dispatch_timer(uv_timer_t* t, struct nl__obs* o) {
  NL__CB_O(o, NL__CB_TIMER, t, t->timer_cb,
           t->timer_cb(t));
}

static inline void uv__dispatch_idle(uv_idle_t* h, struct nl__obs* o) {
  NL__CB_O(o, NL__CB_IDLE, h, h->idle_cb,
           h->idle_cb(h));
}

static inline void uv__dispatch_prepare(uv_prepare_t* h, struct nl__obs* o) {
  NL__CB_O(o, NL__CB_PREPARE, h, h->prepare_cb,
           h->prepare_cb(h));
}

static inline void uv__dispatch_check(uv_check_t* h, struct nl__obs* o) {
  NL__CB_O(o, NL__CB_CHECK, h, h->check_cb,
           h->check_cb(h));
}

static inline void uv__dispatch_async(uv_async_t* h) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_ASYNC, h, h->async_cb,
         h->async_cb(h));
}

/* Signal handles: signum is the signal the handle was started for. */
static inline void uv__dispatch_signal(uv_signal_t* h, int signum) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_SIGNAL, h, h->signal_cb,
         h->signal_cb(h, signum));
}

/* The I/O callbacks (poll events here, the stream and UDP callbacks
 * below) count for the spin's sampling (async.c): they are what a spin
 * that catches readiness early is for. */

/* Poll handles: status 0 with the events seen, or an error and none. */
static inline void uv__dispatch_poll(uv_poll_t* h, int status, int events) {
  uv_loop_t* loop = h->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_POLL, h, h->poll_cb,
         h->poll_cb(h, status, events));
}

/* File event handles: the name of what changed and UV_RENAME and/or
 * UV_CHANGE. The callback may stop or close any handle. */
static inline void uv__dispatch_fs_event(uv_fs_event_t* h,
                                         const char* filename, int events,
                                         int status) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_FS_EVENT, h, h->cb,
         h->cb(h, filename, events, status));
}

/* File poll handles keep their callback in their private context, hence
 * the extra argument. prev and curr are valid during the call only. */
static inline void uv__dispatch_fs_poll(uv_fs_poll_t* h, uv_fs_poll_cb cb,
                                        int status, const uv_stat_t* prev,
                                        const uv_stat_t* curr) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_FS_POLL, h, cb,
         cb(h, status, prev, curr));
}

/* Process handles: the child's exit status, or the signal that ended it.
 * The callback may close the handle or spawn again into it. */
static inline void uv__dispatch_exit(uv_process_t* p, int64_t exit_status,
                                     int term_signal) {
  uv_loop_t* loop = p->loop;
  NL__CB(loop, NL__CB_EXIT, p, p->exit_cb,
         p->exit_cb(p, exit_status, term_signal));
}

/* File system requests complete here; the request may be freed by its
 * callback, so only the saved loop is used afterwards. */
static inline void uv__dispatch_fs(uv_fs_t* req) {
  uv_loop_t* loop = req->loop;
  NL__CB(loop, NL__CB_FS, req, req->cb,
         req->cb(req));
}

/* DNS and random requests complete here, with the same care: their
 * callbacks may free the request. */
static inline void uv__dispatch_getaddrinfo(uv_getaddrinfo_t* req,
                                            int status,
                                            struct addrinfo* res) {
  uv_loop_t* loop = req->loop;
  NL__CB(loop, NL__CB_GETADDRINFO, req, req->cb,
         req->cb(req, status, res));
}

static inline void uv__dispatch_getnameinfo(uv_getnameinfo_t* req,
                                            int status,
                                            const char* host,
                                            const char* service) {
  uv_loop_t* loop = req->loop;
  NL__CB(loop, NL__CB_GETNAMEINFO, req, req->getnameinfo_cb,
         req->getnameinfo_cb(req, status, host, service));
}

static inline void uv__dispatch_after_work(uv_work_t* req, int status) {
  uv_loop_t* loop = req->loop;
  NL__CB(loop, NL__CB_WORK, req, req->after_work_cb,
         req->after_work_cb(req, status));
}

static inline void uv__dispatch_random(uv_random_t* req, int status,
                                       void* buf, size_t buflen) {
  uv_loop_t* loop = req->loop;
  NL__CB(loop, NL__CB_RANDOM, req, req->cb,
         req->cb(req, status, buf, buflen));
}

/* Streams. A read callback may close the stream or stop reading; the
 * caller checks the stream's state again after each. */
static inline void uv__dispatch_alloc(uv_stream_t* s, size_t suggested,
                                      uv_buf_t* buf) {
  uv_loop_t* loop = s->loop;
  NL__CB(loop, NL__CB_ALLOC, s, s->alloc_cb,
         s->alloc_cb((uv_handle_t*) s, suggested, buf));
}

static inline void uv__dispatch_read(uv_stream_t* s, ssize_t nread,
                                     const uv_buf_t* buf) {
  uv_loop_t* loop = s->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_READ, s, s->read_cb,
         s->read_cb(s, nread, buf));
}

static inline void uv__dispatch_connection(uv_stream_t* s, int status) {
  uv_loop_t* loop = s->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_ACCEPT, s, s->connection_cb,
         s->connection_cb(s, status));
}

/* Stream requests: the callback may free the request. */
static inline void uv__dispatch_write(uv_write_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_WRITE, req, req->cb,
         req->cb(req, status));
}

static inline void uv__dispatch_connect(uv_connect_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_CONNECT, req, req->cb,
         req->cb(req, status));
}

static inline void uv__dispatch_shutdown(uv_shutdown_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_SHUTDOWN, req, req->cb,
         req->cb(req, status));
}

/* UDP handles: a receive callback may stop receiving or close the
 * handle; the caller checks after each. A send callback may free its
 * request (or clear req->handle), so only the saved loop is used after. */
static inline void uv__dispatch_udp_alloc(uv_udp_t* h, size_t suggested,
                                          uv_buf_t* buf) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_ALLOC, h, h->alloc_cb,
         h->alloc_cb((uv_handle_t*) h, suggested, buf));
}

static inline void uv__dispatch_udp_recv(uv_udp_t* h, ssize_t nread,
                                         const uv_buf_t* buf,
                                         const struct sockaddr* addr,
                                         unsigned int flags) {
  uv_loop_t* loop = h->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_UDP_RECV, h, h->recv_cb,
         h->recv_cb(h, nread, buf, addr, flags));
}

static inline void uv__dispatch_udp_send(uv_udp_send_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  loop->spin.events++;
  NL__CB(loop, NL__CB_UDP_SEND, req, req->send_cb,
         req->send_cb(req, status));
}

static inline void uv__dispatch_close(uv_handle_t* h) {
  uv_loop_t* loop = h->loop;
  NL__CB(loop, NL__CB_CLOSE, h, h->close_cb,
         h->close_cb(h));
}

/* Internal I/O callbacks (which in turn call user callbacks through the
 * functions above or their stream, UDP and process counterparts). */
static inline void uv__dispatch_io(uv_loop_t* loop, uv__io_t* w,
                                   unsigned int events) {
  w->cb(loop, w, events);
}

#endif /* NL_DISPATCH_H_ */
