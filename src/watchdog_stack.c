/* The loop thread's stack for the watchdog (watchdog.h): the watchdog
 * sends a real-time signal to the loop thread with tgkill; the handler,
 * on that thread, copies the return addresses into a buffer allocated in
 * advance and wakes the watchdog through a futex. Symbols are looked up
 * afterwards, on the watchdog thread, with dladdr.
 *
 * glibc's backtrace() is called once outside the handler first, so that
 * it has loaded libgcc's unwinder; with glibc 2.35 and later that unwinder
 * finds objects through _dl_find_object, which takes no lock, so the
 * handler does not deadlock on a thread stopped inside the loader.
 */
#include "internal.h"
#include "watchdog.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Node.js and V8 use SIGPROF, SIGUSR1, SIGINT, SIGTERM and SIGWINCH;
 * glibc keeps the first real-time signals below SIGRTMIN for itself. */
#define WD_SIGNAL (SIGRTMIN + 6)
/* How long a thread may take to answer: one inside a system call that
 * defers the signal, or blocking it in a way /proc did not show. */
#define ANSWER_NS (100 * 1000000ull)
#define RAW_FRAMES (NL__WD_MAX_FRAMES + 8)

enum { CAP_IDLE, CAP_WANTED, CAP_WRITING, CAP_DONE };

static struct {
  _Atomic int state;               /* CAP_*, also the futex word */
  _Atomic int tid;                 /* the thread asked */
  int n;
  void* frames[RAW_FRAMES];
  /* Signals sent and handler runs: the handler stays installed while one
   * is still pending somewhere, since the default action of a real-time
   * signal ends the process. */
  _Atomic unsigned long sent;
  _Atomic unsigned long handled;
  int installed;                   /* under the watchdog's lock */
  struct sigaction old;
} cap;

static void on_signal(int sig, siginfo_t* si, void* uc) {
  int saved = errno;
  int expected = CAP_WANTED;

  atomic_fetch_add(&cap.handled, 1);
  /* A late signal of a request that timed out finds no request for this
   * thread and does nothing; one sent by someone else goes to the handler
   * the program had installed before, if any. */
  if (atomic_load(&cap.tid) == (int) syscall(SYS_gettid) &&
      atomic_compare_exchange_strong(&cap.state, &expected, CAP_WRITING)) {
    cap.n = backtrace(cap.frames, RAW_FRAMES);
    atomic_store_explicit(&cap.state, CAP_DONE, memory_order_release);
    syscall(SYS_futex, &cap.state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  } else if (cap.old.sa_flags & SA_SIGINFO) {
    errno = saved;
    cap.old.sa_sigaction(sig, si, uc);
  } else if (cap.old.sa_handler != SIG_DFL && cap.old.sa_handler != SIG_IGN) {
    errno = saved;
    cap.old.sa_handler(sig);
  }
  errno = saved;
}

int nl__wd_stack_install(void) {
  struct sigaction sa;
  void* warm[4];

  if (cap.installed)
    return 0;
  backtrace(warm, 4);
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  if (sigaction(WD_SIGNAL, &sa, &cap.old) != 0)
    return -errno;
  cap.installed = 1;
  return 0;
}

void nl__wd_stack_uninstall(void) {
  if (!cap.installed)
    return;
  if (atomic_load(&cap.handled) < atomic_load(&cap.sent))
    return;   /* the next uninstall tries again */
  sigaction(WD_SIGNAL, &cap.old, NULL);
  cap.installed = 0;
}

void nl__wd_stack_after_fork(void) {
  atomic_store(&cap.state, CAP_IDLE);
}

/* 1 if the thread blocks the signal, 0 if not, -1 if /proc does not say.
 * Not sending then spares a wait for an answer that cannot come. */
static int signal_blocked(int tid) {
  char path[64];
  char buf[2048];
  unsigned long long mask;
  const char* p;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  p = strstr(buf, "\nSigBlk:");
  if (p == NULL || sscanf(p + 8, "%llx", &mask) != 1)
    return -1;
  return (int) ((mask >> (WD_SIGNAL - 1)) & 1);
}

static void futex_wait(_Atomic int* word, int value, uint64_t ns) {
  struct timespec ts;

  ts.tv_sec = (time_t) (ns / 1000000000u);
  ts.tv_nsec = (long) (ns % 1000000000u);
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, &ts, NULL, 0);
}

