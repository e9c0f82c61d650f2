/* Async handles: wakeups from other threads, coalescing, order, close
 * while senders are busy, and bad input. */
/* NL_TEST_THREADED */
#include "test.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

static int calls;

static void count_cb(uv_async_t* h) {
  (void) h;
  calls++;
}

TEST(send_from_loop_thread_coalesces) {
  uv_loop_t loop;
  uv_async_t a;
  int i;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &a, count_cb));
  /* An async handle is active from init: it keeps the loop alive. */
  CHECK(uv_is_active((uv_handle_t*) &a));
  for (i = 0; i < 100; i++)
    CHECK_OK(uv_async_send(&a));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 1);
  nl_test_close_loop(&loop);
}

static char order[16];
static uv_async_t many[4];

static void order_cb(uv_async_t* h) {
  size_t n = strlen(order);
  order[n] = (char) ('0' + (h - many));
  order[n + 1] = '\0';
}

TEST(callbacks_in_send_order) {
  uv_loop_t loop;
  int i;

  order[0] = '\0';
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 4; i++)
    CHECK_OK(uv_async_init(&loop, &many[i], order_cb));
  CHECK_OK(uv_async_send(&many[2]));
  CHECK_OK(uv_async_send(&many[0]));
  CHECK_OK(uv_async_send(&many[3]));
  CHECK_OK(uv_async_send(&many[2]));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_STREQ(order, "203");
  nl_test_close_loop(&loop);
}

/* Each of several threads sends many times and waits until the loop has
 * seen its latest send; no send may be lost. */
#define NTHREADS 4
#define NSENDS 2000

struct sender {
  uv_async_t async;
  uv_thread_t thread;
  uv_sem_t seen;
  int received;
};

static struct sender senders[NTHREADS];

static void sender_cb(uv_async_t* h) {
  struct sender* s = (struct sender*) h;
  s->received++;
  uv_sem_post(&s->seen);
  if (s->received == NSENDS)
    uv_close((uv_handle_t*) h, NULL);
}

static void sender_main(void* arg) {
  struct sender* s = arg;
  int i;
  for (i = 0; i < NSENDS; i++) {
    CHECK_OK(uv_async_send(&s->async));
    uv_sem_wait(&s->seen);
  }
}

TEST(many_threads_no_lost_wakeup) {
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < NTHREADS; i++) {
    senders[i].received = 0;
    CHECK_OK(uv_sem_init(&senders[i].seen, 0));
    CHECK_OK(uv_async_init(&loop, &senders[i].async, sender_cb));
  }
  for (i = 0; i < NTHREADS; i++)
    CHECK_OK(uv_thread_create(&senders[i].thread, sender_main, &senders[i]));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  for (i = 0; i < NTHREADS; i++) {
    CHECK_OK(uv_thread_join(&senders[i].thread));
    CHECK_EQ(senders[i].received, NSENDS);
    uv_sem_destroy(&senders[i].seen);
  }
  CHECK_OK(uv_loop_close(&loop));
}

/* Senders hammer a handle while the loop closes it: the close must wait
 * for a send in progress and the loop must end cleanly. */
static uv_async_t hammered;
static volatile int stop_hammer;
static int hammer_calls;

static void hammer_main(void* arg) {
  (void) arg;
  while (!__atomic_load_n(&stop_hammer, __ATOMIC_ACQUIRE))
    uv_async_send(&hammered);
}

static void hammer_cb(uv_async_t* h) {
  if (++hammer_calls == 50)
    uv_close((uv_handle_t*) h, NULL);
}

TEST(close_while_other_threads_send) {
  uv_loop_t loop;
  uv_thread_t t[2];
  int i;

  hammer_calls = 0;
  stop_hammer = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &hammered, hammer_cb));
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_thread_create(&t[i], hammer_main, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(hammer_calls, 50);
  __atomic_store_n(&stop_hammer, 1, __ATOMIC_RELEASE);
  for (i = 0; i < 2; i++)
    CHECK_OK(uv_thread_join(&t[i]));
  CHECK_OK(uv_loop_close(&loop));
}

/* A handle closed while queued with others: the others still run. */
static uv_async_t q1, q2, q3;

static void q_cb(uv_async_t* h) {
  calls++;
  if (h == &q1)
    uv_close((uv_handle_t*) &q2, NULL);
}

TEST(close_queued_handle_from_callback) {
  uv_loop_t loop;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &q1, q_cb));
  CHECK_OK(uv_async_init(&loop, &q2, q_cb));
  CHECK_OK(uv_async_init(&loop, &q3, q_cb));
  CHECK_OK(uv_async_send(&q1));
  CHECK_OK(uv_async_send(&q2));
  CHECK_OK(uv_async_send(&q3));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 2);   /* q1 and q3; q2 was closed before its turn */
  nl_test_close_loop(&loop);
}

