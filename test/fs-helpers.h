/* Helpers shared by the file-system tests (test-fs*.c): scratch paths, a
 * counting and failing allocator, running a check in a child process, a
 * seccomp filter that makes chosen system calls fail, and dropping root.
 * Everything is static: each test file is its own program. */
#ifndef NL_FS_HELPERS_H_
#define NL_FS_HELPERS_H_

#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Scratch paths: fs_path("a") is "<tmpdir>/a". A ring of 64 buffers: a
 * result stays valid for the next 63 calls.
 */
static inline const char* fs_path(const char* name) {
  static char bufs[64][512];
  static unsigned int next;
  char* b = bufs[next++ % 64];
  snprintf(b, sizeof(bufs[0]), "%s/%s", nl_test_tmpdir(), name);
  return b;
}

static inline void fs_write_file(const char* path, const void* data,
                                 size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, data, len), (ssize_t) len);
  CHECK_OK(close(fd));
}

/* Reads at most cap bytes; returns how many. */
static inline size_t fs_read_file(const char* path, void* buf, size_t cap) {
  size_t got = 0;
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  while (got < cap && (n = read(fd, (char*) buf + got, cap - got)) > 0)
    got += (size_t) n;
  CHECK_OK(close(fd));
  return got;
}

static inline int fs_exists(const char* path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* ---------------------------------------------------------------------
 * Counting allocator: live blocks, and allocations made, counted
 * atomically (pool threads allocate too). With fail_allocs set, every
 * allocation fails.
 */
static atomic_long fs_live_allocs;
static atomic_long fs_total_allocs;
static atomic_int fs_fail_allocs;

static void* fs_count_malloc(size_t n) {
  void* p;
  if (atomic_load(&fs_fail_allocs))
    return NULL;
  p = malloc(n);
  if (p != NULL) {
    atomic_fetch_add(&fs_live_allocs, 1);
    atomic_fetch_add(&fs_total_allocs, 1);
  }
  return p;
}

static void* fs_count_realloc(void* p, size_t n) {
  void* q;
  if (atomic_load(&fs_fail_allocs))
    return NULL;
  q = realloc(p, n);
  if (p == NULL && q != NULL) {
    atomic_fetch_add(&fs_live_allocs, 1);
    atomic_fetch_add(&fs_total_allocs, 1);
  }
  return q;
}

static void* fs_count_calloc(size_t c, size_t n) {
  void* p;
  if (atomic_load(&fs_fail_allocs))
    return NULL;
  p = calloc(c, n);
  if (p != NULL) {
    atomic_fetch_add(&fs_live_allocs, 1);
    atomic_fetch_add(&fs_total_allocs, 1);
  }
  return p;
}

static void fs_count_free(void* p) {
  if (p != NULL)
    atomic_fetch_sub(&fs_live_allocs, 1);
  free(p);
}

/* Install before the library allocates anything the test later frees. */
static inline void fs_use_counting_allocator(void) {
  CHECK_OK(uv_replace_allocator(fs_count_malloc, fs_count_realloc,
                                fs_count_calloc, fs_count_free));
}

static inline long fs_live(void) {
  return atomic_load(&fs_live_allocs);
}

static inline long fs_total(void) {
  return atomic_load(&fs_total_allocs);
}

/* Starts every pool thread and returns once all of them are running, so
 * that what their start-up allocates and frees is settled before a test
 * counts. */
static atomic_int fs_pool_arrived;

static void fs_pool_rendezvous(uv_work_t* w) {
  int n = *(int*) w->data;
  atomic_fetch_add(&fs_pool_arrived, 1);
  while (atomic_load(&fs_pool_arrived) < n)
    uv_sleep(1);
}

static void fs_ring_started(uv_fs_t* req) {
  CHECK(req->result >= 0);
  CHECK_OK(close((int) req->result));
  uv_fs_req_cleanup(req);
}

/* The loop's first file request that the loop's io_uring takes creates
 * the ring: its memory and its descriptor. Tests that count allocations,
 * or close a descriptor and expect its number to stay unused, make them
 * exist first. Without io_uring this request runs on the pool. */
static inline void fs_start_ring(uv_loop_t* loop) {
  uv_fs_t req;

  CHECK_OK(uv_fs_open(loop, &req, "/", O_RDONLY, 0, fs_ring_started));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
}

static inline void fs_start_pool(uv_loop_t* loop) {
  const char* env = getenv("UV_THREADPOOL_SIZE");
  int n = env != NULL && *env != '\0' ? atoi(env) : 4;
  uv_work_t* w;
  int i;

  if (n < 1)
    n = 1;
  w = calloc((size_t) n, sizeof(*w));
  CHECK(w != NULL);
  atomic_store(&fs_pool_arrived, 0);
  for (i = 0; i < n; i++) {
    w[i].data = &n;
    CHECK_OK(uv_queue_work(loop, &w[i], fs_pool_rendezvous, NULL));
  }
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  free(w);
  fs_start_ring(loop);
}

/* Holds every pool thread until fs_release_pool(), so that requests
 * queued meanwhile wait (to be cancelled, or looked at before they run).
 * The pool's size is UV_THREADPOOL_SIZE's, 4 by default. */
static uv_sem_t fs_blocker_started;
static uv_sem_t fs_blocker_release;
static uv_work_t fs_blockers[128];
static int fs_nblockers;

static void fs_blocker_work(uv_work_t* w) {
  (void) w;
  uv_sem_post(&fs_blocker_started);
  uv_sem_wait(&fs_blocker_release);
}

static inline void fs_block_pool(uv_loop_t* loop) {
  const char* env = getenv("UV_THREADPOOL_SIZE");
  int i;

  fs_nblockers = env != NULL && *env != '\0' ? atoi(env) : 4;
  CHECK(fs_nblockers >= 1 && fs_nblockers <= 128);
  CHECK_OK(uv_sem_init(&fs_blocker_started, 0));
  CHECK_OK(uv_sem_init(&fs_blocker_release, 0));
  for (i = 0; i < fs_nblockers; i++)
    CHECK_OK(uv_queue_work(loop, &fs_blockers[i], fs_blocker_work, NULL));
  for (i = 0; i < fs_nblockers; i++)
    uv_sem_wait(&fs_blocker_started);
}

/* Lets the blockers finish; the caller runs the loop to reap them. */
static inline void fs_release_pool(void) {
  int i;
  for (i = 0; i < fs_nblockers; i++)
    uv_sem_post(&fs_blocker_release);
}

static inline void fs_destroy_blockers(void) {
  uv_sem_destroy(&fs_blocker_started);
  uv_sem_destroy(&fs_blocker_release);
}

/* ---------------------------------------------------------------------
 * Running a check in a child: fn must return normally for success; a
 * failed CHECK aborts the child, which fails the parent's check. The
 * scratch directory is made first, so that the parent removes it: the
 * child leaves by _exit, or may no longer be root.
 */
static inline void fs_in_child(void (*fn)(void)) {
  int status;
  pid_t pid;

  (void) nl_test_tmpdir();
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
    nl_test_skip("the child skipped");
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------------
 * Makes the listed system calls fail with err in this process from now
 * on (for children made by fs_in_child). Returns 0, or -1 when seccomp is
 * not available here.
 */
static inline int fs_block_syscalls(const int* nrs, int count, int err) {
  struct sock_filter f[64];
  struct sock_fprog prog;
  int n = 0;
  int i;

  if (count > 20)
    return -1;
  f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                         offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                         AUDIT_ARCH_X86_64, 1, 0);
  f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                         offsetof(struct seccomp_data, nr));
  for (i = 0; i < count; i++) {
    f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           (unsigned int) nrs[i], 0, 1);
    f[n++] = (struct sock_filter) BPF_STMT(
        BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned int) err & 0xffff));
  }
  f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog.len = (unsigned short) n;
  prog.filter = f;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -1;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return -1;
  return 0;
}

