/* Streams, over TCP and Unix sockets: reading (allocation, end of stream,
 * UV_ENOBUFS, stopping and closing from the read callback), writing (order,
 * vectors longer than IOV_MAX, the write queue's size at every moment,
 * queued requests gathered into one call where that cannot be seen, a
 * slow reader, cancellation on close, uv_try_write), shutdown and half
 * closed connections, write errors when the peer has gone (without
 * SIGPIPE), and the readable/writable flags. */
#include "stream-helpers.h"

#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int close_calls;
static int stray_calls;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

/* For listeners no connection reaches, and connections that fail. */
static void stray_connection_cb(uv_stream_t* l, int status) {
  (void) l;
  (void) status;
  stray_calls++;
}

static void failed_connect_cb(uv_connect_t* req, int status) {
  (void) req;
  CHECK(status == UV_ECONNREFUSED || status == UV_ECANCELED);
  stray_calls++;
}

/* ---------------------------------------------------------------------
 * Reading.
 */
struct reader {
  char log[256];
  char buf[64];
  int allocs;
  int give_null;        /* how many allocations return {NULL, 0} */
  int give_empty;       /* how many return a buffer of length 0 */
  int stop_after;       /* uv_read_stop after this many reads with data */
  int close_after;      /* uv_close after this many reads with data */
  int data_reads;
  size_t total;
  ssize_t last;
};

static void log_event(struct reader* r, const char* what) {
  size_t n = strlen(r->log);
  CHECK(n + strlen(what) + 1 < sizeof(r->log));
  memcpy(r->log + n, what, strlen(what) + 1);
}

static void reader_alloc_cb(uv_handle_t* h, size_t suggested,
                            uv_buf_t* buf) {
  struct reader* r = (struct reader*) h->data;
  CHECK_EQ(suggested, 65536);
  r->allocs++;
  log_event(r, "a");
  if (r->give_null > 0) {
    r->give_null--;
    *buf = uv_buf_init(NULL, 0);
  } else if (r->give_empty > 0) {
    r->give_empty--;
    *buf = uv_buf_init(r->buf, 0);
  } else {
    *buf = uv_buf_init(r->buf, sizeof(r->buf));
  }
}

static void reader_read_cb(uv_stream_t* s, ssize_t nread,
                           const uv_buf_t* buf) {
  struct reader* r = (struct reader*) s->data;
  r->last = nread;
  if (nread == UV_EOF) {
    log_event(r, "E");
    return;
  }
  if (nread == UV_ENOBUFS) {
    log_event(r, "N");
    CHECK_EQ(buf->len, 0);
    return;
  }
  CHECK(nread >= 0);
  if (nread == 0) {
    log_event(r, "0");   /* nothing to read: the buffer comes back */
    return;
  }
  log_event(r, "r");
  CHECK(buf->base == r->buf);
  CHECK(nread <= (ssize_t) sizeof(r->buf));
  CHECK_EQ(sh_mismatch(buf->base, r->total, (size_t) nread), nread);
  r->total += (size_t) nread;
  r->data_reads++;
  if (r->data_reads == r->stop_after)
    CHECK_OK(uv_read_stop(s));
  if (r->data_reads == r->close_after)
    uv_close((uv_handle_t*) s, close_cb);
}

/* The log without "a0" pairs: an allocation given back unused when there
 * was nothing to read is allowed anywhere. */
static const char* log_core(const struct reader* r) {
  static char out[256];
  const char* in = r->log;
  size_t n = 0;
  while (*in != '\0') {
    if (in[0] == 'a' && in[1] == '0') {
      in += 2;
      continue;
    }
    out[n++] = *in++;
  }
  out[n] = '\0';
  return out;
}

static void reader_start(struct reader* r, uv_stream_t* s) {
  memset(r, 0, sizeof(*r));
  s->data = r;
  CHECK_OK(uv_read_start(s, reader_alloc_cb, reader_read_cb));
}

/* The alloc callback runs before each read; the data follows in one or
 * more reads; the end of the stream comes once. libuv 1.44 keeps the
 * handle readable after the end and a new read_start reports it again. */
TEST(read_alloc_read_eof) {
  uv_tcp_t a, b;
  uv_shutdown_t req;
  struct reader r;
  char data[100];
  uv_buf_t buf = uv_buf_init(data, sizeof(data));
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_fill(data, 0, sizeof(data));
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), 100);
  CHECK_OK(uv_shutdown(&req, (uv_stream_t*) &a, NULL));
  reader_start(&r, (uv_stream_t*) &b);
  CHECK_EQ(uv_read_start((uv_stream_t*) &b, reader_alloc_cb, reader_read_cb),
           UV_EALREADY);
  CHECK_EQ(r.allocs, 0);   /* nothing runs inside uv_read_start */
  SH_RUN_UNTIL(&loop, r.last == UV_EOF);
  CHECK_EQ(r.total, 100);
  /* 100 bytes in buffers of 64: alloc and read, twice, then the end
   * (read into a buffer or reported on its own). */
  CHECK(strcmp(log_core(&r), "ararE") == 0 ||
        strcmp(log_core(&r), "araraE") == 0);
  CHECK(!uv_is_active((uv_handle_t*) &b));
  CHECK(uv_is_readable((uv_stream_t*) &b));
  CHECK(uv_is_writable((uv_stream_t*) &b));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK(strcmp(log_core(&r), "ararE") == 0 ||
        strcmp(log_core(&r), "araraE") == 0);
  r.log[0] = '\0';

  /* Reading again after the end: the end again, nothing else. */
  CHECK_OK(uv_read_start((uv_stream_t*) &b, reader_alloc_cb, reader_read_cb));
  r.last = 0;
  SH_RUN_UNTIL(&loop, r.last == UV_EOF);
  CHECK_EQ(r.total, 100);
  CHECK(strcmp(log_core(&r), "E") == 0 || strcmp(log_core(&r), "aE") == 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(r.data_reads, 2);
  CHECK_OK(uv_read_stop((uv_stream_t*) &b));
  CHECK_OK(uv_read_stop((uv_stream_t*) &b));
  nl_test_close_loop(&loop);
}

