/* floor_read_files: the kernel's floor for bench/fs_read_files.c, with no
 * event library and no worker pool: the same files, read by one thread
 * with open, pread and close in a row; then the same split between as
 * many threads as the machine has CPUs (every thread takes every n-th
 * file), the most the kernel does on this machine with nothing to hand
 * over between threads; then split by operation, as nodeloop splits it
 * (opens on the kernel's workers, reads and closes on the loop thread:
 * see docs/design.md): one thread opens and hands each descriptor to
 * another, which reads and closes it. The hand-over is the cheapest
 * there is, a ring in shared memory with both threads spinning, no
 * system call and no sleep, so the figure is what the kernel allows for
 * that shape on an idle machine, not what a library can reach.
 *
 *   floor_read_files [files [bytes-per-file]]
 *
 * Defaults as in fs_read_files: 10000 files of 1024 bytes in a new
 * directory under $TMPDIR or /tmp, the same names and contents. Creating
 * and removing them is not timed, nor is one warm pass after creation
 * (the files are then in the page cache); then, as fs_read_files does,
 * several timed passes of which the median is reported.
 *
 * fs_read_files reports "RESULT fs_read_files <rate> files/s higher",
 * the rate of whole files (open, read, close) per second; this prints the
 * same unit so the two lines can be set side by side. Uses no uv.h:
 * tools/bench.sh builds it once and prints it among the kernel floors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define PASSES 7

static char dir[4096];
static int nfiles = 10000;
static int file_size = 1024;

static void fail(const char* what) {
  fprintf(stderr, "floor_read_files: %s\n", what);
  exit(1);
}

static void file_path(char* out, size_t cap, int i) {
  snprintf(out, cap, "%s/f%05d", dir, i);
}

/* The same contents as fs_read_files writes, so the same check applies. */
static char pattern(int i, int pos) {
  return (char) ('a' + (i + pos) % 26);
}

static void create_files(void) {
  char path[4200];
  char* data;
  const char* tmp = getenv("TMPDIR");
  ssize_t n;
  int fd;
  int i;
  int j;

  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  snprintf(dir, sizeof(dir), "%s/floor_read_files-XXXXXX", tmp);
  if (mkdtemp(dir) == NULL)
    die("mkdtemp");

  data = malloc((size_t) file_size);
  if (data == NULL)
    fail("out of memory");
  for (i = 0; i < nfiles; i++) {
    for (j = 0; j < file_size; j++)
      data[j] = pattern(i, j);
    file_path(path, sizeof(path), i);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      die("create");
    n = pwrite(fd, data, (size_t) file_size, 0);
    if (n < 0)
      die("write");
    if (n != file_size)
      fail("short write");
    if (close(fd) != 0)
      die("close");
  }
  free(data);
}

static void remove_files(void) {
  char path[4200];
  int i;

  for (i = 0; i < nfiles; i++) {
    file_path(path, sizeof(path), i);
    if (unlink(path) != 0)
      die("unlink");
  }
  if (rmdir(dir) != 0)
    die("rmdir");
}

/* Reads file i from fd, checks it as fs_read_files does (first and last
 * byte) and closes it. */
static void read_and_close(int fd, int i, char* buf) {
  ssize_t n;

  n = pread(fd, buf, (size_t) file_size, 0);
  if (n < 0)
    die("read");
  if (n != file_size)
    fail("short read");
  if (buf[0] != pattern(i, 0) ||
      buf[file_size - 1] != pattern(i, file_size - 1))
    fail("read: wrong data");
  if (close(fd) != 0)
    die("close");
}

/* One pass over every step-th file from first. The path is formatted
 * inside the pass because fs_read_files formats it per file too. */
static void read_some(char* buf, int first, int step) {
  char path[4200];
  int fd;
  int i;

  for (i = first; i < nfiles; i += step) {
    file_path(path, sizeof(path), i);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      die("open");
    read_and_close(fd, i, buf);
  }
}

static void read_all(char* buf) {
  read_some(buf, 0, 1);
}

struct share {
  pthread_t thread;
  int first;
  int step;
  char* buf;
};

static void* share_main(void* arg) {
  struct share* sh = arg;

  read_some(sh->buf, sh->first, sh->step);
  return NULL;
}

/* One pass split between n threads; thread creation is timed too (tens
 * of microseconds against a pass of milliseconds). */
static void read_shared(struct share* sh, int n) {
  int i;

  for (i = 0; i < n; i++) {
    sh[i].first = i;
    sh[i].step = n;
    if (pthread_create(&sh[i].thread, NULL, share_main, &sh[i]) != 0)
      fail("pthread_create");
  }
  for (i = 0; i < n; i++)
    pthread_join(sh[i].thread, NULL);
}

/* Split by operation: the opener fills `hand`, the reader (the calling
 * thread, like a loop) empties it. At most HAND_SLOTS descriptors wait
 * in it (and one more is being read), as fs_read_files keeps 64 files in
 * flight. */
