/* Child processes: uv_spawn(), the exit callbacks, uv_process_kill() and
 * uv_disable_stdio_inheritance().
 *
 * Starting a child. fork() copies the parent's page tables, which costs
 * milliseconds in a process of a few gigabytes, only for exec to throw the
 * copy away. uv_spawn() uses clone(CLONE_VM | CLONE_VFORK) instead: the
 * child borrows the parent's memory, on a stack of its own, until its
 * execve, and the calling thread waits meanwhile. Because the child shares
 * the parent's memory (and, through the thread pointer, the calling
 * thread's TLS), it may touch nothing the parent could see half-changed:
 * the parent prepares everything beforehand (the descriptor each child
 * slot gets, the paths to try, the argument vectors), and the child makes
 * raw system calls only, through syscall(2), which no sanitizer
 * intercepts: no allocation, no lock, no libc state, no signal handler
 * (every signal stays blocked until the child has reset every disposition
 * to the default). Where clone() is refused (seccomp filters, emulators),
 * fork() runs the same child code.
 *
 * Errors of the child (a missing program, a bad cwd, setuid refused) come
 * back as uv_spawn()'s return value: the child stores errno in the shared
 * plan before it exits with status 127, and the parent reaps it at once.
 * When the memory turned out not to be shared (fork(), or a clone() an
 * emulator made into a fork), the same errno comes through a close-on-exec
 * pipe, which reads as end-of-file when execve succeeded.
 *
 * Reaping. A loop with children running keeps an internal signal handle
 * for SIGCHLD (loop->child_watcher, see signal.c for how a catch reaches
 * the loop's thread through its pipe). On each catch the loop asks, with
 * waitpid(pid, WNOHANG), after each of its own children only, never after
 * any child (waitpid(-1) would steal the exits of children other loops or
 * other code of the program started). The watcher is started before a
 * child is created, so no exit can slip through, and stopped when the
 * loop has no child left, which gives SIGCHLD back its former disposition.
 * One catch costs one waitpid per child of the loop: O(children).
 */
#include "internal.h"
#include "dispatch.h"
#include "stream.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

/* Type-specific handle flag: the child has been reaped. */
enum { PROCESS_EXITED = 0x01000000 };

#define KNOWN_PROCESS_FLAGS                                              \
  (UV_PROCESS_SETUID | UV_PROCESS_SETGID |                               \
   UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS | UV_PROCESS_DETACHED |         \
   UV_PROCESS_WINDOWS_HIDE | UV_PROCESS_WINDOWS_HIDE_CONSOLE |           \
   UV_PROCESS_WINDOWS_HIDE_GUI)

#define STDIO_KIND (UV_CREATE_PIPE | UV_INHERIT_FD | UV_INHERIT_STREAM)

/* The child's stack: it runs one function of system calls (the library is
 * linked with -z now, so not even the dynamic linker runs there). */
#define CHILD_STACK_SIZE (16 * 1024)

/* What execvp() searches when PATH is unset (glibc's confstr(_CS_PATH)). */
#define DEFAULT_PATH "/bin:/usr/bin"

/* Everything the child needs, prepared by the parent. The child writes
 * only `started`, `err` and sh_argv[1]. */
struct spawn_plan {
  int* fds;               /* per child descriptor: what to install, or -1 */
  int nfds;               /* max(stdio_count, 3) */
  int errfd;              /* write end of the error pipe (close-on-exec) */
  char** candidates;      /* paths to try with execve, NULL-terminated */
  char** argv;
  char** envp;
  char** sh_argv;         /* "/bin/sh", the path, argv[1..]: see run() */
  const char* cwd;
  unsigned int flags;
  uv_uid_t uid;
  uv_gid_t gid;
  volatile int started;   /* set by a child that shares our memory */
  volatile int err;       /* its errno, if it failed */
};

/* ---------------------------------------------------------------------
 * The child. Everything from here to run() runs in the child, on its own
 * stack, sharing the parent's memory: system calls only. Not instrumented
 * by sanitizers, whose runtimes would see the parent thread's state.
 */
