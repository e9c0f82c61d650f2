/* TCP handles: bind, listen, connect and accept over IPv4 and IPv6, errors
 * through callbacks and through return values, socket options, opening
 * existing sockets, resets, socketpairs, delayed bind errors and a
 * thousand connections on one loop. The error codes for bad input are the
 * ones Debian's libuv 1.44.2 returns. */
#include "stream-helpers.h"

#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int close_calls;
static int stray_connections;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

/* For listeners that no connection should reach. */
static void stray_connection_cb(uv_stream_t* l, int status) {
  (void) l;
  (void) status;
  stray_connections++;
}

static void cancelled_cb(uv_connect_t* req, int status) {
  (void) req;
  CHECK_EQ(status, UV_ECANCELED);
  close_calls++;
}

static struct sockaddr_storage name_of(const uv_tcp_t* h, int peer) {
  struct sockaddr_storage ss;
  int len = (int) sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  if (peer)
    CHECK_OK(uv_tcp_getpeername(h, (struct sockaddr*) &ss, &len));
  else
    CHECK_OK(uv_tcp_getsockname(h, (struct sockaddr*) &ss, &len));
  CHECK_EQ(len, ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                         : sizeof(struct sockaddr_in));
  return ss;
}

/* ---------------------------------------------------------------------
 * A server that accepts one connection and reads it, and a client that
 * connects and writes.
 */
struct server {
  uv_tcp_t listener;
  uv_tcp_t conn;
  uv_tcp_t spare;
  int connections;
  int spare_accept;
  struct sh_sink sink;
};

static void server_connection_cb(uv_stream_t* l, int status) {
  struct server* s = (struct server*) l->data;

  CHECK_OK(status);
  s->connections++;
  CHECK_EQ(s->connections, 1);
  CHECK_OK(uv_tcp_init(l->loop, &s->conn));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &s->conn));
  CHECK(uv_is_readable((uv_stream_t*) &s->conn));
  CHECK(uv_is_writable((uv_stream_t*) &s->conn));
  sh_sink_start(&s->sink, (uv_stream_t*) &s->conn);
  /* Exactly one connection was pending. */
  CHECK_OK(uv_tcp_init(l->loop, &s->spare));
  s->spare_accept = uv_accept(l, (uv_stream_t*) &s->spare);
}

struct client {
  uv_tcp_t tcp;
  uv_connect_t req;
  uv_write_t wreq;
  int connects;
  int status;
  int writes;
};

static void client_write_cb(uv_write_t* req, int status) {
  struct client* c = (struct client*) req->data;
  CHECK_OK(status);
  c->writes++;
}

static void client_connect_cb(uv_connect_t* req, int status) {
  struct client* c = (struct client*) req->data;
  uv_buf_t b = uv_buf_init("ping", 4);

  CHECK(req == &c->req);
  CHECK(req->handle == (uv_stream_t*) &c->tcp);
  c->connects++;
  c->status = status;
  if (status != 0)
    return;
  CHECK(uv_is_readable(req->handle));
  CHECK(uv_is_writable(req->handle));
  c->wreq.data = c;
  CHECK_OK(uv_write(&c->wreq, req->handle, &b, 1, client_write_cb));
}

static void client_connect(uv_loop_t* loop, struct client* c,
                           const struct sockaddr* to) {
  memset(c, 0, sizeof(*c));
  c->req.data = c;
  CHECK_OK(uv_tcp_init(loop, &c->tcp));
  CHECK_OK(uv_tcp_connect(&c->req, &c->tcp, to, client_connect_cb));
  /* The request keeps the loop alive (libuv does not count a connecting
   * handle as active, although its documentation says it is). */
  CHECK(uv_loop_alive(loop));
  CHECK_EQ(c->connects, 0);   /* the callback comes from the loop */
}

static void connect_accept(const struct sockaddr* bind_to) {
  struct server s;
  struct client c;
  struct sockaddr_storage to, lname, sname, speer, cname, cpeer;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  memset(&s, 0, sizeof(s));
  CHECK_OK(uv_tcp_init(&loop, &s.listener));
  s.listener.data = &s;
  CHECK_OK(uv_tcp_bind(&s.listener, bind_to, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &s.listener, 16, server_connection_cb));
  CHECK(uv_is_active((uv_handle_t*) &s.listener));
  lname = name_of(&s.listener, 0);
  CHECK_EQ(lname.ss_family, bind_to->sa_family);
  CHECK(sh_port(&s.listener) != 0);

  to = lname;
  client_connect(&loop, &c, (struct sockaddr*) &to);
  SH_RUN_UNTIL(&loop, s.sink.len == 4 && c.writes == 1);
  CHECK_EQ(c.connects, 1);
  CHECK_OK(c.status);
  CHECK_EQ(s.connections, 1);
  CHECK_EQ(s.spare_accept, UV_EAGAIN);
  CHECK(memcmp(s.sink.data, "ping", 4) == 0);
  CHECK(!uv_is_active((uv_handle_t*) &c.tcp));   /* connected, idle */

  /* Both ends see the same four addresses. */
  sname = name_of(&s.conn, 0);
  speer = name_of(&s.conn, 1);
  cname = name_of(&c.tcp, 0);
  cpeer = name_of(&c.tcp, 1);
  CHECK(sh_same_addr(&sname, &lname));
  CHECK(sh_same_addr(&cpeer, &lname));
  CHECK(sh_same_addr(&speer, &cname));
  CHECK(!sh_same_addr(&cname, &lname));

  /* The client goes away: the server reads the end of the stream, and
   * nothing more happens after it. */
  uv_close((uv_handle_t*) &c.tcp, close_cb);
  SH_RUN_UNTIL(&loop, s.sink.eof == 1);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);   /* the listener is alive */
  CHECK_EQ(s.sink.eof, 1);
  CHECK_EQ(s.sink.after_end, 0);
  CHECK_EQ(s.sink.error, 0);
  CHECK_EQ(c.connects, 1);
  CHECK_EQ(c.writes, 1);
  CHECK_EQ(s.connections, 1);
  sh_sink_free(&s.sink);
  nl_test_close_loop(&loop);
}

