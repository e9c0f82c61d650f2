/* Timers: order, repeat, again, restarts from callbacks, bad input, and
 * the heap (with its groups of equal due times) under random load. */
#include "test.h"

static int order[64];
static int norder;

static void record_cb(uv_timer_t* h) {
  order[norder++] = (int) (intptr_t) h->data;
}

TEST(fire_in_due_then_start_order) {
  uv_loop_t loop;
  uv_timer_t t[6];
  /* Timeouts chosen so that due times tie and interleave. */
  static const uint64_t timeout[6] = {30, 10, 30, 10, 20, 10};
  static const int expected[6] = {1, 3, 5, 4, 0, 2};
  int i;

  norder = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 6; i++) {
    CHECK_OK(uv_timer_init(&loop, &t[i]));
    t[i].data = (void*) (intptr_t) i;
    CHECK_OK(uv_timer_start(&t[i], record_cb, timeout[i], 0));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(norder, 6);
  for (i = 0; i < 6; i++)
    CHECK_EQ(order[i], expected[i]);
  nl_test_close_loop(&loop);
}

/* A run of equal timeouts forms a group; stopping its first, middle and
 * last members must leave the others in order. */
TEST(group_members_stop_in_any_position) {
  uv_loop_t loop;
  uv_timer_t t[8];
  static const int expected[4] = {1, 2, 5, 6};
  int i;

  norder = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 8; i++) {
    CHECK_OK(uv_timer_init(&loop, &t[i]));
    t[i].data = (void*) (intptr_t) i;
    CHECK_OK(uv_timer_start(&t[i], record_cb, 5, 0));
  }
  CHECK_OK(uv_timer_stop(&t[0]));   /* the head */
  CHECK_OK(uv_timer_stop(&t[3]));   /* a middle member */
  CHECK_OK(uv_timer_stop(&t[7]));   /* the last one */
  CHECK_OK(uv_timer_stop(&t[4]));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(norder, 4);
  for (i = 0; i < 4; i++)
    CHECK_EQ(order[i], expected[i]);
  nl_test_close_loop(&loop);
}

static int repeat_count;

static void repeat_cb(uv_timer_t* h) {
  repeat_count++;
  if (repeat_count == 3)
    uv_close((uv_handle_t*) h, NULL);
}

TEST(repeat) {
  uv_loop_t loop;
  uv_timer_t t;
  uint64_t start;

  repeat_count = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, repeat_cb, 5, 10));
  CHECK_EQ(uv_timer_get_repeat(&t), 10);
  start = uv_now(&loop);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(repeat_count, 3);
  CHECK(uv_now(&loop) - start >= 25);
  CHECK_OK(uv_loop_close(&loop));
}

TEST(again_and_set_repeat) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  /* Never started: nothing to repeat. */
  CHECK_EQ(uv_timer_again(&t), UV_EINVAL);
  CHECK_OK(uv_timer_start(&t, record_cb, 1000, 0));
  /* No repeat set: again changes nothing. */
  CHECK_OK(uv_timer_again(&t));
  CHECK(uv_is_active((uv_handle_t*) &t));
  uv_timer_set_repeat(&t, 50);
  CHECK_OK(uv_timer_again(&t));
  CHECK(uv_timer_get_due_in(&t) <= 50);
  CHECK(uv_timer_get_due_in(&t) >= 49);
  CHECK_OK(uv_timer_stop(&t));
  CHECK(!uv_is_active((uv_handle_t*) &t));
  nl_test_close_loop(&loop);
}

TEST(due_in) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_timer_get_due_in(&t), 0);
  CHECK_OK(uv_timer_start(&t, record_cb, 100, 0));
  CHECK_EQ(uv_timer_get_due_in(&t), 100);
  CHECK_OK(uv_timer_start(&t, record_cb, UINT64_MAX, 0));
  /* Saturated, not wrapped into the past. */
  CHECK_EQ(uv_timer_get_due_in(&t), UINT64_MAX - uv_now(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(uv_backend_timeout(&loop), INT32_MAX);
  nl_test_close_loop(&loop);
}

/* A timer re-armed with timeout 0 from its own callback runs on the next
 * pass over the timers, not again in the same one. */
static int zero_calls;
static uint64_t zero_iteration[3];
static uv_check_t counter;
static uint64_t checks;

static void count_check(uv_check_t* h) {
  (void) h;
  checks++;
}

static void zero_again_cb(uv_timer_t* h) {
  zero_iteration[zero_calls] = checks;
  if (++zero_calls < 3)
    CHECK_OK(uv_timer_start(h, zero_again_cb, 0, 0));
  else
    uv_close((uv_handle_t*) &counter, NULL);
}

TEST(restart_zero_from_callback_waits_for_next_pass) {
  uv_loop_t loop;
  uv_timer_t t;

  zero_calls = 0;
  checks = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_check_init(&loop, &counter));
  CHECK_OK(uv_check_start(&counter, count_check));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, zero_again_cb, 0, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(zero_calls, 3);
  /* One call per iteration: a check phase ran between them. */
  CHECK(zero_iteration[1] > zero_iteration[0]);
  CHECK(zero_iteration[2] > zero_iteration[1]);
  nl_test_close_loop(&loop);
}

