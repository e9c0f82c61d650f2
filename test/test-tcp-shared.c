/* A listening socket shared by several loops, each on its own thread and
 * watching its own duplicate, as libuv's multi-accept servers and Node's
 * cluster in its shared-handle mode do. A connection wakes one sleeping
 * loop, not every one (the others would only race for a single accept);
 * a loop that stops listening, for good or until uv_accept(), leaves the
 * kernel's set of woken loops, so that the others take the connections.
 */
/* NL_TEST_THREADED */
#include "stream-helpers.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOOPS 4

struct server {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_check_t check;
  uv_async_t stop;
  uv_thread_t thread;
  int tid;          /* the thread's id, for /proc; 0 until it runs */
  int iterations;   /* loop iterations, counted by the check handle */
  int accepted;
  int close_listener;   /* the stop async closes only the listener */
  int listener_closed;
};

static int total_accepted;

static void free_cb(uv_handle_t* h) {
  free(h);
}

static void connection_cb(uv_stream_t* l, int status) {
  struct server* s = (struct server*) l->data;
  uv_tcp_t* c = malloc(sizeof(*c));

  CHECK_OK(status);
  CHECK(c != NULL);
  CHECK_OK(uv_tcp_init(l->loop, c));
  CHECK_OK(uv_accept(l, (uv_stream_t*) c));
  uv_close((uv_handle_t*) c, free_cb);
  __atomic_add_fetch(&s->accepted, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&total_accepted, 1, __ATOMIC_SEQ_CST);
}

static void check_cb(uv_check_t* h) {
  struct server* s = (struct server*) h->data;
  __atomic_add_fetch(&s->iterations, 1, __ATOMIC_SEQ_CST);
}

static void listener_close_cb(uv_handle_t* h) {
  struct server* s = (struct server*) h->data;
  __atomic_store_n(&s->listener_closed, 1, __ATOMIC_SEQ_CST);
}

static void stop_cb(uv_async_t* a) {
  struct server* s = (struct server*) a->data;

  if (!uv_is_closing((uv_handle_t*) &s->listener))
    uv_close((uv_handle_t*) &s->listener, listener_close_cb);
  if (s->close_listener) {
    s->close_listener = 0;
    return;
  }
  uv_close((uv_handle_t*) &s->check, NULL);
  uv_close((uv_handle_t*) &s->stop, NULL);
}

static void server_thread(void* arg) {
  struct server* s = arg;

  __atomic_store_n(&s->tid, (int) syscall(SYS_gettid), __ATOMIC_SEQ_CST);
  CHECK_OK(uv_run(&s->loop, UV_RUN_DEFAULT));
}

static void start_servers(struct server* servers, int shared_fd) {
  struct server* s;
  int i;

  /* A loop that spins before it sleeps looks at the socket itself: only
   * sleeping loops show who the kernel wakes. */
  CHECK_OK(setenv("NODELOOP_SPIN_US", "0", 1));
  memset(servers, 0, LOOPS * sizeof(*servers));
  total_accepted = 0;
  for (i = 0; i < LOOPS; i++) {
    s = &servers[i];
    CHECK_OK(uv_loop_init(&s->loop));
    CHECK_OK(uv_tcp_init(&s->loop, &s->listener));
    CHECK_OK(uv_tcp_open(&s->listener, dup(shared_fd)));
    s->listener.data = s;
    CHECK_OK(uv_listen((uv_stream_t*) &s->listener, 128, connection_cb));
    CHECK_OK(uv_check_init(&s->loop, &s->check));
    s->check.data = s;
    CHECK_OK(uv_check_start(&s->check, check_cb));
    CHECK_OK(uv_async_init(&s->loop, &s->stop, stop_cb));
    s->stop.data = s;
    CHECK_OK(uv_thread_create(&s->thread, server_thread, s));
  }
}

static void stop_servers(struct server* servers) {
  int i;

  for (i = 0; i < LOOPS; i++) {
    CHECK_OK(uv_async_send(&servers[i].stop));
    CHECK_OK(uv_thread_join(&servers[i].thread));
    CHECK_OK(uv_loop_close(&servers[i].loop));
  }
}

/* 1 if the thread sleeps in one of the calls a loop waits in. */
static int asleep_in_wait(int tid) {
  char path[64];
  char buf[128];
  long nr;
  FILE* f;
  int got;

  if (tid == 0)
    return 0;
  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
  f = fopen(path, "r");
  CHECK(f != NULL);
  got = fgets(buf, sizeof(buf), f) != NULL && sscanf(buf, "%ld", &nr) == 1;
  fclose(f);
  return got && (nr == SYS_epoll_wait || nr == SYS_epoll_pwait ||
                 nr == SYS_epoll_pwait2 || nr == SYS_io_uring_enter);
}

static void wait_all_asleep(struct server* servers) {
  int tries;
  int i;

  for (tries = 0; tries < 10000; tries++) {
    for (i = 0; i < LOOPS; i++)
      if (!asleep_in_wait(__atomic_load_n(&servers[i].tid, __ATOMIC_SEQ_CST)))
        break;
    if (i == LOOPS)
      return;
    usleep(1000);
  }
  CHECK(!"every loop asleep within 10 s");
}

static void wait_accepted(int n) {
  int tries;

  for (tries = 0; tries < 10000; tries++) {
    if (__atomic_load_n(&total_accepted, __ATOMIC_SEQ_CST) >= n)
      return;
    usleep(1000);
  }
  CHECK(!"connection accepted within 10 s");
}

