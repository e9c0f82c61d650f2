/* Signal handles and uv_kill(): the process-wide signal state (which
 * signals carry nodeloop's handler, the dispositions to restore, the armed
 * handles of every loop) and each loop's signal pipe.
 *
 * Delivery. Signals belong to the process, handles to loops, loops to
 * threads. For every signal number this file keeps the list of armed
 * handles of all loops. The C handler, run on whichever thread the kernel
 * picks, walks that list and for each handle counts the catch
 * (caught_signals) and writes the handle's address into the handle's loop
 * pipe, unless a message about that handle is in the pipe already
 * (msg_queued). The loop reads the pipe in its poll phase, on its own
 * thread, and runs the callback once per catch not yet dispatched
 * (dispatched_signals). So no catch is lost or merged, yet a handle never
 * has more than one message in its loop's pipe, which therefore cannot
 * fill up unless thousands of handles of one loop wait at the same time.
 *
 * Locking. One spin lock guards the lists and the per-signal state. A
 * thread that changes them blocks every signal first and unblocks them
 * after releasing the lock, so the handler never interrupts a holder on
 * the holder's own thread: when the handler waits for the lock it waits
 * for another thread, which holds it for a few instructions and at most
 * one sigaction() and waits for nothing itself. The handler runs with
 * every signal blocked (sa_mask), so handlers never nest. In the handler:
 * atomics, write(2), sigaction(2) and sched_yield(2) only; no
 * allocation, no mutex. The counters and msg_queued are also touched by
 * the loop thread without the lock; they are sequentially consistent
 * atomics (see deliver()).
 *
 * Closing. uv_close() and uv_signal_stop() unarm the handle under the lock;
 * from then on no handler reaches it, and catches not yet dispatched are
 * dropped, so no callback runs afterwards. A message still in the pipe
 * names the handle's address, so a closing handle's close callback waits
 * until the loop has read that message; the loop stays alive meanwhile.
 */
#include "internal.h"
#include "dispatch.h"
#include "signals.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Type-specific handle flags (the high bits of uv_handle_t.flags). Only
 * the loop thread reads or writes them. */
enum {
  SIGNAL_FIRED = 0x01000000,      /* oneshot catch being dispatched */
  SIGNAL_CLOSE_WAIT = 0x02000000  /* closing, a message still in flight */
};

/* How nodeloop's handler is installed for a signal. */
enum { DISP_NONE = 0, DISP_ONESHOT, DISP_PERSISTENT };

struct signal_state {
  struct uv__queue handles;   /* armed handles of every loop */
  unsigned int nregular;      /* armed by uv_signal_start() */
  unsigned int noneshot;      /* armed by uv_signal_start_oneshot() */
  int installed;              /* DISP_* */
  int saved;                  /* prev holds the disposition to restore */
  struct sigaction prev;
};

static struct signal_state states[NSIG];
static int lock_word;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_err;
static sigset_t fork_saved_mask;   /* the forking thread's, under the lock */

static void signal_handler(int signum);

/* ---------------------------------------------------------------------
 * The lock.
 */
static void spin_lock(void) {
  while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE) != 0)
    while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED) != 0)
      sched_yield();
}

static void spin_unlock(void) {
  __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

/* For threads, never for the handler: signals stay blocked while the lock
 * is held, so the handler cannot wait for its own thread. */
static void global_lock(sigset_t* saved) {
  sigset_t all;

  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, saved);
  spin_lock();
}

