/* Stream edge cases an adversarial review found: a watcher stopped and
 * restarted around one batch of events, a refused Unix connect, a file
 * opened as a pipe, a bind retried after EADDRINUSE, a shutdown during a
 * connect, a reset after data, a TTY handle on a pipe, and a listener out
 * of descriptors without its reserve. Each failed before its fix. */
#include "stream-helpers.h"
#include "nodeloop.h"

#include <sys/resource.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------
 * Two streams readable in the same poll: the first one's read callback
 * stops the second, a check callback starts it again. The second must
 * keep receiving (its registration must not be dropped while it is
 * stopped only for a moment).
 */
struct duo {
  uv_pipe_t p[2];
  struct sh_sink sink[2];
  uv_check_t check;
  int stopped[2];
};

static struct duo duo;

static void duo_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  int me = s == (uv_stream_t*) &duo.p[1];
  int other = !me;

  sh_sink_read_cb(s, nread, buf);
  if (nread > 0 && !duo.stopped[other] &&
      uv_is_active((uv_handle_t*) &duo.p[other])) {
    CHECK_OK(uv_read_stop((uv_stream_t*) &duo.p[other]));
    duo.stopped[other] = 1;
  }
}

static void duo_check_cb(uv_check_t* c) {
  int i;
  (void) c;
  for (i = 0; i < 2; i++) {
    if (duo.stopped[i]) {
      duo.stopped[i] = 0;
      CHECK_OK(uv_read_start((uv_stream_t*) &duo.p[i], sh_sink_alloc_cb,
                             duo_read_cb));
    }
  }
}

TEST(restart_in_same_iteration_keeps_receiving) {
  int a[2];
  int b[2];
  int round;
  int i;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_socketpair(a);
  sh_socketpair(b);
  CHECK_OK(uv_pipe_init(&loop, &duo.p[0], 0));
  CHECK_OK(uv_pipe_init(&loop, &duo.p[1], 0));
  CHECK_OK(uv_pipe_open(&duo.p[0], a[0]));
  CHECK_OK(uv_pipe_open(&duo.p[1], b[0]));
  for (i = 0; i < 2; i++) {
    sh_sink_init(&duo.sink[i], (uv_stream_t*) &duo.p[i]);
    CHECK_OK(uv_read_start((uv_stream_t*) &duo.p[i], sh_sink_alloc_cb,
                           duo_read_cb));
  }
  CHECK_OK(uv_check_init(&loop, &duo.check));
  CHECK_OK(uv_check_start(&duo.check, duo_check_cb));

  for (round = 1; round <= 20; round++) {
    /* Both readable before the loop polls: one batch of two events. */
    sh_write_all(a[1], "x", 1);
    sh_write_all(b[1], "y", 1);
    SH_RUN_UNTIL(&loop, duo.sink[0].len == (size_t) round &&
                        duo.sink[1].len == (size_t) round);
  }
  CHECK_EQ(duo.sink[0].error, 0);
  CHECK_EQ(duo.sink[1].error, 0);
  close(a[1]);
  close(b[1]);
  SH_RUN_UNTIL(&loop, duo.sink[0].eof == 1 && duo.sink[1].eof == 1);
  sh_sink_free(&duo.sink[0]);
  sh_sink_free(&duo.sink[1]);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * A Unix listener whose backlog is full refuses with EAGAIN: the connect
 * callback gets the error, never a success on an unconnected socket.
 */
static int refused_ok;
static int refused_again;
static int refused_other;

static void backlog_connect_cb(uv_connect_t* req, int status) {
  char name[128];
  size_t len = sizeof(name);

  if (status == 0) {
    refused_ok++;
    CHECK_OK(uv_pipe_getpeername((uv_pipe_t*) req->handle, name, &len));
  } else if (status == UV_EAGAIN) {
    refused_again++;
  } else {
    refused_other++;
  }
}

TEST(unix_connect_to_full_backlog_fails) {
  char path[256];
  uv_pipe_t server;
  uv_pipe_t clients[16];
  uv_connect_t reqs[16];
  uv_loop_t loop;
  int i;

  snprintf(path, sizeof(path), "%s/full.sock", nl_test_tmpdir());
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &server, 0));
  CHECK_OK(uv_pipe_bind(&server, path));
  /* No callback: nothing is accepted and the backlog fills up. */
  CHECK_OK(uv_listen((uv_stream_t*) &server, 0, NULL));
  for (i = 0; i < 16; i++) {
    CHECK_OK(uv_pipe_init(&loop, &clients[i], 0));
    uv_pipe_connect(&reqs[i], &clients[i], path, backlog_connect_cb);
  }
  SH_RUN_UNTIL(&loop, refused_ok + refused_again + refused_other == 16);
  CHECK(refused_again > 0);
  CHECK_EQ(refused_other, 0);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * A regular file opened as a pipe: epoll refuses it, yet it reads to the
 * end (a file is always ready), well past 32 reads of 64 KiB.
 */
