/* Signal handles and uv_kill(): delivery to every handle on every loop,
 * oneshot, restart, dispositions, close with a signal in flight, fork,
 * and bad input. */
/* NL_TEST_THREADED */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct watcher {
  uv_signal_t h;
  int calls;
  int last_signum;
  int action;                 /* what the callback does on its nth call */
  int action_at;
  uv_thread_t thread;         /* where the callback ran */
};

enum { ACT_NONE, ACT_STOP, ACT_CLOSE, ACT_REARM_ONESHOT, ACT_MOVE };

static int close_calls;

/* Atomic: the threaded cases close handles on several threads. */
static void close_cb(uv_handle_t* h) {
  (void) h;
  __atomic_add_fetch(&close_calls, 1, __ATOMIC_RELAXED);
}

static void watcher_cb(uv_signal_t* h, int signum) {
  struct watcher* w = (struct watcher*) h;

  CHECK(signum == h->signum);
  w->calls++;
  w->last_signum = signum;
  w->thread = uv_thread_self();
  if (w->calls != w->action_at)
    return;
  switch (w->action) {
    case ACT_STOP:
      CHECK_OK(uv_signal_stop(h));
      break;
    case ACT_CLOSE:
      uv_close((uv_handle_t*) h, close_cb);
      break;
    case ACT_REARM_ONESHOT:
      CHECK_OK(uv_signal_start_oneshot(h, watcher_cb, signum));
      break;
    case ACT_MOVE:
      CHECK_OK(uv_signal_start(h, watcher_cb, SIGUSR2));
      break;
  }
}

static void watch(uv_loop_t* loop, struct watcher* w, int signum,
                  int oneshot) {
  memset(w, 0, sizeof(*w));
  CHECK_OK(uv_signal_init(loop, &w->h));
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &w->h), UV_SIGNAL);
  if (oneshot)
    CHECK_OK(uv_signal_start_oneshot(&w->h, watcher_cb, signum));
  else
    CHECK_OK(uv_signal_start(&w->h, watcher_cb, signum));
  CHECK_EQ(w->h.signum, signum);
  CHECK(uv_is_active((uv_handle_t*) &w->h));
}

static void (*disposition(int signum))(int) {
  struct sigaction sa;

  CHECK_OK(sigaction(signum, NULL, &sa));
  return sa.sa_handler;
}

static int disposition_flags(int signum) {
  struct sigaction sa;

  CHECK_OK(sigaction(signum, NULL, &sa));
  return sa.sa_flags;
}

TEST(raise_and_kill_reach_the_handle) {
  struct watcher w;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(w.calls, 0);   /* callbacks run on the loop, not in the handler */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_signum, SIGUSR1);

  CHECK_OK(uv_kill(uv_os_getpid(), SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);

  /* The loop waits for a signal like for any other event. */
  w.action = ACT_STOP;
  w.action_at = 3;
  CHECK_OK(kill(getpid(), SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 3);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));
  nl_test_close_loop(&loop);
}

/* Catches are counted, not merged: three raises before the loop runs are
 * three callbacks, for each of several handles of one signal. */
TEST(several_handles_one_signal) {
  struct watcher w[3];
  struct watcher other;
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 3; i++)
    watch(&loop, &w[i], SIGUSR2, 0);
  watch(&loop, &other, SIGUSR1, 0);
  for (i = 0; i < 3; i++)
    CHECK_OK(raise(SIGUSR2));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(w[i].calls, 3);
    CHECK_EQ(w[i].last_signum, SIGUSR2);
  }
  CHECK_EQ(other.calls, 0);
  nl_test_close_loop(&loop);
}

/* One signal, two loops on two threads: each handle's callback runs once,
 * on its own loop's thread. */
struct loop_thread {
  uv_loop_t loop;
  struct watcher w[2];
  uv_sem_t* ready;
  uv_thread_t self;
};

static void loop_thread_main(void* arg) {
  struct loop_thread* t = arg;
  int i;

  t->self = uv_thread_self();
  CHECK_OK(uv_loop_init(&t->loop));
  for (i = 0; i < 2; i++) {
    watch(&t->loop, &t->w[i], SIGUSR1, 0);
    t->w[i].action = ACT_STOP;
    t->w[i].action_at = 1;
  }
  uv_sem_post(t->ready);
  /* Runs until both handles stopped themselves. */
  CHECK_EQ(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&t->loop);
}

