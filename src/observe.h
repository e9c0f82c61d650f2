/* Seeing the loop: the contract between the hooks (dispatch.h, core.c,
 * the poller, the pool) and the three things that consume them: the trace
 * writer (trace.c), the blocked-loop watchdog (watchdog.c) and the loop
 * metrics (metrics.c). obs.c sits in between.
 *
 * A loop is observed when loop->obs is set: at uv_loop_init when one of
 * the NODELOOP_TRACE / NODELOOP_BLOCKED_MS / NODELOOP_STATS variables is
 * set, or when a program turns a feature on through nodeloop.h. An
 * unobserved loop pays one load and one untaken branch per iteration and
 * per I/O or pool callback (uv_run runs a hook-free copy of the
 * iteration); a build with -DNL_HOOKS=OFF compiles the hooks out (to
 * measure exactly that).
 *
 * Everything here runs on the loop's thread, except nl__obs_work_begin()
 * and nl__obs_work_end(), which a pool worker calls.
 */
#ifndef NL_OBSERVE_H_
#define NL_OBSERVE_H_

#include "internal.h"
#include "nodeloop.h"

#ifndef NL_HOOKS
#define NL_HOOKS 1
#endif

/* What a user callback is, for names in traces and reports. */
enum nl__cb_kind {
  NL__CB_TIMER,
  NL__CB_IDLE,
  NL__CB_PREPARE,
  NL__CB_CHECK,
  NL__CB_ASYNC,
  NL__CB_SIGNAL,
  NL__CB_POLL,
  NL__CB_FS_EVENT,
  NL__CB_FS_POLL,
  NL__CB_EXIT,        /* process exit */
  NL__CB_ALLOC,       /* stream and UDP alloc callbacks */
  NL__CB_READ,
  NL__CB_WRITE,
  NL__CB_CONNECT,
  NL__CB_SHUTDOWN,
  NL__CB_ACCEPT,      /* connection callback of a listening stream */
  NL__CB_UDP_RECV,
  NL__CB_UDP_SEND,
  NL__CB_FS,          /* obj is the uv_fs_t: "fs:<operation>" */
  NL__CB_WORK,        /* after_work of uv_queue_work */
  NL__CB_GETADDRINFO,
  NL__CB_GETNAMEINFO,
  NL__CB_RANDOM,
  NL__CB_CLOSE,
  NL__CB_KIND_COUNT
};

/* Pool items are counted by NL_WORK_* of nodeloop.h ("wkind"). Phases
 * are indexed by enum nl__phase (1..7) here and by NL_PHASE_* (0..6) in
 * nodeloop.h. */

/* One callback being run. Frames nest when a callback runs uv_run(). */
struct nl__obs_frame {
  uint64_t start;          /* uv__hrtime_ns() at entry */
  const void* obj;         /* the handle or request */
  const void* fn;          /* the user's function, for its symbol */
  const char* name;        /* "timer", "read", "fs:read", ... (static) */
  int kind;                /* enum nl__cb_kind */
  int phase;               /* enum nl__phase it runs in */
  uintptr_t flow;          /* completes the pool item with this id, or 0 */
};

#define NL__OBS_MAX_DEPTH 16

/* Per-loop observation state, allocated with the loop's observation and
 * freed by uv_loop_close. Each consumer owns its pointer. */
struct nl__obs {
  uv_loop_t* loop;
  unsigned int flags;            /* NL__OBS_* below */
  int tid;                       /* thread running uv_run, 0 before */
  int phase;                     /* current phase, 0 between phases */
  int waiting;                   /* inside the kernel wait */
  int depth;                     /* frames in use */
  uint64_t iter_start;           /* 0: not inside an iteration */
  uint64_t phase_start;          /* 0: not inside a phase */
  uint64_t wait_start;
  uint64_t busy_start;           /* phase running outside the wait since */
  uint64_t boundary;             /* end of the last phase, if just now */
  uint64_t wait_in_phase;        /* ns of kernel wait in this phase, and
                                    of uv_run called from its callbacks */
  uintptr_t flow_next;           /* request whose completion runs next */
  uint64_t timer_due;            /* ms: due time of the timer run next */
  uint64_t wait_end;             /* end of the last kernel wait */
  int runs;                      /* uv_run iterations using this state */
  int closed;                    /* uv_loop_close ran inside one of them or
                                    inside a callback: freed when unused */
  struct nl__obs_frame frames[NL__OBS_MAX_DEPTH];
  struct nl__wd_loop* wd;          /* watchdog.c */
  struct nl__metrics* metrics;     /* metrics.c */
};

#define NL__OBS_TRACE 0x1          /* write trace events */
#define NL__OBS_TRACE_CALLBACKS 0x2 /* ... and callback slices */
#define NL__OBS_WATCHDOG 0x4
#define NL__OBS_METRICS 0x8

/* ---- hooks, called from the loop's code ---------------------------- */

static inline struct nl__obs* nl__obs_of(const uv_loop_t* loop) {
#if NL_HOOKS
  return __builtin_expect(loop->obs != NULL, 0) ? loop->obs : NULL;
#else
  (void) loop;
  return NULL;
#endif
}

void nl__obs_run_begin(struct nl__obs* o);  /* each observed iteration */
void nl__obs_run_end(struct nl__obs* o);    /* may free o (loop closed) */
/* uv_run() called from a callback runs iterations inside the caller's
 * iteration and phase: their state is kept here meanwhile. */
