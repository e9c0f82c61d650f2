/* uv_fs_copyfile and uv_fs_sendfile: data, modes, flags, copying onto
 * itself, errors, removal of a failed copy, and every fallback (forced
 * with seccomp: no copy_file_range, no sendfile either). */
/* NL_TEST_THREADED */
#include "fs-helpers.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>

/* A file of `size` bytes of a pattern that shows misplaced blocks. */
static void make_file(const char* path, size_t size, mode_t mode) {
  char* data = malloc(size + 1);
  size_t i;

  CHECK(data != NULL);
  for (i = 0; i < size; i++)
    data[i] = (char) ((i * 7 + i / 4096) & 0xff);
  fs_write_file(path, data, size);
  CHECK_OK(chmod(path, mode));
  free(data);
}

static void check_same_file(const char* a, const char* b) {
  struct stat sa;
  struct stat sb;
  char* da;
  char* db;

  CHECK_OK(stat(a, &sa));
  CHECK_OK(stat(b, &sb));
  CHECK_EQ(sa.st_size, sb.st_size);
  CHECK_EQ(sa.st_mode, sb.st_mode);
  CHECK(sa.st_ino != sb.st_ino);
  da = malloc((size_t) sa.st_size + 1);
  db = malloc((size_t) sb.st_size + 1);
  CHECK(da != NULL && db != NULL);
  CHECK_EQ(fs_read_file(a, da, (size_t) sa.st_size), sa.st_size);
  CHECK_EQ(fs_read_file(b, db, (size_t) sb.st_size), sb.st_size);
  CHECK(memcmp(da, db, (size_t) sa.st_size) == 0);
  free(da);
  free(db);
}

static int copy_sync(const char* src, const char* dst, int flags) {
  uv_fs_t req;
  int r = uv_fs_copyfile(NULL, &req, src, dst, flags, NULL);
  CHECK_EQ(req.result, r);
  CHECK_EQ(req.fs_type, UV_FS_COPYFILE);
  uv_fs_req_cleanup(&req);
  return r;
}

/* ---------------------------------------------------------------------
 * copyfile.
 */
TEST(copyfile_copies_data_and_mode) {
  const char* src = fs_path("src");
  const char* dst = fs_path("dst");
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  make_file(src, 3 * 1024 * 1024 + 123, 0751);
  CHECK_OK(copy_sync(src, dst, 0));
  check_same_file(src, dst);

  /* An existing, larger destination is replaced, mode included. */
  make_file(dst, 5 * 1024 * 1024, 0600);
  make_file(src, 1000, 0640);
  CHECK_OK(copy_sync(src, dst, 0));
  check_same_file(src, dst);

  /* An empty source. */
  make_file(src, 0, 0644);
  CHECK_OK(copy_sync(src, dst, 0));
  check_same_file(src, dst);

  make_file(src, 70000, 0604);
  CHECK(unlink(dst) == 0);
  CHECK_OK(uv_fs_copyfile(&loop, &req, src, dst, 0, record_cb));
  CHECK_STREQ(req.path, src);
  CHECK_STREQ(req.new_path, dst);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, 1);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(req.fs_type, UV_FS_COPYFILE);
  uv_fs_req_cleanup(&req);
  check_same_file(src, dst);
  nl_test_close_loop(&loop);
}

