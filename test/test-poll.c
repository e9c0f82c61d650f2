/* Poll handles: readiness of pipes, socket pairs and loopback TCP,
 * disconnection, priority data, errors, stop/restart/close from
 * callbacks, bad input, descriptors epoll refuses, two handles on one
 * descriptor, descriptors closed behind the loop's back, descriptor
 * numbers reused, fork, and a random churn.
 *
 * Where libuv 1.44 has an answer, the expectation is the one observed on
 * Debian's libuv (noted "libuv:"); where it crashes, nodeloop returns an
 * error or reports one through the callback instead.
 */
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct watch {
  uv_poll_t h;
  int fd;
  int wanted;          /* the events the handle was last started with */
  int calls;
  int last_status;
  int last_events;
  int all_events;      /* every event seen, or-ed */
  int action;          /* what the callback does on call number action_at */
  int action_at;
  int restart_events;  /* ACT_RESTART */
  struct watch* other; /* ACT_STOP_OTHER, ACT_CLOSE_OTHER */
};

enum {
  ACT_NONE,
  ACT_STOP,         /* stop this handle */
  ACT_STOP_OTHER,   /* stop the other handle, then this one */
  ACT_CLOSE_OTHER,  /* close the other handle, then this one */
  ACT_RESTART,      /* start again with restart_events */
  ACT_DRAIN         /* read what is readable (every call) */
};

static int close_calls;
static int total_calls;   /* of watch_cb, in every test */

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

/* Reads what is there, without blocking even on a blocking descriptor
 * (one whose number a test reused behind the handle's back). */
static void drain(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  char buf[4096];

  while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
         read(fd, buf, sizeof(buf)) > 0)
    ;
}

static void watch_cb(uv_poll_t* h, int status, int events) {
  struct watch* w = (struct watch*) h;

  /* What libuv promises: an error comes with no events, and success with
   * at least one event, all of them asked for. */
  if (status == 0) {
    CHECK(events != 0);
    CHECK_EQ(events & ~w->wanted, 0);
    CHECK(uv_is_active((uv_handle_t*) h));
  } else {
    CHECK(status < 0);
    CHECK_EQ(events, 0);
    CHECK(!uv_is_active((uv_handle_t*) h));   /* an error stops it */
  }
  w->calls++;
  total_calls++;
  w->last_status = status;
  w->last_events = events;
  w->all_events |= events;
  if (w->action == ACT_DRAIN && (events & UV_READABLE))
    drain(w->fd);
  if (w->calls != w->action_at)
    return;
  switch (w->action) {
    case ACT_STOP:
      CHECK_OK(uv_poll_stop(h));
      break;
    case ACT_STOP_OTHER:
      CHECK_OK(uv_poll_stop(&w->other->h));
      CHECK_OK(uv_poll_stop(h));
      break;
    case ACT_CLOSE_OTHER:
      uv_close((uv_handle_t*) &w->other->h, close_cb);
      uv_close((uv_handle_t*) h, close_cb);
      break;
    case ACT_RESTART:
      CHECK_OK(uv_poll_start(h, w->restart_events, watch_cb));
      w->wanted = w->restart_events;
      break;
  }
}

static void watch_init(uv_loop_t* loop, struct watch* w, int fd) {
  memset(w, 0, sizeof(*w));
  w->fd = fd;
  CHECK_OK(uv_poll_init(loop, &w->h, fd));
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &w->h), UV_POLL);
}

static void watch_start(struct watch* w, int events) {
  CHECK_OK(uv_poll_start(&w->h, events, watch_cb));
  w->wanted = events;
  CHECK(uv_is_active((uv_handle_t*) &w->h));
}

static void watch(uv_loop_t* loop, struct watch* w, int fd, int events) {
  watch_init(loop, w, fd);
  watch_start(w, events);
}

/* The loop has nothing more to report: a few non-blocking iterations run
 * no callback. */
static void expect_quiet(uv_loop_t* loop, const struct watch* w) {
  int calls = w->calls;
  int i;

  for (i = 0; i < 3; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    CHECK_EQ(w->calls, calls);
  }
}

static void pair(int sv[2]) {
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
}

static void close_pair(int sv[2]) {
  close(sv[0]);
  close(sv[1]);
}

static void put(int fd, const char* s) {
  CHECK_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (int64_t) strlen(s));
}

/* A connected loopback TCP pair, or a skip. */
static void tcp_pair(int* a, int* b) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int l;

  l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0)
    nl_test_skip("no TCP sockets here");
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr*) &sa, sizeof(sa)) != 0 || listen(l, 1) != 0 ||
      getsockname(l, (struct sockaddr*) &sa, &len) != 0) {
    close(l);
    nl_test_skip("no loopback TCP listener here");
  }
  *a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(*a >= 0);
  if (connect(*a, (struct sockaddr*) &sa, sizeof(sa)) != 0) {
    close(l);
    nl_test_skip("cannot connect over loopback TCP");
  }
  *b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  CHECK(*b >= 0);
  close(l);
}

