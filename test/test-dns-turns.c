/* Lookups take turns with the pool's other work: a job queued behind many
 * lookups waits for one of them, not for all (src/threadpool.c, "slow
 * items"). The resolver is test/dns-fake.h's, which can hold lookups
 * inside it; the order in which work reaches the threads is logged.
 */
/* NL_TEST_THREADED */
#include "dns-fake.h"

#include <stdlib.h>
#include <string.h>

/* What started, in order: 'L' a lookup, 'J' a job. Guarded by fake.mutex. */
static char ran[8192];
static int nran;

static void ran_add_locked(char c) {
  CHECK(nran < (int) sizeof(ran) - 1);
  ran[nran++] = c;
  ran[nran] = '\0';
}

static void lookup_entered(void) {   /* fake.on_enter: fake.mutex held */
  ran_add_locked('L');
  pthread_cond_broadcast(&fake.cond);
}

static int lookups_done;
static int jobs_done;
static int cancels_done;
static int cancel_mark;   /* data of requests that are cancelled */

/* The first item of a plan is held where it runs, jobs as lookups are
 * (FAKE_HOLD), until the test lets everything go. */
static int hold_jobs;

static void job_work(uv_work_t* req) {
  (void) req;
  pthread_mutex_lock(&fake.mutex);
  ran_add_locked('J');
  pthread_cond_broadcast(&fake.cond);
  while (hold_jobs && !fake.released)
    pthread_cond_wait(&fake.cond, &fake.mutex);
  pthread_mutex_unlock(&fake.mutex);
}

static void job_done(uv_work_t* req, int status) {
  if (req->data == &cancel_mark) {
    CHECK_EQ(status, UV_ECANCELED);
    cancels_done++;
    return;
  }
  CHECK_EQ(status, 0);
  jobs_done++;
}

static void lookup_cb(uv_getaddrinfo_t* req, int status,
                      struct addrinfo* res) {
  if (req->data == &cancel_mark) {
    CHECK_EQ(status, UV_EAI_CANCELED);
    CHECK(res == NULL);
    cancels_done++;
    return;
  }
  CHECK_EQ(status, 0);
  CHECK(has_ip4(res, "127.0.0.1", 0));
  uv_freeaddrinfo(res);
  lookups_done++;
}

static const char* ran_so_far(void) {
  static char copy[sizeof(ran)];
  pthread_mutex_lock(&fake.mutex);
  memcpy(copy, ran, sizeof(ran));
  pthread_mutex_unlock(&fake.mutex);
  return copy;
}

/* Starts the first item of `plan` ('L' lookup, 'J' job, 'c' cancel of
 * the lookup before) and waits until it is held inside it, submits the
 * rest, lets everything go and runs the loop to its end. One thread. */
static void run_plan(const char* plan) {
  uv_getaddrinfo_t lookups[16];
  uv_work_t jobs[16];
  uv_loop_t loop;
  int nl = 0;
  int nj = 0;
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "1", 1));
  CHECK_OK(uv_loop_init(&loop));
  fake.on_enter = lookup_entered;
  fake_set(FAKE_HOLD, 0, 0);
  hold_jobs = 1;
  for (i = 0; plan[i] != '\0'; i++) {
    if (plan[i] == 'L') {
      CHECK(nl < 16);
      lookups[nl].data = NULL;
      CHECK_OK(uv_getaddrinfo(&loop, &lookups[nl], lookup_cb, "127.0.0.1",
                              NULL, NULL));
      nl++;
    } else if (plan[i] == 'J') {
      CHECK(nj < 16);
      jobs[nj].data = NULL;
      CHECK_OK(uv_queue_work(&loop, &jobs[nj], job_work, job_done));
      nj++;
    } else {
      CHECK(plan[i] == 'c' && nl > 0);
      lookups[nl - 1].data = &cancel_mark;
      CHECK_OK(uv_cancel((uv_req_t*) &lookups[nl - 1]));
    }
    /* The first item is on the pool's one thread before the rest come. */
    if (i == 0)
      CHECK(fake_wait_for(&nran, 1));
  }
  fake_release();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  /* Nothing more runs once the loop is drained. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(lookups_done + cancels_done, nl);
  CHECK_EQ(jobs_done, nj);
  CHECK_EQ(fake.max_active, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* Four lookups, the first held, then two jobs. The jobs wait for the
 * second lookup, not for all three: the pool gives lookups one turn at a
 * time. A queue taken strictly in order gives LLLLJJ. libuv 1.44 runs
 * each plan of this file in the order asserted. */
TEST(job_waits_for_one_lookup_not_all) {
  run_plan("LLLLJJ");
  CHECK_STREQ(ran_so_far(), "LLJJLL");
  CHECK_EQ(cancels_done, 0);
}

/* After each lookup, the turn goes behind whatever was queued meanwhile,
 * in the order it came. */
TEST(turn_goes_to_the_back_each_time) {
  run_plan("LJLJLJ");
  CHECK_STREQ(ran_so_far(), "LJLJJL");
}

/* A job first: the lookups' turn comes after it, and the jobs queued
 * behind the lookups run before the second lookup. */
TEST(jobs_and_lookups_interleave) {
  run_plan("JLLJJ");
  CHECK_STREQ(ran_so_far(), "JLJJL");
}

/* The only waiting lookup is cancelled: its turn, already queued, finds
 * nothing to run, and the job behind it runs all the same. */
