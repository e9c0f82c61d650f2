/* UDP handles: sending and receiving over IPv4 and IPv6, the end of what
 * is readable, truncation, recvmmsg batches and their chunk and free
 * flags, connected handles, try_send, the send queue's size and count at
 * every step, sends cancelled by a close, a full socket, many sends in a
 * row, multicast on the loopback interface, options, uv_fileno and buffer
 * sizes, and bad input.
 *
 * Expectations are those observed on Debian's libuv 1.44 (noted
 * "libuv:"); where libuv crashes, spins or leaks, nodeloop's answer is
 * noted "nodeloop:".
 */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DGRAM_MAX 65536

/* A receiving end and what its callbacks saw. */
struct rx {
  uv_udp_t h;
  size_t buf_len;        /* what alloc hands out (0: a null buffer) */
  char* last_alloc;
  int allocs;
  int calls;             /* receive callbacks of any kind */
  int datagrams;         /* with an address (empty ones included) */
  int drained;           /* nread 0 and no address, not a free */
  int frees;             /* UV_UDP_MMSG_FREE */
  int chunks;            /* UV_UDP_MMSG_CHUNK */
  int chunk_index;       /* within the batch in progress */
  int partials;
  int errors;
  int last_error;
  int empty;             /* empty datagrams */
  char data[256][16];    /* the first bytes of each datagram, in order */
  size_t lens[256];      /* and their lengths */
  char tail[256];        /* and their last byte */
  int stop_at;           /* uv_udp_recv_stop at this datagram (0: never) */
  int close_at;          /* uv_close at this datagram (0: never) */
};

static int close_calls;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

static void rx_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  struct rx* r = (struct rx*) h;

  CHECK_EQ(suggested, DGRAM_MAX);   /* libuv: one datagram's worth, always */
  CHECK(r->chunk_index == 0);       /* a batch ends before the next alloc */
  r->allocs++;
  if (r->buf_len == 0) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  buf->base = malloc(r->buf_len);
  CHECK(buf->base != NULL);
  buf->len = r->buf_len;
  r->last_alloc = buf->base;
}

static void rx_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf,
                    const struct sockaddr* addr, unsigned flags) {
  struct rx* r = (struct rx*) h;
  size_t n;

  r->calls++;
  if (nread < 0) {
    CHECK(addr == NULL);
    CHECK_EQ(flags, 0);
    r->errors++;
    r->last_error = (int) nread;
    free(buf->base);
    return;
  }
  if (flags & UV_UDP_MMSG_FREE) {
    /* The batch is over: nread 0, no address, the buffer alloc made. */
    CHECK_EQ(nread, 0);
    CHECK(addr == NULL);
    CHECK_EQ(flags, UV_UDP_MMSG_FREE);
    CHECK(buf->base == r->last_alloc);
    r->chunk_index = 0;
    r->frees++;
    free(buf->base);
    return;
  }
  if (addr == NULL) {
    /* Nothing more to read: the buffer comes back unused. */
    CHECK_EQ(nread, 0);
    CHECK_EQ(flags, 0);
    CHECK_EQ(r->chunk_index, 0);
    r->drained++;
    free(buf->base);
    return;
  }
  if (flags & UV_UDP_MMSG_CHUNK) {
    /* Chunk k of a batch starts k * 64 KiB into the buffer. */
    CHECK(buf->base == r->last_alloc + (size_t) r->chunk_index * DGRAM_MAX);
    r->chunk_index++;
    r->chunks++;
  }
  if (flags & UV_UDP_PARTIAL)
    r->partials++;
  if (nread == 0)
    r->empty++;
  n = (size_t) nread < sizeof(r->data[0]) - 1 ? (size_t) nread
                                               : sizeof(r->data[0]) - 1;
  if (r->datagrams < 256) {
    memcpy(r->data[r->datagrams], buf->base, n);
    r->data[r->datagrams][n] = '\0';
    r->lens[r->datagrams] = (size_t) nread;
    r->tail[r->datagrams] = nread > 0 ? buf->base[nread - 1] : 0;
  }
  r->datagrams++;
  if (!(flags & UV_UDP_MMSG_CHUNK))
    free(buf->base);
  if (r->stop_at != 0 && r->datagrams == r->stop_at)
    CHECK_OK(uv_udp_recv_stop(h));
  if (r->close_at != 0 && r->datagrams == r->close_at)
    uv_close((uv_handle_t*) h, close_cb);
}

/* A sending end: the requests and what their callbacks saw. */
#define MAX_REQS 256

struct tx {
  uv_udp_t h;
  uv_udp_send_t reqs[MAX_REQS];
  int status[MAX_REQS];
  int order[MAX_REQS];          /* request index of the n-th callback */
  size_t size_seen[MAX_REQS];   /* send_queue_size inside the callback */
  size_t count_seen[MAX_REQS];
  int done;
};

static void tx_send_cb(uv_udp_send_t* req, int status) {
  struct tx* t = (struct tx*) req->handle;
  int i = (int) (req - t->reqs);

  CHECK(i >= 0 && i < MAX_REQS);
  t->status[i] = status;
  t->order[t->done] = i;
  t->size_seen[t->done] = uv_udp_get_send_queue_size(&t->h);
  t->count_seen[t->done] = uv_udp_get_send_queue_count(&t->h);
  t->done++;
}

static struct sockaddr_in addr4(const char* ip, int port) {
  struct sockaddr_in a;
  CHECK_OK(uv_ip4_addr(ip, port, &a));
  return a;
}

/* Binds r to 127.0.0.1 on a free port and returns its address. */
static struct sockaddr_in bind_rx4(uv_loop_t* loop, struct rx* r,
                                   unsigned int init_flags, size_t buf_len) {
  struct sockaddr_in a = addr4("127.0.0.1", 0);
  int len = sizeof(a);

  memset(r, 0, sizeof(*r));
  r->buf_len = buf_len;
  CHECK_OK(uv_udp_init_ex(loop, &r->h, init_flags));
  CHECK_OK(uv_udp_bind(&r->h, (const struct sockaddr*) &a, 0));
  CHECK_OK(uv_udp_getsockname(&r->h, (struct sockaddr*) &a, &len));
  CHECK_EQ(len, sizeof(a));
  CHECK(a.sin_port != 0);
  return a;
}

/* Runs the loop until cond holds, at most about two seconds. */
#define RUN_UNTIL(loop, cond)                                              \
  do {                                                                     \
    uint64_t nl_end_ = uv_hrtime() + 2000000000u;                          \
    while (!(cond) && uv_hrtime() < nl_end_)                               \
      uv_run((loop), UV_RUN_NOWAIT);                                       \
    CHECK(cond);                                                           \
  } while (0)

/* Sends text with request i; to is NULL on a connected handle. */
static void send_buf(struct tx* t, int i, const char* text, const void* to) {
  uv_buf_t b = uv_buf_init((char*) text, (unsigned int) strlen(text));
  CHECK_OK(uv_udp_send(&t->reqs[i], &t->h, &b, 1,
                       (const struct sockaddr*) to, tx_send_cb));
}

/* Closes both ends, runs the close phase and checks that nothing more
 * happens: no callback after the close callbacks. */
