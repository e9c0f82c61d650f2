/* File requests on the loop's io_uring (src/linux/uring.c): which loops
 * have a ring, credentials dropped after the ring was used, writes the
 * kernel takes in parts, more requests than the ring has places,
 * cancellation, forks and embedders. Every test also passes without a
 * ring (NODELOOP_IO_URING=0, kernel.io_uring_disabled=2), where the same
 * requests run on the pool; ring_allowed() says which is the case. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"
#include "ring-helpers.h"

#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>

/* These tests make most requests before uv_run, which by default sends
 * them to the pool: NODELOOP_IO_URING=all puts them on the ring too
 * (unless the suite runs with the ring off). Each test is a process of
 * its own, and the library reads the variable at its first request. */
__attribute__((constructor)) static void ring_for_every_request(void) {
  setenv("NODELOOP_IO_URING", "all", 0);
}

static uv_fs_t one_req;

/* A descriptor of "/", opened once, for fstat requests. */
static int root_fd(void) {
  static int fd = -1;

  if (fd < 0)
    fd = open("/", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  return fd;
}

TEST(ring_only_when_used_and_allowed) {
  uv_loop_t loop;
  int before = ring_fds();

  start(&loop);
  /* A loop that makes no file request has no ring. */
  CHECK_EQ(ring_fds(), before);
  /* stat runs on the pool, with or without a ring. */
  RUN(uv_fs_stat(&loop, &one_req, "/", record_cb));
  CHECK_OK(one_req.result);
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(ring_fds(), before);
  RUN(uv_fs_fstat(&loop, &one_req, root_fd(), record_cb));
  CHECK_OK(one_req.result);
  CHECK(S_ISDIR(one_req.statbuf.st_mode));
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(ring_fds(), before + (ring_allowed() ? 1 : 0));
  nl_test_close_loop(&loop);
  CHECK_EQ(ring_fds(), before);
}

/* ---------------------------------------------------------------------
 * Credentials. A root process uses the ring (opens, reads, stats that the
 * kernel hands to its own workers, so that those exist with root's
 * credentials), then drops to nobody. Afterwards a file only root may
 * read cannot be opened, a directory only root may search cannot be
 * looked into, and descriptors opened before the drop still read. Each
 * runs in a child: nobody cannot remove root's scratch files, the parent
 * (still root) does.
 */
static char secret_file[512];   /* 0600, root's */
static char secret_dir[512];    /* 0700, root's, with a file inside */
static char secret_inner[600];
static char shared_file[512];   /* 0644 */

static void make_secrets(void) {
  if (geteuid() != 0)
    nl_test_skip("needs root, to drop to another user");
  snprintf(secret_file, sizeof(secret_file), "%s/secret", nl_test_tmpdir());
  snprintf(secret_dir, sizeof(secret_dir), "%s/private", nl_test_tmpdir());
  snprintf(secret_inner, sizeof(secret_inner), "%s/f", secret_dir);
  snprintf(shared_file, sizeof(shared_file), "%s/shared", nl_test_tmpdir());
  fs_write_file(secret_file, "root only", 9);
  CHECK_OK(chmod(secret_file, 0600));
  CHECK_OK(mkdir(secret_dir, 0700));
  fs_write_file(secret_inner, "x", 1);
  fs_write_file(shared_file, "everyone", 8);
  CHECK_OK(chmod(shared_file, 0644));
  /* nobody must reach the files' directory. */
  CHECK_OK(chmod(nl_test_tmpdir(), 0755));
}

static void drop_to_nobody(void) {
  CHECK_OK(setgroups(0, NULL));
  CHECK_OK(setgid(65534));
  CHECK_OK(setuid(65534));
  CHECK_EQ(getuid(), 65534);
  CHECK_EQ(geteuid(), 65534);
}

static void* drop_thread(void* arg) {
  (void) arg;
  drop_to_nobody();
  return NULL;
}

static void use_ring_as_root(uv_loop_t* loop, uv_file* fd) {
  uv_loop_t* l = loop;
  int i;

  /* As root everything works, through the ring if there is one. */
  cb_calls = 0;
  CHECK_OK(uv_fs_open(l, &one_req, secret_file, O_RDONLY, 0, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK(one_req.result >= 0);
  *fd = (uv_file) one_req.result;
  uv_fs_req_cleanup(&one_req);
  /* The kernel hands fstat and fsync to its own workers: they exist
   * now, made while the process was root. */
  for (i = 0; i < 16; i++) {
    CHECK_OK(i % 2 ? uv_fs_fstat(l, &one_req, *fd, record_cb)
                   : uv_fs_fsync(l, &one_req, *fd, record_cb));
    CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
    CHECK_OK(one_req.result);
    uv_fs_req_cleanup(&one_req);
  }
  CHECK_EQ(ring_fds() > 0, ring_allowed());
}

static void check_dropped(uv_loop_t* loop, uv_file fd) {
  char buf[16];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  uv_loop_t* l = loop;

  cb_calls = 0;
  CHECK_OK(uv_fs_open(l, &one_req, secret_file, O_RDONLY, 0, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK_EQ(one_req.result, UV_EACCES);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(uv_fs_stat(l, &one_req, secret_inner, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK_EQ(one_req.result, UV_EACCES);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(uv_fs_open(l, &one_req, secret_inner, O_RDONLY, 0, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK_EQ(one_req.result, UV_EACCES);
  uv_fs_req_cleanup(&one_req);
  /* What nobody may do still works. */
  CHECK_OK(uv_fs_open(l, &one_req, shared_file, O_RDONLY, 0, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK(one_req.result >= 0);
  CHECK_OK(close((int) one_req.result));
  uv_fs_req_cleanup(&one_req);
  /* The descriptor opened before the drop reads. */
  CHECK_OK(uv_fs_read(l, &one_req, fd, &b, 1, 0, record_cb));
  CHECK_OK(uv_run(l, UV_RUN_DEFAULT));
  CHECK_EQ(one_req.result, 9);
  CHECK(memcmp(buf, "root only", 9) == 0);
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(cb_calls, 5);
  CHECK_OK(close(fd));
}

static void credentials_dropped_on_the_loop_thread_body(void) {
  uv_loop_t loop;
  uv_file fd;

  make_secrets();
  start(&loop);
  use_ring_as_root(&loop, &fd);
  drop_to_nobody();
  check_dropped(&loop, fd);
  nl_test_close_loop(&loop);
}

TEST(credentials_dropped_on_the_loop_thread) {
  fs_in_child(credentials_dropped_on_the_loop_thread_body);
}

/* glibc changes every thread's credentials: a drop made by another
 * thread, while the loop is idle, counts for the loop thread too. */
static void credentials_dropped_by_another_thread_body(void) {
  uv_loop_t loop;
  pthread_t t;
  uv_file fd;

  make_secrets();
  start(&loop);
  use_ring_as_root(&loop, &fd);
  CHECK_OK(pthread_create(&t, NULL, drop_thread, NULL));
  CHECK_OK(pthread_join(t, NULL));
  check_dropped(&loop, fd);
  nl_test_close_loop(&loop);
}

TEST(credentials_dropped_by_another_thread) {
  fs_in_child(credentials_dropped_by_another_thread_body);
}

/* Requests queued as root but submitted after the drop (the drop happens
 * in a callback of the same iteration, before the poll phase submits
 * them) are checked against the new credentials. */
static uv_fs_t late_req;
static uv_timer_t drop_timer;

static void drop_in_timer(uv_timer_t* t) {
  (void) t;
  drop_to_nobody();
}

static void credentials_dropped_before_queued_requests_are_submitted_body(void) {
  uv_loop_t loop;

  make_secrets();
  if (!ring_allowed())
    nl_test_skip("without io_uring the pool starts the request at once");
  start(&loop);
  RUN(uv_fs_open(&loop, &one_req, secret_inner, O_RDONLY, 0, record_cb));
  CHECK(one_req.result >= 0);
  CHECK_OK(close((int) one_req.result));
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(uv_timer_init(&loop, &drop_timer));
  CHECK_OK(uv_timer_start(&drop_timer, drop_in_timer, 0, 0));
  cb_calls = 0;
  CHECK_OK(uv_fs_open(&loop, &late_req, secret_file, O_RDONLY, 0,
                      record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(late_req.result, UV_EACCES);
  uv_fs_req_cleanup(&late_req);
  uv_close((uv_handle_t*) &drop_timer, NULL);
  nl_test_close_loop(&loop);
}

TEST(credentials_dropped_before_queued_requests_are_submitted) {
  fs_in_child(credentials_dropped_before_queued_requests_are_submitted_body);
}

/* ---------------------------------------------------------------------
 * Pipes (which stay with the pool): 4 MiB in 64 buffers into a pipe that
 * holds 64 KiB, read by another thread; the callback sees every byte
 * written, in order.
 */
#define PIPE_BUFS 64
#define PIPE_BUF_LEN (64 * 1024)

static int pipe_fds[2];
static size_t pipe_got;
static int pipe_order_ok = 1;

static void* pipe_reader(void* arg) {
  unsigned char buf[8192];
  ssize_t n, i;

  (void) arg;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) {
    for (i = 0; i < n; i++)
      if (buf[i] != (unsigned char) ((pipe_got + (size_t) i) / PIPE_BUF_LEN))
        pipe_order_ok = 0;
    pipe_got += (size_t) n;
  }
  return NULL;
}

TEST(partial_writes_continue) {
  static char data[PIPE_BUFS][PIPE_BUF_LEN];
  uv_buf_t bufs[PIPE_BUFS];
  uv_loop_t loop;
  pthread_t t;
  int i;

  for (i = 0; i < PIPE_BUFS; i++) {
    memset(data[i], i, PIPE_BUF_LEN);
    bufs[i] = uv_buf_init(data[i], PIPE_BUF_LEN);
  }
  CHECK_OK(pipe(pipe_fds));
  CHECK_OK(pthread_create(&t, NULL, pipe_reader, NULL));
  start(&loop);
  RUN(uv_fs_write(&loop, &one_req, pipe_fds[1], bufs, PIPE_BUFS, -1,
                  record_cb));
  CHECK_EQ(one_req.result, (ssize_t) PIPE_BUFS * PIPE_BUF_LEN);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(pipe_fds[1]));
  CHECK_OK(pthread_join(t, NULL));
  CHECK_EQ(pipe_got, (size_t) PIPE_BUFS * PIPE_BUF_LEN);
  CHECK(pipe_order_ok);
  CHECK_OK(close(pipe_fds[0]));
  nl_test_close_loop(&loop);
}

/* A write to a pipe whose reader is gone: UV_EPIPE, no signal. */
TEST(write_to_a_closed_pipe_fails) {
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init("x", 1);

  CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
  CHECK_OK(pipe(pipe_fds));
  CHECK_OK(close(pipe_fds[0]));
  start(&loop);
  RUN(uv_fs_write(&loop, &one_req, pipe_fds[1], &b, 1, -1, record_cb));
  CHECK_EQ(one_req.result, UV_EPIPE);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(pipe_fds[1]));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * More requests than the ring has places (128): all complete, each with
 * its own data, none lost.
 */
#define MANY_READS 1000

static uv_fs_t many_reqs[MANY_READS];
static char many_bufs[MANY_READS][8];
static int many_done;

static void many_cb(uv_fs_t* req) {
  int i = (int) (req - many_reqs);
  char want[8];

  snprintf(want, sizeof(want), "%07d", i);
  CHECK_EQ(req->result, 7);
  CHECK(memcmp(many_bufs[i], want, 7) == 0);
  uv_fs_req_cleanup(req);
  many_done++;
}

TEST(more_requests_than_places) {
  char text[MANY_READS * 7 + 1];
  uv_loop_t loop;
  uv_buf_t b;
  int fd, i;

  for (i = 0; i < MANY_READS; i++)
    snprintf(text + 7 * i, 8, "%07d", i);
  fs_write_file(fs_path("many"), text, MANY_READS * 7);
  fd = open_file(fs_path("many"), O_RDONLY);
  start(&loop);
  for (i = 0; i < MANY_READS; i++) {
    b = uv_buf_init(many_bufs[i], 7);
    CHECK_OK(uv_fs_read(&loop, &many_reqs[i], fd, &b, 1, 7 * i, many_cb));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(many_done, MANY_READS);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Cancellation: a request not yet handed to the kernel is cancelled
 * (UV_ECANCELED, the file untouched); a second uv_cancel, or one after
 * the callback, is UV_EBUSY. After the callbacks the loop has nothing
 * left and returns.
 */
TEST(cancel_before_submission) {
  uv_loop_t loop;
  uv_fs_t reqs[3];
  uv_buf_t b = uv_buf_init("data", 4);
  struct stat sb;
  int fd, i;

  fd = open_file(fs_path("cancel"), O_RDWR | O_CREAT | O_TRUNC);
  start(&loop);
  fs_start_ring(&loop);
  fs_block_pool(&loop);   /* without a ring, the requests wait there */
  cb_calls = 0;
  CHECK_OK(uv_fs_write(&loop, &reqs[0], fd, &b, 1, 0, record_cb));
  CHECK_OK(uv_fs_ftruncate(&loop, &reqs[1], fd, 100, record_cb));
  CHECK_OK(uv_fs_fsync(&loop, &reqs[2], fd, record_cb));
  for (i = 0; i < 3; i++)
    CHECK_OK(uv_cancel((uv_req_t*) &reqs[i]));
  for (i = 0; i < 3; i++)
    CHECK_EQ(uv_cancel((uv_req_t*) &reqs[i]), UV_EBUSY);
  if (ring_allowed())
    CHECK_EQ(uv_backend_timeout(&loop), 0);
  fs_release_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 3);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(reqs[i].result, UV_ECANCELED);
    CHECK_EQ(uv_cancel((uv_req_t*) &reqs[i]), UV_EBUSY);
    uv_fs_req_cleanup(&reqs[i]);
  }
  CHECK(!uv_loop_alive(&loop));
  /* Neither the write nor the truncation happened. */
  CHECK_OK(fstat(fd, &sb));
  CHECK_EQ(sb.st_size, 0);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * An embedder that waits on uv_backend_fd() itself: a queued request
 * makes uv_backend_timeout() 0, and once uv_run has handed it over the
 * descriptor becomes readable when it completes; after the callback the
 * descriptor is quiet again.
 */
static int backend_readable(uv_loop_t* loop, int ms) {
  struct pollfd p;

  p.fd = uv_backend_fd(loop);
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, ms);
}

TEST(embedder_sees_completions) {
  uv_loop_t loop;
  int fd;
  int i;

  fd = open_file(fs_path("embed"), O_RDWR | O_CREAT | O_TRUNC);
  start(&loop);
  cb_calls = 0;
  CHECK_OK(uv_fs_fsync(&loop, &one_req, fd, record_cb));
  CHECK_EQ(uv_backend_timeout(&loop), 0);
  for (i = 0; i < 1000 && cb_calls == 0; i++) {
    CHECK_OK(backend_readable(&loop, uv_backend_timeout(&loop)) >= 0 ? 0 : -1);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(one_req.result);
  uv_fs_req_cleanup(&one_req);
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(backend_readable(&loop, 0), 0);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * uv_loop_fork: the child never touches the parent's ring; requests
 * queued before the fork run in the child on a ring of its own.
 */
TEST(fork_keeps_rings_apart) {
  uv_loop_t loop;
  uv_fs_t child_req;
  int queued = ring_allowed();   /* the pool's items stay the parent's */
  pid_t pid;
  int status;

  start(&loop);
  /* Every pool thread started (and done with the allocation its start
   * came in) before the fork: a sanitizer's allocator without fork
   * handlers would otherwise leave the child a lock held by a thread
   * that is not there. */
  fs_start_pool(&loop);
  cb_calls = 0;
  if (queued)
    CHECK_OK(uv_fs_fstat(&loop, &child_req, root_fd(), record_cb));
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    CHECK_OK(uv_loop_fork(&loop));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(cb_calls, queued);
    if (queued) {
      CHECK_OK(child_req.result);
      uv_fs_req_cleanup(&child_req);
    }
    RUN(uv_fs_fstat(&loop, &one_req, root_fd(), record_cb));
    CHECK_OK(one_req.result);
    uv_fs_req_cleanup(&one_req);
    CHECK_OK(uv_loop_close(&loop));
    _exit(0);
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, queued);
  if (queued) {
    CHECK_OK(child_req.result);
    uv_fs_req_cleanup(&child_req);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* The parent's ring still works. */
  RUN(uv_fs_fstat(&loop, &one_req, root_fd(), record_cb));
  CHECK_OK(one_req.result);
  uv_fs_req_cleanup(&one_req);
  nl_test_close_loop(&loop);
}

/* A loop the kernel refuses a ring (here: no descriptor left for it)
 * runs its requests on the pool, and does not ask again for each one; a
 * later loop gets a ring once descriptors are free. */
TEST(refused_ring_falls_back_to_the_pool) {
  struct rlimit old, tight;
  uv_loop_t loop, loop2;
  int fd = root_fd();
  int probe;
  int i;

  start(&loop);
  CHECK_OK(getrlimit(RLIMIT_NOFILE, &old));
  /* The lowest free number: a limit there leaves no descriptor to make. */
  probe = open("/", O_RDONLY | O_CLOEXEC);
  CHECK(probe >= 0);
  CHECK_OK(close(probe));
  tight = old;
  tight.rlim_cur = (rlim_t) probe;
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &tight));
  for (i = 0; i < 3; i++) {
    RUN(uv_fs_fstat(&loop, &one_req, fd, record_cb));
    CHECK_OK(one_req.result);
    CHECK(S_ISDIR(one_req.statbuf.st_mode));
    uv_fs_req_cleanup(&one_req);
  }
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &old));
  CHECK_EQ(ring_fds(), 0);
  RUN(uv_fs_fstat(&loop, &one_req, fd, record_cb));
  CHECK_OK(one_req.result);
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(ring_fds(), 0);   /* this loop does not try again */
  start(&loop2);
  cb_calls = 0;
  CHECK_OK(uv_fs_fstat(&loop2, &one_req, fd, record_cb));
  CHECK_OK(uv_run(&loop2, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(one_req.result);
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(ring_fds(), ring_allowed() ? 1 : 0);
  nl_test_close_loop(&loop2);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * What the ring must not change (each of these once went wrong on it).
 */

/* Reads at the file position (-1), many at once from a cold cache, each
 * get their own block, as read(2) gives them, and the position ends
 * after the last. */
#define POS_READS 64
#define POS_BLOCK 4096

static char pos_bufs[POS_READS][POS_BLOCK];

/* A file of POS_READS blocks, each filled with its own number. */
static void write_numbered_blocks(const char* name) {
  static char data[POS_READS * POS_BLOCK];
  int i;

  for (i = 0; i < POS_READS * POS_BLOCK; i++)
    data[i] = (char) (i / POS_BLOCK);
  fs_write_file(fs_path(name), data, sizeof(data));
}

TEST(reads_at_the_file_position_do_not_overlap) {
  uv_fs_t reqs[POS_READS];
  int seen[POS_READS];
  uv_loop_t loop;
  uv_buf_t b;
  int fd, i, round;

  write_numbered_blocks("pos");
  start(&loop);
  for (round = 0; round < 3; round++) {
    fd = open_file(fs_path("pos"), O_RDONLY);
    CHECK_OK(fdatasync(fd));
    CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    cb_calls = 0;
    for (i = 0; i < POS_READS; i++) {
      b = uv_buf_init(pos_bufs[i], POS_BLOCK);
      CHECK_OK(uv_fs_read(&loop, &reqs[i], fd, &b, 1, -1, record_cb));
    }
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(cb_calls, POS_READS);
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < POS_READS; i++) {
      CHECK_EQ(reqs[i].result, POS_BLOCK);
      seen[(int) pos_bufs[i][0]]++;
      uv_fs_req_cleanup(&reqs[i]);
    }
    for (i = 0; i < POS_READS; i++)
      CHECK_EQ(seen[i], 1);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t) POS_READS * POS_BLOCK);
    CHECK_OK(close(fd));
  }
  nl_test_close_loop(&loop);
}

/* A write cut short by the file size limit reports what it wrote and
 * leaves the file's start alone, at the file position and at an offset
 * (the kernel ends such a write early; it is not continued elsewhere). */
TEST(a_short_write_is_final) {
  static char data[100 * 1024];
  char head[16];
  struct rlimit old, small;
  uv_loop_t loop;
  uv_buf_t b;
  int fd, at;

  CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
  memset(data, 'x', sizeof(data));
  memcpy(data, "first bytes", 11);
  CHECK_OK(getrlimit(RLIMIT_FSIZE, &old));
  small = old;
  small.rlim_cur = 64 * 1024;
  start(&loop);
  for (at = -1; at <= 0; at++) {
    fd = open_file(fs_path("short"), O_RDWR | O_CREAT | O_TRUNC);
    CHECK_OK(setrlimit(RLIMIT_FSIZE, &small));
    b = uv_buf_init(data, sizeof(data));
    RUN(uv_fs_write(&loop, &one_req, fd, &b, 1, at, record_cb));
    CHECK_OK(setrlimit(RLIMIT_FSIZE, &old));
    CHECK_EQ(one_req.result, 64 * 1024);
    uv_fs_req_cleanup(&one_req);
    if (at < 0)
      CHECK_EQ(lseek(fd, 0, SEEK_CUR), 64 * 1024);
    CHECK_EQ(pread(fd, head, 11, 0), 11);
    CHECK(memcmp(head, "first bytes", 11) == 0);
    CHECK_OK(close(fd));
  }
  nl_test_close_loop(&loop);
}

/* A pipe refuses an offset (ESPIPE) and, non-blocking, answers EAGAIN
 * instead of waiting: as read(2)/pread(2) do on a pool thread. */
TEST(pipes_keep_their_semantics) {
  uv_loop_t loop;
  char buf[8];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));

  CHECK_OK(pipe2(pipe_fds, O_NONBLOCK));
  CHECK_EQ(write(pipe_fds[1], "abc", 3), 3);
  start(&loop);
  fs_start_ring(&loop);
  RUN(uv_fs_read(&loop, &one_req, pipe_fds[0], &b, 1, 0, record_cb));
  CHECK_EQ(one_req.result, UV_ESPIPE);
  uv_fs_req_cleanup(&one_req);
  RUN(uv_fs_write(&loop, &one_req, pipe_fds[1], &b, 1, 5, record_cb));
  CHECK_EQ(one_req.result, UV_ESPIPE);
  uv_fs_req_cleanup(&one_req);
  RUN(uv_fs_read(&loop, &one_req, pipe_fds[0], &b, 1, -1, record_cb));
  CHECK_EQ(one_req.result, 3);
  uv_fs_req_cleanup(&one_req);
  RUN(uv_fs_read(&loop, &one_req, pipe_fds[0], &b, 1, -1, record_cb));
  CHECK_EQ(one_req.result, UV_EAGAIN);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(pipe_fds[0]));
  CHECK_OK(close(pipe_fds[1]));
  nl_test_close_loop(&loop);
}

/* Reads and writes at an offset of anything but a regular file or a
 * block device behave as pread(2)/pwrite(2) do: character devices, a
 * directory, a terminal, and descriptors that seek but refuse an offset
 * (eventfd, timerfd, inotify: ESPIPE; on the ring their reads would take
 * what they hold, or wait). */
static void expect_read_fd(uv_loop_t* l, int fd, const char* what,
                           int64_t off, size_t len, ssize_t want) {
  char buf[64];
  char ref[64];
  uv_buf_t b = uv_buf_init(buf, (unsigned int) len);
  uv_loop_t* lp = l;
  ssize_t r;

  CHECK(fd >= 0);
  r = pread(fd, ref, len, (off_t) off);
  CHECK_EQ(r < 0 ? uv_translate_sys_error(errno) : r, want);
  memset(buf, 'x', sizeof(buf));
  cb_calls = 0;
  CHECK_OK(uv_fs_read(lp, &one_req, fd, &b, 1, off, record_cb));
  CHECK_OK(uv_run(lp, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(one_req.result, want);
  if (want > 0 && strcmp(what, "/dev/zero") == 0)
    CHECK(buf[0] == 0 && buf[want - 1] == 0 && buf[want] == 'x');
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(fd));
}

/* A device the machine (or container) lacks is left out. */
static void expect_read(uv_loop_t* l, const char* path, int flags,
                        int64_t off, size_t len, ssize_t want) {
  int fd = open(path, flags | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT && strncmp(path, "/dev/", 5) == 0)
    return;
  expect_read_fd(l, fd, path, off, len, want);
}

TEST(other_files_read_as_pread) {
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init((char*) "data", 4);
  int fd;

  start(&loop);
  fs_start_ring(&loop);
  expect_read(&loop, "/dev/zero", O_RDONLY, 4096, 16, 16);
  expect_read(&loop, "/dev/null", O_RDONLY, 0, 16, 0);
  expect_read(&loop, "/dev/urandom", O_RDONLY, 0, 32, 32);
  expect_read(&loop, nl_test_tmpdir(), O_RDONLY | O_DIRECTORY, 0, 8,
              UV_EISDIR);
  fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  RUN(uv_fs_write(&loop, &one_req, fd, &b, 1, 7, record_cb));
  CHECK_EQ(one_req.result, 4);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(fd));
  expect_read_fd(&loop, eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd", 0,
                 8, UV_ESPIPE);
  expect_read_fd(&loop, timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), "timerfd",
                 0, 8, UV_ESPIPE);
  expect_read_fd(&loop, inotify_init1(IN_CLOEXEC | IN_NONBLOCK), "inotify", 0,
                 64, UV_ESPIPE);
  /* A pseudo-terminal's master, where the machine has them. */
  fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0) {
    CHECK_OK(fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK));
    expect_read_fd(&loop, fd, "pty", 0, 8, UV_ESPIPE);
  }
  nl_test_close_loop(&loop);
}

/* Opening a FIFO waits for the other end, for reading and for writing,
 * as open(2) does (the ring's first attempt, made without blocking,
 * would open for reading at once and refuse writing with ENXIO). */
static char fifo_path[512];
static int fifo_flags;

static void* fifo_other_end(void* arg) {
  int fd;

  (void) arg;
  uv_sleep(100);
  fd = open(fifo_path, fifo_flags);
  CHECK(fd >= 0);
  uv_sleep(50);
  CHECK_OK(close(fd));
  return NULL;
}

TEST(fifo_opens_wait_for_the_other_end) {
  uv_loop_t loop;
  pthread_t t;
  uint64_t t0;
  int mode;

  snprintf(fifo_path, sizeof(fifo_path), "%s", fs_path("fifo"));
  CHECK_OK(mkfifo(fifo_path, 0600));
  start(&loop);
  fs_start_ring(&loop);
  for (mode = 0; mode < 2; mode++) {
    fifo_flags = mode == 0 ? O_WRONLY : O_RDONLY;
    CHECK_OK(pthread_create(&t, NULL, fifo_other_end, NULL));
    t0 = uv_hrtime();
    RUN(uv_fs_open(&loop, &one_req, fifo_path,
                   mode == 0 ? O_RDONLY : O_WRONLY, 0, record_cb));
    CHECK(one_req.result >= 0);
    /* It waited for the thread's open. */
    CHECK(uv_hrtime() - t0 >= 90 * 1000000ull);
    CHECK_OK(close((int) one_req.result));
    uv_fs_req_cleanup(&one_req);
    CHECK_OK(pthread_join(t, NULL));
  }
  nl_test_close_loop(&loop);
}

/* A process whose seccomp filter refuses io_uring_enter (with the ring
 * already made): what the ring held goes to the pool, and so does every
 * later request; nothing hangs. */
TEST(refused_submission_goes_to_the_pool) {
  char buf[16];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  uv_loop_t loop;
  int round;
  int fd;

  fs_write_file(fs_path("seccomp"), "contents", 8);
  start(&loop);
  fs_start_ring(&loop);
  refuse_io_uring_enter();
  for (round = 0; round < 2; round++) {
    RUN(uv_fs_open(&loop, &one_req, fs_path("seccomp"), O_RDONLY, 0,
                   record_cb));
    CHECK(one_req.result >= 0);
    fd = (int) one_req.result;
    uv_fs_req_cleanup(&one_req);
    RUN(uv_fs_read(&loop, &one_req, fd, &b, 1, 0, record_cb));
    CHECK_EQ(one_req.result, 8);
    CHECK(memcmp(buf, "contents", 8) == 0);
    uv_fs_req_cleanup(&one_req);
    RUN(uv_fs_fstat(&loop, &one_req, fd, record_cb));
    CHECK_OK(one_req.result);
    CHECK_EQ(one_req.statbuf.st_size, 8);
    uv_fs_req_cleanup(&one_req);
    RUN(uv_fs_close(&loop, &one_req, fd, record_cb));
    CHECK_OK(one_req.result);
    uv_fs_req_cleanup(&one_req);
  }
  nl_test_close_loop(&loop);
}

/* A loop run by one thread, then by another once the first is done (and
 * gone): each thread's requests complete, on a ring of its own, and the
 * loop still holds one ring. (The kernel finishes ring requests through
 * the thread that submitted them.) */
static uv_loop_t moving_loop;

static void* run_a_chain(void* arg) {
  char buf[16];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  uv_fs_t req;
  int fd;

  (void) arg;
  fs_loop_thread = uv_thread_self();
  cb_calls = 0;
  CHECK_OK(uv_fs_open(&moving_loop, &req, fs_path("moving"), O_RDONLY, 0,
                      record_cb));
  CHECK_OK(uv_run(&moving_loop, UV_RUN_DEFAULT));
  CHECK(req.result >= 0);
  fd = (int) req.result;
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_read(&moving_loop, &req, fd, &b, 1, 0, record_cb));
  CHECK_OK(uv_run(&moving_loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 6);
  CHECK(memcmp(buf, "moving", 6) == 0);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_close(&moving_loop, &req, fd, record_cb));
  CHECK_OK(uv_run(&moving_loop, UV_RUN_DEFAULT));
  CHECK_OK(req.result);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(cb_calls, 3);
  return NULL;
}

TEST(loop_moves_between_threads) {
  pthread_t t;
  int i;

  fs_write_file(fs_path("moving"), "moving", 6);
  CHECK_OK(uv_loop_init(&moving_loop));
  for (i = 0; i < 3; i++) {
    CHECK_OK(pthread_create(&t, NULL, run_a_chain, NULL));
    CHECK_OK(pthread_join(t, NULL));
  }
  run_a_chain(NULL);
  CHECK_EQ(ring_fds(), ring_allowed() ? 1 : 0);
  nl_test_close_loop(&moving_loop);
}

/* A loop that one thread runs with requests still in the kernel (it
 * returns from uv_run NOWAIT), and another thread finishes: the
 * callbacks come, whether the first thread has exited or waits. */
static uv_loop_t handover_loop;
static uv_sem_t handover_parked;
static uv_sem_t handover_release;

static void* submit_and_leave(void* arg) {
  int park = arg != NULL;
  int i;

  fs_loop_thread = uv_thread_self();   /* callbacks may run here too */
  for (i = 0; i < 4; i++)
    CHECK_OK(uv_fs_fsync(&handover_loop, &many_reqs[i], root_fd(),
                         record_cb));
  uv_run(&handover_loop, UV_RUN_NOWAIT);
  if (park) {
    uv_sem_post(&handover_parked);
    uv_sem_wait(&handover_release);
  }
  return NULL;
}

TEST(requests_in_flight_when_another_thread_takes_the_loop) {
  pthread_t t;
  int park, i;

  CHECK_OK(uv_loop_init(&handover_loop));
  CHECK_OK(uv_sem_init(&handover_parked, 0));
  CHECK_OK(uv_sem_init(&handover_release, 0));
  for (park = 0; park < 2; park++) {
    cb_calls = 0;
    CHECK_OK(pthread_create(&t, NULL, submit_and_leave,
                            park ? (void*) 1 : NULL));
    if (park)
      uv_sem_wait(&handover_parked);
    else
      CHECK_OK(pthread_join(t, NULL));
    fs_loop_thread = uv_thread_self();
    CHECK_OK(uv_run(&handover_loop, UV_RUN_DEFAULT));
    CHECK_EQ(cb_calls, 4);
    for (i = 0; i < 4; i++) {
      CHECK(many_reqs[i].result == 0 || many_reqs[i].result == UV_EINVAL);
      uv_fs_req_cleanup(&many_reqs[i]);
    }
    if (park) {
      uv_sem_post(&handover_release);
      CHECK_OK(pthread_join(t, NULL));
    }
  }
  uv_sem_destroy(&handover_parked);
  uv_sem_destroy(&handover_release);
  nl_test_close_loop(&handover_loop);
}

/* An embedder with more requests than the ring has places, all held in
 * the kernel (opens of a FIFO waiting for a writer): uv_backend_timeout()
 * is not 0 (nothing can go on until one completes, so spinning would
 * only burn the CPU), and once a writer comes every open completes. */
#define FULL_OPENS 140

static void fifo_open_cb(uv_fs_t* req) {
  CHECK(req->result >= 0);
  CHECK_OK(close((int) req->result));
  uv_fs_req_cleanup(req);
  cb_calls++;
}

TEST(a_full_ring_does_not_spin) {
  uv_loop_t loop;
  int writer, i;

  snprintf(fifo_path, sizeof(fifo_path), "%s", fs_path("full-fifo"));
  CHECK_OK(mkfifo(fifo_path, 0600));
  start(&loop);
  for (i = 0; i < FULL_OPENS; i++)
    CHECK_OK(uv_fs_open(&loop, &many_reqs[i], fifo_path, O_RDONLY, 0,
                        fifo_open_cb));
  for (i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(cb_calls, 0);
  CHECK_EQ(uv_backend_timeout(&loop), -1);
  writer = open(fifo_path, O_WRONLY);
  CHECK(writer >= 0);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, FULL_OPENS);
  CHECK_OK(close(writer));
  nl_test_close_loop(&loop);
}

/* By default (not "all"), a request made outside uv_run goes to the pool,
 * which starts it at once and can cancel it until a worker takes it, as
 * libuv's; one made while the loop runs goes on the ring. */
static uv_fs_t inside_req;

static void make_inside(uv_timer_t* t) {
  CHECK_OK(uv_fs_fstat(t->loop, &inside_req, root_fd(), record_cb));
  uv_close((uv_handle_t*) t, NULL);
}

TEST(requests_outside_uv_run_use_the_pool) {
  const char* env = getenv("NODELOOP_IO_URING");
  uv_timer_t timer;
  uv_loop_t loop;
  int off = env != NULL && strcmp(env, "0") == 0;

  CHECK_OK(setenv("NODELOOP_IO_URING", off ? "0" : "1", 1));
  start(&loop);
  fs_start_pool(&loop);
  fs_block_pool(&loop);
  cb_calls = 0;
  CHECK_OK(uv_fs_fstat(&loop, &one_req, root_fd(), record_cb));
  CHECK_OK(uv_cancel((uv_req_t*) &one_req));
  CHECK_EQ(ring_fds(), 0);
  fs_release_pool();
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(one_req.result, UV_ECANCELED);
  uv_fs_req_cleanup(&one_req);
  CHECK_EQ(ring_fds(), 0);
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, make_inside, 0, 0));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 2);
  CHECK_OK(inside_req.result);
  uv_fs_req_cleanup(&inside_req);
  CHECK_EQ(ring_fds(), ring_allowed() ? 1 : 0);
  nl_test_close_loop(&loop);
}

