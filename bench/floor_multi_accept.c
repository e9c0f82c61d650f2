/* floor_multi_accept: libuv's tcp_multi_accept{2,4,8} benchmarks with no
 * event library: the same connections made and torn down with direct
 * system calls, in the same shape. N server threads, each with its own
 * level-triggered epoll instance, share one listening socket on
 * 127.0.0.1 (each watches a duplicate of it, as libuv's servers watch the
 * copy they receive over a pipe); each accepts until EAGAIN, watches the
 * new connection and closes it when the client's end arrives; the
 * listening socket is watched with EPOLLEXCLUSIVE, which wakes one
 * sleeping server per connection instead of every one. One client
 * thread keeps 40 connections in progress with its own epoll instance:
 * socket, connect, watch for writable, close, and a new one in its place.
 * libuv's client closes a connection one loop iteration after it is made
 * (from an idle callback) and reads SO_ERROR first; this closes at once,
 * and skips the read, so it makes fewer calls than any library. The
 * figure is libuv's: connections / seconds, until all are done.
 *
 *   floor_multi_accept [connections [servers]]
 *
 * With no arguments, 100000 connections for each of 2, 4 and 8 servers,
 * printing RESULT floor_tcp_multi_accept<N> <accepts/s> higher.
 * Uses no uv.h: tools/bench.sh builds it once, among the kernel floors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define MAX_EVENTS 256
#define CLIENTS 40   /* libuv's benchmark: 40 clients */
#define MAX_SERVERS 64

static struct sockaddr_in addr;

struct server {
  pthread_t thread;
  int listen_fd;   /* this server's duplicate */
  int stop_fd;     /* an eventfd: readable when the run is over */
  long accepted;
};

/* Connections the servers have closed, all threads together. */
static long server_closed;

static void watch(int ep, int fd, unsigned int events) {
  struct epoll_event e;

  memset(&e, 0, sizeof(e));
  e.events = events;
  e.data.fd = fd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0)
    die("epoll_ctl");
}

static void* serve(void* arg) {
  struct server* s = arg;
  struct epoll_event ev[MAX_EVENTS];
  char buf[64];
  ssize_t n;
  int ep;
  int fd;
  int i;
  int k;

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  /* One sleeping server woken per connection, not all of them. */
  watch(ep, s->listen_fd, EPOLLIN | EPOLLEXCLUSIVE);
  watch(ep, s->stop_fd, EPOLLIN);
  for (;;) {
    k = epoll_wait(ep, ev, MAX_EVENTS, -1);
    if (k < 0 && errno != EINTR)
      die("epoll_wait");
    for (i = 0; i < k; i++) {
      fd = ev[i].data.fd;
      if (fd == s->stop_fd) {
        close(ep);
        return NULL;
      }
      if (fd == s->listen_fd) {
        while ((fd = accept4(s->listen_fd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          s->accepted++;
          watch(ep, fd, EPOLLIN);
        }
        if (errno != EAGAIN && errno != ECONNABORTED)
          die("accept4");
        continue;
      }
      /* The client's end (or a reset): close, which also leaves the
       * epoll set. */
      n = read(fd, buf, sizeof(buf));
      if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd);
        __atomic_add_fetch(&server_closed, 1, __ATOMIC_RELAXED);
      }
    }
  }
}

static int client_ep;

static void connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket");
  if (connect(fd, (struct sockaddr*) &addr, sizeof(addr)) != 0 &&
      errno != EINPROGRESS)
    die("connect");
  watch(client_ep, fd, EPOLLOUT);
}

static void run(long total, int nservers) {
  struct server servers[MAX_SERVERS];
  struct epoll_event ev[MAX_EVENTS];
  socklen_t len = sizeof(addr);
  uint64_t one = 1;
  long started = 0;
  long done = 0;
  long accepted = 0;
  double t0;
  double secs;
  int lfd;
  int on = 1;
  int i;
  int k;

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0)
    die("socket");
  if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    die("setsockopt");
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr*) &addr, sizeof(addr)) != 0 ||
      getsockname(lfd, (struct sockaddr*) &addr, &len) != 0)
    die("bind");
  /* libuv's servers listen with a backlog of 128. */
  if (listen(lfd, 128) != 0)
    die("listen");
  for (i = 0; i < nservers; i++) {
    servers[i].listen_fd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    servers[i].stop_fd = eventfd(0, EFD_CLOEXEC);
    servers[i].accepted = 0;
    if (servers[i].listen_fd < 0 || servers[i].stop_fd < 0)
      die("dup");
    if (pthread_create(&servers[i].thread, NULL, serve, &servers[i]) != 0)
      die("pthread_create");
  }

  client_ep = epoll_create1(EPOLL_CLOEXEC);
  if (client_ep < 0)
    die("epoll_create1");
  t0 = now();
  for (i = 0; i < CLIENTS && started < total; i++, started++)
    connect_one();
  while (done < total) {
    k = epoll_wait(client_ep, ev, MAX_EVENTS, -1);
    if (k < 0 && errno != EINTR)
      die("epoll_wait");
    for (i = 0; i < k; i++) {
      /* libuv's benchmark asserts that every connect succeeds. */
      if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
        errno = ECONNREFUSED;
        die("connect");
      }
      close(ev[i].data.fd);
      done++;
      if (started < total) {
        connect_one();
        started++;
      }
    }
  }
  secs = now() - t0;
  close(client_ep);
  /* The servers close their ends before they stop: nothing is left open
   * for the next shape. */
  while (__atomic_load_n(&server_closed, __ATOMIC_RELAXED) < total)
    usleep(1000);
  server_closed = 0;
  for (i = 0; i < nservers; i++) {
    if (write(servers[i].stop_fd, &one, sizeof(one)) != sizeof(one))
      die("write");
    pthread_join(servers[i].thread, NULL);
    accepted += servers[i].accepted;
    close(servers[i].stop_fd);
    close(servers[i].listen_fd);
  }
  close(lfd);
  if (accepted != total) {
    fprintf(stderr, "floor_multi_accept: %ld accepted of %ld\n", accepted,
            total);
    exit(1);
  }
  printf("floor_multi_accept: %d servers: %.0f accepts/s (%ld total)\n",
         nservers, (double) total / secs, total);
  printf("RESULT floor_tcp_multi_accept%d %.0f accepts/s higher\n", nservers,
         (double) total / secs);
}

int main(int argc, char** argv) {
  long total = 100000;
  int n;

  if (argc > 1)
    total = atol(argv[1]);
  if (total < 1 || argc > 3) {
    fprintf(stderr, "usage: %s [connections [servers]]\n", argv[0]);
    return 2;
  }
  if (argc > 2) {
    n = atoi(argv[2]);
    if (n < 1 || n > MAX_SERVERS) {
      fprintf(stderr, "servers: 1 to %d\n", MAX_SERVERS);
      return 2;
    }
    run(total, n);
    return 0;
  }
  run(total, 2);
  run(total, 4);
  run(total, 8);
  return 0;
}
