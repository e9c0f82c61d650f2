/* fs_read_files: reads many small files through the worker pool, each
 * with an asynchronous open, read and close, keeping a fixed number of
 * files in flight, and prints the rate. Only the public uv.h API, so the
 * same source builds against nodeloop and against libuv.
 *
 *   fs_read_files [files [in-flight [bytes-per-file]]]
 *
 * Defaults: 10000 files of 1024 bytes, 64 in flight. Creating and
 * removing the files (in a new directory under $TMPDIR or /tmp) is not
 * timed; only the read phase is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

struct slot {
  uv_fs_t req;
  uv_file fd;
  int index;
  uv_buf_t buf;
};

static uv_loop_t* loop;
static char dir[4096];
static int nfiles = 10000;
static int in_flight = 64;
static int file_size = 1024;
static int next_file;
static int files_done;
static long long bytes_read;

static void die(const char* what, long long err) {
  fprintf(stderr, "fs_read_files: %s: %s\n", what,
          err < 0 ? uv_strerror((int) err) : "unexpected result");
  exit(1);
}

static void file_path(char* out, size_t cap, int i) {
  snprintf(out, cap, "%s/f%05d", dir, i);
}

/* The byte at position `pos` of file `i`, so reads can be checked. */
static char pattern(int i, int pos) {
  return (char) ('a' + (i + pos) % 26);
}

static void start_next(struct slot* s);

static void on_close(uv_fs_t* req) {
  struct slot* s = req->data;

  if (req->result != 0)
    die("close", req->result);
  uv_fs_req_cleanup(req);
  files_done++;
  start_next(s);
}

static void on_read(uv_fs_t* req) {
  struct slot* s = req->data;
  int r;

  if (req->result != file_size)
    die("read", req->result);
  if (s->buf.base[0] != pattern(s->index, 0) ||
      s->buf.base[file_size - 1] != pattern(s->index, file_size - 1))
    die("read: wrong data", 0);
  bytes_read += req->result;
  uv_fs_req_cleanup(req);
  r = uv_fs_close(loop, &s->req, s->fd, on_close);
  if (r != 0)
    die("close", r);
}

static void on_open(uv_fs_t* req) {
  struct slot* s = req->data;
  int r;

  if (req->result < 0)
    die("open", req->result);
  s->fd = (uv_file) req->result;
  uv_fs_req_cleanup(req);
  r = uv_fs_read(loop, &s->req, s->fd, &s->buf, 1, 0, on_read);
  if (r != 0)
    die("read", r);
}

static void start_next(struct slot* s) {
  char path[4200];
  int r;

  if (next_file >= nfiles)
    return;
  s->index = next_file++;
  s->req.data = s;
  file_path(path, sizeof(path), s->index);
  r = uv_fs_open(loop, &s->req, path, UV_FS_O_RDONLY, 0, on_open);
  if (r != 0)
    die("open", r);
}

static void create_files(void) {
  char tpl[4096];
  char path[4200];
  char* data;
  uv_fs_t req;
  uv_buf_t buf;
  const char* tmp = getenv("TMPDIR");
  int fd;
  int i;
  int j;

  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  snprintf(tpl, sizeof(tpl), "%s/fs_read_files-XXXXXX", tmp);
  if (uv_fs_mkdtemp(NULL, &req, tpl, NULL) != 0)
    die("mkdtemp", req.result);
  snprintf(dir, sizeof(dir), "%s", req.path);
  uv_fs_req_cleanup(&req);

  data = malloc((size_t) file_size);
  if (data == NULL)
    die("out of memory", 0);
  for (i = 0; i < nfiles; i++) {
    for (j = 0; j < file_size; j++)
      data[j] = pattern(i, j);
    file_path(path, sizeof(path), i);
    fd = uv_fs_open(NULL, &req, path,
                    UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, 0644,
                    NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0)
      die("create", fd);
    buf = uv_buf_init(data, (unsigned int) file_size);
    if (uv_fs_write(NULL, &req, fd, &buf, 1, 0, NULL) != file_size)
      die("write", req.result);
    uv_fs_req_cleanup(&req);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
  }
  free(data);
}

static void remove_files(void) {
  char path[4200];
  uv_fs_t req;
  int i;

  for (i = 0; i < nfiles; i++) {
    file_path(path, sizeof(path), i);
    uv_fs_unlink(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
  }
  uv_fs_rmdir(NULL, &req, dir, NULL);
  uv_fs_req_cleanup(&req);
}

#define PASSES 7

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*) a;
  double y = *(const double*) b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  double rates[PASSES];
  struct slot* slots;
  char* bufs;
  uint64_t t0;
  uint64_t t1;
  double secs;
  int pass;
  int i;

  if (argc > 1)
    nfiles = atoi(argv[1]);
  if (argc > 2)
    in_flight = atoi(argv[2]);
  if (argc > 3)
    file_size = atoi(argv[3]);
  if (nfiles < 1 || in_flight < 1 || file_size < 1) {
    fprintf(stderr, "usage: %s [files [in-flight [bytes-per-file]]]\n",
            argv[0]);
    return 2;
  }

  loop = uv_default_loop();
  create_files();

  slots = calloc((size_t) in_flight, sizeof(*slots));
  bufs = malloc((size_t) in_flight * (size_t) file_size);
  if (slots == NULL || bufs == NULL)
    die("out of memory", 0);
  for (i = 0; i < in_flight; i++)
    slots[i].buf = uv_buf_init(bufs + (size_t) i * (size_t) file_size,
                               (unsigned int) file_size);

  /* Several passes over the same files; the median pass is reported, so
   * one disturbed pass does not decide the result. */
  for (pass = 0; pass < PASSES; pass++) {
    next_file = 0;
    files_done = 0;
    bytes_read = 0;
    t0 = uv_hrtime();
    for (i = 0; i < in_flight; i++)
      start_next(&slots[i]);
    if (uv_run(loop, UV_RUN_DEFAULT) != 0)
      die("uv_run", 0);
    t1 = uv_hrtime();
    if (files_done != nfiles ||
        bytes_read != (long long) nfiles * file_size)
      die("not every file was read", 0);
    rates[pass] = nfiles / ((double) (t1 - t0) / 1e9);
  }
  qsort(rates, PASSES, sizeof(rates[0]), cmp_double);
  secs = nfiles / rates[PASSES / 2];
  printf("fs_read_files: %d files in %.3f s (%.0f files/s), median of %d "
         "passes\n", nfiles, secs, rates[PASSES / 2], PASSES);
  printf("RESULT fs_read_files %.0f files/s higher\n", rates[PASSES / 2]);

  remove_files();
  free(slots);
  free(bufs);
  uv_loop_close(loop);
  return 0;
}