static void global_unlock(const sigset_t* saved) {
  spin_unlock();
  pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---------------------------------------------------------------------
 * Process-wide state: first use, and fork.
 */

/* A fork() must not copy the state half-changed, nor the lock held by a
 * thread that the child will not have. */
static void before_fork(void) {
  sigset_t saved;

  global_lock(&saved);
  fork_saved_mask = saved;
}

static void after_fork_parent(void) {
  sigset_t saved = fork_saved_mask;

  global_unlock(&saved);
}

/* The child shares its loops' pipes with the parent until it calls
 * uv_loop_fork(). Until then its handler only counts catches: marking
 * every armed handle as having a message in flight stops the writes, and
 * uv_loop_fork() sends what was counted through the new pipe. */
static void after_fork_child(void) {
  sigset_t saved = fork_saved_mask;
  struct uv__queue* q;
  uv_signal_t* h;
  int i;

  for (i = 1; i < NSIG; i++) {
    for (q = uv__queue_head(&states[i].handles); q != &states[i].handles;
         q = uv__queue_next(q)) {
      h = uv__container_of(q, uv_signal_t, node);
      __atomic_store_n(&h->msg_queued, 1, __ATOMIC_SEQ_CST);
    }
  }
  global_unlock(&saved);
}

static void global_init(void) {
  int i;

  for (i = 0; i < NSIG; i++)
    uv__queue_init(&states[i].handles);
  global_err = -pthread_atfork(before_fork, after_fork_parent,
                               after_fork_child);
}

static int global_start(void) {
  pthread_once(&global_once, global_init);
  return global_err;
}

/* ---------------------------------------------------------------------
 * Dispositions. Lock held. Async-signal-safe: the handler calls it.
 */
static int wanted_disposition(unsigned int nregular, unsigned int noneshot) {
  if (nregular > 0)
    return DISP_PERSISTENT;
  if (noneshot > 0)
    return DISP_ONESHOT;
  return DISP_NONE;
}

/* Makes the kernel's disposition of signum match `want`, saving what was
 * there before nodeloop's handler went in and restoring it when the last
 * handle goes.
 *
 * SA_RESTART: a signal still cuts short a read or write that has moved
 * some data (libuv's fs_partial_read/write see the partial counts), and
 * calls the kernel never restarts (epoll_wait, sleeps) still fail with
 * EINTR; but a blocking call that has done nothing yet is restarted instead
 * of failing with EINTR in code that never asked for signals: libuv's
 * eintr_handling test reads a pipe in one thread while SIGUSR1, sent by
 * another, lands in the reader, and expects the data, not an error.
 * SA_RESETHAND for oneshot-only signals: the kernel resets the disposition
 * the moment it delivers, so a second signal of a burst cannot be caught.
 * sa_mask blocks everything while the handler runs, so it never nests. */
static int set_disposition(int signum, int want) {
  struct signal_state* s = &states[signum];
  struct sigaction sa;

  if (want == s->installed)
    return 0;
  if (want == DISP_NONE) {
    /* Restoring a disposition sigaction() gave us cannot fail. */
    if (s->saved)
      sigaction(signum, &s->prev, NULL);
    s->saved = 0;
    s->installed = DISP_NONE;
    return 0;
  }
  memset(&sa, 0, sizeof(sa));
  sigfillset(&sa.sa_mask);
  sa.sa_handler = signal_handler;
  sa.sa_flags = SA_RESTART;
  if (want == DISP_ONESHOT)
    sa.sa_flags |= SA_RESETHAND;
  /* EINVAL for SIGKILL, SIGSTOP and the two signals glibc keeps. */
  if (sigaction(signum, &sa, s->saved ? NULL : &s->prev) != 0)
    return uv__neg_errno();
  s->saved = 1;
  s->installed = want;
  return 0;
}

/* ---------------------------------------------------------------------
 * The handler.
 */

/* Wakes h's loop for h, unless a message about h is on its way already.
 * Lock held; async-signal-safe. If the pipe is full, the catch stays
 * counted and goes out with the handle's next message. */
static void post_message(uv_signal_t* h) {
  ssize_t r;

  if (__atomic_exchange_n(&h->msg_queued, 1, __ATOMIC_SEQ_CST) != 0)
    return;
  do
    r = write(h->loop->signal_pipefd[1], &h, sizeof(h));
  while (r == -1 && errno == EINTR);
  /* Up to PIPE_BUF bytes go in whole or not at all. */
  if (r != (ssize_t) sizeof(h))
    __atomic_store_n(&h->msg_queued, 0, __ATOMIC_SEQ_CST);
}

static void signal_handler(int signum) {
  struct signal_state* s = &states[signum];
  struct uv__queue* q;
  struct uv__queue* next;
  uv_signal_t* h;
  int saved_errno = errno;

  spin_lock();
  for (q = uv__queue_head(&s->handles); q != &s->handles; q = next) {
    next = uv__queue_next(q);
    h = uv__container_of(q, uv_signal_t, node);
    __atomic_add_fetch(&h->caught_signals, 1, __ATOMIC_SEQ_CST);
    if (h->oneshot) {
      /* A oneshot handle catches one signal per start; its loop stops it
       * after the callback. */
      uv__queue_remove(q);
      s->noneshot--;
    }
    post_message(h);
  }
  /* When only oneshot handles were armed, the kernel has reset the
   * disposition; put back the one from before nodeloop's handler. */
  set_disposition(signum, wanted_disposition(s->nregular, s->noneshot));
  spin_unlock();
  /* An empty list means the signal raced with the last uv_signal_stop():
   * it is dropped, just as if it had come a moment earlier and been
   * caught for a handle that was then stopped before its callback. */
  errno = saved_errno;
}

/* ---------------------------------------------------------------------
 * Arming and unarming handles. Lock held.
 */
static void unlink_handle(uv_signal_t* h) {
  struct signal_state* s = &states[h->signum];

  uv__queue_remove(&h->node);
  if (h->oneshot)
    s->noneshot--;
  else
    s->nregular--;
}

static void unarm(uv_signal_t* h) {
  struct signal_state* s = &states[h->signum];

  unlink_handle(h);
  set_disposition(h->signum, wanted_disposition(s->nregular, s->noneshot));
}

/* ---------------------------------------------------------------------
 * The loop side.
 */
static void signal_stop(uv_signal_t* h) {
  sigset_t saved;

  if (!uv__is_active((uv_handle_t*) h))
    return;
  /* A fired oneshot handle is unarmed already, by the handler. Catches
   * not yet dispatched are dropped: deliver() runs only active handles,
   * and a new start skips them. */
  global_lock(&saved);
  if (uv__queue_linked(&h->node))
    unarm(h);
  global_unlock(&saved);
  h->flags &= ~SIGNAL_FIRED;
  h->signum = 0;
  uv__handle_stop((uv_handle_t*) h);
}

/* Runs the callback once per catch not yet dispatched. A signal caught
 * meanwhile either raised caught_signals before the load below (and runs
 * here) or found msg_queued cleared by on_message() and posted a new
 * message: both sides store, then load, with sequential consistency. */
static void deliver(uv_signal_t* h) {
  while (uv__is_active((uv_handle_t*) h) &&
         __atomic_load_n(&h->caught_signals, __ATOMIC_SEQ_CST) !=
             h->dispatched_signals) {
    h->dispatched_signals++;
    if (h->oneshot)
      h->flags |= SIGNAL_FIRED;
    uv__dispatch_signal(h, h->signum);
    /* Still set unless the callback stopped, closed or restarted it. */
    if (h->flags & SIGNAL_FIRED)
      signal_stop(h);
  }
}

static void finish_close_wait(uv_signal_t* h) {
  h->flags &= ~SIGNAL_CLOSE_WAIT;
  h->loop->active_handles--;
  uv__make_close_pending((uv_handle_t*) h);
}

static void on_message(uv_signal_t* h) {
  __atomic_store_n(&h->msg_queued, 0, __ATOMIC_SEQ_CST);
  if (h->flags & SIGNAL_CLOSE_WAIT)
    finish_close_wait(h);
  else
    deliver(h);
}

/* Messages are handle addresses, written whole (sizeof(void*) is below
 * PIPE_BUF), so reads of whole multiples never split one. A batch holds at
 * most one message per handle: the next is only written after
 * on_message() has run for the previous one. */
static void signal_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  uv_signal_t* batch[64];
  ssize_t r;
  size_t n;
  size_t i;

  (void) w;
  (void) events;
  for (;;) {
    do
      r = read(loop->signal_pipefd[0], batch, sizeof(batch));
    while (r == -1 && errno == EINTR);
    if (r <= 0)
      return;   /* EAGAIN: drained */
    n = (size_t) r / sizeof(batch[0]);
    for (i = 0; i < n; i++)
      on_message(batch[i]);
    if (n < UV__ARRAY_SIZE(batch))
      return;
  }
}