#define NL_CHILD_CODE \
  __attribute__((noinline, no_sanitize("address", "thread", "undefined")))

/* A kernel struct sigaction of zeros is SIG_DFL with no flags and an
 * empty mask in every architecture's layout. */
struct kernel_sigaction_zero {
  unsigned long words[4];
};

/* Every signal back to the default action (ignored ones too, as libuv
 * does: a child must not inherit a parent's SIG_IGN for SIGTERM or
 * SIGPIPE), then the mask emptied. In this order, so that no handler of
 * the parent can run in the child. */
NL_CHILD_CODE static void child_reset_signals(void) {
  struct kernel_sigaction_zero dfl = {{0, 0, 0, 0}};
  unsigned long empty = 0;
  int sig;

  for (sig = 1; sig < NSIG; sig++)
    syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(empty));
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof(empty));
}

/* Moves fd out of the range 0..n-1 (which the child's slots overwrite),
 * close-on-exec. Returns the new descriptor or -1. */
NL_CHILD_CODE static int child_lift(int fd, int n) {
  return (int) syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, n);
}

/* Gives the child its descriptors 0..nfds-1. First every source that sits
 * in that range but not at its own slot (and the error pipe) moves above
 * it, so that no dup3 overwrites a source still to be used; then each slot
 * is filled. Slots 0-2 without a source get /dev/null; higher ones are
 * left as they are. Slots 0-2 end up blocking, as libuv leaves them: most
 * programs do not expect non-blocking standard I/O. */
NL_CHILD_CODE static int child_stdio(struct spawn_plan* p) {
  int* fds = p->fds;
  int n = p->nfds;
  long fl;
  int fd;
  int i;

  if (p->errfd < n) {
    p->errfd = child_lift(p->errfd, n);
    if (p->errfd < 0)
      return -1;
  }
  for (i = 0; i < n; i++) {
    if (fds[i] >= 0 && fds[i] < n && fds[i] != i) {
      fds[i] = child_lift(fds[i], n);
      if (fds[i] < 0)
        return -1;
    }
  }
  for (i = 0; i < n; i++) {
    fd = fds[i];
    if (fd < 0) {
      if (i > 2)
        continue;
      fd = (int) syscall(SYS_openat, AT_FDCWD, "/dev/null",
                         i == 0 ? O_RDONLY : O_RDWR);
      if (fd < 0)
        return -1;
      if (fd != i) {
        if (syscall(SYS_dup3, fd, i, 0) < 0)
          return -1;
        syscall(SYS_close, fd);
      }
      continue;
    }
    if (fd == i) {
      if (syscall(SYS_fcntl, i, F_SETFD, 0) < 0)
        return -1;
    } else if (syscall(SYS_dup3, fd, i, 0) < 0) {
      return -1;
    }
    if (i <= 2) {
      fl = syscall(SYS_fcntl, i, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK))
        syscall(SYS_fcntl, i, F_SETFL, fl & ~(long) O_NONBLOCK);
    }
  }
  return 0;
}

/* setgroups first: dropping root must not keep root's supplementary
 * groups (it fails without privilege, which is fine: there are none to
 * drop then). Raw system calls change this process's credentials only;
 * glibc's setuid() would try to signal the parent's other threads. */
NL_CHILD_CODE static int child_credentials(struct spawn_plan* p) {
  if (!(p->flags & (UV_PROCESS_SETUID | UV_PROCESS_SETGID)))
    return 0;
  syscall(SYS_setgroups, 0, NULL);
  if ((p->flags & UV_PROCESS_SETGID) && syscall(SYS_setgid, p->gid) < 0)
    return -1;
  if ((p->flags & UV_PROCESS_SETUID) && syscall(SYS_setuid, p->uid) < 0)
    return -1;
  return 0;
}