static void close_both(uv_loop_t* loop, struct rx* r, struct tx* t) {
  int calls = r != NULL ? r->calls : 0;
  int done = t != NULL ? t->done : 0;
  int closes = close_calls;
  int want = 0;

  if (r != NULL && !uv_is_closing((uv_handle_t*) &r->h)) {
    uv_close((uv_handle_t*) &r->h, close_cb);
    want++;
  }
  if (t != NULL && !uv_is_closing((uv_handle_t*) &t->h)) {
    uv_close((uv_handle_t*) &t->h, close_cb);
    want++;
  }
  CHECK_EQ(uv_run(loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, closes + want);
  if (r != NULL)
    CHECK_EQ(r->calls, calls);
  if (t != NULL)
    CHECK_EQ(t->done, done);
  CHECK_EQ(uv_run(loop, UV_RUN_NOWAIT), 0);
  nl_test_close_loop(loop);
}

/* ---------------------------------------------------------------------
 * Sending and receiving.
 */

TEST(send_recv_ipv4) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  struct sockaddr_in from;
  int len = sizeof(from);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK(uv_is_active((uv_handle_t*) &r.h));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  send_buf(&t, 0, "PING", &to);
  /* The send went out at once (it bound the handle), but its callback
   * never runs inside uv_udp_send(). */
  CHECK_EQ(t.done, 0);
  CHECK_OK(uv_udp_getsockname(&t.h, (struct sockaddr*) &from, &len));
  CHECK_EQ(from.sin_family, AF_INET);
  CHECK(from.sin_port != 0);

  RUN_UNTIL(&loop, r.datagrams == 1 && r.drained == 1 && t.done == 1);
  CHECK_EQ(t.status[0], 0);
  CHECK_STREQ(r.data[0], "PING");
  CHECK_EQ(r.allocs, r.calls);   /* every callback had its alloc */
  CHECK_EQ(uv_udp_get_send_queue_size(&t.h), 0);
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), 0);
  CHECK(!uv_is_active((uv_handle_t*) &t.h));
  close_both(&loop, &r, &t);
}

static void check_sender(const struct sockaddr* addr, uint16_t port) {
  const struct sockaddr_in6* a6 = (const struct sockaddr_in6*) addr;
  CHECK_EQ(addr->sa_family, AF_INET6);
  CHECK_EQ(a6->sin6_port, port);
}

static uint16_t want_port;

static void recv6_cb(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf,
                     const struct sockaddr* addr, unsigned flags) {
  if (addr != NULL && nread > 0)
    check_sender(addr, want_port);
  rx_recv(h, nread, buf, addr, flags);
}

TEST(send_recv_ipv6) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in6 to;
  struct sockaddr_in6 from;
  int len = sizeof(to);
  int err;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_ip6_addr("::1", 0, &to));
  r.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &r.h));
  err = uv_udp_bind(&r.h, (const struct sockaddr*) &to, UV_UDP_IPV6ONLY);
  if (err == UV_EADDRNOTAVAIL || err == UV_EAFNOSUPPORT)
    nl_test_skip("no IPv6 loopback address (::1) here");
  CHECK_OK(err);
  CHECK_OK(uv_udp_getsockname(&r.h, (struct sockaddr*) &to, &len));
  CHECK_EQ(len, sizeof(to));
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, recv6_cb));

  CHECK_OK(uv_udp_init_ex(&loop, &t.h, AF_INET6));
  CHECK_OK(uv_udp_set_ttl(&t.h, 64));              /* IPV6_UNICAST_HOPS */
  CHECK_OK(uv_udp_set_multicast_ttl(&t.h, 1));
  CHECK_OK(uv_udp_set_multicast_loop(&t.h, 1));
  /* nodeloop: the IPv6 option on a socket made by uv_udp_init_ex (where
   * the kernel takes only 0 and 1); libuv sets the IPv4 one there. */
  CHECK_EQ(uv_udp_set_multicast_loop(&t.h, 2), UV_EINVAL);
  send_buf(&t, 0, "PING6", &to);
  len = sizeof(from);
  CHECK_OK(uv_udp_getsockname(&t.h, (struct sockaddr*) &from, &len));
  want_port = from.sin6_port;
  RUN_UNTIL(&loop, r.datagrams == 1 && t.done == 1);
  CHECK_EQ(t.status[0], 0);
  CHECK_STREQ(r.data[0], "PING6");
  close_both(&loop, &r, &t);
}

/* A dual-stack socket hears IPv4 senders; an IPv6-only one does not. */
TEST(dual_stack_and_ipv6_only) {
  uv_loop_t loop;
  static struct rx dual;
  static struct rx only;
  static struct tx t;
  struct sockaddr_in6 a6;
  struct sockaddr_in to;
  int len = sizeof(a6);
  int err;

  CHECK_OK(uv_loop_init(&loop));
  dual.buf_len = only.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &dual.h));
  CHECK_OK(uv_ip6_addr("::", 0, &a6));
  err = uv_udp_bind(&dual.h, (const struct sockaddr*) &a6, 0);
  if (err == UV_EAFNOSUPPORT || err == UV_EADDRNOTAVAIL)
    nl_test_skip("no IPv6 here");
  CHECK_OK(err);
  CHECK_OK(uv_udp_getsockname(&dual.h, (struct sockaddr*) &a6, &len));
  CHECK_OK(uv_udp_recv_start(&dual.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  to = addr4("127.0.0.1", ntohs(a6.sin6_port));
  send_buf(&t, 0, "V4", &to);
  RUN_UNTIL(&loop, dual.datagrams == 1);
  CHECK_STREQ(dual.data[0], "V4");

  /* An IPv6-only socket on another port; IPv4 datagrams do not reach it.
   * The bind flag is refused for an IPv4 address. */
  CHECK_OK(uv_udp_init(&loop, &only.h));
  CHECK_OK(uv_ip6_addr("::", 0, &a6));
  CHECK_EQ(uv_udp_bind(&only.h, (const struct sockaddr*) &to,
                       UV_UDP_IPV6ONLY), UV_EINVAL);
  CHECK_OK(uv_udp_bind(&only.h, (const struct sockaddr*) &a6,
                       UV_UDP_IPV6ONLY));
  len = sizeof(a6);
  CHECK_OK(uv_udp_getsockname(&only.h, (struct sockaddr*) &a6, &len));
  CHECK_OK(uv_udp_recv_start(&only.h, rx_alloc, rx_recv));
  to = addr4("127.0.0.1", ntohs(a6.sin6_port));
  send_buf(&t, 1, "LOST", &to);
  RUN_UNTIL(&loop, t.done == 2);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(only.datagrams, 0);
  uv_close((uv_handle_t*) &only.h, NULL);
  close_both(&loop, &dual, &t);
}

/* Every readiness ends with a callback of nread 0 and no address once the
 * socket is drained; an empty datagram has an address. */
TEST(drained_and_empty_datagrams) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t empty = uv_buf_init(NULL, 0);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_try_send(&t.h, &empty, 1, (const struct sockaddr*) &to), 0);
  CHECK_EQ(uv_udp_try_send(&t.h, &empty, 1, (const struct sockaddr*) &to), 0);
  /* Nothing runs before receiving starts. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 2);
  CHECK_EQ(r.empty, 2);
  CHECK_EQ(r.allocs, 3);
  CHECK_EQ(r.calls, 3);
  /* Nothing more to read: no more callbacks. */
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(r.calls, 3);
  close_both(&loop, &r, &t);
}

/* A datagram larger than the buffer is cut, with UV_UDP_PARTIAL. */
TEST(partial_datagram) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  char big[100];

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, 10);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  memset(big, 'x', sizeof(big));
  memcpy(big, "0123456789", 10);
  {
    uv_buf_t b = uv_buf_init(big, sizeof(big));
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 100);
  }
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 1);
  CHECK_EQ(r.partials, 1);
  CHECK_STREQ(r.data[0], "0123456789");
  close_both(&loop, &r, &t);
}

/* A null buffer from alloc is UV_ENOBUFS, once per readiness; the
 * datagram stays for later. */
TEST(alloc_null_buffer) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("DATA", 4);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, 0);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 4);
  RUN_UNTIL(&loop, r.errors == 1);
  CHECK_EQ(r.last_error, UV_ENOBUFS);
  CHECK_EQ(r.calls, 1);
  CHECK(uv_is_active((uv_handle_t*) &r.h));
  r.buf_len = DGRAM_MAX;
  RUN_UNTIL(&loop, r.datagrams == 1);
  CHECK_STREQ(r.data[0], "DATA");
  close_both(&loop, &r, &t);
}

/* Closing from the receive callback: no callback after it. */
TEST(close_in_recv_callback) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("X", 1);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  r.close_at = 2;
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 5; i++)
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 1);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, close_calls == 1);
  CHECK_EQ(r.datagrams, 2);
  CHECK_EQ(r.calls, 2);
  CHECK_EQ(r.allocs, 2);
  close_both(&loop, &r, &t);
}

/* At most 32 datagrams per readiness, as in libuv: a busy socket cannot
 * hold the loop. */