TEST(connect_accept_ipv4) {
  struct sockaddr_in a = sh_ip4(0);
  connect_accept((struct sockaddr*) &a);
}

TEST(connect_accept_ipv6) {
  struct sockaddr_in6 a = sh_ip6(0);
  if (!sh_have_ipv6())
    nl_test_skip("::1 cannot be bound here (no IPv6 loopback)");
  connect_accept((struct sockaddr*) &a);
}

/* A refused connection is reported through the connect callback, once;
 * uv_tcp_connect itself succeeds. */
TEST(connect_refused) {
  struct client c;
  struct sockaddr_in a4 = sh_ip4(sh_closed_port());
  struct sockaddr_in6 a6 = sh_ip6(0);
  uv_loop_t loop;
  int rounds = sh_have_ipv6() ? 2 : 1;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  for (i = 0; i < rounds; i++) {
    if (i == 0) {
      client_connect(&loop, &c, (struct sockaddr*) &a4);
    } else {
      a6.sin6_port = a4.sin_port;
      client_connect(&loop, &c, (struct sockaddr*) &a6);
    }
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ(c.connects, 1);
    CHECK_EQ(c.status, UV_ECONNREFUSED);
    CHECK(!uv_is_active((uv_handle_t*) &c.tcp));
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
    CHECK_EQ(c.connects, 1);
    uv_close((uv_handle_t*) &c.tcp, close_cb);
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ(close_calls, i + 1);
  }
  nl_test_close_loop(&loop);
}

/* Closing a handle while it connects cancels the connection: the connect
 * callback runs with UV_ECANCELED before the close callback. */
static int cancel_order;

static void cancelled_connect_cb(uv_connect_t* req, int status) {
  CHECK_EQ(status, UV_ECANCELED);
  CHECK_EQ(close_calls, 0);
  cancel_order++;
}

TEST(close_while_connecting) {
  uv_tcp_t listener, c;
  uv_connect_t req;
  struct sockaddr_in a = sh_ip4(0);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &listener));
  CHECK_OK(uv_tcp_bind(&listener, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &listener, 4,
                     stray_connection_cb));
  a = sh_ip4(sh_port(&listener));
  CHECK_OK(uv_tcp_init(&loop, &c));
  CHECK_OK(uv_tcp_connect(&req, &c, (struct sockaddr*) &a,
                          cancelled_connect_cb));
  uv_close((uv_handle_t*) &c, close_cb);
  CHECK_EQ(cancel_order, 0);
  CHECK_EQ(uv_fileno((uv_handle_t*) &c, &(uv_os_fd_t){0}), UV_EBADF);
  uv_close((uv_handle_t*) &listener, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(cancel_order, 1);
  CHECK_EQ(close_calls, 1);
  nl_test_close_loop(&loop);
}

