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

/* Signal handles: signum is the signal the handle was started for. */
static inline void uv__dispatch_signal(uv_signal_t* h, int signum) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->signal_cb(h, signum);
  nl__cb_leave(loop, h);
}

/* Poll handles: status 0 with the events seen, or an error and none. */
static inline void uv__dispatch_poll(uv_poll_t* h, int status, int events) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->poll_cb(h, status, events);
  nl__cb_leave(loop, h);
}

/* File event handles: the name of what changed and UV_RENAME and/or
 * UV_CHANGE. The callback may stop or close any handle. */
static inline void uv__dispatch_fs_event(uv_fs_event_t* h,
                                         const char* filename, int events,
                                         int status) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->cb(h, filename, events, status);
  nl__cb_leave(loop, h);
}

/* File poll handles keep their callback in their private context, hence
 * the extra argument. prev and curr are valid during the call only. */
static inline void uv__dispatch_fs_poll(uv_fs_poll_t* h, uv_fs_poll_cb cb,
                                        int status, const uv_stat_t* prev,
                                        const uv_stat_t* curr) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  cb(h, status, prev, curr);
  nl__cb_leave(loop, h);
}

/* Process handles: the child's exit status, or the signal that ended it.
 * The callback may close the handle or spawn again into it. */
static inline void uv__dispatch_exit(uv_process_t* p, int64_t exit_status,
                                     int term_signal) {
  uv_loop_t* loop = p->loop;
  nl__cb_enter(loop, p);
  p->exit_cb(p, exit_status, term_signal);
  nl__cb_leave(loop, p);
}

/* File system requests complete here; the request may be freed by its
 * callback, so only the saved loop is used afterwards. */
static inline void uv__dispatch_fs(uv_fs_t* req) {
  uv_loop_t* loop = req->loop;
  nl__cb_enter(loop, req);
  req->cb(req);
  nl__cb_leave(loop, req);
}

/* DNS and random requests complete here, with the same care: their
 * callbacks may free the request. */
static inline void uv__dispatch_getaddrinfo(uv_getaddrinfo_t* req,
                                            int status,
                                            struct addrinfo* res) {
  uv_loop_t* loop = req->loop;
  nl__cb_enter(loop, req);
  req->cb(req, status, res);
  nl__cb_leave(loop, req);
}

static inline void uv__dispatch_getnameinfo(uv_getnameinfo_t* req,
                                            int status,
                                            const char* host,
                                            const char* service) {
  uv_loop_t* loop = req->loop;
  nl__cb_enter(loop, req);
  req->getnameinfo_cb(req, status, host, service);
  nl__cb_leave(loop, req);
}

static inline void uv__dispatch_random(uv_random_t* req, int status,
                                       void* buf, size_t buflen) {
  uv_loop_t* loop = req->loop;
  nl__cb_enter(loop, req);
  req->cb(req, status, buf, buflen);
  nl__cb_leave(loop, req);
}

/* Streams. A read callback may close the stream or stop reading; the
 * caller checks the stream's state again after each. */
static inline void uv__dispatch_alloc(uv_stream_t* s, size_t suggested,
                                      uv_buf_t* buf) {
  uv_loop_t* loop = s->loop;
  nl__cb_enter(loop, s);
  s->alloc_cb((uv_handle_t*) s, suggested, buf);
  nl__cb_leave(loop, s);
}

static inline void uv__dispatch_read(uv_stream_t* s, ssize_t nread,
                                     const uv_buf_t* buf) {
  uv_loop_t* loop = s->loop;
  nl__cb_enter(loop, s);
  s->read_cb(s, nread, buf);
  nl__cb_leave(loop, s);
}

static inline void uv__dispatch_connection(uv_stream_t* s, int status) {
  uv_loop_t* loop = s->loop;
  nl__cb_enter(loop, s);
  s->connection_cb(s, status);
  nl__cb_leave(loop, s);
}

/* Stream requests: the callback may free the request. */
static inline void uv__dispatch_write(uv_write_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  nl__cb_enter(loop, req);
  req->cb(req, status);
  nl__cb_leave(loop, req);
}

static inline void uv__dispatch_connect(uv_connect_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  nl__cb_enter(loop, req);
  req->cb(req, status);
  nl__cb_leave(loop, req);
}

static inline void uv__dispatch_shutdown(uv_shutdown_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  nl__cb_enter(loop, req);
  req->cb(req, status);
  nl__cb_leave(loop, req);
}

/* UDP handles: a receive callback may stop receiving or close the
 * handle; the caller checks after each. A send callback may free its
 * request (or clear req->handle), so only the saved loop is used after. */
static inline void uv__dispatch_udp_alloc(uv_udp_t* h, size_t suggested,
                                          uv_buf_t* buf) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->alloc_cb((uv_handle_t*) h, suggested, buf);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_udp_recv(uv_udp_t* h, ssize_t nread,
                                         const uv_buf_t* buf,
                                         const struct sockaddr* addr,
                                         unsigned int flags) {
  uv_loop_t* loop = h->loop;
  nl__cb_enter(loop, h);
  h->recv_cb(h, nread, buf, addr, flags);
  nl__cb_leave(loop, h);
}

static inline void uv__dispatch_udp_send(uv_udp_send_t* req, int status) {
  uv_loop_t* loop = req->handle->loop;
  nl__cb_enter(loop, req);
  req->send_cb(req, status);
  nl__cb_leave(loop, req);
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
