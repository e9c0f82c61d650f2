/* Child processes: exit statuses and signals, exec errors returned by
 * uv_spawn(), PATH search, env and cwd, every kind of stdio slot (created
 * pipes, inherited descriptors and streams, ignored slots), more than three
 * slots and slots whose sources overlap, detached children, kill, signal
 * dispositions, IPC handle passing, many loops spawning on many threads,
 * children started by other means left alone, handles closed before the
 * exit, and bad input.
 *
 * The children are this test binary (`--helper NAME`, see test.h) or
 * /bin/sh. Where libuv 1.44 has an answer, the expectation is the one
 * observed on Debian's libuv ("libuv:").
 */
/* NL_TEST_THREADED */
#include "test.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Helpers (the child side).
 */

/* Writes all of s to fd. */
static void put(int fd, const char* s) {
  size_t len = strlen(s);
  ssize_t r;

  while (len > 0) {
    r = write(fd, s, len);
    if (r <= 0)
      return;
    s += r;
    len -= (size_t) r;
  }
}

HELPER(exit_with) {
  return argc > 0 ? atoi(argv[0]) : 0;
}

HELPER(kill_self) {
  signal(atoi(argv[0]), SIG_DFL);
  raise(atoi(argv[0]));
  return 99;
}

HELPER(sleep_ms) {
  usleep((useconds_t) atoi(argv[0]) * 1000);
  return 0;
}

HELPER(print_env) {
  const char* v = getenv(argv[0]);
  put(1, v != NULL ? v : "(unset)");
  return 0;
}

HELPER(print_cwd) {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == NULL)
    return 1;
  put(1, buf);
  return 0;
}

/* Copies stdin to stdout until end-of-file. */
HELPER(cat) {
  char buf[8192];
  ssize_t n;

  while ((n = read(0, buf, sizeof(buf))) > 0) {
    if (write(1, buf, (size_t) n) != n)
      return 1;
  }
  return n == 0 ? 0 : 2;
}

/* One line per descriptor: "N kind mode [nonblock]". */
HELPER(describe) {
  struct stat st;
  char line[128];
  const char* kind;
  int fd;
  int fl;
  int i;

  for (i = 0; i < argc; i++) {
    fd = atoi(argv[i]);
    fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fstat(fd, &st) != 0) {
      snprintf(line, sizeof(line), "%d closed\n", fd);
      put(1, line);
      continue;
    }
    if (S_ISSOCK(st.st_mode))
      kind = "socket";
    else if (S_ISFIFO(st.st_mode))
      kind = "fifo";
    else if (S_ISREG(st.st_mode))
      kind = "file";
    else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
      kind = "null";
    else
      kind = "other";
    snprintf(line, sizeof(line), "%d %s %s%s\n", fd, kind,
             (fl & O_ACCMODE) == O_RDONLY   ? "r"
             : (fl & O_ACCMODE) == O_WRONLY ? "w"
                                            : "rw",
             (fl & O_NONBLOCK) ? " nonblock" : "");
    put(1, line);
  }
  return 0;
}

/* Exit status 0 if descriptors 0, 1 and 2 are /dev/null, read-only for 0
 * and read-write for 1 and 2 (libuv opens them so), else the first bad one
 * plus 10. */
HELPER(check_null_stdio) {
  struct stat st;
  int want;
  int fd;

  for (fd = 0; fd < 3; fd++) {
    want = fd == 0 ? O_RDONLY : O_RDWR;
    if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) ||
        st.st_rdev != makedev(1, 3) ||
        (fcntl(fd, F_GETFL) & O_ACCMODE) != want)
      return 10 + fd;
  }
  return 0;
}

/* Writes "fd N\n" to each descriptor N given. */
HELPER(write_fds) {
  char line[32];
  int i;

  for (i = 0; i < argc; i++) {
    snprintf(line, sizeof(line), "fd %s\n", argv[i]);
    put(atoi(argv[i]), line);
  }
  return 0;
}

/* "ign=X blk=Y" with the ignored and blocked signals as bit masks. */
HELPER(signal_state) {
  unsigned long long ign = 0;
  unsigned long long blk = 0;
  struct sigaction sa;
  sigset_t mask;
  char line[96];
  int sig;

  sigprocmask(SIG_SETMASK, NULL, &mask);
  for (sig = 1; sig < 64; sig++) {
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
      ign |= 1ull << (sig - 1);
    if (sigismember(&mask, sig) == 1)
      blk |= 1ull << (sig - 1);
  }
  snprintf(line, sizeof(line), "ign=%llx blk=%llx", ign, blk);
  put(1, line);
  return 0;
}

HELPER(session) {
  put(1, getsid(0) == getpid() ? "leader" : "member");
  return 0;
}

HELPER(ids) {
  char line[64];
  snprintf(line, sizeof(line), "%u %u", (unsigned) getuid(),
           (unsigned) getgid());
  put(1, line);
  return 0;
}

/* The IPC child: fd 3 is an IPC pipe. It accepts the one pipe handle the
 * parent sends, writes a greeting into it, answers "ok" on the IPC pipe
 * and exits. */
static uv_pipe_t ipc_child_pipe;
static uv_pipe_t ipc_child_received;
static uv_write_t ipc_child_wreq[2];
static char ipc_child_buf[256];

static void ipc_child_alloc(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  (void) h;
  (void) size;
  *buf = uv_buf_init(ipc_child_buf, sizeof(ipc_child_buf));
}

static void ipc_child_written(uv_write_t* req, int status) {
  CHECK_OK(status);
  if (req == &ipc_child_wreq[1]) {
    uv_close((uv_handle_t*) &ipc_child_received, NULL);
    uv_close((uv_handle_t*) &ipc_child_pipe, NULL);
  }
}

