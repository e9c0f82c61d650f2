/* The blocked-loop watchdog: NODELOOP_BLOCKED_MS (read once per process,
 * so those cases run this binary again as a helper with the variable set)
 * and nl_loop_set_blocked_threshold(). The functions that block are not
 * static and the binary exports its symbols, so that the reports can name
 * them. */
/* NL_TEST_THREADED */
#include "test.h"

#include "nodeloop.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

static atomic_int sink;   /* work after a call, so it is not a tail call */

/* Keeps the thread busy for ms; short sleeps, so that a sanitizer that
 * delivers signals at system calls delivers the watchdog's too. */
__attribute__((noinline)) void nl_wd_test_block(unsigned int ms) {
  uint64_t end = uv_hrtime() + ms * MS;
  struct timespec ts = {0, 200000};

  while (uv_hrtime() < end)
    nanosleep(&ts, NULL);
  sink++;
}

static unsigned int block_ms;
static int exit_after_block;

__attribute__((noinline)) void nl_wd_test_timer_cb(uv_timer_t* t) {
  (void) t;
  nl_wd_test_block(block_ms);
  sink++;   /* not a tail call: this frame stays on the stack */
  if (exit_after_block)
    uv_stop(t->loop);
}

__attribute__((noinline)) void nl_wd_test_timer_cb2(uv_timer_t* t) {
  (void) t;
  nl_wd_test_block(block_ms * 2);
  sink++;
}

static void noop_timer_cb(uv_timer_t* t) {
  (void) t;
}

static const void* fn_ptr(void (*fn)(uv_timer_t*)) {
  union { void (*f)(uv_timer_t*); const void* p; } u;
  u.f = fn;
  return u.p;
}

/* ---- helpers run with NODELOOP_BLOCKED_MS set ----------------------- */

/* argv: block ms: a timer callback blocks, and the program exits as soon
 * as it returns, without closing its loop (as Node.js does at the end of
 * a script): the end line must still be written, at exit. */
HELPER(block_then_exit) {
  static uv_loop_t loop;
  static uv_timer_t t;

  block_ms = (unsigned int) atoi(argv[0]);
  exit_after_block = 1;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, nl_wd_test_timer_cb, 1, 0));
  uv_run(&loop, UV_RUN_DEFAULT);
  exit(0);
}

/* argv: block ms [wait ms]: a timer due after `wait` blocks for `block`. */
HELPER(block_timer) {
  uv_loop_t loop;
  uv_timer_t t;
  unsigned int wait = argc > 1 ? (unsigned int) atoi(argv[1]) : 10;

  block_ms = (unsigned int) atoi(argv[0]);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, block_ms ? nl_wd_test_timer_cb : noop_timer_cb,
                          wait, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  nl_test_close_loop(&loop);
  return 0;
}

static char* read_all(const char* path) {
  char* buf = calloc(1, 65536);
  ssize_t n;
  size_t len = 0;
  int fd = open(path, O_RDONLY);

  CHECK(buf != NULL);
  if (fd < 0)
    return buf;   /* never written: empty */
  while ((n = read(fd, buf + len, 65535 - len)) > 0)
    len += (size_t) n;
  close(fd);
  return buf;
}

/* Runs a helper with NODELOOP_BLOCKED_MS=ms, its reports going to the log
 * file `log`, or to stderr redirected to `errfile`. */
static void run_helper(const char* ms, const char* log, const char* errfile,
                       const char* name, const char* a1, const char* a2) {
  char* args[] = {(char*) nl_test_exepath(), (char*) "--helper", (char*) name,
                  (char*) a1, (char*) a2, NULL};
  int status;
  pid_t pid;
  int fd;

  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setenv("NODELOOP_BLOCKED_MS", ms, 1);
    if (log != NULL)
      setenv("NODELOOP_BLOCKED_LOG", log, 1);
    else
      unsetenv("NODELOOP_BLOCKED_LOG");
    if (errfile != NULL) {
      fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || dup2(fd, 2) < 0)
        _exit(126);
    }
    execv(args[0], args);
    _exit(127);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