/* An alloc callback that gives no memory gets UV_ENOBUFS in the read
 * callback, with the data left in the kernel; reading goes on. */
TEST(enobufs_from_alloc) {
  uv_tcp_t a, b;
  struct reader r;
  char data[40];
  uv_buf_t buf = uv_buf_init(data, sizeof(data));
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_fill(data, 0, sizeof(data));
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), 40);
  reader_start(&r, (uv_stream_t*) &b);
  r.give_null = 1;
  r.give_empty = 1;
  SH_RUN_UNTIL(&loop, r.total == 40);
  CHECK_EQ(strcmp(log_core(&r), "aNaNar"), 0);
  CHECK(uv_is_active((uv_handle_t*) &b));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);   /* still reading */
  CHECK_EQ(r.total, 40);
  nl_test_close_loop(&loop);
}

/* uv_read_stop inside the read callback: no more callbacks although data
 * waits; a new uv_read_start gets the rest. */
TEST(read_stop_in_read_cb) {
  uv_tcp_t a, b;
  struct reader r;
  static char data[1000];
  uv_buf_t buf = uv_buf_init(data, sizeof(data));
  int i;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_fill(data, 0, sizeof(data));
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), 1000);
  reader_start(&r, (uv_stream_t*) &b);
  r.stop_after = 1;
  SH_RUN_UNTIL(&loop, r.data_reads == 1);
  CHECK(!uv_is_active((uv_handle_t*) &b));
  for (i = 0; i < 5; i++)
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(r.data_reads, 1);
  CHECK_EQ(r.total, 64);
  CHECK_EQ(strcmp(log_core(&r), "ar"), 0);
  CHECK_EQ(sh_inq(sh_fd(&b)), 1000 - 64);

  CHECK_OK(uv_read_start((uv_stream_t*) &b, reader_alloc_cb, reader_read_cb));
  SH_RUN_UNTIL(&loop, r.total == 1000);
  CHECK_EQ(r.data_reads, 16);
  nl_test_close_loop(&loop);
}

/* uv_close inside the read callback: no more read callbacks, the close
 * callback runs, the unread data stays unread. */
TEST(close_in_read_cb) {
  uv_tcp_t a, b;
  struct reader r;
  static char data[1000];
  uv_buf_t buf = uv_buf_init(data, sizeof(data));
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_fill(data, 0, sizeof(data));
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), 1000);
  reader_start(&r, (uv_stream_t*) &b);
  r.close_after = 2;
  SH_RUN_UNTIL(&loop, close_calls == 1);
  CHECK_EQ(r.data_reads, 2);
  CHECK_EQ(strcmp(log_core(&r), "arar"), 0);
  CHECK(!uv_is_readable((uv_stream_t*) &b));
  CHECK(!uv_is_writable((uv_stream_t*) &b));
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(r.data_reads, 2);
  CHECK_EQ(close_calls, 1);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Writing.
 */
enum { NWRITES = 1000 };

struct writes {
  uv_write_t req[NWRITES];
  size_t end[NWRITES];    /* stream offset after request i */
  int calls;
  int cancelled;
  uv_stream_t* stream;
  size_t queued;          /* bytes given to uv_write */
  size_t later;           /* bytes of requests whose callback is pending */
  size_t last_wqs;
};

static struct writes w;

static void ordered_write_cb(uv_write_t* req, int status) {
  int i = (int) (req - w.req);
  size_t len = w.end[i] - (i == 0 ? 0 : w.end[i - 1]);
  size_t wqs = w.stream->write_queue_size;

  CHECK_EQ(i, w.calls);
  CHECK(req->handle == w.stream);
  w.calls++;
  CHECK_EQ(uv_stream_get_write_queue_size(w.stream), wqs);
  if (status == UV_ECANCELED) {
    w.cancelled++;
    return;
  }
  CHECK_OK(status);
  /* What remains queued belongs to later requests, and it only shrinks
   * while nothing is added. */
  w.later -= len;
  CHECK(wqs <= w.later);
  CHECK(wqs <= w.last_wqs);
  w.last_wqs = wqs;
  if (w.later == 0)
    CHECK_EQ(wqs, 0);
}

/* Queues a uv_write of len pattern bytes from buf (which holds the
 * pattern from offset 0) as the next request, checking how the write
 * queue grows: by at most len, and by exactly len when it was not empty
 * (nothing is written then until the loop runs). */
static void queue_write(const char* buf, size_t len) {
  int i = 0;
  size_t before = w.stream->write_queue_size;
  size_t after;
  uv_buf_t b;

  while (i < NWRITES && w.end[i] != 0)
    i++;
  CHECK(i < NWRITES);
  b = uv_buf_init((char*) buf + w.queued, (unsigned int) len);
  CHECK_OK(uv_write(&w.req[i], w.stream, &b, 1, ordered_write_cb));
  w.queued += len;
  w.end[i] = w.queued;
  w.later += len;
  after = w.stream->write_queue_size;
  CHECK_EQ(uv_stream_get_write_queue_size(w.stream), after);
  CHECK(after >= before && after - before <= len);
  if (before != 0)
    CHECK_EQ(after - before, len);
  w.last_wqs = after;
}

static void writes_init(uv_stream_t* s) {
  memset(&w, 0, sizeof(w));
  w.stream = s;
}

/* A thousand writes of different sizes: callbacks in order, data in
 * order. */