/* Resets the connection from b's side, and waits until a sees it. */
static void tcp_reset(int a, int b) {
  struct linger lg = {1, 0};
  struct pollfd p = {a, 0, 0};

  CHECK_OK(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  CHECK_OK(close(b));
  CHECK_EQ(poll(&p, 1, 5000), 1);
  CHECK(p.revents & POLLERR);
}

/* Waits until fd reports one of events (poll(2), not the loop). */
static void wait_fd(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  CHECK_EQ(poll(&p, 1, 5000), 1);
}

static int is_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  CHECK(flags != -1);
  return (flags & O_NONBLOCK) != 0;
}

/* ---------------------------------------------------------------------
 * Readiness.
 */

/* Level triggered, as documented: a callback that leaves the data
 * unread is called again; once it is read, the loop goes quiet. */
TEST(readable_socketpair) {
  uv_loop_t loop;
  struct watch w;
  char buf[8];
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 0);

  put(sv[1], "ab");
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, 0);
  CHECK_EQ(w.last_events, UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);

  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 2);
  expect_quiet(&loop, &w);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

TEST(readable_pipe) {
  uv_loop_t loop;
  struct watch w;
  int p[2];

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(pipe2(p, O_CLOEXEC));
  watch(&loop, &w, p[0], UV_READABLE);
  w.action = ACT_DRAIN;
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_ONCE), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_events, UV_READABLE);
  expect_quiet(&loop, &w);
  nl_test_close_loop(&loop);
  close(p[0]);
  close(p[1]);
}

/* A stop from the callback leaves the loop with nothing to do. */
TEST(writable_then_stop_in_callback) {
  uv_loop_t loop;
  struct watch w;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_WRITABLE);
  w.action = ACT_STOP;
  w.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_events, UV_WRITABLE);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));
  expect_quiet(&loop, &w);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* Everything ready at once comes in one call. */
TEST(readable_and_writable_in_one_call) {
  uv_loop_t loop;
  struct watch w;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  put(sv[1], "x");
  watch(&loop, &w, sv[0], UV_READABLE | UV_WRITABLE);
  w.action = ACT_STOP;
  w.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_events, UV_READABLE | UV_WRITABLE);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* UV_DISCONNECT is the peer's shutdown (EPOLLRDHUP): reported with
 * UV_READABLE when both are watched (libuv: events 0x5), alone when only
 * it is, and never for plain data. */
TEST(disconnect_on_peer_shutdown) {
  uv_loop_t loop;
  struct watch both;
  struct watch alone;
  int s1[2];
  int s2[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(s1);
  pair(s2);
  watch(&loop, &both, s1[0], UV_READABLE | UV_DISCONNECT);
  watch(&loop, &alone, s2[0], UV_DISCONNECT);
  put(s2[1], "data");
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(both.calls, 0);
  CHECK_EQ(alone.calls, 0);

  CHECK_OK(shutdown(s1[1], SHUT_WR));
  CHECK_OK(shutdown(s2[1], SHUT_WR));
  both.action = alone.action = ACT_STOP;
  both.action_at = alone.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(both.calls, 1);
  CHECK_EQ(both.last_events, UV_READABLE | UV_DISCONNECT);
  CHECK_EQ(alone.calls, 1);
  CHECK_EQ(alone.last_events, UV_DISCONNECT);
  nl_test_close_loop(&loop);
  close_pair(s1);
  close_pair(s2);
}

TEST(disconnect_on_tcp_fin) {
  uv_loop_t loop;
  struct watch w;
  int a;
  int b;

  tcp_pair(&a, &b);
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, a, UV_DISCONNECT);
  w.action = ACT_STOP;
  w.action_at = 1;
  CHECK_OK(shutdown(b, SHUT_WR));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, 0);
  CHECK_EQ(w.last_events, UV_DISCONNECT);
  nl_test_close_loop(&loop);
  close(a);
  close(b);
}

/* TCP urgent data is UV_PRIORITIZED; ordinary data is not. */
static void oob_cb(uv_poll_t* h, int status, int events) {
  struct watch* w = (struct watch*) h;
  char c = 0;

  CHECK_EQ(status, 0);
  CHECK_EQ(events, UV_PRIORITIZED);
  CHECK_EQ(recv(w->fd, &c, 1, MSG_OOB), 1);
  CHECK_EQ(c, '!');
  w->calls++;
  CHECK_OK(uv_poll_stop(h));
}

TEST(prioritized_tcp_urgent_data) {
  uv_loop_t loop;
  struct watch w;
  char buf[8];
  int a;
  int b;

  tcp_pair(&a, &b);
  CHECK_OK(uv_loop_init(&loop));
  watch_init(&loop, &w, a);
  CHECK_OK(uv_poll_start(&w.h, UV_PRIORITIZED, oob_cb));
  put(b, "plain");
  wait_fd(a, POLLIN);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 0);
  CHECK_EQ(send(b, "!", 1, MSG_OOB), 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(recv(a, buf, sizeof(buf), 0), 5);
  nl_test_close_loop(&loop);
  close(a);
  close(b);
}

/* An error event is reported as status UV_EBADF with no events, and the
 * handle is stopped before its callback runs (libuv: the same, for a pipe
 * whose reader is gone, a reset or a refused connection). Starting again
 * reports it again. */
