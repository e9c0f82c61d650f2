/* floor_wait: which way of waiting for a socket is cheapest on this
 * kernel, measured as libuv's ping_pongs is shaped (a client here, an
 * echo server in a child process that always uses epoll). The client
 * waits for each answer in one of four ways:
 *
 *   epoll             epoll_wait, then read and write: nodeloop's poller
 *   uring_epoll_wait  IORING_OP_EPOLL_WAIT on the same epoll instance, the
 *                     wait in io_uring_enter (Linux 6.15)
 *   uring_poll        a one-shot IORING_OP_POLL_ADD on the socket
 *   uring_recv_send   the send and the receive themselves on the ring: one
 *                     io_uring_enter per round trip instead of three calls
 *
 * and prints RESULT floor_wait_<way> <round trips/s>. The ways run one
 * after another, twice, each for SECONDS/2 at a time, so that a change in
 * the machine's speed does not favour one of them. docs/benchmarks.md
 * says what they showed: the reason the poller and streams stay on epoll.
 *
 *   floor_wait [seconds]      default 2 per way
 *
 * Uses no uv.h: tools/bench.sh builds it once, among the kernel floors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define OP_EPOLL_WAIT 59   /* newer than the system's header */
#define MSG "PING\n"
#define MSG_LEN 5

enum { EPOLL, URING_EPOLL_WAIT, URING_POLL, URING_RECV_SEND, NWAYS };
static const char* const way_name[NWAYS] = {
    "epoll", "uring_epoll_wait", "uring_poll", "uring_recv_send"};

/* ---- a minimal ring ---------------------------------------------------- */

static struct {
  int fd;
  unsigned int *sq_head, *sq_tail, *cq_head, *cq_tail;
  unsigned int sq_mask, cq_mask, tail;
  struct io_uring_sqe* sqes;
  struct io_uring_cqe* cqes;
} ring;

static int ring_init(void) {
  struct io_uring_params p;
  size_t sq_len, cq_len, len;
  unsigned int* array;
  unsigned int i;
  char* m;

  memset(&p, 0, sizeof(p));
  ring.fd = (int) syscall(__NR_io_uring_setup, 16, &p);
  if (ring.fd < 0)
    return -1;
  sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
  cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  len = sq_len > cq_len ? sq_len : cq_len;
  m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
           ring.fd, IORING_OFF_SQ_RING);
  ring.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
                   IORING_OFF_SQES);
  if (m == MAP_FAILED || ring.sqes == MAP_FAILED)
    die("mmap");
  ring.sq_head = (unsigned int*) (m + p.sq_off.head);
  ring.sq_tail = (unsigned int*) (m + p.sq_off.tail);
  ring.sq_mask = *(unsigned int*) (m + p.sq_off.ring_mask);
  ring.cq_head = (unsigned int*) (m + p.cq_off.head);
  ring.cq_tail = (unsigned int*) (m + p.cq_off.tail);
  ring.cq_mask = *(unsigned int*) (m + p.cq_off.ring_mask);
  ring.cqes = (struct io_uring_cqe*) (m + p.cq_off.cqes);
  array = (unsigned int*) (m + p.sq_off.array);
  for (i = 0; i < p.sq_entries; i++)
    array[i] = i;
  ring.tail = *ring.sq_tail;
  return 0;
}

static struct io_uring_sqe* sqe_new(int op, int fd, uint64_t data) {
  struct io_uring_sqe* s = &ring.sqes[ring.tail++ & ring.sq_mask];

  memset(s, 0, sizeof(*s));
  s->opcode = (unsigned char) op;
  s->fd = fd;
  s->user_data = data;
  return s;
}

/* Submits what was queued and waits for one completion; returns the
 * result of the completion whose user_data is `want` (others are
 * dropped: sends of five bytes into an empty socket). */
