/* floor_pingpong: the kernel's floor for a TCP ping-pong, with no event
 * library at all: one epoll instance, a listener on 127.0.0.1, one
 * connection whose two ends are both nonblocking. The client end writes
 * "PING\n", the server end reads it and answers "PONG\n", the client reads
 * that and writes the next ping; round trips are counted for a fixed time.
 *
 *   floor_pingpong [seconds [procs [busy]]]
 *
 * Defaults: 5 seconds, procs 1: both ends in this one thread, so a round
 * trip is two epoll_wait, two read and two write calls and never a wakeup
 * of another CPU. procs 2 moves the server end into a child process with
 * its own epoll instance, which is the shape of libuv's ping_pongs (its
 * echo server is a separate helper process) and pays the cross-CPU
 * wakeups that dominate that benchmark on this machine. "busy" makes both
 * processes poll (epoll_wait with timeout 0) instead of sleeping, so no
 * wakeup crosses CPUs: the most that shape gets on two idle CPUs, what a
 * library that never slept would get.
 *
 * Uses no uv.h: tools/bench.sh builds it once and prints it among the
 * kernel floors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

/* The timeout of every epoll_wait: -1, or 0 to poll. */
static int wait_ms = -1;

static const char PING[] = "PING\n";
static const char PONG[] = "PONG\n";
#define MSG_LEN 5
_Static_assert(sizeof(PING) - 1 == MSG_LEN && sizeof(PONG) - 1 == MSG_LEN,
               "both messages are MSG_LEN bytes");

/* One end of the connection: what it expects to read and what it answers
 * with. `pos` is how far into the expected message the bytes read so far
 * reach, so a message split across reads is still checked byte by byte. */
struct end {
  int fd;
  int is_client;
  const char* expect;
  const char* reply;
  int pos;
};

static double deadline;
static long long roundtrips;
static int client_done;

static void fail(const char* what) {
  fprintf(stderr, "floor_pingpong: %s\n", what);
  exit(1);
}

/* Five bytes into a socket whose buffer holds at most one earlier message
 * always fit, so a short write or EAGAIN would be a bug, not back
 * pressure to wait out. */
static void send_msg(int fd, const char* msg) {
  ssize_t n = write(fd, msg, MSG_LEN);

  if (n < 0)
    die("write");
  if (n != MSG_LEN)
    fail("short write");
}

/* Reads what is there (level-triggered: anything left over is reported
 * again by the next epoll_wait), checks it and answers every complete
 * message. Returns 0 when the peer has closed. */
static int on_readable(struct end* e) {
  char buf[64];
  ssize_t n;
  ssize_t i;

  n = read(e->fd, buf, sizeof(buf));
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return 1;
    die("read");
  }
  if (n == 0)
    return 0;
  for (i = 0; i < n; i++) {
    if (buf[i] != e->expect[e->pos])
      fail("unexpected byte");
    if (++e->pos < MSG_LEN)
      continue;
    e->pos = 0;
    if (!e->is_client) {
      send_msg(e->fd, e->reply);
      continue;
    }
    roundtrips++;
    /* The clock once per round trip: a vDSO clock_gettime costs tens of
     * ns against microseconds per round trip. */
    if (now() >= deadline) {
      client_done = 1;
      return 1;
    }
    send_msg(e->fd, e->reply);
  }
  return 1;
}

static void watch(int ep, struct end* e) {
  struct epoll_event ev;

  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = e;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, e->fd, &ev) != 0)
    die("epoll_ctl");
}

/* Runs until the client has counted its last round trip (`until_client`)
 * or, for a server alone in its process, until the client has closed. */
static void run(int ep, int until_client) {
  struct epoll_event evs[2];
  int n;
  int i;

  for (;;) {
    n = epoll_wait(ep, evs, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait");
    }
    for (i = 0; i < n; i++) {
      struct end* e = evs[i].data.ptr;

      if (!on_readable(e)) {
        if (e->is_client)
          fail("server closed the connection");
        return;
      }
    }
    if (until_client && client_done)
      return;
  }
}

static void connect_pair(int* client, int* server) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int lfd;

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0)
    die("socket");
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(lfd, (struct sockaddr*) &addr, sizeof(addr)) != 0)
    die("bind");
  if (listen(lfd, 1) != 0)
    die("listen");
  if (getsockname(lfd, (struct sockaddr*) &addr, &len) != 0)
    die("getsockname");

  /* Setup is untimed, so the connect may block: the handshake completes
   * in the listener's backlog before accept is called. */
  *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*client < 0)
    die("socket");
  if (connect(*client, (struct sockaddr*) &addr, sizeof(addr)) != 0)
    die("connect");
  *server = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (*server < 0)
    die("accept4");
  close(lfd);
  /* Nagle is left on: with one message in flight the previous one has
   * always been acknowledged (the answer carried the ACK), so it never
   * holds a write back. */
  if (fcntl(*client, F_SETFL, O_NONBLOCK) != 0)
    die("fcntl");
}

int main(int argc, char** argv) {
  struct end client = {-1, 1, PONG, PING, 0};
  struct end server = {-1, 0, PING, PONG, 0};
  double seconds = 5;
  double t0;
  double elapsed;
  int procs = 1;
  int status;
  pid_t pid = -1;
  int ep;

  if (argc > 1)
    seconds = strtod(argv[1], NULL);
  if (argc > 2)
    procs = atoi(argv[2]);
  if (argc > 3 && strcmp(argv[3], "busy") == 0)
    wait_ms = 0;
  if (!(seconds > 0) || (procs != 1 && procs != 2) || argc > 4 ||
      (argc > 3 && wait_ms != 0)) {
    fprintf(stderr, "usage: %s [seconds [procs: 1 or 2 [busy]]]\n", argv[0]);
    return 2;
  }
  /* A peer gone mid-write must end the program with a message. */
  signal(SIGPIPE, SIG_IGN);

  connect_pair(&client.fd, &server.fd);
  if (procs == 2) {
    pid = fork();
    if (pid < 0)
      die("fork");
    if (pid == 0) {
      close(client.fd);
      ep = epoll_create1(EPOLL_CLOEXEC);
      if (ep < 0)
        die("epoll_create1");
      watch(ep, &server);
      run(ep, 0);
      _exit(0);
    }
    close(server.fd);
    server.fd = -1;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  watch(ep, &client);
  if (server.fd >= 0)
    watch(ep, &server);

  t0 = now();
  deadline = t0 + seconds;
  send_msg(client.fd, PING);
  run(ep, 1);
  elapsed = now() - t0;

  close(client.fd);
  if (server.fd >= 0)
    close(server.fd);
  close(ep);
  if (pid > 0) {
    if (waitpid(pid, &status, 0) != pid)
      die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail("server process failed");
  }

  printf("floor_pingpong: %lld round trips in %.3f s, %s%s\n", roundtrips,
         elapsed, procs == 2 ? "server in a second process" : "one thread",
         wait_ms == 0 ? ", polling" : "");
  printf("RESULT %s%s %.0f roundtrips/s higher\n",
         procs == 2 ? "floor_ping_pongs_2proc" : "floor_ping_pongs",
         wait_ms == 0 ? "_busy" : "", roundtrips / elapsed);
  return 0;
}
