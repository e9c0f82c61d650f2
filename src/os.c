/* The process and its user as the operating system sees them: environment,
 * ids, directories, the password entry, host name, priority, resource usage
 * and the guess of what kind of stream a file descriptor is.
 */
#include "internal.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Copying a string out to a caller's (buffer, *size) pair, the contract
 * most functions here share: on success *size is the string length; when
 * the buffer is too small, nothing is written, *size becomes the length
 * plus the NUL, and the result is UV_ENOBUFS.
 */
static int copy_out(const char* s, size_t len, char* buffer, size_t* size) {
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, s, len);
  buffer[len] = '\0';
  *size = len;
  return 0;
}

static int valid_out(const char* buffer, const size_t* size) {
  return buffer != NULL && size != NULL && *size != 0;
}

/* ---------------------------------------------------------------------
 * Environment. None of these is thread-safe: libc's environ is one
 * unsynchronised array, as libuv documents.
 */
int uv_os_getenv(const char* name, char* buffer, size_t* size) {
  const char* value;

  if (name == NULL || !valid_out(buffer, size))
    return UV_EINVAL;
  value = getenv(name);
  if (value == NULL)
    return UV_ENOENT;
  return copy_out(value, strlen(value), buffer, size);
}

int uv_os_setenv(const char* name, const char* value) {
  if (name == NULL || value == NULL)
    return UV_EINVAL;
  /* setenv itself rejects an empty name and a name holding '='. */
  if (setenv(name, value, 1) != 0)
    return uv__neg_errno();
  return 0;
}

int uv_os_unsetenv(const char* name) {
  if (name == NULL)
    return UV_EINVAL;
  if (unsetenv(name) != 0)
    return uv__neg_errno();
  return 0;
}

/* One allocation holds the array and, after it, every name and value, so
 * uv_os_free_environ() has a single block to free. */
int uv_os_environ(uv_env_item_t** envitems, int* count) {
  uv_env_item_t* items;
  char* pool;
  size_t bytes;
  size_t n;
  size_t i;
  size_t k;

  if (envitems == NULL || count == NULL)
    return UV_EINVAL;
  *envitems = NULL;
  *count = 0;

  n = 0;
  bytes = 0;
  for (i = 0; environ != NULL && environ[i] != NULL; i++) {
    /* An entry without '=' is not a variable (execve lets one through). */
    if (strchr(environ[i], '=') == NULL)
      continue;
    n++;
    bytes += strlen(environ[i]) + 1;
  }
  if (n == 0)
    return 0;
  if (n > INT_MAX)
    return UV_ENOMEM;

  items = uv__malloc(n * sizeof(*items) + bytes);
  if (items == NULL)
    return UV_ENOMEM;
  pool = (char*) (items + n);

  for (i = 0, k = 0; environ[i] != NULL && k < n; i++) {
    const char* eq = strchr(environ[i], '=');
    size_t len;

    if (eq == NULL)
      continue;
    len = strlen(environ[i]);
    memcpy(pool, environ[i], len + 1);
    pool[eq - environ[i]] = '\0';
    items[k].name = pool;
    items[k].value = pool + (eq - environ[i]) + 1;
    pool += len + 1;
    k++;
  }

  *envitems = items;
  *count = (int) k;
  return 0;
}

void uv_os_free_environ(uv_env_item_t* envitems, int count) {
  (void) count;
  uv__free(envitems);
}

/* ---------------------------------------------------------------------
 * Process ids.
 */
uv_pid_t uv_os_getpid(void) {
  return getpid();
}

uv_pid_t uv_os_getppid(void) {
  return getppid();
}

/* ---------------------------------------------------------------------
 * The password entry of the effective user.
 */

/* Fills pwd with the entry of uid: one allocation holds the three strings,
 * pwd->username points at its start. */