TEST(one_signal_reaches_loops_on_two_threads) {
  struct loop_thread t[2];
  uv_thread_t tid[2];
  sigset_t all;
  sigset_t old;
  uv_sem_t ready;
  int i;
  int j;

  if (NL_TEST_UNDER_TSAN)
    nl_test_skip("ThreadSanitizer defers signal handlers of threads blocked "
                 "in epoll_wait, and may hand the signal to its own thread; "
                 "runs in the plain and ASan builds");

  CHECK_OK(uv_sem_init(&ready, 0));
  for (i = 0; i < 2; i++) {
    t[i].ready = &ready;
    CHECK_OK(uv_thread_create(&tid[i], loop_thread_main, &t[i]));
  }
  for (i = 0; i < 2; i++)
    uv_sem_wait(&ready);
  /* Blocked here, so the handler runs on one of the loop threads; the
   * callbacks must still land on their own loops. */
  sigfillset(&all);
  CHECK_OK(pthread_sigmask(SIG_SETMASK, &all, &old));
  CHECK_OK(uv_kill(uv_os_getpid(), SIGUSR1));
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_thread_join(&tid[i]));
  CHECK_OK(pthread_sigmask(SIG_SETMASK, &old, NULL));
  for (i = 0; i < 2; i++) {
    for (j = 0; j < 2; j++) {
      CHECK_EQ(t[i].w[j].calls, 1);
      CHECK(uv_thread_equal(&t[i].w[j].thread, &t[i].self));
    }
  }
  uv_sem_destroy(&ready);
  CHECK(disposition(SIGUSR1) == SIG_DFL);
}

/* A oneshot handle: the disposition is reset when the signal arrives, the
 * callback runs once and the handle is stopped after it. SIGWINCH's
 * default is to ignore, so later raises are harmless. */
TEST(oneshot_runs_once_and_stops) {
  struct watcher w;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK(disposition(SIGWINCH) == SIG_DFL);
  watch(&loop, &w, SIGWINCH, 1);
  CHECK(disposition(SIGWINCH) != SIG_DFL);
  /* The kernel resets it on delivery, so a burst is caught once. */
  CHECK(disposition_flags(SIGWINCH) & SA_RESETHAND);
  CHECK_OK(raise(SIGWINCH));
  CHECK(disposition(SIGWINCH) == SIG_DFL);
  CHECK_OK(raise(SIGWINCH));
  CHECK_OK(raise(SIGWINCH));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));

  /* Started again, it catches again, once. */
  CHECK_OK(uv_signal_start_oneshot(&w.h, watcher_cb, SIGWINCH));
  CHECK_OK(raise(SIGWINCH));
  CHECK_OK(raise(SIGWINCH));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 2);

  /* Re-armed from its own callback, it stays active. */
  w.action = ACT_REARM_ONESHOT;
  w.action_at = 3;
  CHECK_OK(uv_signal_start_oneshot(&w.h, watcher_cb, SIGWINCH));
  CHECK_OK(raise(SIGWINCH));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 3);
  CHECK(uv_is_active((uv_handle_t*) &w.h));
  CHECK(disposition(SIGWINCH) != SIG_DFL);
  CHECK_OK(raise(SIGWINCH));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 4);
  nl_test_close_loop(&loop);
}

/* Next to regular handles, a oneshot handle still gets one callback, and
 * the regular ones keep the handler installed for the rest. */
TEST(oneshot_beside_regular_handles) {
  struct watcher once[2];
  struct watcher reg;
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &once[0], SIGUSR1, 1);
  watch(&loop, &reg, SIGUSR1, 0);
  watch(&loop, &once[1], SIGUSR1, 1);
  CHECK(!(disposition_flags(SIGUSR1) & SA_RESETHAND));
  for (i = 0; i < 4; i++) {
    CHECK_OK(raise(SIGUSR1));
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  }
  CHECK_EQ(once[0].calls, 1);
  CHECK_EQ(once[1].calls, 1);
  CHECK_EQ(reg.calls, 4);
  CHECK(!uv_is_active((uv_handle_t*) &once[0].h));
  CHECK(!uv_is_active((uv_handle_t*) &once[1].h));

  /* The regular handle leaves: only a new oneshot one is armed, so the
   * handler is installed to reset itself. */
  CHECK_OK(uv_signal_start_oneshot(&once[0].h, watcher_cb, SIGUSR1));
  CHECK_OK(uv_signal_stop(&reg.h));
  CHECK(disposition(SIGUSR1) != SIG_DFL);
  CHECK(disposition_flags(SIGUSR1) & SA_RESETHAND);
  CHECK_OK(raise(SIGUSR1));
  CHECK(disposition(SIGUSR1) == SIG_DFL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(once[0].calls, 2);
  nl_test_close_loop(&loop);
}

