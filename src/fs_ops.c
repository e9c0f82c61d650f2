/* The blocking file-system operations behind uv_fs_* (all but copyfile
 * and sendfile, which are in fs_copy.c): one function per operation, each
 * returning the request's result or the negative UV_E* code of the system
 * call that failed. See fs.h for where the arguments live.
 */
#include "internal.h"
#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

/* 0, or the negated errno of the call whose result r is (-1 on failure):
 * the one place in this file where errno becomes a return value. */
static ssize_t status_of(int r) {
  return r == -1 ? uv__neg_errno() : 0;
}

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* read and write hand the request's uv_buf_t array to readv/writev as it
 * is, which needs the two layouts to agree. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec), "uv_buf_t");
_Static_assert(offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base),
               "uv_buf_t.base");
_Static_assert(offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t.len");

/* ---------------------------------------------------------------------
 * Descriptors and data.
 */
ssize_t uv__fs_op_open(uv_fs_t* req) {
  int fd;

  /* Opening a FIFO blocks and can be interrupted. */
  do
    fd = open(req->path, req->flags | O_CLOEXEC, req->mode);
  while (fd == -1 && errno == EINTR);
  if (fd == -1)
    return uv__neg_errno();
  return fd;
}

/* Not retried on EINTR: see uv__close(). */
ssize_t uv__fs_op_close(uv_fs_t* req) {
  return uv__close(req->file);
}

/* One system call's worth: at most IOV_MAX buffers, and whatever the
 * kernel gives (0 at the end of the file). A negative offset means the
 * current position, which the read then advances. Not retried on EINTR,
 * as in libuv: a program interrupts a read of a pipe or a terminal that
 * may never end with a signal whose handler has no SA_RESTART (an alarm
 * for a timeout, a SIGINT handler), and gets UV_EINTR. */
ssize_t uv__fs_op_read(uv_fs_t* req) {
  struct iovec* iov = (struct iovec*) req->bufs;
  int n = req->nbufs > IOV_MAX ? IOV_MAX : (int) req->nbufs;
  ssize_t r;

  if (req->off < 0)
    r = n == 1 ? read(req->file, iov[0].iov_base, iov[0].iov_len)
               : readv(req->file, iov, n);
  else
    r = n == 1 ? pread(req->file, iov[0].iov_base, iov[0].iov_len,
                       (off_t) req->off)
               : preadv(req->file, iov, n, (off_t) req->off);
  if (r == -1)
    return uv__neg_errno();
  return r;
}

/* Drops the first `done` bytes from the vector, modifying the request's
 * own copy of it; returns how many buffers are left. Empty buffers at
 * the front are dropped too. */
static size_t fs_iov_advance(struct iovec** iovp, size_t left, size_t done) {
  struct iovec* iov = *iovp;

  while (left > 0 && done >= iov->iov_len) {
    done -= iov->iov_len;
    iov++;
    left--;
  }
  if (left > 0 && done > 0) {
    iov->iov_base = (char*) iov->iov_base + done;
    iov->iov_len -= done;
  }
  *iovp = iov;
  return left;
}

/* Writes everything, IOV_MAX buffers per system call, continuing after
 * short writes (a pipe's capacity, a signal). An error after some bytes
 * were written reports those bytes, so the caller learns how far it got;
 * the error shows up again on its next call. */
ssize_t uv__fs_op_write(uv_fs_t* req) {
  struct iovec* iov = (struct iovec*) req->bufs;
  size_t left = req->nbufs;
  int64_t off = req->off;
  ssize_t total = 0;
  ssize_t r;
  int n;

  left = fs_iov_advance(&iov, left, 0);
  if (left == 0) {
    /* Only empty buffers: still one call, so that a bad descriptor is
     * reported as it would be for a real write. */
    do
      r = off < 0 ? write(req->file, "", 0)
                  : pwrite(req->file, "", 0, (off_t) off);
    while (r == -1 && errno == EINTR);
    return r == -1 ? uv__neg_errno() : 0;
  }

  while (left > 0) {
    n = left > IOV_MAX ? IOV_MAX : (int) left;
    if (off < 0)
      r = n == 1 ? write(req->file, iov[0].iov_base, iov[0].iov_len)
                 : writev(req->file, iov, n);
    else
      r = n == 1 ? pwrite(req->file, iov[0].iov_base, iov[0].iov_len,
                          (off_t) off)
                 : pwritev(req->file, iov, n, (off_t) off);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      if (total > 0)
        break;
      return uv__neg_errno();
    }
    /* A device that takes nothing would otherwise loop forever. */
    if (r == 0)
      break;
    total += r;
    if (off >= 0)
      off += r;
    left = fs_iov_advance(&iov, left, (size_t) r);
  }
  return total;
}

