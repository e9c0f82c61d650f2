/* floor_pump: libuv's tcp_pump1_client without a library. One loopback
 * TCP connection; the writer sends 8 KiB blocks back to back from a
 * non-blocking socket (epoll_wait only when the socket is full), a child
 * process reads 64 KiB at a time after epoll_wait, as the benchmark's
 * server does. Prints RESULT floor_pump1_<call> <Gbit/s> for send() and
 * for write() (medians of three), alternating, so a change in the machine's state does not
 * favour one of them.
 *
 *   floor_pump [seconds]      default 2 per run, 3 runs each
 *
 * On this VM the benchmark moves between two states (about 20 and about
 * 25 Gbit/s; docs/benchmarks.md): this says which one the kernel gives a
 * writer that does nothing but write.
 *
 * Uses no uv.h: tools/bench.sh builds it once, among the kernel floors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

static void reader(int ls) {
  static char buf[65536];
  struct epoll_event ev;
  int c = accept(ls, NULL, NULL);
  int ep = epoll_create1(0);

  if (c < 0 || ep < 0)
    die("reader");
  fcntl(c, F_SETFL, O_NONBLOCK);
  ev.events = EPOLLIN;
  ev.data.fd = c;
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
  for (;;) {
    if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
      die("epoll_wait");
    if (read(c, buf, sizeof(buf)) == 0)
      _exit(0);
  }
}

/* One run: Gbit/s over `secs`, writing with send() or write(). */
static double pump(int use_write, double secs) {
  static char block[8192];
  struct sockaddr_in a;
  struct epoll_event ev;
  socklen_t alen = sizeof(a);
  long long bytes = 0;
  double t0, t;
  long k = 0;
  ssize_t r;
  pid_t pid;
  int one = 1;
  int ls, s, ep;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0)
    die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(ls, (struct sockaddr*) &a, sizeof(a)) != 0 ||
      getsockname(ls, (struct sockaddr*) &a, &alen) != 0 ||
      listen(ls, 1) != 0)
    die("listen");
  pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0)
    reader(ls);
  close(ls);
  s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0 || connect(s, (struct sockaddr*) &a, sizeof(a)) != 0)
    die("connect");
  fcntl(s, F_SETFL, O_NONBLOCK);
  ep = epoll_create1(0);
  ev.events = EPOLLOUT;
  ev.data.fd = s;
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  t0 = now();
  for (;;) {
    r = use_write ? write(s, block, sizeof(block))
                  : send(s, block, sizeof(block), MSG_NOSIGNAL);
    if (r < 0) {
      if (errno != EAGAIN)
        die("write");
      epoll_wait(ep, &ev, 1, -1);
      continue;
    }
    bytes += r;
    if ((++k & 255) == 0 && (t = now()) - t0 > secs)
      break;
  }
  t = now() - t0;
  close(s);
  close(ep);
  waitpid(pid, NULL, 0);
  return (double) bytes * 8 / t / (1024.0 * 1024 * 1024);
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*) a, y = *(const double*) b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2;
  double v[2][3];
  int i;

  for (i = 0; i < 3; i++) {
    v[0][i] = pump(0, secs);
    v[1][i] = pump(1, secs);
  }
  qsort(v[0], 3, sizeof(double), cmp);
  qsort(v[1], 3, sizeof(double), cmp);
  printf("RESULT floor_pump1_send %.2f Gbit/s\n", v[0][1]);
  printf("RESULT floor_pump1_write %.2f Gbit/s\n", v[1][1]);
  return 0;
}
