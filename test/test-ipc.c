/* Passing handles over IPC pipes (uv_write2 and uv_accept, SCM_RIGHTS):
 * TCP listeners, accepted TCP connections, pipes and UDP sockets, several
 * in a row, with uv_pipe_pending_count/uv_pipe_pending_type, within one
 * process and between two. */
#include "stream-helpers.h"

#include <dirent.h>
#include <sys/wait.h>

static int close_calls;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

/* Open descriptors of this process. */
static int count_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  int n = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1;   /* the directory's own descriptor */
}

/* ---------------------------------------------------------------------
 * The receiving end: reads with a large buffer and accepts every pending
 * handle into the next free slot of the type uv_pipe_pending_type gives.
 */
enum { SLOTS = 8 };

struct receiver {
  uv_pipe_t ipc;
  uv_handle_type types[SLOTS];
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_udp_t udp;
  } got[SLOTS];
  int n;
  int accept_now;         /* accept in the read callback (else leave) */
  int max_pending;
  char data[64];
  size_t len;
  int eof;
};

static void receiver_alloc_cb(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  static char slab[65536];
  (void) h;
  (void) size;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void receiver_accept_all(struct receiver* r) {
  uv_stream_t* s = (uv_stream_t*) &r->ipc;
  int err;

  while (uv_pipe_pending_count(&r->ipc) > 0) {
    uv_handle_type t = uv_pipe_pending_type(&r->ipc);
    CHECK(r->n < SLOTS);
    r->types[r->n] = t;
    if (t == UV_TCP) {
      CHECK_OK(uv_tcp_init(s->loop, &r->got[r->n].tcp));
    } else if (t == UV_NAMED_PIPE) {
      CHECK_OK(uv_pipe_init(s->loop, &r->got[r->n].pipe, 0));
    } else {
      CHECK_EQ(t, UV_UDP);
      CHECK_OK(uv_udp_init(s->loop, &r->got[r->n].udp));
    }
    err = uv_accept(s, (uv_stream_t*) &r->got[r->n]);
    CHECK_OK(err);
    r->n++;
  }
  CHECK_EQ(uv_pipe_pending_type(&r->ipc), UV_UNKNOWN_HANDLE);
}

static void receiver_read_cb(uv_stream_t* s, ssize_t nread,
                             const uv_buf_t* buf) {
  struct receiver* r = (struct receiver*) s->data;
  int pending = uv_pipe_pending_count(&r->ipc);

  if (nread == UV_EOF) {
    r->eof++;
    return;
  }
  CHECK(nread >= 0);
  CHECK(r->len + (size_t) nread <= sizeof(r->data));
  memcpy(r->data + r->len, buf->base, (size_t) nread);
  r->len += (size_t) nread;
  if (pending > r->max_pending)
    r->max_pending = pending;
  /* A handle comes with the first byte of its message. */
  if (pending > 0)
    CHECK(nread > 0);
  if (r->accept_now)
    receiver_accept_all(r);
}

static void receiver_start(struct receiver* r, int accept_now) {
  r->accept_now = accept_now;
  r->ipc.data = r;
  CHECK_OK(uv_read_start((uv_stream_t*) &r->ipc, receiver_alloc_cb,
                         receiver_read_cb));
}

/* An IPC pair within this process: the sender and a receiver. */
static void ipc_pair(uv_loop_t* loop, uv_pipe_t* sender,
                     struct receiver* r) {
  memset(r, 0, sizeof(*r));
  sh_unix_pair(loop, sender, &r->ipc, 1);
  CHECK(sender->ipc);
  CHECK(r->ipc.ipc);
}

static int write_calls;

static void write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  write_calls++;
}

static void send_handle(uv_pipe_t* sender, uv_write_t* req, const char* msg,
                        void* handle) {
  uv_buf_t b = uv_buf_init((char*) msg, (unsigned int) strlen(msg));
  CHECK_OK(uv_write2(req, (uv_stream_t*) sender, &b, 1,
                     (uv_stream_t*) handle, write_cb));
}

