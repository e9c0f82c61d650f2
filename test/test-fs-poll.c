/* File poll handles (uv_fs_poll_*): changes seen by stat(), errors
 * reported once and recovery, prev and curr, getpath, stop, restart and
 * close from callbacks and while a stat is in flight on the worker pool,
 * bad input, and the loop's liveness.
 *
 * Expectations are those observed on Debian's libuv 1.44 (noted
 * "libuv:"). Changes always alter the size, so that coarse timestamps
 * cannot hide them; intervals are short, and every wait ends with an
 * event, not a guess about time.
 */
#include "test.h"
#include "fs-helpers.h"

struct poller {
  uv_fs_poll_t h;
  int calls;
  int status[16];
  uv_stat_t prev[16];
  uv_stat_t curr[16];
  void (*step)(struct poller* p);   /* run after each call */
};

static int close_calls;
static const uv_stat_t zero_stat;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

static void poller_cb(uv_fs_poll_t* h, int status, const uv_stat_t* prev,
                      const uv_stat_t* curr) {
  struct poller* p = (struct poller*) h;

  CHECK(prev != NULL && curr != NULL);
  CHECK(uv_is_active((uv_handle_t*) h));
  CHECK(p->calls < 16);
  p->status[p->calls] = status;
  p->prev[p->calls] = *prev;
  p->curr[p->calls] = *curr;
  p->calls++;
  if (p->step != NULL)
    p->step(p);
}

static void never_cb(uv_fs_poll_t* h, int status, const uv_stat_t* prev,
                     const uv_stat_t* curr) {
  (void) h;
  (void) status;
  (void) prev;
  (void) curr;
  CHECK(!"a poll callback ran");
}

static int is_zero(const uv_stat_t* st) {
  return memcmp(st, &zero_stat, sizeof(*st)) == 0;
}

/* Runs the loop until no request is in flight: the stat a start began
 * has completed. */
static void settle(uv_loop_t* loop) {
  while (loop->active_reqs.count > 0)
    uv_run(loop, UV_RUN_ONCE);
}

static void append(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
  CHECK_OK(close(fd));
}

/* ---------------------------------------------------------------------
 * What the callback sees.
 */

/* libuv: no call for the first, successful stat; a change is status 0
 * with the old and new results; the file removed is the error once,
 * with the last good result as prev and zeroes as curr; the file back is
 * status 0 with that same last good result as prev. */
static void change_step(struct poller* p) {
  switch (p->calls) {
    case 1:
      CHECK_OK(unlink(fs_path("f")));
      break;
    case 2:
      append(fs_path("f"), "cccc");
      break;
    case 3:
      uv_close((uv_handle_t*) &p->h, close_cb);
      break;
    default:
      CHECK(!"too many calls");
  }
}

TEST(change_detection) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  append(fs_path("f"), "a");
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("f"), 5));
  settle(&loop);
  CHECK_EQ(p.calls, 0);
  p.step = change_step;
  append(fs_path("f"), "bb");
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 3);
  CHECK_EQ(close_calls, 1);

  CHECK_EQ(p.status[0], 0);
  CHECK_EQ(p.prev[0].st_size, 1);
  CHECK_EQ(p.curr[0].st_size, 3);
  CHECK(S_ISREG(p.curr[0].st_mode));
  CHECK_EQ(p.curr[0].st_ino, p.prev[0].st_ino);

  CHECK_EQ(p.status[1], UV_ENOENT);
  CHECK_EQ(p.prev[1].st_size, 3);
  CHECK(is_zero(&p.curr[1]));

  CHECK_EQ(p.status[2], 0);
  CHECK_EQ(p.prev[2].st_size, 3);
  CHECK_EQ(p.curr[2].st_size, 4);
  CHECK_OK(uv_loop_close(&loop));
}

/* libuv: a missing path is reported once (prev and curr zeroes), then
 * nothing however many stats fail the same way; the file created is
 * status 0 with zeroes as prev. */
static uv_timer_t create_timer;

static void create_cb(uv_timer_t* t) {
  struct poller* p = t->data;
  CHECK_EQ(p->calls, 1);   /* many stats failed meanwhile, one report */
  /* Whole at once: a stat between the create and the write would see an
   * empty file and make a third report. */
  append(fs_path("late.tmp"), "hello");
  CHECK_OK(rename(fs_path("late.tmp"), fs_path("late")));
}

static void recovery_step(struct poller* p) {
  if (p->calls == 1)
    CHECK_OK(uv_timer_start(&create_timer, create_cb, 60, 0));
  else
    uv_close((uv_handle_t*) &p->h, close_cb);
}

