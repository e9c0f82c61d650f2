/* nodeloop: extensions beyond the libuv 1.44 API.
 *
 * Everything here carries the nl_ prefix so that it can never collide with
 * a present or future libuv name.
 */
#ifndef NODELOOP_H
#define NODELOOP_H

#include "uv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NL_VERSION_MAJOR 0
#define NL_VERSION_MINOR 1
#define NL_VERSION_PATCH 0

/* nodeloop's own version, e.g. "0.1.0"; uv_version_string() gives the
 * libuv API version nodeloop is compatible with. */
UV_EXTERN const char* nl_version_string(void);

/* The phase the loop is running, in Node.js's words: "timers", "pending",
 * "idle", "prepare", "poll", "check", "close", or "none" outside uv_run.
 * Meant for the loop's own thread (from inside callbacks). */
UV_EXTERN const char* nl_loop_phase(const uv_loop_t* loop);

/* Completed iterations of the loop since uv_loop_init. */
UV_EXTERN uint64_t nl_loop_iterations(const uv_loop_t* loop);

/* uv_pipe_bind() and uv_pipe_connect() with an explicit name length, so
 * that Linux abstract socket names (a leading NUL byte, no file) can be
 * used: libuv 1.44 takes C strings only. A name longer than sun_path (108
 * bytes) is UV_EINVAL, never cut short. nl_pipe_connect2 returns
 * UV_EINVAL/UV_EBUSY/UV_EALREADY for a request it cannot start; every
 * other error reaches the callback. */
UV_EXTERN int nl_pipe_bind2(uv_pipe_t* handle, const char* name,
                            size_t namelen);
UV_EXTERN int nl_pipe_connect2(uv_connect_t* req, uv_pipe_t* handle,
                               const char* name, size_t namelen,
                               uv_connect_cb cb);

/* ---------------------------------------------------------------------
 * Seeing the loop (docs/observability.md). Each loop thread and pool
 * worker can also be traced with NODELOOP_TRACE=FILE, reported with
 * NODELOOP_BLOCKED_MS=N and measured with NODELOOP_STATS=1, without any
 * code change.
 */

/* Phases, in the order of an iteration: index of per-phase metrics. */
enum {
  NL_PHASE_TIMERS,
  NL_PHASE_PENDING,
  NL_PHASE_IDLE,
  NL_PHASE_PREPARE,
  NL_PHASE_POLL,
  NL_PHASE_CHECK,
  NL_PHASE_CLOSE,
  NL_PHASE_COUNT
};

/* Pool items, by the request that submitted them. */
enum {
  NL_WORK_FS,            /* uv_fs_* with a callback */
  NL_WORK_USER,          /* uv_queue_work */
  NL_WORK_GETADDRINFO,
  NL_WORK_GETNAMEINFO,
  NL_WORK_RANDOM,
  NL_WORK_KIND_COUNT
};

/* A distribution of durations in nanoseconds. Percentiles come from
 * buckets of 1/16 of a power of two: within 6.25 % of the exact value. */
typedef struct nl_histogram_s {
  uint64_t count;
  uint64_t min;
  uint64_t p50;
  uint64_t p90;
  uint64_t p99;
  uint64_t max;
  uint64_t mean;
} nl_histogram_t;

typedef struct nl_loop_metrics_s {
  size_t size;                   /* set by the caller: sizeof(*this) */
  int enabled;                   /* 0: collection is off, all below 0 */
  uint64_t iterations;           /* since collection began */
  uint64_t phase_time_ns[NL_PHASE_COUNT];      /* kernel wait excluded */
  uint64_t phase_callbacks[NL_PHASE_COUNT];
  uint64_t wait_time_ns;         /* waiting in the kernel (poll phase) */
  nl_histogram_t timer_lag;      /* how late timers ran after their due
                                    time, as monitorEventLoopDelay */
  nl_histogram_t callback_time;  /* every user callback */
  uint64_t pool_submitted[NL_WORK_KIND_COUNT];
  uint64_t pool_completed[NL_WORK_KIND_COUNT];
  nl_histogram_t pool_queue_wait;   /* submit to start on a worker */
  nl_histogram_t pool_run_time;     /* on the worker */
  unsigned int pool_queued;      /* process-wide, now */
  unsigned int pool_busy;        /* workers running an item now */
  unsigned int pool_threads;
} nl_loop_metrics_t;

/* Starts collecting metrics for the loop (NODELOOP_STATS does it for
 * every loop). From the loop's thread. 0, UV_EINVAL or UV_ENOMEM. */
UV_EXTERN int nl_loop_metrics_enable(uv_loop_t* loop);

/* Fills up to m->size bytes of *m (m->size first set by the caller; at
 * least through `enabled`) and leaves m->size as it was. A loop without
 * collection gives enabled = 0 and iterations only. 0 or UV_EINVAL. */
UV_EXTERN int nl_loop_metrics(const uv_loop_t* loop, nl_loop_metrics_t* m);

/* Blocked-loop reports. */
typedef struct nl_blocked_report_s {
  size_t size;                   /* sizeof(nl_blocked_report_t) */
  uv_loop_t* loop;
  int done;                      /* 0: still running; 1: it has ended */
  const char* phase;             /* "timers", "poll", ... */
  const char* kind;              /* "timer", "read", "fs:read", ...; NULL
                                    when the phase as a whole is slow */
  const void* callback;          /* the user's function, or NULL */
  const char* symbol;            /* its name if dladdr finds one, or NULL */
  uint64_t elapsed_ns;           /* so far; the total when done */
  int nframes;                   /* the loop thread's stack (not when done) */
  void* const* frames;
  const char* const* frame_names;  /* symbolized, entries may be NULL */
} nl_blocked_report_t;

typedef void (*nl_blocked_cb)(const nl_blocked_report_t* report, void* data);

/* Reports a callback, or a phase outside the kernel wait, that runs
 * longer than `ms` on this loop: `cb` is called on the watchdog's thread
 * while it runs (done = 0) and once more when it ends (done = 1). With
 * cb NULL the reports go to stderr (or NODELOOP_BLOCKED_LOG). ms = 0
 * turns it off. From the loop's thread. 0, UV_EINVAL or UV_ENOMEM. */
UV_EXTERN int nl_loop_set_blocked_threshold(uv_loop_t* loop, uint64_t ms,
                                            nl_blocked_cb cb, void* data);

#ifdef __cplusplus
}
#endif
#endif /* NODELOOP_H */
