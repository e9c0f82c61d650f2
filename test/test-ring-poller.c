/* The poller on the ring (NODELOOP_POLLER=ring, src/linux/uring_poll.c):
 * interest changes and the wait in one io_uring_enter. Each test also
 * passes where the ring is refused or lacks IORING_OP_EPOLL_WAIT (before
 * Linux 6.15), with epoll doing the work; ring_poller_expected() says
 * which is the case. The stream, poll and UDP suites run again in this
 * mode as ring_poller.* entries (test/CMakeLists.txt). */
/* NL_TEST_THREADED */
#include "test.h"
#include "ring-helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

__attribute__((constructor)) static void use_the_ring_poller(void) {
  setenv("NODELOOP_POLLER", "ring", 0);
}

/* The ring poller is asked for, the ring is allowed, and the kernel has
 * IORING_OP_EPOLL_WAIT (ring-ctl needs less; 6.15 covers both). */
static int ring_poller_expected(void) {
  const char* env = getenv("NODELOOP_POLLER");
  struct utsname u;
  int major = 0, minor = 0;

  if (!ring_allowed() || env == NULL ||
      (strcmp(env, "ring") != 0 && strcmp(env, "ring-ctl") != 0))
    return 0;
  CHECK_OK(uname(&u));
  if (sscanf(u.release, "%d.%d", &major, &minor) != 2)
    return 0;
  return major > 6 || (major == 6 && minor >= 15);
}

static void make_pair(int sv[2]) {
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
}

static int poll_calls;
static int poll_last_status;

static void count_poll_cb(uv_poll_t* h, int status, int events) {
  (void) events;
  poll_calls++;
  poll_last_status = status;
  uv_poll_stop(h);
}

/* ------------------------------------------------------------------- */

TEST(changes_and_wait_go_through_the_ring) {
  uv_loop_t loop;
  uv_poll_t p;
  long before = ring_entries_taken();
  int sv[2];

  make_pair(sv);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_poll_init_socket(&loop, &p, sv[0]));
  CHECK_OK(uv_poll_start(&p, UV_WRITABLE, count_poll_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(poll_calls, 1);
  CHECK_OK(poll_last_status);
  /* The add (and the wait, and the delete after the stop): on the ring
   * when it is there, through epoll otherwise. */
  if (ring_poller_expected())
    CHECK(ring_entries_taken() - before >= 2);
  else
    CHECK_EQ(ring_entries_taken(), before);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(poll_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
  close(sv[0]);
  close(sv[1]);
}

/* More changes than one io_uring_enter carries: all apply, all report. */
#define MANY 300
static uv_poll_t many[MANY];
static int many_sv[MANY][2];

TEST(more_changes_than_one_submission) {
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < MANY; i++) {
    make_pair(many_sv[i]);
    CHECK_OK(uv_poll_init_socket(&loop, &many[i], many_sv[i][0]));
    CHECK_OK(uv_poll_start(&many[i], UV_WRITABLE, count_poll_cb));
  }
  /* One poll phase: every change reaches the kernel before the wait. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(poll_calls, MANY);
  for (i = 0; i < MANY; i++) {
    CHECK(!uv_is_active((uv_handle_t*) &many[i]));
    uv_close((uv_handle_t*) &many[i], NULL);
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(poll_calls, MANY);
  CHECK_OK(uv_loop_close(&loop));
  for (i = 0; i < MANY; i++) {
    close(many_sv[i][0]);
    close(many_sv[i][1]);
  }
}

/* A change the kernel refuses (the descriptor was closed behind the
 * loop's back) sits between two good ones in the chain: its failure
 * cancels the rest, yet the loop neither blocks on its 10 s timer nor
 * loses the changes after it. */
static uv_poll_t refused_p[3];

static void refused_cb(uv_poll_t* h, int status, int events) {
  (void) events;
  poll_calls++;
  if (h == &refused_p[1])
    CHECK_EQ(status, UV_EBADF);
  else
    CHECK_OK(status);
  uv_poll_stop(h);
}

static void never_cb(uv_timer_t* t) {
  (void) t;
  CHECK(0);
}

TEST(refused_change_cuts_the_wait_short) {
  uv_loop_t loop;
  uv_timer_t timer;
  uint64_t t0;
  int sv[3][2];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, never_cb, 10000, 0));
  for (i = 0; i < 3; i++) {
    make_pair(sv[i]);
    CHECK_OK(uv_poll_init_socket(&loop, &refused_p[i], sv[i][0]));
    CHECK_OK(uv_poll_start(&refused_p[i], UV_WRITABLE, refused_cb));
  }
  close(sv[1][0]);
  t0 = uv_hrtime();
  while (poll_calls < 3)
    CHECK(uv_run(&loop, UV_RUN_ONCE) != 0);
  CHECK(uv_hrtime() - t0 < 2000000000u);
  /* Quiet afterwards: nothing more arrives. */
  CHECK(uv_run(&loop, UV_RUN_NOWAIT) != 0);
  CHECK_EQ(poll_calls, 3);
  uv_close((uv_handle_t*) &timer, NULL);
  for (i = 0; i < 3; i++)
    uv_close((uv_handle_t*) &refused_p[i], NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
  for (i = 0; i < 3; i++) {
    if (i != 1)
      close(sv[i][0]);
    close(sv[i][1]);
  }
}

/* Every iteration has a change (the watched events flip), so every wait
 * is the ring's, bounded by its linked timeout; SIGALRM every millisecond
 * interrupts those waits without ending them early or late. */
static uv_poll_t flip_p;
static int flip_ticks;
static uint64_t flip_start;

static void idle_poll_cb(uv_poll_t* h, int status, int events) {
  (void) h;
  (void) status;
  (void) events;
  CHECK(0);   /* the peer never writes */
}

static void flip_cb(uv_timer_t* t) {
  flip_ticks++;
  CHECK_OK(uv_poll_start(&flip_p, (flip_ticks & 1) ? UV_READABLE
                         : UV_READABLE | UV_PRIORITIZED, idle_poll_cb));
  if (flip_ticks == 20)
    uv_timer_stop(t);
}

static void on_alarm(int sig) {
  (void) sig;
}

TEST(timeouts_hold_under_signals) {
  struct itimerval it;
  struct sigaction sa;
  uv_loop_t loop;
  uv_timer_t timer;
  uint64_t elapsed;
  int sv[2];

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  CHECK_OK(sigaction(SIGALRM, &sa, NULL));   /* no SA_RESTART */
  memset(&it, 0, sizeof(it));
  it.it_interval.tv_usec = 1000;
  it.it_value.tv_usec = 1000;
  CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));

  make_pair(sv);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_poll_init_socket(&loop, &flip_p, sv[0]));
  CHECK_OK(uv_poll_start(&flip_p, UV_READABLE, idle_poll_cb));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, flip_cb, 5, 5));
  flip_start = uv_hrtime();
  while (flip_ticks < 20)
    CHECK(uv_run(&loop, UV_RUN_ONCE) != 0);
  elapsed = (uv_hrtime() - flip_start) / 1000000;
  memset(&it, 0, sizeof(it));
  CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
  CHECK(elapsed >= 80);   /* 20 ticks of 5 ms, each timed in whole ms */
  CHECK(elapsed < 5000);
  uv_close((uv_handle_t*) &flip_p, NULL);
  uv_close((uv_handle_t*) &timer, NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(flip_ticks, 20);
  CHECK_OK(uv_loop_close(&loop));
  close(sv[0]);
  close(sv[1]);
}

