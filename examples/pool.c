/* "The worker pool does the heavy lifting; the loop only runs the
 * callback."
 *
 * This program reads a file in chunks with asynchronous uv_fs_read calls
 * (the reads run on pool threads) and checksums every chunk with
 * uv_queue_work (on pool threads too), while a 5 ms timer and a
 * setImmediate-style check handle keep running on the loop. Each line says
 * which thread ran it, so the output shows the loop thread staying free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nodeloop.h"

#define CHUNK (1 << 20)
#define CHUNKS 24

static uv_loop_t* loop;
static uv_thread_t loop_thread;
static uv_mutex_t names_mutex;
static uv_thread_t pool_threads[64];
static int npool_threads;

static uv_fs_t open_req, read_req, close_req, write_req, unlink_req;
static uv_timer_t ticker;
static uv_check_t immediate;
static char path[256];
static char* buffer;
static int64_t offset;
static int chunk;
static int ticks;
static int immediates;
static int pool_jobs_seen_on_loop;

struct sum_job {
  uv_work_t req;
  int chunk;
  char* data;
  size_t len;
  unsigned long sum;
};

/* "loop" for the loop's thread, "pool-N" for the Nth pool thread seen. */
static const char* thread_name(char* buf, size_t size) {
  uv_thread_t self = uv_thread_self();
  int i;

  if (uv_thread_equal(&self, &loop_thread))
    return "loop  ";
  uv_mutex_lock(&names_mutex);
  for (i = 0; i < npool_threads; i++)
    if (uv_thread_equal(&self, &pool_threads[i]))
      break;
  if (i == npool_threads && npool_threads < 64)
    pool_threads[npool_threads++] = self;
  uv_mutex_unlock(&names_mutex);
  snprintf(buf, size, "pool-%d", i + 1);
  return buf;
}

static void say(const char* fmt, const char* what) {
  char name[16];
  printf("[%s] ", thread_name(name, sizeof(name)));
  printf(fmt, what);
  printf("\n");
}

static void sum_on_pool(uv_work_t* req) {
  struct sum_job* job = req->data;
  char name[16];
  size_t i;

  int pass;

  /* A few passes make the job take milliseconds, like real work. */
  for (pass = 0; pass < 8; pass++)
    for (i = 0; i < job->len; i++)
      job->sum = job->sum * 31 + (unsigned char) job->data[i] + pass;
  printf("[%s] checksummed chunk %d (%zu bytes)\n",
         thread_name(name, sizeof(name)), job->chunk, job->len);
}

static void sum_done(uv_work_t* req, int status) {
  struct sum_job* job = req->data;
  char name[16];

  printf("[%s] checksum of chunk %d is %08lx (status %d)\n",
         thread_name(name, sizeof(name)), job->chunk, job->sum & 0xffffffff,
         status);
  pool_jobs_seen_on_loop++;
  free(job->data);
  free(job);
}

static void on_read(uv_fs_t* req);

static void read_next(void) {
  uv_buf_t buf = uv_buf_init(buffer, CHUNK);
  uv_fs_read(loop, &read_req, (uv_file) open_req.result, &buf, 1, offset,
             on_read);
}

static void on_close(uv_fs_t* req) {
  uv_fs_req_cleanup(req);
  say("%s", "file closed; stopping the timer and the immediates");
  uv_timer_stop(&ticker);
  uv_check_stop(&immediate);
  uv_fs_unlink(loop, &unlink_req, path, NULL);
  uv_fs_req_cleanup(&unlink_req);
}

static void on_read(uv_fs_t* req) {
  struct sum_job* job;
  char what[64];
  ssize_t n = req->result;

  uv_fs_req_cleanup(req);
  if (n <= 0) {
    uv_fs_close(loop, &close_req, (uv_file) open_req.result, on_close);
    return;
  }
  snprintf(what, sizeof(what), "read callback: chunk %d, %zd bytes", chunk,
           n);
  say("%s", what);

  job = calloc(1, sizeof(*job));
  job->chunk = chunk++;
  job->data = malloc((size_t) n);
  memcpy(job->data, buffer, (size_t) n);
  job->len = (size_t) n;
  job->req.data = job;
  uv_queue_work(loop, &job->req, sum_on_pool, sum_done);

  offset += n;
  read_next();
}

static void on_open(uv_fs_t* req) {
  if (req->result < 0) {
    fprintf(stderr, "open: %s\n", uv_strerror((int) req->result));
    exit(1);
  }
  uv_fs_req_cleanup(req);
  say("%s", "file opened; reading it chunk by chunk through the pool");
  read_next();
}

static void on_tick(uv_timer_t* t) {
  char what[64];
  (void) t;
  ticks++;
  snprintf(what, sizeof(what), "timer tick %d (%d immediates so far)", ticks,
           immediates);
  say("%s", what);
}

static void on_immediate(uv_check_t* c) {
  (void) c;
  immediates++;
}

/* Writes the file to read, synchronously, before the loop starts. */
static void make_file(void) {
  uv_buf_t buf;
  uv_fs_t req;
  int fd;
  int i;

  snprintf(path, sizeof(path), "/tmp/nodeloop-pool-demo-%d",
           (int) uv_os_getpid());
  fd = uv_fs_open(NULL, &req, path, UV_FS_O_CREAT | UV_FS_O_TRUNC |
                  UV_FS_O_WRONLY, 0600, NULL);
  uv_fs_req_cleanup(&req);
  if (fd < 0) {
    fprintf(stderr, "cannot create %s: %s\n", path, uv_strerror(fd));
    exit(1);
  }
  buf = uv_buf_init(buffer, CHUNK);
  for (i = 0; i < CHUNKS; i++) {
    int j;
    for (j = 0; j < CHUNK; j++)
      buffer[j] = (char) (j * 7 + i);
    uv_fs_write(NULL, &write_req, fd, &buf, 1, -1, NULL);
    uv_fs_req_cleanup(&write_req);
  }
  uv_fs_close(NULL, &req, fd, NULL);
  uv_fs_req_cleanup(&req);
}

int main(void) {
  uint64_t start;

  loop = uv_default_loop();
  loop_thread = uv_thread_self();
  uv_mutex_init(&names_mutex);
  buffer = malloc(CHUNK);
  make_file();

  printf("reading %d MiB in %d KiB chunks; a 5 ms timer and an immediate "
         "keep running on the loop meanwhile\n\n", CHUNKS * CHUNK >> 20,
         CHUNK >> 10);
  uv_timer_init(loop, &ticker);
  uv_timer_start(&ticker, on_tick, 5, 5);
  uv_check_init(loop, &immediate);
  uv_check_start(&immediate, on_immediate);
  uv_fs_open(loop, &open_req, path, UV_FS_O_RDONLY, 0, on_open);

  start = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);

  printf("\nin %.1f ms the loop thread ran %d timer ticks, %d immediates "
         "and %d checksum callbacks;\n%d pool threads did the reading and "
         "checksumming.\n", (uv_hrtime() - start) / 1e6, ticks, immediates,
         pool_jobs_seen_on_loop, npool_threads);

  uv_close((uv_handle_t*) &ticker, NULL);
  uv_close((uv_handle_t*) &immediate, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  uv_mutex_destroy(&names_mutex);
  free(buffer);
  return pool_jobs_seen_on_loop == CHUNKS ? 0 : 1;
}