/* Wrong input is refused with libuv's codes, without side effects. */
TEST(bad_arguments) {
  uv_tcp_t t, fresh, bound, ip4;
  uv_timer_t timer;
  uv_connect_t req, req2;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  struct sockaddr_in a4 = sh_ip4(0);
  struct sockaddr_in6 a6 = sh_ip6(0);
  struct sockaddr_in far;
  struct sockaddr unix_family;
  struct sockaddr_storage ss;
  uv_buf_t b = uv_buf_init("x", 1);
  uv_os_fd_t fd;
  int len = (int) sizeof(ss);
  int v = 0;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  memset(&unix_family, 0, sizeof(unix_family));
  unix_family.sa_family = AF_UNIX;
  CHECK_OK(uv_ip4_addr("192.0.2.1", 0, &far));   /* TEST-NET-1 */

  /* init_ex: the low byte is the family, nothing else may be set. */
  CHECK_EQ(uv_tcp_init_ex(&loop, &t, AF_UNIX), UV_EINVAL);
  CHECK_EQ(uv_tcp_init_ex(&loop, &t, 0xff), UV_EINVAL);
  CHECK_EQ(uv_tcp_init_ex(&loop, &t, 0x100 | AF_INET), UV_EINVAL);
  CHECK_EQ(uv_loop_alive(&loop), 0);

  /* A handle without a socket. */
  CHECK_OK(uv_tcp_init(&loop, &fresh));
  CHECK_EQ(uv_fileno((uv_handle_t*) &fresh, &fd), UV_EBADF);
  CHECK_EQ(uv_tcp_getsockname(&fresh, (struct sockaddr*) &ss, &len),
           UV_EBADF);
  CHECK_EQ(uv_tcp_getpeername(&fresh, (struct sockaddr*) &ss, &len),
           UV_EBADF);
  CHECK_EQ(uv_send_buffer_size((uv_handle_t*) &fresh, &v), UV_EBADF);
  CHECK_EQ(uv_recv_buffer_size((uv_handle_t*) &fresh, &v), UV_EBADF);
  CHECK_EQ(uv_write(&wreq, (uv_stream_t*) &fresh, &b, 1, NULL), UV_EBADF);
  CHECK_EQ(uv_try_write((uv_stream_t*) &fresh, &b, 1), UV_EBADF);
  CHECK_EQ(uv_shutdown(&sreq, (uv_stream_t*) &fresh, NULL), UV_ENOTCONN);
  CHECK_EQ(uv_tcp_close_reset(&fresh, NULL), UV_EBADF);
  CHECK_EQ(uv_stream_set_blocking((uv_stream_t*) &fresh, 1), UV_EBADF);
  CHECK_EQ(uv_accept((uv_stream_t*) &fresh, (uv_stream_t*) &fresh),
           UV_EAGAIN);
  CHECK_EQ(uv_read_start((uv_stream_t*) &fresh, NULL, NULL), UV_EINVAL);
  CHECK(!uv_is_readable((uv_stream_t*) &fresh));
  CHECK(!uv_is_writable((uv_stream_t*) &fresh));

  /* Addresses: a family that is not IP, IPv6-only for IPv4, a second
   * bind, an address of no local interface. Unknown bind flags are
   * ignored. */
  CHECK_OK(uv_tcp_init(&loop, &bound));
  CHECK_EQ(uv_tcp_bind(&bound, &unix_family, 0), UV_EINVAL);
  CHECK_EQ(uv_tcp_bind(&bound, (struct sockaddr*) &a4, UV_TCP_IPV6ONLY),
           UV_EINVAL);
  CHECK_OK(uv_tcp_bind(&bound, (struct sockaddr*) &a4, 0x10));
  CHECK_EQ(uv_tcp_bind(&bound, (struct sockaddr*) &a4, 0), UV_EINVAL);
  CHECK_EQ(uv_tcp_getpeername(&bound, (struct sockaddr*) &ss, &len),
           UV_ENOTCONN);
  CHECK_EQ(uv_shutdown(&sreq, (uv_stream_t*) &bound, NULL), UV_ENOTCONN);
  CHECK_EQ(uv_tcp_connect(&req, &fresh, &unix_family, NULL), UV_EINVAL);
  CHECK_EQ(uv_tcp_bind(&fresh, (struct sockaddr*) &far, 0),
           UV_EADDRNOTAVAIL);

  /* A handle whose socket is IPv4 cannot take an IPv6 address: libuv
   * first sets IPV6_V6ONLY, which an IPv4 socket does not know. */
  CHECK_OK(uv_tcp_init_ex(&loop, &ip4, AF_INET));
  CHECK_EQ(uv_tcp_bind(&ip4, (struct sockaddr*) &a6, 0), UV_ENOPROTOOPT);
  CHECK_EQ(uv_tcp_connect(&req, &ip4, (struct sockaddr*) &a6, NULL),
           UV_EAFNOSUPPORT);

  /* A second connect while the first is in progress. */
  CHECK_OK(uv_tcp_init(&loop, &t));
  a4 = sh_ip4(sh_closed_port());
  CHECK_OK(uv_tcp_connect(&req, &t, (struct sockaddr*) &a4,
                          cancelled_cb));
  CHECK_EQ(uv_tcp_connect(&req2, &t, (struct sockaddr*) &a4, NULL),
           UV_EALREADY);

  /* Calls that need a socket handle, given a timer. */
  CHECK_OK(uv_timer_init(&loop, &timer));
  CHECK_EQ(uv_fileno((uv_handle_t*) &timer, &fd), UV_EINVAL);
  CHECK_EQ(uv_send_buffer_size((uv_handle_t*) &timer, &v), UV_ENOTSUP);
  CHECK_EQ(uv_recv_buffer_size((uv_handle_t*) &timer, &v), UV_ENOTSUP);
  CHECK_EQ(uv_send_buffer_size((uv_handle_t*) &bound, NULL), UV_EINVAL);

  /* The closing of the connecting handle cancels its request (whose
   * callback here counts as a close). */
  nl_test_close_loop(&loop);
  CHECK_EQ(close_calls, 1);
}

/* A bind to a port in use is reported by uv_listen (libuv sets
 * SO_REUSEADDR and keeps the bind error for later). */
TEST(address_in_use) {
  uv_tcp_t first, second, third;
  struct sockaddr_in a = sh_ip4(0);
  struct sockaddr_storage ss;
  int len = (int) sizeof(ss);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &first));
  CHECK_OK(uv_tcp_bind(&first, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &first, 4, stray_connection_cb));
  a = sh_ip4(sh_port(&first));

  CHECK_OK(uv_tcp_init(&loop, &second));
  CHECK_OK(uv_tcp_bind(&second, (struct sockaddr*) &a, 0));
  CHECK_EQ(uv_listen((uv_stream_t*) &second, 4, stray_connection_cb),
           UV_EADDRINUSE);
  CHECK_EQ(uv_listen((uv_stream_t*) &second, 4, stray_connection_cb),
           UV_EADDRINUSE);
  CHECK(!uv_is_active((uv_handle_t*) &second));
  CHECK_EQ(uv_tcp_getsockname(&second, (struct sockaddr*) &ss, &len),
           UV_EADDRINUSE);

  /* Two sockets bound to one port while neither listens: the second
   * listen is the one that fails. */
  uv_close((uv_handle_t*) &first, close_cb);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_tcp_init(&loop, &first));
  CHECK_OK(uv_tcp_init(&loop, &third));
  a = sh_ip4(0);
  CHECK_OK(uv_tcp_bind(&first, (struct sockaddr*) &a, 0));
  a = sh_ip4(sh_port(&first));
  CHECK_OK(uv_tcp_bind(&third, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &third, 4, stray_connection_cb));
  CHECK_EQ(uv_listen((uv_stream_t*) &first, 4, stray_connection_cb),
           UV_EADDRINUSE);
  nl_test_close_loop(&loop);
}