/* The write end is non-blocking so that the handler never waits for the
 * loop. */
static int open_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return uv__neg_errno();
  return 0;
}

static int start_watcher(uv_loop_t* loop) {
  uv__io_init(&loop->signal_io_watcher, signal_io, loop->signal_pipefd[0]);
  return uv__io_start(loop, &loop->signal_io_watcher, UV__POLLIN);
}

static void close_pipe(uv_loop_t* loop) {
  uv__io_close(loop, &loop->signal_io_watcher);
  uv__close(loop->signal_pipefd[0]);
  uv__close(loop->signal_pipefd[1]);
  loop->signal_pipefd[0] = -1;
  loop->signal_pipefd[1] = -1;
}

/* Created on the loop's first uv_signal_init(). Handlers read the write
 * end only for armed handles, and arming takes the lock after this. */
static int loop_start(uv_loop_t* loop) {
  int fds[2];
  int err;

  err = open_pipe(fds);
  if (err != 0)
    return err;
  loop->signal_pipefd[0] = fds[0];
  loop->signal_pipefd[1] = fds[1];
  err = start_watcher(loop);
  if (err != 0)
    close_pipe(loop);
  return err;
}

void uv__signal_loop_close(uv_loop_t* loop) {
  if (loop->signal_pipefd[0] != -1)
    close_pipe(loop);
}

