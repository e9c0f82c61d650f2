/* The order of the loop's phases, as Node.js documents it:
 * timers -> pending -> idle -> prepare -> poll -> check -> close. */
#include "test.h"

static char trace[256];

static void note(const char* what) {
  strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
}

static uv_timer_t timer;
static uv_idle_t idle;
static uv_prepare_t prepare;
static uv_check_t check;
static uv_async_t async;

static void timer_cb(uv_timer_t* h) {
  (void) h;
  note("T");
}

static void idle_cb(uv_idle_t* h) {
  note("I");
  uv_idle_stop(h);
}

static void prepare_cb(uv_prepare_t* h) {
  note("P");
  uv_prepare_stop(h);
}

static void check_cb(uv_check_t* h) {
  note("C");
  uv_check_stop(h);
}

static void close_cb(uv_handle_t* h) {
  (void) h;
  note("X");
}

static void async_cb(uv_async_t* h) {
  note("A");
  uv_close((uv_handle_t*) h, close_cb);
}

/* One iteration with a due timer, an idle, a prepare, an async (run by
 * the poll phase), a check and a close shows every phase in order. */
TEST(one_iteration_order) {
  uv_loop_t loop;

  trace[0] = '\0';
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, timer_cb, 0, 0));
  CHECK_OK(uv_idle_init(&loop, &idle));
  CHECK_OK(uv_idle_start(&idle, idle_cb));
  CHECK_OK(uv_prepare_init(&loop, &prepare));
  CHECK_OK(uv_prepare_start(&prepare, prepare_cb));
  CHECK_OK(uv_check_init(&loop, &check));
  CHECK_OK(uv_check_start(&check, check_cb));
  CHECK_OK(uv_async_init(&loop, &async, async_cb));
  CHECK_OK(uv_async_send(&async));

  uv_update_time(&loop);
  /* Everything stopped or closed itself: the loop is no longer alive. */
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_STREQ(trace, "TIPACX");
  nl_test_close_loop(&loop);
}

/* Inside a callback of the poll phase, an immediate (check) scheduled
 * together with a 0 ms timer always runs first: the loop goes on to the
 * check phase before it comes back to the timers. */
static uv_timer_t io_timer;
static uv_check_t io_check;

static void io_timer_cb(uv_timer_t* h) {
  note("timer;");
  uv_close((uv_handle_t*) h, NULL);
}

static void io_check_cb(uv_check_t* h) {
  note("immediate;");
  uv_close((uv_handle_t*) h, NULL);
}

static void io_async_cb(uv_async_t* h) {
  CHECK_OK(uv_timer_start(&io_timer, io_timer_cb, 0, 0));
  CHECK_OK(uv_check_start(&io_check, io_check_cb));
  uv_close((uv_handle_t*) h, NULL);
}

TEST(immediate_before_timer_in_io_callback) {
  uv_loop_t loop;
  int i;

  /* Repeat: the rule must not depend on timing. */
  for (i = 0; i < 50; i++) {
    trace[0] = '\0';
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uv_timer_init(&loop, &io_timer));
    CHECK_OK(uv_check_init(&loop, &io_check));
    CHECK_OK(uv_async_init(&loop, &async, io_async_cb));
    CHECK_OK(uv_async_send(&async));
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_STREQ(trace, "immediate;timer;");
    CHECK_OK(uv_loop_close(&loop));
  }
}

/* Close callbacks never run inside uv_close(); they run in the close
 * phase, after check. */
static int closed;

static void count_close(uv_handle_t* h) {
  (void) h;
  closed++;
}

static void check_then_close_cb(uv_check_t* h) {
  note("C");
  uv_close((uv_handle_t*) h, count_close);
  CHECK_EQ(closed, 0);
}

TEST(close_callbacks_in_close_phase) {
  uv_loop_t loop;

  trace[0] = '\0';
  closed = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_check_init(&loop, &check));
  CHECK_OK(uv_check_start(&check, check_then_close_cb));
  CHECK_OK(uv_idle_init(&loop, &idle));
  CHECK_OK(uv_idle_start(&idle, idle_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_STREQ(trace, "IC");
  CHECK_EQ(closed, 1);
  nl_test_close_loop(&loop);
}

/* With UV_RUN_ONCE, a poll that times out still runs the timer it
 * waited for before uv_run returns. */
static int once_fired;

static void once_timer_cb(uv_timer_t* h) {
  (void) h;
  once_fired++;
}

TEST(run_once_runs_timer_it_waited_for) {
  uv_loop_t loop;

  once_fired = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, once_timer_cb, 20, 0));
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_EQ(once_fired, 1);
  nl_test_close_loop(&loop);
}
