/* Descriptor exhaustion: a server that cannot accept for want of
 * descriptors sheds the waiting connections instead of spinning on a
 * listen socket that stays readable, and serves again once descriptors
 * are free. */
#include "test.h"
#include "nodeloop.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define NCLIENTS 3

static int connections_ok;
static int connections_failed;
static uv_tcp_t accepted;
static int timer_fired;

static void connection_cb(uv_stream_t* server, int status) {
  if (status != 0) {
    connections_failed++;
    return;
  }
  connections_ok++;
  CHECK_OK(uv_tcp_init(server->loop, &accepted));
  CHECK_OK(uv_accept(server, (uv_stream_t*) &accepted));
  uv_close((uv_handle_t*) &accepted, NULL);
}

static void stop_cb(uv_timer_t* t) {
  timer_fired++;
  uv_stop(t->loop);
}

static int raw_connect(const struct sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  /* Completes in the kernel's backlog, before any accept. */
  CHECK_OK(connect(fd, (const struct sockaddr*) addr, sizeof(*addr)));
  return fd;
}

TEST(accept_sheds_connections_instead_of_spinning) {
  struct sockaddr_in addr;
  struct rlimit old_lim;
  struct rlimit lim;
  uv_loop_t loop;
  uv_tcp_t server;
  uv_timer_t timer;
  int clients[NCLIENTS];
  int fillers[256];
  int nfill = 0;
  int namelen = sizeof(addr);
  uint64_t before;
  char c;
  int fd;
  int i;

  CHECK_OK(getrlimit(RLIMIT_NOFILE, &old_lim));
  lim = old_lim;
  lim.rlim_cur = 64;
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &lim));

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &server));
  CHECK_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
  CHECK_OK(uv_tcp_bind(&server, (const struct sockaddr*) &addr, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &server, 16, connection_cb));
  CHECK_OK(uv_tcp_getsockname(&server, (struct sockaddr*) &addr, &namelen));
  CHECK_OK(uv_timer_init(&loop, &timer));

  for (i = 0; i < NCLIENTS; i++)
    clients[i] = raw_connect(&addr);
  /* Use up every descriptor the limit leaves. */
  while ((fd = dup(0)) != -1) {
    CHECK(nfill < (int) (sizeof(fillers) / sizeof(fillers[0])));
    fillers[nfill++] = fd;
  }
  CHECK_EQ(errno, EMFILE);

  /* 200 ms with three connections waiting and no descriptor to take them:
   * the loop must sleep, not spin through iterations. */
  before = nl_loop_iterations(&loop);
  CHECK_OK(uv_timer_start(&timer, stop_cb, 200, 0));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ(timer_fired, 1);
  CHECK(nl_loop_iterations(&loop) - before < 20);
  CHECK_EQ(connections_ok, 0);
  CHECK_EQ(connections_failed, 0);

  /* The waiting clients were accepted and closed at once. */
  for (i = 0; i < NCLIENTS; i++) {
    ssize_t n = recv(clients[i], &c, 1, 0);
    CHECK(n == 0 || (n == -1 && errno == ECONNRESET));
    close(clients[i]);
  }

  /* With descriptors free again the server serves as before. */
  for (i = 0; i < nfill; i++)
    close(fillers[i]);
  clients[0] = raw_connect(&addr);
  CHECK_OK(uv_timer_start(&timer, stop_cb, 5000, 0));
  while (connections_ok == 0 && timer_fired == 1)
    uv_run(&loop, UV_RUN_ONCE);
  CHECK_EQ(connections_ok, 1);
  CHECK_EQ(connections_failed, 0);
  close(clients[0]);

  nl_test_close_loop(&loop);
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &old_lim));
}