TEST(error_stops_the_handle) {
  uv_loop_t loop;
  struct watch w;
  int p[2];

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(pipe2(p, O_CLOEXEC));
  watch(&loop, &w, p[1], UV_WRITABLE);
  CHECK_OK(close(p[0]));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, UV_EBADF);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));

  watch_start(&w, UV_WRITABLE | UV_DISCONNECT);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 2);
  CHECK_EQ(w.last_status, UV_EBADF);
  expect_quiet(&loop, &w);
  nl_test_close_loop(&loop);
  close(p[1]);
}

TEST(connection_reset_is_an_error) {
  uv_loop_t loop;
  struct watch w;
  int a;
  int b;

  tcp_pair(&a, &b);
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &w, a, UV_READABLE | UV_DISCONNECT);
  tcp_reset(a, b);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, UV_EBADF);
  nl_test_close_loop(&loop);
  close(a);
}

/* With priority data pending, the same error is not one: a handle that
 * watches UV_PRIORITIZED gets its events (libuv: 0xf for all four, 0x8
 * for UV_PRIORITIZED alone). This is how sysfs files report a change
 * (EPOLLERR | EPOLLPRI); a handle that does not watch priority data still
 * gets UV_EBADF. */
TEST(error_with_priority_data_is_prioritized) {
  uv_loop_t loop;
  struct watch all;
  struct watch pri;
  struct watch rd;
  int a[3];
  int b[3];
  int i;

  for (i = 0; i < 3; i++) {
    tcp_pair(&a[i], &b[i]);
    CHECK_EQ(send(b[i], "!", 1, MSG_OOB), 1);
    wait_fd(a[i], POLLPRI);
    tcp_reset(a[i], b[i]);
  }
  CHECK_OK(uv_loop_init(&loop));
  watch(&loop, &all, a[0],
        UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED);
  watch(&loop, &pri, a[1], UV_PRIORITIZED);
  watch(&loop, &rd, a[2], UV_READABLE);
  all.action = pri.action = ACT_STOP;
  all.action_at = pri.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(all.calls, 1);
  CHECK_EQ(all.last_status, 0);
  CHECK_EQ(all.last_events,
           UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED);
  CHECK_EQ(pri.calls, 1);
  CHECK_EQ(pri.last_status, 0);
  CHECK_EQ(pri.last_events, UV_PRIORITIZED);
  CHECK_EQ(rd.calls, 1);
  CHECK_EQ(rd.last_status, UV_EBADF);
  nl_test_close_loop(&loop);
  for (i = 0; i < 3; i++)
    close(a[i]);
}

/* The documented use of UV_PRIORITIZED: a kernfs file (here a cgroup's
 * cgroup.events) reports each change as EPOLLERR | EPOLLPRI until it is
 * read again. Needs a writable cgroup2 hierarchy, else skipped. */
static void cgroup_cb(uv_poll_t* h, int status, int events) {
  struct watch* w = (struct watch*) h;
  char buf[256];
  ssize_t n;

  CHECK_EQ(status, 0);
  CHECK_EQ(events, UV_PRIORITIZED);
  CHECK_EQ(lseek(w->fd, 0, SEEK_SET), 0);
  n = read(w->fd, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = '\0';
  w->calls++;
  /* populated 1 after the child joins, populated 0 after it leaves. */
  CHECK(strstr(buf, w->calls == 1 ? "populated 1" : "populated 0") != NULL);
  CHECK_OK(uv_poll_stop(h));
}

static int cgroup2_mount(char* out, size_t size) {
  char dev[256];
  char dir[256];
  char type[64];
  FILE* f = fopen("/proc/self/mounts", "r");
  int found = 0;

  if (f == NULL)
    return 0;
  while (!found && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
    if (strcmp(type, "cgroup2") == 0) {
      snprintf(out, size, "%s", dir);
      found = 1;
    }
  fclose(f);
  return found;
}

TEST(prioritized_sysfs_change) {
  char root[256];
  char dir[300];
  char path[340];
  uv_loop_t loop;
  struct watch w;
  char buf[256];
  pid_t child;
  int procs;
  int fd;
  int ok;

  if (!cgroup2_mount(root, sizeof(root)))
    nl_test_skip("no cgroup2 hierarchy mounted");
  snprintf(dir, sizeof(dir), "%s/nl-test-poll-%d", root, (int) getpid());
  if (mkdir(dir, 0755) != 0)
    nl_test_skip("cannot create a cgroup (not root, or read-only)");
  snprintf(path, sizeof(path), "%s/cgroup.events", dir);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(read(fd, buf, sizeof(buf)) > 0);

  CHECK_OK(uv_loop_init(&loop));
  watch_init(&loop, &w, fd);
  CHECK_OK(uv_poll_start(&w.h, UV_PRIORITIZED, cgroup_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 0);

  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
  procs = open(path, O_WRONLY | O_CLOEXEC);
  ok = procs >= 0 && dprintf(procs, "%d\n", (int) child) > 0;
  if (procs >= 0)
    close(procs);
  if (!ok) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    nl_test_close_loop(&loop);
    close(fd);
    rmdir(dir);
    nl_test_skip("cannot move a process into a cgroup here");
  }
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);

  CHECK_OK(uv_poll_start(&w.h, UV_PRIORITIZED, cgroup_cb));
  CHECK_OK(kill(child, SIGKILL));
  CHECK(waitpid(child, NULL, 0) == child);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 2);
  nl_test_close_loop(&loop);
  close(fd);
  CHECK_OK(rmdir(dir));
}

