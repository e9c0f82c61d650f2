/* uv_random(), synchronous form. The library calls libc's getrandom();
 * this file defines its own getrandom(), which the dynamic linker binds
 * the library to, so that tests can make it fail, return short or be
 * interrupted. By default it passes straight through to the kernel. */
#include "test.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

enum fake_mode { FAKE_PASS, FAKE_ENOSYS, FAKE_CHOPPY, FAKE_EFAULT };

static enum fake_mode fake_mode = FAKE_PASS;
static int fake_calls;

ssize_t getrandom(void* buf, size_t buflen, unsigned int flags) {
  fake_calls++;
  switch (fake_mode) {
    case FAKE_ENOSYS:
      errno = ENOSYS;
      return -1;
    case FAKE_EFAULT:
      errno = EFAULT;
      return -1;
    case FAKE_CHOPPY:
      /* Every other call is interrupted, the others give 7 bytes. */
      if (fake_calls % 2 == 1) {
        errno = EINTR;
        return -1;
      }
      if (buflen > 7)
        buflen = 7;
      break;
    case FAKE_PASS:
      break;
  }
  return syscall(SYS_getrandom, buf, buflen, flags);
}

static int all_zero(const unsigned char* p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

TEST(random_sync_fills) {
  unsigned char a[256];
  unsigned char b[256];

  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  CHECK_OK(uv_random(NULL, NULL, a, sizeof(a), 0, NULL));
  CHECK_OK(uv_random(NULL, NULL, b, sizeof(b), 0, NULL));
  /* 2^-2048 chance of a false failure each. */
  CHECK(!all_zero(a, sizeof(a)));
  CHECK(!all_zero(b, sizeof(b)));
  CHECK(memcmp(a, b, sizeof(a)) != 0);
  CHECK(fake_calls >= 2);

  /* The loop and request are ignored without a callback. */
  {
    uv_random_t req;
    memset(a, 0, sizeof(a));
    CHECK_OK(uv_random(NULL, &req, a, 16, 0, NULL));
    CHECK(!all_zero(a, 16));
    CHECK(all_zero(a + 16, sizeof(a) - 16));
  }
}

TEST(random_sync_large) {
  /* Kernels before 5.18 return at most 32 MiB - 1 per getrandom() call,
   * so there this takes the short-read path for real. */
  size_t len = (size_t) 40 << 20;
  unsigned char* p = calloc(1, len);

  CHECK(p != NULL);
  CHECK_OK(uv_random(NULL, NULL, p, len, 0, NULL));
  CHECK(fake_calls >= 1);
  CHECK(!all_zero(p, 64));
  CHECK(!all_zero(p + len - 64, 64));
  free(p);
}

TEST(random_sync_arguments) {
  unsigned char buf[32];

  CHECK_EQ(uv_random(NULL, NULL, buf, sizeof(buf), 1, NULL), UV_EINVAL);
  CHECK_EQ(uv_random(NULL, NULL, buf, sizeof(buf), (unsigned) -1, NULL),
           UV_EINVAL);
  /* Too large wins over bad flags, as in libuv. */
  CHECK_EQ(uv_random(NULL, NULL, buf, (size_t) -1, (unsigned) -1, NULL),
           UV_E2BIG);
  CHECK_EQ(uv_random(NULL, NULL, buf, (size_t) 0x80000000u, 0, NULL),
           UV_E2BIG);
  CHECK_EQ(uv_random(NULL, NULL, NULL, 1, 0, NULL), UV_EINVAL);
  /* Nothing asked, nothing read. */
  CHECK_OK(uv_random(NULL, NULL, NULL, 0, 0, NULL));
  CHECK_OK(uv_random(NULL, NULL, buf, 0, 0, NULL));
  CHECK_EQ(fake_calls, 0);
}

static void never_called_cb(uv_random_t* req, int status, void* buf,
                            size_t buflen) {
  (void) req;
  (void) status;
  (void) buf;
  (void) buflen;
  nl_test_fail(__FILE__, __LINE__, "random callback ran");
}

TEST(random_async_not_yet) {
  uv_loop_t loop;
  uv_random_t req;
  unsigned char buf[32];

  /* The asynchronous form needs the worker pool; until it exists the
   * call is refused outright, before the loop is looked at (this test
   * changes with the pool). */
  memset(&loop, 0, sizeof(loop));
  CHECK_EQ(uv_random(&loop, &req, buf, sizeof(buf), 0, never_called_cb),
           UV_ENOSYS);
  CHECK_EQ(uv_random(NULL, &req, buf, sizeof(buf), 0, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(uv_random(&loop, NULL, buf, sizeof(buf), 0, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(uv_random(&loop, &req, buf, sizeof(buf), 7, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(fake_calls, 0);
}

TEST(random_fallback_urandom) {
  unsigned char a[300];
  unsigned char b[300];

  /* Without getrandom(2) the bytes come from /dev/urandom, and the
   * system call is not tried again. */
  fake_mode = FAKE_ENOSYS;
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  CHECK_OK(uv_random(NULL, NULL, a, sizeof(a), 0, NULL));
  CHECK_EQ(fake_calls, 1);
  CHECK(!all_zero(a, 64));
  CHECK(!all_zero(a + sizeof(a) - 64, 64));
  CHECK_OK(uv_random(NULL, NULL, b, sizeof(b), 0, NULL));
  CHECK_EQ(fake_calls, 1);
  CHECK(memcmp(a, b, sizeof(a)) != 0);
}

TEST(random_short_and_interrupted) {
  unsigned char buf[100];

  fake_mode = FAKE_CHOPPY;
  memset(buf, 0, sizeof(buf));
  CHECK_OK(uv_random(NULL, NULL, buf, sizeof(buf), 0, NULL));
  /* 15 reads of 7 bytes, each after an EINTR. */
  CHECK_EQ(fake_calls, 30);
  CHECK(!all_zero(buf + sizeof(buf) - 32, 32));
}

TEST(random_error_reported) {
  unsigned char buf[16];

  fake_mode = FAKE_EFAULT;
  CHECK_EQ(uv_random(NULL, NULL, buf, sizeof(buf), 0, NULL), UV_EFAULT);
  CHECK_EQ(fake_calls, 1);
}