TEST(write_order) {
  uv_tcp_t a, b;
  struct sh_sink sink;
  char* data;
  size_t total = 0;
  int i;
  uv_loop_t loop;

  for (i = 0; i < NWRITES; i++)
    total += 1 + (size_t) (i * 37) % 2000;
  data = malloc(total);
  CHECK(data != NULL);
  sh_fill(data, 0, total);
  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  writes_init((uv_stream_t*) &a);
  for (i = 0; i < NWRITES; i++)
    queue_write(data, 1 + (size_t) (i * 37) % 2000);
  CHECK_EQ(w.calls, 0);
  sh_sink_start(&sink, (uv_stream_t*) &b);
  SH_RUN_UNTIL(&loop, w.calls == NWRITES && sink.len == total);
  CHECK_EQ(sh_mismatch(sink.data, 0, total), total);
  CHECK_EQ(a.write_queue_size, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);   /* b still reads */
  CHECK_EQ(w.calls, NWRITES);
  CHECK_EQ(sink.len, total);
  sh_sink_free(&sink);
  free(data);
  nl_test_close_loop(&loop);
}

/* Vectors of 2000 and 1000 buffers (IOV_MAX is 1024), some empty, more
 * than the kernel takes at once: the write resumes in the middle of the
 * vector. */
TEST(write_many_buffers) {
  enum { N1 = 2000, N2 = 1000 };
  static uv_buf_t bufs[N1];
  uv_tcp_t a, b;
  struct sh_sink sink;
  char* data;
  size_t total = 0, off = 0, mark;
  int i;
  uv_loop_t loop;

  CHECK(N1 > IOV_MAX);
  for (i = 0; i < N1; i++)
    total += (size_t) (i % 10 == 3 ? 0 : 1 + (i * 37) % 2000);
  mark = total;
  for (i = 0; i < N2; i++)
    total += (size_t) (i % 7 == 0 ? 0 : 1 + i % 13);
  data = malloc(total);
  CHECK(data != NULL);
  sh_fill(data, 0, total);
  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  writes_init((uv_stream_t*) &a);

  for (i = 0; i < N1; i++) {
    size_t len = (size_t) (i % 10 == 3 ? 0 : 1 + (i * 37) % 2000);
    bufs[i] = uv_buf_init(data + off, (unsigned int) len);
    off += len;
  }
  CHECK_OK(uv_write(&w.req[0], (uv_stream_t*) &a, bufs, N1, ordered_write_cb));
  w.end[0] = mark;
  w.later = mark;
  w.last_wqs = a.write_queue_size;
  CHECK(a.write_queue_size <= mark);
  /* The request keeps its own copy of the vector. */
  memset(bufs, 0, sizeof(bufs));
  for (i = 0; i < N2; i++) {
    size_t len = (size_t) (i % 7 == 0 ? 0 : 1 + i % 13);
    bufs[i] = uv_buf_init(data + off, (unsigned int) len);
    off += len;
  }
  CHECK_EQ(off, total);
  CHECK_OK(uv_write(&w.req[1], (uv_stream_t*) &a, bufs, N2, ordered_write_cb));
  w.end[1] = total;
  w.later = total;
  if (w.last_wqs != 0)
    CHECK_EQ(a.write_queue_size, w.last_wqs + (total - mark));
  w.last_wqs = a.write_queue_size;
  memset(bufs, 0, sizeof(bufs));

  sh_sink_start(&sink, (uv_stream_t*) &b);
  SH_RUN_UNTIL(&loop, w.calls == 2 && sink.len == total);
  CHECK_EQ(sh_mismatch(sink.data, 0, total), total);
  CHECK_EQ(a.write_queue_size, 0);
  sh_sink_free(&sink);
  free(data);
  nl_test_close_loop(&loop);
}

/* The write queue's size, exactly, at every moment: over a socketpair
 * whose other end is read by hand, what libuv has handed to the kernel is
 * what was read plus what waits in the socket, so the queue must hold
 * everything else. */
static int wq_raw;
static size_t wq_try;      /* bytes uv_try_write put in first */
static size_t wq_read;     /* bytes read by hand */

static void check_exact_wqs(void) {
  size_t in_kernel = wq_read + (size_t) sh_inq(wq_raw);
  size_t written = in_kernel - wq_try;
  CHECK_EQ(w.stream->write_queue_size, w.queued - written);
  CHECK_EQ(uv_stream_get_write_queue_size(w.stream), w.queued - written);
}

static void exact_write_cb(uv_write_t* req, int status) {
  int i = (int) (req - w.req);
  CHECK_OK(status);
  CHECK_EQ(i, w.calls);
  w.calls++;
  check_exact_wqs();
  /* The request's bytes have all reached the kernel. */
  CHECK(wq_read + (size_t) sh_inq(wq_raw) - wq_try >= w.end[i]);
}