TEST(error_then_recovery) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  p.step = recovery_step;
  CHECK_OK(uv_timer_init(&loop, &create_timer));
  create_timer.data = &p;
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("late"), 2));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 2);
  CHECK_EQ(p.status[0], UV_ENOENT);
  CHECK(is_zero(&p.prev[0]));
  CHECK(is_zero(&p.curr[0]));
  CHECK_EQ(p.status[1], 0);
  CHECK(is_zero(&p.prev[1]));
  CHECK_EQ(p.curr[1].st_size, 5);
  nl_test_close_loop(&loop);
  CHECK_EQ(close_calls, 1);
}

/* libuv: another error is reported again: ENOTDIR (a file in the way),
 * then ENOENT (the file gone), then success (a directory made, with the
 * entry in it). */
static void error_change_step(struct poller* p) {
  switch (p->calls) {
    case 1:
      CHECK_OK(unlink(fs_path("f")));
      break;
    case 2:
      CHECK_OK(mkdir(fs_path("f"), 0700));
      append(fs_path("f/x"), "12");
      break;
    default:
      uv_close((uv_handle_t*) &p->h, close_cb);
  }
}

TEST(error_changes_reported) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  p.step = error_change_step;
  append(fs_path("f"), "a");
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("f/x"), 2));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 3);
  CHECK_EQ(p.status[0], UV_ENOTDIR);
  CHECK_EQ(p.status[1], UV_ENOENT);
  CHECK(is_zero(&p.prev[1]));
  CHECK_EQ(p.status[2], 0);
  CHECK_EQ(p.curr[2].st_size, 2);
  CHECK_OK(uv_loop_close(&loop));
}

/* An unchanged file gives no callback, however many stats run; another
 * handle on the same path is independent of the first. */
static void stop_both_cb(uv_timer_t* t) {
  struct poller* p = t->data;
  CHECK_OK(uv_fs_poll_stop(&p[0].h));
  CHECK_OK(uv_fs_poll_stop(&p[1].h));
  uv_close((uv_handle_t*) t, NULL);
}

TEST(unchanged_file_no_callback) {
  uv_loop_t loop;
  struct poller p[2];
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  memset(p, 0, sizeof(p));
  append(fs_path("f"), "a");
  CHECK_OK(uv_fs_poll_init(&loop, &p[0].h));
  CHECK_OK(uv_fs_poll_init(&loop, &p[1].h));
  CHECK_OK(uv_fs_poll_start(&p[0].h, poller_cb, fs_path("f"), 1));
  CHECK_OK(uv_fs_poll_start(&p[1].h, poller_cb, fs_path("f"), 0));
  CHECK_OK(uv_timer_init(&loop, &t));
  t.data = p;
  CHECK_OK(uv_timer_start(&t, stop_both_cb, 50, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p[0].calls, 0);
  CHECK_EQ(p[1].calls, 0);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Stop, restart and close from callbacks.
 */
static void close_step(struct poller* p) {
  uv_close((uv_handle_t*) &p->h, close_cb);
}

TEST(close_in_callback) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  p.step = close_step;
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("missing"), 1));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 1);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

static void stop_step(struct poller* p) {
  CHECK_OK(uv_fs_poll_stop(&p->h));
  CHECK(!uv_is_active((uv_handle_t*) &p->h));
}

TEST(stop_in_callback) {
  uv_loop_t loop;
  struct poller p;
  char buf[64];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  p.step = stop_step;
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("missing"), 1));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));   /* ends: nothing active */
  CHECK_EQ(p.calls, 1);
  CHECK_EQ(uv_fs_poll_getpath(&p.h, buf, &len), UV_EINVAL);
  append(fs_path("missing"), "now here");
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  nl_test_close_loop(&loop);
  CHECK_EQ(p.calls, 1);
}

/* Restarted from its callback, on another missing path: a start begins
 * afresh, so that path's error is reported too. */
static void restart_step(struct poller* p) {
  if (p->calls == 1) {
    CHECK_OK(uv_fs_poll_stop(&p->h));
    CHECK_OK(uv_fs_poll_start(&p->h, poller_cb, fs_path("missing2"), 1000));
  } else {
    uv_close((uv_handle_t*) &p->h, close_cb);
  }
}

TEST(restart_in_callback) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  p.step = restart_step;
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("missing1"), 1000));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 2);
  CHECK_EQ(p.status[0], UV_ENOENT);
  CHECK_EQ(p.status[1], UV_ENOENT);
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * A stat in flight (the pool held busy, so that it waits).
 */

/* libuv's fs_poll_close_request: closed with its stat queued, the close
 * callback waits for the stat, which reaches no callback; then the loop
 * closes. */
TEST(close_with_stat_in_flight) {
  uv_loop_t loop;
  uv_fs_poll_t h;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  fs_block_pool(&loop);
  CHECK_OK(uv_fs_poll_init(&loop, &h));
  CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("missing"), 1));
  uv_close((uv_handle_t*) &h, close_cb);
  for (i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(close_calls, 0);
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  fs_release_pool();
  while (close_calls == 0)
    uv_run(&loop, UV_RUN_ONCE);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));   /* the blockers */
  CHECK_OK(uv_loop_close(&loop));
  fs_destroy_blockers();
}

