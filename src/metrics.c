/* Loop metrics (observe.h): counters and distributions kept per loop in
 * one block allocated when collection starts, read by nl_loop_metrics()
 * and printed as a table by NODELOOP_STATS when the loop closes or the
 * process exits.
 *
 * Only the loop's thread writes a block. The exit report may read it
 * while that thread still runs, so every field is stored and loaded with
 * relaxed atomics: a plain move on x86-64 and arm64, and no data race. A
 * report taken that way is approximate (a count may be one ahead of its
 * histogram), never undefined.
 */
#include "internal.h"
#include "observe.h"
#include "threadpool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- histogram ------------------------------------------------------ *
 * Values below 32 have a bucket each. Above, every power of two [2^e,
 * 2^(e+1)) is cut into 16 equal buckets, indexed by the exponent and the
 * four bits below the leading one: a bucket is at most 1/16 of its lower
 * bound wide, and its midpoint is within 1/32 of any value in it. Any
 * 64-bit value has a bucket (976 of them, 7.6 KiB). */

#define HIST_SUB_BITS 4
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
  uint64_t count;
  uint64_t sum;
  uint64_t min;                  /* UINT64_MAX while empty */
  uint64_t max;
  uint64_t bucket[HIST_BUCKETS];
};

static inline uint64_t get(const uint64_t* p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void set(uint64_t* p, uint64_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* A load and a store, not a locked add: the loop's thread is the only
 * writer. */
static inline void add(uint64_t* p, uint64_t v) {
  set(p, get(p) + v);
}

static inline unsigned int hist_index(uint64_t v) {
  unsigned int e;

  if (v < 2 * HIST_SUB)
    return (unsigned int) v;
  e = 63u - (unsigned int) __builtin_clzll(v);
  return ((e - HIST_SUB_BITS + 1) << HIST_SUB_BITS) |
         (unsigned int) ((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The midpoint of bucket i. */
static uint64_t hist_value(unsigned int i) {
  unsigned int shift;

  if (i < 2 * HIST_SUB)
    return i;
  shift = (i >> HIST_SUB_BITS) - 1;
  return ((uint64_t) (HIST_SUB | (i & (HIST_SUB - 1))) << shift) +
         ((uint64_t) 1 << shift) / 2;
}

static inline void hist_record(struct hist* h, uint64_t v) {
  add(&h->bucket[hist_index(v)], 1);
  add(&h->count, 1);
  add(&h->sum, v);
  if (v < get(&h->min))
    set(&h->min, v);
  if (v > get(&h->max))
    set(&h->max, v);
}

static void hist_init(struct hist* h) {
  h->min = UINT64_MAX;
}

/* Nearest-rank percentiles: the value of the sample at rank ceil(p% of
 * n), reported as its bucket's midpoint kept within [min, max]. Ranks
 * come from the buckets themselves, so a histogram being written
 * meanwhile gives a coherent answer. O(buckets). */
static void hist_read(const struct hist* h, nl_histogram_t* out) {
  static const unsigned int pct[3] = {50, 90, 99};
  uint64_t* dst[3];
  uint64_t total = 0, seen = 0, rank, v;
  unsigned int i, k = 0;

  dst[0] = &out->p50;
  dst[1] = &out->p90;
  dst[2] = &out->p99;
  memset(out, 0, sizeof(*out));
  for (i = 0; i < HIST_BUCKETS; i++)
    total += get(&h->bucket[i]);
  if (total == 0)
    return;
  out->count = total;
  out->min = get(&h->min);
  out->max = get(&h->max);
  if (out->min > out->max)   /* min's first store not seen yet */
    out->min = out->max;
  out->mean = get(&h->sum) / total;
  for (i = 0; i < HIST_BUCKETS && k < 3; i++) {
    seen += get(&h->bucket[i]);
    while (k < 3) {
      rank = (total * pct[k] + 99) / 100;
      if (seen < rank)
        break;
      v = hist_value(i);
      *dst[k++] = v < out->min ? out->min : v > out->max ? out->max : v;
    }
  }
  for (; k < 3; k++)   /* buckets filled after the total was taken */
    *dst[k] = out->max;
}

/* ---- the per-loop block ---------------------------------------------- */

struct nl__metrics {
  struct nl__metrics* next;      /* registry of reported blocks */
  const uv_loop_t* loop;
  pid_t pid;                     /* the process that opened it */
  int reported;                  /* printed already (at exit) */
  uint64_t opened;               /* uv__hrtime_ns() */
  uint64_t iterations;
  uint64_t wait_ns;
  uint64_t phase_ns[NL_PHASE_COUNT];
  uint64_t phase_cbs[NL_PHASE_COUNT];
  uint64_t submitted[NL_WORK_KIND_COUNT];
  uint64_t completed[NL_WORK_KIND_COUNT];
  struct hist lag;
  struct hist cb;
  struct hist queued;
  struct hist run;
};

/* NODELOOP_STATS is read once. Blocks of loops opened while it is set
 * sit in a registry, so that the exit handler finds those still open. */
static struct {
  uv_once_t once;
  uv_mutex_t mutex;
  int report;                    /* NODELOOP_STATS asks for tables */
  char path[4096];               /* "" for stderr */
  struct nl__metrics* open;
} reg = {UV_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, 0, "", NULL};

static void report_at_exit(void);

static void reg_init(void) {
  const char* s = getenv("NODELOOP_STATS");

  if (s == NULL || *s == '\0' || strcmp(s, "0") == 0)
    return;
  /* "1" means stderr; anything else names a file, appended to. A name
   * too long for the buffer falls back to stderr. */
  if (strcmp(s, "1") != 0 && strlen(s) < sizeof(reg.path))
    strcpy(reg.path, s);
  if (atexit(report_at_exit) == 0)
    reg.report = 1;
}

int nl__metrics_loop_open(struct nl__obs* o) {
  struct nl__metrics* mt;

  uv_once(&reg.once, reg_init);
  mt = uv__calloc(1, sizeof(*mt));
  if (mt == NULL)
    return UV_ENOMEM;
  mt->loop = o->loop;
  mt->pid = getpid();
  mt->opened = uv__hrtime_ns();
  hist_init(&mt->lag);
  hist_init(&mt->cb);
  hist_init(&mt->queued);
  hist_init(&mt->run);
  o->metrics = mt;
  if (reg.report) {
    uv_mutex_lock(&reg.mutex);
    mt->next = reg.open;
    reg.open = mt;
    uv_mutex_unlock(&reg.mutex);
  }
  return 0;
}

static void report(struct nl__metrics* mt, const char* when);

void nl__metrics_loop_close(struct nl__obs* o) {
  struct nl__metrics* mt = o->metrics;
  struct nl__metrics** p;
  int print = 0;

  if (mt == NULL)
    return;
  if (reg.report) {
    uv_mutex_lock(&reg.mutex);
    for (p = &reg.open; *p != NULL; p = &(*p)->next) {
      if (*p == mt) {
        *p = mt->next;
        break;
      }
    }
    print = !mt->reported && mt->pid == getpid();
    uv_mutex_unlock(&reg.mutex);
  }
  if (print)
    report(mt, "at close");
  o->metrics = NULL;
  uv__free(mt);
}

/* ---- hooks (loop thread) --------------------------------------------- */

void nl__metrics_iteration(struct nl__obs* o) {
  add(&o->metrics->iterations, 1);
}

void nl__metrics_phase(struct nl__obs* o, int phase, uint64_t dur) {
  unsigned int i = (unsigned int) phase - 1;

  if (i < NL_PHASE_COUNT)
    add(&o->metrics->phase_ns[i], dur);
}

void nl__metrics_wait(struct nl__obs* o, uint64_t dur) {
  add(&o->metrics->wait_ns, dur);
}

void nl__metrics_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                    uint64_t end) {
  struct nl__metrics* mt = o->metrics;
  unsigned int i = (unsigned int) f->phase - 1;

  hist_record(&mt->cb, end - f->start);
  if (i < NL_PHASE_COUNT)
    add(&mt->phase_cbs[i], 1);
}

void nl__metrics_timer_lag(struct nl__obs* o, uint64_t lag_ns) {
  hist_record(&o->metrics->lag, lag_ns);
}

void nl__metrics_work_submit(struct nl__obs* o, int wkind) {
  if ((unsigned int) wkind < NL_WORK_KIND_COUNT)
    add(&o->metrics->submitted[wkind], 1);
}

/* obs.c passes 0/0 for an item cancelled before it started: it counts as
 * completed but has no times. */
void nl__metrics_work_done(struct nl__obs* o, int wkind, uint64_t queued_ns,
                           uint64_t run_ns) {
  struct nl__metrics* mt = o->metrics;

  if ((unsigned int) wkind < NL_WORK_KIND_COUNT)
    add(&mt->completed[wkind], 1);
  if (queued_ns == 0 && run_ns == 0)
    return;
  hist_record(&mt->queued, queued_ns);
  hist_record(&mt->run, run_ns);
}

/* ---- reading --------------------------------------------------------- */

static void snapshot(const struct nl__metrics* mt, nl_loop_metrics_t* m) {
  int i;

  m->enabled = 1;
  m->iterations = get(&mt->iterations);
  for (i = 0; i < NL_PHASE_COUNT; i++) {
    m->phase_time_ns[i] = get(&mt->phase_ns[i]);
    m->phase_callbacks[i] = get(&mt->phase_cbs[i]);
  }
  m->wait_time_ns = get(&mt->wait_ns);
  hist_read(&mt->lag, &m->timer_lag);
  hist_read(&mt->cb, &m->callback_time);
  for (i = 0; i < NL_WORK_KIND_COUNT; i++) {
    m->pool_submitted[i] = get(&mt->submitted[i]);
    m->pool_completed[i] = get(&mt->completed[i]);
  }
  hist_read(&mt->queued, &m->pool_queue_wait);
  hist_read(&mt->run, &m->pool_run_time);
  uv__work_stats(&m->pool_queued, &m->pool_busy, &m->pool_threads);
}

int nl_loop_metrics_enable(uv_loop_t* loop) {
  struct nl__obs* o;
  int err;

  if (loop == NULL || (loop->flags & UV__LOOP_CLOSED))
    return UV_EINVAL;
  if (!NL_HOOKS)
    return UV_ENOTSUP;   /* built without the hooks: nothing would count */
  if (loop->obs != NULL && (loop->obs->flags & NL__OBS_METRICS))
    return 0;
  o = nl__obs_attach(loop);
  if (o == NULL)
    return UV_ENOMEM;
  err = nl__metrics_loop_open(o);
  if (err != 0) {
    if (o->flags == 0) {   /* attached just for this */
      loop->obs = NULL;
      uv__free(o);
    }
    return err;
  }
  o->flags |= NL__OBS_METRICS;
  return 0;
}

int nl_loop_metrics(const uv_loop_t* loop, nl_loop_metrics_t* m) {
  nl_loop_metrics_t all;
  size_t n;

  if (loop == NULL || m == NULL ||
      m->size < offsetof(nl_loop_metrics_t, enabled) + sizeof(m->enabled))
    return UV_EINVAL;
  memset(&all, 0, sizeof(all));
  if (loop->obs != NULL && (loop->obs->flags & NL__OBS_METRICS))
    snapshot(loop->obs->metrics, &all);
  else
    all.iterations = loop->iteration;
  /* An older caller's smaller struct gets the prefix it knows. */
  n = m->size < sizeof(all) ? m->size : sizeof(all);
  all.size = m->size;
  memcpy(m, &all, n);
  return 0;
}

/* ---- the NODELOOP_STATS table --------------------------------------- */

struct text {
  char buf[6144];
  size_t len;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text* t, const char* fmt, ...) {
  va_list ap;
  int n;

  if (t->len >= sizeof(t->buf))
    return;
  va_start(ap, fmt);
  n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    t->len += (size_t) n;
  if (t->len > sizeof(t->buf))
    t->len = sizeof(t->buf);   /* truncated */
}

/* A duration, with the unit that keeps three or four digits. */
static const char* dur(char* s, size_t size, uint64_t ns) {
  if (ns < 1000)
    snprintf(s, size, "%u ns", (unsigned int) ns);
  else if (ns < 1000000)
    snprintf(s, size, "%.1f us", (double) ns / 1e3);
  else if (ns < 1000000000)
    snprintf(s, size, "%.2f ms", (double) ns / 1e6);
  else
    snprintf(s, size, "%.3f s", (double) ns / 1e9);
  return s;
}

static void put_hist(struct text* t, const char* name,
                     const nl_histogram_t* h) {
  char a[6][24];

  put(t, "  %-16s %8" PRIu64 " %10s %10s %10s %10s %10s %10s\n", name,
      h->count, dur(a[0], 24, h->min), dur(a[1], 24, h->p50),
      dur(a[2], 24, h->p90), dur(a[3], 24, h->p99), dur(a[4], 24, h->max),
      dur(a[5], 24, h->mean));
}

/* Formats the whole table first: one write() per table keeps tables of
 * several loops or processes appended to one file from interleaving. */
static void report(struct nl__metrics* mt, const char* when) {
  static struct text t;   /* under print_mutex: too big for some stacks */
  static uv_mutex_t print_mutex = PTHREAD_MUTEX_INITIALIZER;
  nl_loop_metrics_t m;
  char a[24];
  int i, fd, saved_errno = errno;

  memset(&m, 0, sizeof(m));
  snapshot(mt, &m);
  uv_mutex_lock(&print_mutex);
  t.len = 0;
  put(&t, "nodeloop stats: loop %p %s, pid %d, observed for %s\n",
      (const void*) mt->loop, when, (int) mt->pid,
      dur(a, sizeof(a), uv__hrtime_ns() - mt->opened));
  put(&t, "  iterations %" PRIu64 ", waiting in the kernel %s\n",
      m.iterations, dur(a, sizeof(a), m.wait_time_ns));
  put(&t, "  %-16s %10s %10s\n", "phase", "time", "callbacks");
  for (i = 0; i < NL_PHASE_COUNT; i++)
    put(&t, "  %-16s %10s %10" PRIu64 "\n", nl__phase_name(i + 1),
        dur(a, sizeof(a), m.phase_time_ns[i]), m.phase_callbacks[i]);
  put(&t, "  %-16s %8s %10s %10s %10s %10s %10s %10s\n", "distribution",
      "count", "min", "p50", "p90", "p99", "max", "mean");
  put_hist(&t, "timer lag", &m.timer_lag);
  put_hist(&t, "callback", &m.callback_time);
  put_hist(&t, "pool queue wait", &m.pool_queue_wait);
  put_hist(&t, "pool run time", &m.pool_run_time);
  put(&t, "  %-16s %10s %10s\n", "pool items", "submitted", "completed");
  for (i = 0; i < NL_WORK_KIND_COUNT; i++)
    put(&t, "  %-16s %10" PRIu64 " %10" PRIu64 "\n", nl__work_kind_name(i),
        m.pool_submitted[i], m.pool_completed[i]);
  put(&t, "  pool now: %u queued, %u busy, %u threads\n\n", m.pool_queued,
      m.pool_busy, m.pool_threads);
  if (reg.path[0] == '\0') {
    uv__write_all(STDERR_FILENO, t.buf, t.len);
  } else {
    fd = open(reg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd >= 0) {
      uv__write_all(fd, t.buf, t.len);
      close(fd);
    }
  }
  uv_mutex_unlock(&print_mutex);
  errno = saved_errno;
}

/* Loops still open at exit: the default loop, or one that a program
 * never closes. Their threads may still be running; see the top. */
static void report_at_exit(void) {
  struct nl__metrics* mt;
  pid_t pid = getpid();

  uv_mutex_lock(&reg.mutex);
  for (mt = reg.open; mt != NULL; mt = mt->next) {
    if (mt->pid != pid || mt->reported)
      continue;   /* a forked child's copy of its parent's loops */
    mt->reported = 1;
    report(mt, "at exit");
  }
  uv_mutex_unlock(&reg.mutex);
}