static void ipc_child_read(uv_stream_t* s, ssize_t nread,
                           const uv_buf_t* buf) {
  static char hello[] = "hello through a passed pipe";
  static char ok[] = "ok";
  uv_buf_t b;

  (void) buf;
  if (nread == 0)
    return;
  CHECK(nread > 0);
  if (uv_pipe_pending_count((uv_pipe_t*) s) == 0)
    return;
  CHECK_EQ(uv_pipe_pending_type((uv_pipe_t*) s), UV_NAMED_PIPE);
  CHECK_OK(uv_pipe_init(s->loop, &ipc_child_received, 0));
  CHECK_OK(uv_accept(s, (uv_stream_t*) &ipc_child_received));
  uv_read_stop(s);
  b = uv_buf_init(hello, sizeof(hello) - 1);
  CHECK_OK(uv_write(&ipc_child_wreq[0], (uv_stream_t*) &ipc_child_received,
                    &b, 1, ipc_child_written));
  b = uv_buf_init(ok, sizeof(ok) - 1);
  CHECK_OK(uv_write(&ipc_child_wreq[1], s, &b, 1, ipc_child_written));
}

HELPER(ipc_child) {
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &ipc_child_pipe, 1));
  CHECK_OK(uv_pipe_open(&ipc_child_pipe, 3));
  CHECK_OK(uv_read_start((uv_stream_t*) &ipc_child_pipe, ipc_child_alloc,
                         ipc_child_read));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
  return 0;
}

/* ---------------------------------------------------------------------
 * The parent side.
 */

struct child {
  uv_process_t proc;   /* first: the exit callback casts */
  int exits;
  int64_t status;
  int signal;
  int close_on_exit;
};

static int close_calls;

static void close_cb(uv_handle_t* h) {
  (void) h;
  __atomic_add_fetch(&close_calls, 1, __ATOMIC_RELAXED);
}

static void exit_cb(uv_process_t* p, int64_t status, int term_signal) {
  struct child* c = (struct child*) p;

  CHECK(!uv_is_active((uv_handle_t*) p));
  CHECK(!uv_is_closing((uv_handle_t*) p));
  c->exits++;
  c->status = status;
  c->signal = term_signal;
  if (c->close_on_exit)
    uv_close((uv_handle_t*) p, close_cb);
}

static void no_exit_cb(uv_process_t* p, int64_t status, int term_signal) {
  (void) p;
  (void) status;
  (void) term_signal;
  CHECK(0 && "no exit callback expected");
}

/* Arguments for a helper: the test binary, "--helper", the name, up to
 * six more, NULL. */
struct args {
  char* v[10];
};

static char** helper(struct args* a, const char* name, const char* a1,
                     const char* a2, const char* a3) {
  a->v[0] = (char*) nl_test_exepath();
  a->v[1] = (char*) "--helper";
  a->v[2] = (char*) name;
  a->v[3] = (char*) a1;
  a->v[4] = a1 != NULL ? (char*) a2 : NULL;
  a->v[5] = a1 != NULL && a2 != NULL ? (char*) a3 : NULL;
  a->v[6] = NULL;
  return a->v;
}

static void options_for(uv_process_options_t* o, char** args) {
  memset(o, 0, sizeof(*o));
  o->file = args[0];
  o->args = args;
  o->exit_cb = exit_cb;
}

static void child_init(struct child* c) {
  memset(c, 0, sizeof(*c));
  c->close_on_exit = 1;
}

/* Spawns and runs the loop until it has nothing left to do. */
static void spawn_and_run(uv_loop_t* loop, struct child* c,
                          uv_process_options_t* o) {
  CHECK_OK(uv_spawn(loop, &c->proc, o));
  CHECK(c->proc.pid > 0);
  CHECK_EQ(uv_process_get_pid(&c->proc), c->proc.pid);
  CHECK(uv_is_active((uv_handle_t*) &c->proc));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(c->exits, 1);
}

/* Everything read from a pipe, until end-of-file. */
struct output {
  uv_pipe_t pipe;   /* first */
  char data[1 << 18];
  size_t len;
  int eof;
};

static void output_alloc(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  struct output* o = (struct output*) h;
  (void) size;
  *buf = uv_buf_init(o->data + o->len, (unsigned int) (sizeof(o->data) - 1 -
                                                       o->len));
}

static void output_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  struct output* o = (struct output*) s;
  (void) buf;
  if (nread > 0) {
    o->len += (size_t) nread;
    o->data[o->len] = '\0';
  } else if (nread < 0) {
    CHECK_EQ(nread, UV_EOF);
    o->eof = 1;
    uv_close((uv_handle_t*) s, close_cb);
  }
}

static void output_init(uv_loop_t* loop, struct output* o) {
  memset(o, 0, sizeof(*o));
  CHECK_OK(uv_pipe_init(loop, &o->pipe, 0));
}

static void output_start(struct output* o) {
  CHECK_OK(uv_read_start((uv_stream_t*) &o->pipe, output_alloc,
                         output_read));
}

/* Runs a helper with its stdout on a pipe; returns what it printed (the
 * output is static, valid until the next call). */
static const char* run_for_output(uv_loop_t* loop, uv_process_options_t* o,
                                  struct child* c) {
  static struct output out;
  uv_stdio_container_t stdio[3];

  output_init(loop, &out);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t*) &out.pipe;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o->stdio = stdio;
  o->stdio_count = 3;
  CHECK_OK(uv_spawn(loop, &c->proc, o));
  o->stdio = NULL;
  o->stdio_count = 0;
  output_start(&out);
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK(out.eof);
  CHECK_EQ(c->exits, 1);
  return out.data;
}

/* No child of ours is left, reaped or not. */
static void check_no_children(void) {
  CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1);
  CHECK_EQ(errno, ECHILD);
}

static void write_file(const char* path, const char* text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  CHECK(fd >= 0);
  put(fd, text);
  CHECK_OK(close(fd));
  CHECK_OK(chmod(path, mode));
}

/* ---------------------------------------------------------------------
 * Exit statuses, signals, kill.
 */
TEST(exit_status) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "7", NULL, NULL));
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 7);
  CHECK_EQ(c.signal, 0);
  CHECK_EQ(close_calls, 1);

  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);
  CHECK_EQ(c.signal, 0);
  check_no_children();
  nl_test_close_loop(&loop);
}

TEST(term_signal) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "kill_self", "15", NULL, NULL));
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);
  CHECK_EQ(c.signal, SIGTERM);

  child_init(&c);
  options_for(&o, helper(&a, "kill_self", "6", NULL, NULL));
  /* An abort() without a core file. */
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.signal, SIGABRT);
  nl_test_close_loop(&loop);
}

/* uv_process_kill() while running (signal 0 probes), then UV_ESRCH once
 * the child is reaped (libuv: the same, from kill(2)). */