/* Tries the candidates in order, as execvp() does: EACCES is remembered
 * and the search goes on, "not there" goes on, anything else ends it; a
 * file the kernel cannot run (no #! line) runs under /bin/sh. Returns the
 * errno to report. */
NL_CHILD_CODE static int child_exec(struct spawn_plan* p) {
  int got_eacces = 0;
  int err = ENOENT;
  char** c;

  for (c = p->candidates; *c != NULL; c++) {
    syscall(SYS_execve, *c, p->argv, p->envp);
    err = errno;
    if (err == ENOEXEC) {
      p->sh_argv[1] = *c;
      syscall(SYS_execve, "/bin/sh", p->sh_argv, p->envp);
      err = errno;
    }
    switch (err) {
      case EACCES:
        got_eacces = 1;
        break;
      case ENOENT:
      case ESTALE:
      case ENOTDIR:
      case ENODEV:
      case ETIMEDOUT:
        break;
      default:
        return err;
    }
  }
  return got_eacces ? EACCES : err;
}

NL_CHILD_CODE static int run(void* arg) {
  struct spawn_plan* p = arg;
  int err;

  p->started = 1;
  if ((p->flags & UV_PROCESS_DETACHED) && syscall(SYS_setsid) < 0)
    goto fail;
  if (child_stdio(p) != 0)
    goto fail;
  if (p->cwd != NULL && syscall(SYS_chdir, p->cwd) < 0)
    goto fail;
  if (child_credentials(p) != 0)
    goto fail;
  child_reset_signals();
  err = child_exec(p);
  goto report;

fail:
  err = errno;
report:
  p->err = err;
  syscall(SYS_write, p->errfd, &err, sizeof(err));
  syscall(SYS_exit_group, 127);
  return 127;
}

/* ---------------------------------------------------------------------
 * Preparing the plan (parent).
 */

/* The PATH the child's execvp() would search: the one of the child's
 * environment when one is given, else ours. */
static const char* search_path(const uv_process_options_t* o) {
  const char* path;
  char** e;

  if (o->env == NULL) {
    path = getenv("PATH");
  } else {
    path = NULL;
    for (e = o->env; *e != NULL; e++) {
      if (strncmp(*e, "PATH=", 5) == 0) {
        path = *e + 5;
        break;
      }
    }
  }
  return path != NULL ? path : DEFAULT_PATH;
}

/* Builds, in one allocation, the child's stack, descriptor table,
 * candidate paths and /bin/sh vector. *block gets the allocation. */
static int make_plan(struct spawn_plan* p, const uv_process_options_t* o,
                     char** default_argv, void** block) {
  const char* file = o->file;
  const char* path = NULL;
  const char* s;
  const char* e;
  size_t flen = strlen(file);
  size_t ncand = 1;
  size_t strbytes = 0;
  size_t argc = 0;
  size_t size;
  char* mem;
  char* str;
  size_t i;

  if (flen == 0)
    return UV_ENOENT;
  p->argv = o->args != NULL ? o->args : default_argv;
  while (p->argv[argc] != NULL)
    argc++;
  if (strchr(file, '/') == NULL) {
    if (flen > NAME_MAX)
      return UV_ENAMETOOLONG;
    path = search_path(o);
    for (s = path; *s != '\0'; s++)
      if (*s == ':')
        ncand++;
    strbytes = strlen(path) + ncand * (flen + 2);
  }

  /* sh_argv holds at most argc + 2 entries and its NULL. */
  size = CHILD_STACK_SIZE + (size_t) p->nfds * sizeof(int) +
         (ncand + 1 + argc + 3) * sizeof(char*) + strbytes;
  mem = uv__malloc(size);
  if (mem == NULL)
    return UV_ENOMEM;
  *block = mem;
  p->candidates = (char**) (mem + CHILD_STACK_SIZE);
  p->sh_argv = p->candidates + ncand + 1;
  p->fds = (int*) (p->sh_argv + argc + 3);
  str = (char*) (p->fds + p->nfds);

  if (path == NULL) {
    p->candidates[0] = (char*) file;
  } else {
    /* An empty PATH element is the current directory: the file as is. */
    for (s = path, i = 0; i < ncand; i++, s = e + 1) {
      e = strchr(s, ':');
      if (e == NULL)
        e = s + strlen(s);
      p->candidates[i] = str;
      if (e > s) {
        memcpy(str, s, (size_t) (e - s));
        str += e - s;
        *str++ = '/';
      }
      memcpy(str, file, flen + 1);
      str += flen + 1;
    }
  }
  p->candidates[ncand] = NULL;

  p->sh_argv[0] = (char*) "/bin/sh";
  p->sh_argv[1] = NULL;   /* the path, filled in by the child */
  for (i = 1; i < argc; i++)
    p->sh_argv[i + 1] = p->argv[i];
  p->sh_argv[argc > 0 ? argc + 1 : 2] = NULL;
  return 0;
}