TEST(write_queue_size_exact) {
  enum { N = 8 };
  uv_pipe_t p;
  static char data[N * 40000];
  size_t off = 0, roff = 0;
  int i;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  wq_raw = sh_raw_pair(&loop, &p);
  writes_init((uv_stream_t*) &p);
  CHECK_EQ(p.write_queue_size, 0);
  sh_fill_kernel((uv_stream_t*) &p, &off);
  wq_try = off;
  CHECK(wq_try > 0);
  CHECK_EQ(p.write_queue_size, 0);

  sh_fill(data, off, sizeof(data));
  for (i = 0; i < N; i++) {
    size_t len = 10000 + (size_t) i * 3001;
    uv_buf_t b = uv_buf_init(data + w.queued, (unsigned int) len);
    CHECK_OK(uv_write(&w.req[i], (uv_stream_t*) &p, &b, 1, exact_write_cb));
    w.queued += len;
    w.end[i] = w.queued;
    check_exact_wqs();
    CHECK_EQ(p.write_queue_size, w.queued);   /* the kernel was full */
  }
  CHECK_EQ(w.calls, 0);

  /* Read by hand in small steps, letting the loop write after each. */
  while (w.calls < N) {
    size_t n = sh_raw_drain(wq_raw, &roff, 7000);
    wq_read += n;
    check_exact_wqs();
    CHECK(uv_run(&loop, n == 0 ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0 ||
          w.calls == N);
    check_exact_wqs();
  }
  CHECK_EQ(p.write_queue_size, 0);
  while (wq_read < wq_try + w.queued)
    wq_read += sh_raw_drain(wq_raw, &roff, SIZE_MAX);
  CHECK_EQ(roff, wq_try + w.queued);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(w.calls, N);
  nl_test_close_loop(&loop);
  CHECK_OK(close(wq_raw));
}

/* ---------------------------------------------------------------------
 * Requests queued behind one another go out several to a call, except
 * where libuv's one call per request is part of what the caller sees.
 */
static int gather_calls;
static int gather_status[NWRITES];

static void gather_write_cb(uv_write_t* req, int status) {
  CHECK_EQ((int) (req - w.req), gather_calls);
  gather_status[gather_calls++] = status;
}

/* write(2) and writev(2) calls this thread made (send and sendmsg are not
 * counted). */
static long thread_write_calls(void) {
  return nl_test_proc_value("/proc/thread-self/io", "syscw:");
}

/* A pipe(2) filled to the brim, non-blocking at both ends, of the given
 * capacity (0: the default); returns the bytes it holds. */
static size_t full_pipe(int fds[2], int size) {
  static char junk[4096];
  size_t held = 0;
  ssize_t n;

  CHECK_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  if (size > 0)
    CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, size), size);
  memset(junk, 'x', sizeof(junk));
  while ((n = write(fds[1], junk, sizeof(junk))) > 0)
    held += (size_t) n;
  CHECK(errno == EAGAIN);
  return held;
}

/* A thousand 13-byte writes queued behind a full pipe take far fewer than
 * a thousand calls, and arrive whole and in order, with their callbacks in
 * order and the queue's size falling to 0. */
TEST(queued_small_writes_share_calls) {
  enum { LEN = 13 };
  static char data[NWRITES * LEN];
  static char buf[65536];
  uv_pipe_t p;
  int fds[2];
  size_t skip, got = 0;
  long calls;
  ssize_t n;
  int i;
  uv_buf_t b;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  skip = full_pipe(fds, 0);
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, fds[1]));
  writes_init((uv_stream_t*) &p);
  gather_calls = 0;
  sh_fill(data, 0, sizeof(data));
  for (i = 0; i < NWRITES; i++) {
    b = uv_buf_init(data + i * LEN, LEN);
    CHECK_OK(uv_write(&w.req[i], (uv_stream_t*) &p, &b, 1, gather_write_cb));
  }
  CHECK_EQ(p.write_queue_size, sizeof(data));

  calls = thread_write_calls();
  while (gather_calls < NWRITES || got < sizeof(data)) {
    n = read(fds[0], buf, sizeof(buf));
    if (n < 0) {
      CHECK(errno == EAGAIN);
      CHECK(uv_run(&loop, UV_RUN_ONCE) != 0 || gather_calls == NWRITES);
      continue;
    }
    for (i = 0; i < n; i++)
      if (skip > 0)
        skip--;
      else
        CHECK_EQ((unsigned char) buf[i], sh_byte(got++));
    (void) uv_run(&loop, UV_RUN_NOWAIT);
  }
  calls = thread_write_calls() - calls;
  /* 64 buffers a call: 16 calls, a few more if the pipe took some while
   * only partly drained. One call per request would be 1,000. */
  CHECK(calls >= 16 && calls <= NWRITES / 8);
  for (i = 0; i < NWRITES; i++)
    CHECK_OK(gather_status[i]);
  CHECK_EQ(p.write_queue_size, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(close(fds[0]));
  nl_test_close_loop(&loop);
}

/* Over a SOCK_SEQPACKET pair opened with uv_pipe_open each call is one
 * record, and a reader relies on one record per request: four writes
 * queued behind a full socket arrive as four records of their own sizes,
 * never merged. */
TEST(record_socket_keeps_one_record_per_write) {
  static char rec[65536];
  uv_pipe_t p;
  int fds[2];
  int fill = 0;
  int i;
  ssize_t n;
  uv_buf_t b;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds));
  memset(rec, 'x', 1000);
  while (send(fds[0], rec, 1000, MSG_DONTWAIT) == 1000)
    fill++;
  CHECK(errno == EAGAIN);
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, fds[0]));
  writes_init((uv_stream_t*) &p);
  gather_calls = 0;
  for (i = 0; i < 4; i++) {
    b = uv_buf_init(rec, (unsigned int) (100 + i));
    CHECK_OK(uv_write(&w.req[i], (uv_stream_t*) &p, &b, 1, gather_write_cb));
  }
  for (i = 0; i < 4;) {
    n = recv(fds[1], rec, sizeof(rec), MSG_DONTWAIT);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      CHECK(uv_run(&loop, UV_RUN_ONCE) != 0 || gather_calls == 4);
      continue;
    }
    if (fill > 0) {
      CHECK_EQ(n, 1000);
      fill--;
      continue;
    }
    CHECK_EQ(n, 100 + i);
    i++;
  }
  SH_RUN_UNTIL(&loop, gather_calls == 4);
  for (i = 0; i < 4; i++)
    CHECK_OK(gather_status[i]);
  CHECK_EQ(recv(fds[1], rec, sizeof(rec), MSG_DONTWAIT), -1);
  CHECK_EQ(errno, EAGAIN);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(close(fds[1]));
  nl_test_close_loop(&loop);
}

/* Two writers on one pipe: the kernel writes a call of up to PIPE_BUF
 * bytes whole, so neither writer's 100-byte lines may be cut by the
 * other's. The pipe holds one page; its reader empties it at every step,
 * and the steps alternate between our loop writing queued lines and
 * another writer putting in a line of its own. A call of ours cut short
 * when the page filled would leave a line half written, and the other's
 * line would land inside it: every line read must be all one writer's. */
