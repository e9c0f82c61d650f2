/* File-system requests and the worker pool: a request keeps its loop
 * alive, queued requests can be cancelled, uv_fs_req_cleanup() frees
 * exactly what a request owns (counted with a replacement allocator),
 * and allocation failures are reported, not crashed on. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"

/* ---------------------------------------------------------------------
 * The pool: loop liveness, cancellation, ownership, allocation failure.
 */
TEST(requests_keep_the_loop_alive) {
  uv_loop_t loop;
  uv_fs_t req;
  uv_fs_t sync_req;

  start(&loop);
  /* A synchronous request with a loop leaves the loop alone. */
  CHECK_OK(uv_fs_stat(&loop, &sync_req, nl_test_tmpdir(), NULL));
  CHECK(sync_req.loop == &loop);
  CHECK(!uv_loop_alive(&loop));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));

  CHECK_OK(uv_fs_stat(&loop, &req, nl_test_tmpdir(), record_cb));
  CHECK(uv_loop_alive(&loop));
  CHECK_EQ(uv_loop_close(&loop), UV_EBUSY);
  CHECK_EQ(uv_cancel((uv_req_t*) &sync_req), UV_EBUSY);
  finish(&loop, 1);
  CHECK(!uv_loop_alive(&loop));
  /* Done: nothing to cancel. */
  CHECK_EQ(uv_cancel((uv_req_t*) &req), UV_EBUSY);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

/* Every pool thread is held by a blocker, so the file-system requests
 * queued behind them can be cancelled: their callbacks get
 * UV_ECANCELED, and the operations never happen. */
static int cancelled_calls;

static void cancelled_cb(uv_fs_t* req) {
  CHECK_EQ(req->result, UV_ECANCELED);
  cancelled_calls++;
}

TEST(cancel_queued_requests) {
  uv_buf_t bufs[6];
  uv_fs_t reqs[6];
  uv_loop_t loop;
  long live;
  int fd;
  int i;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  fs_use_counting_allocator();
  start(&loop);
  fd = open_file(fs_path("cancel-w"), O_RDWR | O_CREAT);
  fs_start_ring(&loop);
  fs_block_pool(&loop);
  live = fs_live();

  for (i = 0; i < 6; i++)
    bufs[i] = uv_buf_init("data", 4);
  CHECK_OK(uv_fs_open(&loop, &reqs[0], fs_path("cancel-o"),
                      O_WRONLY | O_CREAT, 0644, cancelled_cb));
  CHECK_OK(uv_fs_mkdir(&loop, &reqs[1], fs_path("cancel-d"), 0755,
                       cancelled_cb));
  CHECK_OK(uv_fs_write(&loop, &reqs[2], fd, bufs, 6, 0, cancelled_cb));
  CHECK_OK(uv_fs_mkdtemp(&loop, &reqs[3], fs_path("cancel-XXXXXX"),
                         cancelled_cb));
  CHECK_OK(uv_fs_scandir(&loop, &reqs[4], nl_test_tmpdir(), 0,
                         cancelled_cb));
  CHECK_OK(uv_fs_rename(&loop, &reqs[5], fs_path("cancel-w"),
                        fs_path("cancel-r"), cancelled_cb));
  /* Path copies (5) and the six-buffer array (1). */
  CHECK_EQ(fs_live(), live + 6);
  for (i = 0; i < 6; i++)
    CHECK_OK(uv_cancel((uv_req_t*) &reqs[i]));
  CHECK_EQ(uv_cancel((uv_req_t*) &reqs[0]), UV_EBUSY);
  fs_release_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cancelled_calls, 6);
  CHECK(!fs_exists(fs_path("cancel-o")));
  CHECK(!fs_exists(fs_path("cancel-d")));
  CHECK(!fs_exists(fs_path("cancel-r")));
  CHECK(fs_exists(fs_path("cancel-w")));
  CHECK_EQ(lseek(fd, 0, SEEK_END), 0);
  /* The buffer array went with the cancellation; cleanup frees paths. */
  CHECK_EQ(fs_live(), live + 5);
  for (i = 0; i < 6; i++) {
    CHECK_EQ(uv_cancel((uv_req_t*) &reqs[i]), UV_EBUSY);
    uv_fs_req_cleanup(&reqs[i]);
    uv_fs_req_cleanup(&reqs[i]);
  }
  CHECK_EQ(fs_live(), live);
  CHECK_OK(close(fd));
  fs_destroy_blockers();
  nl_test_close_loop(&loop);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* What each kind of request allocates, and that uv_fs_req_cleanup()
 * frees exactly that (and is harmless twice). */
