/* fs_copy: copies a large file through the worker pool with asynchronous
 * uv_fs_read and uv_fs_write at explicit offsets, 256 KiB chunks, a fixed
 * number of chunks in flight, and prints the rate. Only the public uv.h
 * API, so the same source builds against nodeloop and against libuv.
 *
 *   fs_copy [MiB]
 *
 * Default 1024 MiB. The source file is written and read once before the
 * copy (so it is in the page cache), in a new directory under $TMPDIR or
 * /tmp. Then it is copied once untimed and three times timed, the median
 * reported (see main for why); creating the source, checking the copy's
 * size and bytes afterwards and removing both files are not timed.
 * Nothing is synced: both files are unlinked well before the kernel's
 * 30 s dirty-page expiry, so normally no byte of them reaches the disk and
 * the figure is a page-cache copy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define CHUNK (256 * 1024)
#define IN_FLIGHT 4
#define PASSES 3

/* One chunk in flight: first read whole into buf, then written whole at
 * the same offset. Short reads and writes are continued, not errors. */
struct slot {
  uv_fs_t req;
  char* buf;
  int64_t off;
  size_t len;
  size_t done;
  int writing;
};

static uv_loop_t* loop;
static uv_file src_fd;
static uv_file dst_fd;
static int64_t file_size;
static int64_t next_off;
static int64_t bytes_written;
static char dir[4096];
static char src[4200];
static char dst[4200];

/* Leaves no gigabyte behind in the temporary directory: removes what it
 * can of the files, whatever failed; errors of this last attempt are
 * ignored, the first error has been reported. */
static void die(const char* what, long long err) {
  uv_fs_t req;

  fprintf(stderr, "fs_copy: %s: %s\n", what,
          err < 0 ? uv_strerror((int) err) : "unexpected result");
  if (src[0] != '\0') {
    uv_fs_unlink(loop, &req, src, NULL);
    uv_fs_req_cleanup(&req);
  }
  if (dst[0] != '\0') {
    uv_fs_unlink(loop, &req, dst, NULL);
    uv_fs_req_cleanup(&req);
  }
  if (dir[0] != '\0') {
    uv_fs_rmdir(loop, &req, dir, NULL);
    uv_fs_req_cleanup(&req);
  }
  exit(1);
}

static void check(const char* what, int r) {
  if (r < 0)
    die(what, r);
}

static size_t chunk_len(int64_t off) {
  return file_size - off < CHUNK ? (size_t) (file_size - off) : CHUNK;
}

static void on_io(uv_fs_t* req);

static void submit(struct slot* s) {
  uv_buf_t buf = uv_buf_init(s->buf + s->done,
                             (unsigned int) (s->len - s->done));
  int64_t at = s->off + (int64_t) s->done;

  if (s->writing)
    check("write", uv_fs_write(loop, &s->req, dst_fd, &buf, 1, at, on_io));
  else
    check("read", uv_fs_read(loop, &s->req, src_fd, &buf, 1, at, on_io));
}

static void start_next(struct slot* s) {
  if (next_off >= file_size)
    return;
  s->off = next_off;
  s->len = chunk_len(next_off);
  s->done = 0;
  s->writing = 0;
  next_off += (int64_t) s->len;
  submit(s);
}

static void on_io(uv_fs_t* req) {
  struct slot* s = req->data;
  ssize_t n = req->result;

  uv_fs_req_cleanup(req);
  if (n < 0)
    die(s->writing ? "write" : "read", n);
  if (n == 0)
    die(s->writing ? "write: wrote nothing" : "read: early end of file", 0);
  s->done += (size_t) n;
  if (s->done < s->len) {
    submit(s);
    return;
  }
  if (!s->writing) {
    s->writing = 1;
    s->done = 0;
    submit(s);
    return;
  }
  bytes_written += (int64_t) s->len;
  start_next(s);
}

/* The synchronous form (no callback), for the untimed work around the
 * copy; returns the result after releasing what the request holds. */