TEST(kill) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int pid;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  c.close_on_exit = 0;
  options_for(&o, helper(&a, "sleep_ms", "20000", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  pid = c.proc.pid;
  CHECK_OK(uv_process_kill(&c.proc, 0));
  CHECK_OK(uv_kill(pid, 0));
  CHECK_EQ(uv_process_kill(&c.proc, -1), UV_EINVAL);
  CHECK_OK(uv_process_kill(&c.proc, SIGKILL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  CHECK_EQ(c.signal, SIGKILL);
  CHECK_EQ(c.status, 0);
  CHECK_EQ(uv_process_kill(&c.proc, SIGTERM), UV_ESRCH);
  CHECK_EQ(uv_process_kill(&c.proc, 0), UV_ESRCH);
  CHECK_EQ(uv_kill(pid, 0), UV_ESRCH);
  CHECK_EQ(c.proc.pid, pid);   /* the pid stays readable */
  uv_close((uv_handle_t*) &c.proc, close_cb);
  CHECK_EQ(uv_process_kill(NULL, SIGTERM), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* The child starts with every signal at its default action and none
 * blocked, whatever the parent ignores, blocks or handles (libuv: the
 * same; its "kill" test blocks and ignores SIGTERM around uv_spawn). */
static void on_sighup(int sig) {
  (void) sig;
}

TEST(signal_state_reset) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  sigset_t block;
  sigset_t saved;
  const char* out;

  CHECK_OK(uv_loop_init(&loop));
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  CHECK_OK(pthread_sigmask(SIG_BLOCK, &block, &saved));
  CHECK(signal(SIGTERM, SIG_IGN) != SIG_ERR);
  CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
  CHECK(signal(SIGHUP, on_sighup) != SIG_ERR);

  child_init(&c);
  options_for(&o, helper(&a, "signal_state", NULL, NULL, NULL));
  out = run_for_output(&loop, &o, &c);
  CHECK_STREQ(out, "ign=0 blk=0");

  /* SIGTERM, ignored and blocked here, still ends the child. */
  child_init(&c);
  options_for(&o, helper(&a, "sleep_ms", "20000", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  CHECK_OK(uv_process_kill(&c.proc, SIGTERM));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.signal, SIGTERM);

  CHECK_OK(pthread_sigmask(SIG_SETMASK, &saved, NULL));
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Exec errors: returned by uv_spawn(), never an exit callback; the handle
 * is initialised, inactive, and closes normally; no child is left.
 */
static void check_spawn_fails(uv_loop_t* loop, uv_process_options_t* o,
                              int expected) {
  uv_process_t p;
  int before = close_calls;

  o->exit_cb = no_exit_cb;
  CHECK_EQ(uv_spawn(loop, &p, o), expected);
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &p), UV_PROCESS);
  CHECK(!uv_is_active((uv_handle_t*) &p));
  CHECK_EQ(uv_process_kill(&p, 0), UV_ESRCH);
  CHECK_EQ(uv_loop_close(loop), UV_EBUSY);
  uv_close((uv_handle_t*) &p, close_cb);
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(close_calls, before + 1);
  check_no_children();
}

TEST(exec_enoent) {
  char* args[] = {(char*) "nl-no-such-program", NULL};
  uv_process_options_t o;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  options_for(&o, args);
  check_spawn_fails(&loop, &o, UV_ENOENT);
  o.file = "/nonexistent/nl-no-such-program";
  check_spawn_fails(&loop, &o, UV_ENOENT);
  o.file = "";
  check_spawn_fails(&loop, &o, UV_ENOENT);
  nl_test_close_loop(&loop);
}

/* A file without execute permission, and a directory (as root too: exec
 * needs an execute bit for everyone). */
TEST(exec_eacces) {
  char path[512];
  char* args[] = {path, NULL};
  uv_process_options_t o;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(path, sizeof(path), "%s/noexec", nl_test_tmpdir());
  write_file(path, "#!/bin/sh\nexit 0\n", 0644);
  options_for(&o, args);
  check_spawn_fails(&loop, &o, UV_EACCES);
  o.file = nl_test_tmpdir();
  check_spawn_fails(&loop, &o, UV_EACCES);
  nl_test_close_loop(&loop);
}

TEST(bad_cwd) {
  char dir[512];
  char file[512];
  uv_process_options_t o;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(dir, sizeof(dir), "%s/missing", nl_test_tmpdir());
  snprintf(file, sizeof(file), "%s/file", nl_test_tmpdir());
  write_file(file, "", 0644);
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  o.cwd = dir;
  check_spawn_fails(&loop, &o, UV_ENOENT);
  o.cwd = file;
  check_spawn_fails(&loop, &o, UV_ENOTDIR);
  nl_test_close_loop(&loop);
}

/* 100 failures and one success in a row, each failed handle closed
 * (libuv's spawn_exercise_sigchld_issue does the same). */
TEST(many_failures) {
  char* bad[] = {(char*) "nl-no-such-program", NULL};
  static uv_process_t failed[100];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "3", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  options_for(&o, bad);
  o.exit_cb = no_exit_cb;
  for (i = 0; i < 100; i++) {
    CHECK_EQ(uv_spawn(&loop, &failed[i], &o), UV_ENOENT);
    uv_close((uv_handle_t*) &failed[i], close_cb);
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  CHECK_EQ(c.status, 3);
  CHECK_EQ(close_calls, 101);
  check_no_children();
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * The program: PATH search, scripts, arguments.
 */
TEST(path_search) {
  char dir1[512];
  char dir2[512];
  char prog[600];
  char path_env[1100];
  char* env[] = {path_env, NULL};
  char* args[] = {(char*) "nl-prog", NULL};
  char* true_args[] = {(char*) "true", NULL};
  uv_process_options_t o;
  struct child c;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(dir1, sizeof(dir1), "%s/d1", nl_test_tmpdir());
  snprintf(dir2, sizeof(dir2), "%s/d2", nl_test_tmpdir());
  CHECK_OK(mkdir(dir1, 0755));
  CHECK_OK(mkdir(dir2, 0755));
  snprintf(prog, sizeof(prog), "%s/nl-prog", dir1);
  write_file(prog, "#!/bin/sh\nexit 5\n", 0644);   /* not executable */
  snprintf(prog, sizeof(prog), "%s/nl-prog", dir2);
  write_file(prog, "#!/bin/sh\nexit 5\n", 0755);

  /* The parent's PATH when no environment is given. */
  child_init(&c);
  options_for(&o, true_args);
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);

  /* The child's PATH when one is given; EACCES in an earlier directory
   * does not stop the search. */
  child_init(&c);
  options_for(&o, args);
  o.env = env;
  snprintf(path_env, sizeof(path_env), "PATH=%s:%s", dir1, dir2);
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 5);

  /* ...but is the answer when nothing else is found. */
  snprintf(path_env, sizeof(path_env), "PATH=/nonexistent:%s", dir1);
  check_spawn_fails(&loop, &o, UV_EACCES);
  snprintf(path_env, sizeof(path_env), "PATH=/nonexistent");
  check_spawn_fails(&loop, &o, UV_ENOENT);

  /* An empty element is the current directory (the child's cwd). */
  child_init(&c);
  options_for(&o, args);
  o.env = env;
  o.cwd = dir2;
  snprintf(path_env, sizeof(path_env), "PATH=/nonexistent::");
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 5);
  nl_test_close_loop(&loop);
}

/* A file without "#!" runs under /bin/sh, as with execvp(). */
TEST(script_without_interpreter) {
  char prog[512];
  char* args[] = {prog, (char*) "4", NULL};
  uv_process_options_t o;
  struct child c;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(prog, sizeof(prog), "%s/script", nl_test_tmpdir());
  write_file(prog, "exit $(( $1 + 2 ))\n", 0755);
  child_init(&c);
  options_for(&o, args);
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 6);
  nl_test_close_loop(&loop);
}

/* args NULL: the child gets the file as its only argument (libuv passes
 * no argument vector at all). */
TEST(null_args) {
  uv_process_options_t o;
  struct child c;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  memset(&o, 0, sizeof(o));
  o.file = "/bin/sh";
  o.exit_cb = exit_cb;
  spawn_and_run(&loop, &c, &o);   /* sh with no input: exits at once */
  CHECK_EQ(c.status, 0);
  nl_test_close_loop(&loop);
}

TEST(env_and_cwd) {
  char* env[] = {(char*) "NL_PROCESS_TEST=from env", NULL};
  char expect[4096];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "print_env", "NL_PROCESS_TEST", NULL, NULL));
  o.env = env;
  CHECK_STREQ(run_for_output(&loop, &o, &c), "from env");

  /* No env: ours, as it is at the time of the call. */
  CHECK_OK(setenv("NL_PROCESS_TEST", "inherited", 1));
  child_init(&c);
  options_for(&o, helper(&a, "print_env", "NL_PROCESS_TEST", NULL, NULL));
  CHECK_STREQ(run_for_output(&loop, &o, &c), "inherited");

  child_init(&c);
  options_for(&o, helper(&a, "print_cwd", NULL, NULL, NULL));
  o.cwd = nl_test_tmpdir();
  CHECK(realpath(nl_test_tmpdir(), expect) != NULL);
  CHECK_STREQ(run_for_output(&loop, &o, &c), expect);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Standard I/O.
 */
static uv_write_t big_write;
static char big[200000];

static void big_written(uv_write_t* req, int status) {
  CHECK_OK(status);
  uv_close((uv_handle_t*) req->handle, close_cb);
}

/* stdin and stdout on created pipes; the parent's ends are readable or
 * writable as the child's direction says (libuv: the same). */
TEST(stdio_pipes) {
  static struct output out;
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  uv_pipe_t in;
  struct child c;
  struct args a;
  uv_loop_t loop;
  uv_buf_t buf;
  size_t i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < sizeof(big); i++)
    big[i] = (char) ('a' + i % 26);
  CHECK_OK(uv_pipe_init(&loop, &in, 0));
  output_init(&loop, &out);
  child_init(&c);
  options_for(&o, helper(&a, "cat", NULL, NULL, NULL));
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t*) &in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t*) &out.pipe;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o.stdio = stdio;
  o.stdio_count = 3;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  CHECK(uv_is_writable((uv_stream_t*) &in));
  CHECK(!uv_is_readable((uv_stream_t*) &in));
  CHECK(uv_is_readable((uv_stream_t*) &out.pipe));
  CHECK(!uv_is_writable((uv_stream_t*) &out.pipe));
  buf = uv_buf_init(big, sizeof(big));
  CHECK_OK(uv_write(&big_write, (uv_stream_t*) &in, &buf, 1, big_written));
  output_start(&out);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  CHECK_EQ(c.status, 0);
  CHECK(out.eof);
  CHECK_EQ(out.len, sizeof(big));
  CHECK(memcmp(out.data, big, sizeof(big)) == 0);
  CHECK_EQ(close_calls, 3);
  nl_test_close_loop(&loop);
}