TEST(getsockname_getpeername) {
  uv_tcp_t t, a, b;
  struct sockaddr_in any = sh_ip4(0);
  struct sockaddr_storage ss, an, bn;
  int len = (int) sizeof(ss);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &t));
  CHECK_OK(uv_tcp_bind(&t, (struct sockaddr*) &any, 0));
  ss = name_of(&t, 0);
  CHECK_EQ(ss.ss_family, AF_INET);
  CHECK(((struct sockaddr_in*) &ss)->sin_port != 0);
  CHECK_EQ(((struct sockaddr_in*) &ss)->sin_addr.s_addr,
           htonl(INADDR_LOOPBACK));
  CHECK_EQ(uv_tcp_getpeername(&t, (struct sockaddr*) &ss, &len),
           UV_ENOTCONN);

  sh_tcp_pair(&loop, &a, &b);
  an = name_of(&a, 0);
  bn = name_of(&b, 1);
  CHECK(sh_same_addr(&an, &bn));
  an = name_of(&a, 1);
  bn = name_of(&b, 0);
  CHECK(sh_same_addr(&an, &bn));
  nl_test_close_loop(&loop);
}

TEST(nodelay_and_keepalive) {
  uv_tcp_t early, a, b;
  struct sockaddr_in any = sh_ip4(0);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  CHECK_EQ(sh_sockopt(&a, IPPROTO_TCP, TCP_NODELAY), 0);
  CHECK_OK(uv_tcp_nodelay(&a, 1));
  CHECK(sh_sockopt(&a, IPPROTO_TCP, TCP_NODELAY) != 0);
  CHECK_OK(uv_tcp_nodelay(&a, 0));
  CHECK_EQ(sh_sockopt(&a, IPPROTO_TCP, TCP_NODELAY), 0);

  CHECK_EQ(sh_sockopt(&b, SOL_SOCKET, SO_KEEPALIVE), 0);
  CHECK_OK(uv_tcp_keepalive(&b, 1, 30));
  CHECK(sh_sockopt(&b, SOL_SOCKET, SO_KEEPALIVE) != 0);
  CHECK_EQ(sh_sockopt(&b, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  CHECK_OK(uv_tcp_keepalive(&b, 1, 45));
  CHECK_EQ(sh_sockopt(&b, IPPROTO_TCP, TCP_KEEPIDLE), 45);
  /* The kernel refuses an idle time of zero. */
  CHECK_EQ(uv_tcp_keepalive(&b, 1, 0), UV_EINVAL);
  CHECK_OK(uv_tcp_keepalive(&b, 0, 0));
  CHECK_EQ(sh_sockopt(&b, SOL_SOCKET, SO_KEEPALIVE), 0);

  /* Before the handle has a socket the settings are remembered and
   * applied when it gets one. */
  CHECK_OK(uv_tcp_init(&loop, &early));
  CHECK_OK(uv_tcp_nodelay(&early, 1));
  CHECK_OK(uv_tcp_keepalive(&early, 1, 60));
  CHECK_EQ(uv_fileno((uv_handle_t*) &early, &(uv_os_fd_t){0}), UV_EBADF);
  CHECK_OK(uv_tcp_bind(&early, (struct sockaddr*) &any, 0));
  CHECK(sh_sockopt(&early, IPPROTO_TCP, TCP_NODELAY) != 0);
  CHECK(sh_sockopt(&early, SOL_SOCKET, SO_KEEPALIVE) != 0);
  nl_test_close_loop(&loop);
}

/* A handle given options before uv_accept gets them on the accepted
 * socket. */
static uv_tcp_t opt_conn;
static int opt_accepts;

static void opt_connection_cb(uv_stream_t* l, int status) {
  CHECK_OK(status);
  CHECK_OK(uv_tcp_init(l->loop, &opt_conn));
  CHECK_OK(uv_tcp_nodelay(&opt_conn, 1));
  CHECK_OK(uv_tcp_keepalive(&opt_conn, 1, 60));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &opt_conn));
  CHECK(sh_sockopt(&opt_conn, IPPROTO_TCP, TCP_NODELAY) != 0);
  CHECK(sh_sockopt(&opt_conn, SOL_SOCKET, SO_KEEPALIVE) != 0);
  opt_accepts++;
}

TEST(options_carry_into_accept) {
  uv_tcp_t l;
  struct client c;
  struct sockaddr_in a = sh_ip4(0);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, 4, opt_connection_cb));
  a = sh_ip4(sh_port(&l));
  client_connect(&loop, &c, (struct sockaddr*) &a);
  SH_RUN_UNTIL(&loop, opt_accepts == 1 && c.writes == 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(opt_accepts, 1);
  nl_test_close_loop(&loop);
}

/* uv_tcp_simultaneous_accepts is a setting with no effect on Linux: with
 * either value, every connection is accepted. */
struct multi {
  uv_tcp_t conns[6];
  int n;
};

static void multi_connection_cb(uv_stream_t* l, int status) {
  struct multi* m = (struct multi*) l->data;
  CHECK_OK(status);
  CHECK(m->n < 6);
  CHECK_OK(uv_tcp_init(l->loop, &m->conns[m->n]));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &m->conns[m->n]));
  m->n++;
}

