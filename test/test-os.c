/* Tests of the process and user functions in src/os.c: environment, ids,
 * directories, password entry, host name, uname, priority, rusage, time
 * of day and uv_guess_handle(). */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * A counting allocator, to check what a function leaves allocated.
 */
static long live_allocs;

static void* count_malloc(size_t n) {
  void* p = malloc(n);
  if (p != NULL)
    live_allocs++;
  return p;
}

static void* count_realloc(void* p, size_t n) {
  void* q = realloc(p, n);
  if (p == NULL && q != NULL)
    live_allocs++;
  return q;
}

static void* count_calloc(size_t c, size_t n) {
  void* p = calloc(c, n);
  if (p != NULL)
    live_allocs++;
  return p;
}

static void count_free(void* p) {
  if (p != NULL)
    live_allocs--;
  free(p);
}

static void use_counting_allocator(void) {
  CHECK_OK(uv_replace_allocator(count_malloc, count_realloc, count_calloc,
                                count_free));
  live_allocs = 0;
}

static void use_libc_allocator(void) {
  CHECK_OK(uv_replace_allocator(malloc, realloc, calloc, free));
}

/* ---------------------------------------------------------------------
 * Environment.
 */
TEST(env_round_trip) {
  char buf[16];
  size_t size;

  CHECK_OK(uv_os_setenv("NL_TEST_VAR", "hello"));
  size = sizeof(buf);
  CHECK_OK(uv_os_getenv("NL_TEST_VAR", buf, &size));
  CHECK_STREQ(buf, "hello");
  CHECK_EQ(size, 5);
  CHECK_STREQ(getenv("NL_TEST_VAR"), "hello");

  /* Overwrites an existing value. */
  CHECK_OK(uv_os_setenv("NL_TEST_VAR", "a=b"));
  size = sizeof(buf);
  CHECK_OK(uv_os_getenv("NL_TEST_VAR", buf, &size));
  CHECK_STREQ(buf, "a=b");
  CHECK_EQ(size, 3);

  /* An empty value is a value, not a deletion. */
  CHECK_OK(uv_os_setenv("NL_TEST_VAR", ""));
  size = sizeof(buf);
  buf[0] = 'x';
  CHECK_OK(uv_os_getenv("NL_TEST_VAR", buf, &size));
  CHECK_EQ(size, 0);
  CHECK_EQ(buf[0], '\0');

  CHECK_OK(uv_os_unsetenv("NL_TEST_VAR"));
  CHECK(getenv("NL_TEST_VAR") == NULL);
  size = sizeof(buf);
  CHECK_EQ(uv_os_getenv("NL_TEST_VAR", buf, &size), UV_ENOENT);
  /* Deleting what is not there succeeds. */
  CHECK_OK(uv_os_unsetenv("NL_TEST_VAR"));
}

