/* Blocked-loop watchdog (observe.h): one thread per process watches every
 * loop that NODELOOP_BLOCKED_MS or nl_loop_set_blocked_threshold() turned
 * on, and reports a callback, or a phase outside the kernel wait, that
 * keeps its loop busy past the threshold, with the loop thread's stack.
 *
 * The loop thread publishes what it is doing with atomics only, under a
 * sequence lock: two levels of activity, the innermost callback and the
 * phase outside the kernel wait, each with an id that changes when the
 * activity does. The watchdog sleeps until the earliest moment one of them
 * could cross its threshold, takes a snapshot, and reports; the stack is
 * taken on the loop thread by a signal handler (watchdog_stack.c).
 */
#include "internal.h"
#include "observe.h"
#include "watchdog.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull
/* Thresholds whose nanoseconds, added to a monotonic time, could wrap. */
#define MAX_THRESHOLD_MS (UINT64_MAX / 4 / MS)
#define MIN_SLEEP (1 * MS)
#define MAX_END_POLL (250 * MS)

enum { LEVEL_NONE, LEVEL_CB, LEVEL_PHASE };

struct nl__wd_loop {
  /* Written by the loop thread only, read by the watchdog. `seq` is odd
   * while the fields below it are being changed. */
  _Atomic uint64_t seq;
  _Atomic uint64_t cb_id;          /* 0: no callback running */
  _Atomic uint64_t cb_start;
  _Atomic(const char*) cb_kind;
  _Atomic(const void*) cb_fn;
  _Atomic int cb_phase;
  _Atomic uint64_t ph_id;          /* 0: no phase running outside the wait */
  _Atomic uint64_t ph_start;
  _Atomic int ph_phase;
  _Atomic int tid;
  /* The id of the reported activity, set by the watchdog; the loop thread
   * stores the time it ended in end_ns and clears it. */
  _Atomic uint64_t watch;
  _Atomic uint64_t end_ns;

  /* Loop thread only: what was last published. */
  uint64_t l_seq;
  uint64_t l_next_id;
  uint64_t l_cb_id;
  uint64_t l_cb_start;
  uint64_t l_ph_id;
  uint64_t l_ph_start;
  int l_depth;
  int l_phase;

  /* Under wd.lock. */
  uv_loop_t* loop;
  uint64_t threshold_ns;
  nl_blocked_cb cb;
  void* data;
  int busy;                        /* being reported, lock dropped */
  struct nl__wd_loop* next;

  /* The watchdog's own: the report waiting for its end (under wd.lock,
   * or while busy). */
  int rep_level;
  uint64_t rep_start;
  const char* rep_kind;
  const void* rep_fn;
  int rep_phase;
  uint64_t ph_covered;             /* phase id a callback report covered */
};

/* One report, copied out of the loop's state so that it can be delivered
 * with the lock dropped. */
struct report {
  struct nl__wd_loop* w;
  uv_loop_t* loop;
  nl_blocked_cb cb;
  void* data;
  int done;
  int level;
  int phase;
  int tid;
  const char* kind;
  const void* fn;
  uint64_t start;
  uint64_t elapsed;
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;             /* CLOCK_MONOTONIC: the thread's sleep */
  pthread_cond_t idle;             /* a report ended (busy cleared) */
  pthread_once_t once;
  int init_err;
  int started;
  int nloops;                      /* open watchdogs, for the signal */
  struct nl__wd_loop* loops;
  char log_path[PATH_MAX];
  _Atomic int log_fd;              /* -1: not opened yet */
  char out[16384];                 /* the watchdog thread's report text */
} wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER, PTHREAD_ONCE_INIT, 0, 0, 0, NULL, "", -1,
        ""};

/* ---- the loop thread's side ------------------------------------------ */

static void note_end(struct nl__wd_loop* w, uint64_t ended, uint64_t now) {
  uint64_t id = ended;

  atomic_store_explicit(&w->end_ns, now, memory_order_relaxed);
  /* A CAS, not a store: the watchdog may have moved on to another id. */
  atomic_compare_exchange_strong_explicit(&w->watch, &id, 0,
                                          memory_order_release,
                                          memory_order_relaxed);
}

/* Costs a few relaxed stores and one sequentially consistent store per
 * change, and nothing when the change does not move either level (the
 * kernel wait of a phase without callbacks, for instance). */