TEST(regular_file_as_pipe_reads_to_the_end) {
  char path[256];
  struct sh_sink sink;
  uv_pipe_t p;
  uv_loop_t loop;
  size_t size = 3000000;
  char* data = malloc(size);
  int fd;

  CHECK(data != NULL);
  sh_fill(data, 0, size);
  snprintf(path, sizeof(path), "%s/file", nl_test_tmpdir());
  fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  sh_write_all(fd, data, size);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, fd));
  sh_sink_start(&sink, (uv_stream_t*) &p);
  SH_RUN_UNTIL(&loop, sink.eof == 1 || sink.error != 0);
  CHECK_EQ(sink.error, 0);
  CHECK_EQ(sink.len, size);
  CHECK_EQ(sh_mismatch(sink.data, 0, size), size);
  sh_sink_free(&sink);
  free(data);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * A bind that failed with EADDRINUSE stops counting once a later bind of
 * the same handle succeeds.
 */
TEST(bind_again_after_addrinuse) {
  struct sockaddr_in any = sh_ip4(0);
  struct sockaddr_in taken;
  uv_tcp_t first;
  uv_tcp_t second;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &first));
  CHECK_OK(uv_tcp_bind(&first, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &first, 4, NULL));
  taken = sh_ip4(sh_port(&first));
  CHECK_OK(uv_tcp_init(&loop, &second));
  CHECK_OK(uv_tcp_bind(&second, (struct sockaddr*) &taken, 0));
  CHECK_EQ(uv_listen((uv_stream_t*) &second, 4, NULL), UV_EADDRINUSE);
  nl_test_close_loop(&loop);

  /* Binding the same handle again, to a free port, makes it usable. */
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &first));
  CHECK_OK(uv_tcp_bind(&first, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &first, 4, NULL));
  taken = sh_ip4(sh_port(&first));
  CHECK_OK(uv_tcp_init(&loop, &second));
  CHECK_OK(uv_tcp_bind(&second, (struct sockaddr*) &taken, 0));
  CHECK_OK(uv_tcp_bind(&second, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &second, 4, NULL));
  CHECK(sh_port(&second) != sh_port(&first));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * A shutdown requested while the connection is still being made must not
 * pass for its completion: the connect callback comes only with the
 * connection, and closing first cancels both.
 */
static int stalled_connects;
static int stalled_connect_status;
static int stalled_shutdowns;
static int stalled_shutdown_status;

static void stalled_connect_cb(uv_connect_t* req, int status) {
  (void) req;
  stalled_connects++;
  stalled_connect_status = status;
}

static void stalled_shutdown_cb(uv_shutdown_t* req, int status) {
  (void) req;
  stalled_shutdowns++;
  stalled_shutdown_status = status;
}

static void stop_timer_cb(uv_timer_t* t) {
  uv_stop(t->loop);
}

TEST(shutdown_while_connecting_waits_for_the_connection) {
  struct sockaddr_in addr = sh_ip4(0);
  socklen_t alen = sizeof(addr);
  uv_tcp_t client;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  uv_timer_t timer;
  uv_loop_t loop;
  int fillers[4];
  int lfd;
  int i;

  /* A listener whose accept queue is full drops new SYNs: a connection
   * to it stays in progress (the next retry is a second away). */
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(lfd >= 0);
  CHECK_OK(bind(lfd, (struct sockaddr*) &addr, sizeof(addr)));
  CHECK_OK(listen(lfd, 0));
  CHECK_OK(getsockname(lfd, (struct sockaddr*) &addr, &alen));
  for (i = 0; i < 4; i++) {
    fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fillers[i] >= 0);
    connect(fillers[i], (struct sockaddr*) &addr, sizeof(addr));
  }
  usleep(50000);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &client));
  CHECK_OK(uv_tcp_connect(&creq, &client, (struct sockaddr*) &addr,
                          stalled_connect_cb));
  CHECK_OK(uv_shutdown(&sreq, (uv_stream_t*) &client, stalled_shutdown_cb));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, stop_timer_cb, 200, 0));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ(stalled_connects, 0);
  CHECK_EQ(stalled_shutdowns, 0);
  uv_close((uv_handle_t*) &client, NULL);
  uv_close((uv_handle_t*) &timer, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(stalled_connects, 1);
  CHECK_EQ(stalled_connect_status, UV_ECANCELED);
  CHECK_EQ(stalled_shutdowns, 1);
  CHECK_EQ(stalled_shutdown_status, UV_ECANCELED);
  CHECK_OK(uv_loop_close(&loop));
  for (i = 0; i < 4; i++)
    close(fillers[i]);
  close(lfd);
}