TEST(copyfile_excl) {
  const char* src = fs_path("src");
  const char* dst = fs_path("dst");
  uv_loop_t loop;
  uv_fs_t req;
  char got[8];

  start(&loop);
  make_file(src, 100, 0644);
  fs_write_file(dst, "keep", 4);
  CHECK_EQ(copy_sync(src, dst, UV_FS_COPYFILE_EXCL), UV_EEXIST);
  CHECK_OK(uv_fs_copyfile(&loop, &req, src, dst, UV_FS_COPYFILE_EXCL,
                          record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, UV_EEXIST);
  uv_fs_req_cleanup(&req);
  /* A failure that was not ours to clean up leaves the file alone. */
  CHECK_EQ(fs_read_file(dst, got, sizeof(got)), 4);
  CHECK(memcmp(got, "keep", 4) == 0);
  CHECK_OK(unlink(dst));
  CHECK_OK(copy_sync(src, dst, UV_FS_COPYFILE_EXCL));
  check_same_file(src, dst);
  nl_test_close_loop(&loop);
}

/* Copying a file onto itself, by the same name or another, must not
 * truncate it. */
TEST(copyfile_onto_itself) {
  const char* src = fs_path("self");
  struct stat st;

  make_file(src, 12345, 0644);
  CHECK_OK(link(src, fs_path("self-link")));
  CHECK_OK(copy_sync(src, src, 0));
  CHECK_OK(stat(src, &st));
  CHECK_EQ(st.st_size, 12345);
  CHECK_OK(copy_sync(src, fs_path("self-link"), 0));
  CHECK_OK(copy_sync(src, fs_path("self-link"), UV_FS_COPYFILE_FICLONE));
  CHECK_OK(stat(src, &st));
  CHECK_EQ(st.st_size, 12345);
  CHECK_EQ(copy_sync(src, src, UV_FS_COPYFILE_EXCL), UV_EEXIST);
}

static void copy_as_nobody(void) {
  if (fs_drop_root() != 0)
    _exit(77);
  /* A read-only destination, and an unreadable source. */
  CHECK_EQ(copy_sync(fs_path("src"), fs_path("ro"), 0), UV_EACCES);
  CHECK(fs_exists(fs_path("ro")));
  CHECK_EQ(copy_sync(fs_path("secret"), fs_path("out"), 0), UV_EACCES);
  CHECK(!fs_exists(fs_path("out")));
}

TEST(copyfile_errors) {
  const char* src = fs_path("src");
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  make_file(src, 10, 0644);
  CHECK_OK(mkdir(fs_path("dir"), 0755));

  CHECK_EQ(copy_sync(fs_path("none"), fs_path("dst"), 0), UV_ENOENT);
  CHECK(!fs_exists(fs_path("dst")));
  CHECK_EQ(copy_sync(fs_path("dir"), fs_path("dst"), 0), UV_EISDIR);
  CHECK(!fs_exists(fs_path("dst")));
  CHECK_EQ(copy_sync(src, fs_path("no/dst"), 0), UV_ENOENT);
  CHECK_EQ(copy_sync(src, fs_path("dir"), 0), UV_EISDIR);
  CHECK(fs_exists(fs_path("dir")));
  CHECK_OK(uv_fs_copyfile(&loop, &req, fs_path("none"), fs_path("dst"), 0,
                          record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  /* Flags: known ones only, checked before anything happens. */
  CHECK_EQ(uv_fs_copyfile(&loop, &req, src, fs_path("dst"), 0x10, fail_cb),
           UV_EINVAL);
  CHECK(!uv_loop_alive(&loop));
  CHECK(!fs_exists(fs_path("dst")));

  make_file(fs_path("ro"), 3, 0444);
  make_file(fs_path("secret"), 3, 0600);
  /* Root bypasses permissions: the failures need another user. */
  if (geteuid() == 0)
    fs_in_child(copy_as_nobody);
  nl_test_close_loop(&loop);
}

TEST(copyfile_ficlone) {
  const char* src = fs_path("src");
  const char* dst = fs_path("dst");
  int r;

  make_file(src, 200000, 0644);
  /* A clone where possible, a copy otherwise. */
  CHECK_OK(copy_sync(src, dst, UV_FS_COPYFILE_FICLONE));
  check_same_file(src, dst);
  CHECK_OK(unlink(dst));
  /* Only a clone: success with the data, or the file system's reason
   * (and no destination left behind). */
  r = copy_sync(src, dst, UV_FS_COPYFILE_FICLONE_FORCE);
  if (r == 0) {
    check_same_file(src, dst);
  } else {
    CHECK(r == UV_ENOTSUP || r == UV_EXDEV || r == UV_EINVAL ||
          r == UV_ENOTTY || r == UV_EBADF || r == -EOPNOTSUPP);
    CHECK(!fs_exists(dst));
  }
  r = copy_sync(src, dst, UV_FS_COPYFILE_FICLONE_FORCE | UV_FS_COPYFILE_EXCL);
  CHECK(r == 0 || !fs_exists(dst));
}

/* With copy_file_range refused (ENOSYS: an old kernel; EPERM: a seccomp
 * profile; EXDEV: across file systems before Linux 5.3), and then
 * sendfile too, the copy still happens. */
static int blocked_errno;
static int block_sendfile;

static void copy_with_fallbacks(void) {
  int nrs[2] = {SYS_copy_file_range, SYS_sendfile};
  uv_loop_t loop;
  uv_fs_t req;

  if (fs_block_syscalls(nrs, block_sendfile ? 2 : 1, blocked_errno) != 0)
    _exit(77);
  CHECK(syscall(SYS_copy_file_range, -1, NULL, -1, NULL, 1, 0) == -1);
  CHECK_EQ(errno, blocked_errno);
  CHECK_OK(copy_sync(fs_path("src"), fs_path("dst"), 0));
  check_same_file(fs_path("src"), fs_path("dst"));
  CHECK_OK(copy_sync(fs_path("src"), fs_path("dst2"), UV_FS_COPYFILE_FICLONE));
  check_same_file(fs_path("src"), fs_path("dst2"));
  start(&loop);
  CHECK_OK(uv_fs_copyfile(&loop, &req, fs_path("src"), fs_path("dst3"), 0,
                          record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  check_same_file(fs_path("src"), fs_path("dst3"));
  nl_test_close_loop(&loop);
}

static void run_fallback(int err, int no_sendfile) {
  make_file(fs_path("src"), 1024 * 1024 + 17, 0640);
  blocked_errno = err;
  block_sendfile = no_sendfile;
  fs_in_child(copy_with_fallbacks);
}

TEST(copyfile_without_copy_file_range) {
  run_fallback(ENOSYS, 0);
  run_fallback(EPERM, 0);
  run_fallback(EXDEV, 0);
}

TEST(copyfile_without_copy_file_range_or_sendfile) {
  run_fallback(ENOSYS, 1);
  run_fallback(EINVAL, 1);
}

/* A copy that fails half way (the file size limit is hit) leaves no
 * destination behind, whichever way it was copying. */
static void copy_over_the_limit(void) {
  struct rlimit rl;
  int nrs[2] = {SYS_copy_file_range, SYS_sendfile};

  signal(SIGXFSZ, SIG_IGN);
  rl.rlim_cur = rl.rlim_max = 64 * 1024;
  CHECK_OK(setrlimit(RLIMIT_FSIZE, &rl));
  if (block_sendfile && fs_block_syscalls(nrs, 2, ENOSYS) != 0)
    _exit(77);
  CHECK_EQ(copy_sync(fs_path("big"), fs_path("partial"), 0), UV_EFBIG);
  CHECK(!fs_exists(fs_path("partial")));
  /* Also when the destination existed: its old content is gone anyway. */
  fs_write_file(fs_path("old"), "old", 3);
  CHECK_EQ(copy_sync(fs_path("big"), fs_path("old"), 0), UV_EFBIG);
  CHECK(!fs_exists(fs_path("old")));
}

TEST(copyfile_failure_removes_destination) {
  make_file(fs_path("big"), 1024 * 1024, 0644);
  block_sendfile = 0;
  fs_in_child(copy_over_the_limit);
  block_sendfile = 1;
  fs_in_child(copy_over_the_limit);
}

/* A device as the destination gets the data; it is never truncated,
 * re-moded or removed. */
TEST(copyfile_to_device) {
  const char* dev = fs_path("null");
  struct stat before;
  struct stat st;

  if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0)
    nl_test_skip("cannot create a device node here");
  CHECK_OK(stat(dev, &before));
  make_file(fs_path("src"), 5000, 0600);
  CHECK_OK(copy_sync(fs_path("src"), dev, 0));
  CHECK_OK(stat(dev, &st));
  CHECK(S_ISCHR(st.st_mode));
  CHECK_EQ(st.st_mode, before.st_mode);
  CHECK_EQ(st.st_rdev, before.st_rdev);
}

/* ---------------------------------------------------------------------
 * sendfile.
 */

/* "begin\n", a 64 KiB hole, "end\n": 65546 bytes. */
static int make_sparse(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "begin\n", 6), 6);
  CHECK_EQ(lseek(fd, 65536, SEEK_CUR), 65542);
  CHECK_EQ(write(fd, "end\n", 4), 4);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static void check_sent(const char* src, int64_t offset, const char* dst,
                       size_t n) {
  char* a = malloc(70000);
  char* b = malloc(70000);
  CHECK(a != NULL && b != NULL);
  CHECK(fs_read_file(src, a, 70000) >= (size_t) offset + n);
  CHECK_EQ(fs_read_file(dst, b, 70000), n);
  CHECK(memcmp(a + offset, b, n) == 0);
  free(a);
  free(b);
}

static void sendfile_checks(uv_loop_t* loop) {
  uv_fs_t req;
  int in;
  int out;

  in = make_sparse(fs_path("in"));
  out = open(fs_path("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(out >= 0);
  /* More than there is: what there is, from the offset on. */
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out, in, 1, 131072, NULL), 65545);
  CHECK_EQ(req.result, 65545);
  CHECK_EQ(req.fs_type, UV_FS_SENDFILE);
  /* The input's position stays, the output's moves. */
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 0);
  CHECK_EQ(lseek(out, 0, SEEK_CUR), 65545);
  check_sent(fs_path("in"), 1, fs_path("out"), 65545);

  CHECK_OK(ftruncate(out, 0));
  CHECK_EQ(lseek(out, 0, SEEK_SET), 0);
  CHECK_OK(uv_fs_sendfile(loop, &req, out, in, 65540, 5, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 5);
  check_sent(fs_path("in"), 65540, fs_path("out"), 5);

  /* At or past the end: nothing. */
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out, in, 65546, 100, NULL), 0);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out, in, 0, 0, NULL), 0);
  CHECK_OK(close(in));
  CHECK_OK(close(out));

  /* Errors: closed descriptors, an output opened for reading. */
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out, in, 0, 10, NULL), UV_EBADF);
  in = make_sparse(fs_path("in"));
  out = open(fs_path("out"), O_RDONLY | O_CLOEXEC);
  CHECK(out >= 0);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out, in, 0, 10, NULL), UV_EBADF);
  CHECK_OK(uv_fs_sendfile(loop, &req, out, in, 0, 10, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, UV_EBADF);
  CHECK_OK(close(in));
  CHECK_OK(close(out));
}