void nl__wd_update(struct nl__obs* o, uint64_t now) {
  struct nl__wd_loop* w = o->wd;
  const struct nl__obs_frame* f = NULL;
  uint64_t cb_start = 0;
  uint64_t ph_start = 0;
  uint64_t old_cb = 0;
  uint64_t old_ph = 0;
  uint64_t watch;
  int depth;

  if (w == NULL)
    return;
  if (!o->waiting) {
    if (o->phase != 0)
      ph_start = o->busy_start;
    if (o->depth > 0) {
      depth = o->depth > NL__OBS_MAX_DEPTH ? NL__OBS_MAX_DEPTH : o->depth;
      f = &o->frames[depth - 1];
      /* A callback that ran a nested loop counts from its last wait. */
      cb_start = f->start > o->busy_start ? f->start : o->busy_start;
    }
  }
  atomic_store_explicit(&w->tid, o->tid, memory_order_relaxed);
  if (cb_start == w->l_cb_start && o->depth == w->l_depth &&
      ph_start == w->l_ph_start && o->phase == w->l_phase)
    return;

  atomic_store_explicit(&w->seq, w->l_seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  if (cb_start != w->l_cb_start || o->depth != w->l_depth) {
    old_cb = w->l_cb_id;
    w->l_cb_id = f != NULL && cb_start != 0 ? ++w->l_next_id : 0;
    w->l_cb_start = cb_start;
    w->l_depth = o->depth;
    atomic_store_explicit(&w->cb_id, w->l_cb_id, memory_order_relaxed);
    atomic_store_explicit(&w->cb_start, cb_start, memory_order_relaxed);
    if (f != NULL) {
      atomic_store_explicit(&w->cb_kind, f->name, memory_order_relaxed);
      atomic_store_explicit(&w->cb_fn, f->fn, memory_order_relaxed);
      atomic_store_explicit(&w->cb_phase, f->phase, memory_order_relaxed);
    }
  }
  if (ph_start != w->l_ph_start || o->phase != w->l_phase) {
    old_ph = w->l_ph_id;
    w->l_ph_id = ph_start != 0 ? ++w->l_next_id : 0;
    w->l_ph_start = ph_start;
    w->l_phase = o->phase;
    atomic_store_explicit(&w->ph_id, w->l_ph_id, memory_order_relaxed);
    atomic_store_explicit(&w->ph_start, ph_start, memory_order_relaxed);
    atomic_store_explicit(&w->ph_phase, o->phase, memory_order_relaxed);
  }
  w->l_seq += 2;
  /* Sequentially consistent with the load of `watch` below and with the
   * watchdog's store to it: either this thread sees the id the watchdog
   * is about to report, or the watchdog sees that it already ended. */
  atomic_store_explicit(&w->seq, w->l_seq, memory_order_seq_cst);
  watch = atomic_load_explicit(&w->watch, memory_order_seq_cst);
  if (watch != 0 && (watch == old_cb || watch == old_ph))
    note_end(w, watch, now);
}

/* ---- the watchdog's side ----------------------------------------------- */

struct snapshot {
  uint64_t cb_id;
  uint64_t cb_start;
  const char* cb_kind;
  const void* cb_fn;
  int cb_phase;
  uint64_t ph_id;
  uint64_t ph_start;
  int ph_phase;
  int tid;
};

/* 0, or -1 when the loop thread was changing its state each time. */
static int snapshot_read(struct nl__wd_loop* w, struct snapshot* s) {
  uint64_t s1;
  uint64_t s2;
  int tries;

  for (tries = 0; tries < 8; tries++) {
    s1 = atomic_load_explicit(&w->seq, memory_order_seq_cst);
    if (s1 & 1)
      continue;
    s->cb_id = atomic_load_explicit(&w->cb_id, memory_order_relaxed);
    s->cb_start = atomic_load_explicit(&w->cb_start, memory_order_relaxed);
    s->cb_kind = atomic_load_explicit(&w->cb_kind, memory_order_relaxed);
    s->cb_fn = atomic_load_explicit(&w->cb_fn, memory_order_relaxed);
    s->cb_phase = atomic_load_explicit(&w->cb_phase, memory_order_relaxed);
    s->ph_id = atomic_load_explicit(&w->ph_id, memory_order_relaxed);
    s->ph_start = atomic_load_explicit(&w->ph_start, memory_order_relaxed);
    s->ph_phase = atomic_load_explicit(&w->ph_phase, memory_order_relaxed);
    s->tid = atomic_load_explicit(&w->tid, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    s2 = atomic_load_explicit(&w->seq, memory_order_relaxed);
    if (s1 == s2)
      return 0;
  }
  return -1;
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}

static uint64_t end_poll(const struct nl__wd_loop* w) {
  uint64_t p = w->threshold_ns / 4;
  if (p < MIN_SLEEP)
    p = MIN_SLEEP;
  return p > MAX_END_POLL ? MAX_END_POLL : p;
}

static void report_fill(struct report* r, struct nl__wd_loop* w, int done) {
  r->w = w;
  r->loop = w->loop;
  r->cb = w->cb;
  r->data = w->data;
  r->done = done;
  r->level = w->rep_level;
  r->kind = w->rep_kind;
  r->fn = w->rep_fn;
  r->phase = w->rep_phase;
  r->start = w->rep_start;
}

/* Under wd.lock. Returns when the loop next needs a look, or 0 with *r
 * filled in when there is something to report now. */
static uint64_t look(struct nl__wd_loop* w, uint64_t now, struct report* r) {
  struct snapshot s;
  uint64_t thr = w->threshold_ns;
  uint64_t due;
  uint64_t id;
  uint64_t end;
  int phase_waits;

  if (w->rep_level != LEVEL_NONE) {
    if (atomic_load_explicit(&w->watch, memory_order_acquire) != 0)
      return now + end_poll(w);
    end = atomic_load_explicit(&w->end_ns, memory_order_relaxed);
    report_fill(r, w, 1);
    r->elapsed = end > w->rep_start ? end - w->rep_start : 0;
    w->rep_level = LEVEL_NONE;
    return 0;
  }

  if (snapshot_read(w, &s) != 0)
    return now + MIN_SLEEP;
  /* A callback that took the phase over soon after it began (within half
   * the threshold) is the one to report: the phase waits for it, instead
   * of crossing first by the moment between its start and the
   * callback's (seen under load: the phase reported, the callback not). */
  phase_waits = s.cb_id != 0 && s.ph_id != 0 && s.cb_start > s.ph_start &&
                s.cb_start - s.ph_start < thr / 2;
  if (s.cb_id != 0 && now - s.cb_start >= thr) {
    w->rep_level = LEVEL_CB;
    id = s.cb_id;
    w->rep_start = s.cb_start;
    w->rep_kind = s.cb_kind;
    w->rep_fn = s.cb_fn;
    w->rep_phase = s.cb_phase;
  } else if (s.ph_id != 0 && s.ph_id != w->ph_covered && !phase_waits &&
             now - s.ph_start >= thr) {
    w->rep_level = LEVEL_PHASE;
    id = s.ph_id;
    w->rep_start = s.ph_start;
    w->rep_kind = NULL;
    w->rep_fn = NULL;
    w->rep_phase = s.ph_phase;
  } else {
    /* Nothing started later than now can be due before now + thr. */
    due = now + thr;
    if (s.cb_id != 0)
      due = min_u64(due, s.cb_start + thr);
    if (s.ph_id != 0 && s.ph_id != w->ph_covered && !phase_waits)
      due = min_u64(due, s.ph_start + thr);
    return due;
  }

  /* Claim the id, then check it is still current: from here on the loop
   * thread notes its end (see nl__wd_update). */
  atomic_store_explicit(&w->watch, id, memory_order_seq_cst);
  if (snapshot_read(w, &s) != 0 ||
      (w->rep_level == LEVEL_CB ? s.cb_id : s.ph_id) != id) {
    atomic_compare_exchange_strong(&w->watch, &id, 0);
    w->rep_level = LEVEL_NONE;
    return now + MIN_SLEEP;
  }
  /* A slow callback is the reason its phase is slow: one report. */
  if (w->rep_level == LEVEL_CB)
    w->ph_covered = s.ph_id;
  else
    w->ph_covered = id;
  report_fill(r, w, 0);
  r->tid = s.tid;
  return 0;
}

/* ---- delivering a report ----------------------------------------------- */

static double ms_of(uint64_t ns) {
  return (double) ns / 1e6;
}

struct text {
  char* buf;
  size_t len;
  size_t size;
};

static void text_add(struct text* t, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_add(struct text* t, const char* fmt, ...) {
  va_list ap;
  int n;

  if (t->len >= t->size)
    return;
  va_start(ap, fmt);
  n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    t->len = min_u64(t->len + (size_t) n, t->size - 1);
}

/* "name+0x1f (module)", or "(module+0x...)" without a symbol, preceded
 * by the address when the caller has not printed it. */
static void text_addr(struct text* t, const void* addr, const void* lookup,
                      int with_addr) {
  char* readable;
  Dl_info di;

  if (lookup == NULL || dladdr(lookup, &di) == 0 || di.dli_fname == NULL) {
    text_add(t, "%p", addr);
    return;
  }
  if (di.dli_sname != NULL && di.dli_saddr != NULL) {
    readable = nl__demangle(di.dli_sname);
    text_add(t, "%s+0x%lx (%s)", readable != NULL ? readable : di.dli_sname,
             (unsigned long) ((const char*) addr - (const char*) di.dli_saddr),
             di.dli_fname);
    free(readable);
    return;
  }
  if (with_addr)
    text_add(t, "%p ", addr);
  text_add(t, "(%s+0x%lx)", di.dli_fname,
           (unsigned long) ((const char*) addr - (const char*) di.dli_fbase));
}

static const char* symbol_of(const void* fn) {
  Dl_info di;
  if (fn == NULL || dladdr(fn, &di) == 0)
    return NULL;
  return di.dli_sname;
}

static void text_what(struct text* t, const struct report* r) {
  if (r->level == LEVEL_CB) {
    text_add(t, "%s callback ", r->kind != NULL ? r->kind : "?");
    text_addr(t, r->fn, r->fn, 1);
    text_add(t, " in phase %s", nl__phase_name(r->phase));
  } else {
    text_add(t, "phase %s (its callbacks together)", nl__phase_name(r->phase));
  }
}

/* Opened on the first report; two threads may race to open it (the
 * watchdog and a closing loop), the loser closes its descriptor. */
static int log_fd(void) {
  int fd = atomic_load(&wd.log_fd);
  int expected = -1;

  if (wd.log_path[0] == '\0')
    return STDERR_FILENO;
  if (fd >= 0)
    return fd;
  fd = open(wd.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return STDERR_FILENO;
  if (!atomic_compare_exchange_strong(&wd.log_fd, &expected, fd)) {
    close(fd);
    fd = expected;
  }
  return fd;
}

static void print_report(const struct report* r, const struct nl__wd_stack* st) {
  struct text t = {wd.out, 0, sizeof(wd.out)};
  int i;

  if (r->done) {
    text_add(&t, "nodeloop: loop %p: ", (void*) r->loop);
    text_what(&t, r);
    text_add(&t, " ended after %.1f ms\n", ms_of(r->elapsed));
  } else {
    text_add(&t, "nodeloop: loop %p blocked for %.1f ms (thread %d): ",
             (void*) r->loop, ms_of(r->elapsed), r->tid);
    text_what(&t, r);
    text_add(&t, "\n");
    if (st->n == 0)
      text_add(&t, "  stack: not available (%s)\n", st->why);
    for (i = 0; i < st->n; i++) {
      text_add(&t, "  #%-2d %p ", i, st->frames[i]);
      text_addr(&t, st->frames[i], st->lookup[i], 0);
      text_add(&t, "\n");
    }
  }
  uv__write_all(log_fd(), t.buf, t.len);
}

/* With the lock dropped: the loop stays allocated while w->busy is set. */
static void deliver(struct report* r) {
  static struct nl__wd_stack st;
  nl_blocked_report_t rep;

  st.n = 0;
  st.why = "";
  if (!r->done) {
    nl__wd_stack_take(r->tid, &st);
    r->elapsed = uv__hrtime_ns() - r->start;
  }
  if (r->cb == NULL) {
    print_report(r, &st);
    return;
  }
  memset(&rep, 0, sizeof(rep));
  rep.size = sizeof(rep);
  rep.loop = r->loop;
  rep.done = r->done;
  rep.phase = nl__phase_name(r->phase);
  rep.kind = r->level == LEVEL_CB ? r->kind : NULL;
  rep.callback = r->fn;
  rep.symbol = symbol_of(r->fn);
  rep.elapsed_ns = r->elapsed;
  rep.nframes = st.n;
  rep.frames = st.n > 0 ? st.frames : NULL;
  rep.frame_names = st.n > 0 ? st.names : NULL;
  r->cb(&rep, r->data);
}

static void abs_time(struct timespec* ts, uint64_t ns) {
  ts->tv_sec = (time_t) (ns / 1000000000u);
  ts->tv_nsec = (long) (ns % 1000000000u);
}

static void* watchdog_main(void* arg) {
  struct nl__wd_loop* w;
  struct report r;
  struct timespec ts;
  uint64_t now;
  uint64_t next;
  uint64_t due;

  (void) arg;
  /* look() fills r before any use; gcc -O3 cannot see that. */
  memset(&r, 0, sizeof(r));
  pthread_mutex_lock(&wd.lock);
  for (;;) {
    if (wd.loops == NULL) {
      /* Nothing watched: sleep until a loop is added. */
      pthread_cond_wait(&wd.wake, &wd.lock);
      continue;
    }
    now = uv__hrtime_ns();
    next = UINT64_MAX;
    for (w = wd.loops; w != NULL; w = w->next) {
      due = look(w, now, &r);
      if (due == 0)
        break;
      next = min_u64(next, due);
    }
    if (w != NULL) {
      w->busy = 1;
      pthread_mutex_unlock(&wd.lock);
      deliver(&r);
      pthread_mutex_lock(&wd.lock);
      w->busy = 0;
      pthread_cond_broadcast(&wd.idle);
      continue;   /* the list may have changed: look at every loop again */
    }
    if (next < now + MIN_SLEEP)
      next = now + MIN_SLEEP;
    abs_time(&ts, next);
    pthread_cond_timedwait(&wd.wake, &wd.lock, &ts);
  }
  return NULL;
}

/* ---- set-up ------------------------------------------------------------ */

/* Under wd.lock: the end line of a report whose end the watchdog has not
 * printed yet (default reports only), into t. */
static void pending_end(struct nl__wd_loop* w, struct text* t,
                        const char* how) {
  struct report r;

  if (w->rep_level == LEVEL_NONE || w->cb != NULL)
    return;
  report_fill(&r, w, 1);
  r.elapsed = uv__hrtime_ns() - w->rep_start;
  if (atomic_load_explicit(&w->watch, memory_order_acquire) == 0)
    r.elapsed = atomic_load_explicit(&w->end_ns, memory_order_relaxed) -
                w->rep_start;
  else
    how = " still running at exit after";
  text_add(t, "nodeloop: loop %p: ", (void*) r.loop);
  text_what(t, &r);
  text_add(t, "%s %.1f ms\n", how, ms_of(r.elapsed));
  w->rep_level = LEVEL_NONE;
}

/* A program that exits right after a slow callback (Node.js does, at the
 * end of a script) still gets the line with its total. */
static void at_exit(void) {
  struct nl__wd_loop* w;
  char line[1024];
  struct text t = {line, 0, sizeof(line)};

  pthread_mutex_lock(&wd.lock);
  for (w = wd.loops; w != NULL; w = w->next)
    if (!w->busy)
      pending_end(w, &t, " ended after");
  if (t.len > 0)
    uv__write_all(log_fd(), t.buf, t.len);
  pthread_mutex_unlock(&wd.lock);
}

static void after_fork_child(void) {
  struct nl__wd_loop* w;

  /* The watchdog thread is not in the child: the next open starts one. A
   * report it was delivering is abandoned. */
  pthread_mutex_init(&wd.lock, NULL);
  wd.started = 0;
  for (w = wd.loops; w != NULL; w = w->next)
    w->busy = 0;
  nl__wd_stack_after_fork();
}

static void init_once(void) {
  pthread_condattr_t attr;
  const char* log;

  if (pthread_condattr_init(&attr) != 0 ||
      pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&wd.wake, &attr) != 0) {
    wd.init_err = UV_ENOMEM;
    return;
  }
  pthread_condattr_destroy(&attr);
  log = getenv("NODELOOP_BLOCKED_LOG");
  if (log != NULL && strlen(log) < sizeof(wd.log_path))
    strcpy(wd.log_path, log);
  wd.init_err = -pthread_atfork(NULL, NULL, after_fork_child);
  if (wd.init_err == 0 && atexit(at_exit) != 0)
    wd.init_err = UV_ENOMEM;
}

/* Under wd.lock. */
static int start_thread(void) {
  pthread_attr_t attr;
  pthread_t th;
  sigset_t all;
  sigset_t old;
  int err;

  if (wd.started)
    return 0;
  if (pthread_attr_init(&attr) != 0)
    return UV_ENOMEM;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* The process's signals go to other threads, not to the watchdog. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&th, &attr, watchdog_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0)
    return -err;
  wd.started = 1;
  return 0;
}

static int wd_open(struct nl__obs* o, uint64_t ms, nl_blocked_cb cb,
                   void* data) {
  struct nl__wd_loop* w;
  int err;

  if (ms == 0 || ms > MAX_THRESHOLD_MS)
    return UV_EINVAL;
  pthread_once(&wd.once, init_once);
  if (wd.init_err != 0)
    return wd.init_err;
  w = uv__calloc(1, sizeof(*w));
  if (w == NULL)
    return UV_ENOMEM;
  w->loop = o->loop;
  w->threshold_ns = ms * MS;
  w->cb = cb;
  w->data = data;

  pthread_mutex_lock(&wd.lock);
  err = start_thread();
  if (err == 0 && wd.nloops == 0)
    err = nl__wd_stack_install();
  if (err != 0) {
    pthread_mutex_unlock(&wd.lock);
    uv__free(w);
    return err;
  }
  wd.nloops++;
  w->next = wd.loops;
  wd.loops = w;
  o->wd = w;
  pthread_cond_signal(&wd.wake);
  pthread_mutex_unlock(&wd.lock);
  return 0;
}

/* From uv_loop_init (NODELOOP_BLOCKED_MS): reports in the default format.
 * 0, UV_EINVAL, UV_ENOMEM or UV_EAGAIN. */
int nl__wd_loop_open(struct nl__obs* o, uint64_t threshold_ms) {
  return wd_open(o, threshold_ms, NULL, NULL);
}

/* Waits for a report of this loop being delivered: after this, the
 * watchdog holds no pointer into it. An end the watchdog has not seen yet
 * is printed here (default reports) or dropped (a callback would be
 * handed a loop that no longer exists). */
void nl__wd_loop_close(struct nl__obs* o) {
  struct nl__wd_loop* w = o->wd;
  struct nl__wd_loop** p;
  char line[256];
  struct text t = {line, 0, sizeof(line)};

  if (w == NULL)
    return;
  pthread_mutex_lock(&wd.lock);
  for (p = &wd.loops; *p != NULL; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      break;
    }
  }
  while (w->busy)
    pthread_cond_wait(&wd.idle, &wd.lock);
  pending_end(w, &t, " ended after");
  if (--wd.nloops == 0)
    nl__wd_stack_uninstall();
  /* Closing is not the loop's hot path: one write here is acceptable. */
  if (t.len > 0)
    uv__write_all(log_fd(), t.buf, t.len);
  pthread_mutex_unlock(&wd.lock);
  o->wd = NULL;
  uv__free(w);
}

/* nodeloop.h. Turns the watchdog on, off, or changes its threshold and
 * callback; the observation state stays attached once made (a callback
 * on the stack may hold it). */
int nl_loop_set_blocked_threshold(uv_loop_t* loop, uint64_t ms,
                                  nl_blocked_cb cb, void* data) {
  struct nl__obs* o;
  struct nl__wd_loop* w;
  int attached;
  int err;

  if (loop == NULL || ms > MAX_THRESHOLD_MS)
    return UV_EINVAL;
#if !NL_HOOKS
  (void) o; (void) w; (void) attached; (void) err; (void) cb; (void) data;
  return UV_ENOTSUP;   /* nothing would tell the watchdog what runs */
#else
  o = loop->obs;
  if (ms == 0) {
    if (o != NULL && (o->flags & NL__OBS_WATCHDOG)) {
      nl__wd_loop_close(o);
      o->flags &= ~(unsigned int) NL__OBS_WATCHDOG;
    }
    return 0;
  }
  if (o != NULL && (o->flags & NL__OBS_WATCHDOG)) {
    w = o->wd;
    pthread_mutex_lock(&wd.lock);
    w->threshold_ns = ms * MS;
    w->cb = cb;
    w->data = data;
    pthread_cond_signal(&wd.wake);
    pthread_mutex_unlock(&wd.lock);
    return 0;
  }
  attached = o == NULL;
  o = nl__obs_attach(loop);
  if (o == NULL)
    return UV_ENOMEM;
  err = wd_open(o, ms, cb, data);
  if (err != 0) {
    if (attached) {
      loop->obs = NULL;
      uv__free(o);
    }
    return err;
  }
  /* Turned on inside uv_run, the entry hook has not named the thread. */
  if (o->tid == 0)
    o->tid = (int) syscall(SYS_gettid);
  o->flags |= NL__OBS_WATCHDOG;
  nl__wd_update(o, uv__hrtime_ns());
  return 0;
#endif
}