static int ring_wait_for(uint64_t want) {
  struct io_uring_cqe* c;
  unsigned int head;

  for (;;) {
    head = *ring.cq_head;
    while (head != __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE)) {
      c = &ring.cqes[head & ring.cq_mask];
      __atomic_store_n(ring.cq_head, ++head, __ATOMIC_RELEASE);
      if (c->res < 0 && c->res != -EINTR) {
        errno = -c->res;
        die("completion");
      }
      if (c->user_data == want)
        return c->res;
    }
    __atomic_store_n(ring.sq_tail, ring.tail, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, ring.fd,
                ring.tail - *ring.sq_head, 1, IORING_ENTER_GETEVENTS, NULL,
                0) < 0 && errno != EINTR)
      die("io_uring_enter");
  }
}

/* ---- the ping-pong ----------------------------------------------------- */

static void echo_server(int fd) {
  struct epoll_event ev = {.events = EPOLLIN};
  char buf[64];
  ssize_t n;
  int ep = epoll_create1(0);

  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    die("server epoll");
  for (;;) {
    if (epoll_wait(ep, &ev, 1, -1) < 0)
      continue;
    n = read(fd, buf, sizeof(buf));
    if (n <= 0)
      _exit(0);
    if (write(fd, buf, (size_t) n) != n)
      _exit(1);
  }
}

/* Round trips per second of `way` for `seconds`. */
static double run(int way, int fd, int ep, double seconds) {
  struct epoll_event evs[4];
  char buf[64];
  long long trips = 0;
  double start = now(), end = start + seconds;
  struct io_uring_sqe* s;
  ssize_t n;

  for (;;) {
    if (way == URING_RECV_SEND) {
      s = sqe_new(IORING_OP_SEND, fd, 1);
      s->addr = (uint64_t) (uintptr_t) MSG;
      s->len = MSG_LEN;
      s = sqe_new(IORING_OP_RECV, fd, 2);
      s->addr = (uint64_t) (uintptr_t) buf;
      s->len = sizeof(buf);
      n = ring_wait_for(2);
    } else {
      if (write(fd, MSG, MSG_LEN) != MSG_LEN)
        die("write");
      if (way == EPOLL) {
        while (epoll_wait(ep, evs, 4, -1) < 1)
          ;
      } else if (way == URING_EPOLL_WAIT) {
        s = sqe_new(OP_EPOLL_WAIT, ep, 3);
        s->addr = (uint64_t) (uintptr_t) evs;
        s->len = 4;
        ring_wait_for(3);
      } else {
        s = sqe_new(IORING_OP_POLL_ADD, fd, 4);
        s->poll32_events = POLLIN;
        ring_wait_for(4);
      }
      n = read(fd, buf, sizeof(buf));
    }
    if (n != MSG_LEN)
      die("short answer");
    trips++;
    if ((trips & 63) == 0 && now() >= end)
      break;
  }
  return (double) trips / (now() - start);
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2;
  double sum[NWAYS] = {0};
  struct epoll_event ev = {.events = EPOLLIN};
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int lfd, fd, sfd, ep, way, round;
  pid_t pid;

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr*) &a, sizeof(a)) != 0 ||
      listen(lfd, 1) != 0 || getsockname(lfd, (struct sockaddr*) &a, &alen))
    die("listen");
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*) &a, sizeof(a)) != 0)
    die("connect");
  sfd = accept(lfd, NULL, NULL);
  if (sfd < 0)
    die("accept");
  close(lfd);
  pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    close(fd);
    echo_server(sfd);
  }
  close(sfd);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    die("epoll");
  if (ring_init() != 0) {
    fprintf(stderr, "floor_wait: no io_uring here: %s\n", strerror(errno));
    kill(pid, SIGTERM);
    return 0;
  }
  for (round = 0; round < 2; round++)
    for (way = 0; way < NWAYS; way++)
      sum[way] += run(way, fd, ep, seconds / 2);
  for (way = 0; way < NWAYS; way++)
    printf("RESULT floor_wait_%s %.0f roundtrips/s higher\n", way_name[way],
           sum[way] / 2);
  close(fd);
  waitpid(pid, NULL, 0);
  return 0;
}