/* A hang-up with nothing the handle watches (a pipe whose writer closed
 * reports EPOLLHUP alone) is reported as every event the handle watches
 * (libuv: UV_WRITABLE for a read end watched for writing, UV_DISCONNECT
 * for one watched for disconnection), so that the user meets the end. */
TEST(hangup_reports_the_watched_events) {
  static const int events[3] = {UV_READABLE, UV_WRITABLE, UV_DISCONNECT};
  uv_loop_t loop;
  struct watch w[3];
  int p[3][2];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 3; i++) {
    CHECK_OK(pipe2(p[i], O_CLOEXEC));
    watch(&loop, &w[i], p[i][0], events[i]);
    w[i].action = ACT_STOP;
    w[i].action_at = 1;
  }
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(w[i].calls, 0);
    close(p[i][1]);
  }
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(w[i].calls, 1);
    CHECK_EQ(w[i].last_status, 0);
    CHECK_EQ(w[i].last_events, events[i]);
  }
  nl_test_close_loop(&loop);
  for (i = 0; i < 3; i++)
    close(p[i][0]);
}

/* ---------------------------------------------------------------------
 * Stop, restart and close, from callbacks too.
 */

/* A stop is effective at once: an event already pending for the handle
 * is dropped, in the same loop iteration too (both handles are ready in
 * the same wait; whichever runs first stops the other). */
TEST(stop_cancels_pending_events) {
  uv_loop_t loop;
  struct watch a;
  struct watch b;
  struct watch c;
  int s1[2];
  int s2[2];
  int s3[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(s1);
  pair(s2);
  pair(s3);
  watch(&loop, &a, s1[0], UV_WRITABLE);
  watch(&loop, &b, s2[0], UV_WRITABLE);
  a.action = b.action = ACT_STOP_OTHER;
  a.action_at = b.action_at = 1;
  a.other = &b;
  b.other = &a;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(a.calls + b.calls, 1);

  /* Readable, then stopped before the loop looks. */
  watch(&loop, &c, s3[0], UV_READABLE);
  put(s3[1], "x");
  CHECK_OK(uv_poll_stop(&c.h));
  CHECK_OK(uv_poll_stop(&c.h));
  CHECK(!uv_is_active((uv_handle_t*) &c.h));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(c.calls, 0);
  CHECK_EQ(a.calls + b.calls, 1);
  nl_test_close_loop(&loop);
  close_pair(s1);
  close_pair(s2);
  close_pair(s3);
}

/* Starting an active handle replaces its events and its callback; zero
 * events stop it. */
static int other_cb_calls;

static void other_cb(uv_poll_t* h, int status, int events) {
  CHECK_EQ(status, 0);
  CHECK_EQ(events, UV_READABLE);
  other_cb_calls++;
  CHECK_OK(uv_poll_start(h, 0, NULL));
  CHECK(!uv_is_active((uv_handle_t*) h));
}

TEST(restart_changes_events_and_callback) {
  uv_loop_t loop;
  struct watch w;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_WRITABLE);
  w.action = ACT_RESTART;
  w.action_at = 1;
  w.restart_events = UV_READABLE;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_events, UV_WRITABLE);
  /* Writable still, but no longer watched for it. */
  expect_quiet(&loop, &w);
  CHECK(uv_is_active((uv_handle_t*) &w.h));

  put(sv[1], "x");
  w.action = ACT_DRAIN;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 2);
  CHECK_EQ(w.last_events, UV_READABLE);
  expect_quiet(&loop, &w);

  /* The same events and a new callback: only the new one runs. */
  CHECK_OK(uv_poll_start(&w.h, UV_READABLE, other_cb));
  put(sv[1], "y");
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(other_cb_calls, 1);
  CHECK_EQ(w.calls, 2);

  /* Zero events on an inactive handle: nothing to do, still inactive. */
  CHECK_OK(uv_poll_start(&w.h, 0, watch_cb));
  CHECK(!uv_is_active((uv_handle_t*) &w.h));
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* Closing from a callback: the other handle's pending event is dropped,
 * both close callbacks run, and nothing else does afterwards. */
TEST(close_inside_callback) {
  uv_loop_t loop;
  struct watch a;
  struct watch b;
  int s1[2];
  int s2[2];

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  pair(s1);
  pair(s2);
  watch(&loop, &a, s1[0], UV_WRITABLE | UV_READABLE);
  watch(&loop, &b, s2[0], UV_WRITABLE | UV_READABLE);
  a.action = b.action = ACT_CLOSE_OTHER;
  a.action_at = b.action_at = 1;
  a.other = &b;
  b.other = &a;
  put(s1[1], "x");
  put(s2[1], "x");
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(a.calls + b.calls, 1);
  CHECK_EQ(close_calls, 2);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(a.calls + b.calls, 1);
  CHECK_EQ(uv_loop_close(&loop), 0);
  close_pair(s1);
  close_pair(s2);
}