/* Restarted on the same signal in the other mode, the only handle of a
 * signal keeps nodeloop's handler, installed for the new mode. */
TEST(switch_mode_on_the_same_signal) {
  struct watcher w;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  CHECK_OK(uv_signal_start_oneshot(&w.h, watcher_cb, SIGUSR1));
  CHECK(disposition(SIGUSR1) != SIG_DFL);
  CHECK(disposition_flags(SIGUSR1) & SA_RESETHAND);
  CHECK_OK(uv_signal_start(&w.h, watcher_cb, SIGUSR1));
  CHECK(disposition(SIGUSR1) != SIG_DFL);
  CHECK(!(disposition_flags(SIGUSR1) & SA_RESETHAND));
  CHECK_OK(raise(SIGUSR1));
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);
  CHECK_OK(uv_signal_start_oneshot(&w.h, watcher_cb, SIGUSR1));
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(w.calls, 3);
  CHECK(disposition(SIGUSR1) == SIG_DFL);
  nl_test_close_loop(&loop);
}

/* Restarting with another signal moves the handle: the old signal gets its
 * disposition back and no longer reaches the handle. */
TEST(restart_with_another_signal_moves_the_handle) {
  struct watcher w;
  uv_loop_t loop;

  CHECK(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  CHECK(disposition(SIGUSR1) != SIG_IGN);
  CHECK_OK(uv_signal_start(&w.h, watcher_cb, SIGUSR2));
  CHECK_EQ(w.h.signum, SIGUSR2);
  CHECK(disposition(SIGUSR1) == SIG_IGN);
  CHECK(disposition(SIGUSR2) != SIG_DFL);
  CHECK_OK(raise(SIGUSR1));
  CHECK_OK(raise(SIGUSR2));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_signum, SIGUSR2);

  /* Moved from inside its callback, the catch in hand is its last one for
   * SIGUSR1. */
  CHECK_OK(uv_signal_start(&w.h, watcher_cb, SIGUSR1));
  w.action = ACT_MOVE;
  w.action_at = 2;
  CHECK_OK(raise(SIGUSR1));
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);
  CHECK_EQ(w.h.signum, SIGUSR2);
  CHECK(disposition(SIGUSR1) == SIG_IGN);

  /* Stopped: no callback for a catch not yet dispatched, none later. */
  CHECK_OK(raise(SIGUSR2));
  CHECK_OK(uv_signal_stop(&w.h));
  CHECK_EQ(w.h.signum, 0);
  CHECK_OK(uv_signal_stop(&w.h));
  CHECK(disposition(SIGUSR2) == SIG_DFL);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(w.calls, 2);

  /* Started again on the same signal, it does not see that old catch. */
  CHECK_OK(uv_signal_start(&w.h, watcher_cb, SIGUSR2));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);
  nl_test_close_loop(&loop);
}

struct kicker {
  pthread_t target;
  int fd;
};

/* Sends SIGUSR1 to a reader blocked on an empty pipe, then feeds it. */
static void kick_reader(void* arg) {
  struct kicker* k = arg;

  uv_sleep(50);
  CHECK_OK(pthread_kill(k->target, SIGUSR1));
  uv_sleep(50);
  CHECK_EQ(write(k->fd, "data", 4), 4);
}

/* Lets a writer blocked on a full pipe move a little, then signals it. */
static void kick_writer(void* arg) {
  struct kicker* k = arg;
  char buf[4096];

  uv_sleep(50);
  CHECK_EQ(read(k->fd, buf, sizeof(buf)), sizeof(buf));
  CHECK_OK(pthread_kill(k->target, SIGUSR1));
}

/* With a handle watching, a blocking call that has done nothing yet is
 * restarted (no EINTR for code that never asked for signals), while one
 * that has moved data returns early with the partial count. */
