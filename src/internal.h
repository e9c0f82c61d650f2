/* nodeloop internals shared between source files: handle and request
 * bookkeeping, the allocator, the poller contract and the watcher API.
 * Everything here is hidden from the library's users (-fvisibility=hidden)
 * and carries the uv__ or nl__ prefix.
 */
#ifndef NL_INTERNAL_H_
#define NL_INTERNAL_H_

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "uv.h"
#include "nodeloop.h"
#include "queue.h"

#define UV__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Built with ThreadSanitizer (gcc defines the first, clang the second). */
#if defined(__SANITIZE_THREAD__)
#define NL_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NL_UNDER_TSAN 1
#endif
#endif

/* ---------------------------------------------------------------------
 * Handle flags (uv_handle_t.flags). The low bits are common to every
 * handle; the high bits belong to the handle type.
 */
enum {
  UV__HANDLE_CLOSING = 0x00000001,
  UV__HANDLE_CLOSED = 0x00000002,
  UV__HANDLE_ACTIVE = 0x00000004,
  UV__HANDLE_REF = 0x00000008,
  UV__HANDLE_INTERNAL = 0x00000010,
  UV__HANDLE_CLOSE_PENDING = 0x00000020,

  UV__TIMER_GROUPED = 0x01000000 /* member of a group, not its head */
};

/* Loop flags (uv_loop_t.flags). */
enum {
  UV__LOOP_BLOCK_SIGPROF = 0x1,
  UV__LOOP_METRICS_IDLE = 0x2,
  UV__LOOP_CLOSED = 0x4
};

/* ---------------------------------------------------------------------
 * Allocation: every allocation of the library goes through these, so
 * uv_replace_allocator() sees all of it. uv__free() preserves errno.
 */
void* uv__malloc(size_t size);
void* uv__calloc(size_t count, size_t size);
void* uv__realloc(void* ptr, size_t size);
void* uv__reallocf(void* ptr, size_t size);
void uv__free(void* ptr);
/* The free function of the allocator in use now: for memory that another
 * thread frees later, with the allocator that made it. */
uv_free_func uv__free_func(void);
char* uv__strdup(const char* s);
char* uv__strndup(const char* s, size_t n);

/* ---------------------------------------------------------------------
 * Handles and requests.
 */
void uv__handle_init(uv_loop_t* loop, uv_handle_t* h, uv_handle_type type);

/* One step of a busy wait: tells the CPU (and a hypervisor watching for
 * pause loops) that this thread is spinning. */
static inline void uv__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static inline int uv__is_active(const uv_handle_t* h) {
  return (h->flags & UV__HANDLE_ACTIVE) != 0;
}

static inline int uv__is_closing(const uv_handle_t* h) {
  return (h->flags & (UV__HANDLE_CLOSING | UV__HANDLE_CLOSED)) != 0;
}

/* Active and referenced handles keep the loop alive. */
static inline void uv__handle_start(uv_handle_t* h) {
  if (h->flags & UV__HANDLE_ACTIVE)
    return;
  h->flags |= UV__HANDLE_ACTIVE;
  if (h->flags & UV__HANDLE_REF)
    h->loop->active_handles++;
}

static inline void uv__handle_stop(uv_handle_t* h) {
  if (!(h->flags & UV__HANDLE_ACTIVE))
    return;
  h->flags &= ~UV__HANDLE_ACTIVE;
  if (h->flags & UV__HANDLE_REF)
    h->loop->active_handles--;
}

static inline void uv__req_init(uv_loop_t* loop, uv_req_t* req,
                                uv_req_type type) {
  (void) loop;
  req->type = type;
}

/* A request is in flight from its registration with the loop until its
 * completion runs. While in flight it carries a stamp in its first
 * reserved word (private in libuv's layout too): its own address mixed
 * with a constant. A fresh request's memory holds garbage that matches
 * the stamp only by astronomical chance (a copy of another request's
 * stamp does not match, since the address differs), so submitting a
 * request that is still in flight is refused with UV_EBUSY instead of
 * corrupting the queues it is on. Loop thread only, like the requests. */
#define UV__REQ_STAMP_KEY ((uintptr_t) 0x9e3779b97f4a7c15u)

static inline int uv__req_in_flight(const void* req) {
  const uv_req_t* r = (const uv_req_t*) req;
  return (uintptr_t) r->reserved[0] == ((uintptr_t) r ^ UV__REQ_STAMP_KEY);
}

static inline void uv__req_register(uv_loop_t* loop, void* req) {
  uv_req_t* r = (uv_req_t*) req;
  r->reserved[0] = (void*) ((uintptr_t) r ^ UV__REQ_STAMP_KEY);
  loop->active_reqs.count++;
}

