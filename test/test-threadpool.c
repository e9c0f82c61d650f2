/* The worker pool: work runs off the loop thread, after callbacks run on
 * it, cancellation, many loops sharing the pool, its size, and fork. */
/* NL_TEST_THREADED */
#include "test.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_thread_t loop_thread;
static int work_calls;
static int after_calls;

static void work_cb(uv_work_t* req) {
  uv_thread_t self = uv_thread_self();
  CHECK(!uv_thread_equal(&self, &loop_thread));
  __atomic_add_fetch(&work_calls, 1, __ATOMIC_RELAXED);
  (void) req;
}

static void after_cb(uv_work_t* req, int status) {
  uv_thread_t self = uv_thread_self();
  CHECK_EQ(status, 0);
  CHECK(uv_thread_equal(&self, &loop_thread));
  CHECK_EQ(req->type, UV_WORK);
  after_calls++;
}

TEST(work_off_loop_after_on_loop) {
  uv_loop_t loop;
  uv_work_t reqs[64];
  int i;

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 64; i++)
    CHECK_OK(uv_queue_work(&loop, &reqs[i], work_cb, after_cb));
  /* Requests in flight keep the loop alive. */
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(work_calls, 64);
  CHECK_EQ(after_calls, 64);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(null_after_callback_is_allowed) {
  uv_loop_t loop;
  uv_work_t req;

  loop_thread = uv_thread_self();
  work_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_queue_work(&loop, &req, work_cb, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(work_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(bad_input) {
  uv_loop_t loop;
  uv_work_t req;
  uv_connect_t conn;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_queue_work(NULL, &req, work_cb, after_cb), UV_EINVAL);
  CHECK_EQ(uv_queue_work(&loop, NULL, work_cb, after_cb), UV_EINVAL);
  CHECK_EQ(uv_queue_work(&loop, &req, NULL, after_cb), UV_EINVAL);
  CHECK_EQ(uv_cancel(NULL), UV_EINVAL);
  /* Not a request type the pool runs. */
  CHECK_OK(uv_timer_init(&loop, &t));
  memset(&conn, 0, sizeof(conn));
  conn.type = UV_CONNECT;
  CHECK_EQ(uv_cancel((uv_req_t*) &conn), UV_EINVAL);
  CHECK_EQ(loop.active_reqs.count, 0);
  nl_test_close_loop(&loop);
}

/* Block every pool thread, queue more work, cancel it: the cancelled
 * requests complete with UV_ECANCELED and their work never runs; the
 * running ones cannot be cancelled. */
#define POOL 4
static uv_sem_t blocker_started;
static uv_sem_t release_blockers;
static int cancelled_after;
static int cancelled_work_ran;

static void blocker_work(uv_work_t* req) {
  (void) req;
  uv_sem_post(&blocker_started);
  uv_sem_wait(&release_blockers);
}

static void blocker_after(uv_work_t* req, int status) {
  (void) req;
  CHECK_EQ(status, 0);
  after_calls++;
}

static void never_work(uv_work_t* req) {
  (void) req;
  __atomic_add_fetch(&cancelled_work_ran, 1, __ATOMIC_RELAXED);
}

static void cancelled_cb(uv_work_t* req, int status) {
  (void) req;
  CHECK_EQ(status, UV_ECANCELED);
  cancelled_after++;
}

TEST(cancel_queued_work) {
  uv_loop_t loop;
  uv_work_t blockers[POOL];
  uv_work_t queued[8];
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  after_calls = cancelled_after = cancelled_work_ran = 0;
  CHECK_OK(uv_sem_init(&blocker_started, 0));
  CHECK_OK(uv_sem_init(&release_blockers, 0));
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < POOL; i++)
    CHECK_OK(uv_queue_work(&loop, &blockers[i], blocker_work, blocker_after));
  for (i = 0; i < POOL; i++)
    uv_sem_wait(&blocker_started);
  for (i = 0; i < 8; i++)
    CHECK_OK(uv_queue_work(&loop, &queued[i], never_work, cancelled_cb));
  for (i = 0; i < 8; i++)
    CHECK_OK(uv_cancel((uv_req_t*) &queued[i]));
  /* Twice is not possible, nor is cancelling running work. */
  CHECK_EQ(uv_cancel((uv_req_t*) &queued[0]), UV_EBUSY);
  CHECK_EQ(uv_cancel((uv_req_t*) &blockers[0]), UV_EBUSY);
  for (i = 0; i < POOL; i++)
    uv_sem_post(&release_blockers);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cancelled_after, 8);
  CHECK_EQ(after_calls, POOL);
  CHECK_EQ(cancelled_work_ran, 0);
  CHECK_OK(uv_loop_close(&loop));
  uv_sem_destroy(&blocker_started);
  uv_sem_destroy(&release_blockers);
}