struct nl__obs_nest {
  int nested;
  int phase;
  uint64_t iter_start;
  uint64_t phase_start;
  uint64_t busy_start;
  uint64_t wait_in_phase;
  uint64_t start;
};
void nl__obs_nest_enter(struct nl__obs* o, struct nl__obs_nest* n);
void nl__obs_nest_leave(struct nl__obs* o, const struct nl__obs_nest* n);
void nl__obs_iter_begin(struct nl__obs* o);
void nl__obs_iter_end(struct nl__obs* o);
void nl__obs_phase_enter(struct nl__obs* o, int phase);
void nl__obs_phase_leave(struct nl__obs* o, int phase);
/* The backend brackets the time it may block (spin included). */
void nl__obs_wait_enter(struct nl__obs* o);
void nl__obs_wait_leave(struct nl__obs* o);
void nl__obs_cb_enter(struct nl__obs* o, int kind, const void* obj,
                      const void* fn);
void nl__obs_cb_leave(struct nl__obs* o);
/* A pool item submitted by the loop (req is the uv_req_t). */
void nl__obs_work_submit(struct nl__obs* o, uv_req_t* req, int wkind);
/* On the loop thread, before the item's done function: accounts for it,
 * and makes the next callback on req the end of the item's flow. */
void nl__obs_work_done(struct nl__obs* o, uv_req_t* req, int wkind);
/* On the worker thread, around the item's work function (slot -1). An
 * io_uring item (linux/uring.c) goes through the same steps: submit when
 * the request is made, begin when the kernel takes it, end on the loop
 * thread once reaped, with its ring slot (its track in the trace). */
uint64_t nl__obs_work_begin(uv_req_t* req);
void nl__obs_work_end(uv_req_t* req, int wkind, uint64_t start, int slot);

/* Per-request observation data of a pool item, in the request's reserved
 * words (reserved[0] is the in-flight stamp): times in ns. */
#define NL__REQ_SUBMIT 1           /* 0: the loop was not observed */
#define NL__REQ_START 2
#define NL__REQ_END 3
#define NL__REQ_FLAGS 4            /* the loop's NL__OBS_* at submit */

/* ---- set-up (obs.c) ------------------------------------------------- */

/* Called by uv_loop_init: observes the loop if the environment asks. */
void nl__obs_loop_init(uv_loop_t* loop);
/* Called by uv_loop_close: reports and frees. */
void nl__obs_loop_close(uv_loop_t* loop);
/* Attaches observation state if missing (NULL if out of memory). */
struct nl__obs* nl__obs_attach(uv_loop_t* loop);

const char* nl__cb_kind_name(int kind);
const char* nl__phase_name(int phase);
const char* nl__work_kind_name(int wkind);
/* "fs:open", "fs:read", ... for an uv_fs_t's fs_type. */
const char* nl__fs_cb_name(int fs_type);

/* ---- consumers ------------------------------------------------------ *
 * Each gets the times the hooks took (no second clock reading). */

/* trace.c: the process-wide writer starts on first use. */
int nl__trace_loop_open(struct nl__obs* o);     /* 0 or UV_E* */
void nl__trace_iteration(struct nl__obs* o, uint64_t start, uint64_t end);
void nl__trace_phase(struct nl__obs* o, int phase, uint64_t start,
                     uint64_t end);
void nl__trace_wait(struct nl__obs* o, uint64_t start, uint64_t end);
void nl__trace_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                  uint64_t end);
void nl__trace_work_submit(struct nl__obs* o, const uv_req_t* req,
                           int wkind, uint64_t ts);
/* slot: -1 on a pool worker (the calling thread's track), else the io_uring
 * slot whose track shows the item (the loop's kernel work, reaped by the
 * loop thread). */
void nl__trace_work_run(const uv_req_t* req, int wkind, uint64_t start,
                        uint64_t end, int slot);

/* watchdog.c */
int nl__wd_loop_open(struct nl__obs* o, uint64_t threshold_ms);
void nl__wd_loop_close(struct nl__obs* o);
/* Called after every change of o's state (frame pushed or popped, phase
 * entered or left, kernel wait entered or left), at time `now`: publishes
 * what the loop is doing for the watchdog thread, and notes the end of an
 * activity the watchdog reported. */
void nl__wd_update(struct nl__obs* o, uint64_t now);

/* metrics.c */
int nl__metrics_loop_open(struct nl__obs* o);
void nl__metrics_loop_close(struct nl__obs* o);   /* NODELOOP_STATS table */
void nl__metrics_iteration(struct nl__obs* o);
/* dur: the phase's time outside the kernel wait (nl__metrics_wait). */
void nl__metrics_phase(struct nl__obs* o, int phase, uint64_t dur);
void nl__metrics_wait(struct nl__obs* o, uint64_t dur);
void nl__metrics_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                    uint64_t end);
void nl__metrics_timer_lag(struct nl__obs* o, uint64_t lag_ns);
void nl__metrics_work_submit(struct nl__obs* o, int wkind);
void nl__metrics_work_done(struct nl__obs* o, int wkind, uint64_t queued_ns,
                           uint64_t run_ns);

#endif /* NL_OBSERVE_H_ */