/* Created pipes are socket pairs (libuv: the same on Linux), blocking in
 * the child even with UV_NONBLOCK_PIPE (libuv 1.44: the same); both
 * directions make a two-way pipe, neither a pipe the parent neither reads
 * nor writes. */
TEST(stdio_created_pipe_kind) {
  uv_stdio_container_t stdio[5];
  uv_process_options_t o;
  uv_pipe_t p[3];
  struct child c;
  struct args a;
  uv_loop_t loop;
  static struct output out;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 3; i++)
    CHECK_OK(uv_pipe_init(&loop, &p[i], 0));
  output_init(&loop, &out);
  child_init(&c);
  options_for(&o, helper(&a, "describe", "0", "3", "4"));
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_NONBLOCK_PIPE;
  stdio[0].data.stream = (uv_stream_t*) &p[0];
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t*) &out.pipe;
  stdio[2].flags = UV_IGNORE;
  stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE |
                   UV_OVERLAPPED_PIPE;
  stdio[3].data.stream = (uv_stream_t*) &p[1];
  stdio[4].flags = UV_CREATE_PIPE;
  stdio[4].data.stream = (uv_stream_t*) &p[2];
  o.stdio = stdio;
  o.stdio_count = 5;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  CHECK(uv_is_readable((uv_stream_t*) &p[1]));
  CHECK(uv_is_writable((uv_stream_t*) &p[1]));
  CHECK(!uv_is_readable((uv_stream_t*) &p[2]));
  CHECK(!uv_is_writable((uv_stream_t*) &p[2]));
  for (i = 0; i < 3; i++)
    uv_close((uv_handle_t*) &p[i], close_cb);
  output_start(&out);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  CHECK_STREQ(out.data, "0 socket rw\n3 socket rw\n4 socket rw\n");
  nl_test_close_loop(&loop);
}