int uv__signal_loop_fork(uv_loop_t* loop) {
  struct uv__queue* head = uv__queue_of(loop->handle_queue);
  struct uv__queue* q;
  uv_signal_t* h;
  sigset_t saved;
  int old[2];
  int fds[2];
  int err;

  if (loop->signal_pipefd[0] == -1)
    return 0;
  err = open_pipe(fds);
  if (err != 0)
    return err;
  uv__io_close(loop, &loop->signal_io_watcher);
  old[0] = loop->signal_pipefd[0];
  old[1] = loop->signal_pipefd[1];

  /* Swap the pipes and settle every handle of this loop under the lock:
   * messages in the old pipe are the parent's business, and what the
   * child caught so far goes out through the new one. */
  global_lock(&saved);
  loop->signal_pipefd[0] = fds[0];
  loop->signal_pipefd[1] = fds[1];
  for (q = uv__queue_head(head); q != head; q = uv__queue_next(q)) {
    h = uv__container_of(q, uv_signal_t, handle_queue);
    if (h->type != UV_SIGNAL)
      continue;
    __atomic_store_n(&h->msg_queued, 0, __ATOMIC_SEQ_CST);
    if (h->flags & SIGNAL_CLOSE_WAIT)
      finish_close_wait(h);
    else if (!uv__is_closing((uv_handle_t*) h) &&
             __atomic_load_n(&h->caught_signals, __ATOMIC_SEQ_CST) !=
                 h->dispatched_signals)
      post_message(h);
  }
  global_unlock(&saved);

  uv__close(old[0]);
  uv__close(old[1]);
  return start_watcher(loop);
}

/* ---------------------------------------------------------------------
 * The API.
 */