/* ---------------------------------------------------------------------
 * Within one process.
 */
static int listener_connections;
static uv_tcp_t listener_conn;

static void listener_connection_cb(uv_stream_t* l, int status) {
  CHECK_OK(status);
  CHECK_OK(uv_tcp_init(l->loop, &listener_conn));
  CHECK_OK(uv_accept(l, (uv_stream_t*) &listener_conn));
  listener_connections++;
}

static int connects;

static void connect_cb(uv_connect_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  connects++;
}

/* A TCP listener sent and received is the same socket: same port, and it
 * accepts connections once the original is closed. */
TEST(send_tcp_listener) {
  uv_pipe_t sender;
  struct receiver r;
  uv_tcp_t l, client;
  uv_write_t req;
  uv_connect_t creq;
  struct sockaddr_in a = sh_ip4(0);
  int port;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &a, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, 4, listener_connection_cb));
  port = sh_port(&l);
  send_handle(&sender, &req, "L", &l);
  CHECK_EQ(write_calls, 0);
  receiver_start(&r, 1);
  SH_RUN_UNTIL(&loop, r.n == 1 && write_calls == 1);
  CHECK_EQ(r.types[0], UV_TCP);
  CHECK_EQ(r.len, 1);
  CHECK_EQ(r.data[0], 'L');
  CHECK_EQ(r.max_pending, 1);
  CHECK_EQ(sh_port(&r.got[0].tcp), port);
  CHECK(sh_fd(&r.got[0].tcp) != sh_fd(&l));

  uv_close((uv_handle_t*) &l, close_cb);
  CHECK_OK(uv_listen((uv_stream_t*) &r.got[0].tcp, 4, listener_connection_cb));
  a = sh_ip4(port);
  CHECK_OK(uv_tcp_init(&loop, &client));
  CHECK_OK(uv_tcp_connect(&creq, &client, (struct sockaddr*) &a, connect_cb));
  SH_RUN_UNTIL(&loop, connects == 1 && listener_connections == 1);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(uv_pipe_pending_count(&r.ipc), 0);
  nl_test_close_loop(&loop);
}

/* An accepted connection sent to another handle keeps talking to its
 * client through the new handle. */
TEST(send_accepted_connection) {
  uv_pipe_t sender;
  struct receiver r;
  uv_tcp_t a, b;
  uv_write_t req;
  struct sh_sink at_a, at_b2;
  struct sockaddr_storage x, y;
  int xl = (int) sizeof(x), yl = (int) sizeof(y);
  uv_buf_t buf;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  sh_tcp_pair(&loop, &a, &b);
  send_handle(&sender, &req, "conn", &b);
  receiver_start(&r, 1);
  SH_RUN_UNTIL(&loop, r.n == 1 && write_calls == 1);
  CHECK_EQ(r.types[0], UV_TCP);
  CHECK_EQ(r.len, 4);
  uv_close((uv_handle_t*) &b, close_cb);

  CHECK_OK(uv_tcp_getpeername(&r.got[0].tcp, (struct sockaddr*) &x, &xl));
  CHECK_OK(uv_tcp_getsockname(&a, (struct sockaddr*) &y, &yl));
  CHECK_EQ(xl, yl);
  CHECK(sh_same_addr(&x, &y));
  CHECK(uv_is_readable((uv_stream_t*) &r.got[0].tcp));
  CHECK(uv_is_writable((uv_stream_t*) &r.got[0].tcp));

  sh_sink_start(&at_a, (uv_stream_t*) &a);
  sh_sink_start(&at_b2, (uv_stream_t*) &r.got[0].tcp);
  buf = uv_buf_init("via the new handle", 18);
  CHECK_EQ(uv_try_write((uv_stream_t*) &r.got[0].tcp, &buf, 1), 18);
  buf = uv_buf_init("to the new handle", 17);
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), 17);
  SH_RUN_UNTIL(&loop, at_a.len == 18 && at_b2.len == 17);
  CHECK(memcmp(at_a.data, "via the new handle", 18) == 0);
  CHECK(memcmp(at_b2.data, "to the new handle", 17) == 0);

  /* The original was closed: closing the new handle ends the stream. */
  uv_close((uv_handle_t*) &r.got[0].tcp, close_cb);
  SH_RUN_UNTIL(&loop, at_a.eof == 1);
  CHECK_EQ(close_calls, 2);
  sh_sink_free(&at_a);
  sh_sink_free(&at_b2);
  nl_test_close_loop(&loop);
}