ssize_t uv__fs_op_fsync(uv_fs_t* req) {
  int r;

  do
    r = fsync(req->file);
  while (r == -1 && errno == EINTR);
  return status_of(r);
}

ssize_t uv__fs_op_fdatasync(uv_fs_t* req) {
  int r;

  do
    r = fdatasync(req->file);
  while (r == -1 && errno == EINTR);
  return status_of(r);
}

ssize_t uv__fs_op_ftruncate(uv_fs_t* req) {
  int r;

  do
    r = ftruncate(req->file, (off_t) req->off);
  while (r == -1 && errno == EINTR);
  return status_of(r);
}

/* ---------------------------------------------------------------------
 * Status: statx() where the kernel has it (Linux 4.11), for nanosecond
 * times and the birth time; fstatat()/fstat() otherwise.
 */

/* Set once statx() has been refused; every thread then goes straight to
 * the fallback. Racing writers store the same value. */
static atomic_int statx_unusable;

void uv__fs_stat_from_statx(uv_stat_t* s, const struct statx* x) {
  s->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
  s->st_mode = x->stx_mode;
  s->st_nlink = x->stx_nlink;
  s->st_uid = x->stx_uid;
  s->st_gid = x->stx_gid;
  s->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
  s->st_ino = x->stx_ino;
  s->st_size = x->stx_size;
  s->st_blksize = x->stx_blksize;
  s->st_blocks = x->stx_blocks;
  s->st_flags = 0;
  s->st_gen = 0;
  s->st_atim.tv_sec = x->stx_atime.tv_sec;
  s->st_atim.tv_nsec = x->stx_atime.tv_nsec;
  s->st_mtim.tv_sec = x->stx_mtime.tv_sec;
  s->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
  s->st_ctim.tv_sec = x->stx_ctime.tv_sec;
  s->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
  /* Not every file system records a birth time. */
  if (x->stx_mask & STATX_BTIME) {
    s->st_birthtim.tv_sec = x->stx_btime.tv_sec;
    s->st_birthtim.tv_nsec = x->stx_btime.tv_nsec;
  } else {
    s->st_birthtim.tv_sec = 0;
    s->st_birthtim.tv_nsec = 0;
  }
}

static void fs_stat_from_stat(uv_stat_t* s, const struct stat* st) {
  s->st_dev = st->st_dev;
  s->st_mode = st->st_mode;
  s->st_nlink = st->st_nlink;
  s->st_uid = st->st_uid;
  s->st_gid = st->st_gid;
  s->st_rdev = st->st_rdev;
  s->st_ino = st->st_ino;
  s->st_size = (uint64_t) st->st_size;
  s->st_blksize = (uint64_t) st->st_blksize;
  s->st_blocks = (uint64_t) st->st_blocks;
  s->st_flags = 0;
  s->st_gen = 0;
  s->st_atim.tv_sec = st->st_atim.tv_sec;
  s->st_atim.tv_nsec = st->st_atim.tv_nsec;
  s->st_mtim.tv_sec = st->st_mtim.tv_sec;
  s->st_mtim.tv_nsec = st->st_mtim.tv_nsec;
  s->st_ctim.tv_sec = st->st_ctim.tv_sec;
  s->st_ctim.tv_nsec = st->st_ctim.tv_nsec;
  s->st_birthtim.tv_sec = 0;
  s->st_birthtim.tv_nsec = 0;
}