/* ---------------------------------------------------------------------
 * The peer sends two bytes and resets: the reader gets the bytes and then
 * the end of the stream, as libuv reports it (Node: 'end', not 'error').
 */
TEST(reset_after_data_reads_data_then_eof) {
  uv_tcp_t a;
  uv_tcp_t b;
  uv_write_t req;
  struct sh_sink sink;
  uv_buf_t buf = uv_buf_init("hi", 2);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  CHECK_OK(uv_write(&req, (uv_stream_t*) &a, &buf, 1, NULL));
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_OK(uv_tcp_close_reset(&a, NULL));
  uv_run(&loop, UV_RUN_NOWAIT);
  usleep(20000);   /* both the data and the reset are in b's socket */
  sh_sink_start(&sink, (uv_stream_t*) &b);
  SH_RUN_UNTIL(&loop, sink.eof == 1 || sink.error != 0);
  CHECK_EQ(sink.len, 2);
  CHECK(memcmp(sink.data, "hi", 2) == 0);
  CHECK_EQ(sink.eof, 1);
  CHECK_EQ(sink.error, 0);
  CHECK_EQ(sink.after_end, 0);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * A TTY handle may wrap a pipe; writing once the reader is gone is an
 * error for the callback, not a SIGPIPE (the default disposition here).
 */
static int tty_write_status = 1;

static void tty_write_cb(uv_write_t* req, int status) {
  (void) req;
  tty_write_status = status;
}

TEST(tty_handle_on_pipe_gives_epipe_not_sigpipe) {
  uv_tty_t tty;
  uv_write_t req;
  uv_buf_t buf = uv_buf_init("x", 1);
  uv_loop_t loop;
  int p[2];

  signal(SIGPIPE, SIG_DFL);
  CHECK_OK(pipe2(p, O_CLOEXEC));
  CHECK_OK(close(p[0]));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p[1], 0));
  CHECK_OK(uv_write(&req, (uv_stream_t*) &tty, &buf, 1, tty_write_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(tty_write_status, UV_EPIPE);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Descriptors ran out before any stream existed, so there is no reserve
 * to shed connections with: the listener must pause and retry, not spin,
 * and serve once descriptors are free.
 */
static int emfile_errors;
static int emfile_accepted;
static uv_tcp_t emfile_conn;

static void emfile_connection_cb(uv_stream_t* server, int status) {
  if (status != 0) {
    CHECK(status == UV_EMFILE || status == UV_ENFILE);
    emfile_errors++;
    return;
  }
  CHECK_OK(uv_tcp_init(server->loop, &emfile_conn));
  CHECK_OK(uv_accept(server, (uv_stream_t*) &emfile_conn));
  uv_close((uv_handle_t*) &emfile_conn, NULL);
  emfile_accepted++;
}

TEST(listener_without_reserve_pauses_instead_of_spinning) {
  struct sockaddr_in addr = sh_ip4(0);
  struct rlimit old_lim;
  struct rlimit lim;
  uv_tcp_t server;
  uv_timer_t timer;
  uv_loop_t loop;
  int fillers[256];
  int nfill = 0;
  uint64_t before;
  int client;
  int fd;
  int i;

  CHECK_OK(getrlimit(RLIMIT_NOFILE, &old_lim));
  lim = old_lim;
  lim.rlim_cur = 64;
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &lim));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_timer_init(&loop, &timer));
  while ((fd = dup(0)) != -1) {
    CHECK(nfill < 256);
    fillers[nfill++] = fd;
  }
  /* The first stream of the process finds no descriptor for a reserve. */
  CHECK_OK(uv_tcp_init(&loop, &server));
  CHECK(nfill >= 2);
  close(fillers[--nfill]);
  close(fillers[--nfill]);
  CHECK_OK(uv_tcp_bind(&server, (struct sockaddr*) &addr, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &server, 8, emfile_connection_cb));
  client = sh_raw_connect(sh_port(&server));
  CHECK(client >= 0);
  CHECK_EQ(dup(0), -1);   /* none left */

  before = nl_loop_iterations(&loop);
  CHECK_OK(uv_timer_start(&timer, stop_timer_cb, 350, 0));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(emfile_errors >= 1);
  CHECK(emfile_errors <= 5);
  CHECK(nl_loop_iterations(&loop) - before < 30);
  CHECK_EQ(emfile_accepted, 0);

  for (i = 0; i < nfill; i++)
    close(fillers[i]);
  CHECK_OK(uv_timer_start(&timer, stop_timer_cb, 5000, 0));
  SH_RUN_UNTIL(&loop, emfile_accepted == 1);
  close(client);
  nl_test_close_loop(&loop);
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &old_lim));
}
