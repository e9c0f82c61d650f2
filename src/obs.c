/* Between the hooks and their consumers (observe.h): keeps what the loop
 * is doing (iteration, phase, kernel wait, the stack of callbacks), takes
 * one clock reading per event and hands it to the trace writer, the
 * watchdog and the metrics, each only if switched on for the loop.
 */
#include "internal.h"
#include "observe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The environment, read once per process. */
static struct {
  uv_once_t once;
  int trace;
  int trace_callbacks;
  uint64_t blocked_ms;
  int stats;
} env = {UV_ONCE_INIT, 0, 0, 0, 0};

static int env_set(const char* name) {
  const char* s = getenv(name);
  return s != NULL && *s != '\0' && strcmp(s, "0") != 0;
}

static void read_env(void) {
  const char* s;
  uint64_t ms = 0;

  env.trace = env_set("NODELOOP_TRACE");
  s = getenv("NODELOOP_TRACE_CALLBACKS");
  env.trace_callbacks = s == NULL || strcmp(s, "0") != 0;
  /* Digits only; anything else leaves the watchdog off. */
  s = getenv("NODELOOP_BLOCKED_MS");
  if (s != NULL && *s != '\0') {
    for (; *s >= '0' && *s <= '9' && ms < 100000000; s++)
      ms = ms * 10 + (uint64_t) (*s - '0');
    if (*s != '\0')
      ms = 0;
  }
  env.blocked_ms = ms;
  env.stats = env_set("NODELOOP_STATS");
}

struct nl__obs* nl__obs_attach(uv_loop_t* loop) {
  struct nl__obs* o;

  if (loop->obs != NULL)
    return loop->obs;
  o = uv__calloc(1, sizeof(*o));
  if (o == NULL)
    return NULL;
  o->loop = loop;
  loop->obs = o;
  return o;
}

/* Observation that fails to start (no memory, a trace file that cannot be
 * created) leaves the loop working, unobserved. */
void nl__obs_loop_init(uv_loop_t* loop) {
  struct nl__obs* o;

  uv_once(&env.once, read_env);
  if (!env.trace && env.blocked_ms == 0 && !env.stats)
    return;
  o = nl__obs_attach(loop);
  if (o == NULL)
    return;
  if (env.trace && nl__trace_loop_open(o) == 0)
    o->flags |= NL__OBS_TRACE | (env.trace_callbacks ? NL__OBS_TRACE_CALLBACKS
                                                     : 0);
  if (env.blocked_ms != 0 && nl__wd_loop_open(o, env.blocked_ms) == 0)
    o->flags |= NL__OBS_WATCHDOG;
  if (env.stats && nl__metrics_loop_open(o) == 0)
    o->flags |= NL__OBS_METRICS;
  if (o->flags == 0) {
    loop->obs = NULL;
    uv__free(o);
  }
}

void nl__obs_loop_close(uv_loop_t* loop) {
  struct nl__obs* o = loop->obs;

  if (o == NULL)
    return;
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_loop_close(o);
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_loop_close(o);
  loop->obs = NULL;
  /* Closed from a callback (the last handle's close callback, a pool
   * completion): uv_run and the callback's hooks still hold o. With no
   * consumer left they do nothing; the last of them frees it. */
  o->flags = 0;
  if (o->runs > 0 || o->depth > 0) {
    o->closed = 1;
    return;
  }
  uv__free(o);
}

static void free_if_unused(struct nl__obs* o) {
  if (o->closed && o->runs == 0 && o->depth == 0)
    uv__free(o);
}

static int current_tid(void) {
  static __thread int tid;
  if (tid == 0)
    tid = (int) syscall(SYS_gettid);
  return tid;
}

void nl__obs_run_begin(struct nl__obs* o) {
  o->tid = current_tid();
  o->runs++;
}

void nl__obs_run_end(struct nl__obs* o) {
  o->runs--;
  free_if_unused(o);
}

void nl__obs_nest_enter(struct nl__obs* o, struct nl__obs_nest* n) {
  o->runs++;
  n->nested = o->iter_start != 0;
  if (!n->nested)
    return;
  n->phase = o->phase;
  n->iter_start = o->iter_start;
  n->phase_start = o->phase_start;
  n->busy_start = o->busy_start;
  n->wait_in_phase = o->wait_in_phase;
  n->start = uv__hrtime_ns();
}