/* Inherited descriptor (a file), inherited stream (a pipe opened with
 * uv_pipe_open), ignored slot (/dev/null). */
TEST(stdio_inherit_and_ignore) {
  char path[512];
  char text[256];
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  uv_pipe_t stream;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int fds[2];
  int file;
  ssize_t n;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(path, sizeof(path), "%s/out", nl_test_tmpdir());
  file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(file >= 0);
  CHECK_OK(pipe2(fds, O_CLOEXEC));
  CHECK_OK(uv_pipe_init(&loop, &stream, 0));
  CHECK_OK(uv_pipe_open(&stream, fds[1]));

  child_init(&c);
  options_for(&o, helper(&a, "describe", "0", "1", "2"));
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = file;
  stdio[2].flags = UV_INHERIT_STREAM;
  stdio[2].data.stream = (uv_stream_t*) &stream;
  o.stdio = stdio;
  o.stdio_count = 3;
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);
  n = pread(file, text, sizeof(text) - 1, 0);
  CHECK(n > 0);
  text[n] = '\0';
  /* The stream's pipe was non-blocking; as slot 2 it is made blocking. */
  CHECK_STREQ(text, "0 null r\n1 file rw\n2 fifo w\n");
  CHECK_EQ(fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0);
  CHECK_OK(close(file));
  CHECK_OK(close(fds[0]));
  nl_test_close_loop(&loop);
}

/* Fewer than three slots: the rest of 0-2 is /dev/null. */
TEST(stdio_default_null) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "check_null_stdio", NULL, NULL, NULL));
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);
  nl_test_close_loop(&loop);
}

/* Slots 0-2 are made blocking, as libuv does (the change reaches the
 * parent: the descriptor is shared); higher slots keep their mode. */
TEST(stdio_blocking_mode) {
  uv_stdio_container_t stdio[4];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int p0[2];
  int p3[2];

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(pipe2(p0, O_CLOEXEC | O_NONBLOCK));
  CHECK_OK(pipe2(p3, O_CLOEXEC | O_NONBLOCK));
  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  stdio[0].flags = UV_INHERIT_FD;
  stdio[0].data.fd = p0[0];
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_IGNORE;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = p3[0];
  o.stdio = stdio;
  o.stdio_count = 4;
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(fcntl(p0[0], F_GETFL) & O_NONBLOCK, 0);
  CHECK(fcntl(p3[0], F_GETFL) & O_NONBLOCK);
  CHECK_OK(close(p0[0]));
  CHECK_OK(close(p0[1]));
  CHECK_OK(close(p3[0]));
  CHECK_OK(close(p3[1]));
  nl_test_close_loop(&loop);
}

/* Ten slots, seven of them pipes the child writes to. */
TEST(stdio_many_slots) {
  static struct output out[7];
  uv_stdio_container_t stdio[10];
  uv_process_options_t o;
  char* args[16];
  char names[7][8];
  char expect[16];
  struct child c;
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  args[0] = (char*) nl_test_exepath();
  args[1] = (char*) "--helper";
  args[2] = (char*) "write_fds";
  for (i = 0; i < 7; i++) {
    snprintf(names[i], sizeof(names[i]), "%d", i + 3);
    args[3 + i] = names[i];
  }
  args[10] = NULL;
  child_init(&c);
  options_for(&o, args);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  for (i = 0; i < 7; i++) {
    output_init(&loop, &out[i]);
    stdio[3 + i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3 + i].data.stream = (uv_stream_t*) &out[i].pipe;
  }
  o.stdio = stdio;
  o.stdio_count = 10;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  for (i = 0; i < 7; i++)
    output_start(&out[i]);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  for (i = 0; i < 7; i++) {
    snprintf(expect, sizeof(expect), "fd %d\n", i + 3);
    CHECK_STREQ(out[i].data, expect);
  }
  nl_test_close_loop(&loop);
}

/* Sources that are themselves slot numbers: 40 and 41 swap, 42 stays
 * (close-on-exec in the parent, inherited all the same), and slot 1 takes
 * 40 as well. */
TEST(stdio_overlapping_sources) {
  uv_stdio_container_t stdio[43];
  uv_process_options_t o;
  char* args[] = {(char*) nl_test_exepath(), (char*) "--helper",
                  (char*) "write_fds", (char*) "40", (char*) "41",
                  (char*) "42", (char*) "1", NULL};
  struct child c;
  uv_loop_t loop;
  char text[3][64];
  int p[3][2];
  ssize_t n;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 3; i++) {
    CHECK_OK(pipe2(p[i], O_CLOEXEC));
    CHECK_EQ(dup3(p[i][1], 40 + i, O_CLOEXEC), 40 + i);
    CHECK_OK(close(p[i][1]));
  }
  for (i = 0; i < 43; i++)
    stdio[i].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 40;
  stdio[40].flags = UV_INHERIT_FD;
  stdio[40].data.fd = 41;
  stdio[41].flags = UV_INHERIT_FD;
  stdio[41].data.fd = 40;
  stdio[42].flags = UV_INHERIT_FD;
  stdio[42].data.fd = 42;
  child_init(&c);
  options_for(&o, args);
  o.stdio = stdio;
  o.stdio_count = 43;
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 0);
  for (i = 0; i < 3; i++) {
    CHECK_OK(close(40 + i));
    n = read(p[i][0], text[i], sizeof(text[i]) - 1);
    CHECK(n > 0);
    text[i][n] = '\0';
    CHECK_OK(close(p[i][0]));
  }
  CHECK_STREQ(text[0], "fd 41\nfd 1\n");   /* the pipe behind our 40 */
  CHECK_STREQ(text[1], "fd 40\n");         /* behind our 41 */
  CHECK_STREQ(text[2], "fd 42\n");
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * IPC: a pipe handle passed to the child over an IPC pipe in slot 3.
 */
static uv_pipe_t ipc_parent;
static uv_pipe_t ipc_passed;
static uv_write_t ipc_wreq;
static char ipc_answer[64];
static size_t ipc_answer_len;