static int count(const char* s, const char* what) {
  int n = 0;
  for (s = strstr(s, what); s != NULL; s = strstr(s + 1, what))
    n++;
  return n;
}

/* The total of the (only) end line, in ms. */
static double end_total(const char* text) {
  const char* p = strstr(text, " ended after ");
  CHECK(p != NULL);
  return strtod(p + strlen(" ended after "), NULL);
}

static char* path_in_tmp(const char* name) {
  static char buf[2][512];
  static int i;
  char* p = buf[i++ % 2];
  snprintf(p, 512, "%s/%s", nl_test_tmpdir(), name);
  return p;
}

/* A timer callback blocking 200 ms with a 100 ms threshold: one report on
 * stderr with the phase, the kind, the symbol and a stack through the
 * blocking function, then one end line with the total. */
TEST(env_timer_reported) {
  const char* err = path_in_tmp("stderr");
  char* text;
  const char* stack;

  run_helper("100", NULL, err, "block_timer", "200", NULL);
  text = read_all(err);
  CHECK_EQ(count(text, "blocked for "), 1);
  CHECK(strstr(text, "timer callback nl_wd_test_timer_cb+0x0 (") != NULL);
  CHECK(strstr(text, " in phase timers\n") != NULL);
  stack = strstr(text, "\n  #0 ");
  CHECK(stack != NULL);
  CHECK(strstr(stack, " nl_wd_test_block+0x") != NULL);
  CHECK(strstr(stack, " nl_wd_test_timer_cb+0x") != NULL);
  CHECK_EQ(count(text, " ended after "), 1);
  CHECK(strstr(text, "timer callback nl_wd_test_timer_cb+0x0") <
        strstr(text, " ended after "));
  CHECK(end_total(text) >= 200.0);
  CHECK(end_total(text) < 2000.0);
  free(text);
}

TEST(env_end_line_at_exit) {
  const char* err = path_in_tmp("stderr");
  char* text;

  run_helper("100", NULL, err, "block_then_exit", "150", NULL);
  text = read_all(err);
  CHECK_EQ(count(text, "blocked for "), 1);
  CHECK_EQ(count(text, " ended after "), 1);
  CHECK(end_total(text) >= 150.0);
  CHECK(end_total(text) < 2000.0);
  free(text);
}

/* NODELOOP_BLOCKED_LOG appends; 400 ms waiting for a timer is not
 * blocking, 250 ms in its callback after that is, and counts alone. The
 * watchdog measures wall time (a callback stuck in a system call is
 * blocked too), so a thread preempted past the threshold is reported:
 * thresholds of 100-150 ms keep a loaded machine's preemptions out. */
TEST(env_log_wait_not_counted) {
  const char* log = path_in_tmp("blocked.log");
  const char* err = path_in_tmp("stderr");
  char* text;
  char* errtext;

  run_helper("150", log, err, "block_timer", "0", "400");
  text = read_all(log);
  CHECK_EQ(strlen(text), 0);
  free(text);

  run_helper("150", log, err, "block_timer", "250", "400");
  run_helper("150", log, err, "block_timer", "250", "400");
  text = read_all(log);
  CHECK_EQ(count(text, "blocked for "), 2);
  CHECK_EQ(count(text, " ended after "), 2);
  CHECK(end_total(text) >= 250.0);
  CHECK(end_total(text) < 400.0);
  errtext = read_all(err);
  CHECK(strstr(errtext, "blocked for") == NULL);
  free(errtext);
  free(text);
}

/* ---- the C API -------------------------------------------------------- */

#define MAX_REPORTS 8

struct seen {
  nl_blocked_report_t r;
  int has_block;                 /* nl_wd_test_block in the stack */
  int has_cb;                    /* nl_wd_test_timer_cb */
  int has_cb2;                   /* nl_wd_test_timer_cb2 */
};

