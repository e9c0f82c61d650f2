/* floor_pound: libuv's tcp4_pound_* and pipe_pound_* benchmarks with no
 * event library: the same connections made and torn down with direct
 * system calls, in the same shape. A
 * client keeps N connections open at once; each connects and writes
 * "QS", which tells libuv's echo server to close the connection; the
 * client reads the end and closes, and a new connection takes its place.
 * The server runs in a child process, as libuv's runner starts its echo
 * server helper in a second process. Both sides use one level-triggered
 * epoll instance in one thread, and the sequence of calls a library
 * makes, without the library: per connection the client makes socket,
 * connect, two epoll_ctl (add for writable, switch to readable), write,
 * read and close; the server accept4, one epoll_ctl, read and close. (A
 * program free to skip the waits, writing at once after a connect that
 * succeeded and reading at once after the accept, measured 2-12 % more on
 * one CPU.) libuv's figure is closed connections per second; so is this.
 *
 *   floor_pound [seconds [tcp|pipe [connections [sleep|busy|one_cpu]]]]
 *
 * With no arguments it runs the four shapes libuv has (tcp and pipe, 100
 * and 1000 at once) for 3 s each and prints
 * RESULT floor_<tcp4|pipe>_pound_<n> <connections/s> higher,
 * then the four again with both sides polling instead of sleeping
 * (epoll_wait with timeout 0: ..._busy), then the two shapes of 100 with
 * both processes on one CPU (..._one_cpu). Sleeping on two CPUs it is
 * slower than libuv and nodeloop (docs/benchmarks.md says why: it sleeps
 * and is woken far more often); polling, no wakeup crosses CPUs, which is
 * the most any library can get on two idle CPUs; on one CPU the rate is
 * the work of that sequence of calls.
 * Uses no uv.h: tools/bench.sh builds it once, among the kernel floors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define MAX_EVENTS 1024

enum mode { SLEEP, BUSY, ONE_CPU };

/* The timeout of every epoll_wait: -1, or 0 where both sides poll. */
static int wait_ms = -1;

/* Where the server listens: an ephemeral port on 127.0.0.1, or a path. */
static int use_pipe;
static struct sockaddr_in tcp_addr;
static struct sockaddr_un pipe_addr;

static const struct sockaddr* server_addr(socklen_t* len) {
  if (use_pipe) {
    *len = sizeof(pipe_addr);
    return (const struct sockaddr*) &pipe_addr;
  }
  *len = sizeof(tcp_addr);
  return (const struct sockaddr*) &tcp_addr;
}

static int new_socket(void) {
  int fd = socket(use_pipe ? AF_UNIX : AF_INET,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket");
  return fd;
}

static int listen_socket(void) {
  const struct sockaddr* sa;
  socklen_t len;
  int one = 1;
  int fd;

  fd = new_socket();
  if (use_pipe) {
    memset(&pipe_addr, 0, sizeof(pipe_addr));
    pipe_addr.sun_family = AF_UNIX;
    snprintf(pipe_addr.sun_path, sizeof(pipe_addr.sun_path),
             "/tmp/floor_pound-%d.sock", (int) getpid());
    unlink(pipe_addr.sun_path);
  } else {
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
      die("setsockopt");
    memset(&tcp_addr, 0, sizeof(tcp_addr));
    tcp_addr.sin_family = AF_INET;
    tcp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  sa = server_addr(&len);
  if (bind(fd, sa, len) != 0)
    die("bind");
  if (!use_pipe) {
    len = sizeof(tcp_addr);
    if (getsockname(fd, (struct sockaddr*) &tcp_addr, &len) != 0)
      die("getsockname");
  }
  /* As libuv's echo server: SOMAXCONN (4096 here). */
  if (listen(fd, SOMAXCONN) != 0)
    die("listen");
  return fd;
}

/* The echo server: until the parent kills it. */
static void serve(int lfd) {
  struct epoll_event ev[MAX_EVENTS];
  struct epoll_event e;
  char buf[65536];
  ssize_t n;
  int ep;
  int fd;
  int i;
  int k;

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  e.events = EPOLLIN;
  e.data.fd = lfd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) != 0)
    die("epoll_ctl");
  for (;;) {
    k = epoll_wait(ep, ev, MAX_EVENTS, wait_ms);
    if (k < 0 && errno != EINTR)
      die("epoll_wait");
    for (i = 0; i < k; i++) {
      fd = ev[i].data.fd;
      if (fd == lfd) {
        while ((fd = accept4(lfd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          e.events = EPOLLIN;
          e.data.fd = fd;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0)
            die("epoll_ctl");
        }
        if (errno != EAGAIN && errno != ECONNABORTED)
          die("accept4");
        continue;
      }
      /* "QS" (or the end, or an error): close, as libuv's echo
       * server does on "QS". */
      n = read(fd, buf, sizeof(buf));
      if (n >= 0 || (errno != EAGAIN && errno != EINTR))
        close(fd);   /* also leaves the epoll set */
    }
  }
}

static cpu_set_t saved_cpus;
static int client_ep;
static long closed;
static long failed;

static void connect_one(void) {
  struct epoll_event e;
  const struct sockaddr* sa;
  socklen_t len;
  int fd;

  fd = new_socket();
  sa = server_addr(&len);
  if (connect(fd, sa, len) != 0 && errno != EINPROGRESS && errno != EAGAIN)
    die("connect");
  e.events = EPOLLOUT;
  e.data.fd = fd;
  if (epoll_ctl(client_ep, EPOLL_CTL_ADD, fd, &e) != 0)
    die("epoll_ctl");
}

/* Closed connections per second over `seconds`, `conns` at once. */
static double pound(double seconds, int conns) {
  struct epoll_event ev[MAX_EVENTS];
  struct epoll_event e;
  char buf[64];
  double t0;
  double end;
  ssize_t n;
  int open_conns;
  int fd;
  int i;
  int k;

  client_ep = epoll_create1(EPOLL_CLOEXEC);
  if (client_ep < 0)
    die("epoll_create1");
  closed = 0;
  failed = 0;
  t0 = now();
  end = t0 + seconds;
  for (i = 0; i < conns; i++)
    connect_one();
  open_conns = conns;
  while (open_conns > 0) {
    k = epoll_wait(client_ep, ev, MAX_EVENTS, wait_ms);
    if (k < 0 && errno != EINTR)
      die("epoll_wait");
    for (i = 0; i < k; i++) {
      fd = ev[i].data.fd;
      if (ev[i].events & EPOLLOUT) {
        /* Connected (or refused: the write says which). */
        if (write(fd, "QS", 2) == 2) {
          e.events = EPOLLIN;
          e.data.fd = fd;
          if (epoll_ctl(client_ep, EPOLL_CTL_MOD, fd, &e) != 0)
            die("epoll_ctl");
          continue;
        }
        if (errno == EAGAIN)
          continue;
        failed++;
      } else {
        /* The server's end (0), or a reset. */
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN)
          continue;
        if (n != 0)
          failed++;
      }
      close(fd);
      closed++;
      open_conns--;
      if (now() < end) {
        connect_one();
        open_conns++;
      }
    }
  }
  close(client_ep);
  return (double) closed / (now() - t0);
}