TEST(sendfile) {
  uv_loop_t loop;
  uv_fs_t req;
  char got[16];
  int fds[2];
  int in;

  start(&loop);
  sendfile_checks(&loop);

  /* Into a pipe. */
  in = make_sparse(fs_path("in"));
  CHECK_OK(pipe(fds));
  CHECK_EQ(uv_fs_sendfile(NULL, &req, fds[1], in, 2, 4, NULL), 4);
  CHECK_EQ(read(fds[0], got, sizeof(got)), 4);
  CHECK(memcmp(got, "gin\n", 4) == 0);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  CHECK_OK(close(in));
  nl_test_close_loop(&loop);
}

/* From a pipe, which has no offset: the data is read from where the pipe
 * stands, whatever offset was given, as in libuv. */
TEST(sendfile_from_pipe) {
  uv_loop_t loop;
  uv_fs_t req;
  char got[32];
  int fds[2];
  int out[2];
  int file;

  start(&loop);
  file = open_file(fs_path("from-pipe"), O_RDWR | O_CREAT);
  CHECK_OK(pipe(fds));
  CHECK_EQ(write(fds[1], "hello world", 11), 11);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, file, fds[0], 0, 11, NULL), 11);
  CHECK_EQ(write(fds[1], "abc", 3), 3);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, file, fds[0], 5, 3, NULL), 3);
  CHECK_EQ(write(fds[1], "def", 3), 3);
  CHECK_OK(uv_fs_sendfile(&loop, &req, file, fds[0], 0, 3, record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 3);
  /* At the end of the input: what there was. */
  CHECK_EQ(write(fds[1], "gh", 2), 2);
  CHECK_OK(close(fds[1]));
  CHECK_EQ(uv_fs_sendfile(NULL, &req, file, fds[0], 0, 100, NULL), 2);
  CHECK_EQ(pread(file, got, sizeof(got), 0), 19);
  CHECK(memcmp(got, "hello worldabcdefgh", 19) == 0);
  /* A negative offset is refused, from a pipe or a file. */
  CHECK_EQ(uv_fs_sendfile(NULL, &req, file, fds[0], -1, 5, NULL), UV_EINVAL);
  CHECK_EQ(req.result, UV_EINVAL);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, fds[1], file, -1, 5, NULL), UV_EINVAL);
  CHECK_OK(close(fds[0]));

  /* Pipe to pipe. */
  CHECK_OK(pipe(fds));
  CHECK_OK(pipe(out));
  CHECK_EQ(write(fds[1], "hello", 5), 5);
  CHECK_EQ(uv_fs_sendfile(NULL, &req, out[1], fds[0], 0, 5, NULL), 5);
  CHECK_EQ(read(out[0], got, sizeof(got)), 5);
  CHECK(memcmp(got, "hello", 5) == 0);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  CHECK_OK(close(out[0]));
  CHECK_OK(close(out[1]));
  CHECK_OK(close(file));
  nl_test_close_loop(&loop);
}

/* Without sendfile(2) the data goes through a buffer, with the same
 * results. */
static void sendfile_without_sendfile(void) {
  const int nrs[] = {SYS_sendfile};
  uv_loop_t loop;

  if (fs_block_syscalls(nrs, 1, blocked_errno) != 0)
    _exit(77);
  start(&loop);
  sendfile_checks(&loop);
  nl_test_close_loop(&loop);
}

TEST(sendfile_fallback) {
  blocked_errno = ENOSYS;
  fs_in_child(sendfile_without_sendfile);
  blocked_errno = EINVAL;
  fs_in_child(sendfile_without_sendfile);
}