TEST(reads_per_event_bounded) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("X", 1);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 40; i++)
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 1);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  while (r.calls == 0)
    uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(r.datagrams, 32);
  CHECK_EQ(r.drained, 0);
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 40);
  close_both(&loop, &r, &t);
}

/* ---------------------------------------------------------------------
 * recvmmsg.
 */

TEST(using_recvmmsg) {
  uv_loop_t loop;
  uv_udp_t a;
  uv_udp_t b;
  uv_udp_t c;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &a));
  CHECK_EQ(uv_udp_using_recvmmsg(&a), 0);
  /* libuv: the flag counts, with or without a socket. */
  CHECK_OK(uv_udp_init_ex(&loop, &b, AF_UNSPEC | UV_UDP_RECVMMSG));
  CHECK_EQ(uv_udp_using_recvmmsg(&b), 1);
  CHECK_OK(uv_udp_init_ex(&loop, &c, AF_INET6 | UV_UDP_RECVMMSG));
  CHECK_EQ(uv_udp_using_recvmmsg(&c), 1);
  CHECK_EQ(uv_udp_using_recvmmsg(NULL), 0);   /* nodeloop: libuv crashes */
  nl_test_close_loop(&loop);
}

/* 45 datagrams into a buffer of 20 chunks: batches of 20, 20 (the per
 * readiness budget of 32 is spent), then 5 and the drained callback.
 * Chunks point into the buffer; its free callback follows each batch. */
TEST(recvmmsg_chunks_and_free) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  char text[16];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, AF_INET | UV_UDP_RECVMMSG, 20 * DGRAM_MAX);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 45; i++) {
    uv_buf_t b;
    snprintf(text, sizeof(text), "D%d", i);
    b = uv_buf_init(text, (unsigned int) strlen(text));
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to),
             (int) strlen(text));
  }
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  while (r.calls == 0)
    uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(r.datagrams, 40);
  CHECK_EQ(r.frees, 2);
  CHECK_EQ(r.allocs, 2);
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 45);
  CHECK_EQ(r.chunks, 45);
  CHECK_EQ(r.frees, 3);
  CHECK_EQ(r.allocs, 4);
  CHECK_EQ(r.calls, 45 + 3 + 1);
  for (i = 0; i < 45; i++) {
    snprintf(text, sizeof(text), "D%d", i);
    CHECK_STREQ(r.data[i], text);
  }
  close_both(&loop, &r, &t);
}

/* A chunk count is the buffer's length over 64 KiB, at most 20. */
TEST(recvmmsg_batch_width) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("X", 1);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, UV_UDP_RECVMMSG, 2 * DGRAM_MAX + 100);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 5; i++)
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 1);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 5);
  CHECK_EQ(r.frees, 3);      /* 2 + 2 + 1 */
  CHECK_EQ(r.allocs, 4);
  close_both(&loop, &r, &t);
}

/* nodeloop: a buffer smaller than one chunk is read the plain way (libuv
 * calls recvmmsg() for zero messages, forever). */
TEST(recvmmsg_small_buffer) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("SMALL", 5);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, UV_UDP_RECVMMSG, 1000);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 5);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 5);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.drained == 1);
  CHECK_EQ(r.datagrams, 2);
  CHECK_EQ(r.chunks, 0);
  CHECK_EQ(r.frees, 0);
  CHECK_STREQ(r.data[1], "SMALL");
  close_both(&loop, &r, &t);
}

/* nodeloop: stopping (or closing) from a chunk callback drops the rest of
 * the batch, and the buffer still comes back with UV_UDP_MMSG_FREE
 * (libuv never hands it back after a stop, and after a close goes on
 * delivering chunks to the closing handle). */
TEST(recvmmsg_stop_in_chunk) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("X", 1);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, UV_UDP_RECVMMSG, 8 * DGRAM_MAX);
  r.stop_at = 3;
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 6; i++)
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 1);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.frees == 1);
  CHECK_EQ(r.datagrams, 3);
  CHECK_EQ(r.calls, 4);
  CHECK(!uv_is_active((uv_handle_t*) &r.h));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(r.calls, 4);

  /* The rest of that batch was read from the socket and is gone (libuv
   * drops it too). Six more; the close at the second drops the rest. */
  for (i = 0; i < 6; i++)
    CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 1);
  r.stop_at = 0;
  r.close_at = 5;
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.frees == 2);
  CHECK_EQ(r.datagrams, 5);
  CHECK_EQ(r.calls, 7);
  CHECK_EQ(close_calls, 1);   /* the same iteration's close phase */
  close_both(&loop, &r, &t);
  CHECK_EQ(close_calls, 2);
}

/* ---------------------------------------------------------------------
 * Connected handles.
 */

TEST(connected_handles) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  struct sockaddr_in any = addr4("0.0.0.0", 0);
  struct sockaddr_in peer;
  struct sockaddr unspec;
  uv_buf_t b = uv_buf_init("CONN", 4);
  int len = sizeof(peer);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));

  /* Not connected: no peer (no socket yet: UV_EBADF), no destination. */
  CHECK_EQ(uv_udp_getpeername(&t.h, (struct sockaddr*) &peer, &len),
           UV_EBADF);
  CHECK_EQ(uv_udp_connect(&t.h, NULL), UV_ENOTCONN);
  CHECK_EQ(uv_udp_send(&t.reqs[0], &t.h, &b, 1, NULL, tx_send_cb),
           UV_EDESTADDRREQ);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, NULL), UV_EDESTADDRREQ);
  /* libuv: AF_UNSPEC is not a way to disconnect, it is UV_EINVAL. */
  memset(&unspec, 0, sizeof(unspec));
  unspec.sa_family = AF_UNSPEC;
  CHECK_EQ(uv_udp_connect(&t.h, &unspec), UV_EINVAL);

  /* Connecting binds the handle. */
  CHECK_OK(uv_udp_connect(&t.h, (const struct sockaddr*) &any));
  CHECK_OK(uv_udp_connect(&t.h, NULL));
  CHECK_OK(uv_udp_connect(&t.h, (const struct sockaddr*) &to));
  CHECK_EQ(uv_udp_connect(&t.h, (const struct sockaddr*) &to), UV_EISCONN);
  CHECK_EQ(uv_udp_connect(&t.h, &unspec), UV_EINVAL);
  len = sizeof(peer);
  CHECK_OK(uv_udp_getpeername(&t.h, (struct sockaddr*) &peer, &len));
  CHECK_EQ(len, sizeof(peer));
  CHECK_EQ(peer.sin_port, to.sin_port);

  /* With a peer, an address is UV_EISCONN, even a bad one. */
  CHECK_EQ(uv_udp_send(&t.reqs[0], &t.h, &b, 1,
                       (const struct sockaddr*) &to, tx_send_cb),
           UV_EISCONN);
  CHECK_EQ(uv_udp_send(&t.reqs[0], &t.h, &b, 1, &unspec, tx_send_cb),
           UV_EISCONN);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to),
           UV_EISCONN);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, NULL), 4);
  CHECK_OK(uv_udp_send(&t.reqs[0], &t.h, &b, 1, NULL, tx_send_cb));
  RUN_UNTIL(&loop, r.datagrams == 2 && t.done == 1);
  CHECK_EQ(t.status[0], 0);

  /* Disconnected again: addresses are needed once more. */
  CHECK_OK(uv_udp_connect(&t.h, NULL));
  CHECK_EQ(uv_udp_connect(&t.h, NULL), UV_ENOTCONN);
  len = sizeof(peer);
  CHECK_EQ(uv_udp_getpeername(&t.h, (struct sockaddr*) &peer, &len),
           UV_ENOTCONN);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, NULL), UV_EDESTADDRREQ);
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &to), 4);
  RUN_UNTIL(&loop, r.datagrams == 3);
  close_both(&loop, &r, &t);
}

/* A connected socket whose peer has no listener: the ICMP error comes to
 * the receive callback (no address), and the handle keeps receiving. */