/* A pipe handle (one end of a socketpair) sent and received. */
TEST(send_pipe) {
  uv_pipe_t sender, x, y;
  struct receiver r;
  uv_write_t req;
  struct sh_sink at_y;
  uv_buf_t buf = uv_buf_init("through the received pipe", 25);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  sh_unix_pair(&loop, &x, &y, 0);
  send_handle(&sender, &req, "P", &x);
  receiver_start(&r, 1);
  SH_RUN_UNTIL(&loop, r.n == 1 && write_calls == 1);
  CHECK_EQ(r.types[0], UV_NAMED_PIPE);
  uv_close((uv_handle_t*) &x, close_cb);
  sh_sink_start(&at_y, (uv_stream_t*) &y);
  CHECK_EQ(uv_try_write((uv_stream_t*) &r.got[0].pipe, &buf, 1), 25);
  uv_close((uv_handle_t*) &r.got[0].pipe, close_cb);
  SH_RUN_UNTIL(&loop, at_y.eof == 1);
  CHECK_EQ(at_y.len, 25);
  CHECK(memcmp(at_y.data, "through the received pipe", 25) == 0);
  CHECK_EQ(close_calls, 2);
  sh_sink_free(&at_y);
  nl_test_close_loop(&loop);
}

/* Several handles in a row, of several types, with data between: they
 * come out in order, each with its own message. */
TEST(several_handles_in_a_row) {
  uv_pipe_t sender, x, y;
  struct receiver r;
  uv_tcp_t l, a, b;
  uv_udp_t u;
  uv_write_t req[5];
  uv_write_t plain;
  struct sockaddr_in any = sh_ip4(0);
  uv_buf_t mid = uv_buf_init("-", 1);
  int i;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  sh_unix_pair(&loop, &x, &y, 0);
  sh_tcp_pair(&loop, &a, &b);
  CHECK_OK(uv_udp_init(&loop, &u));
  CHECK_OK(uv_udp_bind(&u, (struct sockaddr*) &any, 0));

  send_handle(&sender, &req[0], "1", &l);
  send_handle(&sender, &req[1], "2", &x);
  CHECK_OK(uv_write(&plain, (uv_stream_t*) &sender, &mid, 1, write_cb));
  send_handle(&sender, &req[2], "3", &b);
  send_handle(&sender, &req[3], "4", &u);
  send_handle(&sender, &req[4], "5", &l);
  receiver_start(&r, 1);
  SH_RUN_UNTIL(&loop, r.n == 5 && write_calls == 6 && r.len == 6);
  CHECK_EQ(r.max_pending, 1);
  CHECK(memcmp(r.data, "12-345", 6) == 0);
  CHECK_EQ(r.types[0], UV_TCP);
  CHECK_EQ(r.types[1], UV_NAMED_PIPE);
  CHECK_EQ(r.types[2], UV_TCP);
  CHECK_EQ(r.types[3], UV_UDP);
  CHECK_EQ(r.types[4], UV_TCP);
  for (i = 0; i < 5; i++)
    CHECK(sh_fd(&r.got[i]) >= 0);
  CHECK_EQ(sh_port(&r.got[0].tcp), sh_port(&l));
  CHECK_EQ(sh_port(&r.got[4].tcp), sh_port(&l));
  CHECK_EQ(sh_port(&r.got[2].tcp), sh_port(&b));
  CHECK_EQ(uv_pipe_pending_count(&r.ipc), 0);
  CHECK_EQ(uv_accept((uv_stream_t*) &r.ipc, (uv_stream_t*) &x), UV_EAGAIN);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);   /* the receiver reads on */
  CHECK_EQ(r.n, 5);
  nl_test_close_loop(&loop);
}