/* Sent, then closed before the loop ran: no callback, clean close. */
TEST(close_pending_handle) {
  uv_loop_t loop;
  uv_async_t a;
  uv_async_t b;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &a, count_cb));
  CHECK_OK(uv_async_init(&loop, &b, count_cb));
  CHECK_OK(uv_async_send(&a));
  CHECK_OK(uv_async_send(&b));
  uv_close((uv_handle_t*) &a, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 1);   /* b only */
  nl_test_close_loop(&loop);
}

/* uv_async_send is async-signal-safe. */
static uv_async_t from_signal;

static void on_sigusr1(int sig) {
  (void) sig;
  uv_async_send(&from_signal);
}

static void signal_cb(uv_async_t* h) {
  calls++;
  uv_close((uv_handle_t*) h, NULL);
}

static void raise_cb(uv_timer_t* h) {
  (void) h;
  raise(SIGUSR1);
}

TEST(send_from_signal_handler) {
  uv_loop_t loop;
  uv_timer_t t;
  struct sigaction sa;

  calls = 0;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigusr1;
  CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &from_signal, signal_cb));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, raise_cb, 10, 0));
  uv_unref((uv_handle_t*) &t);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(calls, 1);
  nl_test_close_loop(&loop);
}

TEST(null_callback_and_bad_input) {
  uv_loop_t loop;
  uv_async_t a;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  /* A NULL callback is allowed: the send just wakes the loop. */
  CHECK_OK(uv_async_init(&loop, &a, NULL));
  CHECK_OK(uv_async_send(&a));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(uv_async_init(NULL, &a, NULL), UV_EINVAL);
  CHECK_EQ(uv_async_init(&loop, NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_async_send(NULL), UV_EINVAL);
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_async_send((uv_async_t*) &t), UV_EINVAL);
  nl_test_close_loop(&loop);
}

TEST(unref_async_does_not_keep_loop_alive) {
  uv_loop_t loop;
  uv_async_t a;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &a, count_cb));
  uv_unref((uv_handle_t*) &a);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&loop);
}

/* A program that waits on uv_backend_fd() itself, outside uv_run, must be
 * woken by a send from another thread; and a send made while the loop was
 * running (no wakeup needed then) must still make the descriptor readable
 * once uv_run returns. */
static uv_async_t embed_async;
static uv_sem_t embed_go;

static void embed_sender(void* arg) {
  (void) arg;
  uv_sem_wait(&embed_go);
  uv_sleep(50);
  uv_async_send(&embed_async);
}

static uv_check_t embed_check;

/* Runs after the poll phase: this send happens while the loop runs, so
 * it makes no wakeup of its own. */
static void embed_check_cb(uv_check_t* c) {
  uv_async_send(&embed_async);
  uv_close((uv_handle_t*) c, NULL);
}

static void embed_cb(uv_async_t* h) {
  calls++;
  if (calls == 1)
    CHECK_OK(uv_check_start(&embed_check, embed_check_cb));
  else
    uv_close((uv_handle_t*) h, NULL);
}

TEST(wakes_program_polling_backend_fd) {
  uv_loop_t loop;
  uv_thread_t t;
  struct pollfd p;
  int rounds = 0;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_sem_init(&embed_go, 0));
  CHECK_OK(uv_async_init(&loop, &embed_async, embed_cb));
  CHECK_OK(uv_check_init(&loop, &embed_check));
  CHECK_OK(uv_thread_create(&t, embed_sender, NULL));
  /* One run hands the loop's descriptors to the kernel. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  uv_sem_post(&embed_go);
  while (uv_loop_alive(&loop)) {
    p.fd = uv_backend_fd(&loop);
    p.events = POLLIN;
    /* A generous limit: a lost wakeup fails the test instead of hanging. */
    CHECK_EQ(poll(&p, 1, 5000), 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(++rounds < 100);
  }
  CHECK_EQ(calls, 2);
  CHECK_OK(uv_thread_join(&t));
  uv_sem_destroy(&embed_go);
  CHECK_OK(uv_loop_close(&loop));
}

/* A thread sends in a tight loop while the loop closes the handle from its
 * own callback; the close callback stops the thread and frees the handle.
 * Another handle keeps the loop running a few more rounds afterwards, so
 * that an entry left on the loop's stack by a send racing with the close
 * would be drained: that must call nothing (and, under ASan, touch no
 * freed memory). Thousands of trials, since each race is a matter of
 * nanoseconds. */
#define RACE_TRIALS 3000