/* 0 with *s filled, the error, or UV_ENOSYS when statx() cannot be used.
 * The raw system call rather than glibc's wrapper, which would quietly
 * emulate a missing statx() without the birth time. */
static int fs_statx(int dirfd, const char* path, int flags, uv_stat_t* s) {
#ifdef SYS_statx
  struct statx x;
  int err;

  if (atomic_load_explicit(&statx_unusable, memory_order_relaxed))
    return UV_ENOSYS;
  if (syscall(SYS_statx, dirfd, path, flags,
              STATX_BASIC_STATS | STATX_BTIME, &x) == -1) {
    err = uv__neg_errno();
    /* ENOSYS before Linux 4.11; EPERM from seccomp filters (older
     * container runtimes) that do not know the call. stat(2) itself
     * never fails with EPERM, so neither hides a real error. */
    if (err == UV_ENOSYS || err == UV_EPERM) {
      atomic_store_explicit(&statx_unusable, 1, memory_order_relaxed);
      return UV_ENOSYS;
    }
    return err;
  }
  uv__fs_stat_from_statx(s, &x);
  return 0;
#else
  (void) dirfd;
  (void) path;
  (void) flags;
  (void) s;
  return UV_ENOSYS;
#endif
}

/* stat, lstat and fstat are one call: fstat is fstatat(fd, "", ...,
 * AT_EMPTY_PATH). statx first, for birth times; fstatat where the kernel
 * lacks it. */
static ssize_t fs_stat_at(uv_fs_t* req, int dirfd, const char* path,
                          int at_flags) {
  struct stat st;
  int err;

  err = fs_statx(dirfd, path, at_flags, &req->statbuf);
  if (err == UV_ENOSYS) {
    if (fstatat(dirfd, path, &st, at_flags) == -1)
      return uv__neg_errno();
    fs_stat_from_stat(&req->statbuf, &st);
    err = 0;
  }
  if (err == 0)
    req->ptr = &req->statbuf;
  return err;
}

ssize_t uv__fs_op_stat(uv_fs_t* req) {
  return fs_stat_at(req, AT_FDCWD, req->path, 0);
}

ssize_t uv__fs_op_lstat(uv_fs_t* req) {
  return fs_stat_at(req, AT_FDCWD, req->path, AT_SYMLINK_NOFOLLOW);
}

ssize_t uv__fs_op_fstat(uv_fs_t* req) {
  return fs_stat_at(req, req->file, "", AT_EMPTY_PATH);
}

ssize_t uv__fs_op_statfs(uv_fs_t* req) {
  struct statfs buf;
  uv_statfs_t* s;

  if (statfs(req->path, &buf) == -1)
    return uv__neg_errno();
  s = uv__malloc(sizeof(*s));
  if (s == NULL)
    return UV_ENOMEM;
  memset(s, 0, sizeof(*s));
  s->f_type = (uint64_t) buf.f_type;
  s->f_bsize = (uint64_t) buf.f_bsize;
  s->f_blocks = buf.f_blocks;
  s->f_bfree = buf.f_bfree;
  s->f_bavail = buf.f_bavail;
  s->f_files = buf.f_files;
  s->f_ffree = buf.f_ffree;
  req->ptr = s;
  return 0;
}

/* ---------------------------------------------------------------------
 * Names.
 */
ssize_t uv__fs_op_unlink(uv_fs_t* req) {
  return status_of(unlink(req->path));
}

ssize_t uv__fs_op_mkdir(uv_fs_t* req) {
  return status_of(mkdir(req->path, req->mode));
}