/* Back in the caller's phase: the nested iterations are kept out of its
 * time, as a kernel wait is (their phases count for themselves), and it
 * has been busy since their last kernel wait. */
void nl__obs_nest_leave(struct nl__obs* o, const struct nl__obs_nest* n) {
  uint64_t now;

  if (n->nested && !o->closed) {
    now = uv__hrtime_ns();
    o->phase = n->phase;
    o->iter_start = n->iter_start;
    o->phase_start = n->phase_start;
    o->wait_in_phase = n->wait_in_phase + (now - n->start);
    o->busy_start = o->wait_end > n->busy_start ? o->wait_end : n->busy_start;
    o->boundary = 0;
    if (o->flags & NL__OBS_WATCHDOG)
      nl__wd_update(o, now < o->phase_start ? o->phase_start : now);
  }
  o->runs--;
  free_if_unused(o);
}

/* Phases follow each other with next to nothing in between: the time a
 * phase ends is taken as the next one's start (and the iteration's start
 * as its first phase's), which halves the clock readings of an iteration.
 * One nanosecond later, so that no two slices of a track meet at the same
 * instant: some viewers (speedscope) then nest the next inside the last. */
static uint64_t take_boundary(struct nl__obs* o) {
  uint64_t t = o->boundary;

  o->boundary = 0;
  return t != 0 ? t + 1 : uv__hrtime_ns();
}

/* The clock, never before the current phase's start (which may be one
 * nanosecond ahead of it: see above). */
static uint64_t now_in_phase(const struct nl__obs* o) {
  uint64_t t = uv__hrtime_ns();
  return t < o->phase_start ? o->phase_start : t;
}

void nl__obs_iter_begin(struct nl__obs* o) {
  o->iter_start = uv__hrtime_ns();
  o->boundary = o->iter_start;
}

void nl__obs_iter_end(struct nl__obs* o) {
  uint64_t now;

  if (o->iter_start == 0)
    return;
  now = take_boundary(o);
  if (o->flags & NL__OBS_TRACE)
    nl__trace_iteration(o, o->iter_start, now);
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_iteration(o);
  o->iter_start = 0;
}

void nl__obs_phase_enter(struct nl__obs* o, int phase) {
  uint64_t now = take_boundary(o);

  o->phase = phase;
  o->phase_start = now;
  o->busy_start = now;
  o->wait_in_phase = 0;
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, now);
}

void nl__obs_phase_leave(struct nl__obs* o, int phase) {
  uint64_t now;

  if (o->phase_start == 0)
    return;   /* observation began inside this phase */
  now = now_in_phase(o);
  o->boundary = now;
  if (o->flags & NL__OBS_TRACE)
    nl__trace_phase(o, phase, o->phase_start, now);
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_phase(o, phase, now - o->phase_start - o->wait_in_phase);
  o->phase = 0;
  o->phase_start = 0;
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, now);
}

void nl__obs_wait_enter(struct nl__obs* o) {
  uint64_t now;

  if (o->waiting)
    return;
  now = now_in_phase(o);
  o->waiting = 1;
  o->wait_start = now;
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, now);
}

void nl__obs_wait_leave(struct nl__obs* o) {
  uint64_t now;

  if (!o->waiting)
    return;
  now = uv__hrtime_ns();
  o->waiting = 0;
  o->wait_in_phase += now - o->wait_start;
  o->wait_end = now;
  o->busy_start = now;
  if (o->flags & NL__OBS_TRACE)
    nl__trace_wait(o, o->wait_start, now);
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_wait(o, now - o->wait_start);
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, now);
}

static int is_pool_kind(int kind) {
  return kind == NL__CB_FS || kind == NL__CB_WORK ||
         kind == NL__CB_GETADDRINFO || kind == NL__CB_GETNAMEINFO ||
         kind == NL__CB_RANDOM;
}