static uv_async_t* race_handle;
static uv_async_t race_keeper;
static uv_async_t race_slot;
static uv_thread_t race_thread;
static int race_reuse;
static int race_stop;
static int race_closed;
static int race_calls_after_close;
static int race_keeper_rounds;
static int race_second_calls;

static void race_sender(void* arg) {
  uv_async_t* h = arg;
  while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE))
    uv_async_send(h);
}

static void race_second_cb(uv_async_t* h) {
  race_second_calls++;
  uv_close((uv_handle_t*) h, NULL);
}

/* Stops the sender, then either frees the handle and lets the loop run
 * two more rounds through its poll phase (the keeper), or makes a new
 * async handle in the same memory at once and sends to it: a stale stack
 * entry for the old handle would then link the stack into a cycle (a
 * hang, which the alarm turns into a failure) or run the new one twice. */
static void race_close_cb(uv_handle_t* h) {
  __atomic_store_n(&race_stop, 1, __ATOMIC_RELEASE);
  CHECK_OK(uv_thread_join(&race_thread));
  race_closed = 1;
  if (race_reuse) {
    CHECK_OK(uv_async_init(h->loop, (uv_async_t*) h, race_second_cb));
    CHECK_OK(uv_async_send((uv_async_t*) h));
  } else {
    free(h);
    CHECK_OK(uv_async_send(&race_keeper));
  }
}

static void race_cb(uv_async_t* h) {
  if (race_closed || uv_is_closing((uv_handle_t*) h)) {
    race_calls_after_close++;
    return;
  }
  uv_close((uv_handle_t*) h, race_close_cb);
}

static void race_keeper_cb(uv_async_t* h) {
  if (++race_keeper_rounds < 3)
    CHECK_OK(uv_async_send(h));
  else
    uv_close((uv_handle_t*) h, NULL);
}

static void run_close_races(int reuse) {
  uv_loop_t loop;
  int trial;

  race_reuse = reuse;
  race_calls_after_close = 0;
  for (trial = 0; trial < RACE_TRIALS; trial++) {
    alarm(10);
    race_stop = 0;
    race_closed = 0;
    race_keeper_rounds = 0;
    race_second_calls = 0;
    CHECK_OK(uv_loop_init(&loop));
    race_handle = reuse ? &race_slot : malloc(sizeof(*race_handle));
    CHECK(race_handle != NULL);
    CHECK_OK(uv_async_init(&loop, race_handle, race_cb));
    if (!reuse)
      CHECK_OK(uv_async_init(&loop, &race_keeper, race_keeper_cb));
    CHECK_OK(uv_thread_create(&race_thread, race_sender, race_handle));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(race_closed, 1);
    CHECK_EQ(reuse ? race_second_calls : race_keeper_rounds, reuse ? 1 : 3);
    /* Nothing left to run: the loop is dead and closes. */
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
    CHECK_OK(uv_loop_close(&loop));
  }
  alarm(0);
  CHECK_EQ(race_calls_after_close, 0);
}

TEST(close_racing_sender_leaves_nothing_behind) {
  run_close_races(0);
}

TEST(close_racing_sender_then_reuse_memory) {
  run_close_races(1);
}

/* Sends after uv_close() (a caller's mistake, but one a racing thread
 * makes easily) are ignored, as in libuv: no callback, no wakeup. */
TEST(send_after_close_is_ignored) {
  uv_loop_t loop;
  uv_async_t a;
  struct pollfd p;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &a, count_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  uv_close((uv_handle_t*) &a, NULL);
  CHECK_OK(uv_async_send(&a));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(calls, 0);
  p.fd = uv_backend_fd(&loop);
  p.events = POLLIN;
  CHECK_EQ(poll(&p, 1, 0), 0);
  CHECK_OK(uv_loop_close(&loop));
}

/* Embedders (Electron's pattern) wait on uv_backend_fd() with
 * uv_backend_timeout(), then run the loop with UV_RUN_NOWAIT. After the
 * wakeup has been handled the descriptor must go quiet again: the host
 * then blocks instead of spinning. Counts the wakeups in `ms`. */
static int embed_wakeups(uv_loop_t* loop, int ms) {
  struct pollfd p;
  uint64_t end = uv_hrtime() + (uint64_t) ms * 1000000;
  uint64_t now;
  int wakeups = 0;
  int timeout;
  int left;

  while ((now = uv_hrtime()) < end) {
    left = (int) ((end - now) / 1000000) + 1;
    timeout = uv_backend_timeout(loop);
    if (timeout < 0 || timeout > left)
      timeout = left;
    p.fd = uv_backend_fd(loop);
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, timeout) == 1)
      wakeups++;
    uv_run(loop, UV_RUN_NOWAIT);
  }
  return wakeups;
}