ssize_t uv__fs_op_rmdir(uv_fs_t* req) {
  return status_of(rmdir(req->path));
}

ssize_t uv__fs_op_rename(uv_fs_t* req) {
  return status_of(rename(req->path, req->new_path));
}

ssize_t uv__fs_op_link(uv_fs_t* req) {
  return status_of(link(req->path, req->new_path));
}

ssize_t uv__fs_op_symlink(uv_fs_t* req) {
  return status_of(symlink(req->path, req->new_path));
}

/* mkdtemp(3) and mkstemp(3) want the name to end in six X's, which they
 * replace. fs.c gave the request its own copy of the template. On failure
 * the name is left empty rather than half generated. */
static int fs_template_ok(const char* path) {
  size_t len = strlen(path);
  return len >= 6 && memcmp(path + len - 6, "XXXXXX", 6) == 0;
}

ssize_t uv__fs_op_mkdtemp(uv_fs_t* req) {
  char* path = (char*) req->path;
  int err;

  if (!fs_template_ok(path)) {
    path[0] = '\0';
    return UV_EINVAL;
  }
  if (mkdtemp(path) == NULL) {
    err = uv__neg_errno();
    path[0] = '\0';
    return err;
  }
  return 0;
}

ssize_t uv__fs_op_mkstemp(uv_fs_t* req) {
  char* path = (char*) req->path;
  int err;
  int fd;

  if (!fs_template_ok(path)) {
    path[0] = '\0';
    return UV_EINVAL;
  }
  fd = mkostemp(path, O_CLOEXEC);
  if (fd == -1) {
    err = uv__neg_errno();
    path[0] = '\0';
    return err;
  }
  return fd;
}

/* The link's target in a buffer that grows until it fits: st_size is no
 * guide (it is 0 for the links in /proc). */
ssize_t uv__fs_op_readlink(uv_fs_t* req) {
  size_t cap = 256;
  ssize_t n;
  char* buf;
  int err;

  for (;;) {
    buf = uv__malloc(cap);
    if (buf == NULL)
      return UV_ENOMEM;
    n = readlink(req->path, buf, cap);
    if (n == -1) {
      err = uv__neg_errno();
      uv__free(buf);
      return err;
    }
    if ((size_t) n < cap)
      break;
    uv__free(buf);
    if (cap >= (size_t) 1 << 20)
      return UV_ENAMETOOLONG;
    cap *= 2;
  }
  buf[n] = '\0';
  req->ptr = buf;
  return 0;
}

ssize_t uv__fs_op_realpath(uv_fs_t* req) {
  char* buf;
  int err;

  /* realpath(3) writes at most PATH_MAX bytes, the NUL included. */
  buf = uv__malloc(PATH_MAX);
  if (buf == NULL)
    return UV_ENOMEM;
  if (realpath(req->path, buf) == NULL) {
    err = uv__neg_errno();
    uv__free(buf);
    return err;
  }
  req->ptr = buf;
  return 0;
}

/* ---------------------------------------------------------------------
 * Permissions, owners and times.
 */
ssize_t uv__fs_op_access(uv_fs_t* req) {
  return status_of(access(req->path, req->flags));
}

ssize_t uv__fs_op_chmod(uv_fs_t* req) {
  return status_of(chmod(req->path, req->mode));
}

ssize_t uv__fs_op_fchmod(uv_fs_t* req) {
  return status_of(fchmod(req->file, req->mode));
}

ssize_t uv__fs_op_chown(uv_fs_t* req) {
  return status_of(chown(req->path, req->uid, req->gid));
}

ssize_t uv__fs_op_fchown(uv_fs_t* req) {
  return status_of(fchown(req->file, req->uid, req->gid));
}

ssize_t uv__fs_op_lchown(uv_fs_t* req) {
  return status_of(lchown(req->path, req->uid, req->gid));
}