static int get_passwd(uid_t uid, uv_passwd_t* pwd) {
  struct passwd entry;
  struct passwd* result;
  const char* shell;
  size_t name_len;
  size_t shell_len;
  size_t home_len;
  size_t cap;
  long hint;
  char* scratch;
  char* block;
  int rc;

  hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  cap = hint > 0 ? (size_t) hint : 4096;
  scratch = NULL;
  for (;;) {
    scratch = uv__reallocf(scratch, cap);
    if (scratch == NULL)
      return UV_ENOMEM;
    /* getpwuid_r reports errors through its return value, not errno. */
    do
      rc = getpwuid_r(uid, &entry, scratch, cap, &result);
    while (rc == EINTR);
    if (rc != ERANGE)
      break;
    /* A large group of NSS data (LDAP, long gecos) needs more room. */
    if (cap >= (size_t) 1 << 24) {
      uv__free(scratch);
      return UV_ENOBUFS;
    }
    cap *= 2;
  }
  if (rc != 0) {
    uv__free(scratch);
    return -rc;
  }
  if (result == NULL) {
    uv__free(scratch);
    return UV_ENOENT;
  }

  shell = entry.pw_shell != NULL ? entry.pw_shell : "";
  name_len = strlen(entry.pw_name);
  shell_len = strlen(shell);
  home_len = entry.pw_dir != NULL ? strlen(entry.pw_dir) : 0;
  block = uv__malloc(name_len + shell_len + home_len + 3);
  if (block == NULL) {
    uv__free(scratch);
    return UV_ENOMEM;
  }
  pwd->username = block;
  memcpy(pwd->username, entry.pw_name, name_len + 1);
  pwd->shell = pwd->username + name_len + 1;
  memcpy(pwd->shell, shell, shell_len + 1);
  pwd->homedir = pwd->shell + shell_len + 1;
  memcpy(pwd->homedir, entry.pw_dir != NULL ? entry.pw_dir : "", home_len);
  pwd->homedir[home_len] = '\0';
  pwd->uid = (long) entry.pw_uid;
  pwd->gid = (long) entry.pw_gid;
  uv__free(scratch);
  return 0;
}

int uv_os_get_passwd(uv_passwd_t* pwd) {
  if (pwd == NULL)
    return UV_EINVAL;
  return get_passwd(geteuid(), pwd);
}

void uv_os_free_passwd(uv_passwd_t* pwd) {
  if (pwd == NULL)
    return;
  /* The three strings share the block that starts at username. */
  uv__free(pwd->username);
  pwd->username = NULL;
  pwd->shell = NULL;
  pwd->homedir = NULL;
}

/* ---------------------------------------------------------------------
 * Directories.
 */

/* HOME wins whenever it is set, even to the empty string, and is returned
 * as it is, trailing slashes included (libuv does the same, and Node's
 * os.homedir() shows it); otherwise the password entry's directory. */
int uv_os_homedir(char* buffer, size_t* size) {
  uv_passwd_t pwd;
  const char* home;
  int rc;

  if (!valid_out(buffer, size))
    return UV_EINVAL;
  home = getenv("HOME");
  if (home != NULL)
    return copy_out(home, strlen(home), buffer, size);

  rc = uv_os_get_passwd(&pwd);
  if (rc != 0)
    return rc;
  rc = copy_out(pwd.homedir, strlen(pwd.homedir), buffer, size);
  uv_os_free_passwd(&pwd);
  return rc;
}

/* The first of TMPDIR, TMP, TEMP and TEMPDIR that is set, even to the
 * empty string (which then comes back, as in libuv), else /tmp. As in
 * libuv, one trailing slash is dropped ("/tmp/x//" gives
 * "/tmp/x/", "/" stays), and the size asked for when the buffer is too
 * small is that of the value as it is. */
int uv_os_tmpdir(char* buffer, size_t* size) {
  static const char* const names[] = {"TMPDIR", "TMP", "TEMP", "TEMPDIR"};
  const char* dir;
  size_t len;
  size_t i;

  if (!valid_out(buffer, size))
    return UV_EINVAL;
  dir = "/tmp";
  for (i = 0; i < UV__ARRAY_SIZE(names); i++) {
    const char* value = getenv(names[i]);
    if (value != NULL) {
      dir = value;
      break;
    }
  }
  len = strlen(dir);
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  if (len > 1 && dir[len - 1] == '/')
    len--;
  return copy_out(dir, len, buffer, size);
}

/* getcwd() writes straight into the caller's buffer, so any directory
 * that fits is returned, however deep (glibc walks up the tree itself
 * when the kernel's answer would exceed a page). When it does not fit,
 * the path is fetched into a growing scratch buffer to learn the size to
 * ask for. */