TEST(pipe_lines_stay_whole_beside_another_writer) {
  enum { LINE = 100, LINES = 600 };
  static char lines[LINES][LINE];
  static char other[LINE];
  static char buf[65536];
  char line[LINE];
  uv_pipe_t p;
  int fds[2];
  size_t skip, in_line = 0;
  int mine = 0, theirs = 0, step, i;
  ssize_t n;
  uv_buf_t b;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  skip = full_pipe(fds, 4096);
  CHECK_OK(uv_pipe_init(&loop, &p, 0));
  CHECK_OK(uv_pipe_open(&p, dup(fds[1])));
  writes_init((uv_stream_t*) &p);
  gather_calls = 0;
  memset(other, 'B', LINE - 1);
  other[LINE - 1] = '\n';
  for (i = 0; i < LINES; i++) {
    memset(lines[i], 'A', LINE - 1);
    lines[i][LINE - 1] = '\n';
    b = uv_buf_init(lines[i], LINE);
    CHECK_OK(uv_write(&w.req[i], (uv_stream_t*) &p, &b, 1, gather_write_cb));
  }
  for (step = 0; mine < LINES; step++) {
    CHECK(step < 100 * LINES);
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
      for (i = 0; i < n; i++) {
        if (skip > 0) {
          skip--;
          continue;
        }
        line[in_line++] = buf[i];
        if (in_line < LINE)
          continue;
        CHECK_EQ(line[LINE - 1], '\n');
        CHECK_EQ(memchr(line, line[0] == 'A' ? 'B' : 'A', LINE - 1), NULL);
        if (line[0] == 'A')
          mine++;
        else
          theirs++;
        in_line = 0;
      }
    CHECK(n < 0 && errno == EAGAIN);
    if (step % 2 == 0)
      (void) uv_run(&loop, UV_RUN_NOWAIT);
    else
      CHECK_EQ(write(fds[1], other, LINE), LINE);
  }
  CHECK(theirs > 0);
  SH_RUN_UNTIL(&loop, gather_calls == LINES);
  for (i = 0; i < LINES; i++)
    CHECK_OK(gather_status[i]);
  uv_close((uv_handle_t*) &p, NULL);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  nl_test_close_loop(&loop);
}

/* A gathered call that fails may fail for a later request: one whose
 * buffer the kernel cannot read. Each request then gets its own result,
 * as if written alone: the first and last succeed and their bytes
 * arrive, the middle one gets UV_EFAULT. */
TEST(gathered_write_error_goes_to_its_request) {
  static char good[2][100];
  uv_tcp_t a, bside;
  struct sh_sink sink;
  char* bad;
  size_t filled = 0;
  uv_buf_t b;
  uv_loop_t loop;

  bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(bad != MAP_FAILED);
  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &bside);
  sh_fill_kernel((uv_stream_t*) &a, &filled);
  writes_init((uv_stream_t*) &a);
  gather_calls = 0;
  sh_fill(good[0], filled, 100);
  sh_fill(good[1], filled + 100, 100);
  b = uv_buf_init(good[0], 100);
  CHECK_OK(uv_write(&w.req[0], (uv_stream_t*) &a, &b, 1, gather_write_cb));
  b = uv_buf_init(bad, 100);
  CHECK_OK(uv_write(&w.req[1], (uv_stream_t*) &a, &b, 1, gather_write_cb));
  b = uv_buf_init(good[1], 100);
  CHECK_OK(uv_write(&w.req[2], (uv_stream_t*) &a, &b, 1, gather_write_cb));
  sh_sink_start(&sink, (uv_stream_t*) &bside);
  SH_RUN_UNTIL(&loop, gather_calls == 3 && sink.len == filled + 200);
  CHECK_OK(gather_status[0]);
  CHECK_EQ(gather_status[1], UV_EFAULT);
  CHECK_OK(gather_status[2]);
  CHECK_EQ(sh_mismatch(sink.data, 0, sink.len), sink.len);
  CHECK_EQ(a.write_queue_size, 0);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
  CHECK_OK(munmap(bad, 4096));
}

/* A slow reader: 16 MB queued in 64 KB writes while the peer does not
 * read (the kernel takes a few megabytes at most: tcp_wmem's maximum plus
 * the peer's initial receive buffer); the queue holds what the kernel did
 * not take and does not drain while the reader waits; once it reads,
 * everything arrives in order and the queue empties. */
TEST(slow_reader) {
  enum { CHUNK = 65536, COUNT = 256 };
  uv_tcp_t a, b;
  struct sh_sink sink;
  char* data;
  size_t held;
  int i;
  uv_loop_t loop;

  data = malloc((size_t) CHUNK * COUNT);
  CHECK(data != NULL);
  sh_fill(data, 0, (size_t) CHUNK * COUNT);
  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  writes_init((uv_stream_t*) &a);
  for (i = 0; i < COUNT; i++)
    queue_write(data, CHUNK);
  held = a.write_queue_size;
  CHECK(held > 0);
  for (i = 0; i < 20; i++) {
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
    CHECK(a.write_queue_size <= held);
    held = a.write_queue_size;
    usleep(1000);
  }
  CHECK(held > 0);
  CHECK(w.calls < COUNT);

  sh_sink_start(&sink, (uv_stream_t*) &b);
  SH_RUN_UNTIL(&loop, w.calls == COUNT && sink.len == (size_t) CHUNK * COUNT);
  CHECK_EQ(a.write_queue_size, 0);
  CHECK_EQ(sh_mismatch(sink.data, 0, sink.len), sink.len);
  CHECK_EQ(sink.eof, 0);
  sh_sink_free(&sink);
  free(data);
  nl_test_close_loop(&loop);
}

/* Closing a stream cancels its queued writes: each callback gets
 * UV_ECANCELED, in order, after uv_close returns and before the close
 * callback. */
static void cancel_close_cb(uv_handle_t* h) {
  (void) h;
  CHECK_EQ(w.calls, 5);
  close_calls++;
}

