/* The trace writer behind NODELOOP_TRACE=FILE (observe.h): the recording
 * side. Every thread that records (loop threads, pool workers) appends
 * fixed-size binary records to a buffer of its own; a full buffer goes to
 * the background writer thread (trace_writer.c), which turns records into
 * Trace Event JSON and writes the file. The record path neither formats,
 * nor resolves symbols, nor writes, nor waits for the writer: when the
 * writer falls behind, threads take more buffers up to a cap, then count
 * what they drop.
 *
 * The file stays valid JSON at every moment the writer is not inside a
 * write, and the writer flushes everything recorded when the program
 * returns from main or calls exit() (atexit), and on SIGINT or SIGTERM
 * whose disposition was the default when tracing started (the handler
 * flushes, restores the default and raises the signal again).
 *
 * A child created by fork() is not traced: its loops run untraced and it
 * never writes into the parent's file.
 */
#include "trace.h"
#include "threadpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* loop.c: set once uv_default_loop() has handed the loop out. */
int uv__loop_is_default(const uv_loop_t* loop);

struct nl__trace nl__trace_g = {.state = NL__TRACE_OFF};

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static __thread struct nl__trace_thread* self;
/* Where a thread points after its exit destructor ran: records nothing. */
static struct nl__trace_thread exited = {.dead = 1};

/* ---- the record path ------------------------------------------------ */

/* Takes a free buffer for t, or a new one below the cap; NULL if none.
 * Called with the mutex held. */
static struct nl__trace_buf* take_buf(struct nl__trace_thread* t) {
  struct nl__trace* g = &nl__trace_g;
  struct nl__trace_buf* b = g->free_list;

  if (b != NULL) {
    g->free_list = b->next;
  } else {
    if (g->nbufs >= NL__TRACE_SPARE_BUFS + g->nthreads)
      return NULL;
    b = malloc(sizeof(*b));
    if (b == NULL)
      return NULL;
    g->nbufs++;
    b->done = 0;
  }
  b->next = NULL;
  b->tid = t->tid;
  __atomic_store_n(&b->n, 0, __ATOMIC_RELAXED);
  return b;
}

static void wake_writer(void) {
  uint64_t one = 1;
  ssize_t r;

  do
    r = write(nl__trace_g.wake_fd, &one, sizeof(one));
  while (r < 0 && errno == EINTR);
}

/* Hands b (may be NULL) to the writer and gives t a fresh buffer, or none
 * (then t drops records until one is free); or, when the thread exits,
 * marks it dead for the writer to free. */
static void hand_over(struct nl__trace_thread* t, struct nl__trace_buf* b,
                      int exiting) {
  struct nl__trace* g = &nl__trace_g;
  int wake = 0;

  pthread_mutex_lock(&g->mutex);
  if (b != NULL) {
    wake = g->full_head == NULL;
    b->next = NULL;
    *g->full_tail = b;
    g->full_tail = &b->next;
  }
  if (exiting)
    t->dead = 1;
  t->cur = t->dead ? NULL : take_buf(t);
  pthread_mutex_unlock(&g->mutex);
  /* One system call per full buffer (thousands of records), only when the
   * writer has nothing queued: it may be asleep. */
  if (wake)
    wake_writer();
}

static void thread_exit(void* arg) {
  struct nl__trace_thread* t = arg;

  hand_over(t, t->cur, 1);
  self = &exited;
}

/* First record of a thread: registers it and writes its track's name. */
static struct nl__trace_thread* thread_init(const uv_loop_t* loop) {
  struct nl__trace* g = &nl__trace_g;
  struct nl__trace_thread* t;
  struct nl__trace_rec* r;
  struct nl__trace_buf* b;

  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->tid = (int) syscall(SYS_gettid);
  pthread_mutex_lock(&g->mutex);
  t->next = g->threads;
  g->threads = t;
  g->nthreads++;
  t->cur = take_buf(t);
  if (loop == NULL)
    t->worker = ++g->nworkers;
  pthread_mutex_unlock(&g->mutex);
  pthread_setspecific(thread_key, t);
  self = t;

