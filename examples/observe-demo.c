/* "Seeing the loop": a small program made to be looked at through
 * nodeloop's observation (docs/observability.md). Run it with
 *
 *   NODELOOP_TRACE=trace.json NODELOOP_BLOCKED_MS=50 NODELOOP_STATS=1 \
 *     build/examples/observe-demo
 *
 * and the trace shows, on the default loop's thread:
 *   - iterations and their phases: a 10 ms repeating timer (phase timers),
 *     an idle handle for the first iterations (idle), a check handle
 *     (check), the kernel wait inside poll;
 *   - a pool round trip: the program's own executable read with
 *     uv_fs_open / uv_fs_fstat / uv_fs_read / uv_fs_close, then summed
 *     with uv_queue_work, each item on a worker's track with a flow arrow
 *     from its submission to its completion callback (phase poll);
 *   - a callback that blocks the loop: blocking_timer_cb busy-waits
 *     150 ms, which the watchdog (NODELOOP_BLOCKED_MS=50) reports.
 *
 * It uses uv.h only, so it builds against Debian's libuv as well (where
 * the variables do nothing). The callbacks are not static, and the
 * program is linked with -rdynamic, so traces and reports name them.
 */
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE (256 * 1024)
#define BLOCK_MS 150
#define TICKS_MAX 40

/* Named, exported callbacks (their symbols show in traces). */
void tick_timer_cb(uv_timer_t* t);
void blocking_timer_cb(uv_timer_t* t);
void warmup_idle_cb(uv_idle_t* h);
void after_poll_check_cb(uv_check_t* h);
void file_opened_cb(uv_fs_t* req);
void file_stat_cb(uv_fs_t* req);
void file_read_cb(uv_fs_t* req);
void file_closed_cb(uv_fs_t* req);
void checksum_work(uv_work_t* req);
void checksum_done_cb(uv_work_t* req, int status);
void handle_closed_cb(uv_handle_t* h);

static uv_loop_t* loop;
static uv_timer_t tick, blocker;
static uv_idle_t warmup;
static uv_check_t checker;
static uv_fs_t fs_req;
static uv_work_t work_req;
static uv_file file = -1;
static char* data;
static size_t data_len;
static unsigned long checksum;
static int ticks, idles, checks;
static uint64_t blocked_ns;

static void fail(const char* what, int err) {
  fprintf(stderr, "observe-demo: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

void tick_timer_cb(uv_timer_t* t) {
  if (++ticks == TICKS_MAX)
    uv_timer_stop(t);   /* a safety net; the blocking timer ends the run */
}

void warmup_idle_cb(uv_idle_t* h) {
  /* An active idle handle makes the poll phase not wait: a few quick
   * iterations at the start. */
  if (++idles == 3)
    uv_idle_stop(h);
}

void after_poll_check_cb(uv_check_t* h) {
  checks++;
}

/* The pool round trip: open, fstat, read, close, then a checksum job. */
void file_opened_cb(uv_fs_t* req) {
  int r = (int) req->result;

  uv_fs_req_cleanup(req);
  if (r < 0)
    fail("open", r);
  file = r;
  r = uv_fs_fstat(loop, req, file, file_stat_cb);
  if (r < 0)
    fail("fstat", r);
}

void file_stat_cb(uv_fs_t* req) {
  uint64_t size = req->statbuf.st_size;
  uv_buf_t buf;
  int r = (int) req->result;

  uv_fs_req_cleanup(req);
  if (r < 0)
    fail("fstat", r);
  data_len = size < READ_SIZE ? (size_t) size : READ_SIZE;
  data = malloc(data_len ? data_len : 1);
  if (data == NULL)
    fail("malloc", UV_ENOMEM);
  buf = uv_buf_init(data, (unsigned int) data_len);
  r = uv_fs_read(loop, req, file, &buf, 1, 0, file_read_cb);
  if (r < 0)
    fail("read", r);
}

void file_read_cb(uv_fs_t* req) {
  int r = (int) req->result;

  uv_fs_req_cleanup(req);
  if (r < 0)
    fail("read", r);
  data_len = (size_t) r;
  r = uv_fs_close(loop, req, file, file_closed_cb);
  if (r < 0)
    fail("close", r);
}

void file_closed_cb(uv_fs_t* req) {
  int r;

  uv_fs_req_cleanup(req);
  file = -1;
  r = uv_queue_work(loop, &work_req, checksum_work, checksum_done_cb);
  if (r < 0)
    fail("uv_queue_work", r);
}

/* On a pool thread. */
void checksum_work(uv_work_t* req) {
  unsigned long s = 0;
  size_t i;

  for (i = 0; i < data_len; i++)
    s = s * 31 + (unsigned char) data[i];
  checksum = s;
}

void checksum_done_cb(uv_work_t* req, int status) {
  if (status < 0)
    fail("checksum", status);
  printf("pool:  read %zu bytes of the executable on the pool, checksum %08lx\n",
         data_len, checksum & 0xffffffffUL);
  free(data);
  data = NULL;
  /* Now something that should never run on a loop thread. */
  uv_timer_start(&blocker, blocking_timer_cb, 50, 0);
}

void blocking_timer_cb(uv_timer_t* t) {
  uint64_t start = uv_hrtime();

  while (uv_hrtime() - start < (uint64_t) BLOCK_MS * 1000000u)
    ;   /* busy: no I/O, no timers, nothing else runs meanwhile */
  blocked_ns = uv_hrtime() - start;
  uv_timer_stop(&tick);
  uv_check_stop(&checker);
  uv_close((uv_handle_t*) &tick, handle_closed_cb);
  uv_close((uv_handle_t*) &blocker, handle_closed_cb);
  uv_close((uv_handle_t*) &warmup, handle_closed_cb);
  uv_close((uv_handle_t*) &checker, handle_closed_cb);
}

void handle_closed_cb(uv_handle_t* h) {
}

int main(int argc, char** argv) {
  char exe[4096];
  size_t exe_len = sizeof(exe);
  int r;

  loop = uv_default_loop();
  r = uv_exepath(exe, &exe_len);
  if (r < 0)
    fail("uv_exepath", r);

  uv_timer_init(loop, &tick);
  uv_timer_init(loop, &blocker);
  uv_idle_init(loop, &warmup);
  uv_check_init(loop, &checker);
  uv_timer_start(&tick, tick_timer_cb, 10, 10);
  uv_idle_start(&warmup, warmup_idle_cb);
  uv_check_start(&checker, after_poll_check_cb);
  r = uv_fs_open(loop, &fs_req, exe, UV_FS_O_RDONLY, 0, file_opened_cb);
  if (r < 0)
    fail("open", r);

  uv_run(loop, UV_RUN_DEFAULT);

  printf("loop:  %d timer ticks, %d idle and %d check callbacks\n", ticks,
         idles, checks);
  printf("block: blocking_timer_cb held the loop thread for %llu ms\n",
         (unsigned long long) (blocked_ns / 1000000u));
  r = uv_loop_close(loop);
  if (r != 0)
    fail("uv_loop_close", r);
  return 0;
}
