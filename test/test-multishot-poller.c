/* The poller on multishot polls (NODELOOP_POLLER=poll,
 * src/linux/uring_mpoll.c). Each test passes with epoll too (io_uring
 * refused or off), asserting what that poller does; mpoll_active() says
 * which one the loop has. The stream and UDP suites run again in this
 * mode as multishot_poller.* entries (test/CMakeLists.txt). */
#include "test.h"
#include "ring-helpers.h"

#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void use_the_multishot_poller(void) {
  setenv("NODELOOP_POLLER", "poll", 0);
}

/* The loop made its ring with it: one io_uring descriptor, before any
 * file request. */
static int mpoll_active(void) {
  const char* env = getenv("NODELOOP_POLLER");
  return ring_allowed() && env != NULL && strcmp(env, "poll") == 0 &&
         ring_fds() == 1;
}

static void make_pair(int sv[2]) {
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
}

static int calls;

static void count_cb(uv_poll_t* h, int status, int events) {
  (void) h;
  CHECK_OK(status);
  CHECK(events & UV_READABLE);
  calls++;
}

/* A socketpair whose sv[0] a poll handle watches for reading, handed to
 * the kernel by one non-blocking run. */
static void watched_pair(uv_loop_t* loop, uv_poll_t* p, int sv[2],
                         uv_poll_cb cb) {
  make_pair(sv);
  calls = 0;
  CHECK_OK(uv_poll_init(loop, p, sv[0]));
  CHECK_OK(uv_poll_start(p, UV_READABLE, cb));
  CHECK_EQ(uv_run(loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 0);
}

/* Whether the peer of fd is gone: a send fails with EPIPE. */
static int peer_closed(int fd) {
  return send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 &&
         errno == EPIPE;
}

/* ------------------------------------------------------------------- */

/* A multishot poll reports each wakeup once; the loop still reports a
 * descriptor for as long as it stays readable, as epoll does. */
TEST(readable_until_read_like_epoll) {
  uv_loop_t loop;
  uv_poll_t p;
  char buf[8];
  int sv[2];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  watched_pair(&loop, &p, sv, count_cb);
  CHECK_EQ(write(sv[1], "ab", 2), 2);
  for (i = 1; i <= 3; i++) {
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
    CHECK_EQ(calls, i);
  }
  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 2);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
    CHECK_EQ(calls, 3);
  }
  uv_close((uv_handle_t*) &p, NULL);
  nl_test_close_loop(&loop);
  close(sv[0]);
  close(sv[1]);
}

static void read_alloc(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  static char space[64];
  (void) h;
  (void) size;
  *buf = uv_buf_init(space, sizeof(space));
}

static void read_nothing(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  (void) s;
  (void) n;
  (void) buf;
  CHECK(0);
}

/* A poll holds its file open; closing a stream's handle removes it
 * before the descriptor is closed, so the peer sees the close at once,
 * without another poll. */
TEST(closing_a_stream_closes_its_file_at_once) {
  uv_loop_t loop;
  uv_pipe_t p;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  make_pair(sv);
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, sv[0]));
  CHECK_OK(uv_read_start((uv_stream_t*) &p, read_alloc, read_nothing));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK(peer_closed(sv[1]));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&loop);
  close(sv[1]);
}

static int stop_fd;

static void stop_and_close_cb(uv_poll_t* h, int status, int events) {
  (void) status;
  (void) events;
  CHECK_OK(uv_poll_stop(h));
  CHECK_OK(close(stop_fd));
  calls++;
}

/* A poll handle stopped, its descriptor closed by the user, and the loop
 * not run again: the poll is gone when uv_run returns. */
TEST(stopped_watchers_release_files_when_run_returns) {
  uv_loop_t loop;
  uv_poll_t p;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  watched_pair(&loop, &p, sv, stop_and_close_cb);
  stop_fd = sv[0];
  CHECK_EQ(write(sv[1], "a", 1), 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(calls, 1);
  CHECK(peer_closed(sv[1]));
  uv_close((uv_handle_t*) &p, NULL);
  nl_test_close_loop(&loop);
  close(sv[1]);
}

/* What this poller cannot do as epoll does: a descriptor closed behind
 * the loop's back while its poll handle is active keeps its file open
 * (the poll holds it) until the handle stops. With epoll the file closes
 * at once. */
TEST(closed_behind_the_loops_back_stays_open_until_stopped) {
  uv_loop_t loop;
  uv_poll_t p;
  int active;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  active = mpoll_active();
  watched_pair(&loop, &p, sv, count_cb);
  CHECK_OK(close(sv[0]));
  CHECK_EQ(peer_closed(sv[1]), !active);
  CHECK_OK(uv_poll_stop(&p));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK(peer_closed(sv[1]));
  uv_close((uv_handle_t*) &p, NULL);
  nl_test_close_loop(&loop);
  close(sv[1]);
}

/* The ring refuses io_uring_enter after the loop made it (a seccomp
 * filter): the loop moves to epoll, every watcher registered afresh, and
 * the readiness it was waiting for still arrives. */
TEST(refused_ring_moves_the_loop_to_epoll) {
  uv_loop_t loop;
  uv_poll_t p;
  char buf[8];
  int active;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  active = mpoll_active();
  watched_pair(&loop, &p, sv, count_cb);
  refuse_io_uring_enter();
  CHECK_EQ(write(sv[1], "ab", 2), 2);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_EQ(calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 2);   /* level-triggered, on epoll now */
  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 2);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(calls, 2);
  if (active)
    CHECK_EQ(ring_fds(), 0);   /* the poller's ring is closed */
  uv_close((uv_handle_t*) &p, NULL);
  nl_test_close_loop(&loop);
  close(sv[0]);
  close(sv[1]);
}