TEST(connected_refused) {
  uv_loop_t loop;
  static struct rx r;
  struct sockaddr_in to;
  uv_udp_t probe;
  uv_buf_t b = uv_buf_init("X", 1);
  int len = sizeof(to);

  CHECK_OK(uv_loop_init(&loop));
  /* A port nobody listens on: bound, then closed. */
  CHECK_OK(uv_udp_init(&loop, &probe));
  to = addr4("127.0.0.1", 0);
  CHECK_OK(uv_udp_bind(&probe, (const struct sockaddr*) &to, 0));
  CHECK_OK(uv_udp_getsockname(&probe, (struct sockaddr*) &to, &len));
  uv_close((uv_handle_t*) &probe, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);

  r.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &r.h));
  CHECK_OK(uv_udp_connect(&r.h, (const struct sockaddr*) &to));
  CHECK_EQ(uv_udp_try_send(&r.h, &b, 1, NULL), 1);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, r.errors == 1);
  CHECK_EQ(r.last_error, UV_ECONNREFUSED);
  CHECK_EQ(r.calls, 1);
  CHECK(uv_is_active((uv_handle_t*) &r.h));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(r.calls, 1);
  close_both(&loop, &r, NULL);
}

/* ---------------------------------------------------------------------
 * The send queue.
 */

/* uv_udp_try_send: bytes sent at once, UV_EAGAIN while sends are queued,
 * UV_EMSGSIZE for a datagram too big, and it binds an unbound handle. */
TEST(try_send) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  static char big[65536];
  struct sockaddr_in to;
  struct sockaddr_in name;
  uv_buf_t parts[3];
  int len = sizeof(name);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_getsockname(&t.h, (struct sockaddr*) &name, &len),
           UV_EBADF);
  parts[0] = uv_buf_init("ON", 2);
  parts[1] = uv_buf_init("E", 1);
  parts[2] = uv_buf_init("", 0);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 3, (const struct sockaddr*) &to), 3);
  CHECK_OK(uv_udp_getsockname(&t.h, (struct sockaddr*) &name, &len));
  parts[0] = uv_buf_init(big, sizeof(big));
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 1, (const struct sockaddr*) &to),
           UV_EMSGSIZE);

  /* A send waits for its callback; until then try_send must not
   * overtake it. */
  send_buf(&t, 0, "TWO", &to);
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), 1);
  parts[0] = uv_buf_init("THREE", 5);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 1, (const struct sockaddr*) &to),
           UV_EAGAIN);
  RUN_UNTIL(&loop, t.done == 1);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 1, (const struct sockaddr*) &to), 5);
  /* Several buffers make one datagram, small (gathered into one before
   * sending) or not. */
  memset(big, 'x', 1000);
  memset(big + 1000, 'y', 1000);
  parts[0] = uv_buf_init(big, 1000);
  parts[1] = uv_buf_init(big + 1000, 1000);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 2, (const struct sockaddr*) &to),
           2000);
  parts[0] = uv_buf_init(big, 3);
  parts[1] = uv_buf_init(NULL, 0);
  parts[2] = uv_buf_init(big + 1000, 4);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 3, (const struct sockaddr*) &to), 7);
  RUN_UNTIL(&loop, r.datagrams == 5);
  CHECK_STREQ(r.data[0], "ONE");
  CHECK_STREQ(r.data[1], "TWO");
  CHECK_STREQ(r.data[2], "THREE");
  CHECK_EQ(r.lens[3], 2000);
  CHECK_EQ(r.tail[3], 'y');
  CHECK_STREQ(r.data[4], "xxxyyyy");

  /* nodeloop: a closing handle is UV_EBADF (libuv binds a new socket to
   * the closing handle and asserts later). */
  uv_close((uv_handle_t*) &t.h, close_cb);
  CHECK_EQ(uv_udp_try_send(&t.h, parts, 1, (const struct sockaddr*) &to),
           UV_EBADF);
  CHECK_EQ(uv_udp_send(&t.reqs[1], &t.h, parts, 1,
                       (const struct sockaddr*) &to, tx_send_cb), UV_EBADF);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(close_calls, 1);
  close_both(&loop, &r, &t);
}

static int chain_order_ok = 1;

static void queue_cb(uv_udp_send_t* req, int status) {
  struct tx* t = (struct tx*) req->handle;

  tx_send_cb(req, status);
  /* Callbacks come in request order. */
  if (t->order[t->done - 1] != t->done - 1)
    chain_order_ok = 0;
}

/* send_queue_size and send_queue_count count the requests whose callbacks
 * have not run, and drop just before each callback, as in libuv; the
 * handle is active while any is counted. */
TEST(queue_size_and_count) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in to;
  uv_buf_t bufs[6];
  size_t sizes[5] = {1, 10, 100, 1000, 6};
  size_t total = 0;
  static char data[1000];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  memset(data, 'q', sizeof(data));
  for (i = 0; i < 5; i++) {
    unsigned int nb = i == 4 ? 6 : 1;   /* one with more than 4 buffers */
    unsigned int k;
    for (k = 0; k < nb; k++)
      bufs[k] = uv_buf_init(data, (unsigned int) (i == 4 ? 1 : sizes[i]));
    CHECK_OK(uv_udp_send(&t.reqs[i], &t.h, bufs, nb,
                         (const struct sockaddr*) &to, queue_cb));
    total += sizes[i];
    CHECK_EQ(uv_udp_get_send_queue_size(&t.h), total);
    CHECK_EQ(uv_udp_get_send_queue_count(&t.h), (size_t) i + 1);
    CHECK_EQ(t.h.send_queue_size, total);
    CHECK_EQ(t.h.send_queue_count, (size_t) i + 1);
    CHECK(uv_is_active((uv_handle_t*) &t.h));
  }
  /* nodeloop: a request in flight cannot be sent again (libuv corrupts
   * its queue). */
  CHECK_EQ(uv_udp_send(&t.reqs[0], &t.h, bufs, 1,
                       (const struct sockaddr*) &to, queue_cb), UV_EBUSY);
  CHECK_EQ(t.done, 0);
  RUN_UNTIL(&loop, t.done == 5);
  CHECK(chain_order_ok);
  for (i = 0; i < 5; i++) {
    total -= sizes[i];
    CHECK_EQ(t.status[i], 0);
    CHECK_EQ(t.size_seen[i], total);
    CHECK_EQ(t.count_seen[i], (size_t) (4 - i));
  }
  CHECK_EQ(uv_udp_get_send_queue_size(&t.h), 0);
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), 0);
  CHECK(!uv_is_active((uv_handle_t*) &t.h));
  RUN_UNTIL(&loop, r.datagrams == 5);
  CHECK_EQ(strlen(r.data[3]), 15);
  close_both(&loop, &r, &t);
}

static int check_ran;

static void mark_check(uv_check_t* c) {
  (void) c;
  check_ran++;
}

static void phase_cb(uv_udp_send_t* req, int status) {
  /* The pending phase of the first iteration: before its check phase. */
  CHECK_EQ(check_ran, 0);
  tx_send_cb(req, status);
}

/* A send callback runs in the pending phase of the next iteration, never
 * inside uv_udp_send(); an unreferenced handle's send keeps the loop
 * alive until then (the request does). */
TEST(send_callback_phase_and_ref) {
  uv_loop_t loop;
  static struct tx t;
  uv_check_t check;
  struct sockaddr_in to = addr4("127.0.0.1", 9);
  uv_buf_t b = uv_buf_init("X", 1);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_check_init(&loop, &check));
  CHECK_OK(uv_check_start(&check, mark_check));
  uv_unref((uv_handle_t*) &check);
  CHECK_OK(uv_udp_init(&loop, &t.h));
  uv_unref((uv_handle_t*) &t.h);
  CHECK_OK(uv_udp_send(&t.reqs[0], &t.h, &b, 1,
                       (const struct sockaddr*) &to, phase_cb));
  CHECK_EQ(t.done, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(t.done, 1);
  CHECK_EQ(check_ran, 1);
  uv_close((uv_handle_t*) &check, NULL);
  close_both(&loop, NULL, &t);
}

/* Sends queued when the handle closes get UV_ECANCELED, after the
 * callbacks of sends already made, and before the close callback. */