static void noop_cb(uv_timer_t* h) {
  (void) h;
}

static void close_cb(uv_handle_t* h) {
  (void) h;
}

TEST(bad_input) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t idle;

  CHECK_EQ(uv_timer_init(NULL, &t), UV_EINVAL);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_timer_init(&loop, NULL), UV_EINVAL);
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_timer_start(&t, NULL, 10, 0), UV_EINVAL);
  CHECK_EQ(uv_timer_start(NULL, noop_cb, 10, 0), UV_EINVAL);
  CHECK_EQ(uv_timer_stop(NULL), UV_EINVAL);
  CHECK_EQ(uv_timer_again(NULL), UV_EINVAL);
  CHECK_EQ(uv_timer_get_repeat(NULL), 0);
  CHECK_EQ(uv_timer_get_due_in(NULL), 0);
  uv_timer_set_repeat(NULL, 5);
  /* The wrong handle type is rejected, not corrupted. */
  CHECK_OK(uv_idle_init(&loop, &idle));
  CHECK_EQ(uv_timer_start((uv_timer_t*) &idle, noop_cb, 10, 0), UV_EINVAL);
  /* A closing timer cannot be started. */
  uv_close((uv_handle_t*) &t, close_cb);
  CHECK_EQ(uv_timer_start(&t, noop_cb, 10, 0), UV_EINVAL);
  CHECK(!uv_is_active((uv_handle_t*) &t));
  nl_test_close_loop(&loop);
}

TEST(unref_timer_does_not_keep_loop_alive) {
  uv_loop_t loop;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_OK(uv_timer_start(&t, noop_cb, 60000, 0));
  uv_unref((uv_handle_t*) &t);
  CHECK_EQ(uv_loop_alive(&loop), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&loop);
}

/* Random starts, restarts and stops of many timers, several sharing due
 * times; everything that fires must fire in (due, start) order, and
 * exactly the timers left active must fire. */
#define NRAND 2000

struct rtimer {
  uv_timer_t t;
  uint64_t due;
  uint64_t seq;
  int active;
  int fired;
};

static struct rtimer rt[NRAND];
static uint64_t last_due;
static uint64_t last_seq;
static int nfired;

static void random_cb(uv_timer_t* h) {
  struct rtimer* r = (struct rtimer*) h;
  CHECK(r->active);
  CHECK(r->due > last_due || (r->due == last_due && r->seq > last_seq));
  last_due = r->due;
  last_seq = r->seq;
  r->active = 0;
  r->fired++;
  nfired++;
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return rnd_state >> 8;
}

TEST(random_heap_order) {
  uv_loop_t loop;
  uint64_t seq = 0;
  int expected = 0;
  int i;
  int op;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < NRAND; i++)
    CHECK_OK(uv_timer_init(&loop, &rt[i].t));
  for (op = 0; op < 20000; op++) {
    struct rtimer* r = &rt[rnd() % NRAND];
    uint64_t timeout;
    if (rnd() % 4 == 0) {
      CHECK_OK(uv_timer_stop(&r->t));
      r->active = 0;
      continue;
    }
    /* Runs of equal timeouts make groups; small values make ties. */
    timeout = (op / 7) % 3 == 0 ? 7 : rnd() % 40;
    CHECK_OK(uv_timer_start(&r->t, random_cb, timeout, 0));
    r->due = uv_now(&loop) + timeout;
    r->seq = seq++;
    r->active = 1;
  }
  for (i = 0; i < NRAND; i++)
    expected += rt[i].active;
  last_due = 0;
  last_seq = 0;
  nfired = 0;
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(nfired, expected);
  nl_test_close_loop(&loop);
}

/* Many timers with one timeout (a group of thousands) run in start order
 * and a stop from inside a callback removes later members. */
#define NBIG 10000
static uv_timer_t big[NBIG];
static int big_next;

static void big_cb(uv_timer_t* h) {
  int idx = (int) (h - big);
  CHECK_EQ(idx, big_next);
  big_next += idx % 100 == 0 ? 2 : 1;
  if (idx % 100 == 0 && idx + 1 < NBIG)
    CHECK_OK(uv_timer_stop(&big[idx + 1]));
}

TEST(large_group_in_start_order) {
  uv_loop_t loop;
  int i;

  big_next = 0;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < NBIG; i++) {
    CHECK_OK(uv_timer_init(&loop, &big[i]));
    CHECK_OK(uv_timer_start(&big[i], big_cb, 1, 0));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(big_next, NBIG);
  nl_test_close_loop(&loop);
}