TEST(blocking_calls_under_the_handler) {
  enum { BIG = 1 << 20 };
  struct kicker k;
  struct watcher w;
  uv_thread_t tid;
  uv_loop_t loop;
  char buf[16];
  char* big;
  int fds[2];
  ssize_t r;

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  CHECK(disposition_flags(SIGUSR1) & SA_RESTART);
  CHECK_OK(pipe(fds));
  k.target = pthread_self();

  k.fd = fds[1];
  CHECK_OK(uv_thread_create(&tid, kick_reader, &k));
  r = read(fds[0], buf, sizeof(buf));
  CHECK_EQ(r, 4);
  CHECK_OK(uv_thread_join(&tid));

  big = calloc(1, BIG);
  CHECK(big != NULL);
  k.fd = fds[0];
  CHECK_OK(uv_thread_create(&tid, kick_writer, &k));
  r = write(fds[1], big, BIG);
  CHECK(r > 0 && r < BIG);
  CHECK_OK(uv_thread_join(&tid));
  free(big);

  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  nl_test_close_loop(&loop);
}

static int user_handler_calls;

static void user_handler(int signum) {
  (void) signum;
  user_handler_calls++;
}

/* The disposition from before the first handle comes back when the last
 * handle stops, closes, or fires as a oneshot. */
TEST(disposition_restored_after_last_handle) {
  struct sigaction sa;
  struct sigaction now;
  struct watcher a;
  struct watcher b;
  uv_loop_t loop;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = user_handler;
  sa.sa_flags = SA_NODEFER;
  CHECK_OK(sigaction(SIGUSR1, &sa, NULL));

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &a, SIGUSR1, 0);
  watch(&loop, &b, SIGUSR1, 0);
  CHECK(disposition(SIGUSR1) != user_handler);
  CHECK_OK(uv_signal_stop(&a.h));
  CHECK(disposition(SIGUSR1) != user_handler);
  uv_close((uv_handle_t*) &b.h, NULL);
  CHECK_OK(sigaction(SIGUSR1, NULL, &now));
  CHECK(now.sa_handler == user_handler);
  CHECK_EQ(now.sa_flags & SA_NODEFER, SA_NODEFER);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(user_handler_calls, 1);

  /* A oneshot handle gives it back as soon as it fires. */
  CHECK_OK(uv_signal_start_oneshot(&a.h, watcher_cb, SIGUSR1));
  CHECK(disposition(SIGUSR1) != user_handler);
  CHECK_OK(raise(SIGUSR1));
  CHECK(disposition(SIGUSR1) == user_handler);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(user_handler_calls, 2);
  /* Its callback stops it: nothing keeps the loop alive afterwards. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(a.calls, 1);
  CHECK(disposition(SIGUSR1) == user_handler);
  nl_test_close_loop(&loop);
  CHECK(signal(SIGUSR1, SIG_DFL) != SIG_ERR);
}

static void never_cb(uv_signal_t* h, int signum) {
  (void) h;
  (void) signum;
  CHECK(!"signal callback after stop or close");
}

static void free_close_cb(uv_handle_t* h) {
  close_calls++;
  free(h);
}

static uv_signal_t* closing_in_check;

/* Raised and closed in the check phase: the close phase of the same
 * iteration comes before the poll that reads the message naming the
 * handle, so the close (which frees the handle here) must wait for it. */
static void raise_and_close_cb(uv_check_t* c) {
  CHECK_OK(raise(SIGUSR1));
  uv_close((uv_handle_t*) closing_in_check, free_close_cb);
  uv_close((uv_handle_t*) c, NULL);
}

TEST(signal_pending_on_close) {
  uv_signal_t s;
  uv_check_t c;
  uv_loop_t loop;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_signal_init(&loop, &s));
  CHECK_OK(uv_signal_start(&s, never_cb, SIGUSR1));
  CHECK_OK(raise(SIGUSR1));
  uv_close((uv_handle_t*) &s, close_cb);
  CHECK(uv_is_closing((uv_handle_t*) &s));
  CHECK_EQ(uv_signal_start(&s, never_cb, SIGUSR1), UV_EINVAL);
  CHECK_EQ(uv_loop_alive(&loop), 1);
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  closing_in_check = malloc(sizeof(*closing_in_check));
  CHECK(closing_in_check != NULL);
  CHECK_OK(uv_signal_init(&loop, closing_in_check));
  CHECK_OK(uv_signal_start(closing_in_check, never_cb, SIGUSR1));
  uv_unref((uv_handle_t*) closing_in_check);
  CHECK_OK(uv_check_init(&loop, &c));
  CHECK_OK(uv_check_start(&c, raise_and_close_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(close_calls, 0);   /* the message was still in the pipe */
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
  CHECK(disposition(SIGUSR1) == SIG_DFL);
}

/* Closing from the callback, with further catches counted: none of them
 * runs, and the close callback does. */
TEST(close_from_callback_drops_the_rest) {
  struct watcher w;
  uv_loop_t loop;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  w.action = ACT_CLOSE;
  w.action_at = 1;
  CHECK_OK(raise(SIGUSR1));
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));

  /* A handle never started closes at once. */
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_signal_init(&loop, &w.h));
  uv_close((uv_handle_t*) &w.h, close_cb);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 2);
  CHECK_OK(uv_loop_close(&loop));
}