static int cancel_close_seen;

static void cancel_close_cb(uv_handle_t* h) {
  struct tx* t = (struct tx*) h;
  CHECK_EQ(t->done, 4);
  cancel_close_seen++;
}

TEST(close_cancels_queued_sends) {
  uv_loop_t loop;
  static struct tx t;
  struct sockaddr_in to = addr4("127.0.0.1", 9);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 4; i++)
    send_buf(&t, i, "Q", &to);
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), 4);
  uv_close((uv_handle_t*) &t.h, cancel_close_cb);
  CHECK_EQ(t.done, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(cancel_close_seen, 1);
  CHECK_EQ(t.done, 4);
  /* The first went out at once; the others waited for the pending
   * phase, which the close came before. */
  CHECK_EQ(t.status[0], 0);
  for (i = 1; i < 4; i++)
    CHECK_EQ(t.status[i], UV_ECANCELED);
  for (i = 0; i < 4; i++)
    CHECK_EQ(t.order[i], i);
  CHECK_EQ(t.h.send_queue_size, 0);
  CHECK_EQ(t.h.send_queue_count, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(t.done, 4);
  nl_test_close_loop(&loop);
}

/* Many sends in a row: the first goes at once, the rest in batches; all
 * arrive, in order, and complete in order. */
TEST(many_sends_in_a_row) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  static char texts[200][8];
  struct sockaddr_in to;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  {
    int size = 1 << 20;
    CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &r.h, &size));
  }
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  for (i = 0; i < 200; i++) {
    snprintf(texts[i], sizeof(texts[i]), "M%d", i);
    if (i % 2 == 0) {
      send_buf(&t, i, texts[i], &to);
    } else {
      /* Two buffers: one datagram. */
      uv_buf_t two[2];
      two[0] = uv_buf_init(texts[i], 1);
      two[1] = uv_buf_init(texts[i] + 1, (unsigned int) strlen(texts[i]) - 1);
      CHECK_OK(uv_udp_send(&t.reqs[i], &t.h, two, 2,
                           (const struct sockaddr*) &to, tx_send_cb));
    }
  }
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), 200);
  RUN_UNTIL(&loop, t.done == 200 && r.datagrams == 200);
  for (i = 0; i < 200; i++) {
    CHECK_EQ(t.status[i], 0);
    CHECK_EQ(t.order[i], i);
    CHECK_EQ(t.count_seen[i], (size_t) (199 - i));
    CHECK_STREQ(r.data[i], texts[i]);
  }
  close_both(&loop, &r, &t);
}

/* nodeloop: in a batch, an error belongs to the datagram that caused it;
 * the others still go (libuv 1.44 fails the whole sendmmsg() batch). */
TEST(batch_error_is_one_requests) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  static char big[70000];
  struct sockaddr_in to;
  uv_buf_t b;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  send_buf(&t, 0, "A", &to);
  b = uv_buf_init(big, sizeof(big));
  CHECK_OK(uv_udp_send(&t.reqs[1], &t.h, &b, 1, (const struct sockaddr*) &to,
                       tx_send_cb));
  send_buf(&t, 2, "C", &to);
  send_buf(&t, 3, "D", &to);
  CHECK_EQ(uv_udp_get_send_queue_size(&t.h), 3 + sizeof(big));
  RUN_UNTIL(&loop, t.done == 4 && r.datagrams == 3);
  CHECK_EQ(t.status[0], 0);
  CHECK_EQ(t.status[1], UV_EMSGSIZE);
  CHECK_EQ(t.status[2], 0);
  CHECK_EQ(t.status[3], 0);
  CHECK_STREQ(r.data[1], "C");
  CHECK_STREQ(r.data[2], "D");
  close_both(&loop, &r, &t);
}

/* A full socket: sends wait for it to drain (a Unix datagram socket pair,
 * whose reader's queue fills up), then the rest go, in order; a close
 * cancels what still waits. */
TEST(full_socket_waits_then_close_cancels) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  static char data[128][2048];
  int sv[2];
  int i;
  int sent;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  r.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &r.h));
  CHECK_OK(uv_udp_open(&r.h, sv[1]));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_OK(uv_udp_open(&t.h, sv[0]));   /* connected: no addresses */
  for (i = 0; i < 128; i++) {
    uv_buf_t b;
    memset(data[i], 'a' + i % 26, sizeof(data[i]));
    snprintf(data[i], 8, "U%d", i);
    b = uv_buf_init(data[i], sizeof(data[i]));
    CHECK_OK(uv_udp_send(&t.reqs[i], &t.h, &b, 1, NULL, tx_send_cb));
  }
  /* Run until the socket is full: the sends stop completing. */
  for (i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  sent = t.done;
  CHECK(sent > 0);
  CHECK(sent < 128);
  CHECK_EQ(uv_udp_get_send_queue_count(&t.h), (size_t) (128 - sent));
  CHECK(uv_is_active((uv_handle_t*) &t.h));
  /* Reading makes room: everything goes. */
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  RUN_UNTIL(&loop, t.done == 128 && r.datagrams == 128);
  for (i = 0; i < 128; i++) {
    char want[8];
    snprintf(want, sizeof(want), "U%d", i);
    CHECK_EQ(t.status[i], 0);
    CHECK_EQ(t.order[i], i);
    CHECK_STREQ(r.data[i], want);
  }

  /* Full again, not reading; the close cancels the sends left. */
  CHECK_OK(uv_udp_recv_stop(&r.h));
  t.done = 0;
  for (i = 0; i < 128; i++) {
    uv_buf_t b = uv_buf_init(data[i], sizeof(data[i]));
    CHECK_OK(uv_udp_send(&t.reqs[i], &t.h, &b, 1, NULL, tx_send_cb));
  }
  for (i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  sent = t.done;
  CHECK(sent < 128);
  uv_close((uv_handle_t*) &t.h, close_cb);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(t.done, 128);
  /* Sent ones (those whose callbacks had run, perhaps a few more whose
   * callbacks were due), then the cancelled ones, in order. */
  for (i = 0; i < 128; i++) {
    CHECK_EQ(t.order[i], i);
    if (i < sent)
      CHECK_EQ(t.status[i], 0);
    else if (t.status[i] != 0)
      CHECK_EQ(t.status[i], UV_ECANCELED);
    if (i > 0 && t.status[i - 1] == UV_ECANCELED)
      CHECK_EQ(t.status[i], UV_ECANCELED);
  }
  CHECK_EQ(t.status[127], UV_ECANCELED);
  CHECK_EQ(t.h.send_queue_count, 0);
  CHECK_EQ(t.h.send_queue_size, 0);
  close_both(&loop, &r, &t);
}

/* ---------------------------------------------------------------------
 * Multicast and options.
 */

TEST(multicast_loopback) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  struct sockaddr_in any = addr4("0.0.0.0", 0);
  struct sockaddr_in group;
  uv_buf_t b = uv_buf_init("MCAST", 5);
  int len = sizeof(any);
  int err;
  int n;

  CHECK_OK(uv_loop_init(&loop));
  r.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &r.h));
  CHECK_OK(uv_udp_bind(&r.h, (const struct sockaddr*) &any,
                       UV_UDP_REUSEADDR));
  CHECK_OK(uv_udp_getsockname(&r.h, (struct sockaddr*) &any, &len));
  /* By default a socket bound to the wildcard address also receives the
   * datagrams of groups any other socket on the host has joined (the
   * test's variants for the other pollers run beside it and join the same
   * group), so the leave below could not be seen. */
  {
    uv_os_fd_t fd;
    int off = 0;

    CHECK_OK(uv_fileno((uv_handle_t*) &r.h, &fd));
    CHECK_OK(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off)));
  }
  group = addr4("239.255.0.77", ntohs(any.sin_port));
  err = uv_udp_set_membership(&r.h, "239.255.0.77", "127.0.0.1",
                              UV_JOIN_GROUP);
  if (err == UV_ENODEV || err == UV_EADDRNOTAVAIL || err == UV_ENOBUFS)
    nl_test_skip("cannot join a multicast group on the loopback interface");
  CHECK_OK(err);
  /* The kernel's answers to a second join and to unknown groups. */
  CHECK_EQ(uv_udp_set_membership(&r.h, "239.255.0.77", "127.0.0.1",
                                 UV_JOIN_GROUP), UV_EADDRINUSE);
  CHECK_EQ(uv_udp_set_membership(&r.h, "239.255.0.78", "127.0.0.1",
                                 UV_LEAVE_GROUP), UV_EADDRNOTAVAIL);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));

  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_set_multicast_interface(&t.h, "127.0.0.1"), UV_EBADF);
  any = addr4("0.0.0.0", 0);
  CHECK_OK(uv_udp_bind(&t.h, (const struct sockaddr*) &any, 0));
  CHECK_OK(uv_udp_set_multicast_interface(&t.h, "127.0.0.1"));
  CHECK_OK(uv_udp_set_multicast_loop(&t.h, 1));
  CHECK_OK(uv_udp_set_multicast_ttl(&t.h, 0));
  CHECK_OK(uv_udp_set_multicast_ttl(&t.h, 1));
  n = uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &group);
  if (n < 0)
    nl_test_skip("cannot send to a multicast group on the loopback interface");
  CHECK_EQ(n, 5);
  {
    uint64_t end = uv_hrtime() + 1000000000u;
    while (r.datagrams == 0 && uv_hrtime() < end)
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  if (r.datagrams == 0)
    nl_test_skip("multicast datagrams do not loop back here");
  CHECK_STREQ(r.data[0], "MCAST");

  /* Left, the group's datagrams stop coming. */
  CHECK_OK(uv_udp_set_membership(&r.h, "239.255.0.77", "127.0.0.1",
                                 UV_LEAVE_GROUP));
  CHECK_EQ(uv_udp_try_send(&t.h, &b, 1, (const struct sockaddr*) &group), 5);
  {
    int i;
    for (i = 0; i < 20; i++)
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK_EQ(r.datagrams, 1);

  /* Source-specific membership: join, a second join, leave. */
  err = uv_udp_set_source_membership(&r.h, "232.1.1.1", "127.0.0.1",
                                     "127.0.0.1", UV_JOIN_GROUP);
  if (err == 0) {
    CHECK_EQ(uv_udp_set_source_membership(&r.h, "232.1.1.1", "127.0.0.1",
                                          "127.0.0.1", UV_JOIN_GROUP),
             UV_EADDRNOTAVAIL);
    CHECK_OK(uv_udp_set_source_membership(&r.h, "232.1.1.1", "127.0.0.1",
                                          "127.0.0.1", UV_LEAVE_GROUP));
  }
  close_both(&loop, &r, &t);
}

/* Joining binds a handle without a socket, in the group's family. */
TEST(membership_binds) {
  uv_loop_t loop;
  uv_udp_t h;
  struct sockaddr_in name;
  int len = sizeof(name);
  int err;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &h));
  err = uv_udp_set_membership(&h, "239.255.0.79", NULL, UV_JOIN_GROUP);
  if (err == UV_ENODEV)
    nl_test_skip("no multicast route here");
  CHECK_OK(err);
  CHECK_OK(uv_udp_getsockname(&h, (struct sockaddr*) &name, &len));
  CHECK_EQ(name.sin_family, AF_INET);
  CHECK(name.sin_port != 0);
  CHECK_OK(uv_udp_set_membership(&h, "239.255.0.79", NULL, UV_LEAVE_GROUP));
  nl_test_close_loop(&loop);
}

