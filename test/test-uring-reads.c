/* Reads at an offset on the loop's io_uring (src/linux/uring.c) give what
 * pread(2) gives on a pool thread, whatever the descriptor: sockets and
 * devices, a first try that cannot finish or stops short (a file partly
 * cached, /dev/zero), descriptors that are never readable (a message
 * queue). Every test also passes without a ring (NODELOOP_IO_URING=0,
 * kernel.io_uring_disabled=2), where the same requests run on the pool. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"
#include "ring-helpers.h"

#include "nodeloop.h"

#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Requests made before uv_run go on the ring too (test-uring.c). */
__attribute__((constructor)) static void ring_for_every_request(void) {
  setenv("NODELOOP_IO_URING", "all", 0);
}

static uv_fs_t one_req;

/* A socket with data refuses an offset too: the ring would read it. */
TEST(sockets_with_data_refuse_an_offset) {
  uv_loop_t loop;
  char buf[8];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  int sv[2];

  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  CHECK_EQ(write(sv[1], "abc", 3), 3);
  start(&loop);
  fs_start_ring(&loop);
  RUN(uv_fs_read(&loop, &one_req, sv[0], &b, 1, 0, record_cb));
  CHECK_EQ(one_req.result, UV_ESPIPE);
  uv_fs_req_cleanup(&one_req);
  RUN(uv_fs_read(&loop, &one_req, sv[0], &b, 1, -1, record_cb));
  CHECK_EQ(one_req.result, 3);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(close(sv[0]));
  CHECK_OK(close(sv[1]));
  nl_test_close_loop(&loop);
}

/* A device that takes an offset but whose read cannot finish at once
 * (the kernel's log, read past its end) is read by the pool, as pread(2):
 * with the pool held, the request waits there, can be cancelled as a
 * queued request can, and otherwise ends as pread(2) does (EAGAIN). */
