/* The trace writer's background thread (trace.h): takes full buffers from
 * the recording threads (and, every quarter second, what the threads'
 * current buffers hold so far), formats their records as Trace Event
 * JSON, resolves callback symbols with dladdr (cached) and writes the
 * file. After every write the file ends with the closing part of the
 * JSON, which the next write overwrites: the file is valid between
 * writes, and a crash loses what was not yet written.
 */
#include "trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTIAL_EVERY_NS 250000000u
#define OUT_SIZE (1u << 20)
#define OUT_SLACK 2048   /* more than the longest event */

static const char head_fmt[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":%d,"
    "\"args\":{\"name\":\"%s\"}}";
static const char tail[] =
    "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"nodeloop\"}}\n";

/* The writer thread's own state. */
static char* out;
static size_t out_len;
static off_t file_pos;          /* where the next event goes */
static int write_failed;

struct sym {
  uintptr_t fn;
  char* name;                   /* NULL: dladdr found none */
};
static struct sym* syms;
static size_t syms_cap;
static size_t syms_used;

/* ---- output ---------------------------------------------------------- */

static void write_at(const char* p, size_t len, off_t pos) {
  ssize_t n;

  while (len > 0 && !write_failed) {
    n = pwrite(nl__trace_g.fd, p, len, pos);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      write_failed = 1;   /* disk full or similar: stop, keep what is valid */
      break;
    }
    p += n;
    len -= (size_t) n;
    pos += n;
  }
}

/* Appends the formatted events to the file, then the closing part after
 * them (overwritten by the next flush). */
static void flush_out(void) {
  if (out_len == 0)
    return;
  write_at(out, out_len, file_pos);
  file_pos += (off_t) out_len;
  out_len = 0;
  write_at(tail, sizeof(tail) - 1, file_pos);
}

static void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char* fmt, ...) {
  va_list ap;
  int n;

  if (out_len > OUT_SIZE - OUT_SLACK)
    flush_out();
  va_start(ap, fmt);
  n = vsnprintf(out + out_len, OUT_SIZE - out_len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t) n < OUT_SIZE - out_len)
    out_len += (size_t) n;
}

/* JSON string contents of s, into buf. */
static const char* esc(const char* s, char* buf, size_t size) {
  size_t i = 0;
  unsigned char c;

  for (; *s != '\0' && i + 7 < size; s++) {
    c = (unsigned char) *s;
    if (c == '"' || c == '\\') {
      buf[i++] = '\\';
      buf[i++] = (char) c;
    } else if (c < 0x20) {
      i += (size_t) snprintf(buf + i, size - i, "\\u%04x", c);
    } else {
      buf[i++] = (char) c;
    }
  }
  buf[i] = '\0';
  return buf;
}

/* Microseconds with three decimals: the record's nanoseconds, exactly. */
#define US_FMT "%" PRIu64 ".%03u"
#define US(ns) (uint64_t) ((ns) / 1000), (unsigned int) ((ns) % 1000)

/* ---- symbols --------------------------------------------------------- */

static size_t sym_slot(uintptr_t fn) {
  uint64_t h = (uint64_t) fn * 0x9e3779b97f4a7c15u;
  size_t i = (size_t) (h >> 20) & (syms_cap - 1);

  while (syms[i].fn != 0 && syms[i].fn != fn)
    i = (i + 1) & (syms_cap - 1);
  return i;
}

static int syms_grow(void) {
  struct sym* old = syms;
  size_t old_cap = syms_cap;
  size_t i;

  syms_cap = old_cap == 0 ? 256 : old_cap * 2;
  syms = calloc(syms_cap, sizeof(*syms));
  if (syms == NULL) {
    syms = old;
    syms_cap = old_cap;
    return -1;
  }
  for (i = 0; i < old_cap; i++)
    if (old[i].fn != 0)
      syms[sym_slot(old[i].fn)] = old[i];
  free(old);
  return 0;
}

/* The exported name of the function at fn, or NULL: a static function
 * has none, and dladdr would name whatever exported symbol precedes it. */
static const char* symbol_of(uintptr_t fn) {
  Dl_info info;
  size_t i;
  char* name = NULL;

  if (fn == 0)
    return NULL;
  if ((syms_used + 1) * 2 > syms_cap && syms_grow() != 0)
    return NULL;
  i = sym_slot(fn);
  if (syms[i].fn == fn)
    return syms[i].name;
  if (dladdr((void*) fn, &info) != 0 && info.dli_sname != NULL &&
      (uintptr_t) info.dli_saddr == fn) {
    name = nl__demangle(info.dli_sname);
    if (name == NULL)
      name = strdup(info.dli_sname);
  }
  syms[i].fn = fn;
  syms[i].name = name;
  syms_used++;
  return name;
}

/* ---- records to JSON ------------------------------------------------- */

static void emit_thread_name(int pid, int tid, const char* name) {
  char e[256];

  emit(",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,"
       "\"args\":{\"name\":\"%s\"}}",
       pid, tid, esc(name, e, sizeof(e)));
}