static void stop_loop_cb(uv_signal_t* h, int signum) {
  (void) signum;
  uv_stop(h->loop);
}

TEST(ref_and_unref) {
  uv_signal_t s;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_signal_init(&loop, &s));
  /* Initialised but not started: inactive, does not keep the loop. */
  CHECK(!uv_is_active((uv_handle_t*) &s));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_OK(uv_signal_start(&s, stop_loop_cb, SIGUSR1));
  CHECK(uv_has_ref((uv_handle_t*) &s));
  CHECK_EQ(uv_loop_alive(&loop), 1);
  uv_unref((uv_handle_t*) &s);
  CHECK(!uv_has_ref((uv_handle_t*) &s));
  CHECK_EQ(uv_loop_alive(&loop), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  uv_ref((uv_handle_t*) &s);
  CHECK_EQ(uv_loop_alive(&loop), 1);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 1);   /* stopped by the callback */
  CHECK_OK(uv_signal_stop(&s));
  CHECK_EQ(uv_loop_alive(&loop), 0);
  nl_test_close_loop(&loop);
}

TEST(bad_input) {
  struct watcher w;
  uv_signal_t s;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_signal_init(NULL, &s), UV_EINVAL);
  CHECK_EQ(uv_signal_init(&loop, NULL), UV_EINVAL);
  CHECK_EQ(uv_signal_start(NULL, watcher_cb, SIGUSR1), UV_EINVAL);
  CHECK_EQ(uv_signal_start_oneshot(NULL, watcher_cb, SIGUSR1), UV_EINVAL);
  CHECK_EQ(uv_signal_stop(NULL), UV_EINVAL);

  watch(&loop, &w, SIGUSR1, 0);
  CHECK_EQ(uv_signal_start(&w.h, NULL, SIGUSR2), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, 0), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, -1), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, NSIG), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, 4096), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, SIGKILL), UV_EINVAL);
  CHECK_EQ(uv_signal_start(&w.h, watcher_cb, SIGSTOP), UV_EINVAL);
  CHECK_EQ(uv_signal_start_oneshot(&w.h, watcher_cb, SIGKILL), UV_EINVAL);
  CHECK_EQ(uv_signal_start_oneshot(&w.h, NULL, SIGUSR1), UV_EINVAL);
  /* A refused start leaves the handle as it was. */
  CHECK(uv_is_active((uv_handle_t*) &w.h));
  CHECK_EQ(w.h.signum, SIGUSR1);
  CHECK(disposition(SIGKILL) == SIG_DFL);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  nl_test_close_loop(&loop);
}

TEST(kill_errors) {
  pid_t pid;
  int status;

  CHECK_OK(uv_kill(uv_os_getpid(), 0));
  CHECK_EQ(uv_kill(uv_os_getpid(), -1), UV_EINVAL);
  CHECK_EQ(uv_kill(uv_os_getpid(), 4096), UV_EINVAL);
  CHECK_EQ(uv_kill(uv_os_getpid(), NSIG), UV_EINVAL);

  /* A child that has exited and been reaped is gone. */
  pid = fork();
  CHECK(pid != -1);
  if (pid == 0)
    _exit(0);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK_EQ(uv_kill(pid, SIGTERM), UV_ESRCH);
  CHECK_EQ(uv_kill(pid, 0), UV_ESRCH);

  /* A live child is signalled. */
  pid = fork();
  CHECK(pid != -1);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  CHECK_OK(uv_kill(pid, SIGTERM));
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status));
  CHECK_EQ(WTERMSIG(status), SIGTERM);
}

/* After fork(), the child gets a pipe of its own: its signals reach its
 * loop only, including one caught between fork() and uv_loop_fork(). */