struct recorder {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int n;
  struct seen s[MAX_REPORTS];
  unsigned int sleep_ms;         /* in the callback, on done = 0 */
  /* Phase reports are kept only when a test asks for them: on a loaded
   * machine a loop thread preempted past the threshold in some phase is
   * (rightly) reported, which a test about one callback must not count. */
  int phases_too;
  /* A test about one phase counts that phase's reports only, for the
   * same reason: the loop thread may be preempted past the threshold in
   * another phase too. */
  const char* phase_only;
  atomic_int finished;           /* callbacks that returned */
};

static void recorder_init(struct recorder* rec) {
  memset(rec, 0, sizeof(*rec));
  CHECK_OK(pthread_mutex_init(&rec->lock, NULL));
  CHECK_OK(pthread_cond_init(&rec->cond, NULL));
}

static void recorder_destroy(struct recorder* rec) {
  pthread_mutex_destroy(&rec->lock);
  pthread_cond_destroy(&rec->cond);
}

static void record_cb(const nl_blocked_report_t* r, void* data) {
  struct recorder* rec = data;
  struct seen* s;
  int i;

  if (r->kind == NULL && !rec->phases_too)
    return;
  if (rec->phase_only != NULL &&
      (r->phase == NULL || strcmp(r->phase, rec->phase_only) != 0))
    return;
  pthread_mutex_lock(&rec->lock);
  if (rec->n < MAX_REPORTS) {
    s = &rec->s[rec->n];
    memset(s, 0, sizeof(*s));
    s->r = *r;
    for (i = 0; i < r->nframes; i++) {
      const char* name = r->frame_names[i];
      if (name == NULL)
        continue;
      s->has_block |= strcmp(name, "nl_wd_test_block") == 0;
      s->has_cb |= strcmp(name, "nl_wd_test_timer_cb") == 0;
      s->has_cb2 |= strcmp(name, "nl_wd_test_timer_cb2") == 0;
    }
    /* The arrays live as long as the call only. */
    s->r.frames = NULL;
    s->r.frame_names = NULL;
  }
  rec->n++;
  pthread_cond_broadcast(&rec->cond);
  pthread_mutex_unlock(&rec->lock);
  if (!r->done && rec->sleep_ms != 0) {
    struct timespec ts = {rec->sleep_ms / 1000,
                          (long) (rec->sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  atomic_fetch_add(&rec->finished, 1);
}

/* Waits up to 3 s for n reports; returns how many came. */
static int wait_reports(struct recorder* rec, int n) {
  struct timespec ts;
  int got;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 3;
  pthread_mutex_lock(&rec->lock);
  while (rec->n < n)
    if (pthread_cond_timedwait(&rec->cond, &rec->lock, &ts) != 0)
      break;
  got = rec->n;
  pthread_mutex_unlock(&rec->lock);
  return got;
}

static void sleep_ms(unsigned int ms) {
  struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void run_blocking_timer(uv_loop_t* loop, void (*cb)(uv_timer_t*),
                               unsigned int ms) {
  uv_timer_t t;

  block_ms = ms;
  CHECK_OK(uv_timer_init(loop, &t));
  CHECK_OK(uv_timer_start(&t, cb, 10, 0));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  uv_close((uv_handle_t*) &t, NULL);
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
}

static void check_callback_pair(const struct recorder* rec, uv_loop_t* loop,
                                const void* fn, const char* sym,
                                unsigned int ms) {
  const nl_blocked_report_t* a = &rec->s[0].r;
  const nl_blocked_report_t* b = &rec->s[1].r;

  CHECK_EQ(a->size, sizeof(nl_blocked_report_t));
  CHECK(a->loop == loop);
  CHECK_EQ(a->done, 0);
  CHECK_STREQ(a->phase, "timers");
  CHECK_STREQ(a->kind, "timer");
  CHECK(a->callback == fn);
  CHECK_STREQ(a->symbol, sym);
  CHECK(a->elapsed_ns >= 50 * MS);
  CHECK(a->nframes > 0);
  CHECK(rec->s[0].has_block);

  CHECK_EQ(b->size, sizeof(nl_blocked_report_t));
  CHECK(b->loop == loop);
  CHECK_EQ(b->done, 1);
  CHECK_STREQ(b->phase, "timers");
  CHECK_STREQ(b->kind, "timer");
  CHECK(b->callback == fn);
  CHECK_STREQ(b->symbol, sym);
  CHECK(b->elapsed_ns >= ms * MS);
  CHECK(b->elapsed_ns > a->elapsed_ns);
  CHECK_EQ(b->nframes, 0);
}

TEST(api_arguments) {
  uv_loop_t loop;

  CHECK_EQ(nl_loop_set_blocked_threshold(NULL, 50, NULL, NULL), UV_EINVAL);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(nl_loop_set_blocked_threshold(&loop, UINT64_MAX, NULL, NULL),
           UV_EINVAL);
  CHECK_EQ(nl_loop_set_blocked_threshold(&loop, UINT64_MAX / 1000000, NULL,
                                         NULL), UV_EINVAL);
  /* Off when it is not on: nothing to do. */
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 0, NULL, NULL));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 1000, NULL, NULL));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 2000, NULL, NULL));
  nl_test_close_loop(&loop);
}