static void format_thread(const struct nl__trace_rec* r, int pid, int tid) {
  char name[128];

  if (r->arg != 0)
    snprintf(name, sizeof(name), "nodeloop worker %u", r->arg);
  else
    snprintf(name, sizeof(name), "%.24s%sloop 0x%" PRIxPTR "%s", r->u.name,
             r->u.name[0] != '\0' ? " " : "", r->loop,
             r->t0 ? " (default loop)" : "");
  emit_thread_name(pid, tid, name);
}

/* One end of a flow arrow ("s" at submit, "t" on the worker, "f" at the
 * completion callback, bound to the slice it starts: "bp":"e"). */
static void format_flow(const char* ph, uintptr_t id, uint64_t t, int pid,
                        int tid) {
  emit(",\n{\"ph\":\"%s\"%s,\"cat\":\"pool\",\"name\":\"pool\","
       "\"id\":\"0x%" PRIxPTR "\",\"ts\":" US_FMT ",\"pid\":%d,\"tid\":%d}",
       ph, ph[0] == 'f' ? ",\"bp\":\"e\"" : "", id, US(t), pid, tid);
}

/* The track of an io_uring slot of a loop: a made-up thread id above any
 * real one (pid_max is at most 2^22), named when first used. */
#define RING_TRACKS 1024
static int ring_tids[RING_TRACKS];

static int ring_track(const struct nl__trace_rec* r, int pid) {
  unsigned int slot = (r->arg >> 8) - 1;
  int tid = (int) (0x40000000u | (((uint32_t) (r->loop >> 4) & 0xffffu) << 8) |
                   (slot & 0xffu));
  unsigned int h = (unsigned int) tid % RING_TRACKS;
  char name[128];

  while (ring_tids[h] != 0 && ring_tids[h] != tid)
    h = (h + 1) % RING_TRACKS;
  if (ring_tids[h] == tid)
    return tid;
  if (ring_tids[(h + 1) % RING_TRACKS] == 0)   /* keep one place free */
    ring_tids[h] = tid;
  snprintf(name, sizeof(name), "nodeloop io_uring %u of 0x%" PRIxPTR,
           slot, r->loop);
  emit_thread_name(pid, tid, name);
  return tid;
}

static void format_rec(const struct nl__trace_rec* r, int tid) {
  int pid = (int) nl__trace_g.pid;
  const char* sym;
  char e[512];

  switch (r->type) {
    case NL__REC_THREAD:
      format_thread(r, pid, tid);
      break;
    case NL__REC_ITER:
      emit(",\n{\"ph\":\"X\",\"cat\":\"loop\",\"name\":\"iteration\","
           "\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"pid\":%d,\"tid\":%d,"
           "\"args\":{\"loop\":\"0x%" PRIxPTR "\",\"n\":%" PRIu64 "}}",
           US(r->t0), US(r->t1 - r->t0), pid, tid, r->loop, r->u.it.n);
      emit(",\n{\"ph\":\"C\",\"name\":\"loop 0x%" PRIxPTR "\",\"pid\":%d,"
           "\"tid\":%d,\"ts\":" US_FMT ",\"args\":{\"active_handles\":%u,"
           "\"active_reqs\":%u,\"pool_queue\":%u}}",
           r->loop, pid, tid, US(r->t1), r->u.it.handles, r->u.it.reqs,
           r->u.it.queue);
      break;
    case NL__REC_PHASE:
      emit(",\n{\"ph\":\"X\",\"cat\":\"phase\",\"name\":\"%s\","
           "\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"pid\":%d,\"tid\":%d,"
           "\"args\":{\"loop\":\"0x%" PRIxPTR "\"}}",
           nl__phase_name((int) r->arg), US(r->t0), US(r->t1 - r->t0), pid,
           tid, r->loop);
      break;
    case NL__REC_WAIT:
      emit(",\n{\"ph\":\"X\",\"cat\":\"wait\",\"name\":\"poll wait\","
           "\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"pid\":%d,\"tid\":%d,"
           "\"args\":{\"loop\":\"0x%" PRIxPTR "\"}}",
           US(r->t0), US(r->t1 - r->t0), pid, tid, r->loop);
      break;
    case NL__REC_CB:
      sym = symbol_of(r->u.cb.fn);
      emit(",\n{\"ph\":\"X\",\"cat\":\"callback\",\"name\":\"%s\","
           "\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"pid\":%d,\"tid\":%d,"
           "\"args\":{\"loop\":\"0x%" PRIxPTR "\",\"phase\":\"%s\","
           "\"fn\":\"0x%" PRIxPTR "\"%s%s%s}}",
           r->u.cb.name, US(r->t0), US(r->t1 - r->t0), pid, tid, r->loop,
           nl__phase_name((int) r->arg), r->u.cb.fn,
           sym != NULL ? ",\"symbol\":\"" : "",
           sym != NULL ? esc(sym, e, sizeof(e)) : "", sym != NULL ? "\"" : "");
      if (r->u.cb.flow != 0)
        format_flow("f", r->u.cb.flow, r->t0, pid, tid);
      break;
    case NL__REC_SUBMIT:
      format_flow("s", r->u.work.req, r->t0, pid, tid);
      break;
    case NL__REC_WORK:
      if (r->arg >> 8)
        tid = ring_track(r, pid);
      emit(",\n{\"ph\":\"X\",\"cat\":\"work\",\"name\":\"%s\","
           "\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"pid\":%d,\"tid\":%d,"
           "\"args\":{\"loop\":\"0x%" PRIxPTR "\",\"queued_us\":" US_FMT "}}",
           r->u.work.name, US(r->t0), US(r->t1 - r->t0), pid, tid, r->loop,
           US(r->t0 > r->u.work.submit ? r->t0 - r->u.work.submit : 0));
      format_flow("t", r->u.work.req, r->t0, pid, tid);
      break;
    default:
      break;
  }
}