TEST(loop_fork_child_receives_signals) {
  struct watcher w;
  uv_loop_t loop;
  pid_t pid;
  int status;

  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, SIGUSR1, 0);
  pid = fork();
  CHECK(pid != -1);
  if (pid == 0) {
    if (raise(SIGUSR1) != 0 || uv_loop_fork(&loop) != 0)
      _exit(2);
    if (uv_run(&loop, UV_RUN_NOWAIT) != 1 || w.calls != 1)
      _exit(3);
    if (kill(getpid(), SIGUSR1) != 0 || uv_loop_fork(&loop) != 0)
      _exit(4);
    w.action = ACT_CLOSE;
    w.action_at = 2;
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0 || w.calls != 2)
      _exit(5);
    _exit(uv_loop_close(&loop) == 0 ? 0 : 6);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  /* The child's catches never reached the parent's loop. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 0);
  CHECK_OK(raise(SIGUSR1));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  nl_test_close_loop(&loop);
}

/* A child that never calls uv_loop_fork() still shares its loops' pipes
 * with the parent: a signal it catches must not write there, or the
 * parent would read the address of a handle it may have freed already. */
TEST(child_without_loop_fork_leaves_parent_alone) {
  uv_signal_t* h;
  struct watcher keep;
  uv_loop_t loop;
  int go[2];
  pid_t pid;
  int status;
  char c;

  close_calls = 0;
  CHECK_OK(pipe(go));
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &keep, SIGUSR2, 0);
  h = malloc(sizeof(*h));
  CHECK(h != NULL);
  CHECK_OK(uv_signal_init(&loop, h));
  CHECK_OK(uv_signal_start(h, never_cb, SIGUSR1));
  pid = fork();
  CHECK(pid != -1);
  if (pid == 0) {
    if (read(go[0], &c, 1) != 1 || raise(SIGUSR1) != 0)
      _exit(2);
    _exit(0);
  }
  uv_close((uv_handle_t*) h, free_close_cb);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(close_calls, 1);
  /* SIGUSR1 is the parent's default again; the child still has the
   * handler it inherited. */
  CHECK(disposition(SIGUSR1) == SIG_DFL);
  CHECK_EQ(write(go[1], "x", 1), 1);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(keep.calls, 0);
  CHECK_OK(close(go[0]));
  CHECK_OK(close(go[1]));
  nl_test_close_loop(&loop);
}

/* Threads arm, stop and close handles on loops of their own while
 * another thread keeps sending the signal: nothing crashes or races, no
 * handle misses a signal sent after it was armed and the loops close. */
struct churn {
  uv_sem_t* armed;
  int rounds;
};

static void churn_main(void* arg) {
  struct churn* c = arg;
  struct watcher w;
  uv_loop_t loop;
  int i;

  for (i = 0; i < c->rounds; i++) {
    CHECK_OK(uv_loop_init(&loop));
    watch(&loop, &w, SIGUSR2, i & 1);
    w.action = ACT_CLOSE;
    w.action_at = 1;
    uv_sem_post(c->armed);
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ(w.calls, 1);
    CHECK_OK(uv_loop_close(&loop));
  }
}

TEST(handles_change_while_signals_arrive) {
  enum { NTHREADS = 4, ROUNDS = 50 };
  struct churn c[NTHREADS];
  uv_thread_t tid[NTHREADS];
  struct watcher keeper;
  uv_loop_t loop;
  uv_sem_t armed;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  /* Armed throughout, so that SIGUSR2 never meets its default action. */
  watch(&loop, &keeper, SIGUSR2, 0);
  CHECK_OK(uv_sem_init(&armed, 0));
  for (i = 0; i < NTHREADS; i++) {
    c[i].armed = &armed;
    c[i].rounds = ROUNDS;
    CHECK_OK(uv_thread_create(&tid[i], churn_main, &c[i]));
  }
  /* One signal per arming, sent after it. */
  for (i = 0; i < NTHREADS * ROUNDS; i++) {
    uv_sem_wait(&armed);
    CHECK_OK(uv_kill(uv_os_getpid(), SIGUSR2));
  }
  for (i = 0; i < NTHREADS; i++)
    CHECK_OK(uv_thread_join(&tid[i]));
  uv_sem_destroy(&armed);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK(keeper.calls >= 1);
  nl_test_close_loop(&loop);
  CHECK(disposition(SIGUSR2) == SIG_DFL);
}