/* ---------------------------------------------------------------------
 * Standard I/O slots (parent).
 */

static int stream_fd(const uv_stream_t* s) {
  if (s == NULL)
    return -1;
  if (s->type != UV_TCP && s->type != UV_NAMED_PIPE && s->type != UV_TTY)
    return -1;
  return s->io_watcher.fd;
}

/* Checks every slot before anything is created. */
static int check_stdio(const uv_process_options_t* o) {
  const uv_stdio_container_t* c;
  int i;

  if (o->stdio_count < 0 || (o->stdio_count > 0 && o->stdio == NULL))
    return UV_EINVAL;
  for (i = 0; i < o->stdio_count; i++) {
    c = &o->stdio[i];
    switch (c->flags & STDIO_KIND) {
      case 0:
        break;
      case UV_CREATE_PIPE:
        if (c->data.stream == NULL ||
            c->data.stream->type != UV_NAMED_PIPE ||
            uv__is_closing((const uv_handle_t*) c->data.stream))
          return UV_EINVAL;
        if (c->data.stream->io_watcher.fd != -1)
          return UV_EBUSY;
        break;
      case UV_INHERIT_FD:
        if (c->data.fd < 0)
          return UV_EINVAL;
        break;
      case UV_INHERIT_STREAM:
        if (stream_fd(c->data.stream) < 0)
          return UV_EINVAL;
        break;
      default:
        return UV_EINVAL;   /* two kinds at once */
    }
  }
  return 0;
}

/* Undoes open_pipes() for slots 0..n-1. */
static void close_pipes(const uv_process_options_t* o, int n,
                        const int* child, const unsigned int* saved_flags) {
  uv_stream_t* s;
  int i;

  for (i = 0; i < n; i++) {
    if ((o->stdio[i].flags & STDIO_KIND) != UV_CREATE_PIPE)
      continue;
    s = o->stdio[i].data.stream;
    uv__close(s->io_watcher.fd);
    s->io_watcher.fd = -1;
    s->flags = saved_flags[i];
    uv__close(child[i]);
  }
}

/* Creates the socket pair of each UV_CREATE_PIPE slot (a socket pair, as
 * libuv makes them on Linux: it carries descriptors for IPC pipes and is
 * two-way when both directions are asked for) and opens the parent's end,
 * non-blocking, into the slot's pipe handle: readable if the child writes,
 * writable if it reads. The child's end stays blocking (UV_NONBLOCK_PIPE
 * is accepted and, as by libuv 1.44 on Linux, not applied: children
 * rarely cope with EAGAIN on their standard I/O). Both ends are
 * close-on-exec, so that children spawned meanwhile by other threads do
 * not inherit them. Fills child[] with the descriptor each slot passes. */