/* The pool has exactly UV_THREADPOOL_SIZE threads: with one job more
 * than that, each job waits (briefly) for all the others to be running;
 * the most ever running at once is the pool's size. */
static uv_mutex_t conc_mutex;
static uv_cond_t conc_cond;
static int running;
static int max_running;
static int total_jobs;

static void concurrent_work(uv_work_t* req) {
  uint64_t deadline = uv_hrtime() + 300 * 1000000u;
  (void) req;
  uv_mutex_lock(&conc_mutex);
  running++;
  if (running > max_running)
    max_running = running;
  uv_cond_broadcast(&conc_cond);
  while (running < total_jobs && uv_hrtime() < deadline)
    uv_cond_timedwait(&conc_cond, &conc_mutex, 20 * 1000000u);
  running--;
  uv_mutex_unlock(&conc_mutex);
}

static void size_check(const char* env, int expect) {
  uv_loop_t loop;
  uv_work_t reqs[16];
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", env, 1));
  after_calls = 0;
  running = max_running = 0;
  total_jobs = expect + 1;
  CHECK_OK(uv_mutex_init(&conc_mutex));
  CHECK_OK(uv_cond_init(&conc_cond));
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < total_jobs; i++)
    CHECK_OK(uv_queue_work(&loop, &reqs[i], concurrent_work, blocker_after));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(after_calls, total_jobs);
  CHECK_EQ(max_running, expect);
  CHECK_OK(uv_loop_close(&loop));
  uv_cond_destroy(&conc_cond);
  uv_mutex_destroy(&conc_mutex);
}

TEST(size_from_environment) {
  size_check("7", 7);
}

TEST(size_defaults_to_four) {
  CHECK_OK(unsetenv("UV_THREADPOOL_SIZE"));
  size_check("", 4);
}

TEST(size_clamped_to_one) {
  size_check("0", 1);
}

static void thread_noop(void* arg) {
  (void) arg;
}

static int count_threads(void) {
  return (int) nl_test_proc_value("/proc/self/status", "Threads:");
}

TEST(size_clamped_to_1024) {
  uv_work_t req;
  uv_loop_t loop;
  int before;

  /* Counting threads through /proc keeps the test cheap; a sanitizer may
   * run threads of its own, hence the difference. */
  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "5000", 1));
  /* ThreadSanitizer starts a thread of its own with the first one the
   * program creates: let that happen before counting. */
  {
    uv_thread_t t;
    CHECK_OK(uv_thread_create(&t, thread_noop, NULL));
    CHECK_OK(uv_thread_join(&t));
  }
  before = count_threads();
  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_queue_work(&loop, &req, work_cb, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(count_threads() - before, 1024);
  CHECK_OK(uv_loop_close(&loop));
}

/* Several loops on several threads share the pool; each after callback
 * runs on its own loop's thread. */
struct per_loop {
  uv_loop_t loop;
  uv_thread_t thread;
  uv_work_t reqs[32];
  int done;
};

static void shared_after(uv_work_t* req, int status) {
  struct per_loop* p = req->data;
  CHECK_EQ(status, 0);
  CHECK(req->loop == &p->loop);
  p->done++;
}

static void noop_work(uv_work_t* req) {
  (void) req;
}

static void loop_main(void* arg) {
  struct per_loop* p = arg;
  int i;
  CHECK_OK(uv_loop_init(&p->loop));
  for (i = 0; i < 32; i++) {
    p->reqs[i].data = p;
    CHECK_OK(uv_queue_work(&p->loop, &p->reqs[i], noop_work, shared_after));
  }
  CHECK_OK(uv_run(&p->loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&p->loop));
}

TEST(many_loops_share_pool) {
  static struct per_loop loops[4];
  int i;

  for (i = 0; i < 4; i++)
    CHECK_OK(uv_thread_create(&loops[i].thread, loop_main, &loops[i]));
  for (i = 0; i < 4; i++) {
    CHECK_OK(uv_thread_join(&loops[i].thread));
    CHECK_EQ(loops[i].done, 32);
  }
}

