/* NODELOOP_TRACE=FILE: each case runs a helper of this binary with the
 * variable set (the library reads it at the first uv_loop_init), then
 * checks the file with trace-check.py (JSON, nesting, phase order,
 * callbacks in their phases, flows, counters, thread names).
 * NL_TEST_THREADED: pool workers, two loop threads, the writer thread.
 */
#include "test.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers (the traced programs) ---------------------------------- */

static int timer_calls;
static int works_queued;
static int works_done;
static int fs_done;

/* Exported (the test binary is linked with ENABLE_EXPORTS), so that the
 * trace names them. */
void nl_trace_test_timer_cb(uv_timer_t* t);
void nl_trace_test_child_cb(uv_timer_t* t);

static void work_cb(uv_work_t* req) {
  (void) req;
  usleep(200);
}

static void after_work_cb(uv_work_t* req, int status) {
  CHECK_EQ(status, 0);
  works_done++;
  free(req);
}

static void queue_works(uv_loop_t* loop, int n) {
  int i;
  for (i = 0; i < n; i++) {
    uv_work_t* w = malloc(sizeof(*w));
    CHECK(w != NULL);
    CHECK_OK(uv_queue_work(loop, w, work_cb, after_work_cb));
    works_queued++;
  }
}

static void close_cb(uv_fs_t* req) {
  CHECK_EQ(req->result, 0);
  uv_fs_req_cleanup(req);
  fs_done++;
  free(req);
}

static void open_cb(uv_fs_t* req) {
  uv_fs_t* c = malloc(sizeof(*c));
  CHECK(req->result >= 0);
  CHECK(c != NULL);
  CHECK_OK(uv_fs_close(req->loop, c, (uv_file) req->result, close_cb));
  uv_fs_req_cleanup(req);
  free(req);
}

static void open_file(uv_loop_t* loop) {
  uv_fs_t* req = malloc(sizeof(*req));
  CHECK(req != NULL);
  CHECK_OK(uv_fs_open(loop, req, "/proc/self/stat", O_RDONLY, 0, open_cb));
}

/* What the "then" argument of a helper does once the timer has run 5
 * times or more and all pool items have completed: stop, exit(0), or
 * raise a signal. */
static const char* then_what = "stop";

void nl_trace_test_timer_cb(uv_timer_t* t) {
  timer_calls++;
  if (timer_calls == 2)
    queue_works(t->loop, 8);
  /* Every item done (a loaded machine may need more timer calls). */
  if (timer_calls < 5 || works_done < works_queued || fs_done < 1)
    return;
  if (strcmp(then_what, "exit") == 0)
    exit(0);
  if (strcmp(then_what, "sigterm") == 0)
    kill(getpid(), SIGTERM);
  if (strcmp(then_what, "sigint") == 0)
    kill(getpid(), SIGINT);
  uv_close((uv_handle_t*) t, NULL);
}

/* basic THEN: the default loop with a timer, pool work and file requests. */
HELPER(basic) {
  uv_loop_t* loop = uv_default_loop();
  uv_timer_t t;

  if (argc > 0)
    then_what = argv[0];
  CHECK(loop != NULL);
  CHECK_OK(uv_timer_init(loop, &t));
  CHECK_OK(uv_timer_start(&t, nl_trace_test_timer_cb, 1, 2));
  queue_works(loop, 4);
  open_file(loop);
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK(timer_calls >= 5);
  CHECK_EQ(works_done, 12);
  CHECK_EQ(fs_done, 1);
  nl_test_close_loop(loop);
  return 0;
}

void nl_trace_test_child_cb(uv_timer_t* t) {
  timer_calls++;
  if (timer_calls == 3)
    uv_close((uv_handle_t*) t, NULL);
}

/* fork_child: a forked child runs a loop of its own; the parent's file
 * must not get its events. */