static void ipc_alloc(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  (void) h;
  (void) size;
  *buf = uv_buf_init(ipc_answer + ipc_answer_len,
                     (unsigned int) (sizeof(ipc_answer) - 1 - ipc_answer_len));
}

static void ipc_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  (void) buf;
  if (nread > 0) {
    ipc_answer_len += (size_t) nread;
  } else if (nread < 0) {
    CHECK_EQ(nread, UV_EOF);
    uv_close((uv_handle_t*) s, close_cb);
  }
}

static void ipc_sent(uv_write_t* req, int status) {
  CHECK_OK(status);
  (void) req;
  /* Ours may go now: the child has its own copy. */
  uv_close((uv_handle_t*) &ipc_passed, close_cb);
}

TEST(ipc_handle_passing) {
  uv_stdio_container_t stdio[4];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  uv_buf_t buf;
  char greeting[64];
  int sv[2];
  ssize_t n;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  CHECK_OK(uv_pipe_init(&loop, &ipc_passed, 0));
  CHECK_OK(uv_pipe_open(&ipc_passed, sv[0]));
  CHECK_OK(uv_pipe_init(&loop, &ipc_parent, 1));

  child_init(&c);
  options_for(&o, helper(&a, "ipc_child", NULL, NULL, NULL));
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
  stdio[3].data.stream = (uv_stream_t*) &ipc_parent;
  o.stdio = stdio;
  o.stdio_count = 4;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));

  buf = uv_buf_init((char*) "x", 1);
  CHECK_OK(uv_write2(&ipc_wreq, (uv_stream_t*) &ipc_parent, &buf, 1,
                     (uv_stream_t*) &ipc_passed, ipc_sent));
  CHECK_OK(uv_read_start((uv_stream_t*) &ipc_parent, ipc_alloc, ipc_read));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.exits, 1);
  CHECK_EQ(c.status, 0);
  ipc_answer[ipc_answer_len] = '\0';
  CHECK_STREQ(ipc_answer, "ok");
  n = read(sv[1], greeting, sizeof(greeting) - 1);
  CHECK(n > 0);
  greeting[n] = '\0';
  CHECK_STREQ(greeting, "hello through a passed pipe");
  CHECK_OK(close(sv[1]));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Flags.
 */

/* Detached: the child leads a new session (libuv: setsid()); it keeps the
 * loop alive until unreferenced. */
TEST(detached) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int pid;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "session", NULL, NULL, NULL));
  o.flags = UV_PROCESS_DETACHED;
  CHECK_STREQ(run_for_output(&loop, &o, &c), "leader");
  child_init(&c);
  options_for(&o, helper(&a, "session", NULL, NULL, NULL));
  CHECK_STREQ(run_for_output(&loop, &o, &c), "member");

  /* Unreferenced, a running detached child does not hold the loop. */
  child_init(&c);
  options_for(&o, helper(&a, "sleep_ms", "20000", NULL, NULL));
  o.flags = UV_PROCESS_DETACHED;
  o.exit_cb = no_exit_cb;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  uv_unref((uv_handle_t*) &c.proc);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  pid = c.proc.pid;
  CHECK_OK(uv_kill(pid, 0));
  uv_close((uv_handle_t*) &c.proc, close_cb);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_kill(pid, SIGKILL));
  CHECK_EQ(waitpid(pid, NULL, 0), pid);
  nl_test_close_loop(&loop);
}

/* The Windows flags are accepted and ignored; unknown flags are refused
 * (libuv asserts). */
TEST(windows_flags) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "2", NULL, NULL));
  o.flags = UV_PROCESS_WINDOWS_HIDE | UV_PROCESS_WINDOWS_HIDE_CONSOLE |
            UV_PROCESS_WINDOWS_HIDE_GUI |
            UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS;
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 2);
  o.flags = 1u << 12;
  check_spawn_fails(&loop, &o, UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* As root: the child runs as nobody (a shell reports its ids). Otherwise:
 * becoming root is refused (libuv: UV_EPERM, from the child). */
TEST(setuid_setgid) {
  char* args[] = {(char*) "/bin/sh", (char*) "-c",
                  (char*) "printf '%s %s' $(id -u) $(id -g)", NULL};
  uv_process_options_t o;
  struct child c;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  options_for(&o, args);
  if (getuid() != 0) {
    o.flags = UV_PROCESS_SETUID;
    o.uid = 0;
    check_spawn_fails(&loop, &o, UV_EPERM);
    o.flags = UV_PROCESS_SETGID;
    o.gid = 0;
    check_spawn_fails(&loop, &o, UV_EPERM);
  } else {
    child_init(&c);
    o.flags = UV_PROCESS_SETUID | UV_PROCESS_SETGID;
    o.uid = 65534;
    o.gid = 65534;
    CHECK_STREQ(run_for_output(&loop, &o, &c), "65534 65534");
  }
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Handles and the loop.
 */

/* Closed before the child exits: no exit callback, and the loop does not
 * wait for the child, which is left for the program to reap (libuv: the
 * same). */
TEST(close_before_exit) {
  uv_process_options_t o;
  struct child c;
  struct child other;
  struct args a;
  uv_loop_t loop;
  int status;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "sleep_ms", "100", NULL, NULL));
  o.exit_cb = no_exit_cb;
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  child_init(&other);
  options_for(&o, helper(&a, "sleep_ms", "200", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &other.proc, &o));
  uv_close((uv_handle_t*) &c.proc, close_cb);
  CHECK(!uv_is_active((uv_handle_t*) &c.proc));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(other.exits, 1);
  CHECK_EQ(close_calls, 2);
  CHECK_EQ(waitpid(c.proc.pid, &status, 0), c.proc.pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  check_no_children();
  nl_test_close_loop(&loop);
}

/* Two exits found by one SIGCHLD: the first callback closes the other
 * handle, whose callback then never runs. */
static struct child pair[2];

static void close_other_cb(uv_process_t* p, int64_t status, int sig) {
  struct child* c = (struct child*) p;
  struct child* other = c == &pair[0] ? &pair[1] : &pair[0];
  (void) status;
  (void) sig;
  c->exits++;
  uv_close((uv_handle_t*) p, close_cb);
  if (!uv_is_closing((uv_handle_t*) &other->proc))
    uv_close((uv_handle_t*) &other->proc, close_cb);
}

TEST(close_other_in_exit_cb) {
  uv_process_options_t o;
  struct args a;
  uv_loop_t loop;
  siginfo_t info;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 2; i++) {
    child_init(&pair[i]);
    options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
    o.exit_cb = close_other_cb;
    CHECK_OK(uv_spawn(&loop, &pair[i].proc, &o));
  }
  /* Both are zombies before the loop looks (WNOWAIT leaves them). */
  for (i = 0; i < 2; i++)
    CHECK_OK(waitid(P_PID, (id_t) pair[i].proc.pid, &info,
                    WEXITED | WNOWAIT));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(pair[0].exits + pair[1].exits, 1);
  CHECK_EQ(close_calls, 2);
  /* The one without a callback was reaped all the same. */
  check_no_children();
  nl_test_close_loop(&loop);
}

