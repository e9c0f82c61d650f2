/* File-system requests on names and directories: mkdir, rmdir, mkdtemp,
 * mkstemp, unlink, rename, link, symlink, readlink, realpath, scandir and
 * the opendir/readdir/closedir streams, synchronous and through the
 * worker pool, with their errors. */
/* NL_TEST_THREADED */
#include "fs-helpers.h"

#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>

static void check_is_dir(const char* path, mode_t mode) {
  struct stat st;
  CHECK_OK(lstat(path, &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, mode);
}

/* ---------------------------------------------------------------------
 * mkdir, rmdir.
 */
TEST(mkdir_rmdir) {
  uv_loop_t loop;
  uv_fs_t req;
  mode_t old;

  start(&loop);
  old = umask(0);
  CHECK_OK(uv_fs_mkdir(NULL, &req, fs_path("d"), 0750, NULL));
  CHECK_EQ(req.fs_type, UV_FS_MKDIR);
  check_is_dir(fs_path("d"), 0750);
  CHECK_OK(uv_fs_mkdir(&loop, &req, fs_path("d/e"), 0705, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK_STREQ(req.path, fs_path("d/e"));
  uv_fs_req_cleanup(&req);
  check_is_dir(fs_path("d/e"), 0705);
  umask(old);

  fs_write_file(fs_path("file"), "", 0);
  CHECK_EQ(uv_fs_mkdir(NULL, &req, fs_path("d"), 0755, NULL), UV_EEXIST);
  CHECK_EQ(uv_fs_mkdir(NULL, &req, fs_path("no/d"), 0755, NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_mkdir(NULL, &req, fs_path("file/d"), 0755, NULL),
           UV_ENOTDIR);
  CHECK_OK(uv_fs_mkdir(&loop, &req, fs_path("d"), 0755, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EEXIST);
  uv_fs_req_cleanup(&req);

  CHECK_EQ(uv_fs_rmdir(NULL, &req, fs_path("d"), NULL), UV_ENOTEMPTY);
  CHECK_EQ(req.fs_type, UV_FS_RMDIR);
  CHECK_EQ(uv_fs_rmdir(NULL, &req, fs_path("file"), NULL), UV_ENOTDIR);
  CHECK_EQ(uv_fs_rmdir(NULL, &req, fs_path("none"), NULL), UV_ENOENT);
  CHECK_OK(uv_fs_rmdir(NULL, &req, fs_path("d/e"), NULL));
  CHECK(!fs_exists(fs_path("d/e")));
  CHECK_OK(uv_fs_rmdir(&loop, &req, fs_path("d"), record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK(!fs_exists(fs_path("d")));
  CHECK_OK(uv_fs_rmdir(&loop, &req, fs_path("d"), record_cb));
  finish(&loop, 4);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * mkdtemp, mkstemp.
 */
static void check_generated(const char* tpl, const char* made) {
  size_t len = strlen(tpl);
  CHECK_EQ(strlen(made), len);
  CHECK(memcmp(made, tpl, len - 6) == 0);
  CHECK(memcmp(made + len - 6, "XXXXXX", 6) != 0);
}

TEST(mkdtemp) {
  char tpl[512];
  char first[512];
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  snprintf(tpl, sizeof(tpl), "%s", fs_path("tmp-XXXXXX"));
  CHECK_OK(uv_fs_mkdtemp(NULL, &req, tpl, NULL));
  CHECK_EQ(req.fs_type, UV_FS_MKDTEMP);
  /* The caller's template is left alone; the name is in req->path. */
  CHECK(req.path != tpl);
  CHECK(strstr(tpl, "XXXXXX") != NULL);
  check_generated(tpl, req.path);
  check_is_dir(req.path, 0700);
  snprintf(first, sizeof(first), "%s", req.path);
  uv_fs_req_cleanup(&req);
  CHECK(req.path == NULL);

  CHECK_OK(uv_fs_mkdtemp(&loop, &req, tpl, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  check_generated(tpl, req.path);
  check_is_dir(req.path, 0700);
  CHECK(strcmp(req.path, first) != 0);
  uv_fs_req_cleanup(&req);

  /* Not six X's at the end: UV_EINVAL from the operation, empty path. */
  CHECK_EQ(uv_fs_mkdtemp(NULL, &req, fs_path("tmp-XXXXX"), NULL), UV_EINVAL);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_mkdtemp(NULL, &req, fs_path("XXXXXX-tmp"), NULL), UV_EINVAL);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_mkdtemp(NULL, &req, "", NULL), UV_EINVAL);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_mkdtemp(&loop, &req, "bad", record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EINVAL);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_mkdtemp(NULL, &req, fs_path("no/XXXXXX"), NULL), UV_ENOENT);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(mkstemp) {
  char tpl[512];
  uv_loop_t loop;
  uv_buf_t b = uv_buf_init("temp", 4);
  struct stat st;
  uv_fs_t req;
  uv_fs_t w;
  char got[8];
  int fd;

  start(&loop);
  snprintf(tpl, sizeof(tpl), "%s", fs_path("file-XXXXXX"));
  fd = uv_fs_mkstemp(NULL, &req, tpl, NULL);
  CHECK(fd >= 0);
  CHECK_EQ(req.result, fd);
  CHECK_EQ(req.fs_type, UV_FS_MKSTEMP);
  check_generated(tpl, req.path);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK_OK(fstat(fd, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0600);
  CHECK_EQ(uv_fs_write(NULL, &w, fd, &b, 1, -1, NULL), 4);
  CHECK_EQ(fs_read_file(req.path, got, sizeof(got)), 4);
  CHECK_OK(close(fd));
  uv_fs_req_cleanup(&req);

  CHECK_OK(uv_fs_mkstemp(&loop, &req, tpl, record_cb));
  finish(&loop, 1);
  CHECK(req.result >= 0);
  check_generated(tpl, req.path);
  CHECK(fs_exists(req.path));
  CHECK_OK(close((int) req.result));
  uv_fs_req_cleanup(&req);

  CHECK_EQ(uv_fs_mkstemp(NULL, &req, fs_path("file"), NULL), UV_EINVAL);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_mkstemp(NULL, &req, fs_path("no/XXXXXX"), NULL), UV_ENOENT);
  CHECK_STREQ(req.path, "");
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_mkstemp(&loop, &req, "XXXXX", record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EINVAL);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * unlink, rename, link.
 */
TEST(unlink) {
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  fs_write_file(fs_path("target"), "t", 1);
  CHECK_OK(symlink("target", fs_path("link")));
  CHECK_OK(mkdir(fs_path("dir"), 0755));

  /* Unlinking a link leaves its target. */
  CHECK_OK(uv_fs_unlink(NULL, &req, fs_path("link"), NULL));
  CHECK_EQ(req.fs_type, UV_FS_UNLINK);
  CHECK(!fs_exists(fs_path("link")));
  CHECK(fs_exists(fs_path("target")));
  CHECK_OK(uv_fs_unlink(&loop, &req, fs_path("target"), record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK(!fs_exists(fs_path("target")));

  CHECK_EQ(uv_fs_unlink(NULL, &req, fs_path("target"), NULL), UV_ENOENT);
  CHECK_EQ(uv_fs_unlink(NULL, &req, fs_path("dir"), NULL), UV_EISDIR);
  CHECK_OK(uv_fs_unlink(&loop, &req, fs_path("target"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(rename) {
  uv_loop_t loop;
  uv_fs_t req;
  char got[16];

  start(&loop);
  fs_write_file(fs_path("a"), "alpha", 5);
  fs_write_file(fs_path("b"), "bravo-longer", 12);
  CHECK_OK(mkdir(fs_path("dir"), 0755));

  /* Over an existing file, which is replaced. */
  CHECK_OK(uv_fs_rename(NULL, &req, fs_path("a"), fs_path("b"), NULL));
  CHECK_EQ(req.fs_type, UV_FS_RENAME);
  CHECK(req.path != NULL && req.new_path != NULL);
  CHECK(!fs_exists(fs_path("a")));
  CHECK_EQ(fs_read_file(fs_path("b"), got, sizeof(got)), 5);
  CHECK(memcmp(got, "alpha", 5) == 0);

  CHECK_OK(uv_fs_rename(&loop, &req, fs_path("b"), fs_path("c"), record_cb));
  CHECK_STREQ(req.new_path, fs_path("c"));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK(req.new_path == NULL);
  CHECK(fs_exists(fs_path("c")));

  CHECK_EQ(uv_fs_rename(NULL, &req, fs_path("a"), fs_path("x"), NULL),
           UV_ENOENT);
  CHECK_EQ(uv_fs_rename(NULL, &req, fs_path("c"), fs_path("dir"), NULL),
           UV_EISDIR);
  CHECK_EQ(uv_fs_rename(NULL, &req, fs_path("dir"), fs_path("c"), NULL),
           UV_ENOTDIR);
  CHECK_OK(uv_fs_rename(&loop, &req, fs_path("a"), fs_path("x"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOENT);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(link) {
  uv_loop_t loop;
  struct stat st;
  uv_fs_t req;

  start(&loop);
  fs_write_file(fs_path("orig"), "o", 1);
  CHECK_OK(mkdir(fs_path("dir"), 0755));
  CHECK_OK(uv_fs_link(NULL, &req, fs_path("orig"), fs_path("hard"), NULL));
  CHECK_EQ(req.fs_type, UV_FS_LINK);
  CHECK_OK(uv_fs_link(&loop, &req, fs_path("orig"), fs_path("hard2"),
                      record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  CHECK_OK(stat(fs_path("orig"), &st));
  CHECK_EQ(st.st_nlink, 3);

  CHECK_EQ(uv_fs_link(NULL, &req, fs_path("orig"), fs_path("hard"), NULL),
           UV_EEXIST);
  CHECK_EQ(uv_fs_link(NULL, &req, fs_path("none"), fs_path("x"), NULL),
           UV_ENOENT);
  /* No hard links to directories. */
  CHECK_EQ(uv_fs_link(NULL, &req, fs_path("dir"), fs_path("x"), NULL),
           UV_EPERM);
  CHECK_OK(uv_fs_link(&loop, &req, fs_path("orig"), fs_path("hard"),
                      record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_EEXIST);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * symlink, readlink, realpath.
 */
TEST(symlink_readlink) {
  static char long_target[3001];
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  fs_write_file(fs_path("file"), "f", 1);
  CHECK_OK(uv_fs_symlink(NULL, &req, "file", fs_path("l1"), 0, NULL));
  CHECK_EQ(req.fs_type, UV_FS_SYMLINK);
  /* The Windows-only flags change nothing here. */
  CHECK_OK(uv_fs_symlink(&loop, &req, "file", fs_path("l2"),
                         UV_FS_SYMLINK_DIR, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  uv_fs_req_cleanup(&req);
  /* A link to nothing is still a link. */
  CHECK_OK(uv_fs_symlink(NULL, &req, "nowhere", fs_path("dangling"), 0,
                         NULL));
  CHECK_EQ(uv_fs_symlink(NULL, &req, "file", fs_path("l1"), 0, NULL),
           UV_EEXIST);

  CHECK_OK(uv_fs_readlink(NULL, &req, fs_path("l1"), NULL));
  CHECK_EQ(req.fs_type, UV_FS_READLINK);
  CHECK_STREQ(req.ptr, "file");
  CHECK(uv_fs_get_ptr(&req) == req.ptr);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_OK(uv_fs_readlink(&loop, &req, fs_path("dangling"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, 0);
  CHECK_STREQ(req.ptr, "nowhere");
  uv_fs_req_cleanup(&req);

  /* Longer than the first buffer tried. */
  memset(long_target, 'q', sizeof(long_target) - 1);
  CHECK_OK(symlink(long_target, fs_path("long")));
  CHECK_OK(uv_fs_readlink(NULL, &req, fs_path("long"), NULL));
  CHECK_STREQ(req.ptr, long_target);
  uv_fs_req_cleanup(&req);

  CHECK_EQ(uv_fs_readlink(NULL, &req, fs_path("file"), NULL), UV_EINVAL);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_readlink(NULL, &req, fs_path("none"), NULL), UV_ENOENT);
  CHECK(req.ptr == NULL);
  CHECK_OK(uv_fs_readlink(&loop, &req, fs_path("none"), record_cb));
  finish(&loop, 3);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(realpath) {
  char expect[PATH_MAX];
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  CHECK(realpath(nl_test_tmpdir(), expect) != NULL);
  strcat(expect, "/sub/file");
  CHECK_OK(mkdir(fs_path("sub"), 0755));
  fs_write_file(fs_path("sub/file"), "r", 1);
  CHECK_OK(symlink("sub", fs_path("via")));

  CHECK_OK(uv_fs_realpath(NULL, &req, fs_path("via/../via/./file"), NULL));
  CHECK_EQ(req.fs_type, UV_FS_REALPATH);
  CHECK_STREQ(req.ptr, expect);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_OK(uv_fs_realpath(&loop, &req, fs_path("sub//file"), record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK_STREQ(req.ptr, expect);
  uv_fs_req_cleanup(&req);

  CHECK_EQ(uv_fs_realpath(NULL, &req, fs_path("via/none"), NULL), UV_ENOENT);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_realpath(NULL, &req, fs_path("sub/file/x"), NULL),
           UV_ENOTDIR);
  CHECK_OK(uv_fs_realpath(&loop, &req, fs_path("none"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * scandir.
 */

/* A directory with an entry of each kind: returns how many. */
static int make_varied_dir(const char* dir) {
  struct sockaddr_un sa;
  char path[600];
  int s;

  CHECK_OK(mkdir(dir, 0755));
  snprintf(path, sizeof(path), "%s/regular", dir);
  fs_write_file(path, "r", 1);
  snprintf(path, sizeof(path), "%s/subdir", dir);
  CHECK_OK(mkdir(path, 0755));
  snprintf(path, sizeof(path), "%s/symlink", dir);
  CHECK_OK(symlink("regular", path));
  snprintf(path, sizeof(path), "%s/fifo", dir);
  CHECK_OK(mkfifo(path, 0644));
  snprintf(path, sizeof(path), "%s/socket", dir);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  CHECK(strlen(path) < sizeof(sa.sun_path));
  strcpy(sa.sun_path, path);
  s = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(s >= 0);
  CHECK_OK(bind(s, (struct sockaddr*) &sa, sizeof(sa)));
  CHECK_OK(close(s));
  return 5;
}

static uv_dirent_type_t expected_type(const char* name) {
  if (strcmp(name, "regular") == 0)
    return UV_DIRENT_FILE;
  if (strcmp(name, "subdir") == 0)
    return UV_DIRENT_DIR;
  if (strcmp(name, "symlink") == 0)
    return UV_DIRENT_LINK;
  if (strcmp(name, "fifo") == 0)
    return UV_DIRENT_FIFO;
  if (strcmp(name, "socket") == 0)
    return UV_DIRENT_SOCKET;
  return UV_DIRENT_UNKNOWN;
}

/* The file system of the scratch directory reports entry types (tmpfs,
 * ext4, btrfs, xfs, overlayfs all do). */
static int fs_reports_types(void) {
  DIR* d = opendir(nl_test_tmpdir());
  struct dirent* de;
  int known = 0;
  CHECK(d != NULL);
  while ((de = readdir(d)) != NULL)
    if (de->d_type != DT_UNKNOWN)
      known = 1;
  closedir(d);
  return known;
}

static void check_scan(uv_fs_t* req, int count) {
  char prev[256] = "";
  uv_dirent_t ent;
  int seen = 0;

  CHECK_EQ(req->result, count);
  CHECK(req->ptr != NULL);
  while (uv_fs_scandir_next(req, &ent) == 0) {
    CHECK(strcmp(ent.name, ".") != 0 && strcmp(ent.name, "..") != 0);
    /* Byte order, as strcmp sorts. */
    CHECK(strcmp(prev, ent.name) < 0);
    snprintf(prev, sizeof(prev), "%s", ent.name);
    if (fs_reports_types())
      CHECK_EQ(ent.type, expected_type(ent.name));
    seen++;
  }
  CHECK_EQ(seen, count);
  CHECK_EQ(uv_fs_scandir_next(req, &ent), UV_EOF);
  CHECK_EQ(uv_fs_scandir_next(req, &ent), UV_EOF);
}

TEST(scandir_sorted_with_types) {
  const char* dir = fs_path("varied");
  uv_loop_t loop;
  uv_fs_t req;
  int n;

  start(&loop);
  n = make_varied_dir(dir);
  CHECK_EQ(uv_fs_scandir(NULL, &req, dir, 0, NULL), n);
  CHECK_EQ(req.fs_type, UV_FS_SCANDIR);
  check_scan(&req, n);
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);

  CHECK_OK(uv_fs_scandir(&loop, &req, dir, 0, record_cb));
  finish(&loop, 1);
  check_scan(&req, n);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}

TEST(scandir_many_entries) {
  const char* dir = fs_path("many");
  char name[600];
  uv_dirent_t ent;
  uv_fs_t req;
  int i;

  long live;

  fs_use_counting_allocator();
  live = fs_live();
  CHECK_OK(mkdir(dir, 0755));
  /* Created in an order unrelated to the sorted one. */
  for (i = 0; i < 200; i++) {
    snprintf(name, sizeof(name), "%s/e%03d", dir, (i * 37) % 200);
    fs_write_file(name, "", 0);
  }
  CHECK_EQ(uv_fs_scandir(NULL, &req, dir, 0, NULL), 200);
  for (i = 0; i < 200; i++) {
    CHECK_OK(uv_fs_scandir_next(&req, &ent));
    snprintf(name, sizeof(name), "e%03d", i);
    CHECK_STREQ(ent.name, name);
  }
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_EOF);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

TEST(scandir_empty_and_errors) {
  uv_dirent_t ent;
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  CHECK_OK(mkdir(fs_path("empty"), 0755));
  fs_write_file(fs_path("file"), "", 0);

  memset(&req, 0xdb, sizeof(req));
  CHECK_EQ(uv_fs_scandir(NULL, &req, fs_path("empty"), 0, NULL), 0);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_EOF);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_scandir(&loop, &req, fs_path("empty"), 0, record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, 0);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_EOF);
  uv_fs_req_cleanup(&req);

  /* A failed scan hands its error out again. */
  memset(&req, 0xdb, sizeof(req));
  CHECK_EQ(uv_fs_scandir(NULL, &req, fs_path("none"), 0, NULL), UV_ENOENT);
  CHECK(req.ptr == NULL);
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_ENOENT);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_scandir(NULL, &req, fs_path("file"), 0, NULL), UV_ENOTDIR);
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_ENOTDIR);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_scandir(&loop, &req, fs_path("file"), 0, record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOTDIR);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_scandir_next(&req, NULL), UV_EINVAL);
  /* Only a scandir request has entries. */
  CHECK_OK(uv_fs_stat(NULL, &req, fs_path("file"), NULL));
  CHECK_EQ(uv_fs_scandir_next(&req, &ent), UV_EINVAL);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * opendir, readdir, closedir.
 */
TEST(readdir_in_batches) {
  const char* dir = fs_path("varied");
  uv_dirent_t ents[2];
  int found[5];
  uv_dir_t* d;
  uv_fs_t req;
  long live;
  int total = 0;
  int n;
  int i;

  make_varied_dir(dir);
  fs_use_counting_allocator();
  live = fs_live();
  memset(&req, 0xdb, sizeof(req));
  CHECK_OK(uv_fs_opendir(NULL, &req, dir, NULL));
  CHECK_EQ(req.fs_type, UV_FS_OPENDIR);
  d = req.ptr;
  CHECK(d != NULL);
  /* The uv_dir_t is the caller's until closedir. */
  uv_fs_req_cleanup(&req);
  CHECK(req.ptr == NULL);
  CHECK_EQ(fs_live(), live + 1);

  d->dirents = ents;
  d->nentries = 2;
  memset(found, 0, sizeof(found));
  for (;;) {
    memset(&req, 0xdb, sizeof(req));
    n = uv_fs_readdir(NULL, &req, d, NULL);
    CHECK_EQ(req.fs_type, UV_FS_READDIR);
    CHECK(req.ptr == d);
    CHECK(n >= 0 && n <= 2);
    if (n == 0)
      break;
    /* Full batches until the last. */
    CHECK(n == 2 || total == 4);
    for (i = 0; i < n; i++) {
      uv_dirent_type_t t = expected_type(ents[i].name);
      CHECK(t != UV_DIRENT_UNKNOWN);
      CHECK_EQ(found[t - 1]++, 0);
      if (fs_reports_types())
        CHECK_EQ(ents[i].type, t);
    }
    total += n;
    /* The names are the request's until its cleanup. */
    uv_fs_req_cleanup(&req);
    CHECK(ents[0].name == NULL);
  }
  uv_fs_req_cleanup(&req);
  CHECK_EQ(total, 5);
  /* Still at the end. */
  CHECK_EQ(uv_fs_readdir(NULL, &req, d, NULL), 0);

  memset(&req, 0xdb, sizeof(req));
  CHECK_OK(uv_fs_closedir(NULL, &req, d, NULL));
  CHECK_EQ(req.fs_type, UV_FS_CLOSEDIR);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(fs_live(), live);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* The same, chained through callbacks: opendir, readdir until 0,
 * closedir. */
static uv_fs_t opendir_req;
static uv_fs_t readdir_req;
static uv_fs_t closedir_req;
static uv_dirent_t chain_ents[3];
static int chain_entries;
static int chain_closed;

static void chain_closedir_cb(uv_fs_t* req) {
  CHECK(req == &closedir_req);
  CHECK_EQ(req->result, 0);
  chain_closed++;
  uv_fs_req_cleanup(req);
}

static void chain_readdir_cb(uv_fs_t* req) {
  uv_dir_t* dir = req->ptr;

  CHECK(req == &readdir_req);
  CHECK(req->result >= 0);
  if (req->result == 0) {
    uv_fs_req_cleanup(req);
    CHECK_OK(uv_fs_closedir(req->loop, &closedir_req, dir,
                            chain_closedir_cb));
    return;
  }
  CHECK(dir->dirents == chain_ents);
  CHECK(expected_type(chain_ents[0].name) != UV_DIRENT_UNKNOWN);
  chain_entries += (int) req->result;
  uv_fs_req_cleanup(req);
  CHECK_OK(uv_fs_readdir(req->loop, &readdir_req, dir, chain_readdir_cb));
}

static void chain_opendir_cb(uv_fs_t* req) {
  uv_dir_t* dir;

  CHECK(req == &opendir_req);
  CHECK_EQ(req->result, 0);
  dir = req->ptr;
  dir->dirents = chain_ents;
  dir->nentries = 3;
  CHECK_OK(uv_fs_readdir(req->loop, &readdir_req, dir, chain_readdir_cb));
  uv_fs_req_cleanup(req);
}

TEST(readdir_async_chain) {
  uv_loop_t loop;
  long live;

  make_varied_dir(fs_path("varied"));
  fs_use_counting_allocator();
  start(&loop);
  fs_start_pool(&loop);
  live = fs_live();
  CHECK_OK(uv_fs_opendir(&loop, &opendir_req, fs_path("varied"),
                         chain_opendir_cb));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(chain_entries, 5);
  CHECK_EQ(chain_closed, 1);
  CHECK_EQ(fs_live(), live);
  nl_test_close_loop(&loop);
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

TEST(opendir_errors) {
  uv_loop_t loop;
  uv_fs_t req;

  start(&loop);
  fs_write_file(fs_path("file"), "", 0);
  memset(&req, 0xdb, sizeof(req));
  CHECK_EQ(uv_fs_opendir(NULL, &req, fs_path("none"), NULL), UV_ENOENT);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_EQ(uv_fs_opendir(NULL, &req, fs_path("file"), NULL), UV_ENOTDIR);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_opendir(&loop, &req, fs_path("none"), record_cb));
  finish(&loop, 1);
  CHECK_EQ(req.result, UV_ENOENT);
  CHECK(req.ptr == NULL);
  uv_fs_req_cleanup(&req);
  CHECK_OK(uv_fs_opendir(&loop, &req, fs_path("file"), record_cb));
  finish(&loop, 2);
  CHECK_EQ(req.result, UV_ENOTDIR);
  uv_fs_req_cleanup(&req);
  nl_test_close_loop(&loop);
}