static ssize_t sync_result(const char* what, int r, uv_fs_t* req) {
  ssize_t result = req->result;

  uv_fs_req_cleanup(req);
  if (r < 0)
    die(what, r);
  if (result < 0)
    die(what, result);
  return result;
}

static uv_file open_file(const char* path, int flags) {
  uv_fs_t req;
  int r = uv_fs_open(loop, &req, path, flags, 0644, NULL);

  return (uv_file) sync_result("open", r, &req);
}

static void close_file(uv_file fd) {
  uv_fs_t req;

  sync_result("close", uv_fs_close(loop, &req, fd, NULL), &req);
}

static int64_t file_length(uv_file fd) {
  uv_fs_t req;
  int r = uv_fs_fstat(loop, &req, fd, NULL);
  int64_t size = (int64_t) req.statbuf.st_size;

  sync_result("fstat", r, &req);
  return size;
}

/* The byte at `pos` of the chunk that starts at `off`: differs from chunk
 * to chunk, so a chunk written at the wrong offset is caught. */
static char pattern(int64_t off, size_t pos) {
  return (char) ((off / CHUNK + (int64_t) pos) % 251);
}

static void read_full(uv_file fd, char* buf, size_t len, int64_t off) {
  uv_fs_t req;
  uv_buf_t b;
  size_t got;
  ssize_t n;

  for (got = 0; got < len; got += (size_t) n) {
    b = uv_buf_init(buf + got, (unsigned int) (len - got));
    n = sync_result("read", uv_fs_read(loop, &req, fd, &b, 1,
                                       off + (int64_t) got, NULL), &req);
    if (n == 0)
      die("read: early end of file", 0);
  }
}

/* Writes the source and reads it back once, so the copy reads from the
 * page cache. */
static void fill_source(char* buf) {
  uv_fs_t req;
  uv_buf_t b;
  int64_t off;
  size_t len;
  size_t i;
  ssize_t n;

  for (off = 0; off < file_size; off += (int64_t) len) {
    len = chunk_len(off);
    for (i = 0; i < len; i++)
      buf[i] = pattern(off, i);
    b = uv_buf_init(buf, (unsigned int) len);
    n = sync_result("write", uv_fs_write(loop, &req, src_fd, &b, 1, off,
                                         NULL), &req);
    if ((size_t) n != len)
      die("write: short write while creating the source", 0);
  }
  for (off = 0; off < file_size; off += (int64_t) len) {
    len = chunk_len(off);
    read_full(src_fd, buf, len, off);
  }
}

/* After the timed copy: every byte of the destination where it belongs. */
static void verify_copy(char* buf) {
  int64_t off;
  size_t len;
  size_t i;

  for (off = 0; off < file_size; off += (int64_t) len) {
    len = chunk_len(off);
    read_full(dst_fd, buf, len, off);
    for (i = 0; i < len; i++)
      if (buf[i] != pattern(off, i))
        die("the copy differs from the source", 0);
  }
}

/* Copies the whole file once, from an empty destination; returns the
 * seconds it took. */
static double copy_pass(struct slot* slots) {
  uv_fs_t req;
  uint64_t t0;
  int i;

  sync_result("ftruncate", uv_fs_ftruncate(loop, &req, dst_fd, 0, NULL),
              &req);
  next_off = 0;
  bytes_written = 0;
  t0 = uv_hrtime();
  for (i = 0; i < IN_FLIGHT; i++)
    start_next(&slots[i]);
  if (uv_run(loop, UV_RUN_DEFAULT) != 0)
    die("uv_run: the loop is still alive", 0);
  return (double) (uv_hrtime() - t0) / 1e9;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*) a;
  double y = *(const double*) b;
  return (x > y) - (x < y);
}