HELPER(fork_child) {
  uv_loop_t* loop = uv_default_loop();
  uv_loop_t child_loop;
  uv_timer_t t;
  pid_t pid;
  int status;

  CHECK_OK(uv_timer_init(loop, &t));
  CHECK_OK(uv_timer_start(&t, nl_trace_test_timer_cb, 1, 1));
  queue_works(loop, 2);
  open_file(loop);
  uv_run(loop, UV_RUN_ONCE);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    timer_calls = 0;
    if (uv_loop_init(&child_loop) != 0)
      _exit(2);
    uv_timer_init(&child_loop, &t);
    uv_timer_start(&t, nl_trace_test_child_cb, 1, 1);
    uv_run(&child_loop, UV_RUN_DEFAULT);
    _exit(timer_calls == 3 && uv_loop_close(&child_loop) == 0 ? 0 : 3);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  /* The timer stops at its fifth call once every item is done: later on
   * a loaded machine (as in HELPER(basic)). */
  CHECK(timer_calls >= 5);
  CHECK_EQ(works_done, works_queued);
  CHECK_EQ(fs_done, 1);
  nl_test_close_loop(loop);
  return 0;
}

static void loop_timer_cb(uv_timer_t* t) {
  int* n = t->data;
  if (++*n == 5)
    uv_close((uv_handle_t*) t, NULL);
}

static void loop_thread(void* arg) {
  uv_loop_t loop;
  uv_timer_t t;
  int n = 0;

  (void) arg;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  t.data = &n;
  CHECK_OK(uv_timer_start(&t, loop_timer_cb, 1, 1));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(n, 5);
  nl_test_close_loop(&loop);
}

/* two_loops: one loop on each of two threads. */
HELPER(two_loops) {
  uv_thread_t a, b;

  (void) argc;
  (void) argv;
  CHECK_OK(uv_thread_create(&a, loop_thread, NULL));
  CHECK_OK(uv_thread_create(&b, loop_thread, NULL));
  CHECK_OK(uv_thread_join(&a));
  CHECK_OK(uv_thread_join(&b));
  return 0;
}

/* ---- the test side -------------------------------------------------- */

struct run {
  const char* trace;            /* NODELOOP_TRACE */
  const char* callbacks;        /* NODELOOP_TRACE_CALLBACKS, or NULL */
  const char* err_file;         /* the helper's stderr, or NULL */
};

/* Runs `test-trace --helper NAME [ARG]` with the variables set; returns
 * its wait status. */