  b = t->cur;
  if (b == NULL)
    return t;
  r = &b->recs[0];
  memset(r, 0, sizeof(*r));
  r->type = NL__REC_THREAD;
  r->arg = (uint32_t) t->worker;
  r->loop = (uintptr_t) loop;
  r->t0 = loop != NULL && uv__loop_is_default(loop);
  if (loop != NULL &&
      pthread_getname_np(pthread_self(), r->u.name, sizeof(r->u.name)) != 0)
    r->u.name[0] = '\0';
  __atomic_store_n(&b->n, 1, __ATOMIC_RELEASE);
  return t;
}

static void count_drop(void) {
  __atomic_add_fetch(&nl__trace_g.dropped, 1, __ATOMIC_RELAXED);
}

static struct nl__trace_rec* rec_slow(const uv_loop_t* loop,
                                      struct nl__trace_buf** bp) {
  struct nl__trace_thread* t = self;
  struct nl__trace_buf* b;

  if (t == NULL)
    t = thread_init(loop);
  if (t == NULL || t->dead) {
    count_drop();
    return NULL;
  }
  b = t->cur;
  if (b == NULL || __atomic_load_n(&b->n, __ATOMIC_RELAXED) ==
                       NL__TRACE_BUF_RECS) {
    hand_over(t, b, 0);
    b = t->cur;
  }
  if (b == NULL) {
    count_drop();
    return NULL;
  }
  *bp = b;
  return &b->recs[__atomic_load_n(&b->n, __ATOMIC_RELAXED)];
}

/* The next free record of this thread's buffer, or NULL (not tracing, or
 * dropped). rec_put() publishes it to the writer. */
static inline struct nl__trace_rec* rec_get(const uv_loop_t* loop,
                                            struct nl__trace_buf** bp) {
  struct nl__trace_thread* t = self;
  struct nl__trace_buf* b;
  unsigned int n;

  if (__atomic_load_n(&nl__trace_g.state, __ATOMIC_RELAXED) !=
      NL__TRACE_ON)
    return NULL;
  if (__builtin_expect(t == NULL || t->cur == NULL, 0))
    return rec_slow(loop, bp);
  b = t->cur;
  n = __atomic_load_n(&b->n, __ATOMIC_RELAXED);
  if (__builtin_expect(n == NL__TRACE_BUF_RECS, 0))
    return rec_slow(loop, bp);
  *bp = b;
  return &b->recs[n];
}

static inline void rec_put(struct nl__trace_buf* b) {
  /* Release: the writer reads records below n without a lock. */
  __atomic_store_n(&b->n, __atomic_load_n(&b->n, __ATOMIC_RELAXED) + 1,
                   __ATOMIC_RELEASE);
}

void nl__trace_iteration(struct nl__obs* o, uint64_t start, uint64_t end) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(o->loop, &b);
  unsigned int queued, busy, threads;

  if (r == NULL)
    return;
  uv__work_stats(&queued, &busy, &threads);
  r->type = NL__REC_ITER;
  r->t0 = start;
  r->t1 = end;
  r->loop = (uintptr_t) o->loop;
  /* uv_run has counted this iteration already. */
  r->u.it.n = o->loop->iteration - 1;
  r->u.it.handles = o->loop->active_handles;
  r->u.it.reqs = o->loop->active_reqs.count;
  r->u.it.queue = queued;
  rec_put(b);
}

void nl__trace_phase(struct nl__obs* o, int phase, uint64_t start,
                     uint64_t end) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(o->loop, &b);

  if (r == NULL)
    return;
  r->type = NL__REC_PHASE;
  r->arg = (uint32_t) phase;
  r->t0 = start;
  r->t1 = end;
  r->loop = (uintptr_t) o->loop;
  rec_put(b);
}

void nl__trace_wait(struct nl__obs* o, uint64_t start, uint64_t end) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(o->loop, &b);

  if (r == NULL)
    return;
  r->type = NL__REC_WAIT;
  r->t0 = start;
  r->t1 = end;
  r->loop = (uintptr_t) o->loop;
  rec_put(b);
}