/* Seconds as a double to a timespec, to the nearest nanosecond, with
 * tv_nsec in [0, 1e9) for times before 1970 too: -0.25 s is
 * { -1, 750000000 }. Done without libm, which the library does not link.
 * fs.c made sure the value fits in an int64_t. */
static struct timespec fs_timespec(double t) {
  struct timespec ts;
  int64_t sec = (int64_t) t;
  double frac = t - (double) sec;
  long nsec;

  if (frac < 0) {
    frac += 1.0;
    sec -= 1;
  }
  nsec = (long) (frac * 1e9 + 0.5);
  if (nsec >= 1000000000L) {
    nsec -= 1000000000L;
    sec += 1;
  }
  ts.tv_sec = (time_t) sec;
  ts.tv_nsec = nsec;
  return ts;
}

static void fs_times(const uv_fs_t* req, struct timespec ts[2]) {
  ts[0] = fs_timespec(req->atime);
  ts[1] = fs_timespec(req->mtime);
}

ssize_t uv__fs_op_utime(uv_fs_t* req) {
  struct timespec ts[2];

  fs_times(req, ts);
  return status_of(utimensat(AT_FDCWD, req->path, ts, 0));
}

ssize_t uv__fs_op_lutime(uv_fs_t* req) {
  struct timespec ts[2];

  fs_times(req, ts);
  return status_of(utimensat(AT_FDCWD, req->path, ts, AT_SYMLINK_NOFOLLOW));
}

ssize_t uv__fs_op_futime(uv_fs_t* req) {
  struct timespec ts[2];

  fs_times(req, ts);
  return status_of(futimens(req->file, ts));
}

/* ---------------------------------------------------------------------
 * Directories.
 */
static uv_dirent_type_t fs_dirent_type(unsigned char d_type) {
  switch (d_type) {
    case DT_REG: return UV_DIRENT_FILE;
    case DT_DIR: return UV_DIRENT_DIR;
    case DT_LNK: return UV_DIRENT_LINK;
    case DT_FIFO: return UV_DIRENT_FIFO;
    case DT_SOCK: return UV_DIRENT_SOCKET;
    case DT_CHR: return UV_DIRENT_CHAR;
    case DT_BLK: return UV_DIRENT_BLOCK;
    default: return UV_DIRENT_UNKNOWN;  /* DT_UNKNOWN: the file system
                                           does not say */
  }
}