static int run_helper(const struct run* r, const char* name,
                      const char* arg) {
  char* argv[5];
  pid_t pid;
  int status;
  int fd;

  argv[0] = (char*) nl_test_exepath();
  argv[1] = (char*) "--helper";
  argv[2] = (char*) name;
  argv[3] = (char*) arg;
  argv[4] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setenv("NODELOOP_TRACE", r->trace, 1);
    if (r->callbacks != NULL)
      setenv("NODELOOP_TRACE_CALLBACKS", r->callbacks, 1);
    else
      unsetenv("NODELOOP_TRACE_CALLBACKS");
    unsetenv("NODELOOP_BLOCKED_MS");
    unsetenv("NODELOOP_STATS");
    if (r->err_file != NULL) {
      fd = open(r->err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || dup2(fd, 2) < 0)
        _exit(126);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

/* Runs trace-check.py on file with the given options (NULL-terminated);
 * returns its exit status. */
static int check_trace(const char* file, ...) {
  char script[1024];
  char* argv[32];
  const char* dir = getenv("NL_TEST_SRCDIR");
  va_list ap;
  pid_t pid;
  int status;
  int n = 0;

  if (access("/usr/bin/python3", X_OK) != 0)
    nl_test_skip("python3 is not installed");
  snprintf(script, sizeof(script), "%s/trace-check.py",
           dir != NULL ? dir : "test");
  argv[n++] = (char*) "/usr/bin/python3";
  argv[n++] = script;
  argv[n++] = (char*) file;
  va_start(ap, file);
  while (n < 31 && (argv[n] = va_arg(ap, char*)) != NULL)
    n++;
  va_end(ap);
  argv[n] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void trace_path(char* buf, size_t size) {
  snprintf(buf, size, "%s/trace.json", nl_test_tmpdir());
}

static void read_all(const char* path, char* buf, size_t size) {
  FILE* f = fopen(path, "r");
  size_t n;
  CHECK(f != NULL);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

TEST(basic) {
  char file[512];
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "basic", "stop");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(check_trace(file, "--callbacks", "--loops", "1", "--default-loop",
                       "--flow", "work", "--flow", "fs:open", "--flow",
                       "fs:close", "--min-cb", "timer=5", "--min-cb",
                       "work=12", "--symbol", "nl_trace_test_timer_cb",
                       (char*) NULL));
}

/* The checker itself rejects what it must: a file cut short, slices that
 * overlap partially, a callback outside its phase. */
TEST(checker_rejects) {
  char file[512];
  char bad[512];
  FILE* f;
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "basic", "stop");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* A symbol that is not there, a flow kind that never ran. */
  CHECK(check_trace(file, "--symbol", "no_such_function", (char*) NULL) != 0);
  CHECK(check_trace(file, "--flow", "getaddrinfo", (char*) NULL) != 0);
  CHECK(check_trace(file, "--no-callbacks", (char*) NULL) != 0);
  CHECK(check_trace(file, "--loops", "2", (char*) NULL) != 0);

  snprintf(bad, sizeof(bad), "%s/bad.json", nl_test_tmpdir());
  f = fopen(bad, "w");
  CHECK(f != NULL);
  fputs("{\"traceEvents\":[\n"
        "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":1,"
        "\"args\":{\"name\":\"x\"}},\n"
        "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,"
        "\"args\":{\"name\":\"loop 0x1\"}},\n"
        "{\"ph\":\"X\",\"cat\":\"loop\",\"name\":\"iteration\",\"ts\":1.0,"
        "\"dur\":10.0,\"pid\":1,\"tid\":1,\"args\":{\"loop\":\"0x1\","
        "\"n\":0}},\n"
        "{\"ph\":\"X\",\"cat\":\"phase\",\"name\":\"timers\",\"ts\":2.0,"
        "\"dur\":10.0,\"pid\":1,\"tid\":1,\"args\":{\"loop\":\"0x1\"}}\n"
        "],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":"
        "\"nodeloop\"}}\n", f);
  fclose(f);
  CHECK(check_trace(bad, (char*) NULL) != 0);
  f = fopen(bad, "w");
  CHECK(f != NULL);
  fputs("{\"traceEvents\":[\n{\"ph\":\"M\"", f);
  fclose(f);
  CHECK(check_trace(bad, (char*) NULL) != 0);
}

TEST(callbacks_off) {
  char file[512];
  struct run r = {file, "0", NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "basic", "stop");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(check_trace(file, "--no-callbacks", "--loops", "1",
                       (char*) NULL));
}

/* exit() from inside a timer callback: atexit flushes. */
TEST(exit_in_callback) {
  char file[512];
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "basic", "exit");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(check_trace(file, "--callbacks", "--min-cb", "timer=4",
                       "--min-cb", "work=12", "--flow", "work",
                       (char*) NULL));
}

static void die_by(int signum, const char* how) {
  char file[512];
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "basic", how);
  CHECK(WIFSIGNALED(status));
  CHECK_EQ(WTERMSIG(status), signum);
  /* Everything before the signal: the first four timer callbacks (the
   * fifth raised it and was cut), all pool items. */
  CHECK_OK(check_trace(file, "--callbacks", "--min-cb", "timer=4",
                       "--min-cb", "work=12", "--flow", "work", "--flow",
                       "fs:open", (char*) NULL));
}

TEST(sigterm) {
  die_by(SIGTERM, "sigterm");
}

TEST(sigint) {
  die_by(SIGINT, "sigint");
}

/* A file that cannot be created: one line on stderr, the program runs
 * normally (the helper checks its callbacks ran). */
TEST(unwritable_path) {
  char file[512];
  char err_file[512];
  char err[4096];
  struct run r = {file, NULL, err_file};
  struct stat st;
  int status;

  snprintf(file, sizeof(file), "%s/no/such/dir/trace.json",
           nl_test_tmpdir());
  snprintf(err_file, sizeof(err_file), "%s/stderr", nl_test_tmpdir());
  status = run_helper(&r, "basic", "stop");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(stat(file, &st) != 0 && errno == ENOENT);
  read_all(err_file, err, sizeof(err));
  CHECK(strstr(err, "NODELOOP_TRACE") != NULL);
  CHECK(strstr(err, "running untraced") != NULL);
  CHECK(strchr(err, '\n') == strrchr(err, '\n'));   /* one line */
}