int uv_cwd(char* buffer, size_t* size) {
  size_t cap;
  size_t len;
  char* tmp;
  int err;

  if (!valid_out(buffer, size))
    return UV_EINVAL;
  if (getcwd(buffer, *size) != NULL) {
    *size = strlen(buffer);
    return 0;
  }
  if (errno != ERANGE)
    return uv__neg_errno();
  for (cap = PATH_MAX;; cap *= 2) {
    tmp = uv__malloc(cap);
    if (tmp == NULL)
      return UV_ENOMEM;
    if (getcwd(tmp, cap) != NULL)
      break;
    err = uv__neg_errno();
    uv__free(tmp);
    /* Past 16 MiB something is wrong with the directory tree itself. */
    if (err != UV_ERANGE || cap >= ((size_t) 16 << 20))
      return err;
  }
  len = strlen(tmp);
  uv__free(tmp);
  *size = len + 1;
  return UV_ENOBUFS;
}

int uv_chdir(const char* dir) {
  if (dir == NULL)
    return UV_EINVAL;
  if (chdir(dir) != 0)
    return uv__neg_errno();
  return 0;
}

/* Unlike the functions above, uv_exepath() truncates: a buffer that is too
 * small receives as much of the path as fits, and *size its length. */
int uv_exepath(char* buffer, size_t* size) {
  char* path;
  size_t cap;
  ssize_t n;
  size_t len;

  if (!valid_out(buffer, size))
    return UV_EINVAL;

  /* readlink does not say whether it truncated, so grow until the result
   * leaves room to spare. The kernel builds the name within one page. */
  path = NULL;
  cap = PATH_MAX;
  for (;;) {
    path = uv__reallocf(path, cap);
    if (path == NULL)
      return UV_ENOMEM;
    n = readlink("/proc/self/exe", path, cap);
    if (n < 0) {
      int err = uv__neg_errno();
      uv__free(path);
      return err;
    }
    if ((size_t) n < cap)
      break;
    if (cap >= (size_t) 1 << 20) {
      uv__free(path);
      return UV_ENAMETOOLONG;
    }
    cap *= 2;
  }

  len = (size_t) n;
  if (len > *size - 1)
    len = *size - 1;
  memcpy(buffer, path, len);
  buffer[len] = '\0';
  *size = len;
  uv__free(path);
  return 0;
}

/* ---------------------------------------------------------------------
 * Host and system names.
 */
int uv_os_gethostname(char* buffer, size_t* size) {
  char name[UV_MAXHOSTNAMESIZE];

  if (!valid_out(buffer, size))
    return UV_EINVAL;
  if (gethostname(name, sizeof(name)) != 0)
    return uv__neg_errno();
  /* POSIX leaves a truncated name unterminated; Linux names are at most
   * 64 bytes, so this only guards against a surprise. */
  name[sizeof(name) - 1] = '\0';
  return copy_out(name, strlen(name), buffer, size);
}

/* utsname fields are 65 bytes on Linux, libuv's are 256; both bounds are
 * honoured in case either ever changes. */
#define COPY_FIELD(dst, src) copy_field((dst), sizeof(dst), (src), sizeof(src))