/* Called before the request's callback, which may submit it again. */
static inline void uv__req_unregister(uv_loop_t* loop, void* req) {
  uv_req_t* r = (uv_req_t*) req;
  assert(loop->active_reqs.count > 0);
  assert(uv__req_in_flight(r));
  r->reserved[0] = NULL;
  loop->active_reqs.count--;
}

int uv__loop_alive(const uv_loop_t* loop);

/* Puts a closing handle on the loop's close list; its close callback runs
 * in the close phase. Handle types whose close must wait for something
 * (a signal still in flight) call it later themselves. */
void uv__make_close_pending(uv_handle_t* h);

/* Per-type close steps, called by uv_close(). */
void uv__timer_close(uv_timer_t* handle);
void uv__idle_close(uv_idle_t* handle);
void uv__prepare_close(uv_prepare_t* handle);
void uv__check_close(uv_check_t* handle);
void uv__async_close(uv_async_t* handle);
void uv__poll_close(uv_poll_t* handle);
void uv__process_close(uv_process_t* handle);

/* Drops the loop's internal SIGCHLD watcher (process.c); called by
 * uv_loop_close() before the signal pipe goes. */
void uv__process_loop_close(uv_loop_t* loop);

/* File watching (linux/fs_event.c, fs_poll.c). uv__fs_poll_close makes
 * the handle close-pending itself, once no stat of it is in flight. */
void uv__fs_event_close(uv_fs_event_t* handle);
void uv__fs_event_loop_close(uv_loop_t* loop);
int uv__fs_event_loop_fork(uv_loop_t* loop);
void uv__fs_poll_close(uv_fs_poll_t* handle);

/* uv_fs_event_getpath and uv_fs_poll_getpath: copies path (NULL while the
 * handle is inactive: UV_EINVAL and *size 0) and its NUL into buffer and
 * sets *size to its length; if *size is too small, UV_ENOBUFS and *size
 * set to the length plus one. */
int uv__handle_getpath(const uv_handle_t* handle, const char* path,
                       char* buffer, size_t* size);

void uv__udp_close(uv_udp_t* handle);
/* Run by the close phase before the close callback: queued sends are
 * cancelled (UV_ECANCELED) and every send callback runs. */
void uv__udp_destroy(uv_udp_t* handle);

/* The readable form of a C++ symbol ("node::Environment::RunTimers(...)")
 * in memory from malloc, or NULL (not mangled, or no C++ runtime in the
 * process). For traces and reports, never on a loop thread: it allocates. */
char* nl__demangle(const char* name);

/* ---------------------------------------------------------------------
 * Time.
 */
uint64_t uv__hrtime_ns(void);          /* CLOCK_MONOTONIC, nanoseconds */
uint64_t uv__loop_clock_ms(void);      /* the loop's millisecond clock */

static inline void uv__update_time(uv_loop_t* loop) {
  loop->time = uv__loop_clock_ms();
}

/* ---------------------------------------------------------------------
 * Phases of one loop iteration (run in core.c).
 */
/* Each phase with many callbacks comes twice: plain, for loops nobody
 * observes, and with the loop's observation state (observe.h). */
void uv__run_timers(uv_loop_t* loop);
void uv__run_timers_observed(uv_loop_t* loop, struct nl__obs* o);
int uv__next_timeout(const uv_loop_t* loop);
void uv__run_idle(uv_loop_t* loop);
void uv__run_idle_observed(uv_loop_t* loop, struct nl__obs* o);
void uv__run_prepare(uv_loop_t* loop);
void uv__run_prepare_observed(uv_loop_t* loop, struct nl__obs* o);
void uv__run_check(uv_loop_t* loop);
void uv__run_check_observed(uv_loop_t* loop, struct nl__obs* o);
int uv__run_pending(uv_loop_t* loop);

/* ---------------------------------------------------------------------
 * Watchers: a file descriptor the poller reports on. Interest changes are
 * recorded and handed to the kernel once, just before the next wait.
 */
#define UV__POLLIN 0x001u
#define UV__POLLPRI 0x002u
#define UV__POLLOUT 0x004u
#define UV__POLLERR 0x008u
#define UV__POLLHUP 0x010u
#define UV__POLLRDHUP 0x2000u

/* Not an event: a mark in uv__io_t.armed that makes the next poll hand the
 * watcher's interest to the kernel again although it has not changed. */
#define UV__IO_REARM 0x40000000u

/* Not an event either: asks the kernel to wake one sleeping loop, not
 * every one, when a descriptor watched by several loops gets ready. For
 * listening sockets only: their interest is only ever added and removed,
 * never modified, which is all the kernel allows for such a watch. */