static void remove_path(const char* path, int is_dir) {
  uv_fs_t req;
  int r;

  if (is_dir)
    r = uv_fs_rmdir(loop, &req, path, NULL);
  else
    r = uv_fs_unlink(loop, &req, path, NULL);
  sync_result(is_dir ? "rmdir" : "unlink", r, &req);
}

int main(int argc, char** argv) {
  struct slot slots[IN_FLIGHT];
  char tpl[4096];
  char* bufs;
  const char* tmp = getenv("TMPDIR");
  long mib = 1024;
  uv_fs_t req;
  double secs[PASSES];
  double median;
  double warm;
  int pass;
  int i;

  if (argc > 1)
    mib = strtol(argv[1], NULL, 10);
  if (mib < 1 || mib > 1024 * 1024) {
    fprintf(stderr, "usage: %s [MiB]\n", argv[0]);
    return 2;
  }
  file_size = (int64_t) mib * 1024 * 1024;
  loop = uv_default_loop();
  if (loop == NULL)
    die("uv_default_loop", 0);

  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  snprintf(tpl, sizeof(tpl), "%s/fs_copy-XXXXXX", tmp);
  check("mkdtemp", uv_fs_mkdtemp(loop, &req, tpl, NULL));
  /* req.path is the filled-in template; copy it before the cleanup. */
  snprintf(dir, sizeof(dir), "%s", req.path);
  uv_fs_req_cleanup(&req);
  snprintf(src, sizeof(src), "%s/src", dir);
  snprintf(dst, sizeof(dst), "%s/dst", dir);

  bufs = malloc((size_t) IN_FLIGHT * CHUNK);
  if (bufs == NULL)
    die("out of memory", 0);
  src_fd = open_file(src, UV_FS_O_RDWR | UV_FS_O_CREAT | UV_FS_O_TRUNC);
  fill_source(bufs);
  /* Read and write: verify_copy reads it back. */
  dst_fd = open_file(dst, UV_FS_O_RDWR | UV_FS_O_CREAT | UV_FS_O_TRUNC);

  for (i = 0; i < IN_FLIGHT; i++) {
    memset(&slots[i], 0, sizeof(slots[i]));
    slots[i].buf = bufs + (size_t) i * CHUNK;
    slots[i].req.data = &slots[i];
  }
  /* One untimed pass, then the median of the timed ones: on this VM, pages
   * freed some time ago have been handed back to the host, and the first
   * gigabyte of page cache a process takes after a pause can cost several
   * times the system time, whichever library runs. Each pass truncates the
   * copy first, so it writes a new file into pages the previous pass just
   * freed. */
  warm = copy_pass(slots);
  for (pass = 0; pass < PASSES; pass++)
    secs[pass] = copy_pass(slots);
  qsort(secs, PASSES, sizeof(secs[0]), cmp_double);

  if (bytes_written != file_size || file_length(dst_fd) != file_size ||
      file_length(src_fd) != file_size)
    die("the copy's size differs from the source's", 0);
  verify_copy(bufs);
  close_file(src_fd);
  close_file(dst_fd);
  remove_path(src, 0);
  src[0] = '\0';
  remove_path(dst, 0);
  dst[0] = '\0';
  remove_path(dir, 1);
  dir[0] = '\0';
  free(bufs);
  check("uv_loop_close", uv_loop_close(loop));

  median = secs[PASSES / 2];
  printf("fs_copy: %ld MiB in %.3f s (median of %d passes, %.3f-%.3f s; "
         "untimed first pass %.3f s), %d chunks of %d KiB in flight\n", mib,
         median, PASSES, secs[0], secs[PASSES - 1], warm, IN_FLIGHT,
         CHUNK / 1024);
  /* Another size gets another name, so its figures are not mixed with
   * the default's. */
  if (mib == 1024)
    printf("RESULT fs_copy_1gib %.1f MiB/s higher\n", (double) mib / median);
  else
    printf("RESULT fs_copy_%ldmib %.1f MiB/s higher\n", mib,
           (double) mib / median);
  return 0;
}