TEST(simultaneous_accepts) {
  uv_tcp_t l;
  struct multi m;
  struct client c[6];
  struct sockaddr_in a = sh_ip4(0);
  uv_loop_t loop;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  memset(&m, 0, sizeof(m));
  CHECK_OK(uv_tcp_init(&loop, &l));
  l.data = &m;
  CHECK_OK(uv_tcp_simultaneous_accepts(&l, 0));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, 8, multi_connection_cb));
  CHECK_OK(uv_tcp_simultaneous_accepts(&l, 1));
  a = sh_ip4(sh_port(&l));
  for (i = 0; i < 6; i++) {
    if (i == 3)
      CHECK_OK(uv_tcp_simultaneous_accepts(&l, 0));
    client_connect(&loop, &c[i], (struct sockaddr*) &a);
  }
  SH_RUN_UNTIL(&loop, m.n == 6 && c[5].writes == 1);
  for (i = 0; i < 6; i++)
    CHECK_EQ(c[i].writes, 1);
  nl_test_close_loop(&loop);
}

/* UV_TCP_IPV6ONLY: the socket refuses IPv4, and the IPv4 port stays free;
 * without it an IPv4 client reaches the IPv6 socket. */
TEST(ipv6only) {
  uv_tcp_t only, dual, v4;
  struct server s;
  struct client c, c2;
  struct sockaddr_in6 any6;
  struct sockaddr_in a;
  struct sockaddr_storage peer;
  uv_loop_t loop;

  if (!sh_have_ipv6())
    nl_test_skip("::1 cannot be bound here (no IPv6 loopback)");
  CHECK_OK(uv_ip6_addr("::", 0, &any6));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &only));
  CHECK_OK(uv_tcp_bind(&only, (struct sockaddr*) &any6, UV_TCP_IPV6ONLY));
  CHECK(sh_sockopt(&only, IPPROTO_IPV6, IPV6_V6ONLY) != 0);
  CHECK_OK(uv_listen((uv_stream_t*) &only, 4, stray_connection_cb));
  a = sh_ip4(sh_port(&only));
  client_connect(&loop, &c, (struct sockaddr*) &a);
  SH_RUN_UNTIL(&loop, c.connects == 1);
  CHECK_EQ(c.status, UV_ECONNREFUSED);
  CHECK_OK(uv_tcp_init(&loop, &v4));
  CHECK_OK(uv_tcp_bind(&v4, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &v4, 4, stray_connection_cb));
  uv_close((uv_handle_t*) &c.tcp, NULL);

  memset(&s, 0, sizeof(s));
  CHECK_OK(uv_tcp_init(&loop, &dual));
  CHECK_OK(uv_tcp_bind(&dual, (struct sockaddr*) &any6, 0));
  CHECK_EQ(sh_sockopt(&dual, IPPROTO_IPV6, IPV6_V6ONLY), 0);
  dual.data = &s;
  CHECK_OK(uv_listen((uv_stream_t*) &dual, 4, server_connection_cb));
  a = sh_ip4(sh_port(&dual));
  client_connect(&loop, &c2, (struct sockaddr*) &a);
  SH_RUN_UNTIL(&loop, s.sink.len == 4);
  CHECK_OK(c2.status);
  peer = name_of(&s.conn, 1);
  CHECK_EQ(peer.ss_family, AF_INET6);
  CHECK(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6*) &peer)->sin6_addr));
  sh_sink_free(&s.sink);
  CHECK_EQ(stray_connections, 0);   /* none reached the other two */
  nl_test_close_loop(&loop);
}

/* uv_tcp_init_ex makes the socket at once for a given family, and lazily
 * for AF_UNSPEC. */
TEST(init_ex_families) {
  uv_tcp_t t4, t6, tu;
  struct sockaddr_in a = sh_ip4(0);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init_ex(&loop, &t4, AF_INET));
  CHECK_EQ(sh_sockopt(&t4, SOL_SOCKET, SO_DOMAIN), AF_INET);
  CHECK_EQ(sh_sockopt(&t4, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  CHECK(sh_nonblocking(sh_fd(&t4)));
  CHECK(sh_cloexec(sh_fd(&t4)));
  if (sh_have_ipv6()) {
    CHECK_OK(uv_tcp_init_ex(&loop, &t6, AF_INET6));
    CHECK_EQ(sh_sockopt(&t6, SOL_SOCKET, SO_DOMAIN), AF_INET6);
    /* An IPv6 socket does not bind an IPv4 address. */
    CHECK_EQ(uv_tcp_bind(&t6, (struct sockaddr*) &a, 0), UV_EINVAL);
  }
  CHECK_OK(uv_tcp_init_ex(&loop, &tu, AF_UNSPEC));
  CHECK_EQ(uv_fileno((uv_handle_t*) &tu, &(uv_os_fd_t){0}), UV_EBADF);
  CHECK_OK(uv_tcp_bind(&tu, (struct sockaddr*) &a, 0));
  CHECK_EQ(sh_sockopt(&tu, SOL_SOCKET, SO_DOMAIN), AF_INET);
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &tu), UV_TCP);
  CHECK(!uv_is_active((uv_handle_t*) &t4));
  CHECK_EQ(uv_loop_alive(&loop), 0);   /* handles without work */
  nl_test_close_loop(&loop);
}