/* Each exit callback closes its handle and spawns the next child. */
static struct child chain[5];
static int chain_next;
static uv_process_options_t chain_opts;

static void chain_cb(uv_process_t* p, int64_t status, int sig) {
  CHECK_EQ(status, 0);
  CHECK_EQ(sig, 0);
  ((struct child*) p)->exits++;
  uv_close((uv_handle_t*) p, close_cb);
  if (chain_next < 5)
    CHECK_OK(uv_spawn(p->loop, &chain[chain_next++].proc, &chain_opts));
}

TEST(spawn_from_exit_cb) {
  struct args a;
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  options_for(&chain_opts, helper(&a, "exit_with", "0", NULL, NULL));
  chain_opts.exit_cb = chain_cb;
  CHECK_OK(uv_spawn(&loop, &chain[chain_next++].proc, &chain_opts));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  for (i = 0; i < 5; i++)
    CHECK_EQ(chain[i].exits, 1);
  CHECK_EQ(close_calls, 5);
  nl_test_close_loop(&loop);
}

/* No exit callback: the handle stops when the child exits, and stays open
 * (libuv: spawn_auto_unref). */
TEST(no_exit_callback) {
  uv_process_options_t o;
  uv_process_t p;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  o.exit_cb = NULL;
  CHECK_OK(uv_spawn(&loop, &p, &o));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK(!uv_is_active((uv_handle_t*) &p));
  CHECK(!uv_is_closing((uv_handle_t*) &p));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  check_no_children();
  nl_test_close_loop(&loop);
}

/* A child the program started with fork() is neither reaped nor
 * disturbed, whether it exits before, during or after ours. */
TEST(foreign_children_left_alone) {
  uv_process_options_t o;
  struct child c[4];
  struct args a;
  uv_loop_t loop;
  pid_t early;
  pid_t late;
  int status;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  early = fork();
  CHECK(early >= 0);
  if (early == 0)
    _exit(42);
  late = fork();
  CHECK(late >= 0);
  if (late == 0) {
    usleep(300 * 1000);
    _exit(43);
  }
  for (i = 0; i < 4; i++) {
    child_init(&c[i]);
    options_for(&o, helper(&a, "sleep_ms", i % 2 ? "10" : "0", NULL, NULL));
    CHECK_OK(uv_spawn(&loop, &c[i].proc, &o));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  for (i = 0; i < 4; i++)
    CHECK_EQ(c[i].exits, 1);
  CHECK_EQ(waitpid(early, &status, 0), early);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
  CHECK_EQ(waitpid(late, &status, 0), late);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 43);
  nl_test_close_loop(&loop);
}

