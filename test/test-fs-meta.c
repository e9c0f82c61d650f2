/* File-system requests on metadata: the stat family (statx, and its
 * fallback when statx is refused), statfs, the utime family, modes,
 * owners, access, and the uv_fs_get_* accessors, synchronously and
 * through the worker pool. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"

#include <sys/statfs.h>

/* ---------------------------------------------------------------------
 * The stat family.
 */
static void check_same_stat(const uv_stat_t* s, const struct stat* st) {
  CHECK_EQ(s->st_dev, st->st_dev);
  CHECK_EQ(s->st_mode, st->st_mode);
  CHECK_EQ(s->st_nlink, st->st_nlink);
  CHECK_EQ(s->st_uid, st->st_uid);
  CHECK_EQ(s->st_gid, st->st_gid);
  CHECK_EQ(s->st_rdev, st->st_rdev);
  CHECK_EQ(s->st_ino, st->st_ino);
  CHECK_EQ(s->st_size, st->st_size);
  CHECK_EQ(s->st_blksize, st->st_blksize);
  CHECK_EQ(s->st_blocks, st->st_blocks);
  CHECK_EQ(s->st_flags, 0);
  CHECK_EQ(s->st_gen, 0);
  CHECK_EQ(s->st_atim.tv_sec, st->st_atim.tv_sec);
  CHECK_EQ(s->st_atim.tv_nsec, st->st_atim.tv_nsec);
  CHECK_EQ(s->st_mtim.tv_sec, st->st_mtim.tv_sec);
  CHECK_EQ(s->st_mtim.tv_nsec, st->st_mtim.tv_nsec);
  CHECK_EQ(s->st_ctim.tv_sec, st->st_ctim.tv_sec);
  CHECK_EQ(s->st_ctim.tv_nsec, st->st_ctim.tv_nsec);
}