TEST(turn_of_a_cancelled_lookup_is_dropped) {
  run_plan("LLJc");
  CHECK_STREQ(ran_so_far(), "LJ");
  CHECK_EQ(cancels_done, 1);
}

/* Thousands of lookups and jobs, in a random mix, a random third of them
 * cancelled at once, on a pool of four threads (two for lookups): each
 * callback runs once, never more than two lookups at once, and the loop
 * ends. The turn's bookkeeping races every thread's take and end. */
#define STRESS_ITEMS 3000

TEST(turns_lose_no_item_stress) {
  static uv_getaddrinfo_t lookups[STRESS_ITEMS];
  static uv_work_t jobs[STRESS_ITEMS];
  uv_loop_t loop;
  unsigned int seed = 12345;
  int nl = 0;
  int nj = 0;
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  CHECK_OK(uv_loop_init(&loop));
  fake_set(FAKE_PASS, 0, 0);
  for (i = 0; i < STRESS_ITEMS; i++) {
    seed = seed * 1103515245u + 12345u;
    if ((seed >> 16) % 2 == 0) {
      lookups[nl].data = NULL;
      CHECK_OK(uv_getaddrinfo(&loop, &lookups[nl], lookup_cb, "127.0.0.1",
                              NULL, NULL));
      if ((seed >> 20) % 3 == 0 &&
          uv_cancel((uv_req_t*) &lookups[nl]) == 0)
        lookups[nl].data = &cancel_mark;
      nl++;
    } else {
      jobs[nj].data = NULL;
      CHECK_OK(uv_queue_work(&loop, &jobs[nj], job_work, job_done));
      if ((seed >> 20) % 3 == 0 && uv_cancel((uv_req_t*) &jobs[nj]) == 0)
        jobs[nj].data = &cancel_mark;
      nj++;
    }
    /* Now and then let callbacks run, so that submissions meet workers
     * taking and ending items. */
    if (i % 64 == 63)
      CHECK(uv_run(&loop, UV_RUN_NOWAIT) >= 0);
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(lookups_done + jobs_done + cancels_done, nl + nj);
  CHECK(cancels_done > 0);
  CHECK(lookups_done > 0 && jobs_done > 0);
  pthread_mutex_lock(&fake.mutex);
  CHECK(fake.max_active <= 2);
  CHECK_EQ(fake.calls, lookups_done);
  pthread_mutex_unlock(&fake.mutex);
  CHECK_OK(uv_loop_close(&loop));
}

/* Two threads, so at most one lookup at a time. A worker that reaches the
 * lookups' turn while that one runs moves the turn to the tail and takes
 * the job behind it, as libuv does: the job queued after the turn then
 * starts before the waiting lookup. Jobs here are held one by one. */
static int gated_started;
static int gated_released;

static void gated_job_work(uv_work_t* req) {
  int index;

  (void) req;
  pthread_mutex_lock(&fake.mutex);
  index = gated_started++;
  ran_add_locked('J');
  pthread_cond_broadcast(&fake.cond);
  while (index >= gated_released)
    pthread_cond_wait(&fake.cond, &fake.mutex);
  pthread_mutex_unlock(&fake.mutex);
}

static void release_jobs(int n) {
  pthread_mutex_lock(&fake.mutex);
  gated_released = n;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.mutex);
}

TEST(held_back_turn_moves_to_the_back) {
  uv_getaddrinfo_t lookups[2];
  uv_work_t jobs[3];
  uv_loop_t loop;
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "2", 1));
  CHECK_OK(uv_loop_init(&loop));
  fake.on_enter = lookup_entered;
  fake_set(FAKE_HOLD, 0, 0);
  for (i = 0; i < 2; i++)
    lookups[i].data = NULL;
  for (i = 0; i < 3; i++)
    jobs[i].data = NULL;
  /* One thread holds the first lookup, the other the first job. */
  CHECK_OK(uv_getaddrinfo(&loop, &lookups[0], lookup_cb, "127.0.0.1", NULL,
                          NULL));
  CHECK(fake_wait_for(&fake.held, 1));
  CHECK_OK(uv_queue_work(&loop, &jobs[0], gated_job_work, job_done));
  CHECK(fake_wait_for(&gated_started, 1));
  /* Queued: the second lookup's turn, then two jobs. */
  CHECK_OK(uv_getaddrinfo(&loop, &lookups[1], lookup_cb, "127.0.0.1", NULL,
                          NULL));
  CHECK_OK(uv_queue_work(&loop, &jobs[1], gated_job_work, job_done));
  CHECK_OK(uv_queue_work(&loop, &jobs[2], gated_job_work, job_done));
  /* The job's thread meets the turn while the lookup runs: the turn goes
   * behind the last job, and the thread takes the second job. */
  release_jobs(1);
  CHECK(fake_wait_for(&gated_started, 2));
  /* The lookup's thread, free now, finds the third job first. */
  fake_release();
  CHECK(fake_wait_for(&nran, 4));
  CHECK_STREQ(ran_so_far(), "LJJJ");
  release_jobs(3);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_STREQ(ran_so_far(), "LJJJL");
  CHECK_EQ(lookups_done, 2);
  CHECK_EQ(jobs_done, 3);
  CHECK_EQ(fake.max_active, 1);
  CHECK_OK(uv_loop_close(&loop));
}