/* Handles left pending when the receiving pipe closes are closed with it:
 * no descriptor leaks. */
TEST(unaccepted_handles_are_closed) {
  uv_pipe_t sender;
  struct receiver r;
  uv_tcp_t l;
  uv_write_t req[3];
  struct sockaddr_in any = sh_ip4(0);
  int before;
  uv_loop_t loop;

  /* A first loop with a first stream makes the library's process-wide
   * descriptors, if it has any (libuv: the reserve for EMFILE). */
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &l));
  nl_test_close_loop(&loop);
  before = count_fds();
  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  send_handle(&sender, &req[0], "a", &l);
  send_handle(&sender, &req[1], "b", &l);
  send_handle(&sender, &req[2], "c", &l);
  receiver_start(&r, 0);
  SH_RUN_UNTIL(&loop, r.len == 3 && write_calls == 3);
  CHECK(uv_pipe_pending_count(&r.ipc) >= 1);
  CHECK_EQ(uv_pipe_pending_type(&r.ipc), UV_TCP);
  nl_test_close_loop(&loop);
  CHECK_EQ(r.n, 0);
  CHECK_EQ(count_fds(), before);
}

/* uv_try_write2 on an IPC pipe sends the handle too. */
TEST(try_write2_sends_handle) {
  uv_pipe_t sender;
  struct receiver r;
  uv_tcp_t l;
  struct sockaddr_in any = sh_ip4(0);
  uv_buf_t b = uv_buf_init("T", 1);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  CHECK_EQ(uv_try_write2((uv_stream_t*) &sender, &b, 1, (uv_stream_t*) &l), 1);
  receiver_start(&r, 1);
  SH_RUN_UNTIL(&loop, r.n == 1);
  CHECK_EQ(r.types[0], UV_TCP);
  CHECK_EQ(sh_port(&r.got[0].tcp), sh_port(&l));
  nl_test_close_loop(&loop);
}

/* Writes queued behind a full socket may go out several to a call, but
 * never together with a handle: the descriptor must come with the bytes
 * of its own request, so the read that brings it ends with them. Read by
 * hand, the bytes after the filler are the requests' in order, and the
 * one read that carries a descriptor ends right after 'H'. */