TEST(devices_that_would_wait_go_to_the_pool) {
  uv_loop_t loop;
  char buf[256];
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  int round;
  int fd;
  int i;

  fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    nl_test_skip("/dev/kmsg cannot be opened here (needs root or "
                 "CAP_SYSLOG)");
  CHECK(lseek(fd, 0, SEEK_END) >= 0);
  CHECK_EQ(pread(fd, buf, sizeof(buf), 0), -1);
  CHECK_EQ(errno, EAGAIN);
  start(&loop);
  fs_start_ring(&loop);
  for (round = 0; round < 2; round++) {
    fs_block_pool(&loop);
    cb_calls = 0;
    CHECK_OK(uv_fs_read(&loop, &one_req, fd, &b, 1, 0, record_cb));
    for (i = 0; i < 20; i++) {
      uv_run(&loop, UV_RUN_NOWAIT);
      uv_sleep(1);
    }
    CHECK_EQ(cb_calls, 0);
    if (round == 0) {
      CHECK_OK(uv_cancel((uv_req_t*) &one_req));
      fs_release_pool();
      CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
      CHECK_EQ(one_req.result, UV_ECANCELED);
    } else {
      fs_release_pool();
      CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
      /* Or a record, if the kernel logged one meanwhile. */
      CHECK(one_req.result == UV_EAGAIN || one_req.result > 0);
    }
    CHECK_EQ(cb_calls, 1);
    uv_fs_req_cleanup(&one_req);
    fs_destroy_blockers();
  }
  CHECK_OK(uv_run(&loop, UV_RUN_NOWAIT));
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

#define ZERO_READ (64u << 20)
#define ZERO_READS 20

/* /dev/zero stops a read made without waiting when the thread should
 * yield, so the first try on the ring can come back short; pread(2)
 * never does. Every read is whole. (Short tries come on an idle machine
 * for reads this large, and every time beside a busy process.) */
TEST(zero_reads_are_whole) {
  uv_loop_t loop;
  uv_buf_t b[2];
  char* buf;
  int fd;
  int i;

  buf = malloc(ZERO_READ);
  CHECK(buf != NULL);
  fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  start(&loop);
  fs_start_ring(&loop);
  for (i = 0; i < ZERO_READS; i++) {
    buf[0] = buf[ZERO_READ - 1] = 'x';
    buf[ZERO_READ / 2] = 'x';
    if (i % 2 == 0) {
      b[0] = uv_buf_init(buf, ZERO_READ);
      RUN(uv_fs_read(&loop, &one_req, fd, b, 1, 0, record_cb));
    } else {
      b[0] = uv_buf_init(buf, ZERO_READ / 2);
      b[1] = uv_buf_init(buf + ZERO_READ / 2, ZERO_READ / 2);
      RUN(uv_fs_read(&loop, &one_req, fd, b, 2, 0, record_cb));
    }
    CHECK_EQ(one_req.result, (ssize_t) ZERO_READ);
    CHECK(buf[0] == 0 && buf[ZERO_READ / 2] == 0 && buf[ZERO_READ - 1] == 0);
    uv_fs_req_cleanup(&one_req);
  }
  CHECK_OK(close(fd));
  free(buf);
  nl_test_close_loop(&loop);
}

#define PART_LEN (256 * 1024)

static char part_data[PART_LEN];
static char part_got[PART_LEN];

/* A file whose first `cached` bytes only are in the page cache. */
static int partly_cached_file(size_t cached) {
  char tmp[4096];
  int fd;
  size_t i;

  for (i = 0; i < PART_LEN; i++)
    part_data[i] = (char) ('a' + (i * 7 + i / 4096) % 26);
  fd = open(fs_path("part"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK_EQ(pwrite(fd, part_data, PART_LEN, 0), PART_LEN);
  CHECK_OK(fdatasync(fd));
  CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
  for (i = 0; i < cached; i += sizeof(tmp))
    CHECK(pread(fd, tmp, sizeof(tmp), (off_t) i) > 0);
  return fd;
}

/* Part of a file in the page cache: the first try reads that part only
 * (it may not wait for the disk); the read still ends whole, with one
 * buffer, with several, and with the cached part ending inside one. */
TEST(partly_cached_reads_are_whole) {
  static const size_t splits[][3] = {
      {PART_LEN, 0, 0},
      {PART_LEN / 4, PART_LEN / 4, PART_LEN / 2},
      {1000, 100000, PART_LEN - 101000},
      {0, PART_LEN / 2, PART_LEN / 2},
  };
  uv_loop_t loop;
  uv_buf_t b[3];
  unsigned int n;
  unsigned int k;
  size_t at;
  int round;
  int fd;

  start(&loop);
  fs_start_ring(&loop);
  for (round = 0; round < 8; round++) {
    fd = partly_cached_file(round % 2 == 0 ? 32 * 1024 : 100 * 1024);
    memset(part_got, 'x', sizeof(part_got));
    n = 0;
    at = 0;
    for (k = 0; k < 3; k++) {
      if (splits[round / 2][k] == 0 && k > 0)
        break;
      b[n++] = uv_buf_init(part_got + at, (unsigned int) splits[round / 2][k]);
      at += splits[round / 2][k];
    }
    CHECK_EQ(at, (size_t) PART_LEN);
    RUN(uv_fs_read(&loop, &one_req, fd, b, n, 0, record_cb));
    CHECK_EQ(one_req.result, PART_LEN);
    CHECK(memcmp(part_got, part_data, PART_LEN) == 0);
    uv_fs_req_cleanup(&one_req);
    /* From an offset, to the end of the file and past it. */
    CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    CHECK(pread(fd, part_got, 4096, 4096) == 4096);
    b[0] = uv_buf_init(part_got, PART_LEN);
    RUN(uv_fs_read(&loop, &one_req, fd, b, 1, 4096, record_cb));
    CHECK_EQ(one_req.result, PART_LEN - 4096);
    CHECK(memcmp(part_got, part_data + 4096, PART_LEN - 4096) == 0);
    uv_fs_req_cleanup(&one_req);
    CHECK_OK(close(fd));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_NOWAIT));
  nl_test_close_loop(&loop);
}

/* A message queue's descriptor is a regular file that poll(2) calls
 * readable only while it holds a message, and its read (the queue's
 * state) never waits: the read ends at once, as pread(2), also when
 * the queue is empty, instead of waiting on the ring for a message. */
TEST(message_queue_reads_do_not_wait) {
  struct mq_attr attr;
  char name[64];
  char want[128];
  char buf[128];
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init(buf, sizeof(buf));
  ssize_t n;
  int fd;

  memset(&attr, 0, sizeof(attr));
  attr.mq_maxmsg = 4;
  attr.mq_msgsize = 16;
  snprintf(name, sizeof(name), "/nl-test-%d", (int) getpid());
  fd = mq_open(name, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
  if (fd < 0)
    nl_test_skip("mq_open failed (no POSIX message queues here)");
  CHECK_OK(mq_unlink(name));
  n = pread(fd, want, sizeof(want), 0);
  CHECK(n > 0);
  start(&loop);
  fs_start_ring(&loop);
  memset(buf, 0, sizeof(buf));
  RUN(uv_fs_read(&loop, &one_req, fd, &b, 1, 0, record_cb));
  CHECK_EQ(one_req.result, n);
  CHECK(memcmp(buf, want, (size_t) n) == 0);
  uv_fs_req_cleanup(&one_req);
  CHECK_OK(uv_run(&loop, UV_RUN_NOWAIT));
  CHECK_EQ(cb_calls, 1);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* A loop whose thread exits with reads of the disk still on the kernel's
 * workers, and that another thread then runs to its end: the kernel
 * cancels an exiting thread's requests, and every read still ends whole
 * (the pool does those), as with libuv's pool threads; also reads whose
 * first try read a cached first part. The loop's metrics count each
 * read once done, none left in flight. */
#define GONE_READS 32
#define GONE_LEN (64 * 1024)
#define GONE_STRIDE (3 * GONE_LEN)

static uv_loop_t gone_loop;
static uv_fs_t gone_reqs[GONE_READS];
static char gone_bufs[GONE_READS][GONE_LEN];
static int gone_fd;

static void* submit_and_exit(void* arg) {
  uv_buf_t b;
  int i;

  (void) arg;
  fs_loop_thread = uv_thread_self();
  for (i = 0; i < GONE_READS; i++) {
    b = uv_buf_init(gone_bufs[i], GONE_LEN);
    CHECK_OK(uv_fs_read(&gone_loop, &gone_reqs[i], gone_fd, &b, 1,
                        (int64_t) i * GONE_STRIDE, record_cb));
  }
  uv_run(&gone_loop, UV_RUN_NOWAIT);
  return NULL;
}

TEST(reads_outlive_the_thread_that_made_them) {
  static char block[GONE_STRIDE];
  nl_loop_metrics_t m;
  pthread_t t;
  int round;
  int i;
  int j;

  gone_fd = open(fs_path("gone"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
                 0600);
  CHECK(gone_fd >= 0);
  for (i = 0; i < GONE_READS; i++) {
    memset(block, 'A' + i % 26, sizeof(block));
    CHECK_EQ(pwrite(gone_fd, block, sizeof(block), (off_t) i * GONE_STRIDE),
             (ssize_t) sizeof(block));
  }
  CHECK_OK(fdatasync(gone_fd));
  CHECK_OK(uv_loop_init(&gone_loop));
  CHECK_OK(nl_loop_metrics_enable(&gone_loop));
  fs_start_ring(&gone_loop);
  for (round = 0; round < 4; round++) {
    CHECK_OK(posix_fadvise(gone_fd, 0, 0, POSIX_FADV_DONTNEED));
    if (round >= 2)   /* the first 4 KiB of each read cached */
      for (i = 0; i < GONE_READS; i++)
        CHECK_EQ(pread(gone_fd, block, 4096, (off_t) i * GONE_STRIDE), 4096);
    memset(gone_bufs, 0, sizeof(gone_bufs));
    cb_calls = 0;
    CHECK_OK(pthread_create(&t, NULL, submit_and_exit, NULL));
    CHECK_OK(pthread_join(t, NULL));
    fs_loop_thread = uv_thread_self();
    CHECK_OK(uv_run(&gone_loop, UV_RUN_DEFAULT));
    CHECK_EQ(cb_calls, GONE_READS);
    for (i = 0; i < GONE_READS; i++) {
      CHECK_EQ(gone_reqs[i].result, GONE_LEN);
      for (j = 0; j < GONE_LEN; j += 4096)
        CHECK_EQ(gone_bufs[i][j], 'A' + i % 26);
      CHECK_EQ(gone_reqs[i].off, (int64_t) i * GONE_STRIDE);
      CHECK_EQ(gone_reqs[i].nbufs, 0);
      uv_fs_req_cleanup(&gone_reqs[i]);
    }
  }
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  CHECK_OK(nl_loop_metrics(&gone_loop, &m));
  CHECK_EQ(m.enabled, 1);
  CHECK_EQ(m.pool_submitted[NL_WORK_FS], m.pool_completed[NL_WORK_FS]);
  CHECK(m.pool_completed[NL_WORK_FS] >= 4 * GONE_READS);
  CHECK(m.pool_run_time.max < 10ull * 1000 * 1000 * 1000);
  CHECK_OK(close(gone_fd));
  nl_test_close_loop(&gone_loop);
}

/* The same for an open of a FIFO that waits for a writer on a kernel
 * worker when its thread exits: the kernel interrupts it (its result
 * would be the kernel's own ERESTARTSYS), and the pool opens it again,
 * so it ends with a descriptor once a writer comes. */
static void* open_fifo_and_exit(void* arg) {
  (void) arg;
  fs_loop_thread = uv_thread_self();
  CHECK_OK(uv_fs_open(&gone_loop, &gone_reqs[0], fs_path("gone-fifo"),
                      O_RDONLY, 0, record_cb));
  uv_run(&gone_loop, UV_RUN_NOWAIT);
  uv_sleep(20);   /* on the kernel's worker by now */
  return NULL;
}

static void* fifo_writer(void* arg) {
  int fd;

  (void) arg;
  uv_sleep(100);
  fd = open(fs_path("gone-fifo"), O_WRONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  uv_sleep(50);
  CHECK_OK(close(fd));
  return NULL;
}

TEST(fifo_open_outlives_the_thread_that_made_it) {
  pthread_t t;
  pthread_t w;

  CHECK_OK(mkfifo(fs_path("gone-fifo"), 0600));
  CHECK_OK(uv_loop_init(&gone_loop));
  fs_start_ring(&gone_loop);
  cb_calls = 0;
  CHECK_OK(pthread_create(&t, NULL, open_fifo_and_exit, NULL));
  CHECK_OK(pthread_join(t, NULL));
  CHECK_OK(pthread_create(&w, NULL, fifo_writer, NULL));
  fs_loop_thread = uv_thread_self();
  CHECK_OK(uv_run(&gone_loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK(gone_reqs[0].result >= 0);
  CHECK_OK(close((int) gone_reqs[0].result));
  uv_fs_req_cleanup(&gone_reqs[0]);
  CHECK_OK(pthread_join(w, NULL));
  nl_test_close_loop(&gone_loop);
}

/* A read of more than one read(2) moves (0x7ffff000 bytes: 768 vectors
 * of one 4 MiB buffer) from /dev/zero while two threads keep both CPUs
 * busy, so that its first try stops short: the tries together read what
 * preadv(2) reads, no more. */
#define BIG_VECS 768
#define BIG_BUF (4u << 20)

static atomic_int big_spin;

static void* big_spinner(void* arg) {
  (void) arg;
  while (atomic_load_explicit(&big_spin, memory_order_relaxed))
    ;
  return NULL;
}

TEST(reads_over_2gib_count_as_preadv) {
  static uv_buf_t bufs[BIG_VECS];
  static struct iovec iov[BIG_VECS];
  pthread_t spinners[2];
  uv_loop_t loop;
  char* buf;
  ssize_t want;
  int round;
  int fd;
  int i;

  buf = malloc(BIG_BUF);
  CHECK(buf != NULL);
  for (i = 0; i < BIG_VECS; i++) {
    bufs[i] = uv_buf_init(buf, BIG_BUF);
    iov[i].iov_base = buf;
    iov[i].iov_len = BIG_BUF;
  }
  fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  want = preadv(fd, iov, BIG_VECS, 0);
  CHECK_EQ(want, 0x7ffff000);
  start(&loop);
  fs_start_ring(&loop);
  atomic_store(&big_spin, 1);
  for (i = 0; i < 2; i++)
    CHECK_OK(pthread_create(&spinners[i], NULL, big_spinner, NULL));
  for (round = 0; round < 2; round++) {
    RUN(uv_fs_read(&loop, &one_req, fd, bufs, BIG_VECS, 0, record_cb));
    CHECK_EQ(one_req.result, want);
    CHECK_EQ(one_req.off, 0);
    uv_fs_req_cleanup(&one_req);
  }
  atomic_store(&big_spin, 0);
  for (i = 0; i < 2; i++)
    CHECK_OK(pthread_join(spinners[i], NULL));
  CHECK_OK(close(fd));
  free(buf);
  nl_test_close_loop(&loop);
}