static int open_pipes(const uv_process_options_t* o, int* child,
                      unsigned int* saved_flags) {
  const uv_stdio_container_t* c;
  unsigned int flags;
  uv_stream_t* s;
  int sv[2];
  int err;
  int i;

  for (i = 0; i < o->stdio_count; i++) {
    c = &o->stdio[i];
    switch (c->flags & STDIO_KIND) {
      case UV_INHERIT_FD:
        child[i] = c->data.fd;
        continue;
      case UV_INHERIT_STREAM:
        child[i] = stream_fd(c->data.stream);
        continue;
      case UV_CREATE_PIPE:
        break;
      default:
        child[i] = -1;
        continue;
    }
    s = c->data.stream;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      err = uv__neg_errno();
      goto fail;
    }
    err = uv__nonblock(sv[0], 1);
    flags = UV__STREAM_SOCKET;
    if (c->flags & UV_WRITABLE_PIPE)
      flags |= UV__STREAM_READABLE;
    if (c->flags & UV_READABLE_PIPE)
      flags |= UV__STREAM_WRITABLE;
    saved_flags[i] = s->flags;
    if (err == 0)
      err = uv__stream_open(s, sv[0], flags);
    if (err != 0) {
      s->flags = saved_flags[i];
      uv__close(sv[0]);
      uv__close(sv[1]);
      goto fail;
    }
    child[i] = sv[1];
  }
  return 0;

fail:
  close_pipes(o, i, child, saved_flags);
  return err;
}

/* The parent's copies of the child ends go once the child has them. */
static void close_child_ends(const uv_process_options_t* o, const int* child) {
  int i;

  for (i = 0; i < o->stdio_count; i++)
    if ((o->stdio[i].flags & STDIO_KIND) == UV_CREATE_PIPE)
      uv__close(child[i]);
}

/* ---------------------------------------------------------------------
 * Reaping.
 */
static void on_sigchld(uv_signal_t* watcher, int signum);

static int watch_children(uv_loop_t* loop) {
  uv_signal_t* w = &loop->child_watcher;
  int err;

  if (w->type != UV_SIGNAL) {
    err = uv_signal_init(loop, w);
    if (err != 0)
      return err;
    w->flags |= UV__HANDLE_INTERNAL;
    uv_unref((uv_handle_t*) w);
  }
  if (uv__is_active((uv_handle_t*) w))
    return 0;
  return uv_signal_start(w, on_sigchld, SIGCHLD);
}

/* With no child left, SIGCHLD gets its former disposition back. */
static void unwatch_children_if_idle(uv_loop_t* loop) {
  uv_signal_t* w = &loop->child_watcher;

  if (w->type == UV_SIGNAL && uv__is_active((uv_handle_t*) w) &&
      uv__queue_empty(&loop->process_handles))
    uv_signal_stop(w);
}

/* Exits are collected first and reported after, since an exit callback
 * may close, or spawn into, any process handle of the loop. A handle
 * closed by an earlier callback of the batch leaves the batch list (see
 * uv__process_close) and gets no callback. */
static void on_sigchld(uv_signal_t* watcher, int signum) {
  uv_loop_t* loop = watcher->loop;
  struct uv__queue* head = &loop->process_handles;
  struct uv__queue exited;
  struct uv__queue* q;
  struct uv__queue* next;
  uv_process_t* p;
  int64_t exit_status;
  int term_signal;
  int status;
  pid_t r;

  (void) signum;
  uv__queue_init(&exited);
  for (q = uv__queue_head(head); q != head; q = next) {
    next = uv__queue_next(q);
    p = uv__container_of(q, uv_process_t, queue);
    do
      r = waitpid(p->pid, &status, WNOHANG);
    while (r == -1 && errno == EINTR);
    /* 0: still running. -1 (ECHILD): reaped by someone else, so its
     * status is lost; like libuv, keep waiting rather than invent one. */
    if (r <= 0)
      continue;
    p->status = status;
    uv__queue_remove(q);
    uv__queue_insert_tail(&exited, q);
  }

  while (!uv__queue_empty(&exited)) {
    q = uv__queue_head(&exited);
    uv__queue_remove(q);
    p = uv__container_of(q, uv_process_t, queue);
    p->flags |= PROCESS_EXITED;
    uv__handle_stop((uv_handle_t*) p);
    if (p->exit_cb == NULL)
      continue;
    exit_status = 0;
    term_signal = 0;
    if (WIFEXITED(p->status))
      exit_status = WEXITSTATUS(p->status);
    else if (WIFSIGNALED(p->status))
      term_signal = WTERMSIG(p->status);
    uv__dispatch_exit(p, exit_status, term_signal);
  }
  unwatch_children_if_idle(loop);
}