TEST(env_enobufs) {
  char buf[16];
  size_t size;

  CHECK_OK(uv_os_setenv("NL_TEST_VAR", "123456789"));

  /* Exactly room for the value and its NUL. */
  size = 10;
  CHECK_OK(uv_os_getenv("NL_TEST_VAR", buf, &size));
  CHECK_EQ(size, 9);
  CHECK_STREQ(buf, "123456789");

  /* One byte short: nothing written, *size is the length plus NUL. */
  size = 9;
  memset(buf, '#', sizeof(buf));
  CHECK_EQ(uv_os_getenv("NL_TEST_VAR", buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, 10);
  CHECK_EQ(buf[0], '#');

  size = 1;
  CHECK_EQ(uv_os_getenv("NL_TEST_VAR", buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, 10);
}

TEST(env_large_value) {
  size_t n = 200000;
  size_t size = n + 1;
  char* value = malloc(n + 1);
  char* out = malloc(n + 1);

  CHECK(value != NULL && out != NULL);
  memset(value, 'v', n);
  value[n] = '\0';
  CHECK_OK(uv_os_setenv("NL_TEST_BIG", value));
  CHECK_OK(uv_os_getenv("NL_TEST_BIG", out, &size));
  CHECK_EQ(size, n);
  CHECK(memcmp(out, value, n + 1) == 0);
  size = n;
  CHECK_EQ(uv_os_getenv("NL_TEST_BIG", out, &size), UV_ENOBUFS);
  CHECK_EQ(size, n + 1);
  CHECK_OK(uv_os_unsetenv("NL_TEST_BIG"));
  free(value);
  free(out);
}

TEST(env_invalid) {
  char buf[8];
  size_t size = sizeof(buf);

  CHECK_EQ(uv_os_setenv(NULL, "x"), UV_EINVAL);
  CHECK_EQ(uv_os_setenv("NL_TEST_VAR", NULL), UV_EINVAL);
  CHECK_EQ(uv_os_setenv(NULL, NULL), UV_EINVAL);
  CHECK_EQ(uv_os_setenv("", "x"), UV_EINVAL);
  CHECK_EQ(uv_os_setenv("A=B", "x"), UV_EINVAL);

  CHECK_EQ(uv_os_getenv(NULL, buf, &size), UV_EINVAL);
  CHECK_EQ(uv_os_getenv("PATH", NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_os_getenv("PATH", buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_os_getenv("PATH", buf, &size), UV_EINVAL);

  CHECK_EQ(uv_os_unsetenv(NULL), UV_EINVAL);
  CHECK_EQ(uv_os_unsetenv(""), UV_EINVAL);
  CHECK_EQ(uv_os_unsetenv("A=B"), UV_EINVAL);
}

TEST(environ_lists_everything) {
  uv_env_item_t* items;
  size_t expected = 0;
  int count;
  int found = 0;
  int found_empty = 0;
  int i;

  CHECK_OK(uv_os_setenv("NL_TEST_ENV1", "x=y=z"));
  CHECK_OK(uv_os_setenv("NL_TEST_ENV2", ""));
  for (i = 0; environ[i] != NULL; i++)
    expected++;

  CHECK_OK(uv_os_environ(&items, &count));
  CHECK_EQ(count, expected);
  for (i = 0; i < count; i++) {
    CHECK(items[i].name != NULL && items[i].value != NULL);
    CHECK(strchr(items[i].name, '=') == NULL);
    /* Every entry agrees with getenv(). */
    CHECK_STREQ(getenv(items[i].name), items[i].value);
    if (strcmp(items[i].name, "NL_TEST_ENV1") == 0) {
      CHECK_STREQ(items[i].value, "x=y=z");
      found++;
    }
    if (strcmp(items[i].name, "NL_TEST_ENV2") == 0) {
      CHECK_STREQ(items[i].value, "");
      found_empty++;
    }
  }
  CHECK_EQ(found, 1);
  CHECK_EQ(found_empty, 1);
  uv_os_free_environ(items, count);
}

TEST(environ_single_allocation) {
  uv_env_item_t* items;
  int count;

  use_counting_allocator();
  CHECK_OK(uv_os_environ(&items, &count));
  CHECK(count > 0);
  CHECK_EQ(live_allocs, 1);
  uv_os_free_environ(items, count);
  CHECK_EQ(live_allocs, 0);
  use_libc_allocator();
}

TEST(environ_invalid) {
  uv_env_item_t* items;
  int count;

  CHECK_EQ(uv_os_environ(NULL, &count), UV_EINVAL);
  CHECK_EQ(uv_os_environ(&items, NULL), UV_EINVAL);
  uv_os_free_environ(NULL, 0);
}

/* ---------------------------------------------------------------------
 * Process ids.
 */
TEST(pids) {
  CHECK_EQ(uv_os_getpid(), getpid());
  CHECK_EQ(uv_os_getppid(), getppid());
  CHECK(uv_os_getpid() > 0);
  CHECK(uv_os_getppid() > 0);
}

/* ---------------------------------------------------------------------
 * Home and temp directories.
 */
static void expect_homedir(const char* want) {
  char buf[PATH_MAX];
  size_t size = sizeof(buf);
  size_t len = strlen(want);

  CHECK_OK(uv_os_homedir(buf, &size));
  CHECK_STREQ(buf, want);
  CHECK_EQ(size, len);

  /* Exactly enough room, then one byte short. */
  size = len + 1;
  CHECK_OK(uv_os_homedir(buf, &size));
  CHECK_EQ(size, len);
  size = len;
  buf[0] = '#';
  CHECK_EQ(uv_os_homedir(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  CHECK_EQ(buf[0], '#');
}

TEST(homedir_from_env) {
  CHECK_OK(uv_os_setenv("HOME", "/nl/home/dir"));
  expect_homedir("/nl/home/dir");
  /* HOME comes back as it is, trailing slashes and all, as in libuv
   * (and in Node's os.homedir()). */
  CHECK_OK(uv_os_setenv("HOME", "/nl/home/dir//"));
  expect_homedir("/nl/home/dir//");
  CHECK_OK(uv_os_setenv("HOME", "/"));
  expect_homedir("/");
  CHECK_OK(uv_os_setenv("HOME", "//"));
  expect_homedir("//");
}

TEST(homedir_from_passwd) {
  struct passwd* pw = getpwuid(geteuid());
  char want[PATH_MAX];
  size_t len;

  if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] == '\0')
    nl_test_skip("no password entry with a home directory");
  snprintf(want, sizeof(want), "%s", pw->pw_dir);
  len = strlen(want);
  CHECK(len > 0);

  CHECK_OK(uv_os_unsetenv("HOME"));
  expect_homedir(want);
  /* An empty HOME is still HOME, as in libuv. */
  CHECK_OK(uv_os_setenv("HOME", ""));
  {
    char buf[8] = "x";
    size_t size = sizeof(buf);
    CHECK_OK(uv_os_homedir(buf, &size));
    CHECK_STREQ(buf, "");
    CHECK_EQ(size, 0);
  }
}

TEST(homedir_invalid) {
  char buf[64];
  size_t size = sizeof(buf);

  CHECK_EQ(uv_os_homedir(NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_os_homedir(buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_os_homedir(buf, &size), UV_EINVAL);
}

static void expect_tmpdir(const char* want) {
  char buf[PATH_MAX];
  size_t size = sizeof(buf);
  size_t len = strlen(want);

  CHECK_OK(uv_os_tmpdir(buf, &size));
  CHECK_STREQ(buf, want);
  CHECK_EQ(size, len);
  size = len;
  buf[0] = '#';
  CHECK_EQ(uv_os_tmpdir(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  CHECK_EQ(buf[0], '#');
  size = len + 1;
  CHECK_OK(uv_os_tmpdir(buf, &size));
  CHECK_EQ(size, len);
}

TEST(tmpdir_order) {
  CHECK_OK(uv_os_unsetenv("TMPDIR"));
  CHECK_OK(uv_os_unsetenv("TMP"));
  CHECK_OK(uv_os_unsetenv("TEMP"));
  CHECK_OK(uv_os_unsetenv("TEMPDIR"));
  expect_tmpdir("/tmp");

  CHECK_OK(uv_os_setenv("TEMPDIR", "/nl/tempdir"));
  expect_tmpdir("/nl/tempdir");
  CHECK_OK(uv_os_setenv("TEMP", "/nl/temp"));
  expect_tmpdir("/nl/temp");
  CHECK_OK(uv_os_setenv("TMP", "/nl/tmp"));
  expect_tmpdir("/nl/tmp");
  CHECK_OK(uv_os_setenv("TMPDIR", "/nl/tmpdir"));
  expect_tmpdir("/nl/tmpdir");

  CHECK_OK(uv_os_setenv("TMPDIR", "/"));
  expect_tmpdir("/");
}

/* A variable set to the empty string still counts, and is what comes
 * back, as in libuv. */
TEST(tmpdir_empty_variable) {
  char buf[16] = "x";
  size_t size = sizeof(buf);

  CHECK_OK(uv_os_unsetenv("TMPDIR"));
  CHECK_OK(uv_os_setenv("TMP", ""));
  CHECK_OK(uv_os_setenv("TEMP", "/nl/temp"));
  CHECK_OK(uv_os_tmpdir(buf, &size));
  CHECK_STREQ(buf, "");
  CHECK_EQ(size, 0);
}

/* One trailing slash is dropped, as in libuv; the size asked for when the
 * buffer is short is that of the value as it is. */
static void expect_tmpdir_from(const char* value, const char* want) {
  char buf[PATH_MAX];
  size_t size = sizeof(buf);

  CHECK_OK(uv_os_setenv("TMPDIR", value));
  CHECK_OK(uv_os_tmpdir(buf, &size));
  CHECK_STREQ(buf, want);
  CHECK_EQ(size, strlen(want));
  size = strlen(value);
  CHECK_EQ(uv_os_tmpdir(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, strlen(value) + 1);
}

TEST(tmpdir_trailing_slash) {
  expect_tmpdir_from("/nl/slash/", "/nl/slash");
  expect_tmpdir_from("/tmp/x//", "/tmp/x/");
  expect_tmpdir_from("//", "/");
  expect_tmpdir_from("///", "//");
}

TEST(tmpdir_invalid) {
  char buf[64];
  size_t size = sizeof(buf);

  CHECK_EQ(uv_os_tmpdir(NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_os_tmpdir(buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_os_tmpdir(buf, &size), UV_EINVAL);
}

/* ---------------------------------------------------------------------
 * Password entry.
 */
TEST(passwd_matches_getpwuid) {
  struct passwd* pw = getpwuid(geteuid());
  uv_passwd_t pwd;

  if (pw == NULL)
    nl_test_skip("no password entry for the effective uid");
  CHECK_OK(uv_os_get_passwd(&pwd));
  CHECK_STREQ(pwd.username, pw->pw_name);
  CHECK_STREQ(pwd.homedir, pw->pw_dir);
  CHECK_STREQ(pwd.shell, pw->pw_shell);
  CHECK_EQ(pwd.uid, geteuid());
  CHECK_EQ(pwd.uid, pw->pw_uid);
  CHECK_EQ(pwd.gid, pw->pw_gid);

  uv_os_free_passwd(&pwd);
  CHECK(pwd.username == NULL);
  CHECK(pwd.shell == NULL);
  CHECK(pwd.homedir == NULL);
  /* A second free is harmless. */
  uv_os_free_passwd(&pwd);
  CHECK(pwd.username == NULL);
}

TEST(passwd_single_allocation) {
  uv_passwd_t pwd;

  if (getpwuid(geteuid()) == NULL)
    nl_test_skip("no password entry for the effective uid");
  use_counting_allocator();
  CHECK_OK(uv_os_get_passwd(&pwd));
  CHECK_EQ(live_allocs, 1);
  uv_os_free_passwd(&pwd);
  CHECK_EQ(live_allocs, 0);
  use_libc_allocator();
}

TEST(passwd_invalid) {
  CHECK_EQ(uv_os_get_passwd(NULL), UV_EINVAL);
  uv_os_free_passwd(NULL);
}

/* ---------------------------------------------------------------------
 * Host name and uname.
 */
TEST(hostname) {
  char want[UV_MAXHOSTNAMESIZE];
  char buf[UV_MAXHOSTNAMESIZE];
  size_t size = sizeof(buf);
  size_t len;

  CHECK_OK(gethostname(want, sizeof(want)));
  len = strlen(want);
  CHECK_OK(uv_os_gethostname(buf, &size));
  CHECK_STREQ(buf, want);
  CHECK_EQ(size, len);

  size = len + 1;
  CHECK_OK(uv_os_gethostname(buf, &size));
  CHECK_EQ(size, len);

  size = len;
  buf[0] = '#';
  CHECK_EQ(uv_os_gethostname(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  CHECK_EQ(buf[0], '#');
}

TEST(hostname_invalid) {
  char buf[8];
  size_t size = sizeof(buf);

  CHECK_EQ(uv_os_gethostname(NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_os_gethostname(buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_os_gethostname(buf, &size), UV_EINVAL);
}

TEST(uname_matches) {
  struct utsname u;
  uv_utsname_t buf;

  CHECK_EQ(uv_os_uname(NULL), UV_EINVAL);
  memset(&buf, '#', sizeof(buf));
  CHECK_OK(uv_os_uname(&buf));
  CHECK_OK(uname(&u));
  CHECK_STREQ(buf.sysname, u.sysname);
  CHECK_STREQ(buf.release, u.release);
  CHECK_STREQ(buf.version, u.version);
  CHECK_STREQ(buf.machine, u.machine);
  CHECK_STREQ(buf.sysname, "Linux");
}

/* ---------------------------------------------------------------------
 * Working directory and executable path.
 */
TEST(cwd_chdir_round_trip) {
  char dir[PATH_MAX];
  char buf[PATH_MAX];
  size_t size;
  size_t len;

  CHECK(realpath(nl_test_tmpdir(), dir) != NULL);
  len = strlen(dir);
  CHECK_OK(uv_chdir(dir));
  size = sizeof(buf);
  CHECK_OK(uv_cwd(buf, &size));
  CHECK_STREQ(buf, dir);
  CHECK_EQ(size, len);

  /* The buffer needs room for the NUL too; *size says so when short. */
  size = len;
  buf[0] = '#';
  CHECK_EQ(uv_cwd(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  CHECK_EQ(buf[0], '#');
  size = len + 1;
  CHECK_OK(uv_cwd(buf, &size));
  CHECK_EQ(size, len);
  CHECK_STREQ(buf, dir);

  /* The root keeps its only slash. */
  CHECK_OK(uv_chdir("/"));
  size = sizeof(buf);
  CHECK_OK(uv_cwd(buf, &size));
  CHECK_STREQ(buf, "/");
  CHECK_EQ(size, 1);
  size = 1;
  CHECK_EQ(uv_cwd(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, 2);
}

/* A working directory longer than PATH_MAX fits a buffer large enough
 * for it; a smaller one gets UV_ENOBUFS and the size to ask for. */
TEST(cwd_longer_than_path_max) {
  char name[201];
  char* buf;
  size_t size;
  size_t len;
  int depth;

  memset(name, 'd', 200);
  name[200] = '\0';
  CHECK_OK(uv_chdir(nl_test_tmpdir()));
  for (depth = 0; depth < 25; depth++) {
    CHECK_OK(mkdir(name, 0700));
    CHECK_OK(uv_chdir(name));
  }
  buf = malloc(3 * PATH_MAX);
  CHECK(buf != NULL);
  size = 3 * PATH_MAX;
  CHECK_OK(uv_cwd(buf, &size));
  len = size;
  CHECK(len > PATH_MAX);
  CHECK_EQ(strlen(buf), len);
  CHECK_EQ(buf[len - 201], '/');
  CHECK_STREQ(buf + len - 200, name);
  size = 100;
  CHECK_EQ(uv_cwd(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  size = len;
  CHECK_EQ(uv_cwd(buf, &size), UV_ENOBUFS);
  CHECK_EQ(size, len + 1);
  size = len + 1;
  CHECK_OK(uv_cwd(buf, &size));
  CHECK_EQ(size, len);
  free(buf);
  /* Climb out and remove the tree, so the runner's cleanup need not. */
  for (depth = 0; depth < 25; depth++) {
    CHECK_OK(uv_chdir(".."));
    CHECK_OK(rmdir(name));
  }
}

TEST(cwd_chdir_errors) {
  char buf[PATH_MAX];
  char file[PATH_MAX];
  size_t size = sizeof(buf);
  int fd;

  CHECK_EQ(uv_cwd(NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_cwd(buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_cwd(buf, &size), UV_EINVAL);

  CHECK_EQ(uv_chdir(NULL), UV_EINVAL);
  CHECK_EQ(uv_chdir("/nonexistent/nl/dir"), UV_ENOENT);
  snprintf(file, sizeof(file), "%s/file", nl_test_tmpdir());
  fd = open(file, O_CREAT | O_WRONLY, 0600);
  CHECK(fd >= 0);
  close(fd);
  CHECK_EQ(uv_chdir(file), UV_ENOTDIR);
}

TEST(exepath_matches_proc) {
  char want[PATH_MAX];
  char buf[PATH_MAX];
  size_t size = sizeof(buf);
  ssize_t n;

  n = readlink("/proc/self/exe", want, sizeof(want) - 1);
  CHECK(n > 1);
  want[n] = '\0';
  CHECK_OK(uv_exepath(buf, &size));
  CHECK_STREQ(buf, want);
  CHECK_EQ(size, n);

  /* Too small a buffer gets the truncated path, not an error. */
  memset(buf, '#', sizeof(buf));
  size = 1;
  CHECK_OK(uv_exepath(buf, &size));
  CHECK_EQ(size, 0);
  CHECK_EQ(buf[0], '\0');

  memset(buf, '#', sizeof(buf));
  size = 2;
  CHECK_OK(uv_exepath(buf, &size));
  CHECK_EQ(size, 1);
  CHECK_EQ(buf[0], want[0]);
  CHECK_EQ(buf[1], '\0');

  memset(buf, '#', sizeof(buf));
  size = (size_t) n;
  CHECK_OK(uv_exepath(buf, &size));
  CHECK_EQ(size, n - 1);
  CHECK(strncmp(buf, want, (size_t) n - 1) == 0);
  CHECK_EQ(buf[n - 1], '\0');
}

TEST(exepath_invalid) {
  char buf[16];
  size_t size = sizeof(buf);

  CHECK_EQ(uv_exepath(NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_exepath(buf, NULL), UV_EINVAL);
  size = 0;
  CHECK_EQ(uv_exepath(buf, &size), UV_EINVAL);
}

/* ---------------------------------------------------------------------
 * Priority.
 */
TEST(priority_round_trip) {
  int prio;
  int other;

  /* Raising the nice value (lowering priority) is always allowed. */
  CHECK_OK(uv_os_getpriority(0, &prio));
  CHECK(prio >= UV_PRIORITY_HIGHEST && prio <= UV_PRIORITY_LOW);
  if (prio < 5) {
    CHECK_OK(uv_os_setpriority(0, 5));
    CHECK_OK(uv_os_getpriority(0, &prio));
    CHECK_EQ(prio, 5);
  }
  CHECK_OK(uv_os_setpriority(0, UV_PRIORITY_LOW));
  CHECK_OK(uv_os_getpriority(0, &prio));
  CHECK_EQ(prio, UV_PRIORITY_LOW);
  CHECK_OK(uv_os_getpriority(uv_os_getpid(), &other));
  CHECK_EQ(other, prio);

  /* Going back up needs privilege (CAP_SYS_NICE or RLIMIT_NICE). */
  if (uv_os_setpriority(0, -1) == 0) {
    /* -1 is also the error value of getpriority(2). */
    CHECK_OK(uv_os_getpriority(0, &prio));
    CHECK_EQ(prio, -1);
  } else {
    CHECK_EQ(uv_os_setpriority(0, -1), UV_EACCES);
  }
}

TEST(priority_invalid) {
  int prio;

  CHECK_EQ(uv_os_getpriority(0, NULL), UV_EINVAL);
  CHECK_EQ(uv_os_setpriority(0, UV_PRIORITY_HIGHEST - 1), UV_EINVAL);
  CHECK_EQ(uv_os_setpriority(0, UV_PRIORITY_LOW + 1), UV_EINVAL);
  /* No such process (pid_max is at most 2^22). */
  CHECK_EQ(uv_os_getpriority(0x7ffffff0, &prio), UV_ESRCH);
  CHECK_EQ(uv_os_setpriority(0x7ffffff0, 10), UV_ESRCH);
}

/* ---------------------------------------------------------------------
 * Resource usage and time of day.
 */
TEST(rusage_sane) {
  uv_rusage_t ru;
  struct rusage after;
  volatile uint64_t sink = 0;
  uint64_t i;

  CHECK_EQ(uv_getrusage(NULL), UV_EINVAL);
  /* Burn some CPU so that the user time cannot be zero. */
  for (i = 0; i < 50000000; i++)
    sink += i;
  CHECK(sink > 0);
  CHECK_OK(uv_getrusage(&ru));
  CHECK_OK(getrusage(RUSAGE_SELF, &after));

  CHECK(ru.ru_utime.tv_sec >= 0);
  CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
  CHECK(ru.ru_stime.tv_sec >= 0);
  CHECK(ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
  CHECK(ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0);
  CHECK(ru.ru_maxrss > 0);
  /* The counters only grow, and ours were read first. */
  CHECK(ru.ru_maxrss <= (uint64_t) after.ru_maxrss);
  CHECK(ru.ru_minflt <= (uint64_t) after.ru_minflt);
  CHECK(ru.ru_nvcsw <= (uint64_t) after.ru_nvcsw);
  CHECK(ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec <=
        after.ru_utime.tv_sec * 1000000 + after.ru_utime.tv_usec);
  CHECK(ru.ru_minflt > 0);
}

TEST(gettimeofday_close_to_time) {
  uv_timeval64_t tv;
  time_t before = time(NULL);
  time_t after;

  CHECK_EQ(uv_gettimeofday(NULL), UV_EINVAL);
  CHECK_OK(uv_gettimeofday(&tv));
  after = time(NULL);
  CHECK(tv.tv_sec >= before - 1 && tv.tv_sec <= after + 1);
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
}

/* ---------------------------------------------------------------------
 * uv_guess_handle().
 */
TEST(guess_handle_files) {
  char path[PATH_MAX];
  int fd;

  snprintf(path, sizeof(path), "%s/regular", nl_test_tmpdir());
  fd = open(path, O_CREAT | O_RDWR, 0600);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_FILE);
  close(fd);
  /* A closed descriptor is unknown. */
  CHECK_EQ(uv_guess_handle(fd), UV_UNKNOWN_HANDLE);

  /* Character devices that are not terminals count as files. */
  fd = open("/dev/null", O_RDWR);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_FILE);
  close(fd);

  fd = open(nl_test_tmpdir(), O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_UNKNOWN_HANDLE);
  close(fd);

  CHECK_EQ(uv_guess_handle(-1), UV_UNKNOWN_HANDLE);
  CHECK_EQ(uv_guess_handle(INT_MIN), UV_UNKNOWN_HANDLE);
}

TEST(guess_handle_pipes) {
  char path[PATH_MAX];
  int fds[2];
  int fd;

  CHECK_OK(pipe(fds));
  CHECK_EQ(uv_guess_handle(fds[0]), UV_NAMED_PIPE);
  CHECK_EQ(uv_guess_handle(fds[1]), UV_NAMED_PIPE);
  close(fds[0]);
  close(fds[1]);

  snprintf(path, sizeof(path), "%s/fifo", nl_test_tmpdir());
  CHECK_OK(mkfifo(path, 0600));
  fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_NAMED_PIPE);
  close(fd);

  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
  CHECK_EQ(uv_guess_handle(fds[0]), UV_NAMED_PIPE);
  CHECK_EQ(uv_guess_handle(fds[1]), UV_NAMED_PIPE);
  close(fds[0]);
  close(fds[1]);

  /* Only stream sockets are pipes; libuv knows no handle for the rest. */
  CHECK_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds));
  CHECK_EQ(uv_guess_handle(fds[0]), UV_UNKNOWN_HANDLE);
  close(fds[0]);
  close(fds[1]);
  CHECK_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds));
  CHECK_EQ(uv_guess_handle(fds[0]), UV_UNKNOWN_HANDLE);
  close(fds[0]);
  close(fds[1]);
}

TEST(guess_handle_sockets) {
  struct sockaddr_in sin;
  int fd;

  fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_UDP);
  close(fd);

  fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  CHECK_EQ(uv_guess_handle(fd), UV_TCP);
  /* Still TCP once bound and listening. */
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_OK(bind(fd, (struct sockaddr*) &sin, sizeof(sin)));
  CHECK_OK(listen(fd, 1));
  CHECK_EQ(uv_guess_handle(fd), UV_TCP);
  close(fd);

  fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd >= 0) {
    CHECK_EQ(uv_guess_handle(fd), UV_TCP);
    close(fd);
  }
  fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd >= 0) {
    CHECK_EQ(uv_guess_handle(fd), UV_UDP);
    close(fd);
  }

  /* A raw-ish socket of another family is nothing libuv can wrap. */
  fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (fd >= 0) {
    CHECK_EQ(uv_guess_handle(fd), UV_UNKNOWN_HANDLE);
    close(fd);
  }
}

TEST(guess_handle_tty) {
  int fd = posix_openpt(O_RDWR | O_NOCTTY);
  int slave;

  if (fd < 0)
    nl_test_skip("no pseudo-terminals");
  CHECK_OK(grantpt(fd));
  CHECK_OK(unlockpt(fd));
  slave = open(ptsname(fd), O_RDWR | O_NOCTTY);
  CHECK(slave >= 0);
  CHECK_EQ(uv_guess_handle(slave), UV_TTY);
  CHECK_EQ(uv_guess_handle(fd), UV_TTY);
  close(slave);
  close(fd);
}