/* A wait the ring holds is ended by uv_async_send from another thread,
 * and the loop goes quiet again afterwards. */
static uv_async_t wake_async;
static int wake_calls;

static void wake_cb(uv_async_t* a) {
  wake_calls++;
  uv_close((uv_handle_t*) a, NULL);
}

static void* wake_thread(void* arg) {
  (void) arg;
  uv_sleep(50);
  CHECK_OK(uv_async_send(&wake_async));
  return NULL;
}

TEST(async_send_ends_a_ring_wait) {
  uv_loop_t loop;
  uv_poll_t p;
  pthread_t th;
  uint64_t t0;
  int sv[2];

  make_pair(sv);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_async_init(&loop, &wake_async, wake_cb));
  CHECK_OK(uv_poll_init_socket(&loop, &p, sv[0]));
  /* A change waits for the poll: the wait is the ring's. */
  CHECK_OK(uv_poll_start(&p, UV_READABLE, idle_poll_cb));
  uv_unref((uv_handle_t*) &p);
  CHECK_OK(pthread_create(&th, NULL, wake_thread, NULL));
  t0 = uv_hrtime();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK(uv_hrtime() - t0 >= 40000000u);
  CHECK_OK(pthread_join(th, NULL));
  CHECK_EQ(wake_calls, 1);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(wake_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
  close(sv[0]);
  close(sv[1]);
}

/* File requests on the ring and the poller share it: the poller steps
 * aside while requests are in the kernel, and neither sees the other's
 * completions. Each callback changes the watched events (a change for
 * every poll) and makes a file request from inside uv_run (so that it
 * goes on the ring). */
#define MIX 200
static uv_fs_t mix_reqs[MIX];
static int mix_fs_done;
static uv_poll_t mix_p;
static int mix_sv[2];
static int mix_fd;

static void mix_fs_cb(uv_fs_t* req) {
  CHECK_OK(req->result);
  CHECK(S_ISDIR(req->statbuf.st_mode));
  mix_fs_done++;
  uv_fs_req_cleanup(req);
}

static void mix_poll_cb(uv_poll_t* h, int status, int events) {
  char c;

  CHECK_OK(status);
  CHECK(events & UV_READABLE);
  CHECK_EQ(read(mix_sv[0], &c, 1), 1);
  CHECK_OK(uv_fs_fstat(h->loop, &mix_reqs[poll_calls], mix_fd, mix_fs_cb));
  poll_calls++;
  if (poll_calls == MIX) {
    uv_poll_stop(h);
    return;
  }
  CHECK_OK(uv_poll_start(h, (poll_calls & 1) ? UV_READABLE | UV_PRIORITIZED
                         : UV_READABLE, mix_poll_cb));
  CHECK_EQ(write(mix_sv[1], "x", 1), 1);
}

TEST(file_requests_and_poller_share_the_ring) {
  uv_loop_t loop;

  mix_fd = open("/", O_RDONLY | O_CLOEXEC);
  CHECK(mix_fd >= 0);
  make_pair(mix_sv);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_poll_init_socket(&loop, &mix_p, mix_sv[0]));
  CHECK_OK(uv_poll_start(&mix_p, UV_READABLE, mix_poll_cb));
  CHECK_EQ(write(mix_sv[1], "x", 1), 1);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(mix_fs_done, MIX);
  CHECK_EQ(poll_calls, MIX);
  uv_close((uv_handle_t*) &mix_p, NULL);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(mix_fs_done, MIX);
  CHECK_OK(uv_loop_close(&loop));
  close(mix_fd);
  close(mix_sv[0]);
  close(mix_sv[1]);
}