/* Waits for the handler; 0, or -1 with the request withdrawn. */
static int wait_answer(void) {
  uint64_t deadline = uv__hrtime_ns() + ANSWER_NS;
  uint64_t now;
  int expected;
  int st;

  for (;;) {
    st = atomic_load_explicit(&cap.state, memory_order_acquire);
    if (st == CAP_DONE)
      return 0;
    now = uv__hrtime_ns();
    if (now >= deadline) {
      expected = CAP_WANTED;
      if (atomic_compare_exchange_strong(&cap.state, &expected, CAP_IDLE))
        return -1;
      /* The handler is copying: that takes microseconds, but a copy that
       * never ends must not stop the watchdog either. */
      if (now >= deadline + 10 * ANSWER_NS)
        return -1;
    }
    futex_wait(&cap.state, st, now < deadline ? deadline - now : ANSWER_NS);
  }
}

/* The kernel returns from a handler through a trampoline of the C
 * library (x86-64: mov $15,%rax; syscall; aarch64: mov x8,#139; svc #0),
 * which glibc does not export under a name dladdr would find. */
static int is_sigreturn(const void* pc) {
#if defined(__x86_64__)
  static const unsigned char code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00,
                                       0x00, 0x00, 0x0f, 0x05};
  return memcmp(pc, code, sizeof(code)) == 0;
#elif defined(__aarch64__)
  static const uint32_t code[] = {0xd2801168, 0xd4000001};
  return memcmp(pc, code, sizeof(code)) == 0;
#else
  (void) pc;
  return 0;
#endif
}

/* Drops the frames of the handler and of the trampoline; a sanitizer's
 * signal machinery in between stays (the frames are found all the same). */
static int first_frame(void) {
  int i;

  for (i = 1; i < cap.n && i < 8; i++)
    if (is_sigreturn(cap.frames[i]))
      return i + 1;
  return 1;
}

static void symbolize(struct nl__wd_stack* st) {
  Dl_info di;
  int first = first_frame();
  int i;

  st->n = 0;
  for (i = first; i < cap.n && st->n < NL__WD_MAX_FRAMES; i++) {
    st->frames[st->n] = cap.frames[i];
    /* Past the interrupted instruction, each frame is a return address:
     * the call itself is the byte before it. */
    st->lookup[st->n] = (const char*) cap.frames[i] - (i > first ? 1 : 0);
    st->names[st->n] = NULL;
    if (dladdr(st->lookup[st->n], &di) != 0)
      st->names[st->n] = di.dli_sname;
    st->n++;
  }
}

void nl__wd_stack_take(int tid, struct nl__wd_stack* st) {
  int st0;

  st->n = 0;
  if (tid == 0) {
    st->why = "the loop thread is not known";
    return;
  }
  if (signal_blocked(tid) == 1) {
    st->why = "the loop thread blocks the signal";
    return;
  }
  st0 = atomic_load(&cap.state);
  if (st0 == CAP_DONE)
    atomic_store(&cap.state, CAP_IDLE);   /* the answer of a withdrawn ask */
  else if (st0 != CAP_IDLE) {
    st->why = "an earlier request is still being answered";
    return;
  }
  cap.n = 0;
  atomic_store(&cap.tid, tid);
  atomic_store(&cap.state, CAP_WANTED);
  atomic_fetch_add(&cap.sent, 1);
  if (syscall(SYS_tgkill, (int) getpid(), tid, WD_SIGNAL) != 0) {
    atomic_fetch_sub(&cap.sent, 1);
    atomic_store(&cap.state, CAP_IDLE);
    st->why = "the signal could not be sent";
    return;
  }
  if (wait_answer() != 0) {
    st->why = "the loop thread did not answer in 100 ms";
    return;
  }
  symbolize(st);
  atomic_store(&cap.state, CAP_IDLE);
  if (st->n == 0)
    st->why = "the unwinder found no frames";
}