#define HAND_SLOTS 64

struct hand {
  int fd[HAND_SLOTS];
  int file[HAND_SLOTS];
  atomic_uint head;   /* taken by the reader */
  atomic_uint tail;   /* filled by the opener */
};

static void* opener_main(void* arg) {
  struct hand* h = arg;
  char path[4200];
  unsigned int t;
  int fd;
  int i;

  for (i = 0; i < nfiles; i++) {
    t = atomic_load_explicit(&h->tail, memory_order_relaxed);
    while (t - atomic_load_explicit(&h->head, memory_order_acquire) >=
           HAND_SLOTS)
      ;   /* full: spin, the reader is a few microseconds behind */
    file_path(path, sizeof(path), i);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      die("open");
    h->fd[t % HAND_SLOTS] = fd;
    h->file[t % HAND_SLOTS] = i;
    atomic_store_explicit(&h->tail, t + 1, memory_order_release);
  }
  return NULL;
}

static void read_split(struct hand* h, char* buf) {
  pthread_t opener;
  unsigned int head;
  int done;
  int fd;
  int i;

  atomic_store(&h->head, 0);
  atomic_store(&h->tail, 0);
  if (pthread_create(&opener, NULL, opener_main, h) != 0)
    fail("pthread_create");
  for (done = 0; done < nfiles; done++) {
    head = atomic_load_explicit(&h->head, memory_order_relaxed);
    while (atomic_load_explicit(&h->tail, memory_order_acquire) == head)
      ;   /* empty: spin */
    fd = h->fd[head % HAND_SLOTS];
    i = h->file[head % HAND_SLOTS];
    atomic_store_explicit(&h->head, head + 1, memory_order_release);
    read_and_close(fd, i, buf);
  }
  pthread_join(opener, NULL);
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*) a;
  double y = *(const double*) b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  static struct share sh[64];
  static struct hand hand;
  cpu_set_t cpus;
  double rates[PASSES];
  char* buf;
  double t0;
  int pass;
  int ncpu;
  int i;

  if (argc > 1)
    nfiles = atoi(argv[1]);
  if (argc > 2)
    file_size = atoi(argv[2]);
  if (nfiles < 1 || file_size < 1) {
    fprintf(stderr, "usage: %s [files [bytes-per-file]]\n", argv[0]);
    return 2;
  }
  buf = malloc((size_t) file_size);
  if (buf == NULL)
    fail("out of memory");

  create_files();
  read_all(buf);
  /* The median of several passes, as fs_read_files reports, so one
   * disturbed pass does not decide the result. */
  for (pass = 0; pass < PASSES; pass++) {
    t0 = now();
    read_all(buf);
    rates[pass] = nfiles / (now() - t0);
  }
  qsort(rates, PASSES, sizeof(rates[0]), cmp_double);
  printf("floor_read_files: %d files in %.3f s (%.0f files/s), median of "
         "%d passes, one thread\n", nfiles, nfiles / rates[PASSES / 2],
         rates[PASSES / 2], PASSES);
  printf("RESULT floor_read_files %.0f files/s higher\n", rates[PASSES / 2]);

  /* The CPUs this process may use (taskset narrows them): the split
   * spins, and two spinning threads on one CPU measure the scheduler. */
  ncpu = sched_getaffinity(0, sizeof(cpus), &cpus) == 0
             ? CPU_COUNT(&cpus)
             : (int) sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu > 1) {
    if (ncpu > 64)
      ncpu = 64;
    for (i = 0; i < ncpu; i++) {
      sh[i].buf = malloc((size_t) file_size);
      if (sh[i].buf == NULL)
        fail("out of memory");
    }
    for (pass = 0; pass < PASSES; pass++) {
      t0 = now();
      read_shared(sh, ncpu);
      rates[pass] = nfiles / (now() - t0);
    }
    for (i = 0; i < ncpu; i++)
      free(sh[i].buf);
    qsort(rates, PASSES, sizeof(rates[0]), cmp_double);
    printf("floor_read_files: %d files in %.3f s (%.0f files/s), median of "
           "%d passes, %d threads\n", nfiles, nfiles / rates[PASSES / 2],
           rates[PASSES / 2], PASSES, ncpu);
    printf("RESULT floor_read_files_all_cpus %.0f files/s higher\n",
           rates[PASSES / 2]);

    for (pass = 0; pass < PASSES; pass++) {
      t0 = now();
      read_split(&hand, buf);
      rates[pass] = nfiles / (now() - t0);
    }
    qsort(rates, PASSES, sizeof(rates[0]), cmp_double);
    printf("floor_read_files: %d files in %.3f s (%.0f files/s), median of "
           "%d passes, opened by one thread, read and closed by another\n",
           nfiles, nfiles / rates[PASSES / 2], rates[PASSES / 2], PASSES);
    printf("RESULT floor_read_files_split %.0f files/s higher\n",
           rates[PASSES / 2]);
  }
  remove_files();
  free(buf);
  return 0;
}