TEST(handle_amid_queued_writes) {
  static const char want[] = "abcdefghijHklmnopqrst";
  uv_pipe_t sender;
  uv_tcp_t l;
  uv_write_t req[sizeof(want) - 1];
  struct sockaddr_in any = sh_ip4(0);
  char got[sizeof(want)];
  char buf[65536];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  struct iovec iov;
  struct cmsghdr* c;
  size_t filler = 0, seen = 0, len = 0, handle_end = 0;
  int fds[2];
  int raw, fd, nfds = 0;
  ssize_t n;
  unsigned int i;
  uv_buf_t b;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_socketpair(fds);
  CHECK_OK(uv_pipe_init(&loop, &sender, 1));
  CHECK_OK(uv_pipe_open(&sender, fds[0]));
  raw = fds[1];
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  sh_fill_kernel((uv_stream_t*) &sender, &filler);
  write_calls = 0;
  for (i = 0; i < sizeof(want) - 1; i++) {
    b = uv_buf_init((char*) want + i, 1);
    CHECK_OK(uv_write2(&req[i], (uv_stream_t*) &sender, &b, 1,
                       want[i] == 'H' ? (uv_stream_t*) &l : NULL, write_cb));
  }
  CHECK_EQ(sender.write_queue_size, sizeof(want) - 1);

  while (len < sizeof(want) - 1) {
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = buf;
    iov.iov_len = sizeof(buf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    n = recvmsg(raw, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      CHECK(uv_run(&loop, UV_RUN_ONCE) != 0);
      continue;
    }
    CHECK(n > 0);
    for (i = 0; i < (unsigned int) n; i++, seen++)
      if (seen >= filler) {
        CHECK(len < sizeof(want) - 1);
        got[len++] = buf[i];
      }
    for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      CHECK_EQ(c->cmsg_type, SCM_RIGHTS);
      memcpy(&fd, CMSG_DATA(c), sizeof(fd));
      CHECK_OK(close(fd));
      nfds++;
      handle_end = len;
    }
    (void) uv_run(&loop, UV_RUN_NOWAIT);
  }
  got[len] = '\0';
  CHECK(strcmp(got, want) == 0);
  CHECK_EQ(nfds, 1);
  CHECK_EQ(handle_end, (size_t) (strchr(want, 'H') - want) + 1);
  SH_RUN_UNTIL(&loop, write_calls == (int) sizeof(want) - 1);
  CHECK_EQ(sender.write_queue_size, 0);
  CHECK_OK(close(raw));
  nl_test_close_loop(&loop);
}

/* Refusals: a handle on a pipe that is not IPC, a handle without a
 * descriptor, an accept with nothing pending. */
TEST(ipc_errors) {
  uv_pipe_t sender, x, y;
  struct receiver r;
  uv_tcp_t fresh, l, target;
  uv_write_t req;
  struct sockaddr_in any = sh_ip4(0);
  uv_buf_t b = uv_buf_init("x", 1);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  ipc_pair(&loop, &sender, &r);
  sh_unix_pair(&loop, &x, &y, 0);
  CHECK(!x.ipc);
  CHECK_OK(uv_tcp_init(&loop, &fresh));
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_tcp_init(&loop, &target));

  CHECK_EQ(uv_write2(&req, (uv_stream_t*) &x, &b, 1, (uv_stream_t*) &l,
                     write_cb), UV_EINVAL);
  CHECK_EQ(uv_write2(&req, (uv_stream_t*) &sender, &b, 1,
                     (uv_stream_t*) &fresh, write_cb), UV_EBADF);
  CHECK_EQ(sender.write_queue_size, 0);
  CHECK_EQ(uv_pipe_pending_count(&r.ipc), 0);
  CHECK_EQ(uv_pipe_pending_type(&r.ipc), UV_UNKNOWN_HANDLE);
  CHECK_EQ(uv_accept((uv_stream_t*) &r.ipc, (uv_stream_t*) &target),
           UV_EAGAIN);
  CHECK_EQ(uv_pipe_pending_count(&y), 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(write_calls, 0);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Between two processes. The parent sends the server end of a TCP
 * connection to a child; the child answers the client through it, and
 * sends back a bound TCP socket of its own, on which the parent listens
 * and accepts a connection. The child runs its own loop and exits 0 when
 * all went well.
 */
static uv_tcp_t child_conn;
static uv_write_t child_req, child_back;
static int child_step;

static void child_close_cb(uv_handle_t* h) {
  (void) h;
  child_step++;
}

static void child_answer_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  uv_close((uv_handle_t*) req->handle, child_close_cb);
}

static void child_back_cb(uv_write_t* req, int status) {
  CHECK_OK(status);
  /* The parent holds its own descriptor now. */
  uv_close((uv_handle_t*) req->data, child_close_cb);
}