static int fs_is_dot(const char* name) {
  return name[0] == '.' &&
         (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* The next entry other than "." and "..": 1 with *de set, 0 at the end,
 * or the error. readdir(3) tells the end from an error only by errno,
 * hence the reset just before it. */
static int fs_next_dirent(DIR* d, struct dirent** de) {
  for (;;) {
    errno = 0;
    *de = readdir(d);
    if (*de == NULL)
      return errno != 0 ? uv__neg_errno() : 0;
    if (!fs_is_dot((*de)->d_name))
      return 1;
  }
}

struct fs_entry {
  char* name;
  uv_dirent_type_t type;
};

/* What scandir leaves in req->ptr. */
struct fs_entries {
  size_t count;
  size_t next;
  struct fs_entry ent[];
};

void uv__fs_scandir_free(void* entries) {
  struct fs_entries* list = entries;
  size_t i;

  for (i = 0; i < list->count; i++)
    uv__free(list->ent[i].name);
  uv__free(list);
}

int uv__fs_scandir_take(void* entries, uv_dirent_t* ent) {
  struct fs_entries* list = entries;
  struct fs_entry* e;

  if (list->next >= list->count)
    return UV_EOF;
  e = &list->ent[list->next++];
  ent->name = e->name;
  ent->type = e->type;
  return 0;
}

static int fs_entry_cmp(const void* a, const void* b) {
  const struct fs_entry* x = a;
  const struct fs_entry* y = b;
  return strcmp(x->name, y->name);
}

/* Appends one entry, growing the list geometrically. */
static int fs_entries_push(struct fs_entries** listp, size_t* cap,
                           const struct dirent* de) {
  struct fs_entries* list = *listp;
  size_t n = list != NULL ? list->count : 0;
  char* name;

  if (n == *cap) {
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    list = uv__realloc(list, sizeof(*list) + ncap * sizeof(list->ent[0]));
    if (list == NULL)
      return UV_ENOMEM;
    if (*listp == NULL) {
      list->count = 0;
      list->next = 0;
    }
    *listp = list;
    *cap = ncap;
  }
  name = uv__strdup(de->d_name);
  if (name == NULL)
    return UV_ENOMEM;
  list->ent[n].name = name;
  list->ent[n].type = fs_dirent_type(de->d_type);
  list->count = n + 1;
  return 0;
}

/* Every entry but "." and "..", sorted by name in byte order (strcmp),
 * as libuv sorts them. The result is the number of entries; req->ptr
 * holds them, or is NULL when there are none. */
ssize_t uv__fs_op_scandir(uv_fs_t* req) {
  struct fs_entries* list = NULL;
  struct dirent* de;
  size_t cap = 0;
  size_t count;
  DIR* d;
  int r;

  d = opendir(req->path);
  if (d == NULL)
    return uv__neg_errno();
  while ((r = fs_next_dirent(d, &de)) == 1) {
    r = fs_entries_push(&list, &cap, de);
    if (r != 0)
      break;
  }
  closedir(d);
  if (r != 0) {
    if (list != NULL)
      uv__fs_scandir_free(list);
    return r;
  }
  if (list == NULL)
    return 0;
  qsort(list->ent, list->count, sizeof(list->ent[0]), fs_entry_cmp);
  count = list->count;
  req->ptr = list;
  return (ssize_t) count;
}

ssize_t uv__fs_op_opendir(uv_fs_t* req) {
  uv_dir_t* dir;
  DIR* d;

  d = opendir(req->path);
  if (d == NULL)
    return uv__neg_errno();
  dir = uv__malloc(sizeof(*dir));
  if (dir == NULL) {
    closedir(d);
    return UV_ENOMEM;
  }
  memset(dir, 0, sizeof(*dir));
  dir->dir = d;
  req->ptr = dir;
  return 0;
}

void uv__fs_readdir_free(uv_dir_t* dir, size_t n) {
  size_t i;

  for (i = 0; i < n && i < dir->nentries; i++) {
    uv__free((char*) dir->dirents[i].name);
    dir->dirents[i].name = NULL;
  }
}

/* Up to dir->nentries entries into dir->dirents, names allocated (freed
 * by uv_fs_req_cleanup). 0 means the end of the directory. The stream is
 * the caller's, so two readdirs on one uv_dir_t must not overlap. */
ssize_t uv__fs_op_readdir(uv_fs_t* req) {
  uv_dir_t* dir = req->ptr;
  struct dirent* de;
  size_t n = 0;
  char* name;
  int r;

  while (n < dir->nentries) {
    r = fs_next_dirent(dir->dir, &de);
    if (r == 0)
      break;
    if (r < 0)
      goto fail;
    name = uv__strdup(de->d_name);
    if (name == NULL) {
      r = UV_ENOMEM;
      goto fail;
    }
    dir->dirents[n].name = name;
    dir->dirents[n].type = fs_dirent_type(de->d_type);
    n++;
  }
  return (ssize_t) n;

fail:
  uv__fs_readdir_free(dir, n);
  return r;
}

/* Frees the uv_dir_t whatever closedir(3) says: the stream is gone
 * either way. */
ssize_t uv__fs_op_closedir(uv_fs_t* req) {
  uv_dir_t* dir = req->ptr;
  int err = 0;

  if (closedir(dir->dir) == -1)
    err = uv__neg_errno();
  uv__free(dir);
  return err;
}