TEST(open_existing_sockets) {
  struct server s;
  struct client c;
  uv_tcp_t other, conn, bad;
  struct sh_sink sink;
  struct sockaddr_in a;
  int port, lfd, cfd, peer;
  char buf[8];
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));

  /* A listening socket: libuv makes it non-blocking and listens on it. */
  lfd = sh_raw_listener(&port);
  CHECK(!sh_nonblocking(lfd));
  memset(&s, 0, sizeof(s));
  CHECK_OK(uv_tcp_init(&loop, &s.listener));
  s.listener.data = &s;
  CHECK_OK(uv_tcp_open(&s.listener, lfd));
  CHECK(sh_nonblocking(lfd));
  CHECK_EQ(sh_port(&s.listener), port);
  CHECK_OK(uv_listen((uv_stream_t*) &s.listener, 8, server_connection_cb));
  a = sh_ip4(port);
  client_connect(&loop, &c, (struct sockaddr*) &a);
  SH_RUN_UNTIL(&loop, s.sink.len == 4);
  CHECK(memcmp(s.sink.data, "ping", 4) == 0);
  sh_sink_free(&s.sink);

  /* The loop already watches that descriptor. */
  CHECK_OK(uv_tcp_init(&loop, &other));
  CHECK_EQ(uv_tcp_open(&other, lfd), UV_EEXIST);

  /* A connected socket (to a listener of its own): readable and writable
   * at once. */
  lfd = sh_raw_listener(&port);
  cfd = sh_raw_connect(port);
  CHECK_OK(uv_tcp_init(&loop, &conn));
  CHECK_OK(uv_tcp_open(&conn, cfd));
  CHECK(uv_is_readable((uv_stream_t*) &conn));
  CHECK(uv_is_writable((uv_stream_t*) &conn));
  CHECK_EQ(uv_try_write((uv_stream_t*) &conn, &(uv_buf_t){"abc", 3}, 1), 3);
  peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  CHECK(peer >= 0);
  CHECK_OK(close(lfd));
  CHECK(!sh_nonblocking(peer));
  CHECK_EQ(read(peer, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  sh_write_all(peer, "xyz", 3);
  CHECK_OK(close(peer));
  sh_sink_start(&sink, (uv_stream_t*) &conn);
  SH_RUN_UNTIL(&loop, sink.eof == 1);
  CHECK_EQ(sink.len, 3);
  CHECK(memcmp(sink.data, "xyz", 3) == 0);
  sh_sink_free(&sink);

  /* A descriptor that is not open. */
  CHECK_OK(uv_tcp_init(&loop, &bad));
  CHECK_EQ(uv_tcp_open(&bad, 100000), UV_EBADF);
  lfd = sh_fd(&s.listener);
  nl_test_close_loop(&loop);
  CHECK_EQ(fcntl(lfd, F_GETFD), -1);   /* closed with its handle */
  CHECK_EQ(fcntl(cfd, F_GETFD), -1);
  CHECK_EQ(stray_connections, 0);
}

/* uv_tcp_close_reset closes with RST: the peer reads UV_ECONNRESET rather
 * than the end of the stream. It is refused once a shutdown is pending. */
static int reset_closes;

static void reset_close_cb(uv_handle_t* h) {
  (void) h;
  reset_closes++;
}

static void reset_shutdown_cb(uv_shutdown_t* req, int status) {
  CHECK_OK(status);
  *(int*) req->data += 1;
}

TEST(close_reset) {
  uv_tcp_t a, b;
  uv_shutdown_t sreq;
  struct sh_sink sink;
  int shutdowns = 0;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_sink_start(&sink, (uv_stream_t*) &b);
  CHECK_OK(uv_tcp_close_reset(&a, reset_close_cb));
  CHECK(uv_is_closing((uv_handle_t*) &a));
  SH_RUN_UNTIL(&loop, sink.error != 0);
  CHECK_EQ(sink.error, UV_ECONNRESET);
  CHECK_EQ(sink.eof, 0);
  CHECK_EQ(sink.len, 0);
  CHECK_EQ(reset_closes, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(sink.after_end, 0);
  CHECK_EQ(reset_closes, 1);
  uv_close((uv_handle_t*) &b, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);

  /* The accepted side resets; a handle with a shutdown pending cannot,
   * and can again once the shutdown is done. */
  sh_tcp_pair(&loop, &a, &b);
  sh_sink_start(&sink, (uv_stream_t*) &a);
  sreq.data = &shutdowns;
  CHECK_OK(uv_shutdown(&sreq, (uv_stream_t*) &b, reset_shutdown_cb));
  CHECK_EQ(uv_tcp_close_reset(&b, reset_close_cb), UV_EINVAL);
  CHECK(!uv_is_closing((uv_handle_t*) &b));
  SH_RUN_UNTIL(&loop, shutdowns == 1 && sink.eof == 1);
  CHECK_OK(uv_tcp_close_reset(&b, reset_close_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(reset_closes, 2);
  CHECK_EQ(shutdowns, 1);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
}

/* uv_socketpair: close-on-exec always, non-blocking per end on request;
 * the two ends talk. */
TEST(socketpair) {
  uv_os_sock_t fds[2];
  uv_pipe_t p;
  struct sh_sink sink;
  char buf[4];
  uv_loop_t loop;

  CHECK_OK(uv_socketpair(SOCK_STREAM, 0, fds, 0, 0));
  CHECK(sh_cloexec(fds[0]) && sh_cloexec(fds[1]));
  CHECK(!sh_nonblocking(fds[0]) && !sh_nonblocking(fds[1]));
  sh_write_all(fds[0], "ab", 2);
  CHECK_EQ(read(fds[1], buf, sizeof(buf)), 2);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));

  CHECK_OK(uv_socketpair(SOCK_STREAM, 0, fds, UV_NONBLOCK_PIPE, 0));
  CHECK(sh_nonblocking(fds[0]) && !sh_nonblocking(fds[1]));
  CHECK_EQ(read(fds[0], buf, sizeof(buf)), -1);
  CHECK_EQ(errno, EAGAIN);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));

  CHECK_OK(uv_socketpair(SOCK_DGRAM, 0, fds, 0, UV_NONBLOCK_PIPE));
  CHECK(!sh_nonblocking(fds[0]) && sh_nonblocking(fds[1]));
  CHECK_EQ(send(fds[0], "one", 3, 0), 3);
  CHECK_EQ(send(fds[0], "two", 3, 0), 3);
  CHECK_EQ(recv(fds[1], buf, 2, 0), 2);   /* datagrams keep boundaries */
  CHECK_EQ(recv(fds[1], buf, 4, 0), 3);
  CHECK(memcmp(buf, "two", 3) == 0);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));

  fds[0] = fds[1] = -7;
  CHECK_EQ(uv_socketpair(12345, 0, fds, 0, 0), UV_EINVAL);
  CHECK_EQ(uv_socketpair(SOCK_STREAM, 99, fds, 0, 0), UV_EPROTONOSUPPORT);
  CHECK_EQ(fds[0], -7);

  /* One end in a loop, the other plain. */
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_socketpair(SOCK_STREAM, 0, fds, 0, 0));
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, fds[0]));
  sh_sink_start(&sink, (uv_stream_t*) &p);
  sh_write_all(fds[1], "hello", 5);
  CHECK_OK(close(fds[1]));
  SH_RUN_UNTIL(&loop, sink.eof == 1);
  CHECK_EQ(sink.len, 5);
  CHECK(memcmp(sink.data, "hello", 5) == 0);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
}