void uv__process_close(uv_process_t* p) {
  uv__queue_remove(&p->queue);
  uv__handle_stop((uv_handle_t*) p);
  unwatch_children_if_idle(p->loop);
}

void uv__process_loop_close(uv_loop_t* loop) {
  uv_signal_t* w = &loop->child_watcher;

  if (w->type != UV_SIGNAL)
    return;
  /* A message about it may still sit in the signal pipe, which closes
   * right after this; nothing reads it. */
  uv_signal_stop(w);
  uv__queue_remove(&w->handle_queue);
  w->type = UV_UNKNOWN_HANDLE;
}

/* ---------------------------------------------------------------------
 * Starting the child.
 */

/* ThreadSanitizer's clone() interceptor treats every clone as a fork and
 * breaks its own state when the child shares the parent's memory: TSan
 * builds take the fork() path (tests then cover that path under TSan). */
static pid_t clone_vfork(struct spawn_plan* p, char* stack) {
#ifdef NL_UNDER_TSAN
  (void) p;
  (void) stack;
  errno = ENOSYS;
  return -1;
#else
  return clone(run, stack + CHILD_STACK_SIZE,
               CLONE_VM | CLONE_VFORK | SIGCHLD, p);
#endif
}

/* clone(CLONE_VM | CLONE_VFORK) where the kernel allows it, else fork().
 * Every signal is blocked meanwhile (the child unblocks them once their
 * handlers are gone); returns the pid or a negative UV_E* code. */
static pid_t start_child(struct spawn_plan* p, char* stack) {
  sigset_t all;
  sigset_t saved;
  pid_t pid;
  int err;

  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid = clone_vfork(p, stack);
  if (pid == -1 && (errno == EINVAL || errno == ENOSYS || errno == EPERM)) {
    pid = fork();
    if (pid == 0)
      run(p);   /* does not return */
  }
  err = pid == -1 ? uv__neg_errno() : 0;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  return err != 0 ? err : pid;
}

/* 0 if the child reached execve, else its error. */
static int child_result(struct spawn_plan* p, int errpipe) {
  ssize_t r;
  int code;

  if (p->started)
    return p->err != 0 ? -p->err : 0;
  /* Not our memory: fork(). End-of-file means the execve succeeded. */
  do
    r = read(errpipe, &code, sizeof(code));
  while (r == -1 && errno == EINTR);
  if (r == (ssize_t) sizeof(code))
    return -code;
  return 0;
}

static int check_options(const uv_process_options_t* o) {
  if (o->file == NULL)
    return UV_EINVAL;
  if (o->flags & ~(unsigned int) KNOWN_PROCESS_FLAGS)
    return UV_EINVAL;
  return check_stdio(o);
}

/* The slots' scratch arrays live on the stack up to this many slots. */
#define STDIO_INLINE 8