void nl__obs_cb_enter(struct nl__obs* o, int kind, const void* obj,
                      const void* fn) {
  struct nl__obs_frame* f;
  uint64_t due;

  /* Deeper nesting (uv_run inside callbacks) is counted, not recorded. */
  if (o->depth++ >= NL__OBS_MAX_DEPTH)
    return;
  f = &o->frames[o->depth - 1];
  f->start = now_in_phase(o);
  f->obj = obj;
  f->fn = fn;
  f->kind = kind;
  f->phase = o->phase;
  f->name = kind == NL__CB_FS ? nl__fs_cb_name(((const uv_fs_t*) obj)->fs_type)
                              : nl__cb_kind_name(kind);
  f->flow = 0;
  if (o->flow_next != 0 && o->flow_next == (uintptr_t) obj &&
      is_pool_kind(kind)) {
    f->flow = o->flow_next;
    o->flow_next = 0;
  }
  if (kind == NL__CB_TIMER && (o->flags & NL__OBS_METRICS)) {
    due = o->timer_due * 1000000u;
    nl__metrics_timer_lag(o, f->start > due ? f->start - due : 0);
  }
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, f->start);
}

void nl__obs_cb_leave(struct nl__obs* o) {
  const struct nl__obs_frame* f;
  uint64_t now;

  if (o->depth == 0)
    return;   /* observation began inside this callback */
  if (o->depth-- > NL__OBS_MAX_DEPTH) {
    free_if_unused(o);
    return;
  }
  f = &o->frames[o->depth];
  now = uv__hrtime_ns();
  if ((o->flags & (NL__OBS_TRACE | NL__OBS_TRACE_CALLBACKS)) ==
      (NL__OBS_TRACE | NL__OBS_TRACE_CALLBACKS))
    nl__trace_cb(o, f, now);
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_cb(o, f, now);
  if (o->flags & NL__OBS_WATCHDOG)
    nl__wd_update(o, now);
  free_if_unused(o);
}

/* Times live in the request's reserved words (observe.h) as integers. */
static void req_set(uv_req_t* req, int i, uint64_t v) {
  req->reserved[i] = (void*) (uintptr_t) v;
}

static uint64_t req_get(const uv_req_t* req, int i) {
  return (uint64_t) (uintptr_t) req->reserved[i];
}

void nl__obs_work_submit(struct nl__obs* o, uv_req_t* req, int wkind) {
  uint64_t now = uv__hrtime_ns();

  req_set(req, NL__REQ_SUBMIT, now);
  req_set(req, NL__REQ_START, 0);
  req_set(req, NL__REQ_END, 0);
  /* The worker reads the loop's switches here, not in the loop. */
  req_set(req, NL__REQ_FLAGS, o->flags);
  if (o->flags & NL__OBS_TRACE)
    nl__trace_work_submit(o, req, wkind, now);
  if (o->flags & NL__OBS_METRICS)
    nl__metrics_work_submit(o, wkind);
}

uint64_t nl__obs_work_begin(uv_req_t* req) {
  uint64_t now = uv__hrtime_ns();
  req_set(req, NL__REQ_START, now);
  return now;
}

void nl__obs_work_end(uv_req_t* req, int wkind, uint64_t start, int slot) {
  uint64_t now = uv__hrtime_ns();

  req_set(req, NL__REQ_END, now);
  if (req_get(req, NL__REQ_FLAGS) & NL__OBS_TRACE)
    nl__trace_work_run(req, wkind, start, now, slot);
}

void nl__obs_work_done(struct nl__obs* o, uv_req_t* req, int wkind) {
  uint64_t submit = req_get(req, NL__REQ_SUBMIT);
  uint64_t start = req_get(req, NL__REQ_START);
  uint64_t end = req_get(req, NL__REQ_END);

  if (o->flags & NL__OBS_METRICS) {
    if (start != 0)
      nl__metrics_work_done(o, wkind, start - submit, end - start);
    else
      nl__metrics_work_done(o, wkind, 0, 0);   /* cancelled */
  }
  if (o->flags & NL__OBS_TRACE)
    o->flow_next = (uintptr_t) req;
  req_set(req, NL__REQ_SUBMIT, 0);
  req_set(req, NL__REQ_START, 0);
  req_set(req, NL__REQ_END, 0);
  req_set(req, NL__REQ_FLAGS, 0);
}

/* ---- names ---------------------------------------------------------- */

