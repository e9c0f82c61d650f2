/* Error codes: names and messages, the _r variants, errno translation, and
 * the strings for codes libuv does not know, which stay valid for good. */
/* NL_TEST_THREADED */
#include "test.h"

#include <errno.h>

TEST(known_names_and_messages) {
  char buf[64];

  CHECK_STREQ(uv_err_name(UV_EOF), "EOF");
  CHECK_STREQ(uv_strerror(UV_EOF), "end of file");
  CHECK_STREQ(uv_err_name(UV_ENOENT), "ENOENT");
  CHECK_STREQ(uv_strerror(UV_ENOENT), "no such file or directory");
  CHECK_STREQ(uv_err_name(UV_EAI_CANCELED), "EAI_CANCELED");
  CHECK(uv_err_name_r(UV_EBUSY, buf, sizeof(buf)) == buf);
  CHECK_STREQ(buf, "EBUSY");
  CHECK(uv_strerror_r(UV_EBUSY, buf, sizeof(buf)) == buf);
  CHECK_STREQ(buf, "resource busy or locked");
  /* Truncated to the buffer, always terminated. */
  uv_strerror_r(UV_EBUSY, buf, 5);
  CHECK_STREQ(buf, "reso");
  CHECK_EQ(uv_translate_sys_error(ENOENT), UV_ENOENT);
  CHECK_EQ(uv_translate_sys_error(UV_ENOENT), UV_ENOENT);
}

/* libuv documents that the string for an unknown code "leaks": it stays
 * valid however many other calls follow. One string per code: asking
 * again gives the same one, so memory does not grow with the calls. */
TEST(unknown_codes_stay_valid) {
  const char* name = uv_err_name(-9999);
  const char* msg = uv_strerror(-9999);
  char buf[64];
  int i;

  CHECK_STREQ(name, "Unknown system error -9999");
  CHECK_STREQ(msg, "Unknown system error -9999");
  for (i = 0; i < 100; i++) {
    CHECK_STREQ(uv_err_name(-10000 - i), uv_strerror(-10000 - i));
    CHECK(uv_strerror(-20000 - i) != msg);
  }
  CHECK_STREQ(name, "Unknown system error -9999");
  CHECK_STREQ(msg, "Unknown system error -9999");
  CHECK(uv_err_name(-9999) == name);
  CHECK(uv_strerror(-9999) == msg);
  CHECK_STREQ(uv_strerror(1), "Unknown system error 1");
  CHECK_STREQ(uv_strerror(-2147483647 - 1),
              "Unknown system error -2147483648");
  uv_err_name_r(-9999, buf, sizeof(buf));
  CHECK_STREQ(buf, "Unknown system error -9999");
}

/* Threads asking for the same new codes at once all get one string per
 * code. */
#define ERR_THREADS 4
#define ERR_CODES 200

static const char* seen[ERR_THREADS][ERR_CODES];

static void ask_codes(void* arg) {
  const char** out = arg;
  int i;
  for (i = 0; i < ERR_CODES; i++)
    out[i] = uv_strerror(-30000 - i);
}

TEST(unknown_codes_from_many_threads) {
  uv_thread_t t[ERR_THREADS];
  char want[64];
  int i;
  int j;

  for (i = 0; i < ERR_THREADS; i++)
    CHECK_OK(uv_thread_create(&t[i], ask_codes, seen[i]));
  for (i = 0; i < ERR_THREADS; i++)
    CHECK_OK(uv_thread_join(&t[i]));
  for (j = 0; j < ERR_CODES; j++) {
    snprintf(want, sizeof(want), "Unknown system error %d", -30000 - j);
    CHECK_STREQ(seen[0][j], want);
    for (i = 1; i < ERR_THREADS; i++)
      CHECK(seen[i][j] == seen[0][j]);
    CHECK(uv_err_name(-30000 - j) == seen[0][j]);
  }
}