TEST(cleanup_frees_what_the_request_owns) {
  const char* a = fs_path("own-a");
  uv_buf_t bufs[5];
  uv_dirent_t ent;
  uv_loop_t loop;
  uv_fs_t req;
  long live;
  long total;
  int fd;
  int i;

  fs_use_counting_allocator();
  start(&loop);
  fs_write_file(a, "own", 3);
  CHECK_OK(symlink("own-a", fs_path("own-link")));
  fs_start_pool(&loop);
  live = fs_live();
  total = fs_total();

  /* Synchronous requests on caller strings allocate nothing. */
  CHECK_OK(uv_fs_stat(NULL, &req, a, NULL));
  fd = open_file(a, O_RDWR);
  CHECK_OK(uv_fs_utime(NULL, &req, a, 1, 1, NULL));
  for (i = 0; i < 4; i++)
    bufs[i] = uv_buf_init("v", 1);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, bufs, 4, 0, NULL), 4);
  CHECK_EQ(fs_total(), total);
  /* Five buffers need an array, gone when the call returns. */
  bufs[4] = uv_buf_init("v", 1);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, bufs, 5, 0, NULL), 5);
  CHECK_EQ(fs_total(), total + 1);
  CHECK_EQ(fs_live(), live);
  uv_fs_req_cleanup(&req);

  /* An asynchronous request with two paths makes one allocation. */
  total = fs_total();
  CHECK_OK(uv_fs_link(&loop, &req, a, fs_path("own-b"), record_cb));
  CHECK_EQ(fs_total(), total + 1);
  CHECK(req.new_path == req.path + strlen(req.path) + 1);
  CHECK_STREQ(req.new_path, fs_path("own-b"));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(fs_live(), live + 1);
  uv_fs_req_cleanup(&req);
  CHECK(req.path == NULL && req.new_path == NULL);
  CHECK_EQ(fs_live(), live);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);

  /* Outputs: readlink, realpath, statfs strings and structures. */
  CHECK_OK(uv_fs_readlink(NULL, &req, fs_path("own-link"), NULL));
  CHECK_STREQ(req.ptr, "own-a");
  CHECK_EQ(fs_live(), live + 1);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);
  CHECK_OK(uv_fs_realpath(&loop, &req, fs_path("own-link"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(fs_live(), live + 2);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);

  /* scandir entries, also when the iteration stopped half way. */
  CHECK_EQ(uv_fs_scandir(NULL, &req, nl_test_tmpdir(), 0, NULL), 3);
  CHECK(fs_live() > live);
  CHECK_OK(uv_fs_scandir_next(&req, &ent));
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_EQ(fs_live(), live);
  uv_fs_req_cleanup(&req);

  /* mkdtemp always owns its path, even synchronously. */
  CHECK_OK(uv_fs_mkdtemp(NULL, &req, fs_path("own-XXXXXX"), NULL));
  CHECK_EQ(fs_live(), live + 1);
  CHECK_OK(rmdir(req.path));
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);

  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

TEST(out_of_memory) {
  uv_buf_t bufs[5];
  uv_loop_t loop;
  uv_fs_t req;
  int fd;
  int i;

  long live;

  fs_use_counting_allocator();
  start(&loop);
  live = fs_live();
  fs_write_file(fs_path("oom"), "x", 1);
  CHECK_OK(symlink("oom", fs_path("oom-link")));
  fd = open_file(fs_path("oom"), O_RDWR);
  for (i = 0; i < 5; i++)
    bufs[i] = uv_buf_init("v", 1);
  atomic_store(&fs_fail_allocs, 1);
  /* Refused before running: no callback, nothing keeps the loop. */
  CHECK_EQ(uv_fs_open(&loop, &req, fs_path("oom-new"), O_CREAT | O_WRONLY,
                      0644, fail_cb),
           UV_ENOMEM);
  CHECK_EQ(req.result, UV_ENOMEM);
  CHECK(!uv_loop_alive(&loop));
  CHECK(!fs_exists(fs_path("oom-new")));
  CHECK_EQ(uv_fs_write(NULL, &req, fd, bufs, 5, 0, NULL), UV_ENOMEM);
  CHECK_EQ(uv_fs_mkdtemp(NULL, &req, fs_path("oom-XXXXXX"), NULL),
           UV_ENOMEM);
  /* Operations that allocate their output fail cleanly. */
  CHECK_EQ(uv_fs_readlink(NULL, &req, fs_path("oom-link"), NULL),
           UV_ENOMEM);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_realpath(NULL, &req, fs_path("oom-link"), NULL), UV_ENOMEM);
  CHECK_EQ(uv_fs_statfs(NULL, &req, fs_path("oom"), NULL), UV_ENOMEM);
  CHECK_EQ(uv_fs_scandir(NULL, &req, nl_test_tmpdir(), 0, NULL), UV_ENOMEM);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_opendir(NULL, &req, nl_test_tmpdir(), NULL), UV_ENOMEM);
  /* What needs no memory still works. */
  CHECK_OK(uv_fs_stat(NULL, &req, fs_path("oom"), NULL));
  CHECK_EQ(uv_fs_write(NULL, &req, fd, bufs, 4, 0, NULL), 4);
  atomic_store(&fs_fail_allocs, 0);
  CHECK_EQ(fs_live(), live);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* A request still in flight is refused, asynchronous or synchronous, and
 * left exactly as it was (a worker may be using it); uv_fs_req_cleanup()
 * leaves it alone too. After its callback it can be used again. */
