/* nodeloop's own extensions (nodeloop.h). */
#include "test.h"
#include "nodeloop.h"

static const char* seen[8];
static int nseen;

static void record(const uv_loop_t* loop) {
  seen[nseen++] = nl_loop_phase(loop);
}

static void timer_cb(uv_timer_t* h) {
  record(h->loop);
}

static void idle_cb(uv_idle_t* h) {
  record(h->loop);
  uv_idle_stop(h);
}

static void prepare_cb(uv_prepare_t* h) {
  record(h->loop);
  uv_prepare_stop(h);
}

static void check_cb(uv_check_t* h) {
  record(h->loop);
  uv_check_stop(h);
}

static void close_cb(uv_handle_t* h) {
  record(h->loop);
}

static void async_cb(uv_async_t* h) {
  record(h->loop);
  uv_close((uv_handle_t*) h, close_cb);
}

TEST(phase_names_inside_callbacks) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t i;
  uv_prepare_t p;
  uv_check_t c;
  uv_async_t a;

  nseen = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_STREQ(nl_loop_phase(&loop), "none");
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, timer_cb, 0, 0));
  CHECK_OK(uv_idle_init(&loop, &i));
  CHECK_OK(uv_idle_start(&i, idle_cb));
  CHECK_OK(uv_prepare_init(&loop, &p));
  CHECK_OK(uv_prepare_start(&p, prepare_cb));
  CHECK_OK(uv_check_init(&loop, &c));
  CHECK_OK(uv_check_start(&c, check_cb));
  CHECK_OK(uv_async_init(&loop, &a, async_cb));
  CHECK_OK(uv_async_send(&a));
  CHECK_EQ(nl_loop_iterations(&loop), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_EQ(nseen, 6);
  CHECK_STREQ(seen[0], "timers");
  CHECK_STREQ(seen[1], "idle");
  CHECK_STREQ(seen[2], "prepare");
  CHECK_STREQ(seen[3], "poll");
  CHECK_STREQ(seen[4], "check");
  CHECK_STREQ(seen[5], "close");
  CHECK_STREQ(nl_loop_phase(&loop), "none");
  CHECK_EQ(nl_loop_iterations(&loop), 1);
  CHECK_STREQ(nl_loop_phase(NULL), "none");
  CHECK_EQ(nl_loop_iterations(NULL), 0);
  nl_test_close_loop(&loop);
}

TEST(versions) {
  CHECK_STREQ(uv_version_string(), "1.44.2");
  CHECK_EQ(uv_version(), 0x012c02);
  CHECK_STREQ(nl_version_string(), "0.1.0");
}