/* done = 0 while it runs, with the stack; done = 1 with the total; then
 * threshold 0 turns reports off. */
TEST(api_callback_done) {
  struct recorder rec;
  uv_loop_t loop;

  recorder_init(&rec);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 100, record_cb, &rec));
  run_blocking_timer(&loop, nl_wd_test_timer_cb, 300);
  CHECK_EQ(wait_reports(&rec, 2), 2);
  check_callback_pair(&rec, &loop, fn_ptr(nl_wd_test_timer_cb),
                      "nl_wd_test_timer_cb", 300);
  CHECK(rec.s[0].has_cb);
  CHECK(rec.s[0].r.elapsed_ns < 300 * MS);

  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 0, NULL, NULL));
  run_blocking_timer(&loop, nl_wd_test_timer_cb, 150);
  sleep_ms(100);
  CHECK_EQ(wait_reports(&rec, 2), 2);

  /* And on again, with a higher threshold than this callback takes. */
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 400, record_cb, &rec));
  run_blocking_timer(&loop, nl_wd_test_timer_cb, 150);
  sleep_ms(100);
  CHECK_EQ(wait_reports(&rec, 2), 2);
  nl_test_close_loop(&loop);
  recorder_destroy(&rec);
}

/* Many short callbacks in one phase: the phase is reported, kind NULL. */
#define NTIMERS 40

__attribute__((noinline)) void nl_wd_test_short_cb(uv_timer_t* t) {
  (void) t;
  nl_wd_test_block(3);
  sink++;
}

TEST(api_phase_of_short_callbacks) {
  static uv_timer_t timers[NTIMERS];
  struct recorder rec;
  uv_loop_t loop;
  int i;

  recorder_init(&rec);
  rec.phases_too = 1;
  rec.phase_only = "timers";
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 50, record_cb, &rec));
  for (i = 0; i < NTIMERS; i++) {
    CHECK_OK(uv_timer_init(&loop, &timers[i]));
    CHECK_OK(uv_timer_start(&timers[i], nl_wd_test_short_cb, 10, 0));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(wait_reports(&rec, 2), 2);
  sleep_ms(50);
  CHECK_EQ(wait_reports(&rec, 2), 2);   /* one phase, one report */
  CHECK_EQ(rec.s[0].r.done, 0);
  CHECK_STREQ(rec.s[0].r.phase, "timers");
  CHECK(rec.s[0].r.kind == NULL);
  CHECK(rec.s[0].r.callback == NULL);
  CHECK(rec.s[0].r.symbol == NULL);
  CHECK(rec.s[0].r.elapsed_ns >= 50 * MS);
  CHECK(rec.s[0].r.nframes > 0);
  CHECK_EQ(rec.s[1].r.done, 1);
  CHECK_STREQ(rec.s[1].r.phase, "timers");
  CHECK(rec.s[1].r.kind == NULL);
  CHECK(rec.s[1].r.elapsed_ns >= NTIMERS * 3 * MS);
  nl_test_close_loop(&loop);
  recorder_destroy(&rec);
}