/* An unreferenced handle does not keep the loop alive. */
TEST(ref_and_active_state) {
  uv_loop_t loop;
  struct watch w;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch_init(&loop, &w, sv[0]);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));
  CHECK(uv_has_ref((uv_handle_t*) &w.h));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  watch_start(&w, UV_READABLE);
  CHECK_EQ(uv_loop_alive(&loop), 1);
  uv_unref((uv_handle_t*) &w.h);
  CHECK_EQ(uv_loop_alive(&loop), 0);
  /* A loop that is not alive does not even look. */
  put(sv[1], "x");
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 0);
  uv_ref((uv_handle_t*) &w.h);
  CHECK_EQ(uv_loop_alive(&loop), 1);
  w.action = ACT_DRAIN;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_OK(uv_poll_stop(&w.h));
  CHECK_EQ(uv_loop_alive(&loop), 0);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* ---------------------------------------------------------------------
 * Bad input and refused descriptors.
 */

/* libuv crashes or asserts on most of these (NULL loop or handle, unknown
 * event bits, a closing handle, a NULL callback at the first event). */
TEST(bad_arguments) {
  uv_loop_t loop;
  uv_timer_t timer;
  uv_poll_t h;
  uv_os_fd_t fd;
  int sv[2];
  int closed;

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  CHECK_EQ(uv_poll_init(NULL, &h, sv[0]), UV_EINVAL);
  CHECK_EQ(uv_poll_init(&loop, NULL, sv[0]), UV_EINVAL);
  CHECK_EQ(uv_poll_init_socket(NULL, &h, sv[0]), UV_EINVAL);
  CHECK_EQ(uv_poll_init(&loop, &h, -1), UV_EBADF);     /* libuv: same */
  closed = dup(sv[0]);
  CHECK(closed >= 0);
  close(closed);
  CHECK_EQ(uv_poll_init(&loop, &h, closed), UV_EBADF);
  CHECK_EQ(uv_poll_init(&loop, &h, 1 << 28), UV_EBADF);

  CHECK_OK(uv_poll_init_socket(&loop, &h, sv[0]));
  CHECK_EQ(uv_poll_start(NULL, UV_READABLE, watch_cb), UV_EINVAL);
  CHECK_EQ(uv_poll_start(&h, 16, watch_cb), UV_EINVAL);
  CHECK_EQ(uv_poll_start(&h, -1, watch_cb), UV_EINVAL);
  CHECK_EQ(uv_poll_start(&h, UV_READABLE, NULL), UV_EINVAL);
  CHECK(!uv_is_active((uv_handle_t*) &h));
  CHECK_OK(uv_poll_start(&h, 0, NULL));   /* a stop needs no callback */
  CHECK_EQ(uv_poll_stop(NULL), UV_EINVAL);

  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_EQ(uv_poll_start((uv_poll_t*) &timer, UV_READABLE, watch_cb),
           UV_EINVAL);
  CHECK_EQ(uv_poll_stop((uv_poll_t*) &timer), UV_EINVAL);

  /* uv_fileno: the descriptor; UV_EBADF once closing (libuv: same), and
   * UV_EINVAL for a type without one, closing or not. */
  CHECK_OK(uv_fileno((uv_handle_t*) &h, &fd));
  CHECK_EQ(fd, sv[0]);
  CHECK_EQ(uv_fileno((uv_handle_t*) &h, NULL), UV_EINVAL);
  CHECK_EQ(uv_fileno((uv_handle_t*) &timer, &fd), UV_EINVAL);
  CHECK_OK(uv_poll_start(&h, UV_READABLE, watch_cb));
  uv_close((uv_handle_t*) &h, NULL);
  uv_close((uv_handle_t*) &timer, NULL);
  CHECK(!uv_is_active((uv_handle_t*) &h));
  CHECK_EQ(uv_fileno((uv_handle_t*) &h, &fd), UV_EBADF);
  CHECK_EQ(uv_fileno((uv_handle_t*) &timer, &fd), UV_EINVAL);
  CHECK_EQ(uv_poll_start(&h, UV_READABLE, watch_cb), UV_EINVAL);
  CHECK_OK(uv_poll_stop(&h));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(uv_fileno((uv_handle_t*) &h, &fd), UV_EBADF);
  CHECK_EQ(uv_poll_start(&h, UV_READABLE, watch_cb), UV_EINVAL);
  CHECK_OK(uv_poll_stop(&h));
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* epoll refuses regular files, directories and /dev/null (UV_EPERM, as
 * in libuv), and they are left blocking. */
TEST(regular_file_refused) {
  static const char* paths[] = {NULL, ".", "/dev/null"};
  char file[300];
  uv_loop_t loop;
  uv_poll_t h;
  size_t i;
  int fd;

  snprintf(file, sizeof(file), "%s/plain", nl_test_tmpdir());
  fd = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  paths[0] = file;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(uv_poll_init(&loop, &h, fd), UV_EPERM);
    CHECK_EQ(uv_poll_init_socket(&loop, &h, fd), UV_EPERM);
    CHECK(!is_nonblocking(fd));
    close(fd);
  }
  nl_test_close_loop(&loop);
}

/* The loop's own descriptors: its epoll descriptor cannot watch itself
 * (UV_EINVAL, as in libuv), and its wakeup eventfd is watched already
 * (UV_EEXIST, as libuv answers for its own). */