TEST(options) {
  uv_loop_t loop;
  uv_udp_t h;
  uv_udp_t lazy;
  struct sockaddr_in any = addr4("0.0.0.0", 0);
  int i;

  CHECK_OK(uv_loop_init(&loop));
  /* Without a socket: the range checks first, then UV_EBADF; these do
   * not bind. */
  CHECK_OK(uv_udp_init(&loop, &lazy));
  CHECK_EQ(uv_udp_set_ttl(&lazy, 0), UV_EINVAL);
  CHECK_EQ(uv_udp_set_ttl(&lazy, 1), UV_EBADF);
  CHECK_EQ(uv_udp_set_multicast_ttl(&lazy, 32), UV_EBADF);
  CHECK_EQ(uv_udp_set_multicast_loop(&lazy, 1), UV_EBADF);
  CHECK_EQ(uv_udp_set_broadcast(&lazy, 1), UV_EBADF);
  CHECK_EQ(uv_udp_set_multicast_interface(&lazy, "0.0.0.0"), UV_EBADF);
  CHECK_EQ(uv_udp_set_multicast_interface(&lazy, NULL), UV_EBADF);
  CHECK_EQ(uv_udp_set_multicast_interface(&lazy, "bogus"), UV_EINVAL);

  CHECK_OK(uv_udp_init(&loop, &h));
  CHECK_OK(uv_udp_bind(&h, (const struct sockaddr*) &any, 0));
  for (i = 1; i <= 255; i++)
    CHECK_OK(uv_udp_set_ttl(&h, i));
  CHECK_EQ(uv_udp_set_ttl(&h, 0), UV_EINVAL);
  CHECK_EQ(uv_udp_set_ttl(&h, 256), UV_EINVAL);
  CHECK_EQ(uv_udp_set_ttl(&h, -1), UV_EINVAL);
  for (i = 0; i <= 255; i++)
    CHECK_OK(uv_udp_set_multicast_ttl(&h, i));
  CHECK_EQ(uv_udp_set_multicast_ttl(&h, 256), UV_EINVAL);
  CHECK_EQ(uv_udp_set_multicast_ttl(&h, -1), UV_EINVAL);
  CHECK_OK(uv_udp_set_multicast_loop(&h, 0));
  CHECK_OK(uv_udp_set_multicast_loop(&h, 2));   /* libuv: IPv4 takes it */
  CHECK_EQ(uv_udp_set_multicast_loop(&h, -1), UV_EINVAL);
  CHECK_EQ(uv_udp_set_multicast_loop(&h, 256), UV_EINVAL);
  CHECK_OK(uv_udp_set_broadcast(&h, 1));
  CHECK_OK(uv_udp_set_broadcast(&h, 0));
  CHECK_OK(uv_udp_set_broadcast(&h, 2));
  CHECK_OK(uv_udp_set_multicast_interface(&h, "0.0.0.0"));
  CHECK_OK(uv_udp_set_multicast_interface(&h, "127.0.0.1"));
  CHECK_OK(uv_udp_set_multicast_interface(&h, NULL));
  CHECK_EQ(uv_udp_set_multicast_interface(&h, "::1"), UV_ENOPROTOOPT);
  CHECK_EQ(uv_udp_set_multicast_interface(&h, "bogus"), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Descriptors, opening, binding, bad input.
 */

TEST(fileno_and_buffer_sizes) {
  uv_loop_t loop;
  uv_udp_t h;
  uv_udp_t early;
  uv_os_fd_t fd;
  struct sockaddr_in a = addr4("127.0.0.1", 0);
  int value = 0;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &h));
  CHECK_EQ(uv_fileno((uv_handle_t*) &h, &fd), UV_EBADF);
  CHECK_EQ(uv_recv_buffer_size((uv_handle_t*) &h, &value), UV_EBADF);
  CHECK_EQ(uv_send_buffer_size((uv_handle_t*) &h, &value), UV_EBADF);
  CHECK_OK(uv_udp_bind(&h, (const struct sockaddr*) &a, 0));
  CHECK_OK(uv_fileno((uv_handle_t*) &h, &fd));
  CHECK(fd > 2);
  value = 0;
  CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &h, &value));
  CHECK(value > 0);
  value = 10000;
  CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &h, &value));
  value = 0;
  CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &h, &value));
  CHECK_EQ(value, 20000);   /* Linux doubles it */
  value = 10000;
  CHECK_OK(uv_send_buffer_size((uv_handle_t*) &h, &value));
  value = 0;
  CHECK_OK(uv_send_buffer_size((uv_handle_t*) &h, &value));
  CHECK_EQ(value, 20000);

  /* uv_udp_init_ex with a family makes the socket at once. */
  CHECK_OK(uv_udp_init_ex(&loop, &early, AF_INET));
  CHECK_OK(uv_fileno((uv_handle_t*) &early, &fd));
  {
    struct sockaddr_in name;
    int len = sizeof(name);
    CHECK_OK(uv_udp_getsockname(&early, (struct sockaddr*) &name, &len));
    CHECK_EQ(name.sin_family, AF_INET);
    CHECK_EQ(name.sin_port, 0);
  }

  uv_close((uv_handle_t*) &h, NULL);
  CHECK_EQ(uv_fileno((uv_handle_t*) &h, &fd), UV_EBADF);
  value = 0;
  CHECK_EQ(uv_recv_buffer_size((uv_handle_t*) &h, &value), UV_EBADF);
  nl_test_close_loop(&loop);
}