int uv_spawn(uv_loop_t* loop, uv_process_t* process,
             const uv_process_options_t* options) {
  unsigned int inline_flags[STDIO_INLINE];
  int inline_child[STDIO_INLINE];
  unsigned int* saved_flags = inline_flags;
  int* child = inline_child;
  char* default_argv[2];
  struct spawn_plan plan;
  void* block = NULL;
  int errpipe[2];
  pid_t pid;
  int status;
  int err;
  int i;

  if (loop == NULL || process == NULL)
    return UV_EINVAL;
  /* On failure too the handle is initialised (and inactive): the caller
   * closes it, as with libuv. */
  uv__handle_init(loop, (uv_handle_t*) process, UV_PROCESS);
  process->exit_cb = options != NULL ? options->exit_cb : NULL;
  process->pid = 0;
  process->status = 0;
  uv__queue_init(&process->queue);
  if (options == NULL)
    return UV_EINVAL;
  err = check_options(options);
  if (err != 0)
    return err;

  memset(&plan, 0, sizeof(plan));
  plan.nfds = options->stdio_count > 3 ? options->stdio_count : 3;
  plan.cwd = options->cwd;
  plan.flags = options->flags;
  plan.uid = options->uid;
  plan.gid = options->gid;
  plan.envp = options->env != NULL ? options->env : environ;
  default_argv[0] = (char*) options->file;
  default_argv[1] = NULL;
  err = make_plan(&plan, options, default_argv, &block);
  if (err != 0)
    return err;

  if (options->stdio_count > STDIO_INLINE) {
    child = uv__malloc((size_t) options->stdio_count * sizeof(*child));
    saved_flags =
        uv__malloc((size_t) options->stdio_count * sizeof(*saved_flags));
    if (child == NULL || saved_flags == NULL) {
      err = UV_ENOMEM;
      goto out;
    }
  }
  err = open_pipes(options, child, saved_flags);
  if (err != 0)
    goto out;
  for (i = 0; i < plan.nfds; i++)
    plan.fds[i] = i < options->stdio_count ? child[i] : -1;

  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    err = uv__neg_errno();
    goto fail_pipes;
  }
  plan.errfd = errpipe[1];
  err = watch_children(loop);
  if (err != 0)
    goto fail_errpipe;

  pid = start_child(&plan, block);
  uv__close(errpipe[1]);
  if (pid < 0) {
    err = pid;
  } else {
    err = child_result(&plan, errpipe[0]);
    if (err != 0) {
      /* Never registered, so no other waitpid can take it. */
      while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        continue;
    }
  }
  uv__close(errpipe[0]);
  if (err != 0 && pid < 0) {
    unwatch_children_if_idle(loop);
    goto fail_pipes;
  }
  if (err != 0) {
    /* The child started and its exec failed. As in libuv the parent's
     * pipe ends stay open (they read EOF): Node.js builds its stdio
     * sockets on them even after a failed spawn. */
    unwatch_children_if_idle(loop);
    close_child_ends(options, child);
    goto out;
  }

  close_child_ends(options, child);
  process->pid = pid;
  uv__queue_insert_tail(&loop->process_handles, &process->queue);
  uv__handle_start((uv_handle_t*) process);
  goto out;

fail_errpipe:
  uv__close(errpipe[0]);
  uv__close(errpipe[1]);
fail_pipes:
  close_pipes(options, options->stdio_count, child, saved_flags);
out:
  if (child != inline_child)
    uv__free(child);
  if (saved_flags != inline_flags)
    uv__free(saved_flags);
  uv__free(block);
  return err;
}

int uv_process_kill(uv_process_t* process, int signum) {
  if (process == NULL || process->type != UV_PROCESS)
    return UV_EINVAL;
  /* Once reaped, the pid may name another process: never signal it.
   * Unreaped, it cannot be reused, even as a zombie. pid 0 (a failed
   * spawn) would signal our own process group. */
  if ((process->flags & PROCESS_EXITED) || process->pid <= 0)
    return UV_ESRCH;
  return uv_kill(process->pid, signum);
}

uv_pid_t uv_process_get_pid(const uv_process_t* process) {
  return process != NULL ? process->pid : 0;
}

/* Marks descriptors 0, 1, 2, ... close-on-exec, up to the first one past
 * 15 that is not open: those inherited from our parent, on a best-effort
 * basis, as libuv documents it. */
void uv_disable_stdio_inheritance(void) {
  int fd;

  for (fd = 0;; fd++)
    if (ioctl(fd, FIOCLEX) != 0 && fd > 15)
      break;
}