static void copy_field(char* dst, size_t dcap, const char* src, size_t scap) {
  size_t len = strnlen(src, scap);
  if (len > dcap - 1)
    len = dcap - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

int uv_os_uname(uv_utsname_t* buffer) {
  struct utsname u;

  if (buffer == NULL)
    return UV_EINVAL;
  if (uname(&u) != 0) {
    int err = uv__neg_errno();
    buffer->sysname[0] = '\0';
    buffer->release[0] = '\0';
    buffer->version[0] = '\0';
    buffer->machine[0] = '\0';
    return err;
  }
  COPY_FIELD(buffer->sysname, u.sysname);
  COPY_FIELD(buffer->release, u.release);
  COPY_FIELD(buffer->version, u.version);
  COPY_FIELD(buffer->machine, u.machine);
  return 0;
}

/* ---------------------------------------------------------------------
 * Scheduling priority. On Linux PRIO_PROCESS with a pid names a single
 * thread (pid 0 is the calling thread), not the whole thread group.
 */
int uv_os_getpriority(uv_pid_t pid, int* priority) {
  int value;

  if (priority == NULL)
    return UV_EINVAL;
  /* -1 is a valid nice value, so only errno tells failure apart. */
  errno = 0;
  value = getpriority(PRIO_PROCESS, (id_t) pid);
  if (value == -1 && errno != 0)
    return uv__neg_errno();
  *priority = value;
  return 0;
}

int uv_os_setpriority(uv_pid_t pid, int priority) {
  /* The kernel clamps out-of-range values silently; libuv rejects them. */
  if (priority < UV_PRIORITY_HIGHEST || priority > UV_PRIORITY_LOW)
    return UV_EINVAL;
  if (setpriority(PRIO_PROCESS, (id_t) pid, priority) != 0)
    return uv__neg_errno();
  return 0;
}

/* ---------------------------------------------------------------------
 * Resource usage and the time of day.
 */
int uv_getrusage(uv_rusage_t* rusage) {
  struct rusage u;

  if (rusage == NULL)
    return UV_EINVAL;
  if (getrusage(RUSAGE_SELF, &u) != 0)
    return uv__neg_errno();
  rusage->ru_utime.tv_sec = u.ru_utime.tv_sec;
  rusage->ru_utime.tv_usec = u.ru_utime.tv_usec;
  rusage->ru_stime.tv_sec = u.ru_stime.tv_sec;
  rusage->ru_stime.tv_usec = u.ru_stime.tv_usec;
  rusage->ru_maxrss = (uint64_t) u.ru_maxrss;
  rusage->ru_ixrss = (uint64_t) u.ru_ixrss;
  rusage->ru_idrss = (uint64_t) u.ru_idrss;
  rusage->ru_isrss = (uint64_t) u.ru_isrss;
  rusage->ru_minflt = (uint64_t) u.ru_minflt;
  rusage->ru_majflt = (uint64_t) u.ru_majflt;
  rusage->ru_nswap = (uint64_t) u.ru_nswap;
  rusage->ru_inblock = (uint64_t) u.ru_inblock;
  rusage->ru_oublock = (uint64_t) u.ru_oublock;
  rusage->ru_msgsnd = (uint64_t) u.ru_msgsnd;
  rusage->ru_msgrcv = (uint64_t) u.ru_msgrcv;
  rusage->ru_nsignals = (uint64_t) u.ru_nsignals;
  rusage->ru_nvcsw = (uint64_t) u.ru_nvcsw;
  rusage->ru_nivcsw = (uint64_t) u.ru_nivcsw;
  return 0;
}

int uv_gettimeofday(uv_timeval64_t* tv) {
  struct timeval now;

  if (tv == NULL)
    return UV_EINVAL;
  if (gettimeofday(&now, NULL) != 0)
    return uv__neg_errno();
  tv->tv_sec = (int64_t) now.tv_sec;
  tv->tv_usec = (int32_t) now.tv_usec;
  return 0;
}

/* ---------------------------------------------------------------------
 * What kind of stream a descriptor is. Character devices that are not
 * terminals (/dev/null) count as files; a socket's family and type pick
 * between pipe, TCP and UDP.
 */
uv_handle_type uv_guess_handle(uv_file file) {
  struct sockaddr_storage ss;
  socklen_t len;
  struct stat st;
  int type;

  if (file < 0)
    return UV_UNKNOWN_HANDLE;
  if (isatty(file))
    return UV_TTY;
  if (fstat(file, &st) != 0)
    return UV_UNKNOWN_HANDLE;
  if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))
    return UV_FILE;
  if (S_ISFIFO(st.st_mode))
    return UV_NAMED_PIPE;
  if (!S_ISSOCK(st.st_mode))
    return UV_UNKNOWN_HANDLE;

  len = sizeof(type);
  if (getsockopt(file, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return UV_UNKNOWN_HANDLE;
  len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  if (getsockname(file, (struct sockaddr*) &ss, &len) != 0)
    return UV_UNKNOWN_HANDLE;

  /* A datagram or seqpacket AF_UNIX socket is no stream: libuv calls it
   * unknown, and Node then does not open it as a pipe. */
  if (ss.ss_family == AF_UNIX)
    return type == SOCK_STREAM ? UV_NAMED_PIPE : UV_UNKNOWN_HANDLE;
  if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
    if (type == SOCK_STREAM)
      return UV_TCP;
    if (type == SOCK_DGRAM)
      return UV_UDP;
  }
  return UV_UNKNOWN_HANDLE;
}