/* libuv's fs_poll_close_request_multi_start_stop and _stop_start: the
 * stats of many starts and stops reach no callback, and the close waits
 * for them. nodeloop: one stat at a time per handle (libuv: one per
 * start, 10 here). */
TEST(start_stop_many_then_close) {
  uv_loop_t loop;
  uv_fs_poll_t h;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  fs_block_pool(&loop);
  CHECK_OK(uv_fs_poll_init(&loop, &h));
  for (i = 0; i < 10; i++) {
    CHECK_OK(uv_fs_poll_stop(&h));
    CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("missing"), 1));
    CHECK_OK(uv_fs_poll_stop(&h));
  }
  CHECK_EQ(loop.active_reqs.count, fs_nblockers + 1);   /* one stat */
  uv_close((uv_handle_t*) &h, close_cb);
  fs_release_pool();
  while (close_calls == 0)
    uv_run(&loop, UV_RUN_ONCE);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_OK(uv_loop_close(&loop));
  fs_destroy_blockers();

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_fs_poll_init(&loop, &h));
  for (i = 0; i < 10; i++) {
    CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("missing"), 1));
    CHECK_OK(uv_fs_poll_stop(&h));
  }
  uv_close((uv_handle_t*) &h, close_cb);
  while (close_calls == 0)
    uv_run(&loop, UV_RUN_ONCE);
  CHECK_OK(uv_loop_close(&loop));
}

/* Stopped and restarted on another path while the first stat waits: that
 * stat's result (an error for the old path) is dropped, and the new path
 * is stat-ed when it completes; its first result, a success, is the
 * reference. A change is then reported against it. libuv reports the old
 * path's UV_ENOENT to the restarted handle; nodeloop does not (a stopped
 * handle gets no callback for what it asked before the stop). */
static void grow_step(struct poller* p) {
  uv_close((uv_handle_t*) &p->h, close_cb);
}

TEST(restart_with_stat_in_flight) {
  uv_loop_t loop;
  struct poller p;
  char buf[512];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  append(fs_path("f"), "a");
  fs_block_pool(&loop);
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("missing"), 2));
  CHECK_OK(uv_fs_poll_stop(&p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("f"), 2));
  CHECK_OK(uv_fs_poll_getpath(&p.h, buf, &len));
  CHECK_STREQ(buf, fs_path("f"));
  fs_release_pool();
  settle(&loop);
  CHECK_EQ(p.calls, 0);
  p.step = grow_step;
  append(fs_path("f"), "bc");
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(p.calls, 1);
  CHECK_EQ(p.status[0], 0);
  CHECK_EQ(p.prev[0].st_size, 1);
  CHECK_EQ(p.curr[0].st_size, 3);
  CHECK_OK(uv_loop_close(&loop));
  fs_destroy_blockers();
}

/* libuv's fs_poll_close_request_stop_when_active: stopped between stats,
 * then closed: the close callback comes in the next iteration. */
TEST(stop_then_close_between_stats) {
  uv_loop_t loop;
  struct poller p;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("missing"), 100));
  uv_run(&loop, UV_RUN_ONCE);
  CHECK_EQ(p.calls, 1);
  CHECK_OK(uv_fs_poll_stop(&p.h));
  uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t*) &p.h, close_cb);
  uv_run(&loop, UV_RUN_ONCE);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(p.calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * getpath, bad input, liveness.
 */

/* libuv: UV_EINVAL and size 0 unless active; UV_ENOBUFS with the length
 * plus one when too small; else the path, NUL-terminated, and its
 * length. */
TEST(getpath) {
  uv_loop_t loop;
  uv_fs_poll_t h;
  char buf[512];
  size_t len;
  size_t n = strlen(fs_path("missing"));

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_fs_poll_init(&loop, &h));
  len = sizeof(buf);
  CHECK_EQ(uv_fs_poll_getpath(&h, buf, &len), UV_EINVAL);
  CHECK_EQ(len, 0);
  CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("missing"), 1000));
  len = n;
  CHECK_EQ(uv_fs_poll_getpath(&h, buf, &len), UV_ENOBUFS);
  CHECK_EQ(len, n + 1);
  memset(buf, 'z', sizeof(buf));
  CHECK_OK(uv_fs_poll_getpath(&h, buf, &len));
  CHECK_EQ(len, n);
  CHECK_EQ(buf[n], '\0');
  CHECK_STREQ(buf, fs_path("missing"));
  CHECK_EQ(uv_fs_poll_getpath(&h, buf, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_poll_getpath(NULL, buf, &len), UV_EINVAL);
  CHECK_OK(uv_fs_poll_stop(&h));
  len = sizeof(buf);
  CHECK_EQ(uv_fs_poll_getpath(&h, buf, &len), UV_EINVAL);
  CHECK_EQ(len, 0);
  nl_test_close_loop(&loop);
}