TEST(close_cancels_queued_writes) {
  uv_pipe_t p;
  int raw, i;
  size_t off = 0;
  static char data[5 * 1000];
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  raw = sh_raw_pair(&loop, &p);
  sh_fill_kernel((uv_stream_t*) &p, &off);
  writes_init((uv_stream_t*) &p);
  for (i = 0; i < 5; i++)
    queue_write(data, 1000);
  CHECK_EQ(p.write_queue_size, 5000);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(w.calls, 0);
  uv_close((uv_handle_t*) &p, cancel_close_cb);
  CHECK_EQ(w.calls, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 5);
  CHECK_EQ(w.cancelled, 5);
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(w.calls, 5);
  /* Nothing of the cancelled writes reached the peer. */
  CHECK_EQ(sh_inq(raw), (int) off);
  CHECK_OK(close(raw));
  nl_test_close_loop(&loop);
}

/* uv_try_write: all of a small write, part of a large one, UV_EAGAIN when
 * the kernel is full, and UV_EAGAIN while writes are queued even when the
 * kernel has room; and while a TCP connect is in progress. */
static int try_cbs;

static void try_write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  try_cbs++;
}

TEST(try_write) {
  uv_pipe_t p;
  uv_tcp_t t;
  uv_write_t req;
  uv_connect_t creq;
  struct sockaddr_in a = sh_ip4(sh_closed_port());
  static char big[4 << 20];
  char small[3] = "abc";
  uv_buf_t bufs[2];
  int raw, n;
  size_t roff = 0, read = 0, off;
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  raw = sh_raw_pair(&loop, &p);
  sh_fill(big, 0, sizeof(big));
  bufs[0] = uv_buf_init(big, 3);
  CHECK_EQ(uv_try_write((uv_stream_t*) &p, bufs, 1), 3);
  bufs[0] = uv_buf_init(big + 3, 100);
  bufs[1] = uv_buf_init(big + 103, sizeof(big) - 103);
  n = uv_try_write((uv_stream_t*) &p, bufs, 2);
  CHECK(n > 100 && n < (int) sizeof(big) - 3);   /* a partial count */
  off = 3 + (size_t) n;
  CHECK_EQ(sh_inq(raw), (int) off);
  bufs[0] = uv_buf_init(big + off, 1);
  CHECK_EQ(uv_try_write((uv_stream_t*) &p, bufs, 1), UV_EAGAIN);
  CHECK_EQ(p.write_queue_size, 0);

  /* A queued write blocks uv_try_write even once the kernel has room,
   * until its callback. */
  bufs[0] = uv_buf_init(big + off, 1000);
  CHECK_OK(uv_write(&req, (uv_stream_t*) &p, bufs, 1, try_write_cb));
  CHECK_EQ(p.write_queue_size, 1000);
  off += 1000;
  while (read < off - 1000)
    read += sh_raw_drain(raw, &roff, SIZE_MAX);
  CHECK_EQ(sh_inq(raw), 0);
  bufs[0] = uv_buf_init(small, 3);
  CHECK_EQ(uv_try_write((uv_stream_t*) &p, bufs, 1), UV_EAGAIN);
  SH_RUN_UNTIL(&loop, try_cbs == 1);
  CHECK_EQ(p.write_queue_size, 0);
  bufs[0] = uv_buf_init(big + off, 10);
  CHECK_EQ(uv_try_write((uv_stream_t*) &p, bufs, 1), 10);
  off += 10;
  while (read < off)
    read += sh_raw_drain(raw, &roff, SIZE_MAX);
  CHECK_EQ(roff, off);

  CHECK_OK(uv_tcp_init(&loop, &t));
  CHECK_OK(uv_tcp_connect(&creq, &t, (struct sockaddr*) &a,
                          failed_connect_cb));
  bufs[0] = uv_buf_init(small, 3);
  CHECK_EQ(uv_try_write((uv_stream_t*) &t, bufs, 1), UV_EAGAIN);
  CHECK_OK(close(raw));
  nl_test_close_loop(&loop);
  CHECK_EQ(try_cbs, 1);
  CHECK_EQ(stray_calls, 1);
}

/* uv_try_write2 on a stream that is not an IPC pipe ignores the handle
 * and writes; uv_write2 refuses it. */