int uv_signal_init(uv_loop_t* loop, uv_signal_t* handle) {
  int err;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  err = global_start();
  if (err != 0)
    return err;
  if (loop->signal_pipefd[0] == -1) {
    err = loop_start(loop);
    if (err != 0)
      return err;
  }
  uv__handle_init(loop, (uv_handle_t*) handle, UV_SIGNAL);
  handle->signal_cb = NULL;
  handle->signum = 0;
  uv__queue_init(&handle->node);
  handle->msg_queued = 0;
  handle->oneshot = 0;
  handle->reserved2 = NULL;
  handle->caught_signals = 0;
  handle->dispatched_signals = 0;
  return 0;
}

static int signal_start(uv_signal_t* h, uv_signal_cb cb, int signum,
                        int oneshot) {
  struct signal_state* s;
  unsigned int nregular;
  unsigned int noneshot;
  sigset_t saved;
  int armed;
  int err;

  if (h == NULL || h->type != UV_SIGNAL || cb == NULL)
    return UV_EINVAL;
  if (uv__is_closing((uv_handle_t*) h))
    return UV_EINVAL;
  if (signum <= 0 || signum >= NSIG)
    return UV_EINVAL;

  s = &states[signum];
  global_lock(&saved);
  armed = uv__queue_linked(&h->node);
  if (armed && h->signum == signum && (int) h->oneshot == oneshot) {
    h->signal_cb = cb;
    global_unlock(&saved);
    return 0;
  }

  /* Install for the new set first: if the kernel refuses the signal, the
   * handle stays as it was. */
  nregular = s->nregular;
  noneshot = s->noneshot;
  if (armed && h->signum == signum) {
    if (h->oneshot)
      noneshot--;
    else
      nregular--;
  }
  if (oneshot)
    noneshot++;
  else
    nregular++;
  err = set_disposition(signum, wanted_disposition(nregular, noneshot));
  if (err != 0) {
    global_unlock(&saved);
    return err;
  }

  /* Restarted on the same signal, the disposition is right already:
   * recomputing it with the handle gone would restore the old one. */
  if (armed && h->signum == signum)
    unlink_handle(h);
  else if (armed)
    unarm(h);
  h->oneshot = (unsigned int) oneshot;
  if (oneshot)
    s->noneshot++;
  else
    s->nregular++;
  uv__queue_insert_tail(&s->handles, &h->node);
  /* Catches from before the restart belong to the old start. */
  h->dispatched_signals =
      __atomic_load_n(&h->caught_signals, __ATOMIC_SEQ_CST);
  global_unlock(&saved);

  h->flags &= ~SIGNAL_FIRED;
  h->signal_cb = cb;
  h->signum = signum;
  uv__handle_start((uv_handle_t*) h);
  return 0;
}

int uv_signal_start(uv_signal_t* handle, uv_signal_cb signal_cb, int signum) {
  return signal_start(handle, signal_cb, signum, 0);
}

int uv_signal_start_oneshot(uv_signal_t* handle, uv_signal_cb signal_cb,
                            int signum) {
  return signal_start(handle, signal_cb, signum, 1);
}

int uv_signal_stop(uv_signal_t* handle) {
  if (handle == NULL || handle->type != UV_SIGNAL)
    return UV_EINVAL;
  signal_stop(handle);
  return 0;
}

void uv__signal_close(uv_signal_t* handle) {
  signal_stop(handle);
  /* Unarmed now, so no handler sets msg_queued again. Until the message
   * is read, the handle counts as active to keep the loop running. */
  if (__atomic_load_n(&handle->msg_queued, __ATOMIC_SEQ_CST) != 0) {
    handle->flags |= SIGNAL_CLOSE_WAIT;
    handle->loop->active_handles++;
    return;
  }
  uv__make_close_pending((uv_handle_t*) handle);
}

int uv_kill(int pid, int signum) {
  if (kill(pid, signum) != 0)
    return uv__neg_errno();
  return 0;
}