TEST(open_existing_sockets) {
  uv_loop_t loop;
  static struct rx r;
  static struct tx t;
  uv_udp_t other;
  uv_udp_t twice;
  struct sockaddr_in to;
  int s;
  int s2;

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));

  /* A socket connected beforehand counts as connected. */
  s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0);
  CHECK_OK(connect(s, (const struct sockaddr*) &to, sizeof(to)));
  CHECK_OK(uv_udp_init(&loop, &t.h));
  CHECK_EQ(uv_udp_open(&t.h, -1), UV_EBADF);
  CHECK_OK(uv_udp_open(&t.h, s));
  CHECK_EQ(uv_udp_open(&t.h, s), UV_EBUSY);
  send_buf(&t, 0, "OPENED", NULL);
  RUN_UNTIL(&loop, r.datagrams == 1 && t.done == 1);
  CHECK_STREQ(r.data[0], "OPENED");

  /* A descriptor the loop already watches is UV_EEXIST. */
  {
    uv_os_fd_t fd;
    CHECK_OK(uv_fileno((uv_handle_t*) &r.h, &fd));
    CHECK_OK(uv_udp_init(&loop, &other));
    CHECK_EQ(uv_udp_open(&other, fd), UV_EEXIST);
  }
  /* A closed descriptor is UV_EBADF. */
  s2 = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s2 >= 0);
  close(s2);
  CHECK_OK(uv_udp_init(&loop, &twice));
  CHECK_EQ(uv_udp_open(&twice, s2), UV_EBADF);
  uv_close((uv_handle_t*) &other, NULL);
  uv_close((uv_handle_t*) &twice, NULL);
  close_both(&loop, &r, &t);
}

TEST(bind_errors_and_reuse) {
  uv_loop_t loop;
  uv_udp_t a;
  uv_udp_t b;
  uv_udp_t c;
  uv_udp_t d;
  uv_udp_t v6;
  struct sockaddr_in addr = addr4("127.0.0.1", 0);
  struct sockaddr_in other = addr4("127.0.0.1", 0);
  struct sockaddr unspec;
  uv_os_fd_t fd;
  int len = sizeof(addr);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &a));
  CHECK_OK(uv_udp_bind(&a, (const struct sockaddr*) &addr, 0));
  CHECK_OK(uv_udp_getsockname(&a, (struct sockaddr*) &addr, &len));
  CHECK_EQ(uv_udp_bind(&a, (const struct sockaddr*) &other, 0), UV_EINVAL);

  /* In use; the socket made for the attempt stays, and may bind
   * elsewhere (as in libuv). */
  CHECK_OK(uv_udp_init(&loop, &b));
  CHECK_EQ(uv_udp_bind(&b, (const struct sockaddr*) &addr, 0),
           UV_EADDRINUSE);
  CHECK_OK(uv_fileno((uv_handle_t*) &b, &fd));
  CHECK_OK(uv_udp_bind(&b, (const struct sockaddr*) &other, 0));

  /* UV_UDP_REUSEADDR on both: the port is shared. */
  CHECK_OK(uv_udp_init(&loop, &c));
  CHECK_OK(uv_udp_init(&loop, &d));
  other = addr4("127.0.0.1", 0);
  CHECK_OK(uv_udp_bind(&c, (const struct sockaddr*) &other,
                       UV_UDP_REUSEADDR));
  len = sizeof(other);
  CHECK_OK(uv_udp_getsockname(&c, (struct sockaddr*) &other, &len));
  CHECK_OK(uv_udp_bind(&d, (const struct sockaddr*) &other,
                       UV_UDP_REUSEADDR));

  /* Flags and families. */
  memset(&unspec, 0, sizeof(unspec));
  CHECK_OK(uv_udp_init(&loop, &v6));
  CHECK_EQ(uv_udp_bind(&v6, &unspec, 0), UV_EINVAL);
  CHECK_EQ(uv_udp_bind(&v6, (const struct sockaddr*) &addr, UV_UDP_PARTIAL),
           UV_EINVAL);
  CHECK_EQ(uv_udp_bind(&v6, (const struct sockaddr*) &addr, UV_UDP_RECVMMSG),
           UV_EINVAL);
  CHECK_EQ(uv_udp_bind(&v6, (const struct sockaddr*) &addr, UV_UDP_IPV6ONLY),
           UV_EINVAL);
  CHECK_EQ(uv_udp_bind(&v6, NULL, 0), UV_EINVAL);   /* nodeloop */
  CHECK_EQ(uv_fileno((uv_handle_t*) &v6, &fd), UV_EBADF);  /* none made */
  uv_close((uv_handle_t*) &v6, NULL);
  CHECK_EQ(uv_udp_bind(&v6, (const struct sockaddr*) &addr, 0), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* An IPv6 socket made early refuses an IPv4 address (libuv: UV_EINVAL). */
TEST(early_socket_wrong_family) {
  uv_loop_t loop;
  uv_udp_t h;
  struct sockaddr_in a = addr4("127.0.0.1", 0);
  int err;

  CHECK_OK(uv_loop_init(&loop));
  err = uv_udp_init_ex(&loop, &h, AF_INET6);
  if (err == UV_EAFNOSUPPORT)
    nl_test_skip("no IPv6 sockets here");
  CHECK_OK(err);
  CHECK_EQ(uv_udp_bind(&h, (const struct sockaddr*) &a, 0), UV_EINVAL);
  nl_test_close_loop(&loop);
}

static void never_alloc(uv_handle_t* h, size_t s, uv_buf_t* b) {
  (void) h;
  (void) s;
  (void) b;
  CHECK(0);
}

static void never_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* b,
                       const struct sockaddr* a, unsigned f) {
  (void) h;
  (void) n;
  (void) b;
  (void) a;
  (void) f;
  CHECK(0);
}

