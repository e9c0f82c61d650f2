/* The ABI of libuv 1.44 on x86_64: every row of the table in
 * test/data/libuv-1.44-linux-x86_64.tsv (type sizes and alignments, public
 * field offsets and sizes, constant values) checked against our headers. */
#include "test.h"

#include <stddef.h>

struct abi_row {
  const char* kind;
  const char* name;
  long long expected;
  long long actual;
};

static const struct abi_row rows[] = {
#include "abi_rows.h"
};

TEST(table) {
  size_t i;
  size_t bad = 0;
  size_t n = sizeof(rows) / sizeof(rows[0]);

  for (i = 0; i < n; i++) {
    if (rows[i].expected != rows[i].actual) {
      printf("mismatch: %s %s: libuv %lld, nodeloop %lld\n", rows[i].kind,
             rows[i].name, rows[i].expected, rows[i].actual);
      bad++;
    }
  }
  printf("checked %zu rows of the libuv 1.44 ABI table, %zu mismatches\n", n,
         bad);
  CHECK_EQ(n, 810);
  CHECK_EQ(bad, 0);
}

/* The sizes the API reports at run time agree with the compiled ones. */
TEST(handle_and_req_sizes) {
  CHECK_EQ(uv_handle_size(UV_TIMER), sizeof(uv_timer_t));
  CHECK_EQ(uv_handle_size(UV_TCP), sizeof(uv_tcp_t));
  CHECK_EQ(uv_handle_size(UV_NAMED_PIPE), sizeof(uv_pipe_t));
  CHECK_EQ(uv_handle_size(UV_SIGNAL), sizeof(uv_signal_t));
  CHECK_EQ(uv_handle_size(UV_HANDLE), sizeof(uv_handle_t));
  CHECK_EQ(uv_handle_size(UV_FILE), (size_t) -1);
  CHECK_EQ(uv_handle_size(UV_UNKNOWN_HANDLE), (size_t) -1);
  CHECK_EQ(uv_handle_size((uv_handle_type) 1000), (size_t) -1);
  CHECK_EQ(uv_req_size(UV_FS), sizeof(uv_fs_t));
  CHECK_EQ(uv_req_size(UV_GETNAMEINFO), sizeof(uv_getnameinfo_t));
  CHECK_EQ(uv_req_size(UV_REQ), sizeof(uv_req_t));
  CHECK_EQ(uv_req_size(UV_UNKNOWN_REQ), (size_t) -1);
  CHECK_EQ(uv_req_size(UV_REQ_TYPE_MAX), (size_t) -1);
  CHECK_EQ(uv_loop_size(), sizeof(uv_loop_t));
}