/* A callback that blocks a few milliseconds into its phase (a short one
 * ran first) is reported as the callback, not as the phase, which
 * crosses the threshold first by those milliseconds. */
static void short_first_cb(uv_timer_t* t) {
  (void) t;
  nl_wd_test_block(10);
}

TEST(api_callback_not_its_phase) {
  uv_timer_t first;
  uv_timer_t slow;
  struct recorder rec;
  uv_loop_t loop;

  recorder_init(&rec);
  rec.phases_too = 1;
  rec.phase_only = "timers";
  block_ms = 300;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 100, record_cb, &rec));
  CHECK_OK(uv_timer_init(&loop, &first));
  CHECK_OK(uv_timer_init(&loop, &slow));
  CHECK_OK(uv_timer_start(&first, short_first_cb, 10, 0));
  CHECK_OK(uv_timer_start(&slow, nl_wd_test_timer_cb, 10, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(wait_reports(&rec, 2), 2);
  sleep_ms(50);
  CHECK_EQ(wait_reports(&rec, 2), 2);
  CHECK_STREQ(rec.s[0].r.kind, "timer");
  CHECK(rec.s[0].r.callback == (const void*) nl_wd_test_timer_cb);
  CHECK_EQ(rec.s[0].r.done, 0);
  CHECK(rec.s[0].r.elapsed_ns >= 100 * MS && rec.s[0].r.elapsed_ns < 300 * MS);
  CHECK_STREQ(rec.s[1].r.kind, "timer");
  CHECK_EQ(rec.s[1].r.done, 1);
  nl_test_close_loop(&loop);
  recorder_destroy(&rec);
}

/* uv_loop_close while the watchdog is inside a report of that loop: the
 * close waits for it, and nothing touches the loop after (the memory is
 * freed, so ASan and TSan would see it). */
TEST(api_close_while_reporting) {
  struct recorder rec;
  uv_loop_t* loop = malloc(sizeof(*loop));

  CHECK(loop != NULL);
  recorder_init(&rec);
  rec.sleep_ms = 300;
  CHECK_OK(uv_loop_init(loop));
  CHECK_OK(nl_loop_set_blocked_threshold(loop, 20, record_cb, &rec));
  run_blocking_timer(loop, nl_wd_test_timer_cb, 60);
  CHECK_EQ(atomic_load(&rec.finished), 0);   /* still reporting */
  nl_test_close_loop(loop);
  CHECK_EQ(atomic_load(&rec.finished), 1);
  memset(loop, 0xa5, sizeof(*loop));
  free(loop);
  sleep_ms(200);
  /* The end came after the close: dropped, not delivered. */
  CHECK_EQ(wait_reports(&rec, 1), 1);
  CHECK_EQ(rec.s[0].r.done, 0);
  recorder_destroy(&rec);
}

/* Two loops on two threads, blocked at the same time: each report names
 * its own loop and has its own thread's stack. */
struct loop_thread {
  struct recorder rec;
  uv_loop_t loop;
  void (*cb)(uv_timer_t*);
  int block_signals;
};

static void loop_thread_main(void* arg) {
  struct loop_thread* lt = arg;
  uv_timer_t t;
  sigset_t all;

  if (lt->block_signals) {
    sigfillset(&all);
    CHECK_OK(pthread_sigmask(SIG_SETMASK, &all, NULL));
  }
  CHECK_OK(uv_loop_init(&lt->loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&lt->loop, 100, record_cb, &lt->rec));
  CHECK_OK(uv_timer_init(&lt->loop, &t));
  CHECK_OK(uv_timer_start(&t, lt->cb, 10, 0));
  CHECK_OK(uv_run(&lt->loop, UV_RUN_DEFAULT));
  /* Close only once the end is delivered (closing would drop it). */
  CHECK_EQ(wait_reports(&lt->rec, 2), 2);
  nl_test_close_loop(&lt->loop);
}

TEST(api_two_loops_two_threads) {
  static struct loop_thread lt[2];
  uv_thread_t th[2];
  int i;

  block_ms = 150;   /* cb2 blocks twice as long */
  lt[0].cb = nl_wd_test_timer_cb;
  lt[1].cb = nl_wd_test_timer_cb2;
  for (i = 0; i < 2; i++) {
    recorder_init(&lt[i].rec);
    CHECK_OK(uv_thread_create(&th[i], loop_thread_main, &lt[i]));
  }
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_thread_join(&th[i]));
  check_callback_pair(&lt[0].rec, &lt[0].loop, fn_ptr(nl_wd_test_timer_cb),
                      "nl_wd_test_timer_cb", 150);
  check_callback_pair(&lt[1].rec, &lt[1].loop, fn_ptr(nl_wd_test_timer_cb2),
                      "nl_wd_test_timer_cb2", 300);
  CHECK(lt[0].rec.s[0].has_cb && !lt[0].rec.s[0].has_cb2);
  CHECK(lt[1].rec.s[0].has_cb2 && !lt[1].rec.s[0].has_cb);
  CHECK(lt[0].rec.s[1].r.elapsed_ns < 300 * MS);
  for (i = 0; i < 2; i++) {
    CHECK_EQ(lt[i].rec.n, 2);
    recorder_destroy(&lt[i].rec);
  }
}

