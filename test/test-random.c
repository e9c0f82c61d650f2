/* uv_random(), synchronous and on the worker pool. The library calls
 * libc's getrandom(); this file defines its own getrandom(), which the
 * dynamic linker binds the library to, so that tests can make it fail,
 * return short or be interrupted. By default it passes straight through
 * to the kernel. */
/* NL_TEST_THREADED */
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

/* ---------------------------------------------------------------------
 * The asynchronous form: the bytes are drawn on a pool thread, the
 * callback runs on the loop's.
 */
static uv_thread_t loop_thread;
static int cb_calls;
static int expect_status;
static int expect_active; /* requests still registered in the callback */
static unsigned char async_buf[256];

static void async_cb(uv_random_t* req, int status, void* buf,
                     size_t buflen) {
  uv_thread_t self = uv_thread_self();

  CHECK(uv_thread_equal(&self, &loop_thread));
  CHECK_EQ(status, expect_status);
  CHECK(req->data == &cb_calls);
  /* Unregistered before the callback runs. */
  CHECK_EQ(req->loop->active_reqs.count, expect_active);
  if (buflen > 0) {
    CHECK(buf == async_buf);
    CHECK_EQ(buflen, sizeof(async_buf));
  } else {
    CHECK(buf == NULL);
  }
  cb_calls++;
}

TEST(random_async_fills) {
  uv_loop_t loop;
  uv_random_t req;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  req.data = &cb_calls;
  CHECK_OK(uv_random(&loop, &req, async_buf, sizeof(async_buf), 0,
                     async_cb));
  CHECK_EQ(req.type, UV_RANDOM);
  CHECK(req.loop == &loop);
  /* Later, from the loop; meanwhile the request keeps it alive. */
  CHECK_EQ(cb_calls, 0);
  CHECK_EQ(loop.active_reqs.count, 1);
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK(fake_calls >= 1);
  /* 2^-2048 chance of a false failure. */
  CHECK(!all_zero(async_buf, sizeof(async_buf)));
  /* Done requests cannot be cancelled. */
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(random_async_empty) {
  uv_loop_t loop;
  uv_random_t req;

  /* Nothing to draw, but the callback still comes later, from the loop. */
  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  req.data = &cb_calls;
  CHECK_OK(uv_random(&loop, &req, NULL, 0, 0, async_cb));
  CHECK_EQ(cb_calls, 0);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(random_async_arguments) {
  uv_loop_t loop;
  uv_random_t req;
  unsigned char buf[32];

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_random(NULL, &req, buf, sizeof(buf), 0, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(uv_random(&loop, NULL, buf, sizeof(buf), 0, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(uv_random(&loop, &req, buf, sizeof(buf), 7, never_called_cb),
           UV_EINVAL);
  CHECK_EQ(uv_random(&loop, &req, NULL, 1, 0, never_called_cb), UV_EINVAL);
  CHECK_EQ(uv_random(&loop, &req, buf, (size_t) 0x80000000u, 0,
                     never_called_cb),
           UV_E2BIG);
  /* As in libuv, too large wins over bad flags, with a callback too. */
  CHECK_EQ(uv_random(&loop, &req, buf, (size_t) -1, (unsigned) -1,
                     never_called_cb),
           UV_E2BIG);
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(fake_calls, 0);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(random_async_error) {
  uv_loop_t loop;
  uv_random_t req;

  loop_thread = uv_thread_self();
  fake_mode = FAKE_EFAULT;
  expect_status = UV_EFAULT;
  CHECK_OK(uv_loop_init(&loop));
  req.data = &cb_calls;
  CHECK_OK(uv_random(&loop, &req, async_buf, sizeof(async_buf), 0,
                     async_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(fake_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* With every pool thread busy, a queued request can be cancelled: its
 * callback gets UV_ECANCELED and the buffer is left alone. */
#define POOL 4
static uv_sem_t blocker_started;
static uv_sem_t blocker_release;

static void blocker_work(uv_work_t* req) {
  (void) req;
  uv_sem_post(&blocker_started);
  uv_sem_wait(&blocker_release);
}

static void blocker_done(uv_work_t* req, int status) {
  (void) req;
  CHECK_EQ(status, 0);
}

TEST(random_async_cancel) {
  uv_loop_t loop;
  uv_random_t req;
  uv_work_t blockers[POOL];
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  loop_thread = uv_thread_self();
  CHECK_OK(uv_sem_init(&blocker_started, 0));
  CHECK_OK(uv_sem_init(&blocker_release, 0));
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < POOL; i++)
    CHECK_OK(uv_queue_work(&loop, &blockers[i], blocker_work, blocker_done));
  for (i = 0; i < POOL; i++)
    uv_sem_wait(&blocker_started);

  memset(async_buf, 0, sizeof(async_buf));
  req.data = &cb_calls;
  expect_status = UV_ECANCELED;
  /* The cancelled request completes first, while the blockers' after
   * callbacks are still to come. */
  expect_active = POOL;
  CHECK_OK(uv_random(&loop, &req, async_buf, sizeof(async_buf), 0,
                     async_cb));
  CHECK_OK(uv_cancel((uv_req_t*) &req));
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  CHECK_EQ(cb_calls, 0);
  for (i = 0; i < POOL; i++)
    uv_sem_post(&blocker_release);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(fake_calls, 0);
  CHECK(all_zero(async_buf, sizeof(async_buf)));
  CHECK_EQ(loop.active_reqs.count, 0);
  CHECK_OK(uv_loop_close(&loop));
  uv_sem_destroy(&blocker_started);
  uv_sem_destroy(&blocker_release);
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

/* A request still in flight is refused and left as it is. */
TEST(random_async_in_flight_is_refused) {
  uv_loop_t loop;
  uv_random_t req;
  unsigned char other[8];

  loop_thread = uv_thread_self();
  cb_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  req.data = &cb_calls;
  expect_status = 0;
  expect_active = 0;
  CHECK_OK(uv_random(&loop, &req, async_buf, sizeof(async_buf), 0,
                     async_cb));
  CHECK_EQ(uv_random(&loop, &req, other, sizeof(other), 0, async_cb),
           UV_EBUSY);
  CHECK(req.buf == async_buf);
  CHECK_EQ(loop.active_reqs.count, 1);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(uv_random(&loop, &req, async_buf, sizeof(async_buf), 0,
                     async_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 2);
  CHECK_OK(uv_loop_close(&loop));
}