TEST(embedder_blocks_after_send_outside_run) {
  uv_loop_t loop;
  uv_async_t a;
  int wakeups;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &a, count_cb));
  /* Hands the loop's descriptors to the kernel. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  /* The loop is not running: this send writes the wakeup. */
  CHECK_OK(uv_async_send(&a));
  wakeups = embed_wakeups(&loop, 300);
  CHECK_EQ(calls, 1);
  /* libuv: 1. A descriptor left readable gives hundreds of thousands. */
  CHECK(wakeups >= 1);
  CHECK(wakeups <= 2);
  nl_test_close_loop(&loop);
}

static void embed_work(uv_work_t* req) {
  (void) req;
}

static void embed_after_work(uv_work_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  calls++;
}

TEST(embedder_blocks_after_pool_completion) {
  uv_loop_t loop;
  uv_async_t keep;
  uv_work_t req;
  int wakeups;

  calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  /* Keeps the loop alive after the work is done. */
  CHECK_OK(uv_async_init(&loop, &keep, NULL));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_OK(uv_queue_work(&loop, &req, embed_work, embed_after_work));
  wakeups = embed_wakeups(&loop, 300);
  CHECK_EQ(calls, 1);
  CHECK(wakeups <= 2);
  nl_test_close_loop(&loop);
}

/* Many sends from another thread, at irregular moments, while the host
 * waits on the descriptor: every send is seen, and once the sender has
 * stopped the host blocks again. */
#define EMBED_SENDS 2000

static uv_async_t embed_many;
static int embed_many_seen;

static void embed_many_cb(uv_async_t* h) {
  (void) h;
  __atomic_store_n(&embed_many_seen, embed_many_seen + 1, __ATOMIC_RELEASE);
}

static int embed_many_done;

static void embed_many_sender(void* arg) {
  int i;
  int last;

  (void) arg;
  for (i = 0; i < EMBED_SENDS; i++) {
    last = __atomic_load_n(&embed_many_seen, __ATOMIC_ACQUIRE);
    CHECK_OK(uv_async_send(&embed_many));
    /* Every other send waits until the loop has run the callback, so
     * that sends land both while the host sleeps and while it runs. */
    if (i % 2 == 0)
      while (__atomic_load_n(&embed_many_seen, __ATOMIC_ACQUIRE) == last)
        sched_yield();
  }
  __atomic_store_n(&embed_many_done, 1, __ATOMIC_RELEASE);
}

TEST(embedder_many_sends_then_quiet) {
  uv_loop_t loop;
  uv_thread_t t;
  struct pollfd p;
  int timeout;

  embed_many_seen = 0;
  embed_many_done = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &embed_many, embed_many_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_OK(uv_thread_create(&t, embed_many_sender, NULL));
  while (!__atomic_load_n(&embed_many_done, __ATOMIC_ACQUIRE)) {
    timeout = uv_backend_timeout(&loop);
    p.fd = uv_backend_fd(&loop);
    p.events = POLLIN;
    poll(&p, 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(embed_many_seen >= EMBED_SENDS / 2);
  CHECK_OK(uv_thread_join(&t));
  /* The last sends may not have run yet; after one more run the
   * descriptor must be quiet. */
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(embed_wakeups(&loop, 100) <= 1);
  p.fd = uv_backend_fd(&loop);
  p.events = POLLIN;
  CHECK_EQ(poll(&p, 1, 50), 0);
  nl_test_close_loop(&loop);
}

/* Sends from another thread at a steady pace while the host waits on the
 * descriptor: each wakeup of the host has a send behind it (libuv: as
 * many wakeups as callbacks). A send drained by a run whose wakeup was
 * written just before must not leave the descriptor readable for
 * nothing. */
static uv_async_t steady_async;
static int steady_calls;
static int steady_stop;

static void steady_cb(uv_async_t* h) {
  (void) h;
  steady_calls++;
}

static void steady_sender(void* arg) {
  (void) arg;
  while (!__atomic_load_n(&steady_stop, __ATOMIC_ACQUIRE)) {
    uv_async_send(&steady_async);
    uv_sleep(1);
  }
}

TEST(embedder_steady_sends_wake_once_each) {
  uv_loop_t loop;
  uv_thread_t t;
  int wakeups;

  steady_calls = 0;
  steady_stop = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &steady_async, steady_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_OK(uv_thread_create(&t, steady_sender, NULL));
  wakeups = embed_wakeups(&loop, 500);
  __atomic_store_n(&steady_stop, 1, __ATOMIC_RELEASE);
  CHECK_OK(uv_thread_join(&t));
  CHECK(steady_calls > 50);
  /* A wakeup or two may find the callback already run by the previous
   * round; a third of them empty is the defect. */
  CHECK(wakeups - steady_calls <= 2 + steady_calls / 20);
  nl_test_close_loop(&loop);
}