/* libuv: starting an active handle succeeds and changes nothing (the
 * first path stays); interval 0 is accepted. nodeloop: NULL arguments,
 * a closing handle and a handle of another type are UV_EINVAL (libuv
 * crashes, asserts or goes ahead). */
TEST(bad_arguments) {
  uv_loop_t loop;
  uv_fs_poll_t h;
  uv_timer_t t;
  char buf[512];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(uv_fs_poll_init(NULL, &h), UV_EINVAL);
  CHECK_EQ(uv_fs_poll_init(&loop, NULL), UV_EINVAL);
  CHECK_OK(uv_fs_poll_init(&loop, &h));
  CHECK_EQ(uv_fs_poll_start(NULL, never_cb, "x", 1), UV_EINVAL);
  CHECK_EQ(uv_fs_poll_start(&h, NULL, "x", 1), UV_EINVAL);
  CHECK_EQ(uv_fs_poll_start(&h, never_cb, NULL, 1), UV_EINVAL);
  CHECK(!uv_is_active((uv_handle_t*) &h));
  CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("a"), 0));
  CHECK_OK(uv_fs_poll_start(&h, never_cb, fs_path("b"), 1000));
  CHECK_OK(uv_fs_poll_getpath(&h, buf, &len));
  CHECK_STREQ(buf, fs_path("a"));
  CHECK_EQ(uv_fs_poll_stop(NULL), UV_EINVAL);

  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_fs_poll_start((uv_fs_poll_t*) &t, never_cb, "x", 1),
           UV_EINVAL);
  CHECK_EQ(uv_fs_poll_stop((uv_fs_poll_t*) &t), UV_EINVAL);
  CHECK_EQ(uv_fs_poll_getpath((uv_fs_poll_t*) &t, buf, &len), UV_EINVAL);

  CHECK_OK(uv_fs_poll_stop(&h));
  CHECK_OK(uv_fs_poll_stop(&h));
  uv_close((uv_handle_t*) &h, close_cb);
  CHECK_EQ(uv_fs_poll_start(&h, never_cb, fs_path("a"), 1), UV_EINVAL);
  CHECK_OK(uv_fs_poll_stop(&h));
  nl_test_close_loop(&loop);
  CHECK_EQ(close_calls, 1);
}

/* An inactive handle does not keep the loop alive; an unreferenced
 * active one keeps it only while a stat is in flight (a request); a
 * referenced active one does. Its internal timer is never visible.
 * libuv: a stopped handle keeps the loop alive for one more iteration
 * (its internal timer closing); nodeloop: not at all. */
static void count_walk(uv_handle_t* h, void* arg) {
  (void) h;
  ++*(int*) arg;
}

TEST(liveness) {
  uv_loop_t loop;
  struct poller p;
  int handles = 0;

  CHECK_OK(uv_loop_init(&loop));
  memset(&p, 0, sizeof(p));
  append(fs_path("f"), "a");
  CHECK_OK(uv_fs_poll_init(&loop, &p.h));
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_OK(uv_fs_poll_start(&p.h, poller_cb, fs_path("f"), 1));
  CHECK(uv_loop_alive(&loop));
  uv_walk(&loop, count_walk, &handles);
  CHECK_EQ(handles, 1);
  uv_unref((uv_handle_t*) &p.h);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(p.calls, 0);
  uv_ref((uv_handle_t*) &p.h);
  CHECK(uv_loop_alive(&loop));
  CHECK_OK(uv_fs_poll_stop(&p.h));
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&loop);
  CHECK_EQ(p.calls, 0);
}

/* Closed before ever being started, and closed after a stop with no stat
 * in flight: the close callback comes in the next close phase. */
TEST(close_idle_handle) {
  uv_loop_t loop;
  uv_fs_poll_t a;
  uv_fs_poll_t b;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_fs_poll_init(&loop, &a));
  CHECK_OK(uv_fs_poll_init(&loop, &b));
  CHECK_OK(uv_fs_poll_start(&b, never_cb, fs_path("missing"), 1));
  CHECK_OK(uv_fs_poll_stop(&b));
  settle(&loop);
  uv_close((uv_handle_t*) &a, close_cb);
  uv_close((uv_handle_t*) &b, close_cb);
  CHECK(uv_is_closing((uv_handle_t*) &b));
  CHECK_OK(uv_run(&loop, UV_RUN_NOWAIT));
  CHECK_EQ(close_calls, 2);
  CHECK_OK(uv_loop_close(&loop));
}