const char* nl__cb_kind_name(int kind) {
  static const char* const names[NL__CB_KIND_COUNT] = {
      [NL__CB_TIMER] = "timer",
      [NL__CB_IDLE] = "idle",
      [NL__CB_PREPARE] = "prepare",
      [NL__CB_CHECK] = "check",
      [NL__CB_ASYNC] = "async",
      [NL__CB_SIGNAL] = "signal",
      [NL__CB_POLL] = "poll",
      [NL__CB_FS_EVENT] = "fs event",
      [NL__CB_FS_POLL] = "fs poll",
      [NL__CB_EXIT] = "process exit",
      [NL__CB_ALLOC] = "alloc",
      [NL__CB_READ] = "read",
      [NL__CB_WRITE] = "write",
      [NL__CB_CONNECT] = "connect",
      [NL__CB_SHUTDOWN] = "shutdown",
      [NL__CB_ACCEPT] = "accept",
      [NL__CB_UDP_RECV] = "udp recv",
      [NL__CB_UDP_SEND] = "udp send",
      [NL__CB_FS] = "fs",
      [NL__CB_WORK] = "work",
      [NL__CB_GETADDRINFO] = "getaddrinfo",
      [NL__CB_GETNAMEINFO] = "getnameinfo",
      [NL__CB_RANDOM] = "random",
      [NL__CB_CLOSE] = "close",
  };
  if (kind < 0 || kind >= NL__CB_KIND_COUNT)
    return "callback";
  return names[kind];
}

const char* nl__phase_name(int phase) {
  static const char* const names[] = {
      "none", "timers", "pending", "idle", "prepare", "poll", "check", "close"};
  if (phase < 0 || (size_t) phase >= UV__ARRAY_SIZE(names))
    return "none";
  return names[phase];
}

const char* nl__work_kind_name(int wkind) {
  static const char* const names[NL_WORK_KIND_COUNT] = {
      [NL_WORK_FS] = "fs",
      [NL_WORK_USER] = "work",
      [NL_WORK_GETADDRINFO] = "getaddrinfo",
      [NL_WORK_GETNAMEINFO] = "getnameinfo",
      [NL_WORK_RANDOM] = "random",
  };
  if (wkind < 0 || wkind >= NL_WORK_KIND_COUNT)
    return "work";
  return names[wkind];
}

const char* nl__fs_cb_name(int fs_type) {
  static const char* const names[] = {
      [UV_FS_CUSTOM] = "fs:custom",       [UV_FS_OPEN] = "fs:open",
      [UV_FS_CLOSE] = "fs:close",         [UV_FS_READ] = "fs:read",
      [UV_FS_WRITE] = "fs:write",         [UV_FS_SENDFILE] = "fs:sendfile",
      [UV_FS_STAT] = "fs:stat",           [UV_FS_LSTAT] = "fs:lstat",
      [UV_FS_FSTAT] = "fs:fstat",         [UV_FS_FTRUNCATE] = "fs:ftruncate",
      [UV_FS_UTIME] = "fs:utime",         [UV_FS_FUTIME] = "fs:futime",
      [UV_FS_ACCESS] = "fs:access",       [UV_FS_CHMOD] = "fs:chmod",
      [UV_FS_FCHMOD] = "fs:fchmod",       [UV_FS_FSYNC] = "fs:fsync",
      [UV_FS_FDATASYNC] = "fs:fdatasync", [UV_FS_UNLINK] = "fs:unlink",
      [UV_FS_RMDIR] = "fs:rmdir",         [UV_FS_MKDIR] = "fs:mkdir",
      [UV_FS_MKDTEMP] = "fs:mkdtemp",     [UV_FS_RENAME] = "fs:rename",
      [UV_FS_SCANDIR] = "fs:scandir",     [UV_FS_LINK] = "fs:link",
      [UV_FS_SYMLINK] = "fs:symlink",     [UV_FS_READLINK] = "fs:readlink",
      [UV_FS_CHOWN] = "fs:chown",         [UV_FS_FCHOWN] = "fs:fchown",
      [UV_FS_REALPATH] = "fs:realpath",   [UV_FS_COPYFILE] = "fs:copyfile",
      [UV_FS_LCHOWN] = "fs:lchown",       [UV_FS_OPENDIR] = "fs:opendir",
      [UV_FS_READDIR] = "fs:readdir",     [UV_FS_CLOSEDIR] = "fs:closedir",
      [UV_FS_STATFS] = "fs:statfs",       [UV_FS_MKSTEMP] = "fs:mkstemp",
      [UV_FS_LUTIME] = "fs:lutime",
  };
  if (fs_type < 0 || (size_t) fs_type >= UV__ARRAY_SIZE(names) ||
      names[fs_type] == NULL)
    return "fs";
  return names[fs_type];
}
