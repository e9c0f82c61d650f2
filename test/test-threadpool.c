/* The worker pool: work runs off the loop thread, after callbacks run on
 * it, cancellation, many loops sharing the pool, its size, and fork. */
/* NL_TEST_THREADED */
#include "test.h"

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
  char line[256];
  int threads = -1;
  FILE* f = fopen("/proc/self/status", "r");

  CHECK(f != NULL);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "Threads: %d", &threads) == 1)
      break;
  fclose(f);
  return threads;
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
