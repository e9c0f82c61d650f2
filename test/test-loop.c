/* The loop: life cycle, run modes and their return values, stop,
 * liveness, time, backend, configuration and bad input. */
#include "test.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(init_close) {
  uv_loop_t loop;
  int marker;

  loop.data = &marker;
  CHECK_OK(uv_loop_init(&loop));
  /* libuv keeps the data pointer across init. */
  CHECK(loop.data == &marker);
  CHECK(uv_backend_fd(&loop) >= 0);
  CHECK_EQ(loop.active_handles, 0);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_EQ(loop.stop_flag, 0);
  CHECK(!uv_loop_alive(&loop));
  CHECK_OK(uv_loop_close(&loop));
  CHECK(loop.data == &marker);
  CHECK_EQ(uv_loop_init(NULL), UV_EINVAL);
  CHECK_EQ(uv_loop_close(NULL), UV_EINVAL);
}

static void noop_timer(uv_timer_t* h) {
  (void) h;
}

TEST(close_with_open_handles_is_busy) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  /* Open but inactive is still open. */
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_OK(uv_timer_start(&t, noop_timer, 10, 0));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  /* The loop still works after the refusal. */
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  nl_test_close_loop(&loop);
}

TEST(default_loop) {
  uv_loop_t* a = uv_default_loop();
  uv_loop_t* b = uv_default_loop();

  CHECK(a != NULL);
  CHECK(a == b);
  CHECK_OK(uv_loop_close(a));
  /* After close, the next call initialises it again. */
  b = uv_default_loop();
  CHECK(b != NULL);
  CHECK_OK(uv_run(b, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(b));
}

TEST(new_delete) {
  uv_loop_t* loop = uv_loop_new();
  CHECK(loop != NULL);
  CHECK_EQ(uv_run(loop, UV_RUN_NOWAIT), 0);
  uv_loop_delete(loop);
  uv_loop_delete(NULL);
  CHECK_EQ(uv_loop_size(), sizeof(uv_loop_t));
}

TEST(configure) {
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_loop_configure(&loop, UV_LOOP_BLOCK_SIGNAL, SIGPROF));
  CHECK_EQ(uv_loop_configure(&loop, UV_LOOP_BLOCK_SIGNAL, SIGINT), UV_EINVAL);
  CHECK_OK(uv_loop_configure(&loop, UV_METRICS_IDLE_TIME));
  CHECK_EQ(uv_loop_configure(&loop, (uv_loop_option) 42), UV_ENOSYS);
  CHECK_EQ(uv_loop_configure(NULL, UV_METRICS_IDLE_TIME), UV_EINVAL);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(run_on_empty_loop_returns_at_once) {
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(uv_run(&loop, (uv_run_mode) 7), UV_EINVAL);
  CHECK_EQ(uv_run(NULL, UV_RUN_DEFAULT), UV_EINVAL);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(nowait_does_not_block) {
  uv_loop_t loop;
  uv_timer_t t;
  uint64_t start;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 5000, 0));
  start = uv_hrtime();
  /* Alive afterwards: the timer is still pending. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK(uv_hrtime() - start < 1000000000u);
  nl_test_close_loop(&loop);
}

static int stop_calls;

static void stop_cb(uv_timer_t* h) {
  stop_calls++;
  uv_stop(h->loop);
}

TEST(stop_returns_with_handles_alive) {
  uv_loop_t loop;
  uv_timer_t t;

  stop_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, stop_cb, 1, 1));
  /* uv_run returns non-zero: stopped with an active handle. */
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 1);
  CHECK_EQ(stop_calls, 1);
  /* The stop was for that call only. */
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 1);
  CHECK_EQ(stop_calls, 2);
  /* A stop before run makes the next run return at once, once. */
  uv_stop(&loop);
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 1);
  CHECK_EQ(stop_calls, 2);
  uv_stop(NULL);
  nl_test_close_loop(&loop);
}