TEST(request_in_flight_is_refused) {
  uv_loop_t loop;
  uv_fs_t req;
  const char* path;
  const char* path_copy;

  CHECK_OK(setenv("UV_THREADPOOL_SIZE", "4", 1));
  start(&loop);
  fs_block_pool(&loop);
  path = nl_test_tmpdir();
  CHECK_OK(uv_fs_stat(&loop, &req, path, record_cb));
  path_copy = req.path;
  CHECK(path_copy != path);
  CHECK_EQ(uv_fs_stat(&loop, &req, path, record_cb), UV_EBUSY);
  CHECK_EQ(uv_fs_lstat(&loop, &req, path, NULL), UV_EBUSY);
  CHECK_EQ(uv_fs_close(&loop, &req, 0, NULL), UV_EBUSY);
  uv_fs_req_cleanup(&req);
  CHECK(req.path == path_copy);
  CHECK_STREQ(req.path, path);
  CHECK_EQ(req.fs_type, UV_FS_STAT);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(loop.active_reqs.count, fs_nblockers + 1);
  fs_release_pool();
  finish(&loop, 1);
  CHECK_OK(req.result);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_stat(&loop, &req, path, record_cb));
  finish(&loop, 2);
  uv_fs_req_cleanup(&req);
  fs_destroy_blockers();
  nl_test_close_loop(&loop);
}

/* uv_cancel() of file-system requests while the pool's threads take and
 * finish them: each callback runs once, with UV_ECANCELED or the stat's
 * result, and the loop thread's look at whether a request waits on a
 * ring (src/linux/uring.c) is no data race with a worker marking it
 * started (ThreadSanitizer). Made outside uv_run, they go to the pool. */
#define FS_CANCEL_ROUNDS 1000
#define FS_CANCEL_BATCH 8

static int fs_race_calls;
static int fs_race_cancelled;

static void fs_race_cb(uv_fs_t* req) {
  fs_race_calls++;
  if (req->result == UV_ECANCELED)
    fs_race_cancelled++;
  else
    CHECK_OK(req->result);
  uv_fs_req_cleanup(req);
}

TEST(cancel_races_with_workers_stress) {
  uv_fs_t reqs[FS_CANCEL_BATCH];
  uv_loop_t loop;
  int round;
  int i;
  int r;

  start(&loop);
  fs_race_calls = 0;
  fs_race_cancelled = 0;
  for (round = 0; round < FS_CANCEL_ROUNDS; round++) {
    for (i = 0; i < FS_CANCEL_BATCH; i++)
      CHECK_OK(uv_fs_stat(&loop, &reqs[i], nl_test_tmpdir(), fs_race_cb));
    for (i = FS_CANCEL_BATCH - 1; i >= 0; i--) {
      r = uv_cancel((uv_req_t*) &reqs[i]);
      CHECK(r == 0 || r == UV_EBUSY);
    }
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(fs_race_calls, (round + 1) * FS_CANCEL_BATCH);
  }
  printf("cancelled %d of %d\n", fs_race_cancelled,
         FS_CANCEL_ROUNDS * FS_CANCEL_BATCH);
  nl_test_close_loop(&loop);
}