static void check_stat_calls(uv_loop_t* loop) {
  const char* file = fs_path("s");
  const char* link = fs_path("s-link");
  struct stat st;
  uv_fs_t req;
  int fd;
  int base = cb_calls;

  fs_write_file(file, "some data", 9);
  unlink(link);
  CHECK_OK(symlink("s", link));

  CHECK_OK(stat(file, &st));
  memset(&req.statbuf, 0xaa, sizeof(req.statbuf));
  CHECK_OK(uv_fs_stat(NULL, &req, file, NULL));
  CHECK_EQ(req.fs_type, UV_FS_STAT);
  CHECK(req.ptr == &req.statbuf);
  CHECK(uv_fs_get_ptr(&req) == &req.statbuf);
  CHECK(uv_fs_get_statbuf(&req) == &req.statbuf);
  check_same_stat(&req.statbuf, &st);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);

  /* stat follows the link, lstat does not. */
  CHECK_OK(uv_fs_stat(NULL, &req, link, NULL));
  check_same_stat(&req.statbuf, &st);
  CHECK_OK(lstat(link, &st));
  CHECK_OK(uv_fs_lstat(NULL, &req, link, NULL));
  CHECK_EQ(req.fs_type, UV_FS_LSTAT);
  CHECK(S_ISLNK(req.statbuf.st_mode));
  CHECK_EQ(req.statbuf.st_size, 1);
  check_same_stat(&req.statbuf, &st);

  fd = open_file(file, O_RDONLY);
  CHECK_OK(fstat(fd, &st));
  CHECK_OK(uv_fs_fstat(NULL, &req, fd, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FSTAT);
  CHECK(req.ptr == &req.statbuf);
  check_same_stat(&req.statbuf, &st);

  CHECK_OK(uv_fs_fstat(loop, &req, fd, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  check_same_stat(req.ptr, &st);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_stat(loop, &req, file, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  check_same_stat(req.ptr, &st);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_OK(lstat(link, &st));
  CHECK_OK(uv_fs_lstat(loop, &req, link, record_cb));
  CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  check_same_stat(req.ptr, &st);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(cb_calls, base + 3);
  CHECK_OK(close(fd));

  /* A directory, and a path with a trailing slash. */
  CHECK_OK(stat(nl_test_tmpdir(), &st));
  CHECK_OK(uv_fs_stat(NULL, &req, nl_test_tmpdir(), NULL));
  check_same_stat(&req.statbuf, &st);
  CHECK(S_ISDIR(req.statbuf.st_mode));
}

TEST(stat_matches_kernel) {
  uv_loop_t loop;

  start(&loop);
  check_stat_calls(&loop);
  nl_test_close_loop(&loop);
}

TEST(stat_errors) {
  uv_loop_t loop;
  uv_fs_t req;
  int fd;

  start(&loop);
  fs_write_file(fs_path("f"), "", 0);
  CHECK_OK(symlink("loop", fs_path("loop")));
  CHECK_EQ(uv_fs_stat(NULL, &req, missing_path(), NULL), UV_ENOENT);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_lstat(NULL, &req, missing_path(), NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_stat(NULL, &req, fs_path("f/x"), NULL), UV_ENOTDIR);
  CHECK_EQ(uv_fs_stat(NULL, &req, fs_path("loop"), NULL), UV_ELOOP);
  CHECK_OK(uv_fs_lstat(NULL, &req, fs_path("loop"), NULL));
  CHECK(S_ISLNK(req.statbuf.st_mode));
  CHECK_EQ(uv_fs_stat(NULL, &req, "", NULL), UV_ENOENT);
  fs_start_ring(&loop);   /* its descriptor must not take fd's number */
  fd = open_file(fs_path("f"), O_RDONLY);
  CHECK_OK(close(fd));
  CHECK_EQ(uv_fs_fstat(NULL, &req, fd, NULL), UV_EBADF);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_fstat(NULL, &req, -1, NULL), UV_EBADF);
  CHECK_OK(uv_fs_stat(&loop, &req, missing_path(), record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_fstat(&loop, &req, fd, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EBADF);
  nl_test_close_loop(&loop);
}

/* The birth time comes from statx() when the file system records one;
 * otherwise it is zero. A file just created was born at its ctime. */
TEST(stat_birth_time) {
#ifdef SYS_statx
  struct statx x;
  uv_fs_t req;
  int fd;

  fd = open_file(fs_path("born"), O_RDWR | O_CREAT);
  CHECK_OK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BTIME | STATX_CTIME,
                   &x));
  CHECK_OK(uv_fs_fstat(NULL, &req, fd, NULL));
  if (x.stx_mask & STATX_BTIME) {
    CHECK_EQ(req.statbuf.st_birthtim.tv_sec, x.stx_btime.tv_sec);
    CHECK_EQ(req.statbuf.st_birthtim.tv_nsec, x.stx_btime.tv_nsec);
    CHECK_EQ(req.statbuf.st_birthtim.tv_sec, req.statbuf.st_ctim.tv_sec);
    CHECK_EQ(req.statbuf.st_birthtim.tv_nsec, req.statbuf.st_ctim.tv_nsec);
    CHECK_OK(uv_fs_stat(NULL, &req, fs_path("born"), NULL));
    CHECK_EQ(req.statbuf.st_birthtim.tv_nsec, x.stx_btime.tv_nsec);
  } else {
    CHECK_EQ(req.statbuf.st_birthtim.tv_sec, 0);
    CHECK_EQ(req.statbuf.st_birthtim.tv_nsec, 0);
  }
  CHECK_OK(close(fd));
  if (!(x.stx_mask & STATX_BTIME))
    nl_test_skip("this file system records no birth time");
#else
  nl_test_skip("no statx on this system");
#endif
}

/* Without statx() (an old kernel answers ENOSYS, a seccomp filter EPERM)
 * the same fields come from fstatat() and fstat(), without birth time. */
static int blocked_errno;

static void stat_without_statx(void) {
  const int nrs[] = {SYS_statx};
  uv_loop_t loop;
  uv_fs_t req;

  if (fs_block_syscalls(nrs, 1, blocked_errno) != 0)
    _exit(77);
  /* The filter works: */
  CHECK(syscall(SYS_statx, AT_FDCWD, ".", 0, STATX_BASIC_STATS, NULL) == -1);
  CHECK_EQ(errno, blocked_errno);
  start(&loop);
  check_stat_calls(&loop);
  CHECK_OK(uv_fs_stat(NULL, &req, fs_path("s"), NULL));
  CHECK_EQ(req.statbuf.st_birthtim.tv_sec, 0);
  CHECK_EQ(req.statbuf.st_birthtim.tv_nsec, 0);
  CHECK_EQ(uv_fs_stat(NULL, &req, missing_path(), NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_fstat(NULL, &req, -1, NULL), UV_EBADF);
  nl_test_close_loop(&loop);
}

TEST(stat_without_statx_enosys) {
  blocked_errno = ENOSYS;
  fs_in_child(stat_without_statx);
}

TEST(stat_without_statx_eperm) {
  blocked_errno = EPERM;
  fs_in_child(stat_without_statx);
}

TEST(statfs_matches_kernel) {
  uv_statfs_t* s;
  struct statfs k;
  uv_loop_t loop;
  uv_fs_t req;
  long live;
  int i;

  fs_use_counting_allocator();
  start(&loop);
  /* Every pool thread past its start, which frees through the allocator
   * the end of the test puts back. */
  fs_start_pool(&loop);
  CHECK_OK(statfs(nl_test_tmpdir(), &k));
  live = fs_live();
  CHECK_OK(uv_fs_statfs(NULL, &req, nl_test_tmpdir(), NULL));
  CHECK_EQ(req.fs_type, UV_FS_STATFS);
  CHECK_EQ(fs_live(), live + 1);
  s = req.ptr;
  CHECK(s != NULL);
  CHECK_EQ(s->f_type, (uint64_t) k.f_type);
  CHECK_EQ(s->f_bsize, (uint64_t) k.f_bsize);
  CHECK_EQ(s->f_blocks, k.f_blocks);
  CHECK_EQ(s->f_files, k.f_files);
  CHECK(s->f_bavail <= s->f_bfree && s->f_bfree <= s->f_blocks);
  CHECK(s->f_ffree <= s->f_files);
  for (i = 0; i < 4; i++)
    CHECK_EQ(s->f_spare[i], 0);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_EQ(fs_live(), live);
  uv_fs_req_cleanup(&req);

  CHECK_OK(uv_fs_statfs(&loop, &req, nl_test_tmpdir(), record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK_EQ(((uv_statfs_t*) req.ptr)->f_type, (uint64_t) k.f_type);
  uv_fs_req_cleanup(&req);

  CHECK_EQ(uv_fs_statfs(NULL, &req, missing_path(), NULL), UV_ENOENT);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_get_system_error(&req), ENOENT);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_statfs(&loop, &req, missing_path(), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* ---------------------------------------------------------------------
 * Times, modes, owners, access.
 */
static void check_times(const char* path, int nofollow, long sec, long nsec) {
  struct stat st;
  if (nofollow)
    CHECK_OK(lstat(path, &st));
  else
    CHECK_OK(stat(path, &st));
  CHECK_EQ(st.st_mtim.tv_sec, sec);
  CHECK_EQ(st.st_mtim.tv_nsec, nsec);
  if (!nofollow) {
    CHECK_EQ(st.st_atim.tv_sec, sec);
    CHECK_EQ(st.st_atim.tv_nsec, nsec);
  }
}

TEST(utime_family) {
  const char* file = fs_path("times");
  const char* link = fs_path("times-link");
  uv_loop_t loop;
  struct stat st;
  uv_fs_t req;
  int fd;

  start(&loop);
  fs_write_file(file, "t", 1);
  CHECK_OK(symlink("times", link));

  CHECK_OK(uv_fs_utime(NULL, &req, file, 400497753.25, 400497753.25, NULL));
  CHECK_EQ(req.fs_type, UV_FS_UTIME);
  check_times(file, 0, 400497753, 250000000);
  /* Before 1970: the fraction counts up from the second below. */
  CHECK_OK(uv_fs_utime(NULL, &req, file, -14245440.25, -14245440.25, NULL));
  check_times(file, 0, -14245441, 750000000);
  CHECK_OK(uv_fs_utime(&loop, &req, file, 1291404900.5, 1291404900.5,
                       record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  check_times(file, 0, 1291404900, 500000000);
  /* Sub-second precision to within what a double holds. */
  CHECK_OK(uv_fs_utime(NULL, &req, file, 1.0e9 + 0.123456, 1.0e9 + 0.123456,
                       NULL));
  CHECK_OK(stat(file, &st));
  CHECK_EQ(st.st_mtim.tv_sec, 1000000000);
  CHECK(st.st_mtim.tv_nsec > 123455000 && st.st_mtim.tv_nsec < 123457000);

  fd = open_file(file, O_RDWR);
  CHECK_OK(uv_fs_futime(NULL, &req, fd, 12345.75, 12345.75, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FUTIME);
  check_times(file, 0, 12345, 750000000);
  CHECK_OK(uv_fs_futime(&loop, &req, fd, 22222, 22222, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);
  check_times(file, 0, 22222, 0);
  CHECK_OK(close(fd));
  CHECK_EQ(uv_fs_futime(NULL, &req, fd, 1, 1, NULL), UV_EBADF);

  /* lutime changes the link itself, not its target. */
  CHECK_OK(uv_fs_lutime(NULL, &req, link, 5000.5, 5000.5, NULL));
  CHECK_EQ(req.fs_type, UV_FS_LUTIME);
  check_times(link, 1, 5000, 500000000);
  check_times(file, 0, 22222, 0);
  CHECK_OK(uv_fs_lutime(&loop, &req, link, 7000, 7000, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  check_times(link, 1, 7000, 0);
  check_times(file, 0, 22222, 0);

  CHECK_EQ(uv_fs_utime(NULL, &req, missing_path(), 1, 1, NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_lutime(NULL, &req, missing_path(), 1, 1, NULL), UV_ENOENT);
  CHECK_OK(uv_fs_utime(&loop, &req, missing_path(), 1, 1, record_cb));
  finish(&loop, 4);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

static void check_mode(const char* path, mode_t mode) {
  struct stat st;
  CHECK_OK(stat(path, &st));
  CHECK_EQ(st.st_mode & 07777, mode);
}

static void chmod_as_nobody(void) {
  uv_fs_t req;
  if (fs_drop_root() != 0)
    _exit(77);
  CHECK_EQ(uv_fs_chmod(NULL, &req, fs_path("mode"), 0777, NULL), UV_EPERM);
  CHECK_EQ(uv_fs_get_system_error(&req), EPERM);
  CHECK_EQ(uv_fs_chown(NULL, &req, fs_path("mode"), 65534, 65534, NULL),
           UV_EPERM);
  /* Write access to a file that is read-only for others. */
  CHECK_EQ(uv_fs_open(NULL, &req, fs_path("mode"), O_WRONLY, 0, NULL),
           UV_EACCES);
  CHECK_EQ(uv_fs_access(NULL, &req, fs_path("mode"), W_OK, NULL), UV_EACCES);
  CHECK_OK(uv_fs_access(NULL, &req, fs_path("mode"), R_OK, NULL));
}

TEST(chmod_family) {
  const char* file = fs_path("mode");
  uv_loop_t loop;
  uv_fs_t req;
  int fd;

  start(&loop);
  fs_write_file(file, "m", 1);
  CHECK_OK(uv_fs_chmod(NULL, &req, file, 0751, NULL));
  CHECK_EQ(req.fs_type, UV_FS_CHMOD);
  check_mode(file, 0751);
  CHECK_OK(uv_fs_chmod(&loop, &req, file, 0404, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  check_mode(file, 0404);

  fd = open_file(file, O_RDONLY);
  CHECK_OK(uv_fs_fchmod(NULL, &req, fd, 0640, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FCHMOD);
  check_mode(file, 0640);
  CHECK_OK(uv_fs_fchmod(&loop, &req, fd, 01644, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);
  check_mode(file, 01644);
  CHECK_OK(close(fd));
  CHECK_EQ(uv_fs_fchmod(NULL, &req, fd, 0600, NULL), UV_EBADF);
  CHECK_EQ(uv_fs_chmod(NULL, &req, missing_path(), 0600, NULL), UV_ENOENT);
  CHECK_OK(uv_fs_chmod(&loop, &req, missing_path(), 0600, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);

  CHECK_OK(chmod(file, 0644));
  /* Root bypasses permissions: the failures need another user. */
  if (geteuid() == 0)
    fs_in_child(chmod_as_nobody);
  nl_test_close_loop(&loop);
}

static void check_owner(const char* path, int nofollow, uid_t uid,
                        gid_t gid) {
  struct stat st;
  if (nofollow)
    CHECK_OK(lstat(path, &st));
  else
    CHECK_OK(stat(path, &st));
  CHECK_EQ(st.st_uid, uid);
  CHECK_EQ(st.st_gid, gid);
}

TEST(chown_family) {
  const char* file = fs_path("owned");
  const char* link = fs_path("owned-link");
  uv_loop_t loop;
  struct stat st;
  uv_fs_t req;
  uid_t uid;
  gid_t gid;
  int fd;

  start(&loop);
  fs_write_file(file, "o", 1);
  CHECK_OK(symlink("owned", link));
  CHECK_OK(stat(file, &st));
  uid = st.st_uid;
  gid = st.st_gid;

  /* -1 keeps an id. */
  CHECK_OK(uv_fs_chown(NULL, &req, file, (uv_uid_t) -1, (uv_gid_t) -1, NULL));
  CHECK_EQ(req.fs_type, UV_FS_CHOWN);
  fd = open_file(file, O_RDONLY);
  CHECK_OK(uv_fs_fchown(NULL, &req, fd, (uv_uid_t) -1, (uv_gid_t) -1, NULL));
  CHECK_EQ(req.fs_type, UV_FS_FCHOWN);
  CHECK_OK(uv_fs_lchown(NULL, &req, link, (uv_uid_t) -1, (uv_gid_t) -1,
                        NULL));
  CHECK_EQ(req.fs_type, UV_FS_LCHOWN);
  check_owner(file, 0, uid, gid);
  CHECK_OK(uv_fs_chown(&loop, &req, file, uid, (uv_gid_t) -1, record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_lchown(&loop, &req, link, (uv_uid_t) -1, gid, record_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_fchown(&loop, &req, fd, uid, gid, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 0);
  check_owner(file, 0, uid, gid);

  if (geteuid() == 0) {
    CHECK_OK(uv_fs_chown(&loop, &req, file, 65534, 65534, record_cb));
    finish(&loop, 4);
    CHECK_EQ(req.result, 0);
    uv_fs_req_cleanup(&req);
    check_owner(file, 0, 65534, 65534);
    CHECK_OK(uv_fs_fchown(&loop, &req, fd, 0, (uv_gid_t) -1, record_cb));
    finish(&loop, 5);
    CHECK_EQ(req.result, 0);
    check_owner(file, 0, 0, 65534);
    /* lchown changes the link, not the target. */
    CHECK_OK(uv_fs_lchown(&loop, &req, link, 65534, 65534, record_cb));
    finish(&loop, 6);
    CHECK_EQ(req.result, 0);
    uv_fs_req_cleanup(&req);
    check_owner(link, 1, 65534, 65534);
    check_owner(file, 0, 0, 65534);
    CHECK_OK(uv_fs_chown(NULL, &req, file, uid, gid, NULL));
  }
  CHECK_OK(close(fd));
  CHECK_EQ(uv_fs_fchown(NULL, &req, fd, 0, 0, NULL), UV_EBADF);
  CHECK_EQ(uv_fs_chown(NULL, &req, missing_path(), 0, 0, NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_lchown(NULL, &req, missing_path(), 0, 0, NULL), UV_ENOENT);
  nl_test_close_loop(&loop);
}

TEST(access_modes) {
  const char* file = fs_path("acc");
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  CHECK_EQ(uv_fs_access(NULL, &req, file, F_OK, NULL), UV_ENOENT);
  CHECK_OK(uv_fs_access(&loop, &req, file, F_OK, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK_EQ(req.fs_type, UV_FS_ACCESS);
  uv_fs_req_cleanup(&req);

  fs_write_file(file, "a", 1);
  CHECK_OK(chmod(file, 0644));
  CHECK_OK(uv_fs_access(NULL, &req, file, F_OK, NULL));
  CHECK_OK(uv_fs_access(NULL, &req, file, R_OK | W_OK, NULL));
  /* Even root may only execute a file with an execute bit. */
  CHECK_EQ(uv_fs_access(NULL, &req, file, X_OK, NULL), UV_EACCES);
  CHECK_OK(uv_fs_access(&loop, &req, file, X_OK, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EACCES);
  uv_fs_req_cleanup(&req);
  CHECK_OK(chmod(file, 0755));
  CHECK_OK(uv_fs_access(&loop, &req, file, X_OK, record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_access(NULL, &req, file, 0x100, NULL), UV_EINVAL);
  CHECK_OK(uv_fs_access(NULL, &req, nl_test_tmpdir(), W_OK, NULL));
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Accessors.
 */
TEST(accessors) {
  uv_fs_t req;
  int fd;

  CHECK_EQ(uv_fs_get_type(NULL), UV_FS_UNKNOWN);
  CHECK_EQ(uv_fs_get_result(NULL), UV_EINVAL);
  CHECK(uv_fs_get_ptr(NULL) == NULL);
  CHECK(uv_fs_get_path(NULL) == NULL);
  CHECK(uv_fs_get_statbuf(NULL) == NULL);
  CHECK_EQ(uv_fs_get_system_error(NULL), EINVAL);

  CHECK_EQ(uv_fs_stat(NULL, &req, missing_path(), NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_get_type(&req), UV_FS_STAT);
  CHECK_EQ(uv_fs_get_result(&req), UV_ENOENT);
  CHECK_EQ(uv_fs_get_system_error(&req), ENOENT);
  CHECK(uv_fs_get_ptr(&req) == NULL);
  CHECK_STREQ(uv_fs_get_path(&req), missing_path());
  CHECK(uv_fs_get_statbuf(&req) == &req.statbuf);
  CHECK_EQ(uv_req_get_type((uv_req_t*) &req), UV_FS);
  uv_fs_req_cleanup(&req);
  CHECK(uv_fs_get_path(&req) == NULL);

  fd = open_file(fs_path("acc"), O_RDWR | O_CREAT);
  CHECK_EQ(uv_fs_get_result(&req), UV_ENOENT);
  CHECK_OK(uv_fs_fstat(NULL, &req, fd, NULL));
  CHECK_EQ(uv_fs_get_system_error(&req), 0);
  CHECK(uv_fs_get_ptr(&req) == &req.statbuf);

  /* On Unix both handle conversions are the identity. */
  CHECK_EQ(uv_get_osfhandle(fd), fd);
  CHECK_EQ(uv_open_osfhandle(fd), fd);
  CHECK_EQ(uv_get_osfhandle(-1), -1);
  CHECK_OK(close(fd));
}