static int fds_open(int* out, int max) {
  struct dirent* e;
  DIR* d = opendir("/proc/self/fd");
  int n = 0;

  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.' && n < max)
      out[n++] = atoi(e->d_name);
  closedir(d);
  return n;
}

TEST(loop_descriptors_refused) {
  int before[256];
  int after[256];
  int nbefore;
  int nafter;
  int watched = 0;
  uv_loop_t loop;
  uv_poll_t h;
  int i;
  int j;

  nbefore = fds_open(before, 256);
  CHECK_OK(uv_loop_init(&loop));
  nafter = fds_open(after, 256);
  CHECK_EQ(uv_poll_init(&loop, &h, uv_backend_fd(&loop)), UV_EINVAL);
  for (i = 0; i < nafter; i++) {
    for (j = 0; j < nbefore && before[j] != after[i]; j++)
      ;
    if (j < nbefore || after[i] == uv_backend_fd(&loop))
      continue;
    /* Skip the descriptor opendir() held while listing. */
    if (fcntl(after[i], F_GETFD) == -1)
      continue;
    CHECK_EQ(uv_poll_init(&loop, &h, after[i]), UV_EEXIST);
    watched++;
  }
  CHECK(watched >= 1);
  nl_test_close_loop(&loop);
}

/* uv_poll_init makes the descriptor non-blocking (libuv does since
 * 1.2.2), keeping its other flags, and leaves the peer alone. */