TEST(fileno) {
  uv_tcp_t t;
  uv_os_fd_t fd = -1;
  struct sockaddr_in a = sh_ip4(0);
  struct stat st;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &t));
  CHECK_EQ(uv_fileno((uv_handle_t*) &t, &fd), UV_EBADF);
  CHECK_OK(uv_tcp_bind(&t, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_fileno((uv_handle_t*) &t, &fd));
  CHECK(fd >= 0);
  CHECK_OK(fstat(fd, &st));
  CHECK(S_ISSOCK(st.st_mode));
  uv_close((uv_handle_t*) &t, close_cb);
  CHECK_EQ(uv_fileno((uv_handle_t*) &t, &(uv_os_fd_t){0}), UV_EBADF);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(fcntl(fd, F_GETFD), -1);
  nl_test_close_loop(&loop);
}

/* Linux keeps twice the size that is set (for its own bookkeeping) and
 * reports that. */
TEST(buffer_sizes) {
  uv_tcp_t a, b;
  int v;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  v = 0;
  CHECK_OK(uv_send_buffer_size((uv_handle_t*) &a, &v));
  CHECK(v > 0);
  CHECK_EQ(v, sh_sockopt(&a, SOL_SOCKET, SO_SNDBUF));
  v = 16384;
  CHECK_OK(uv_send_buffer_size((uv_handle_t*) &a, &v));
  v = 0;
  CHECK_OK(uv_send_buffer_size((uv_handle_t*) &a, &v));
  CHECK_EQ(v, 32768);
  v = 20000;
  CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &b, &v));
  CHECK_EQ(v, 20000);   /* a set leaves the value alone */
  v = 0;
  CHECK_OK(uv_recv_buffer_size((uv_handle_t*) &b, &v));
  CHECK_EQ(v, 40000);
  CHECK_EQ(sh_sockopt(&b, SOL_SOCKET, SO_RCVBUF), 40000);
  CHECK_EQ(uv_recv_buffer_size((uv_handle_t*) &b, NULL), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* Blocking mode clears O_NONBLOCK, and a write completes inside uv_write:
 * a child reads 4 MB slowly from the other end while the parent's single
 * uv_write is already done when it returns. */
static int blocking_writes;

static void blocking_write_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  blocking_writes++;
}

TEST(set_blocking) {
  enum { SIZE = 4 << 20 };
  int lfd, port, fd, peer, status;
  uv_tcp_t t;
  uv_write_t req;
  uv_buf_t b;
  pid_t pid;
  uv_loop_t loop;

  lfd = sh_raw_listener(&port);
  fd = sh_raw_connect(port);
  peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  CHECK(peer >= 0);
  CHECK_OK(close(lfd));
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The child: read everything, check the pattern, exit 0 if right. */
    static char buf[65536];
    size_t got = 0;
    ssize_t n;
    close(fd);
    usleep(100000);   /* let the parent block on a full buffer */
    while ((n = read(peer, buf, sizeof(buf))) > 0) {
      if (sh_mismatch(buf, got, (size_t) n) != (size_t) n)
        _exit(2);
      got += (size_t) n;
    }
    _exit(got == SIZE ? 0 : 3);
  }
  CHECK_OK(close(peer));

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &t));
  CHECK_OK(uv_tcp_open(&t, fd));
  CHECK(sh_nonblocking(fd));
  CHECK_OK(uv_stream_set_blocking((uv_stream_t*) &t, 1));
  CHECK(!sh_nonblocking(fd));
  b.len = SIZE;
  b.base = malloc(SIZE);
  CHECK(b.base != NULL);
  sh_fill(b.base, 0, SIZE);
  CHECK_OK(uv_write(&req, (uv_stream_t*) &t, &b, 1, blocking_write_cb));
  CHECK_EQ(t.write_queue_size, 0);
  CHECK_EQ(blocking_writes, 0);   /* the callback still comes later */
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(blocking_writes, 1);
  CHECK_OK(uv_stream_set_blocking((uv_stream_t*) &t, 0));
  CHECK(sh_nonblocking(fd));
  nl_test_close_loop(&loop);
  free(b.base);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------------
 * A thousand connections on one loop: each client writes its message,
 * the server echoes what it reads, each client checks its echo and
 * closes; the server closes on the end of stream.
 */