#define UV__POLLEXCL 0x10000000u

void uv__io_init(uv__io_t* w, uv__io_cb cb, int fd);
int uv__io_start(uv_loop_t* loop, uv__io_t* w, unsigned int events);
void uv__io_stop(uv_loop_t* loop, uv__io_t* w, unsigned int events);
void uv__io_close(uv_loop_t* loop, uv__io_t* w);
void uv__io_feed(uv_loop_t* loop, uv__io_t* w);
void uv__io_rearm(uv_loop_t* loop, uv__io_t* w);
void uv__io_forget_all(uv_loop_t* loop);

/* ---------------------------------------------------------------------
 * The poller contract. One implementation per kernel interface (epoll
 * now, io_uring later); core.c and io.c call only these.
 */
int uv__poller_init(uv_loop_t* loop);
void uv__poller_close(uv_loop_t* loop);
int uv__poller_fork(uv_loop_t* loop);
/* Applies pending interest changes, waits up to timeout ms (-1: no limit)
 * and runs the callbacks of ready watchers. The observed variant brackets
 * the time it may block with nl__obs_wait_enter/leave (observe.h). */
void uv__poller_poll(uv_loop_t* loop, int timeout);
void uv__poller_poll_observed(uv_loop_t* loop, int timeout,
                              struct nl__obs* o);
/* Forgets fd, including events already fetched for it in this round. */
void uv__poller_invalidate_fd(uv_loop_t* loop, int fd);
/* 0 if fd can be watched, else a UV_E* code (regular files cannot). */
int uv__poller_check_fd(uv_loop_t* loop, int fd);
/* epoll's side of applying one interest change, shared with the ring's
 * poller (src/linux/uring_poll.c). */
int uv__poller_ctl_op(const uv__io_t* w);
int uv__poller_ctl_failed(uv_loop_t* loop, uv__io_t* w, int op, int err);
/* 1 if a watched descriptor is ready now (a wait would not block);
 * never blocks and consumes nothing. */
int uv__poller_peek(uv_loop_t* loop);

/* ---------------------------------------------------------------------
 * Async wakeups and the worker pool's completion path.
 */
int uv__async_loop_init(uv_loop_t* loop);
void uv__async_loop_close(uv_loop_t* loop);
int uv__async_loop_fork(uv_loop_t* loop);
void uv__async_wake(uv_loop_t* loop);
/* Wakes the loop unless it is running, in which case it will look. */
void uv__async_wake_if_waiting(uv_loop_t* loop);
/* The same in two steps, for other threads: begin (1 if a wakeup is
 * needed) while holding what keeps the loop alive, end (the write) after
 * letting go of it. */
int uv__async_wake_begin(uv_loop_t* loop);
void uv__async_wake_end(uv_loop_t* loop, const unsigned int* taken,
                        unsigned int seen);
int uv__async_poll_check(uv_loop_t* loop);
int uv__async_sleep_begin(uv_loop_t* loop);
void uv__async_sleep_end(uv_loop_t* loop);
void uv__async_run_begin(uv_loop_t* loop);
void uv__async_run_end(uv_loop_t* loop);
/* Before a wait that may block: spins briefly when that has paid on this
 * loop; returns 1 if a wakeup is pending, 2 if a watched descriptor is
 * ready (then do not block), else 0. Every wait it was asked about ends
 * with uv__async_wait_end(). The loop's interest changes are applied
 * before it, so that the poller's answer covers every watcher. */
int uv__async_spin(uv_loop_t* loop, int timeout);
void uv__async_wait_end(uv_loop_t* loop);
/* Runs the completions the worker pool delivered to this loop. */
void uv__work_done(uv_loop_t* loop);

/* ---------------------------------------------------------------------
 * Process-wide teardown steps run by uv_library_shutdown().
 */
void uv__process_title_cleanup(void);

/* ---------------------------------------------------------------------
 * Small system helpers (each returns 0 or a negative UV_E* code).
 */
int uv__close(int fd);                 /* close, ignoring EINTR */
int uv__nonblock(int fd, int set);     /* sets or clears O_NONBLOCK */
void uv__write_all(int fd, const char* buf, size_t len);  /* or stop at an error */
/* 1 if the loop watches fd for some handle already. */
int uv__fd_in_use(const uv_loop_t* loop, int fd);

/* errno of the failed call, as a UV_E* code. The one place errno turns
 * into a return value. */
static inline int uv__neg_errno(void) {
  return -errno;
}

#endif /* NL_INTERNAL_H_ */