/* After fork(), the child starts its own pool on first use. */
TEST(fork_child_uses_pool) {
  uv_loop_t loop;
  uv_work_t req;
  int status;
  pid_t pid;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  nl_test_skip("starting threads in a forked child of a threaded process "
               "can hang inside the sanitizer runtime; runs in the plain "
               "build");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  nl_test_skip("starting threads in a forked child of a threaded process "
               "can hang inside the sanitizer runtime; runs in the plain "
               "build");
#endif
#endif

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_queue_work(&loop, &req, work_cb, after_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(after_calls, 1);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (uv_loop_fork(&loop) != 0)
      _exit(2);
    if (uv_queue_work(&loop, &req, work_cb, after_cb) != 0)
      _exit(3);
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0 || after_calls != 2)
      _exit(4);
    _exit(uv_loop_close(&loop) == 0 ? 0 : 5);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_OK(uv_loop_close(&loop));
}

/* uv_library_shutdown stops the pool's threads; a second call is a
 * no-op. */
TEST(library_shutdown_joins_pool) {
  uv_loop_t loop;
  uv_work_t req;

  loop_thread = uv_thread_self();
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_queue_work(&loop, &req, work_cb, NULL));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
  uv_library_shutdown();
  uv_library_shutdown();
}

/* An allocator that always fails. Frees go to the C library, which made
 * whatever was allocated before it was installed. */
static void* failing_malloc(size_t size) {
  (void) size;
  return NULL;
}

static void* failing_realloc(void* ptr, size_t size) {
  (void) ptr;
  (void) size;
  return NULL;
}

static void* failing_calloc(size_t count, size_t size) {
  (void) count;
  (void) size;
  return NULL;
}

static void fs_after(uv_fs_t* req) {
  CHECK_OK(req->result);
  after_calls++;
  uv_fs_req_cleanup(req);
}

static void random_after(uv_random_t* req, int status, void* buf,
                         size_t len) {
  (void) req;
  (void) buf;
  (void) len;
  CHECK_OK(status);
  after_calls++;
}

/* The first use of the pool starts its threads without allocating, and
 * uv_thread_create does not depend on the allocator either: with one
 * that always fails, work, fstat and random requests still run. */