/* A FIFO nobody reads: opening it for writing would block for ever, in
 * the program's first uv_loop_init. It must run untraced instead. The
 * helper gets 5 s; then the test opens the FIFO to let it go, and fails. */
TEST(fifo_without_reader) {
  char fifo[512];
  char err_file[512];
  char err[4096];
  char* argv[5];
  uint64_t deadline;
  pid_t pid;
  int status;
  int fd;
  int hung = 0;

  snprintf(fifo, sizeof(fifo), "%s/trace.fifo", nl_test_tmpdir());
  snprintf(err_file, sizeof(err_file), "%s/stderr", nl_test_tmpdir());
  CHECK_OK(mkfifo(fifo, 0644));
  argv[0] = (char*) nl_test_exepath();
  argv[1] = (char*) "--helper";
  argv[2] = (char*) "basic";
  argv[3] = (char*) "stop";
  argv[4] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setenv("NODELOOP_TRACE", fifo, 1);
    unsetenv("NODELOOP_TRACE_CALLBACKS");
    unsetenv("NODELOOP_BLOCKED_MS");
    unsetenv("NODELOOP_STATS");
    fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 2) < 0)
      _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  deadline = uv_hrtime() + 5000000000ull;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (uv_hrtime() > deadline) {
      hung = 1;
      fd = open(fifo, O_RDONLY | O_NONBLOCK);   /* lets the open return */
      CHECK_EQ(waitpid(pid, &status, 0), pid);
      if (fd >= 0)
        close(fd);
      break;
    }
    usleep(10000);
  }
  CHECK(!hung);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  read_all(err_file, err, sizeof(err));
  CHECK(strstr(err, "running untraced") != NULL);
}

TEST(two_loops) {
  char file[512];
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "two_loops", NULL);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(check_trace(file, "--callbacks", "--loops", "2", "--min-cb",
                       "timer=10", (char*) NULL));
}

/* The child of fork() is not traced: its callback's symbol never shows
 * and every event has the parent's pid (the checker wants one pid). */
TEST(fork_child_untraced) {
  char file[512];
  struct run r = {file, NULL, NULL};
  int status;

  trace_path(file, sizeof(file));
  status = run_helper(&r, "fork_child", NULL);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_OK(check_trace(file, "--callbacks", "--loops", "1", "--symbol",
                       "nl_trace_test_timer_cb", "--no-symbol",
                       "nl_trace_test_child_cb", (char*) NULL));
  CHECK(check_trace(file, "--symbol", "nl_trace_test_child_cb",
                    (char*) NULL) != 0);
}

/* "%p" in the name is the process id: one file per process. */
TEST(pid_in_file_name) {
  char pattern[512];
  char found[256] = "";
  char file[1024];
  struct run r = {pattern, NULL, NULL};
  struct dirent* e;
  DIR* d;
  int files = 0;
  int status;
  long pid;
  char rest[16];

  snprintf(pattern, sizeof(pattern), "%s/trace-%%p-%%%%.json",
           nl_test_tmpdir());
  status = run_helper(&r, "two_loops", NULL);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  d = opendir(nl_test_tmpdir());
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "trace-", 6) != 0)
      continue;
    files++;
    snprintf(found, sizeof(found), "%s", e->d_name);
  }
  closedir(d);
  CHECK_EQ(files, 1);
  /* trace-<pid>-%.json, with the helper's pid (not ours). */
  CHECK_EQ(sscanf(found, "trace-%ld-%15s", &pid, rest), 2);
  CHECK_EQ(strcmp(rest, "%.json"), 0);
  CHECK(pid > 0 && pid != (long) getpid());
  snprintf(file, sizeof(file), "%s/%s", nl_test_tmpdir(), found);
  CHECK_OK(check_trace(file, "--callbacks", "--loops", "2", (char*) NULL));
}