TEST(try_write2_without_ipc) {
  uv_tcp_t a, b, other;
  uv_pipe_t p, q;
  uv_write_t req;
  struct sockaddr_in any = sh_ip4(0);
  struct sh_sink sa, sp;
  uv_buf_t buf = uv_buf_init("hello", 5);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_unix_pair(&loop, &p, &q, 0);
  CHECK_OK(uv_tcp_init(&loop, &other));
  CHECK_OK(uv_tcp_bind(&other, (struct sockaddr*) &any, 0));
  CHECK_EQ(uv_write2(&req, (uv_stream_t*) &a, &buf, 1, (uv_stream_t*) &other,
                     NULL), UV_EINVAL);
  CHECK_EQ(uv_write2(&req, (uv_stream_t*) &p, &buf, 1, (uv_stream_t*) &other,
                     NULL), UV_EINVAL);
  CHECK_EQ(a.write_queue_size, 0);
  CHECK_EQ(uv_try_write2((uv_stream_t*) &a, &buf, 1, (uv_stream_t*) &other),
           5);
  CHECK_EQ(uv_try_write2((uv_stream_t*) &p, &buf, 1, (uv_stream_t*) &other),
           5);
  sh_sink_start(&sa, (uv_stream_t*) &b);
  sh_sink_start(&sp, (uv_stream_t*) &q);
  SH_RUN_UNTIL(&loop, sa.len == 5 && sp.len == 5);
  CHECK(memcmp(sa.data, "hello", 5) == 0);
  CHECK(memcmp(sp.data, "hello", 5) == 0);
  CHECK_EQ(uv_pipe_pending_count(&q), 0);
  sh_sink_free(&sa);
  sh_sink_free(&sp);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Shutdown.
 */
static int shutdown_calls;
static int shutdown_status;
static int writes_at_shutdown;

static void shutdown_cb(uv_shutdown_t* req, int status) {
  (void) req;
  shutdown_calls++;
  shutdown_status = status;
  writes_at_shutdown = w.calls;
}

/* Shutdown waits for the queued writes: the peer reads all the data, then
 * the end; the write callbacks come before the shutdown's. */
TEST(shutdown_after_queued_writes) {
  enum { CHUNK = 65536, COUNT = 256 };   /* more than the kernel holds */
  uv_tcp_t a, b;
  uv_shutdown_t req;
  struct sh_sink sink;
  char* data;
  int i;
  uv_loop_t loop;

  data = malloc((size_t) CHUNK * COUNT);
  CHECK(data != NULL);
  sh_fill(data, 0, (size_t) CHUNK * COUNT);
  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  writes_init((uv_stream_t*) &a);
  for (i = 0; i < COUNT; i++)
    queue_write(data, CHUNK);
  CHECK_OK(uv_shutdown(&req, (uv_stream_t*) &a, shutdown_cb));
  CHECK(!uv_is_writable((uv_stream_t*) &a));
  CHECK(uv_is_readable((uv_stream_t*) &a));
  for (i = 0; i < 5; i++)
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
  CHECK_EQ(shutdown_calls, 0);
  CHECK(a.write_queue_size > 0);

  sh_sink_start(&sink, (uv_stream_t*) &b);
  SH_RUN_UNTIL(&loop, sink.eof == 1 && shutdown_calls == 1);
  CHECK_OK(shutdown_status);
  CHECK_EQ(writes_at_shutdown, COUNT);
  CHECK_EQ(sink.len, (size_t) CHUNK * COUNT);
  CHECK_EQ(sh_mismatch(sink.data, 0, sink.len), sink.len);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(shutdown_calls, 1);
  CHECK_EQ(sink.after_end, 0);
  sh_sink_free(&sink);
  free(data);
  nl_test_close_loop(&loop);
}

/* A second shutdown, a shutdown of a listener, and writes after shutdown
 * are refused. */
TEST(shutdown_errors) {
  uv_tcp_t a, b, l;
  uv_shutdown_t r1, r2;
  uv_write_t wr;
  struct sockaddr_in any = sh_ip4(0);
  uv_buf_t buf = uv_buf_init("x", 1);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  CHECK_OK(uv_shutdown(&r1, (uv_stream_t*) &a, shutdown_cb));
  CHECK_EQ(uv_shutdown(&r2, (uv_stream_t*) &a, shutdown_cb), UV_ENOTCONN);
  CHECK_EQ(uv_write(&wr, (uv_stream_t*) &a, &buf, 1, NULL), UV_EPIPE);
  CHECK_EQ(uv_try_write((uv_stream_t*) &a, &buf, 1), UV_EPIPE);
  SH_RUN_UNTIL(&loop, shutdown_calls == 1);
  CHECK_OK(shutdown_status);
  CHECK_EQ(uv_shutdown(&r2, (uv_stream_t*) &a, shutdown_cb), UV_ENOTCONN);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(shutdown_calls, 1);

  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, 1, stray_connection_cb));
  CHECK_EQ(uv_shutdown(&r2, (uv_stream_t*) &l, shutdown_cb), UV_ENOTCONN);
  CHECK_EQ(uv_write(&wr, (uv_stream_t*) &l, &buf, 1, NULL), UV_EPIPE);
  CHECK_EQ(uv_try_write((uv_stream_t*) &l, &buf, 1), UV_EPIPE);
  nl_test_close_loop(&loop);
  CHECK_EQ(shutdown_calls, 1);
}

/* A half-closed connection: after one side shuts down, the other reads
 * the end and can still write back, and the first still reads. */
static uv_write_t reply_req;
static int reply_writes;

static void reply_write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  reply_writes++;
}

TEST(half_closed) {
  uv_tcp_t a, b;
  uv_shutdown_t ra, rb;
  struct sh_sink sa, sb;
  uv_buf_t buf = uv_buf_init("reply", 5);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  sh_sink_start(&sa, (uv_stream_t*) &a);
  sh_sink_start(&sb, (uv_stream_t*) &b);
  CHECK_OK(uv_shutdown(&ra, (uv_stream_t*) &a, shutdown_cb));
  SH_RUN_UNTIL(&loop, sb.eof == 1 && shutdown_calls == 1);
  CHECK(uv_is_readable((uv_stream_t*) &a));
  CHECK(!uv_is_writable((uv_stream_t*) &a));
  CHECK(uv_is_writable((uv_stream_t*) &b));
  CHECK(uv_is_active((uv_handle_t*) &a));   /* still reading */
  CHECK_EQ(sa.len, 0);

  CHECK_OK(uv_write(&reply_req, (uv_stream_t*) &b, &buf, 1, reply_write_cb));
  SH_RUN_UNTIL(&loop, sa.len == 5 && reply_writes == 1);
  CHECK(memcmp(sa.data, "reply", 5) == 0);
  CHECK_EQ(sa.eof, 0);
  CHECK_OK(uv_shutdown(&rb, (uv_stream_t*) &b, shutdown_cb));
  SH_RUN_UNTIL(&loop, sa.eof == 1 && shutdown_calls == 2);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(sa.after_end + sb.after_end, 0);
  CHECK_EQ(sb.len, 0);
  sh_sink_free(&sa);
  sh_sink_free(&sb);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Errors.
 */

/* A write error found inside uv_write is reported through the callback,
 * later, from the loop: here the peer has reset the connection. */
static int in_uv_write;
static int error_cbs;
static int error_status;

static void error_write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK(!in_uv_write);
  error_cbs++;
  error_status = status;
}