TEST(pool_starts_under_failing_allocator) {
  uv_loop_t loop;
  uv_work_t work;
  uv_fs_t fs;
  uv_random_t rnd;
  uv_thread_t t;
  char buf[16];

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  /* The loop itself allocates its watcher table on first run. */
  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_OK(uv_replace_allocator(failing_malloc, failing_realloc,
                                failing_calloc, free));
  CHECK_OK(uv_thread_create(&t, thread_noop, NULL));
  CHECK_OK(uv_thread_join(&t));
  CHECK_OK(uv_queue_work(&loop, &work, work_cb, after_cb));
  CHECK_OK(uv_fs_fstat(&loop, &fs, 0, fs_after));
  CHECK_OK(uv_random(&loop, &rnd, buf, sizeof(buf), 0, random_after));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(work_calls, 1);
  CHECK_EQ(after_calls, 3);
  CHECK_OK(uv_loop_close(&loop));
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* When no pool thread can start (here: a stack limit no mapping can
 * satisfy, so every pthread_create fails), submissions fail with the
 * error instead of aborting the process, and leave the loop as it was;
 * once threads can start, the next submission starts the pool. */
TEST(pool_start_failure_is_reported_then_retried) {
  struct rlimit old;
  struct rlimit huge;
  uv_loop_t loop;
  uv_work_t work;
  uv_fs_t fs;
  int err;

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(getrlimit(RLIMIT_STACK, &old));
  huge = old;
  huge.rlim_cur = (rlim_t) 1 << 46;
  if (huge.rlim_max != RLIM_INFINITY && huge.rlim_max < huge.rlim_cur)
    nl_test_skip("the hard stack limit is too low to force the failure");
  CHECK_OK(setrlimit(RLIMIT_STACK, &huge));
  err = uv_queue_work(&loop, &work, work_cb, after_cb);
  if (err == 0) {
    CHECK_OK(setrlimit(RLIMIT_STACK, &old));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_OK(uv_loop_close(&loop));
    nl_test_skip("this machine maps a 64 TiB stack (overcommit allowed)");
  }
  CHECK(err < 0);
  /* Nothing was registered: the loop is not kept alive. */
  CHECK_EQ(uv_loop_alive(&loop), 0);
  /* realpath: a file request that always runs on the pool (the loop's
   * io_uring does not do it). */
  CHECK_EQ(uv_fs_realpath(&loop, &fs, ".", fs_after), err);
  CHECK_EQ(fs.result, err);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(after_calls, 0);
  CHECK_OK(setrlimit(RLIMIT_STACK, &old));
  CHECK_OK(uv_queue_work(&loop, &work, work_cb, after_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(work_calls, 1);
  CHECK_EQ(after_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* A request still in flight is refused, not queued a second time (which
 * would link it into the queue twice). Once its callback has started it
 * may be used again, from the callback too. */
static int resubmit_left;

static void resubmit_after(uv_work_t* req, int status) {
  CHECK_OK(status);
  after_calls++;
  if (resubmit_left-- > 0)
    CHECK_OK(uv_queue_work(req->loop, req, work_cb, resubmit_after));
}

TEST(queue_work_refuses_request_in_flight) {
  uv_loop_t loop;
  uv_work_t req;
  int i;

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  resubmit_left = 3;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_queue_work(&loop, &req, work_cb, resubmit_after));
  for (i = 0; i < 3; i++)
    CHECK_EQ(uv_queue_work(&loop, &req, work_cb, resubmit_after), UV_EBUSY);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(work_calls, 4);
  CHECK_EQ(after_calls, 4);
  /* Completed: not in flight any more, so nothing to cancel. */
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  CHECK_OK(uv_loop_close(&loop));
}

/* Requests live in uninitialised memory in real programs: garbage in
 * them is never taken for "in flight", and uv_cancel on one that was
 * never submitted answers UV_EBUSY without touching the pool. */
TEST(garbage_request_memory_is_not_in_flight) {
  uv_loop_t loop;
  uv_work_t reqs[64];
  unsigned int seed = 12345;
  unsigned char* p = (unsigned char*) reqs;
  size_t i;

  loop_thread = uv_thread_self();
  work_calls = after_calls = 0;
  for (i = 0; i < sizeof(reqs); i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (unsigned char) (seed >> 16);
  }
  memset(&reqs[0], 0xff, sizeof(reqs[0]));
  memset(&reqs[1], 0, sizeof(reqs[1]));
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 64; i++) {
    reqs[i].type = UV_WORK;
    CHECK_EQ(uv_cancel((uv_req_t*) &reqs[i]), UV_EBUSY);
  }
  for (i = 0; i < 64; i++)
    CHECK_OK(uv_queue_work(&loop, &reqs[i], work_cb, after_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(after_calls, 64);
  CHECK_OK(uv_loop_close(&loop));
}

/* uv_cancel races with the workers taking the same items: each item
 * either runs (status 0) or is cancelled (UV_ECANCELED, work never run),
 * exactly once. Thousands of rounds, for ThreadSanitizer. */
#define CANCEL_ROUNDS 1500
#define CANCEL_BATCH 8

static int race_ran[CANCEL_BATCH];
static int race_done[CANCEL_BATCH];
static int race_cancelled;

static void race_work(uv_work_t* req) {
  __atomic_add_fetch(&race_ran[(int) (intptr_t) req->data], 1,
                     __ATOMIC_RELAXED);
}

static void race_after(uv_work_t* req, int status) {
  int i = (int) (intptr_t) req->data;
  race_done[i]++;
  if (status == UV_ECANCELED) {
    CHECK_EQ(__atomic_load_n(&race_ran[i], __ATOMIC_RELAXED), 0);
    race_cancelled++;
  } else {
    CHECK_OK(status);
    CHECK_EQ(__atomic_load_n(&race_ran[i], __ATOMIC_RELAXED), 1);
  }
}

TEST(cancel_races_with_workers) {
  uv_loop_t loop;
  uv_work_t reqs[CANCEL_BATCH];
  int round;
  int i;

  race_cancelled = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (round = 0; round < CANCEL_ROUNDS; round++) {
    for (i = 0; i < CANCEL_BATCH; i++) {
      race_ran[i] = 0;
      race_done[i] = 0;
      reqs[i].data = (void*) (intptr_t) i;
      CHECK_OK(uv_queue_work(&loop, &reqs[i], race_work, race_after));
    }
    for (i = CANCEL_BATCH - 1; i >= 0; i--) {
      int r = uv_cancel((uv_req_t*) &reqs[i]);
      CHECK(r == 0 || r == UV_EBUSY);
    }
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    for (i = 0; i < CANCEL_BATCH; i++)
      CHECK_EQ(race_done[i], 1);
  }
  /* Which outcome each item gets depends on the scheduler (on a loaded
   * machine the workers may take none, or all): not checked. */
  printf("cancelled %d of %d\n", race_cancelled, CANCEL_ROUNDS * CANCEL_BATCH);
  CHECK_OK(uv_loop_close(&loop));
}