TEST(init_sets_nonblocking) {
  uv_loop_t loop;
  uv_poll_t h;
  uv_poll_t h2;
  int flags;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  flags = fcntl(sv[0], F_GETFL);
  CHECK_OK(fcntl(sv[0], F_SETFL, flags | O_APPEND));
  CHECK(!is_nonblocking(sv[0]));
  CHECK_OK(uv_poll_init(&loop, &h, sv[0]));
  CHECK_EQ(fcntl(sv[0], F_GETFL), flags | O_APPEND | O_NONBLOCK);
  CHECK(!is_nonblocking(sv[1]));
  /* Already non-blocking: no change. */
  uv_close((uv_handle_t*) &h, NULL);
  CHECK_OK(uv_poll_init_socket(&loop, &h2, sv[0]));
  CHECK_EQ(fcntl(sv[0], F_GETFL), flags | O_APPEND | O_NONBLOCK);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* ---------------------------------------------------------------------
 * One descriptor, several handles; descriptors closed or reused.
 */

/* libuv: any number of handles may be initialised on a descriptor, but
 * while one polls it, starting another fails with UV_EEXIST (even with
 * zero events) and initialising another too. After a stop, another may
 * take over. */
TEST(two_handles_one_descriptor) {
  uv_loop_t loop;
  struct watch a;
  struct watch b;
  uv_poll_t c;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch_init(&loop, &a, sv[0]);
  watch_init(&loop, &b, sv[0]);
  watch_start(&a, UV_WRITABLE);
  CHECK_EQ(uv_poll_start(&b.h, UV_WRITABLE, watch_cb), UV_EEXIST);
  CHECK_EQ(uv_poll_start(&b.h, 0, watch_cb), UV_EEXIST);
  CHECK(!uv_is_active((uv_handle_t*) &b.h));
  CHECK_OK(uv_poll_stop(&b.h));
  CHECK_EQ(uv_poll_init(&loop, &c, sv[0]), UV_EEXIST);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(b.calls, 0);

  CHECK_OK(uv_poll_stop(&a.h));
  watch_start(&b, UV_WRITABLE);
  CHECK_EQ(uv_poll_start(&a.h, UV_READABLE, watch_cb), UV_EEXIST);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(b.calls, 1);
  CHECK_EQ(b.last_events, UV_WRITABLE);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* A descriptor closed while its handle polls it: the kernel drops the
 * registration, so nothing is reported, and the loop keeps serving its
 * other handles. The next start of the handle reports UV_EBADF through
 * the callback and stops it (libuv aborts the process there). */
struct ticker {
  uv_timer_t t;
  struct watch* w;
  int ticks;
};

static void tick_cb(uv_timer_t* t) {
  struct ticker* k = (struct ticker*) t;

  k->ticks++;
  if (k->ticks < 3)
    CHECK_EQ(k->w->calls, 0);
  if (k->ticks == 3)
    CHECK_OK(uv_poll_start(&k->w->h, UV_READABLE | UV_WRITABLE, watch_cb));
  if (k->ticks == 4)
    CHECK_OK(uv_timer_stop(t));
}

TEST(closed_behind_the_loops_back) {
  uv_loop_t loop;
  struct ticker k;
  struct watch w;
  struct watch early;
  int sv[2];
  int s2[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_OK(close(sv[0]));
  CHECK_EQ(send(sv[1], "x", 1, MSG_NOSIGNAL), -1);
  CHECK_OK(uv_timer_init(&loop, &k.t));
  k.w = &w;
  k.ticks = 0;
  CHECK_OK(uv_timer_start(&k.t, tick_cb, 1, 1));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(k.ticks, 4);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, UV_EBADF);
  CHECK(!uv_is_active((uv_handle_t*) &w.h));

  /* Closed between init and the first start: the same. */
  pair(s2);
  watch_init(&loop, &early, s2[0]);
  CHECK_OK(close(s2[0]));
  watch_start(&early, UV_WRITABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(early.calls, 1);
  CHECK_EQ(early.last_status, UV_EBADF);

  /* A stop and a close after the fact are harmless. */
  CHECK_OK(uv_poll_stop(&w.h));
  nl_test_close_loop(&loop);
  close(sv[1]);
  close(s2[1]);
}

/* Closed behind the loop's back, and the number taken by a new socket:
 * starting the handle again polls the new socket (libuv: the same). */
TEST(closed_number_reused_by_a_socket) {
  uv_loop_t loop;
  struct watch w;
  int sv[2];
  int s2[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  close_pair(sv);
  pair(s2);
  CHECK_EQ(s2[0], sv[0]);
  put(s2[1], "x");
  expect_quiet(&loop, &w);   /* the old registration is gone */
  watch_start(&w, UV_READABLE);
  w.action = ACT_DRAIN;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, 0);
  CHECK_EQ(w.last_events, UV_READABLE);
  expect_quiet(&loop, &w);
  nl_test_close_loop(&loop);
  close_pair(s2);
}

/* ... and by a regular file, which epoll refuses: the callback gets the
 * kernel's reason, UV_EPERM (libuv aborts). */
TEST(closed_number_reused_by_a_file) {
  char file[300];
  uv_loop_t loop;
  struct watch w;
  int sv[2];
  int fd;

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  close(sv[0]);
  snprintf(file, sizeof(file), "%s/plain", nl_test_tmpdir());
  fd = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  CHECK_EQ(fd, sv[0]);
  watch_start(&w, UV_READABLE | UV_WRITABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(w.last_status, UV_EPERM);
  nl_test_close_loop(&loop);
  close(fd);
  close(sv[1]);
}

/* Stopped, then closed while a duplicate keeps the socket open: the old
 * socket's events never reach the handle that gets its number next (the
 * stop deregistered at once; libuv: the same). */
TEST(stop_then_close_with_a_duplicate_open) {
  uv_loop_t loop;
  struct watch old;
  struct watch w;
  int sv[2];
  int s2[2];
  int dupfd;

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  dupfd = dup(sv[0]);
  CHECK(dupfd >= 0);
  watch(&loop, &old, sv[0], UV_READABLE);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_OK(uv_poll_stop(&old.h));
  CHECK_OK(close(sv[0]));
  pair(s2);
  CHECK_EQ(s2[0], sv[0]);
  watch(&loop, &w, s2[0], UV_READABLE);
  put(sv[1], "old");   /* the old socket is readable, via dupfd */
  expect_quiet(&loop, &w);
  CHECK_EQ(old.calls, 0);
  put(s2[1], "new");
  w.action = ACT_DRAIN;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 1);
  nl_test_close_loop(&loop);
  close(dupfd);
  close(sv[1]);
  close_pair(s2);
}

/* The descriptor may be closed right after uv_close() and its number
 * used by a new handle, within one callback: an event the kernel already
 * reported for the old one in this round must not reach the new one. */
struct reuse {
  struct watch w[2];
  struct watch fresh;
  int peer[2];
  int fresh_pair[2];
  uv_loop_t* loop;
  int done;
  int closed;   /* the index of the handle closed by the callback */
};

static void reuse_cb(uv_poll_t* h, int status, int events) {
  struct reuse* r = (struct reuse*) h->data;
  int other = h == &r->w[0].h ? 1 : 0;
  int fd = r->w[other].fd;

  CHECK_EQ(status, 0);
  CHECK_EQ(events, UV_WRITABLE);
  CHECK(!r->done);
  r->done = 1;
  r->closed = other;
  uv_close((uv_handle_t*) &r->w[other].h, close_cb);
  CHECK_OK(close(fd));
  pair(r->fresh_pair);
  CHECK_EQ(r->fresh_pair[0], fd);
  watch(r->loop, &r->fresh, fd, UV_WRITABLE);
  CHECK_OK(uv_poll_stop(h));
}

TEST(descriptor_reused_inside_callback) {
  uv_loop_t loop;
  struct reuse r;
  int i;

  close_calls = 0;
  memset(&r, 0, sizeof(r));
  r.loop = &loop;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < 2; i++) {
    int sv[2];
    pair(sv);
    r.peer[i] = sv[1];
    watch_init(&loop, &r.w[i], sv[0]);
    r.w[i].h.data = &r;
    CHECK_OK(uv_poll_start(&r.w[i].h, UV_WRITABLE, reuse_cb));
  }
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK(r.done);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(r.fresh.calls, 0);   /* nothing from the old socket */
  r.fresh.action = ACT_STOP;
  r.fresh.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(r.fresh.calls, 1);
  nl_test_close_loop(&loop);
  for (i = 0; i < 2; i++)
    close(r.peer[i]);
  close(r.w[1 - r.closed].fd);
  close_pair(r.fresh_pair);
}

/* After uv_close(), the number is free for a new handle on the loop. */
TEST(fd_number_reused_after_close) {
  uv_loop_t loop;
  struct watch a;
  struct watch b;
  int sv[2];
  int s2[2];

  close_calls = 0;
  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &a, sv[0], UV_READABLE);
  uv_close((uv_handle_t*) &a.h, close_cb);
  close_pair(sv);
  pair(s2);
  CHECK_EQ(s2[0], sv[0]);
  watch(&loop, &b, s2[0], UV_READABLE);
  b.action = ACT_STOP;
  b.action_at = 1;
  put(s2[1], "x");
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(a.calls, 0);
  CHECK_EQ(b.calls, 1);
  nl_test_close_loop(&loop);
  close_pair(s2);
}

/* ---------------------------------------------------------------------
 * Many descriptors, fork, churn.
 */

/* Hundreds of descriptors (the watcher table grows several times), all
 * ready in one wait: each callback runs once, then the loop is quiet. */
TEST(many_descriptors) {
  enum { N = 400 };
  static struct watch w[N];
  static int sv[N][2];
  struct rlimit rl;
  uv_loop_t loop;
  int i;

  CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
  if (rl.rlim_cur < 2 * N + 64)
    nl_test_skip("RLIMIT_NOFILE too low for 800 descriptors");
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < N; i++) {
    pair(sv[i]);
    watch(&loop, &w[i], sv[i][0], UV_READABLE);
    w[i].action = ACT_DRAIN;
    put(sv[i][1], "x");
  }
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  for (i = 0; i < N; i++)
    CHECK_EQ(w[i].calls, 1);
  for (i = 0; i < N; i++)
    expect_quiet(&loop, &w[i]);
  nl_test_close_loop(&loop);
  for (i = 0; i < N; i++)
    close_pair(sv[i]);
}