/* One connection while every loop sleeps: returns the index of the one
 * loop that ran, and checks that it is the one that accepted. */
static int connect_once(struct server* servers, int port) {
  int before[LOOPS];
  int acc[LOOPS];
  int woken = -1;
  int nwoken = 0;
  int total;
  int fd;
  int i;

  wait_all_asleep(servers);
  for (i = 0; i < LOOPS; i++) {
    before[i] = __atomic_load_n(&servers[i].iterations, __ATOMIC_SEQ_CST);
    acc[i] = __atomic_load_n(&servers[i].accepted, __ATOMIC_SEQ_CST);
  }
  total = __atomic_load_n(&total_accepted, __ATOMIC_SEQ_CST);
  fd = sh_raw_connect(port);
  wait_accepted(total + 1);
  wait_all_asleep(servers);
  for (i = 0; i < LOOPS; i++) {
    if (__atomic_load_n(&servers[i].iterations, __ATOMIC_SEQ_CST) !=
        before[i]) {
      woken = i;
      nwoken++;
    }
  }
  CHECK_EQ(nwoken, 1);
  CHECK_EQ(__atomic_load_n(&servers[woken].accepted, __ATOMIC_SEQ_CST),
           acc[woken] + 1);
  CHECK_OK(close(fd));
  return woken;
}

TEST(one_sleeping_loop_wakes_per_connection) {
  struct server servers[LOOPS];
  int port;
  int fd = sh_raw_listener(&port);
  int i;

  start_servers(servers, fd);
  for (i = 0; i < 20; i++)
    connect_once(servers, port);
  CHECK_EQ(total_accepted, 20);
  stop_servers(servers);
  CHECK_OK(close(fd));
}

/* A loop whose listener is closed is woken no more, and no connection is
 * left waiting for it: the other loops take every one. */
TEST(closed_listener_leaves_the_others_serving) {
  struct server servers[LOOPS];
  int port;
  int fd = sh_raw_listener(&port);
  int i;

  start_servers(servers, fd);
  wait_all_asleep(servers);
  servers[0].close_listener = 1;
  CHECK_OK(uv_async_send(&servers[0].stop));
  while (!__atomic_load_n(&servers[0].listener_closed, __ATOMIC_SEQ_CST))
    usleep(1000);
  for (i = 0; i < 20; i++)
    CHECK(connect_once(servers, port) != 0);
  CHECK_EQ(servers[0].accepted, 0);
  CHECK_EQ(total_accepted, 20);
  stop_servers(servers);
  CHECK_OK(close(fd));
}

/* The descriptors a loop's epoll instance watches, from the kernel's own
 * account (/proc/self/fdinfo): the events registered for fd, or -1 if it
 * is not in the set. */
static long registered_events(uv_loop_t* loop, int fd) {
  char path[64];
  char line[256];
  long events = -1;
  unsigned int ev;
  FILE* f;
  int tfd;

  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", uv_backend_fd(loop));
  f = fopen(path, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "tfd: %d events: %x", &tfd, &ev) == 2 && tfd == fd)
      events = ev;
  fclose(f);
  return events;
}

static int paused_connections;

static void leave_pending_cb(uv_stream_t* l, int status) {
  (void) l;
  CHECK_OK(status);
  paused_connections++;
}

/* A listener that waits for uv_accept() leaves the set, so that no wakeup
 * is spent on it; it comes back, as an exclusive watch, when accepting
 * resumes. */
TEST(paused_listener_leaves_the_set) {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_tcp_t conn;
  struct sockaddr_in a = sh_ip4(0);
  int lfd;
  int c1;
  int c2;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &listener));
  CHECK_OK(uv_tcp_bind(&listener, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &listener, 8, leave_pending_cb));
  lfd = sh_fd(&listener);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(registered_events(&loop, lfd) & (EPOLLEXCLUSIVE | EPOLLIN),
           EPOLLEXCLUSIVE | EPOLLIN);
  c1 = sh_raw_connect(sh_port(&listener));
  c2 = sh_raw_connect(sh_port(&listener));
  while (paused_connections == 0)
    CHECK(uv_run(&loop, UV_RUN_ONCE) >= 0);
  /* The change reaches the kernel before the next wait. */
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(paused_connections, 1);
  CHECK_EQ(registered_events(&loop, lfd), -1);
  CHECK_OK(uv_tcp_init(&loop, &conn));
  CHECK_OK(uv_accept((uv_stream_t*) &listener, (uv_stream_t*) &conn));
  uv_close((uv_handle_t*) &conn, NULL);
  /* The second connection, pending all along, arrives once it is back. */
  while (paused_connections == 1)
    CHECK(uv_run(&loop, UV_RUN_ONCE) >= 0);
  CHECK_EQ(paused_connections, 2);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(registered_events(&loop, lfd), -1);
  CHECK_OK(uv_tcp_init(&loop, &conn));
  CHECK_OK(uv_accept((uv_stream_t*) &listener, (uv_stream_t*) &conn));
  uv_close((uv_handle_t*) &conn, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(registered_events(&loop, lfd) & (EPOLLEXCLUSIVE | EPOLLIN),
           EPOLLEXCLUSIVE | EPOLLIN);
  CHECK_OK(close(c1));
  CHECK_OK(close(c2));
  nl_test_close_loop(&loop);
}
