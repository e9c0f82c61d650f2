/* write_queue: many small writes queued on one TCP connection, as a
 * server streaming short messages to a peer that reads more slowly than
 * it writes. The writer keeps 10,000 writes of 64 bytes in flight (each
 * callback queues the next), the reader, on the same loop over loopback,
 * reads 64 KiB at a time; once the socket is full, writes queue behind
 * one another. Prints the messages delivered per second and the CPU time
 * per million.
 *
 * Built twice from this source, against nodeloop and against Debian's
 * libuv (tools/bench.sh); prints "RESULT name value unit better" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define MSG 64
#define IN_FLIGHT 10000
#define TOTAL (4 * 1000 * 1000)

static uv_loop_t* loop;
static uv_tcp_t server, writer, reader;
static uv_connect_t connect_req;
static uv_write_t* reqs;
static char msg[MSG];
static unsigned long queued, written;
static unsigned long long received;
static char slab[65536];

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char* what, int err) {
  fprintf(stderr, "write_queue: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

static void write_cb(uv_write_t* req, int status);

static void queue_one(uv_write_t* req) {
  uv_buf_t b = uv_buf_init(msg, MSG);
  int err = uv_write(req, (uv_stream_t*) &writer, &b, 1, write_cb);
  if (err != 0)
    die("uv_write", err);
  queued++;
}

static void write_cb(uv_write_t* req, int status) {
  if (status != 0)
    die("write callback", status);
  written++;
  if (queued < TOTAL)
    queue_one(req);
}

static void alloc_cb(uv_handle_t* h, size_t size, uv_buf_t* buf) {
  (void) h;
  (void) size;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  (void) buf;
  if (n < 0)
    die("read", (int) n);
  received += (unsigned long long) n;
  if (received == (unsigned long long) TOTAL * MSG) {
    uv_close((uv_handle_t*) s, NULL);
    uv_close((uv_handle_t*) &writer, NULL);
    uv_close((uv_handle_t*) &server, NULL);
  }
}

static void connection_cb(uv_stream_t* l, int status) {
  int err;
  if (status != 0)
    die("listen", status);
  uv_tcp_init(loop, &reader);
  err = uv_accept(l, (uv_stream_t*) &reader);
  if (err != 0)
    die("uv_accept", err);
  err = uv_read_start((uv_stream_t*) &reader, alloc_cb, read_cb);
  if (err != 0)
    die("uv_read_start", err);
}

static void connect_cb(uv_connect_t* req, int status) {
  int i;
  (void) req;
  if (status != 0)
    die("connect", status);
  for (i = 0; i < IN_FLIGHT; i++)
    queue_one(&reqs[i]);
}

int main(void) {
  struct sockaddr_in addr;
  int namelen = sizeof(addr);
  double c0, c1;
  uint64_t t0, t1;
  int err;

  loop = uv_default_loop();
  reqs = calloc(IN_FLIGHT, sizeof(*reqs));
  if (reqs == NULL)
    return 1;
  memset(msg, 'm', sizeof(msg));
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &server);
  err = uv_tcp_bind(&server, (const struct sockaddr*) &addr, 0);
  if (err == 0)
    err = uv_listen((uv_stream_t*) &server, 16, connection_cb);
  if (err != 0)
    die("listen", err);
  uv_tcp_getsockname(&server, (struct sockaddr*) &addr, &namelen);
  uv_tcp_init(loop, &writer);
  err = uv_tcp_connect(&connect_req, &writer, (const struct sockaddr*) &addr,
                       connect_cb);
  if (err != 0)
    die("uv_tcp_connect", err);

  t0 = uv_hrtime();
  c0 = cpu_seconds();
  uv_run(loop, UV_RUN_DEFAULT);
  t1 = uv_hrtime();
  c1 = cpu_seconds();
  if (written != TOTAL || received != (unsigned long long) TOTAL * MSG) {
    fprintf(stderr, "write_queue: %lu written, %llu bytes received\n", written,
            received);
    return 1;
  }
  printf("RESULT write_queue_64b %.0f msg/s higher\n",
         TOTAL / ((double) (t1 - t0) / 1e9));
  printf("RESULT write_queue_64b_cpu %.3f s/M lower\n",
         (c1 - c0) / (TOTAL / 1e6));
  free(reqs);
  return 0;
}