/* Formats what b holds beyond what was written before. */
static void format_buf(struct nl__trace_buf* b) {
  unsigned int n = __atomic_load_n(&b->n, __ATOMIC_ACQUIRE);

  for (; b->done < n; b->done++)
    format_rec(&b->recs[b->done], b->tid);
}

/* ---- the thread ------------------------------------------------------ */

/* Full buffers, oldest first, then back to the free list. */
static void drain_full(void) {
  struct nl__trace* g = &nl__trace_g;
  struct nl__trace_buf* list;
  struct nl__trace_buf* b;
  struct nl__trace_buf* next;

  pthread_mutex_lock(&g->mutex);
  list = g->full_head;
  g->full_head = NULL;
  g->full_tail = &g->full_head;
  pthread_mutex_unlock(&g->mutex);

  for (b = list; b != NULL; b = b->next)
    format_buf(b);

  pthread_mutex_lock(&g->mutex);
  for (b = list; b != NULL; b = next) {
    next = b->next;
    b->done = 0;
    b->next = g->free_list;
    g->free_list = b;
  }
  pthread_mutex_unlock(&g->mutex);
}

/* What the threads' current buffers hold so far. A buffer seen here can
 * be handed over meanwhile, but only this thread recycles buffers, so it
 * stays valid; its `done` carries over. Threads that exited are freed. */
static void drain_current(void) {
  struct nl__trace* g = &nl__trace_g;
  struct nl__trace_thread** tp;
  struct nl__trace_thread* t;
  struct nl__trace_buf** bufs;
  size_t n = 0;
  size_t i;

  pthread_mutex_lock(&g->mutex);
  bufs = malloc((g->nthreads + 1) * sizeof(*bufs));
  for (tp = &g->threads; (t = *tp) != NULL;) {
    if (t->dead) {
      *tp = t->next;
      g->nthreads--;
      free(t);
      continue;
    }
    if (t->cur != NULL && bufs != NULL)
      bufs[n++] = t->cur;
    tp = &t->next;
  }
  pthread_mutex_unlock(&g->mutex);
  for (i = 0; i < n; i++)
    format_buf(bufs[i]);
  free(bufs);
}

int nl__trace_writer_begin(void) {
  struct nl__trace* g = &nl__trace_g;
  char e[256];
  int n;

  out = malloc(OUT_SIZE);
  if (out == NULL) {
    errno = ENOMEM;
    return -1;
  }
  n = snprintf(out, OUT_SIZE, head_fmt, (int) g->pid, (int) g->pid,
               esc(g->comm, e, sizeof(e)));
  out_len = (size_t) n;
  flush_out();
  if (write_failed) {
    errno = EIO;
    return -1;
  }
  return 0;
}

void* nl__trace_writer_main(void* arg) {
  struct nl__trace* g = &nl__trace_g;
  struct pollfd p;
  uint64_t last_current = 0;
  uint64_t now;
  uint64_t v;
  uint64_t dropped;
  int final;

  (void) arg;
  pthread_setname_np(pthread_self(), "nodeloop trace");
  for (;;) {
    p.fd = g->wake_fd;
    p.events = POLLIN;
    if (poll(&p, 1, PARTIAL_EVERY_NS / 1000000) > 0)
      while (read(g->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
        continue;
    final = __atomic_load_n(&g->final_req, __ATOMIC_SEQ_CST);
    if (final)
      __atomic_store_n(&g->state, NL__TRACE_FINISHED, __ATOMIC_SEQ_CST);
    drain_full();
    now = uv__hrtime_ns();
    if (final || now - last_current >= PARTIAL_EVERY_NS) {
      drain_current();
      last_current = now;
    }
    flush_out();
    if (final)
      break;
  }

  dropped = __atomic_load_n(&g->dropped, __ATOMIC_RELAXED);
  if (dropped != 0)
    fprintf(stderr, "nodeloop: trace: %" PRIu64 " events dropped (the writer"
            " fell behind)\n", dropped);
  if (write(g->done_pipe[1], "x", 1) < 0)
    (void) 0;
  return NULL;
}