/* A loop thread that blocks every signal is reported without a stack, in
 * time; the watchdog still takes stacks of other threads afterwards. */
TEST(api_thread_blocking_signals) {
  static struct loop_thread lt;
  struct recorder rec;
  uv_thread_t th;
  uv_loop_t loop;

  block_ms = 300;
  lt.cb = nl_wd_test_timer_cb;
  lt.block_signals = 1;
  recorder_init(&lt.rec);
  CHECK_OK(uv_thread_create(&th, loop_thread_main, &lt));
  CHECK_OK(uv_thread_join(&th));
  CHECK_EQ(lt.rec.n, 2);
  CHECK_EQ(lt.rec.s[0].r.done, 0);
  CHECK_STREQ(lt.rec.s[0].r.kind, "timer");
  CHECK_EQ(lt.rec.s[0].r.nframes, 0);
  CHECK(lt.rec.s[0].r.elapsed_ns < 300 * MS);
  CHECK_EQ(lt.rec.s[1].r.done, 1);
  CHECK(lt.rec.s[1].r.elapsed_ns >= 300 * MS);
  recorder_destroy(&lt.rec);

  recorder_init(&rec);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 100, record_cb, &rec));
  run_blocking_timer(&loop, nl_wd_test_timer_cb, 150);
  CHECK_EQ(wait_reports(&rec, 2), 2);
  check_callback_pair(&rec, &loop, fn_ptr(nl_wd_test_timer_cb),
                      "nl_wd_test_timer_cb", 150);
  nl_test_close_loop(&loop);
  recorder_destroy(&rec);
}

/* The watchdog takes stacks with SIGRTMIN+6. A program that had its own
 * handler for that signal must still get the signals meant for it (on
 * libuv it does): the watchdog's handler used to swallow them. */
static volatile sig_atomic_t own_rt_handler_runs;

static void own_rt_handler(int sig) {
  (void) sig;
  own_rt_handler_runs++;
}

static void ignore_report(const nl_blocked_report_t* r, void* data) {
  (void) r;
  (void) data;
}

TEST(api_program_handler_of_the_signal) {
  uv_loop_t loop;
  struct sigaction sa;
  struct sigaction now;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = own_rt_handler;
  sigemptyset(&sa.sa_mask);
  CHECK_OK(sigaction(SIGRTMIN + 6, &sa, NULL));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(nl_loop_set_blocked_threshold(&loop, 1000, ignore_report, NULL));
  CHECK_OK(raise(SIGRTMIN + 6));
  CHECK_EQ(own_rt_handler_runs, 1);
  nl_test_close_loop(&loop);
  /* The last watched loop closed: the program's handler is back. */
  CHECK_OK(sigaction(SIGRTMIN + 6, NULL, &now));
  CHECK(now.sa_handler == own_rt_handler);
  CHECK_OK(raise(SIGRTMIN + 6));
  CHECK_EQ(own_rt_handler_runs, 2);
}