static void child_read_cb(uv_stream_t* s, ssize_t nread,
                          const uv_buf_t* buf) {
  static uv_tcp_t bound;
  uv_pipe_t* ipc = (uv_pipe_t*) s;
  struct sockaddr_in any = sh_ip4(0);
  uv_buf_t b;

  if (nread == UV_EOF) {
    /* The parent is done: so is the child. */
    uv_close((uv_handle_t*) s, child_close_cb);
    return;
  }
  CHECK(nread >= 0);
  if (nread == 0)
    return;
  CHECK_EQ(nread, 4);
  CHECK(memcmp(buf->base, "conn", 4) == 0);
  CHECK_EQ(uv_pipe_pending_count(ipc), 1);
  CHECK_EQ(uv_pipe_pending_type(ipc), UV_TCP);
  CHECK_OK(uv_tcp_init(s->loop, &child_conn));
  CHECK_OK(uv_accept(s, (uv_stream_t*) &child_conn));
  b = uv_buf_init("child says hi", 13);
  CHECK_OK(uv_write(&child_req, (uv_stream_t*) &child_conn, &b, 1,
                    child_answer_cb));

  CHECK_OK(uv_tcp_init(s->loop, &bound));
  CHECK_OK(uv_tcp_bind(&bound, (struct sockaddr*) &any, 0));
  child_back.data = &bound;
  b = uv_buf_init("listener", 8);
  CHECK_OK(uv_write2(&child_back, s, &b, 1, (uv_stream_t*) &bound,
                     child_back_cb));
}

static void child_main(int fd) {
  uv_pipe_t ipc;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_pipe_init(&loop, &ipc, 1));
  CHECK_OK(uv_pipe_open(&ipc, fd));
  CHECK_OK(uv_read_start((uv_stream_t*) &ipc, receiver_alloc_cb,
                         child_read_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(child_step, 3);   /* the connection, the socket, the pipe */
  CHECK_OK(uv_loop_close(&loop));
  _exit(0);
}

TEST(between_processes) {
  int fds[2], status;
  pid_t pid;
  struct receiver r;
  uv_tcp_t a, b, client;
  uv_write_t req;
  uv_connect_t creq;
  struct sh_sink at_a;
  struct sockaddr_in to;
  uv_loop_t loop;

  sh_socketpair(fds);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1]);
  }
  CHECK_OK(close(fds[1]));

  CHECK_OK(uv_loop_init(&loop));
  memset(&r, 0, sizeof(r));
  CHECK_OK(uv_pipe_init(&loop, &r.ipc, 1));
  CHECK_OK(uv_pipe_open(&r.ipc, fds[0]));
  receiver_start(&r, 1);
  sh_tcp_pair(&loop, &a, &b);
  sh_sink_start(&at_a, (uv_stream_t*) &a);
  send_handle(&r.ipc, &req, "conn", &b);
  SH_RUN_UNTIL(&loop, write_calls == 1);
  uv_close((uv_handle_t*) &b, close_cb);

  /* The child answers through the connection and closes it. */
  SH_RUN_UNTIL(&loop, at_a.eof == 1);
  CHECK_EQ(at_a.len, 13);
  CHECK(memcmp(at_a.data, "child says hi", 13) == 0);

  /* The socket the child sent listens here. */
  SH_RUN_UNTIL(&loop, r.n == 1);
  CHECK_EQ(r.types[0], UV_TCP);
  CHECK(memcmp(r.data, "listener", 8) == 0);
  CHECK_OK(uv_listen((uv_stream_t*) &r.got[0].tcp, 4,
                     listener_connection_cb));
  to = sh_ip4(sh_port(&r.got[0].tcp));
  CHECK_OK(uv_tcp_init(&loop, &client));
  CHECK_OK(uv_tcp_connect(&creq, &client, (struct sockaddr*) &to,
                          connect_cb));
  SH_RUN_UNTIL(&loop, connects == 1 && listener_connections == 1);

  /* Closing the IPC pipe ends the child. */
  sh_sink_free(&at_a);
  nl_test_close_loop(&loop);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}
