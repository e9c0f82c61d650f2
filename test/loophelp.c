/* Loop helpers for tests; a separate object so that tests of code without
 * a loop do not pull the loop in. */
#include "test.h"

static void close_walk_cb(uv_handle_t* h, void* arg) {
  (void) arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void nl_test_close_loop(uv_loop_t* loop) {
  uv_walk(loop, close_walk_cb, NULL);
  CHECK_EQ(uv_run(loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(uv_loop_close(loop), 0);
}