void nl__trace_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                  uint64_t end) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(o->loop, &b);

  if (r == NULL)
    return;
  r->type = NL__REC_CB;
  r->arg = (uint32_t) f->phase;
  r->t0 = f->start;
  r->t1 = end;
  r->loop = (uintptr_t) o->loop;
  r->u.cb.fn = (uintptr_t) f->fn;
  r->u.cb.flow = f->flow;
  r->u.cb.name = f->name;
  rec_put(b);
}

void nl__trace_work_submit(struct nl__obs* o, const uv_req_t* req,
                           int wkind, uint64_t ts) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(o->loop, &b);

  if (r == NULL)
    return;
  r->type = NL__REC_SUBMIT;
  r->arg = (uint32_t) wkind;
  r->t0 = ts;
  r->loop = (uintptr_t) o->loop;
  r->u.work.req = (uintptr_t) req;
  rec_put(b);
}

/* The loop a pool request belongs to: every pool request type keeps it in
 * its public `loop` field. */
static const uv_loop_t* req_loop(const uv_req_t* req, int wkind) {
  switch (wkind) {
    case NL_WORK_FS: return ((const uv_fs_t*) req)->loop;
    case NL_WORK_USER: return ((const uv_work_t*) req)->loop;
    case NL_WORK_GETADDRINFO: return ((const uv_getaddrinfo_t*) req)->loop;
    case NL_WORK_GETNAMEINFO: return ((const uv_getnameinfo_t*) req)->loop;
    case NL_WORK_RANDOM: return ((const uv_random_t*) req)->loop;
    default: return NULL;
  }
}

void nl__trace_work_run(const uv_req_t* req, int wkind, uint64_t start,
                        uint64_t end, int slot) {
  struct nl__trace_buf* b;
  struct nl__trace_rec* r = rec_get(NULL, &b);

  if (r == NULL)
    return;
  r->type = NL__REC_WORK;
  /* A ring item's track is its slot (trace_writer.c, ring_track). */
  r->arg = (uint32_t) wkind | (slot >= 0 ? (uint32_t) (slot + 1) << 8 : 0);
  r->t0 = start;
  r->t1 = end;
  r->loop = (uintptr_t) req_loop(req, wkind);
  r->u.work.req = (uintptr_t) req;
  r->u.work.submit = (uint64_t) (uintptr_t) req->reserved[NL__REQ_SUBMIT];
  r->u.work.name = wkind == NL_WORK_FS
                       ? nl__fs_cb_name(((const uv_fs_t*) req)->fs_type)
                       : nl__work_kind_name(wkind);
  rec_put(b);
}

/* ---- the end: exit, signals, fork ----------------------------------- */

/* Asks the writer for its final flush and waits for it, at most
 * timeout_ms. Async-signal-safe: an atomic store, write() and poll(). */
static void final_flush(int timeout_ms) {
  struct nl__trace* g = &nl__trace_g;
  struct pollfd p;

  if (g->pid != getpid())
    return;   /* a forked child: the writer is the parent's */
  __atomic_store_n(&g->final_req, 1, __ATOMIC_SEQ_CST);
  wake_writer();
  /* The writer leaves its "done" byte unread, so that every waiter (exit
   * and a signal arriving meanwhile) sees it. */
  p.fd = g->done_pipe[0];
  p.events = POLLIN;
  while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
    continue;
}

static void at_exit(void) {
  final_flush(5000);
}

static void on_signal(int signum) {
  struct nl__trace* g = &nl__trace_g;
  int saved = errno;

  final_flush(3000);
  sigaction(signum, signum == SIGINT ? &g->old_int : &g->old_term, NULL);
  raise(signum);   /* delivered, with the default action, on return */
  errno = saved;
}

static void install_handler(int signum, struct sigaction* old) {
  struct sigaction sa;

  if (sigaction(signum, NULL, old) != 0 || (old->sa_flags & SA_SIGINFO) ||
      old->sa_handler != SIG_DFL)
    return;   /* the program's own disposition stays */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(signum, &sa, NULL);
}

static void in_child(void) {
  __atomic_store_n(&nl__trace_g.state, NL__TRACE_FORKED, __ATOMIC_RELAXED);
}

