/* Idle, prepare and check handles: one call per iteration, order within a
 * phase, starts and stops from inside callbacks, liveness. */
#include "test.h"

static char trace[128];

static void note(char c) {
  size_t n = strlen(trace);
  if (n + 1 < sizeof(trace)) {
    trace[n] = c;
    trace[n + 1] = '\0';
  }
}

static uv_idle_t idles[3];
static int idle_calls;

static void idle_cb(uv_idle_t* h) {
  note((char) ('0' + (h - idles)));
  if (++idle_calls == 6) {
    uv_idle_stop(&idles[0]);
    uv_idle_stop(&idles[1]);
    uv_idle_stop(&idles[2]);
  }
}

/* Most recently started first, every iteration. */
TEST(idle_order_and_repeat) {
  uv_loop_t loop;
  int i;

  trace[0] = '\0';
  idle_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 3; i++) {
    CHECK_OK(uv_idle_init(&loop, &idles[i]));
    CHECK_OK(uv_idle_start(&idles[i], idle_cb));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_STREQ(trace, "210210");
  nl_test_close_loop(&loop);
}

/* Started from a callback of its own phase: runs next iteration.
 * Stopped from one: does not run. */
static uv_check_t c0, c1, c2;

static void wake(uv_timer_t* h) {
  (void) h;
}

static void c1_cb(uv_check_t* h) {
  note('b');
  uv_check_stop(h);
}

static void c2_cb(uv_check_t* h) {
  note('c');
  uv_check_stop(h);
}

static void c0_cb(uv_check_t* h) {
  note('a');
  if (strlen(trace) == 1) {
    CHECK_OK(uv_check_start(&c1, c1_cb));
    uv_check_stop(&c2);   /* started before c0, so it runs after c0 */
  } else {
    uv_check_stop(h);
  }
}

TEST(check_start_stop_inside_phase) {
  uv_loop_t loop;
  uv_timer_t t;

  trace[0] = '\0';
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_check_init(&loop, &c0));
  CHECK_OK(uv_check_init(&loop, &c1));
  CHECK_OK(uv_check_init(&loop, &c2));
  CHECK_OK(uv_check_start(&c2, c2_cb));
  CHECK_OK(uv_check_start(&c0, c0_cb));
  /* A timer wakes each run, so no run blocks forever. */
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, wake, 1, 1));
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_STREQ(trace, "a");
  /* c1, started last, now runs first. */
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_STREQ(trace, "aba");
  nl_test_close_loop(&loop);
}

static int prep_calls;

static void prepare_cb(uv_prepare_t* h) {
  prep_calls++;
  if (prep_calls == 3)
    uv_close((uv_handle_t*) h, NULL);
}

static void wake_timer(uv_timer_t* h) {
  (void) h;
}

TEST(prepare_once_per_iteration) {
  uv_loop_t loop;
  uv_prepare_t p;
  uv_timer_t t;

  prep_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_prepare_init(&loop, &p));
  CHECK_OK(uv_prepare_start(&p, prepare_cb));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, wake_timer, 1, 1));
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_EQ(prep_calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_EQ(prep_calls, 2);
  nl_test_close_loop(&loop);
}

/* An active idle handle keeps the loop spinning without blocking; an
 * unreferenced one does not keep it alive. */
static int spin;

static void spin_cb(uv_idle_t* h) {
  if (++spin == 100)
    uv_idle_stop(h);
}

TEST(idle_keeps_loop_alive_unless_unref) {
  uv_loop_t loop;
  uv_idle_t h;

  spin = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_idle_init(&loop, &h));
  CHECK_OK(uv_idle_start(&h, spin_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(spin, 100);
  CHECK_OK(uv_idle_start(&h, spin_cb));
  uv_unref((uv_handle_t*) &h);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(spin, 100);
  nl_test_close_loop(&loop);
}

static void other_cb(uv_idle_t* h) {
  (void) h;
}

TEST(bad_input) {
  uv_loop_t loop;
  uv_idle_t i;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_idle_init(NULL, &i), UV_EINVAL);
  CHECK_EQ(uv_idle_init(&loop, NULL), UV_EINVAL);
  CHECK_EQ(uv_prepare_init(&loop, NULL), UV_EINVAL);
  CHECK_EQ(uv_check_init(NULL, NULL), UV_EINVAL);
  CHECK_OK(uv_idle_init(&loop, &i));
  CHECK_EQ(uv_idle_start(&i, NULL), UV_EINVAL);
  CHECK_EQ(uv_idle_start(NULL, spin_cb), UV_EINVAL);
  CHECK_EQ(uv_idle_stop(NULL), UV_EINVAL);
  /* Starting an active handle changes nothing, not even the callback. */
  CHECK_OK(uv_idle_start(&i, spin_cb));
  CHECK_OK(uv_idle_start(&i, other_cb));
  CHECK(i.idle_cb == spin_cb);
  /* Wrong handle type. */
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_check_start((uv_check_t*) &t, (uv_check_cb) other_cb),
           UV_EINVAL);
  /* Closing. */
  uv_close((uv_handle_t*) &i, NULL);
  CHECK_EQ(uv_idle_start(&i, spin_cb), UV_EINVAL);
  nl_test_close_loop(&loop);
}
