/* File-system requests on descriptors and their arguments: the checks
 * every uv_fs_* makes, open and close, read and write (positions,
 * vectors, more buffers than IOV_MAX, pipes, errors), fsync, fdatasync
 * and ftruncate, synchronously and through the worker pool. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>

/* ---------------------------------------------------------------------
 * Arguments.
 */
TEST(null_req_is_einval) {
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init("x", 1);
  const char* p = fs_path("f");

  start(&loop);
  CHECK_EQ(uv_fs_open(&loop, NULL, p, O_RDONLY, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_open(&loop, NULL, p, O_RDONLY, 0, fail_cb), UV_EINVAL);
  CHECK_EQ(uv_fs_close(&loop, NULL, 0, fail_cb), UV_EINVAL);
  CHECK_EQ(uv_fs_read(&loop, NULL, 0, &b, 1, -1, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_write(&loop, NULL, 0, &b, 1, -1, fail_cb), UV_EINVAL);
  CHECK_EQ(uv_fs_unlink(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_mkdir(&loop, NULL, p, 0755, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_mkdtemp(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_mkstemp(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_rmdir(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_scandir(&loop, NULL, p, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_opendir(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_readdir(&loop, NULL, NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_closedir(&loop, NULL, NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_stat(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_lstat(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_fstat(&loop, NULL, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_statfs(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_rename(&loop, NULL, p, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_fsync(&loop, NULL, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_fdatasync(&loop, NULL, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_ftruncate(&loop, NULL, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_copyfile(&loop, NULL, p, p, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_copyfile(&loop, NULL, p, p, -1, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_sendfile(&loop, NULL, 0, 0, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_access(&loop, NULL, p, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_chmod(&loop, NULL, p, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_fchmod(&loop, NULL, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_utime(&loop, NULL, p, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_futime(&loop, NULL, 0, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_lutime(&loop, NULL, p, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_link(&loop, NULL, p, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_symlink(&loop, NULL, p, p, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_readlink(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_realpath(&loop, NULL, p, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_chown(&loop, NULL, p, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_fchown(&loop, NULL, 0, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_lchown(&loop, NULL, p, 0, 0, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_scandir_next(NULL, NULL), UV_EINVAL);
  uv_fs_req_cleanup(NULL);
  CHECK(!uv_loop_alive(&loop));
  nl_test_close_loop(&loop);
}

/* A rejected request: UV_EINVAL, in the result too, no callback, nothing
 * keeping the loop alive, and nothing done to the file system. */
static void check_rejected(uv_loop_t* loop, uv_fs_t* req, int r) {
  CHECK_EQ(r, UV_EINVAL);
  CHECK_EQ(req->result, UV_EINVAL);
  CHECK(req->path == NULL);
  CHECK(req->ptr == NULL);
  CHECK(!uv_loop_alive(loop));
  uv_fs_req_cleanup(req);
}

TEST(missing_arguments_are_einval) {
  const char* p = fs_path("victim");
  uv_loop_t loop;
  uv_dirent_t ents[2];
  uv_dir_t dir;
  uv_fs_t req;
  int i;

  start(&loop);
  fs_write_file(p, "abc", 3);
  for (i = 0; i < 2; i++) {
    uv_fs_cb cb = i == 0 ? NULL : fail_cb;
    check_rejected(&loop, &req, uv_fs_open(&loop, &req, NULL, 0, 0, cb));
    check_rejected(&loop, &req, uv_fs_unlink(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_mkdir(&loop, &req, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_mkdtemp(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_mkstemp(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_rmdir(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_scandir(&loop, &req, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_opendir(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_stat(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_lstat(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_statfs(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_rename(&loop, &req, p, NULL, cb));
    check_rejected(&loop, &req, uv_fs_rename(&loop, &req, NULL, p, cb));
    check_rejected(&loop, &req, uv_fs_link(&loop, &req, p, NULL, cb));
    check_rejected(&loop, &req, uv_fs_symlink(&loop, &req, p, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_copyfile(&loop, &req, p, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_readlink(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_realpath(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_access(&loop, &req, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_chmod(&loop, &req, NULL, 0, cb));
    check_rejected(&loop, &req, uv_fs_chown(&loop, &req, NULL, 0, 0, cb));
    check_rejected(&loop, &req, uv_fs_lchown(&loop, &req, NULL, 0, 0, cb));
    check_rejected(&loop, &req, uv_fs_utime(&loop, &req, NULL, 1, 1, cb));
    check_rejected(&loop, &req, uv_fs_lutime(&loop, &req, NULL, 1, 1, cb));
    /* Unknown copyfile flags: the destination is not even created. */
    check_rejected(&loop, &req,
                   uv_fs_copyfile(&loop, &req, p, fs_path("c"), 8, cb));
    check_rejected(&loop, &req,
                   uv_fs_copyfile(&loop, &req, p, fs_path("c"), -1, cb));
    CHECK(!fs_exists(fs_path("c")));
    /* Times without a timespec. */
    check_rejected(&loop, &req, uv_fs_utime(&loop, &req, p, 0.0 / 0.0, 1, cb));
    check_rejected(&loop, &req, uv_fs_futime(&loop, &req, 0, 1, 1e300, cb));
    check_rejected(&loop, &req,
                   uv_fs_lutime(&loop, &req, p, -1.0 / 0.0, 1, cb));
    /* Directory streams. */
    check_rejected(&loop, &req, uv_fs_readdir(&loop, &req, NULL, cb));
    check_rejected(&loop, &req, uv_fs_closedir(&loop, &req, NULL, cb));
    memset(&dir, 0, sizeof(dir));
    check_rejected(&loop, &req, uv_fs_closedir(&loop, &req, &dir, cb));
    check_rejected(&loop, &req, uv_fs_readdir(&loop, &req, &dir, cb));
    CHECK_OK(uv_fs_opendir(NULL, &req, nl_test_tmpdir(), NULL));
    dir = *(uv_dir_t*) req.ptr;
    CHECK_OK(uv_fs_closedir(NULL, &req, req.ptr, NULL));
    dir.dirents = NULL;
    dir.nentries = 2;
    check_rejected(&loop, &req, uv_fs_readdir(&loop, &req, &dir, cb));
    dir.dirents = ents;
    dir.nentries = 0;
    check_rejected(&loop, &req, uv_fs_readdir(&loop, &req, &dir, cb));
  }
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  /* The file kept its times. */
  {
    struct stat st;
    CHECK_OK(stat(p, &st));
    CHECK(st.st_mtim.tv_sec > 1000000000);
  }
  /* An asynchronous request needs a loop. */
  CHECK_EQ(uv_fs_stat(NULL, &req, p, fail_cb), UV_EINVAL);
  CHECK_EQ(uv_fs_close(NULL, &req, 0, fail_cb), UV_EINVAL);
  nl_test_close_loop(&loop);
}

TEST(read_write_need_buffers) {
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init(NULL, 0);
  uv_fs_t req;
  int fd;
  int i;

  start(&loop);
  fd = open_file(fs_path("rw"), O_RDWR | O_CREAT);
  for (i = 0; i < 2; i++) {
    uv_fs_cb cb = i == 0 ? NULL : fail_cb;
    /* A request full of garbage comes back clean. */
    memset(&req, 0xdb, sizeof(req));
    CHECK_EQ(uv_fs_write(&loop, &req, fd, NULL, 0, -1, cb), UV_EINVAL);
    CHECK(req.path == NULL && req.new_path == NULL);
    CHECK(req.bufs == NULL && req.ptr == NULL);
    uv_fs_req_cleanup(&req);
    memset(&req, 0xdb, sizeof(req));
    CHECK_EQ(uv_fs_read(&loop, &req, fd, NULL, 1, -1, cb), UV_EINVAL);
    CHECK(req.bufs == NULL);
    uv_fs_req_cleanup(&req);
    CHECK_EQ(uv_fs_read(&loop, &req, fd, &b, 0, 0, cb), UV_EINVAL);
    uv_fs_req_cleanup(&req);
    CHECK_EQ(uv_fs_write(&loop, &req, fd, &b, 0, 0, cb), UV_EINVAL);
    uv_fs_req_cleanup(&req);
  }
  CHECK(!uv_loop_alive(&loop));
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * open and close.
 */
static void expect_open_error(uv_loop_t* loop, const char* path, int flags,
                              int err) {
  uv_fs_t req;
  int before = cb_calls;

  CHECK_EQ(uv_fs_open(NULL, &req, path, flags, 0644, NULL), err);
  CHECK_EQ(req.result, err);
  CHECK_EQ(uv_fs_get_system_error(&req), -err);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_open(loop, &req, path, flags, 0644, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(cb_calls, before + 1);
  CHECK_EQ(req.fs_type, UV_FS_OPEN);
  CHECK_EQ(req.result, err);
  uv_fs_req_cleanup(&req);
}

TEST(open_and_close) {
  char name[512];
  uv_loop_t loop;
  uv_fs_t req;
  int fd;

  start(&loop);
  snprintf(name, sizeof(name), "%s", fs_path("opened"));

  fd = uv_fs_open(NULL, &req, name, O_RDWR | O_CREAT, 0600, NULL);
  CHECK(fd >= 0);
  CHECK_EQ(req.result, fd);
  CHECK_EQ(req.fs_type, UV_FS_OPEN);
  CHECK(req.loop == NULL);
  /* A synchronous request uses the caller's string. */
  CHECK(req.path == name);
  CHECK(uv_fs_get_path(&req) == name);
  CHECK(req.ptr == NULL);
  /* Documented as -(req->result) on Unix, successes included. */
  CHECK_EQ(uv_fs_get_system_error(&req), -fd);
  uv_fs_req_cleanup(&req);
  CHECK(req.path == NULL);
  CHECK_EQ(req.result, fd);
  /* Descriptors never leak into exec'd programs. */
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

  CHECK_OK(uv_fs_close(NULL, &req, fd, NULL));
  CHECK_EQ(req.fs_type, UV_FS_CLOSE);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_close(NULL, &req, fd, NULL), UV_EBADF);
  uv_fs_req_cleanup(&req);

  /* An asynchronous request keeps its own copy of the path. */
  CHECK_OK(uv_fs_open(&loop, &req, name, O_RDONLY, 0, record_cb));
  CHECK(req.path != name);
  CHECK_STREQ(req.path, name);
  memset(name, 'x', 8);
  CHECK(req.loop == &loop);
  CHECK(uv_loop_alive(&loop));
  finish(&loop, 1);
  CHECK(req.result >= 0);
  CHECK(uv_fs_get_result(&req) == req.result);
  CHECK(strncmp(req.path, "xxxxxxxx", 8) != 0);
  fd = (int) req.result;
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  uv_fs_req_cleanup(&req);
  CHECK(req.path == NULL);

  CHECK_OK(uv_fs_close(&loop, &req, fd, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);
  CHECK_OK(uv_fs_close(&loop, &req, fd, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, UV_EBADF);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(open_errors) {
  char longname[5000];
  uv_loop_t loop;

  start(&loop);
  fs_write_file(fs_path("file"), "x", 1);
  CHECK_OK(mkdir(fs_path("dir"), 0755));
  CHECK_OK(symlink("file", fs_path("link")));
  CHECK_OK(symlink("loop", fs_path("loop")));
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';

  expect_open_error(&loop, missing_path(), O_RDONLY, UV_ENOENT);
  expect_open_error(&loop, fs_path("file"), O_RDWR | O_CREAT | O_EXCL,
                    UV_EEXIST);
  expect_open_error(&loop, fs_path("file/below"), O_RDONLY, UV_ENOTDIR);
  expect_open_error(&loop, fs_path("dir"), O_WRONLY, UV_EISDIR);
  expect_open_error(&loop, longname, O_RDONLY, UV_ENAMETOOLONG);
  expect_open_error(&loop, fs_path("loop"), O_RDONLY, UV_ELOOP);
  /* UV_FS_O_* flags reach the kernel. */
  expect_open_error(&loop, fs_path("link"), O_RDONLY | UV_FS_O_NOFOLLOW,
                    UV_ELOOP);
  expect_open_error(&loop, fs_path("file"), UV_FS_O_RDONLY | UV_FS_O_DIRECTORY,
                    UV_ENOTDIR);
  nl_test_close_loop(&loop);
}

TEST(open_mode_truncate_append) {
  uv_buf_t b = uv_buf_init("tail", 4);
  struct stat st;
  char got[32];
  uv_fs_t req;
  mode_t old;
  int fd;

  old = umask(0);
  fd = uv_fs_open(NULL, &req, fs_path("m"), O_WRONLY | O_CREAT, 0640, NULL);
  CHECK(fd >= 0);
  umask(old);
  CHECK_OK(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 07777, 0640);
  CHECK_OK(close(fd));

  fs_write_file(fs_path("m"), "0123456789", 10);
  fd = open_file(fs_path("m"), UV_FS_O_WRONLY | UV_FS_O_APPEND);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), 4);
  CHECK_OK(close(fd));
  CHECK_EQ(fs_read_file(fs_path("m"), got, sizeof(got)), 14);
  CHECK(memcmp(got, "0123456789tail", 14) == 0);

  fd = open_file(fs_path("m"), UV_FS_O_WRONLY | UV_FS_O_TRUNC);
  CHECK_OK(close(fd));
  CHECK_EQ(fs_read_file(fs_path("m"), got, sizeof(got)), 0);
}

/* ---------------------------------------------------------------------
 * read and write.
 */
TEST(read_write_positions) {
  uv_loop_t loop;
  uv_buf_t b;
  char got[16];
  uv_fs_t req;
  int fd;

  start(&loop);
  fd = open_file(fs_path("pos"), O_RDWR | O_CREAT);

  /* -1: at the current position, which moves. */
  b = uv_buf_init("hello", 5);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), 5);
  CHECK_EQ(req.result, 5);
  CHECK_EQ(req.fs_type, UV_FS_WRITE);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5);

  /* An offset: there, and the position stays. */
  b = uv_buf_init("XY", 2);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, 1, NULL), 2);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5);

  memset(got, 0, sizeof(got));
  b = uv_buf_init(got, sizeof(got));
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, 0, NULL), 5);
  CHECK_EQ(req.fs_type, UV_FS_READ);
  CHECK(memcmp(got, "hXYlo", 5) == 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5);

  /* At the end of the file: 0, with -1 and with an offset. */
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL), 0);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, 5, NULL), 0);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, 500, NULL), 0);

  CHECK_EQ(lseek(fd, 2, SEEK_SET), 2);
  memset(got, 0, sizeof(got));
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL), 3);
  CHECK(memcmp(got, "Ylo", 3) == 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5);

  /* The same through the pool. */
  b = uv_buf_init("!!", 2);
  CHECK_OK(uv_fs_write(&loop, &req, fd, &b, 1, -1, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 2);
  CHECK_EQ(req.fs_type, UV_FS_WRITE);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);
  b = uv_buf_init("ab", 2);
  CHECK_OK(uv_fs_write(&loop, &req, fd, &b, 1, 0, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 2);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);

  memset(got, 0, sizeof(got));
  b = uv_buf_init(got, sizeof(got));
  CHECK_OK(uv_fs_read(&loop, &req, fd, &b, 1, 1, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 6);
  CHECK(memcmp(got, "bYlo!!", 6) == 0);
  CHECK_OK(uv_fs_read(&loop, &req, fd, &b, 1, -1, record_cb));
  finish(&loop, 4);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

TEST(vectored_read_write) {
  uv_buf_t w[3];
  uv_buf_t r[3];
  char a[4], b[2], c[8];
  char all[32];
  uv_fs_t req;
  int fd;

  fd = open_file(fs_path("vec"), O_RDWR | O_CREAT);
  w[0] = uv_buf_init("one-", 4);
  w[1] = uv_buf_init("", 0);
  w[2] = uv_buf_init("two", 3);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, w, 3, 2, NULL), 7);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, w, 3, -1, NULL), 7);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);
  CHECK_EQ(fs_read_file(fs_path("vec"), all, sizeof(all)), 9);
  /* The positional write went to offset 2 and the second to 0:
   * "one-two" over "..one-two" leaves "one-twowo". */
  CHECK(memcmp(all, "one-twowo", 9) == 0);

  r[0] = uv_buf_init(a, sizeof(a));
  r[1] = uv_buf_init(b, sizeof(b));
  r[2] = uv_buf_init(c, sizeof(c));
  memset(c, 0, sizeof(c));
  CHECK_EQ(uv_fs_read(NULL, &req, fd, r, 3, 1, NULL), 8);
  CHECK(memcmp(a, "ne-t", 4) == 0);
  CHECK(memcmp(b, "wo", 2) == 0);
  CHECK(memcmp(c, "wo", 2) == 0);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, r, 3, -1, NULL), 9);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 9);
  CHECK(memcmp(a, "one-", 4) == 0);
  CHECK(memcmp(c, "owo", 3) == 0);
  CHECK_OK(close(fd));
}

/* More buffers than one system call takes: a write writes them all, a
 * read fills at most IOV_MAX of them (one call). */
#define MANY 3000
static void large_vector_sync(int64_t offset) {
  static uv_buf_t bufs[MANY];
  static char back[MANY * 7];
  int64_t start = offset < 0 ? 0 : offset;
  struct stat st;
  uv_fs_t req;
  int fd;
  int i;

  CHECK(MANY > IOV_MAX);
  fd = open_file(fs_path("many"), O_RDWR | O_CREAT | O_TRUNC);
  for (i = 0; i < MANY; i++)
    bufs[i] = uv_buf_init("abcdef\n", 7);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, bufs, MANY, offset, NULL), MANY * 7);
  CHECK(req.bufs == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_OK(fstat(fd, &st));
  CHECK_EQ(st.st_size, start + MANY * 7);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), offset < 0 ? MANY * 7 : 0);

  for (i = 0; i < MANY; i++)
    bufs[i] = uv_buf_init(back + i * 7, 7);
  memset(back, 0, sizeof(back));
  CHECK_EQ(lseek(fd, start, SEEK_SET), start);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, bufs, MANY, -1, NULL), IOV_MAX * 7);
  CHECK(memcmp(back + (IOV_MAX - 1) * 7, "abcdef\n", 7) == 0);
  CHECK_EQ(back[IOV_MAX * 7], 0);
  memset(back, 0, sizeof(back));
  CHECK_EQ(uv_fs_read(NULL, &req, fd, bufs + 1, MANY - 1, start + 3, NULL),
           IOV_MAX * 7);
  CHECK(memcmp(back + 7, "def\nabc", 7) == 0);
  CHECK_OK(close(fd));
}

TEST(large_vectors_sync) {
  large_vector_sync(-1);
  large_vector_sync(0);
  large_vector_sync(10);
}

TEST(large_vector_async_frees_its_copy) {
  static uv_buf_t bufs[MANY];
  uv_loop_t loop;
  struct stat st;
  uv_fs_t req;
  long live;
  int fd;
  int i;

  fs_use_counting_allocator();
  start(&loop);
  fd = open_file(fs_path("many"), O_RDWR | O_CREAT | O_TRUNC);
  fs_start_pool(&loop);
  /* Hold the pool, so the request waits while the test looks at it. */
  fs_block_pool(&loop);
  live = fs_live();
  for (i = 0; i < MANY; i++)
    bufs[i] = uv_buf_init("0123456789", 10);
  CHECK_OK(uv_fs_write(&loop, &req, fd, bufs, MANY, 5, record_cb));
  /* The array was copied: changing the caller's does not matter. */
  CHECK_EQ(fs_live(), live + 1);
  for (i = 0; i < MANY; i++)
    bufs[i] = uv_buf_init(NULL, 0);
  fs_release_pool();
  finish(&loop, 1);
  fs_destroy_blockers();
  CHECK_EQ(req.result, MANY * 10);
  /* Released when the operation ended, before any cleanup. */
  CHECK_EQ(fs_live(), live);
  uv_fs_req_cleanup(&req);
  CHECK_OK(fstat(fd, &st));
  CHECK_EQ(st.st_size, 5 + MANY * 10);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

TEST(write_empty_buffer) {
  uv_buf_t b = uv_buf_init(NULL, 0);
  uv_buf_t two[2];
  uv_fs_t req;
  int fd;

  fd = open_file(fs_path("empty"), O_RDWR | O_CREAT);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), 0);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, 3, NULL), 0);
  two[0] = b;
  two[1] = b;
  CHECK_EQ(uv_fs_write(NULL, &req, fd, two, 2, -1, NULL), 0);
  CHECK_OK(close(fd));
  /* Even an empty write reaches the descriptor. */
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), UV_EBADF);
}

/* A pipe takes a big write in pieces while a reader drains it slowly:
 * the request still writes everything. */
struct drain {
  int fd;
  size_t want;
  char* got;
};

static void drain_pipe(void* arg) {
  struct drain* d = arg;
  size_t have = 0;
  ssize_t n;

  while (have < d->want) {
    n = read(d->fd, d->got + have, d->want - have < 1000 ? d->want - have
                                                         : 1000);
    CHECK(n > 0);
    have += (size_t) n;
    if (have % 50000 < 1000)
      uv_sleep(1);
  }
}

TEST(write_to_pipe_is_complete) {
  enum { N = 54321, L = 13 };
  static uv_buf_t bufs[N];
  static char src[N * L];
  struct drain d;
  uv_thread_t t;
  uv_fs_t req;
  int fds[2];
  int i;

  for (i = 0; i < N * L; i++)
    src[i] = (char) ('a' + i % 26);
  for (i = 0; i < N; i++)
    bufs[i] = uv_buf_init(src + i * L, L);
  CHECK_OK(pipe(fds));
  d.fd = fds[0];
  d.want = sizeof(src);
  d.got = malloc(sizeof(src));
  CHECK(d.got != NULL);
  CHECK_OK(uv_thread_create(&t, drain_pipe, &d));
  CHECK_EQ(uv_fs_write(NULL, &req, fds[1], bufs, N, -1, NULL), N * L);
  CHECK_EQ(req.result, N * L);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_thread_join(&t));
  CHECK(memcmp(d.got, src, sizeof(src)) == 0);
  free(d.got);

  /* A read gives what one read(2) gives. */
  CHECK_EQ(write(fds[1], "12345", 5), 5);
  {
    char got[100];
    uv_buf_t b = uv_buf_init(got, sizeof(got));
    CHECK_EQ(uv_fs_read(NULL, &req, fds[0], &b, 1, -1, NULL), 5);
  }
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
}

/* A non-blocking pipe with nobody reading fills up: the write reports the
 * bytes that went in; the next write, with nothing going in, reports the
 * error. */
TEST(write_reports_bytes_before_error) {
  static char big[1 << 20];
  uv_buf_t b[2];
  uv_fs_t req;
  int fds[2];
  ssize_t n;

  CHECK_OK(pipe2(fds, O_NONBLOCK));
  b[0] = uv_buf_init(big, sizeof(big) / 2);
  b[1] = uv_buf_init(big, sizeof(big) / 2);
  n = uv_fs_write(NULL, &req, fds[1], b, 2, -1, NULL);
  CHECK(n > 0);
  CHECK(n < (ssize_t) sizeof(big));
  CHECK_EQ(req.result, n);
  CHECK_EQ(uv_fs_write(NULL, &req, fds[1], b, 2, -1, NULL), UV_EAGAIN);
  CHECK_EQ(uv_fs_get_system_error(&req), EAGAIN);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
}

TEST(read_write_errors) {
  uv_loop_t loop;
  char got[8];
  uv_buf_t b = uv_buf_init(got, sizeof(got));
  uv_fs_t req;
  int fd;

  start(&loop);
  fd = open_file(fs_path("wo"), O_WRONLY | O_CREAT);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL), UV_EBADF);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, 0, NULL), UV_EBADF);
  CHECK_OK(uv_fs_read(&loop, &req, fd, &b, 1, -1, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, UV_EBADF);
  CHECK_OK(close(fd));

  fd = open_file(fs_path("ro"), O_RDONLY | O_CREAT);
  CHECK_EQ(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), UV_EBADF);
  CHECK_OK(uv_fs_write(&loop, &req, fd, &b, 1, 0, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EBADF);
  CHECK_OK(close(fd));

  fd = open_file(nl_test_tmpdir(), O_RDONLY | UV_FS_O_DIRECTORY);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, 0, NULL), UV_EISDIR);
  CHECK_EQ(uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL), UV_EISDIR);
  CHECK_OK(close(fd));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * fsync, fdatasync, ftruncate.
 */
TEST(sync_and_truncate) {
  uv_loop_t loop;
  struct stat st;
  uv_fs_t req;
  int fds[2];
  int fd;

  start(&loop);
  fd = open_file(fs_path("t"), O_RDWR | O_CREAT);
  fs_write_file(fs_path("t"), "0123456789", 10);
  CHECK_OK(uv_fs_fsync(NULL, &req, fd, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FSYNC);
  CHECK_OK(uv_fs_fdatasync(NULL, &req, fd, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FDATASYNC);
  CHECK_OK(uv_fs_fsync(&loop, &req, fd, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK_OK(uv_fs_fdatasync(&loop, &req, fd, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);

  CHECK_OK(uv_fs_ftruncate(NULL, &req, fd, 3, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FTRUNCATE);
  CHECK_OK(fstat(fd, &st));
  CHECK_EQ(st.st_size, 3);
  CHECK_OK(uv_fs_ftruncate(&loop, &req, fd, 4096, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 0);
  CHECK_OK(fstat(fd, &st));
  CHECK_EQ(st.st_size, 4096);
  CHECK_EQ(uv_fs_ftruncate(NULL, &req, fd, -1, NULL), UV_EINVAL);
  CHECK_OK(close(fd));

  CHECK_EQ(uv_fs_fsync(NULL, &req, fd, NULL), UV_EBADF);
  CHECK_EQ(uv_fs_fdatasync(NULL, &req, fd, NULL), UV_EBADF);
  CHECK_EQ(uv_fs_ftruncate(NULL, &req, fd, 0, NULL), UV_EBADF);
  CHECK_OK(uv_fs_ftruncate(&loop, &req, fd, 0, record_cb));
  finish(&loop, 4);
  CHECK_EQ(req.result, UV_EBADF);
  /* A pipe cannot be synced or truncated. */
  CHECK_OK(pipe(fds));
  CHECK_EQ(uv_fs_fsync(NULL, &req, fds[1], NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_ftruncate(NULL, &req, fds[1], 0, NULL), UV_EINVAL);
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  nl_test_close_loop(&loop);
}

/* A synchronous read of a pipe that has no data blocks; a signal whose
 * handler has no SA_RESTART ends it with UV_EINTR, as in libuv, so that
 * a program can put a time limit on it. A helper thread keeps signalling
 * the reading thread, and after two seconds writes a byte: a read that
 * retried on EINTR returns that byte instead. */
static volatile sig_atomic_t eintr_signals;
static int eintr_done;
static pthread_t eintr_reader;
static int eintr_pipe[2];

static void eintr_handler(int sig) {
  (void) sig;
  eintr_signals++;
}

static void eintr_kicker(void* arg) {
  int i;
  (void) arg;
  for (i = 0; i < 200 && !__atomic_load_n(&eintr_done, __ATOMIC_ACQUIRE);
       i++) {
    pthread_kill(eintr_reader, SIGUSR2);
    usleep(10000);
  }
  CHECK_EQ(write(eintr_pipe[1], "x", 1), 1);
}

TEST(sync_read_interrupted_by_signal) {
  struct sigaction sa;
  uv_thread_t kicker;
  uv_fs_t req;
  uv_buf_t buf;
  char c;
  int r;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = eintr_handler;   /* no SA_RESTART */
  CHECK_OK(sigaction(SIGUSR2, &sa, NULL));
  CHECK_OK(pipe(eintr_pipe));
  eintr_reader = pthread_self();
  CHECK_OK(uv_thread_create(&kicker, eintr_kicker, NULL));
  buf = uv_buf_init(&c, 1);
  r = uv_fs_read(NULL, &req, eintr_pipe[0], &buf, 1, -1, NULL);
  __atomic_store_n(&eintr_done, 1, __ATOMIC_RELEASE);
  CHECK_OK(uv_thread_join(&kicker));
  CHECK_EQ(r, UV_EINTR);
  CHECK_EQ(req.result, UV_EINTR);
  CHECK(eintr_signals >= 1);
  uv_fs_req_cleanup(&req);
  close(eintr_pipe[0]);
  close(eintr_pipe[1]);
}