/* Reads of data not in the page cache, at offsets: each comes back with
 * its block, also a single one while the loop has nothing else to wake it
 * (the kernel must not leave its completion to the loop thread's next
 * system call). */
TEST(cold_reads_complete) {
  uv_fs_t reqs[POS_READS];
  uv_loop_t loop;
  uv_buf_t b;
  int fd, i, round;

  write_numbered_blocks("cold");
  start(&loop);
  fd = open_file(fs_path("cold"), O_RDONLY);
  for (round = 0; round < 3; round++) {
    CHECK_OK(fdatasync(fd));
    CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    cb_calls = 0;
    if (round == 0) {
      b = uv_buf_init(pos_bufs[0], POS_BLOCK);
      RUN(uv_fs_read(&loop, &one_req, fd, &b, 1, 7 * POS_BLOCK, record_cb));
      CHECK_EQ(one_req.result, POS_BLOCK);
      CHECK_EQ(pos_bufs[0][0], 7);
      uv_fs_req_cleanup(&one_req);
      continue;
    }
    for (i = 0; i < POS_READS; i++) {
      b = uv_buf_init(pos_bufs[i], POS_BLOCK);
      CHECK_OK(uv_fs_read(&loop, &reqs[i], fd, &b, 1,
                          (int64_t) (POS_READS - 1 - i) * POS_BLOCK,
                          record_cb));
    }
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(cb_calls, POS_READS);
    for (i = 0; i < POS_READS; i++) {
      CHECK_EQ(reqs[i].result, POS_BLOCK);
      CHECK_EQ(pos_bufs[i][0], POS_READS - 1 - i);
      CHECK_EQ(pos_bufs[i][POS_BLOCK - 1], POS_READS - 1 - i);
      uv_fs_req_cleanup(&reqs[i]);
    }
  }
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}