TEST(bad_arguments) {
  uv_loop_t loop;
  uv_udp_t h;
  uv_udp_t closing;
  uv_timer_t timer;
  uv_udp_send_t req;
  struct sockaddr_in a = addr4("127.0.0.1", 9);
  struct sockaddr unspec;
  uv_buf_t b = uv_buf_init("X", 1);
  int len = sizeof(a);

  CHECK_OK(uv_loop_init(&loop));
  /* The low byte is the family; above it only UV_UDP_RECVMMSG. */
  CHECK_EQ(uv_udp_init_ex(&loop, &h, 47), UV_EINVAL);
  CHECK_EQ(uv_udp_init_ex(&loop, &h, AF_UNIX), UV_EINVAL);
  CHECK_EQ(uv_udp_init_ex(&loop, &h, 1024), UV_EINVAL);
  CHECK_EQ(uv_udp_init_ex(&loop, &h, AF_INET | 0x200), UV_EINVAL);
  CHECK_EQ(uv_udp_init(NULL, &h), UV_EINVAL);
  CHECK_EQ(uv_udp_init(&loop, NULL), UV_EINVAL);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);   /* nothing was added */

  CHECK_OK(uv_udp_init(&loop, &h));
  memset(&unspec, 0, sizeof(unspec));
  CHECK_EQ(uv_udp_send(&req, &h, &b, 1, &unspec, NULL), UV_EINVAL);
  CHECK_EQ(uv_udp_try_send(&h, &b, 1, &unspec), UV_EINVAL);
  /* nodeloop: libuv asserts on these. */
  CHECK_EQ(uv_udp_send(&req, &h, &b, 0, (const struct sockaddr*) &a, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_udp_send(&req, &h, NULL, 1, (const struct sockaddr*) &a, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_udp_send(NULL, &h, &b, 1, (const struct sockaddr*) &a, NULL),
           UV_EINVAL);
  CHECK_EQ(uv_udp_try_send(&h, &b, 0, (const struct sockaddr*) &a),
           UV_EINVAL);
  CHECK_EQ(uv_udp_set_membership(&h, NULL, NULL, UV_JOIN_GROUP), UV_EINVAL);
  CHECK_EQ(uv_udp_set_source_membership(&h, "232.1.1.1", NULL, NULL,
                                        UV_JOIN_GROUP), UV_EINVAL);
  CHECK_EQ(uv_udp_getsockname(&h, (struct sockaddr*) &a, NULL), UV_EINVAL);
  CHECK_EQ(uv_udp_recv_start(&h, NULL, never_recv), UV_EINVAL);
  CHECK_EQ(uv_udp_recv_start(&h, never_alloc, NULL), UV_EINVAL);
  CHECK_EQ(uv_udp_recv_stop(NULL), UV_EINVAL);
  CHECK_EQ(uv_udp_get_send_queue_size(NULL), 0);
  CHECK_EQ(uv_udp_get_send_queue_count(NULL), 0);

  /* Memberships: the value, the addresses, the families. */
  CHECK_EQ(uv_udp_set_membership(&h, "239.255.0.1", NULL, 5), UV_EINVAL);
  CHECK_EQ(uv_udp_set_membership(&h, "bogus", NULL, UV_JOIN_GROUP),
           UV_EINVAL);
  CHECK_EQ(uv_udp_set_membership(&h, "239.255.0.1", "bogus", UV_JOIN_GROUP),
           UV_EINVAL);
  CHECK_EQ(uv_udp_set_source_membership(&h, "232.1.1.1", NULL, "::1",
                                        UV_JOIN_GROUP), UV_EINVAL);
  CHECK_EQ(uv_udp_set_source_membership(&h, "ff3e::1", NULL, "127.0.0.1",
                                        UV_JOIN_GROUP), UV_EINVAL);
  CHECK_EQ(uv_udp_set_source_membership(&h, "bogus", NULL, "127.0.0.1",
                                        UV_JOIN_GROUP), UV_EINVAL);
  CHECK_EQ(uv_udp_set_source_membership(&h, "232.1.1.1", NULL, "127.0.0.1",
                                        7), UV_EINVAL);
  /* None of that made a socket. */
  CHECK_EQ(uv_udp_getsockname(&h, (struct sockaddr*) &a, &len), UV_EBADF);
  /* A unicast group is the kernel's UV_EINVAL. */
  CHECK_EQ(uv_udp_set_membership(&h, "127.0.0.1", NULL, UV_JOIN_GROUP),
           UV_EINVAL);

  /* Receiving twice. */
  CHECK_OK(uv_udp_recv_start(&h, never_alloc, never_recv));
  CHECK_EQ(uv_udp_recv_start(&h, never_alloc, never_recv), UV_EALREADY);
  CHECK(uv_is_active((uv_handle_t*) &h));
  CHECK_OK(uv_udp_recv_stop(&h));
  CHECK_OK(uv_udp_recv_stop(&h));
  CHECK(!uv_is_active((uv_handle_t*) &h));

  /* A handle of another type. */
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_EQ(uv_udp_bind((uv_udp_t*) &timer, (const struct sockaddr*) &a, 0),
           UV_EINVAL);
  CHECK_EQ(uv_udp_recv_stop((uv_udp_t*) &timer), UV_EINVAL);
  CHECK_EQ(uv_udp_set_ttl((uv_udp_t*) &timer, 1), UV_EINVAL);
  CHECK_EQ(uv_udp_using_recvmmsg((uv_udp_t*) &timer), 0);

  /* nodeloop: a closing handle binds nothing anew (libuv makes it a new
   * socket, then asserts when it finishes closing). */
  CHECK_OK(uv_udp_init(&loop, &closing));
  uv_close((uv_handle_t*) &closing, NULL);
  CHECK_EQ(uv_udp_recv_start(&closing, never_alloc, never_recv), UV_EINVAL);
  CHECK_EQ(uv_udp_bind(&closing, (const struct sockaddr*) &a, 0), UV_EINVAL);
  CHECK_EQ(uv_udp_connect(&closing, (const struct sockaddr*) &a), UV_EINVAL);
  CHECK_EQ(uv_udp_send(&req, &closing, &b, 1, (const struct sockaddr*) &a,
                       NULL), UV_EBADF);
  CHECK_EQ(uv_udp_set_membership(&closing, "239.255.0.1", NULL,
                                 UV_JOIN_GROUP), UV_EBADF);
  CHECK_EQ(uv_udp_open(&closing, 0), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* A send without a callback still completes and keeps nothing. */
TEST(send_without_callback) {
  uv_loop_t loop;
  static struct rx r;
  uv_udp_t h;
  uv_udp_send_t req;
  struct sockaddr_in to;
  uv_buf_t b = uv_buf_init("NOCB", 4);

  CHECK_OK(uv_loop_init(&loop));
  to = bind_rx4(&loop, &r, 0, DGRAM_MAX);
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  CHECK_OK(uv_udp_init(&loop, &h));
  CHECK_OK(uv_udp_send(&req, &h, &b, 1, (const struct sockaddr*) &to, NULL));
  RUN_UNTIL(&loop, r.datagrams == 1 && h.send_queue_count == 0);
  CHECK(!uv_is_active((uv_handle_t*) &h));
  uv_close((uv_handle_t*) &h, NULL);
  close_both(&loop, &r, NULL);
}

/* nodeloop: with UV_UDP_LINUX_RECVERR, ICMP errors also queue on the
 * socket's error queue, which makes it report an error event until read;
 * nodeloop drops them, so the loop does not spin (libuv wakes up once per
 * iteration with a drained callback until the handle closes). */
static int spin_iterations;

static void count_iteration(uv_check_t* c) {
  (void) c;
  spin_iterations++;
}

static void stop_loop(uv_timer_t* t) {
  uv_stop(t->loop);
}

TEST(recverr_does_not_spin) {
  uv_loop_t loop;
  static struct rx r;
  uv_check_t check;
  uv_timer_t timer;
  uv_udp_t gone;
  struct sockaddr_in to = addr4("127.0.0.1", 0);
  struct sockaddr_in self = addr4("127.0.0.1", 0);
  int len = sizeof(to);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_udp_init(&loop, &gone));
  CHECK_OK(uv_udp_bind(&gone, (const struct sockaddr*) &to, 0));
  CHECK_OK(uv_udp_getsockname(&gone, (struct sockaddr*) &to, &len));
  uv_close((uv_handle_t*) &gone, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);

  r.buf_len = DGRAM_MAX;
  CHECK_OK(uv_udp_init(&loop, &r.h));
  CHECK_OK(uv_udp_bind(&r.h, (const struct sockaddr*) &self,
                       UV_UDP_LINUX_RECVERR));
  CHECK_OK(uv_udp_recv_start(&r.h, rx_alloc, rx_recv));
  /* The same handle sends: the first datagram is refused, and the
   * second send gets the error. */
  {
    static uv_udp_send_t reqs[2];
    uv_buf_t b = uv_buf_init("X", 1);
    CHECK_OK(uv_udp_send(&reqs[0], &r.h, &b, 1, (const struct sockaddr*) &to,
                         NULL));
    CHECK_OK(uv_udp_send(&reqs[1], &r.h, &b, 1, (const struct sockaddr*) &to,
                         NULL));
  }
  CHECK_OK(uv_check_init(&loop, &check));
  CHECK_OK(uv_check_start(&check, count_iteration));
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_OK(uv_timer_start(&timer, stop_loop, 100, 0));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(spin_iterations < 20);
  CHECK_EQ(r.datagrams, 0);
  uv_close((uv_handle_t*) &check, NULL);
  uv_close((uv_handle_t*) &timer, NULL);
  close_both(&loop, &r, NULL);
}