/* ---------------------------------------------------------------------
 * Root bypasses file permissions; to see EACCES and EPERM, a child of a
 * test running as root drops to nobody (callers check geteuid() first).
 * The scratch directory is opened up for it. Returns 0, or -1 if that
 * cannot be done (then the child skips).
 */
static inline int fs_drop_root(void) {
  if (geteuid() != 0)
    return -1;
  if (chmod(nl_test_tmpdir(), 0777) != 0)
    return -1;
  if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
    return -1;
  /* A scratch directory below a private one ($TMPDIR in /root) is out of
   * reach for nobody. */
  if (access(nl_test_tmpdir(), W_OK | X_OK) != 0)
    return -1;
  return 0;
}

/* ---------------------------------------------------------------------
 * Loops and callbacks. start() records the loop's thread; record_cb,
 * the callback of most asynchronous requests in the tests, checks that it
 * runs there and counts; finish() runs the loop and checks the count.
 */
static uv_thread_t fs_loop_thread;
static int cb_calls;

/* Runs one asynchronous request on `loop` (a uv_loop_t in the caller's
 * scope) to its end, checking that its callback ran once. */
#define RUN(call)                                       \
  do {                                                  \
    cb_calls = 0;                                       \
    CHECK_OK(call);                                     \
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));            \
    CHECK_EQ(cb_calls, 1);                              \
  } while (0)

static inline void record_cb(uv_fs_t* req) {
  uv_thread_t self = uv_thread_self();
  CHECK(uv_thread_equal(&self, &fs_loop_thread));
  CHECK_EQ(req->type, UV_FS);
  cb_calls++;
}

static inline void fail_cb(uv_fs_t* req) {
  (void) req;
  CHECK(!"the callback of a rejected request ran");
}

static inline void start(uv_loop_t* loop) {
  fs_loop_thread = uv_thread_self();
  cb_calls = 0;
  CHECK_OK(uv_loop_init(loop));
}

/* Runs the loop until the queued requests are done; expects n callbacks
 * in all since start(). */
static inline void finish(uv_loop_t* loop, int n) {
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, n);
}

static inline int open_file(const char* path, int flags) {
  uv_fs_t req;
  int fd = uv_fs_open(NULL, &req, path, flags, 0644, NULL);
  CHECK(fd >= 0);
  uv_fs_req_cleanup(&req);
  return fd;
}

static inline const char* missing_path(void) {
  return fs_path("does-not-exist");
}

#endif /* NL_FS_HELPERS_H_ */