TEST(time_moves) {
  uv_loop_t loop;
  uint64_t before;

  CHECK_OK(uv_loop_init(&loop));
  before = uv_now(&loop);
  uv_sleep(20);
  /* The cached time does not move by itself. */
  CHECK_EQ(uv_now(&loop), before);
  uv_update_time(&loop);
  CHECK(uv_now(&loop) >= before + 19);
  CHECK_EQ(uv_now(NULL), 0);
  CHECK_OK(uv_loop_close(&loop));
}

static void idle_cb(uv_idle_t* h) {
  (void) h;
}

TEST(backend_timeout_rules) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t idle;
  uv_check_t check;

  CHECK_OK(uv_loop_init(&loop));
  /* Nothing active: 0. */
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  /* Only an active check handle: wait without limit. */
  CHECK_OK(uv_check_init(&loop, &check));
  CHECK_OK(uv_check_start(&check, (uv_check_cb) idle_cb));
  /* Until a run hands the loop's own watcher to the kernel, an embedder
   * must not block; after one, it may wait without limit. */
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(uv_backend_timeout(&loop), -1);
  /* A timer: the time to it. */
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 500, 0));
  CHECK(uv_backend_timeout(&loop) <= 500);
  CHECK(uv_backend_timeout(&loop) > 400);
  /* An active idle handle: 0. */
  CHECK_OK(uv_idle_init(&loop, &idle));
  CHECK_OK(uv_idle_start(&idle, idle_cb));
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  CHECK_OK(uv_idle_stop(&idle));
  /* A handle waiting for its close callback: 0. */
  uv_close((uv_handle_t*) &idle, NULL);
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  CHECK_EQ(uv_backend_timeout(NULL), 0);
  nl_test_close_loop(&loop);
}

/* The embedding pattern: wait on the backend descriptor in one place,
 * run the loop with UV_RUN_NOWAIT when it is readable. */
static void embed_timer_cb(uv_timer_t* h) {
  uv_close((uv_handle_t*) h, NULL);
}

TEST(embed_with_backend_fd) {
  uv_loop_t loop;
  uv_timer_t t;
  struct pollfd p;
  int rounds = 0;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, embed_timer_cb, 30, 0));
  while (uv_loop_alive(&loop)) {
    p.fd = uv_backend_fd(&loop);
    p.events = POLLIN;
    CHECK(poll(&p, 1, uv_backend_timeout(&loop)) >= 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(++rounds < 1000);
  }
  CHECK_OK(uv_loop_close(&loop));
}

TEST(metrics_idle_time_counts_waits) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_loop_configure(&loop, UV_METRICS_IDLE_TIME));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 50, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK(uv_metrics_idle_time(&loop) >= 40 * 1000000u);
  CHECK(uv_metrics_idle_time(&loop) < 2000 * 1000000u);
  CHECK_EQ(uv_metrics_idle_time(NULL), 0);
  nl_test_close_loop(&loop);
}

TEST(metrics_off_by_default) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 20, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(uv_metrics_idle_time(&loop), 0);
  nl_test_close_loop(&loop);
}

/* After fork(), the child re-creates its kernel objects and its loop
 * keeps working; the parent's is untouched. */
static void fork_timer_cb(uv_timer_t* h) {
  (*(int*) h->data)++;
}

TEST(fork_child_loop_runs) {
  uv_loop_t loop;
  uv_timer_t t;
  int fired = 0;
  int status;
  pid_t pid;
  int old_fd;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  t.data = &fired;
  CHECK_OK(uv_timer_start(&t, fork_timer_cb, 10, 0));
  old_fd = uv_backend_fd(&loop);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (uv_loop_fork(&loop) != 0)
      _exit(2);
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0 || fired != 1)
      _exit(3);
    _exit(0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_EQ(uv_backend_fd(&loop), old_fd);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(fired, 1);
  CHECK_EQ(uv_loop_fork(NULL), UV_EINVAL);
  nl_test_close_loop(&loop);
}
