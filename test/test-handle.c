/* What all handles share: close semantics, references, accessors, walk. */
#include "test.h"

static int close_calls;
static uv_handle_t* close_order[8];

static void close_cb(uv_handle_t* h) {
  close_order[close_calls++] = h;
}

/* Close callbacks run in the close phase, newest first, as in libuv. */
TEST(close_runs_callback_later_newest_first) {
  uv_loop_t loop;
  uv_timer_t a;
  uv_idle_t b;
  uv_check_t c;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &a));
  CHECK_OK(uv_idle_init(&loop, &b));
  CHECK_OK(uv_check_init(&loop, &c));
  uv_close((uv_handle_t*) &b, close_cb);
  uv_close((uv_handle_t*) &a, close_cb);
  uv_close((uv_handle_t*) &c, close_cb);
  CHECK_EQ(close_calls, 0);
  CHECK(uv_is_closing((uv_handle_t*) &a));
  /* A closing handle keeps the loop alive until its callback ran. */
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 3);
  CHECK(close_order[0] == (uv_handle_t*) &c);
  CHECK(close_order[1] == (uv_handle_t*) &a);
  CHECK(close_order[2] == (uv_handle_t*) &b);
  CHECK_OK(uv_loop_close(&loop));
}

static void noop_timer(uv_timer_t* h) {
  (void) h;
}

TEST(close_stops_active_handle) {
  uv_loop_t loop;
  uv_timer_t t;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 1000000, 0));
  CHECK(uv_is_active((uv_handle_t*) &t));
  uv_close((uv_handle_t*) &t, close_cb);
  CHECK(!uv_is_active((uv_handle_t*) &t));
  CHECK_EQ(loop.active_handles, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(double_close_is_ignored) {
  uv_loop_t loop;
  uv_timer_t t;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  uv_close((uv_handle_t*) &t, close_cb);
  uv_close((uv_handle_t*) &t, close_cb);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  uv_close(NULL, close_cb);
  CHECK_OK(uv_loop_close(&loop));
}

static void close_another(uv_handle_t* h) {
  close_calls++;
  if (h->data != NULL)
    uv_close((uv_handle_t*) h->data, close_cb);
}

TEST(close_from_close_callback_runs_next_iteration) {
  uv_loop_t loop;
  uv_timer_t a;
  uv_timer_t b;

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &a));
  CHECK_OK(uv_timer_init(&loop, &b));
  a.data = &b;
  uv_close((uv_handle_t*) &a, close_another);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 0);
  CHECK_EQ(close_calls, 2);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(ref_unref) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK(uv_has_ref((uv_handle_t*) &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 1000, 0));
  CHECK_EQ(loop.active_handles, 1);
  uv_unref((uv_handle_t*) &t);
  uv_unref((uv_handle_t*) &t);   /* idempotent */
  CHECK(!uv_has_ref((uv_handle_t*) &t));
  CHECK_EQ(loop.active_handles, 0);
  CHECK(!uv_loop_alive(&loop));
  uv_ref((uv_handle_t*) &t);
  uv_ref((uv_handle_t*) &t);
  CHECK_EQ(loop.active_handles, 1);
  CHECK_OK(uv_timer_stop(&t));
  CHECK_EQ(loop.active_handles, 0);
  /* Unreferenced while stopped, then started: still not counted. */
  uv_unref((uv_handle_t*) &t);
  CHECK_OK(uv_timer_start(&t, noop_timer, 1000, 0));
  CHECK_EQ(loop.active_handles, 0);
  CHECK_EQ(uv_has_ref(NULL), 0);
  uv_ref(NULL);
  uv_unref(NULL);
  nl_test_close_loop(&loop);
}

TEST(accessors) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_fs_t req;
  uv_os_fd_t fd;
  int x;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &t), UV_TIMER);
  CHECK(uv_handle_get_loop((uv_handle_t*) &t) == &loop);
  uv_handle_set_data((uv_handle_t*) &t, &x);
  CHECK(uv_handle_get_data((uv_handle_t*) &t) == &x);
  CHECK(t.data == &x);
  uv_loop_set_data(&loop, &x);
  CHECK(uv_loop_get_data(&loop) == &x);
  req.type = UV_FS;
  uv_req_set_data((uv_req_t*) &req, &x);
  CHECK(uv_req_get_data((uv_req_t*) &req) == &x);
  CHECK_EQ(uv_req_get_type((uv_req_t*) &req), UV_FS);
  /* Timers have no descriptor. */
  CHECK_EQ(uv_fileno((uv_handle_t*) &t, &fd), UV_EINVAL);
  CHECK_EQ(uv_fileno(NULL, &fd), UV_EINVAL);
  CHECK_EQ(uv_is_active(NULL), 0);
  CHECK_EQ(uv_is_closing(NULL), 0);
  CHECK(uv_handle_get_loop(NULL) == NULL);
  nl_test_close_loop(&loop);
}

static int walked;

static void walk_cb(uv_handle_t* h, void* arg) {
  CHECK(arg == (void*) &walked);
  walked++;
  /* Closing from the walk callback is allowed. */
  if (h->type == UV_IDLE)
    uv_close(h, NULL);
}

TEST(walk_sees_every_handle) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t i;
  uv_check_t c;

  walked = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_idle_init(&loop, &i));
  CHECK_OK(uv_check_init(&loop, &c));
  uv_walk(&loop, walk_cb, &walked);
  CHECK_EQ(walked, 3);
  CHECK(uv_is_closing((uv_handle_t*) &i));
  uv_walk(&loop, NULL, NULL);
  uv_walk(NULL, walk_cb, NULL);
  nl_test_close_loop(&loop);
}

TEST(print_handles) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t i;
  char buf[512];
  FILE* f;
  size_t n;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_timer, 1000, 0));
  CHECK_OK(uv_idle_init(&loop, &i));
  uv_unref((uv_handle_t*) &i);
  f = tmpfile();
  CHECK(f != NULL);
  uv_print_all_handles(&loop, f);
  uv_print_active_handles(&loop, f);
  rewind(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  /* all: the timer (referenced, active) and the idle (neither); active:
   * the timer again. */
  CHECK(strstr(buf, "[RA-] timer") != NULL);
  CHECK(strstr(buf, "[---] idle") != NULL);
  CHECK(strstr(strstr(buf, "[---] idle"), "[RA-] timer") != NULL);
  nl_test_close_loop(&loop);
}