/* ---- start ---------------------------------------------------------- */

static void read_comm(char* buf, size_t size) {
  ssize_t n;
  int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);

  buf[0] = '\0';
  if (fd < 0)
    return;
  n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0)
    n = 0;
  while (n > 0 && buf[n - 1] == '\n')
    n--;
  buf[n] = '\0';
}

/* "%p" in the name becomes the process id, so that the processes of a
 * program (a Node.js parent and its children, a benchmark and its helper)
 * each write their own file; "%%" is a percent sign. 0 or -1 (too long). */
static int expand_path(const char* in, char* out, size_t size) {
  size_t n = 0;
  int len;

  for (; *in != '\0'; in++) {
    if (in[0] == '%' && (in[1] == 'p' || in[1] == '%')) {
      if (in[1] == 'p')
        len = snprintf(out + n, size - n, "%ld", (long) getpid());
      else
        len = snprintf(out + n, size - n, "%%");
      if (len < 0 || (size_t) len >= size - n)
        return -1;
      n += (size_t) len;
      in++;
      continue;
    }
    if (n + 1 >= size)
      return -1;
    out[n++] = *in;
  }
  out[n] = '\0';
  return 0;
}

static void start(void) {
  struct nl__trace* g = &nl__trace_g;
  const char* name = getenv("NODELOOP_TRACE");
  char path[PATH_MAX];
  sigset_t all, old;
  pthread_attr_t attr;
  pthread_t th;
  int err;

  if (expand_path(name, path, sizeof(path)) != 0) {
    g->err = UV_ENAMETOOLONG;
    fprintf(stderr, "nodeloop: NODELOOP_TRACE=%s: name too long; running"
            " untraced\n", name);
    return;
  }
  /* O_NONBLOCK: a FIFO nobody reads would block this open, in the
   * program's first uv_loop_init, for ever; it fails with ENXIO instead
   * (and a FIFO with a reader fails the first write: pwrite cannot seek). */
  g->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK,
               0644);
  if (g->fd >= 0 && fcntl(g->fd, F_SETFL, 0) != 0) {
    close(g->fd);
    g->fd = -1;
  }
  if (g->fd < 0) {
    g->err = -errno;
    fprintf(stderr, "nodeloop: NODELOOP_TRACE=%s: %s; running untraced\n",
            path, strerror(errno));
    return;
  }
  g->pid = getpid();
  g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g->wake_fd < 0 || pipe2(g->done_pipe, O_CLOEXEC) != 0 ||
      pthread_key_create(&thread_key, thread_exit) != 0 ||
      pthread_mutex_init(&g->mutex, NULL) != 0)
    goto fail;
  g->full_tail = &g->full_head;
  read_comm(g->comm, sizeof(g->comm));
  if (nl__trace_writer_begin() != 0)
    goto fail;

  /* The writer runs with every signal blocked: a SIGTERM handled on the
   * writer's own thread would wait for itself. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  err = pthread_create(&th, &attr, nl__trace_writer_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0)
    goto fail;

  __atomic_store_n(&g->state, NL__TRACE_ON, __ATOMIC_RELEASE);
  atexit(at_exit);
  pthread_atfork(NULL, NULL, in_child);
  install_handler(SIGINT, &g->old_int);
  install_handler(SIGTERM, &g->old_term);
  return;

fail:
  err = errno != 0 ? errno : ENOMEM;
  g->err = -err;
  fprintf(stderr, "nodeloop: NODELOOP_TRACE=%s: cannot start the writer: %s;"
          " running untraced\n", path, strerror(err));
  close(g->fd);
  g->fd = -1;
}

int nl__trace_loop_open(struct nl__obs* o) {
  pthread_once(&start_once, start);
  if (nl__trace_g.err != 0)
    return nl__trace_g.err;
  if (__atomic_load_n(&nl__trace_g.state, __ATOMIC_ACQUIRE) != NL__TRACE_ON)
    return UV_ECANCELED;   /* after fork(), or after the final flush */
  (void) o;   /* nothing per loop: every record carries its loop */
  return 0;
}