static void run(double seconds, int pipe_kind, int conns, enum mode mode) {
  static const char* const suffix[] = {"", "_busy", "_one_cpu"};
  static const char* const said[] = {"", ", polling", ", one CPU"};
  int one_cpu = mode == ONE_CPU;
  pid_t child;
  double rate;
  int lfd;

  use_pipe = pipe_kind;
  wait_ms = mode == BUSY ? 0 : -1;
  if (one_cpu) {
    /* The first CPU this process may use, for both (the child inherits). */
    cpu_set_t all;
    cpu_set_t one;
    int c;

    if (sched_getaffinity(0, sizeof(all), &all) != 0)
      die("sched_getaffinity");
    CPU_ZERO(&one);
    for (c = 0; c < CPU_SETSIZE && !CPU_ISSET(c, &all); c++)
      ;
    CPU_SET(c, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
      die("sched_setaffinity");
    saved_cpus = all;
  }
  lfd = listen_socket();
  child = fork();
  if (child < 0)
    die("fork");
  if (child == 0)
    serve(lfd);
  close(lfd);
  rate = pound(seconds, conns);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  if (use_pipe)
    unlink(pipe_addr.sun_path);
  if (one_cpu && sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus) != 0)
    die("sched_setaffinity");
  printf("floor_pound: %s, %d at once%s: %.0f connections/s (%ld failed)\n",
         pipe_kind ? "pipe" : "tcp", conns, said[mode], rate, failed);
  printf("RESULT floor_%s_pound_%d%s %.0f connections/s higher\n",
         pipe_kind ? "pipe" : "tcp4", conns, suffix[mode], rate);
}

int main(int argc, char** argv) {
  static const char* const modes[] = {"sleep", "busy", "one_cpu"};
  enum mode mode = SLEEP;
  double seconds = 3;
  int m;

  signal(SIGPIPE, SIG_IGN);
  if (argc > 1)
    seconds = atof(argv[1]);
  if (argc > 4) {
    for (m = 0; m < 3 && strcmp(argv[4], modes[m]) != 0; m++)
      ;
    mode = (enum mode) m;
  }
  if (seconds <= 0 || argc > 5 || mode > ONE_CPU ||
      (argc > 2 && strcmp(argv[2], "tcp") != 0 &&
       strcmp(argv[2], "pipe") != 0)) {
    fprintf(stderr,
            "usage: %s [seconds [tcp|pipe [connections [sleep|busy|one_cpu]]]]\n",
            argv[0]);
    return 2;
  }
  if (argc > 2) {
    run(seconds, strcmp(argv[2], "pipe") == 0,
        argc > 3 ? atoi(argv[3]) : 100, mode);
    return 0;
  }
  for (m = SLEEP; m <= BUSY; m++) {
    run(seconds, 0, 100, (enum mode) m);
    run(seconds, 0, 1000, (enum mode) m);
    run(seconds, 1, 100, (enum mode) m);
    run(seconds, 1, 1000, (enum mode) m);
  }
  run(seconds, 0, 100, ONE_CPU);
  run(seconds, 1, 100, ONE_CPU);
  return 0;
}