TEST(write_error_reported_later) {
  uv_tcp_t a, b;
  uv_write_t req;
  uv_buf_t buf = uv_buf_init("data", 4);
  uv_loop_t loop;

  CHECK_OK(uv_loop_init(&loop));
  sh_tcp_pair(&loop, &a, &b);
  CHECK_OK(uv_tcp_close_reset(&b, close_cb));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(close_calls, 1);
  in_uv_write = 1;
  CHECK_OK(uv_write(&req, (uv_stream_t*) &a, &buf, 1, error_write_cb));
  in_uv_write = 0;
  CHECK_EQ(error_cbs, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(error_cbs, 1);
  CHECK(error_status == UV_ECONNRESET || error_status == UV_EPIPE);
  CHECK_EQ(a.write_queue_size, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ(error_cbs, 1);
  nl_test_close_loop(&loop);
}

/* Writing to a peer that has gone: write callbacks get UV_ECONNRESET or
 * UV_EPIPE and the process gets no SIGPIPE, over TCP and over a Unix
 * socket. SIGPIPE keeps its default action (death); the case runs in a
 * child so that a SIGPIPE shows as such. */
static int vanish_ok, vanish_errors, vanish_epipe;

static void vanish_write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK(!in_uv_write);
  if (status == 0) {
    /* Sent before the peer's reset came back. */
    CHECK_EQ(vanish_errors, 0);
    vanish_ok++;
    return;
  }
  CHECK(status == UV_ECONNRESET || status == UV_EPIPE);
  vanish_errors++;
  if (status == UV_EPIPE)
    vanish_epipe++;
}

static void write_until_errors(uv_loop_t* loop, uv_stream_t* s) {
  static uv_write_t reqs[64];
  uv_buf_t buf = uv_buf_init("data", 4);
  int i;

  vanish_ok = vanish_errors = vanish_epipe = 0;
  for (i = 0; i < 64 && vanish_errors < 3; i++) {
    in_uv_write = 1;
    CHECK_OK(uv_write(&reqs[i], s, &buf, 1, vanish_write_cb));
    in_uv_write = 0;
    usleep(1000);
    CHECK_EQ(uv_run(loop, UV_RUN_NOWAIT), 0);
    CHECK_EQ(vanish_ok + vanish_errors, i + 1);
  }
  CHECK_EQ(vanish_errors, 3);
  CHECK(vanish_epipe > 0);   /* the write that would raise SIGPIPE */
}

TEST(write_to_vanished_peer) {
  pid_t pid;
  int status;

  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    uv_tcp_t a, b;
    uv_pipe_t p, q;
    sigset_t set;
    uv_loop_t loop;

    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    CHECK_OK(sigprocmask(SIG_UNBLOCK, &set, NULL));
    CHECK_OK(uv_loop_init(&loop));
    sh_tcp_pair(&loop, &a, &b);
    uv_close((uv_handle_t*) &b, NULL);
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    write_until_errors(&loop, (uv_stream_t*) &a);

    sh_unix_pair(&loop, &p, &q, 0);
    uv_close((uv_handle_t*) &q, NULL);
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    write_until_errors(&loop, (uv_stream_t*) &p);
    nl_test_close_loop(&loop);
    _exit(0);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
    nl_test_fail(__FILE__, __LINE__, "the write raised SIGPIPE");
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

/* The readable and writable flags through a stream's life. */
TEST(readable_writable_transitions) {
  uv_tcp_t fresh, l, a, b, c, d;
  uv_pipe_t r, wp;
  uv_shutdown_t req;
  struct sh_sink sb, sd;
  struct sockaddr_in any = sh_ip4(0);
  int fds[2];
  uv_loop_t loop;

#define RW(h, rd, wr)                                                       \
  do {                                                                      \
    CHECK_EQ(uv_is_readable((uv_stream_t*) (h)), (rd));                     \
    CHECK_EQ(uv_is_writable((uv_stream_t*) (h)), (wr));                     \
  } while (0)

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tcp_init(&loop, &fresh));
  RW(&fresh, 0, 0);
  CHECK_OK(uv_tcp_init(&loop, &l));
  CHECK_OK(uv_tcp_bind(&l, (struct sockaddr*) &any, 0));
  CHECK_OK(uv_listen((uv_stream_t*) &l, 1, stray_connection_cb));
  RW(&l, 0, 0);

  sh_tcp_pair(&loop, &a, &b);
  RW(&a, 1, 1);
  RW(&b, 1, 1);
  sh_sink_start(&sb, (uv_stream_t*) &b);
  CHECK_OK(uv_shutdown(&req, (uv_stream_t*) &a, shutdown_cb));
  RW(&a, 1, 0);
  SH_RUN_UNTIL(&loop, sb.eof == 1 && shutdown_calls == 1);
  RW(&a, 1, 0);
  RW(&b, 1, 1);   /* libuv 1.44 leaves a stream readable after the end */

  /* A read error (a reset) takes both away. */
  sh_tcp_pair(&loop, &c, &d);
  sh_sink_start(&sd, (uv_stream_t*) &d);
  CHECK_OK(uv_tcp_close_reset(&c, NULL));
  SH_RUN_UNTIL(&loop, sd.error != 0);
  CHECK_EQ(sd.error, UV_ECONNRESET);
  RW(&d, 0, 0);

  uv_close((uv_handle_t*) &a, NULL);
  RW(&a, 0, 0);

  /* The ends of a pipe(2) go one way each. */
  CHECK_OK(pipe(fds));
  CHECK_OK(uv_pipe_init(&loop, &r, 0));
  CHECK_OK(uv_pipe_init(&loop, &wp, 0));
  CHECK_OK(uv_pipe_open(&r, fds[0]));
  CHECK_OK(uv_pipe_open(&wp, fds[1]));
  RW(&r, 1, 0);
  RW(&wp, 0, 1);
  sh_sink_free(&sb);
  sh_sink_free(&sd);
  nl_test_close_loop(&loop);
#undef RW
}