enum { NCONN = 1000 };

struct echo_write {
  uv_write_t req;
  char data[64];
};

struct echo_client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  char msg[32];
  size_t msg_len;
  char got[64];
  size_t got_len;
  int written;
  int done;
};

static int echo_accepted, echo_server_closed, echo_clients_done;
static int echo_client_closed;

static void echo_alloc_cb(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  static char slab[256];
  (void) h;
  (void) size;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void echo_free_cb(uv_handle_t* h) {
  free(h);
  echo_server_closed++;
}

static void echo_write_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  free(req->data);
}

static void echo_server_read_cb(uv_stream_t* s, ssize_t nread,
                                const uv_buf_t* buf) {
  struct echo_write* w;
  uv_buf_t b;

  if (nread == UV_EOF) {
    uv_close((uv_handle_t*) s, echo_free_cb);
    return;
  }
  CHECK(nread >= 0);
  if (nread == 0)
    return;
  CHECK(nread <= 64);
  w = malloc(sizeof(*w));
  CHECK(w != NULL);
  memcpy(w->data, buf->base, (size_t) nread);
  w->req.data = w;
  b = uv_buf_init(w->data, (unsigned int) nread);
  CHECK_OK(uv_write(&w->req, s, &b, 1, echo_write_cb));
}

static void echo_connection_cb(uv_stream_t* l, int status) {
  uv_tcp_t* c = malloc(sizeof(*c));
  CHECK_OK(status);
  CHECK(c != NULL);
  CHECK_OK(uv_tcp_init(l->loop, c));
  CHECK_OK(uv_accept(l, (uv_stream_t*) c));
  CHECK_OK(uv_read_start((uv_stream_t*) c, echo_alloc_cb,
                         echo_server_read_cb));
  echo_accepted++;
}

static void echo_client_close_cb(uv_handle_t* h) {
  (void) h;
  echo_client_closed++;
}

static void echo_client_write_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  ((struct echo_client*) req->data)->written++;
}

static void echo_client_read_cb(uv_stream_t* s, ssize_t nread,
                                const uv_buf_t* buf) {
  struct echo_client* c = (struct echo_client*) s->data;

  CHECK(nread >= 0);
  CHECK(c->got_len + (size_t) nread <= c->msg_len);
  memcpy(c->got + c->got_len, buf->base, (size_t) nread);
  c->got_len += (size_t) nread;
  if (c->got_len == c->msg_len) {
    CHECK(memcmp(c->got, c->msg, c->msg_len) == 0);
    c->done = 1;
    echo_clients_done++;
    uv_close((uv_handle_t*) s, echo_client_close_cb);
  }
}

static void echo_client_connect_cb(uv_connect_t* req, int status) {
  struct echo_client* c = (struct echo_client*) req->data;
  uv_buf_t b = uv_buf_init(c->msg, (unsigned int) c->msg_len);

  CHECK_OK(status);
  CHECK_OK(uv_read_start(req->handle, echo_alloc_cb, echo_client_read_cb));
  c->wreq.data = c;
  CHECK_OK(uv_write(&c->wreq, req->handle, &b, 1, echo_client_write_cb));
}

TEST(thousand_connections) {
  struct rlimit rl;
  struct echo_client* clients;
  uv_tcp_t l;
  struct sockaddr_in a = sh_ip4(0);
  uv_loop_t loop;
  int i;

  CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
  if (rl.rlim_cur < 2 * NCONN + 64) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * NCONN + 64)
      nl_test_skip("RLIMIT_NOFILE's hard limit is below 2064");
    rl.rlim_cur = 2 * NCONN + 64;
    CHECK_OK(setrlimit(RLIMIT_NOFILE, &rl));
  }

  clients = calloc(NCONN, sizeof(*clients));
  CHECK(clients != NULL);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, NCONN, echo_connection_cb));
  a = sh_ip4(sh_port(&l));
  for (i = 0; i < NCONN; i++) {
    struct echo_client* c = &clients[i];
    c->msg_len = (size_t) snprintf(c->msg, sizeof(c->msg), "client %d:%d",
                                   i, i * 7919);
    c->creq.data = c;
    CHECK_OK(uv_tcp_init(&loop, &c->tcp));
    c->tcp.data = c;
    CHECK_OK(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr*) &a,
                            echo_client_connect_cb));
  }
  SH_RUN_UNTIL(&loop, echo_server_closed == NCONN);
  CHECK_EQ(echo_accepted, NCONN);
  CHECK_EQ(echo_clients_done, NCONN);
  CHECK_EQ(echo_client_closed, NCONN);
  for (i = 0; i < NCONN; i++)
    CHECK(clients[i].done && clients[i].written == 1);
  uv_close((uv_handle_t*) &l, NULL);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(echo_accepted, NCONN);
  nl_test_close_loop(&loop);
  free(clients);
}