/* After fork(), the child's loop (uv_loop_fork) registers its poll
 * handles anew and they keep working; the parent's too. */
TEST(fork_child_keeps_polling) {
  uv_loop_t loop;
  struct watch w;
  int status;
  pid_t pid;
  int sv[2];

  CHECK_OK(uv_loop_init(&loop));
  pair(sv);
  watch(&loop, &w, sv[0], UV_READABLE);
  w.action = ACT_STOP;
  w.action_at = 1;
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char c;
    if (uv_loop_fork(&loop) != 0)
      _exit(2);
    if (send(sv[1], "c", 1, MSG_NOSIGNAL) != 1)
      _exit(3);
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0 || w.calls != 1 ||
        w.last_events != UV_READABLE)
      _exit(4);
    if (read(sv[0], &c, 1) != 1 || c != 'c')
      _exit(5);
    _exit(0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  put(sv[1], "p");
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  nl_test_close_loop(&loop);
  close_pair(sv);
}

/* Random starts, restarts, stops, closes, reads and writes over a set of
 * socket pairs; the callback checks every report against what its handle
 * watches, and a stopped or closed handle must never be called. */
enum { CHURN_N = 24 };

struct churn {
  struct watch w[CHURN_N];
  int sv[CHURN_N][2];
  int open[CHURN_N];
  uint32_t seed;
};

static uint32_t churn_rand(struct churn* c) {
  c->seed = c->seed * 1103515245u + 12345u;
  return c->seed >> 8;
}

static void churn_open(uv_loop_t* loop, struct churn* c, int i) {
  pair(c->sv[i]);
  CHECK_OK(fcntl(c->sv[i][1], F_SETFL, O_NONBLOCK));
  watch_init(loop, &c->w[i], c->sv[i][0]);
  c->w[i].action = ACT_DRAIN;
  c->open[i] = 1;
}

static void churn_close_cb(uv_handle_t* h) {
  struct watch* w = (struct watch*) h;
  close(w->fd);
  w->fd = -1;
}

TEST(churn) {
  static struct churn c;
  uv_loop_t loop;
  int round;
  int i;

  c.seed = 12345;
  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < CHURN_N; i++)
    churn_open(&loop, &c, i);
  for (round = 0; round < 3000; round++) {
    i = (int) (churn_rand(&c) % CHURN_N);
    switch (churn_rand(&c) % 8) {
      case 0:
      case 1:
      case 2: {
        int events = (int) (churn_rand(&c) % 15) + 1;
        if (c.open[i]) {
          CHECK_OK(uv_poll_start(&c.w[i].h, events, watch_cb));
          c.w[i].wanted = events;
        }
        break;
      }
      case 3:
        if (c.open[i]) {
          CHECK_OK(uv_poll_stop(&c.w[i].h));
          c.w[i].wanted = 0;   /* any call now fails the subset check */
        }
        break;
      case 4:
        if (c.open[i])
          (void) send(c.sv[i][1], "data", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
        break;
      case 5:
        if (c.open[i] && churn_rand(&c) % 4 == 0) {
          uv_close((uv_handle_t*) &c.w[i].h, churn_close_cb);
          c.w[i].wanted = 0;
          close(c.sv[i][1]);
          c.open[i] = 0;
        } else if (!c.open[i] && c.w[i].fd == -1) {
          churn_open(&loop, &c, i);
        }
        break;
      default:
        uv_run(&loop, UV_RUN_NOWAIT);
        break;
    }
  }
  CHECK(total_calls > 500);
  nl_test_close_loop(&loop);
  for (i = 0; i < CHURN_N; i++)
    if (c.open[i])
      close_pair(c.sv[i]);
}