/* SIGCHLD has its former disposition back once the loop has no child. */
TEST(sigchld_disposition_restored) {
  uv_process_options_t o;
  struct sigaction sa;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "sleep_ms", "50", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  CHECK_OK(sigaction(SIGCHLD, NULL, &sa));
  CHECK(sa.sa_handler != SIG_DFL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(sigaction(SIGCHLD, NULL, &sa));
  CHECK(sa.sa_handler == SIG_DFL);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Many loops on many threads, spawning at once.
 */
enum { THREADS = 4, ROUNDS = 3, PER_ROUND = 6 };

struct spawner {
  uv_thread_t thread;
  int index;
  struct child c[PER_ROUND];
  int done;
};

static void spawner_main(void* arg) {
  struct spawner* s = arg;
  char* args[4];
  char script[32];
  uv_process_options_t o;
  uv_loop_t loop;
  int round;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  args[0] = (char*) "/bin/sh";
  args[1] = (char*) "-c";
  args[2] = script;
  args[3] = NULL;
  for (round = 0; round < ROUNDS; round++) {
    for (i = 0; i < PER_ROUND; i++) {
      child_init(&s->c[i]);
      snprintf(script, sizeof(script), "exit %d",
               s->index * 40 + round * 10 + i);
      options_for(&o, args);
      CHECK_OK(uv_spawn(&loop, &s->c[i].proc, &o));
    }
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    for (i = 0; i < PER_ROUND; i++) {
      CHECK_EQ(s->c[i].exits, 1);
      CHECK_EQ(s->c[i].status, s->index * 40 + round * 10 + i);
    }
    s->done += PER_ROUND;
  }
  nl_test_close_loop(&loop);
}

TEST(threads_spawning) {
  static struct spawner s[THREADS];
  int i;

  for (i = 0; i < THREADS; i++) {
    s[i].index = i;
    CHECK_OK(uv_thread_create(&s[i].thread, spawner_main, &s[i]));
  }
  for (i = 0; i < THREADS; i++) {
    CHECK_OK(uv_thread_join(&s[i].thread));
    CHECK_EQ(s[i].done, ROUNDS * PER_ROUND);
  }
  CHECK_EQ(close_calls, THREADS * ROUNDS * PER_ROUND);
  check_no_children();
}

/* ---------------------------------------------------------------------
 * Bad input and failures after the pipes were made.
 */
TEST(bad_arguments) {
  uv_stdio_container_t stdio[2];
  uv_process_options_t o;
  uv_process_t p;
  uv_pipe_t pipe_handle;
  uv_pipe_t open_pipe;
  uv_tcp_t tcp;
  struct args a;
  uv_loop_t loop;
  uv_os_fd_t fd;
  int fds[2];

  CHECK_OK(uv_loop_init(&loop));
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  CHECK_EQ(uv_spawn(NULL, &p, &o), UV_EINVAL);
  CHECK_EQ(uv_spawn(&loop, NULL, &o), UV_EINVAL);
  CHECK_EQ(uv_spawn(&loop, &p, NULL), UV_EINVAL);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));

  o.file = NULL;
  check_spawn_fails(&loop, &o, UV_EINVAL);
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  o.stdio_count = -1;
  check_spawn_fails(&loop, &o, UV_EINVAL);
  o.stdio_count = 1;
  o.stdio = NULL;
  check_spawn_fails(&loop, &o, UV_EINVAL);

  o.stdio = stdio;
  CHECK_OK(uv_tcp_init(&loop, &tcp));
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t*) &tcp;
  check_spawn_fails(&loop, &o, UV_EINVAL);
  CHECK_OK(uv_pipe_init(&loop, &open_pipe, 0));
  CHECK_OK(pipe2(fds, O_CLOEXEC));
  CHECK_OK(uv_pipe_open(&open_pipe, fds[0]));
  stdio[0].data.stream = (uv_stream_t*) &open_pipe;
  check_spawn_fails(&loop, &o, UV_EBUSY);   /* libuv: the same */
  stdio[0].flags = UV_CREATE_PIPE | UV_INHERIT_FD;
  check_spawn_fails(&loop, &o, UV_EINVAL);  /* libuv asserts */
  stdio[0].flags = UV_INHERIT_FD;
  stdio[0].data.fd = -1;
  check_spawn_fails(&loop, &o, UV_EINVAL);  /* libuv: the same */
  CHECK_OK(uv_pipe_init(&loop, &pipe_handle, 0));
  stdio[0].flags = UV_INHERIT_STREAM;
  stdio[0].data.stream = (uv_stream_t*) &pipe_handle;
  check_spawn_fails(&loop, &o, UV_EINVAL);  /* libuv: the same */

  /* The child fails on a closed descriptor (libuv: UV_EBADF). As in
   * libuv the parent's end of the pipe made for slot 0 stays open (Node.js
   * builds its stdio sockets on it after a failed spawn); the child's end
   * is gone, so nothing waits on it. */
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t*) &pipe_handle;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 200;
  o.stdio_count = 2;
  check_spawn_fails(&loop, &o, UV_EBADF);
  CHECK_OK(uv_fileno((uv_handle_t*) &pipe_handle, &fd));
  CHECK(!uv_is_readable((uv_stream_t*) &pipe_handle));
  CHECK(uv_is_writable((uv_stream_t*) &pipe_handle));
  uv_close((uv_handle_t*) &pipe_handle, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_OK(uv_pipe_init(&loop, &pipe_handle, 0));

  /* A fresh handle serves the next spawn. */
  {
    struct child c;
    child_init(&c);
    stdio[1].flags = UV_IGNORE;
    o.exit_cb = exit_cb;
    spawn_and_run(&loop, &c, &o);
    CHECK(uv_is_writable((uv_stream_t*) &pipe_handle));
  }
  CHECK_OK(close(fds[1]));
  nl_test_close_loop(&loop);
}

/* A loop with a running child cannot close. */
TEST(loop_close_busy) {
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "sleep_ms", "20000", NULL, NULL));
  CHECK_OK(uv_spawn(&loop, &c.proc, &o));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_OK(uv_process_kill(&c.proc, SIGKILL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(c.signal, SIGKILL);
  nl_test_close_loop(&loop);
}

/* Descriptors 0-2 and the others up to the first gap past 15 become
 * close-on-exec; inheriting one explicitly still works. */
TEST(disable_stdio_inheritance) {
  char path[512];
  char text[64];
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;
  int file;
  int fd;
  ssize_t n;

  CHECK_OK(uv_loop_init(&loop));
  snprintf(path, sizeof(path), "%s/out", nl_test_tmpdir());
  file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(file >= 0);
  uv_disable_stdio_inheritance();
  for (fd = 0; fd < 3; fd++)
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK(fcntl(file, F_GETFD) & FD_CLOEXEC);

  child_init(&c);
  options_for(&o, helper(&a, "write_fds", "1", NULL, NULL));
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = file;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o.stdio = stdio;
  o.stdio_count = 3;
  spawn_and_run(&loop, &c, &o);
  n = pread(file, text, sizeof(text) - 1, 0);
  CHECK_EQ(n, 5);
  text[n] = '\0';
  CHECK_STREQ(text, "fd 1\n");
  CHECK_OK(close(file));
  nl_test_close_loop(&loop);
}

/* Where the kernel refuses clone(CLONE_VFORK) (a seccomp filter here, as
 * some sandboxes install), uv_spawn() falls back to fork(): exit statuses,
 * exec errors and pipes work the same. */
TEST(fork_fallback) {
#if defined(__x86_64__) || defined(__aarch64__)
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
      /* The low half of the flags (little-endian). */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
               offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_VFORK, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short) (sizeof(filter) / sizeof(filter[0])), filter};
  char* bad[] = {(char*) "nl-no-such-program", NULL};
  char missing[512];
  uv_process_options_t o;
  struct child c;
  struct args a;
  uv_loop_t loop;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    nl_test_skip("no seccomp filters here");
  CHECK_OK(uv_loop_init(&loop));
  child_init(&c);
  options_for(&o, helper(&a, "exit_with", "9", NULL, NULL));
  spawn_and_run(&loop, &c, &o);
  CHECK_EQ(c.status, 9);

  child_init(&c);
  options_for(&o, helper(&a, "print_env", "NL_FALLBACK", NULL, NULL));
  CHECK_OK(setenv("NL_FALLBACK", "forked", 1));
  CHECK_STREQ(run_for_output(&loop, &o, &c), "forked");

  options_for(&o, bad);
  check_spawn_fails(&loop, &o, UV_ENOENT);
  options_for(&o, helper(&a, "exit_with", "0", NULL, NULL));
  snprintf(missing, sizeof(missing), "%s/missing", nl_test_tmpdir());
  o.cwd = missing;
  check_spawn_fails(&loop, &o, UV_ENOENT);
  nl_test_close_loop(&loop);
#else
  nl_test_skip("the seccomp filter is written for little-endian 64-bit");
#endif
}
