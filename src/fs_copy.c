/* Copying data between descriptors: uv_fs_copyfile (a reflink, else
 * copy_file_range, else sendfile, else read and write, whichever the file
 * systems involved accept first) and uv_fs_sendfile (sendfile, else
 * pread and write, else read and write for an input that cannot seek).
 */
#include "internal.h"
#include "fs.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most Linux moves in one read, write, sendfile or copy_file_range. */
#define FS_MAX_CHUNK ((size_t) 0x7ffff000)

/* The bounce buffer of the read/write fallback. */
#define FS_BOUNCE_SIZE ((size_t) 64 * 1024)

static size_t fs_min(size_t a, size_t b) {
  return a < b ? a : b;
}

/* Errors that mean "this way of copying is not available for these
 * descriptors", not "the copy failed": the next way is tried.
 *   ENOSYS      the system call is missing (copy_file_range before 4.5)
 *               or a seccomp filter refuses it with ENOSYS;
 *   EPERM       a seccomp filter refusing it with EPERM;
 *   EXDEV       copy_file_range across file systems, before Linux 5.3;
 *   EINVAL      a descriptor kind the call does not handle (e.g. sendfile
 *               from a file without mmap-like support, copy_file_range on
 *               special files or some file systems);
 *   EOPNOTSUPP  the file system does not implement the operation. */
static int fs_try_next_way(int err) {
  return err == UV_ENOSYS || err == UV_EPERM || err == UV_EXDEV ||
         err == UV_EINVAL || err == UV_ENOTSUP || err == -EOPNOTSUPP;
}

/* Reads up to n bytes from `in` (at *in_off, or the file position when
 * in_off is NULL) and writes all of them to `out`. Returns the bytes
 * written, 0 at the end of the input, or an error. A write error after
 * some bytes is reported as those bytes only when the input has an
 * explicit offset, which then moves by what was written; with the file
 * position the bytes already read would be lost, so the error stands. */
static ssize_t fs_bounce(int in, off_t* in_off, int out, char* buf,
                         size_t n) {
  ssize_t nr;
  ssize_t nw;
  size_t done = 0;

  do
    nr = in_off != NULL ? pread(in, buf, n, *in_off) : read(in, buf, n);
  while (nr == -1 && errno == EINTR);
  if (nr == -1)
    return uv__neg_errno();
  if (nr == 0)
    return 0;

  while (done < (size_t) nr) {
    do
      nw = write(out, buf + done, (size_t) nr - done);
    while (nw == -1 && errno == EINTR);
    if (nw == -1) {
      if (done > 0 && in_off != NULL)
        break;
      return uv__neg_errno();
    }
    if (nw == 0)
      return UV_EIO;
    done += (size_t) nw;
  }
  if (in_off != NULL)
    *in_off += (off_t) done;
  return (ssize_t) done;
}

/* ---------------------------------------------------------------------
 * uv_fs_sendfile: length bytes from in_fd at in_offset (its file position
 * is left alone) to out_fd's position. The result is the number of bytes
 * sent, less than length at the end of the input, or when out_fd cannot
 * take more right now (a non-blocking socket) after some were sent.
 */
ssize_t uv__fs_op_sendfile(uv_fs_t* req) {
  int out = req->file;
  int in = req->flags;
  off_t off = (off_t) req->off;
  off_t* in_off = &off;
  size_t len = req->bufsml[0].len;
  size_t total = 0;
  char* buf = NULL;
  ssize_t r = 0;

  while (total < len) {
    if (buf == NULL) {
      do
        r = sendfile(out, in, in_off, fs_min(len - total, FS_MAX_CHUNK));
      while (r == -1 && errno == EINTR);
      if (r == -1)
        r = uv__neg_errno();
    } else {
      r = fs_bounce(in, in_off, out, buf,
                    fs_min(len - total, FS_BOUNCE_SIZE));
    }
    if (r < 0 && total == 0) {
      /* A pipe or a socket has no offset (ESPIPE): read from where it
       * stands, as libuv does; other refusals try the next way. */
      if (r == UV_ESPIPE && in_off != NULL)
        in_off = NULL;
      else if (buf != NULL || !fs_try_next_way((int) r))
        goto fail;
      if (buf == NULL) {
        buf = uv__malloc(FS_BOUNCE_SIZE);
        if (buf == NULL)
          return UV_ENOMEM;
      }
      continue;
    }
    if (r < 0)
      break;
    if (r == 0)
      break;
    total += (size_t) r;
  }
  uv__free(buf);
  return (ssize_t) total;

fail:
  uv__free(buf);
  return r;
}

/* ---------------------------------------------------------------------
 * uv_fs_copyfile.
 */
/* Set once copy_file_range() has answered ENOSYS (a kernel before 4.5,
 * or a seccomp filter): later copies start with sendfile. The other
 * refusals depend on the files, so they are not remembered. */
static atomic_int copy_range_missing;

enum fs_copy_way {
  FS_COPY_RANGE,     /* copy_file_range: in the kernel, reflinks on
                        file systems that share extents */
  FS_COPY_SENDFILE,  /* in the kernel, through the page cache */
  FS_COPY_BOUNCE     /* read and write through a buffer */
};

/* Copies `size` bytes from src's position to dst's. All three ways use
 * (and advance) the two file positions, so a later way continues where
 * an earlier one stopped. A way that reports the end of the input before
 * `size` bytes hands over to the next too (copy_file_range returns 0 on
 * some pseudo file systems); the last one ends the copy, as for a source
 * that shrank meanwhile. */
static int fs_copy_data(int src, int dst, uint64_t size) {
  enum fs_copy_way way = FS_COPY_RANGE;
  uint64_t copied = 0;
  char* buf = NULL;
  ssize_t r = 0;
  size_t n;

  if (atomic_load_explicit(&copy_range_missing, memory_order_relaxed))
    way = FS_COPY_SENDFILE;
  while (copied < size) {
    n = (size_t) (size - copied < FS_MAX_CHUNK ? size - copied
                                                : FS_MAX_CHUNK);
    switch (way) {
      case FS_COPY_RANGE:
        do
          r = copy_file_range(src, NULL, dst, NULL, n, 0);
        while (r == -1 && errno == EINTR);
        if (r == -1)
          r = uv__neg_errno();
        if (r == UV_ENOSYS)
          atomic_store_explicit(&copy_range_missing, 1, memory_order_relaxed);
        break;
      case FS_COPY_SENDFILE:
        do
          r = sendfile(dst, src, NULL, n);
        while (r == -1 && errno == EINTR);
        if (r == -1)
          r = uv__neg_errno();
        break;
      default:
        r = fs_bounce(src, NULL, dst, buf, fs_min(n, FS_BOUNCE_SIZE));
        break;
    }
    if (r > 0) {
      copied += (uint64_t) r;
      continue;
    }
    if (way == FS_COPY_BOUNCE || (r < 0 && !fs_try_next_way((int) r)))
      break;
    way++;
    if (way == FS_COPY_BOUNCE) {
      buf = uv__malloc(FS_BOUNCE_SIZE);
      if (buf == NULL) {
        r = UV_ENOMEM;
        break;
      }
    }
  }
  uv__free(buf);
  if (copied < size && r < 0)
    return (int) r;
  return 0;
}

static int fs_open_retry(const char* path, int flags, mode_t mode) {
  int fd;

  do
    fd = open(path, flags | O_CLOEXEC, mode);
  while (fd == -1 && errno == EINTR);
  return fd == -1 ? uv__neg_errno() : fd;
}

/* The destination gets the source's data and mode. Copying a file onto
 * itself (the same inode, through any name) succeeds without touching
 * it: truncating the destination first would destroy the source. When the
 * copy fails, a destination this call created, or whose old content it
 * already discarded, is removed, so no half copy is left behind; a device
 * or FIFO given as the destination is never truncated, re-moded or
 * removed. */
ssize_t uv__fs_op_copyfile(uv_fs_t* req) {
  struct stat src_st;
  struct stat dst_st;
  int clobbered = 0;
  int created;
  int dst = -1;
  int src;
  int err;

  src = fs_open_retry(req->path, O_RDONLY, 0);
  if (src < 0)
    return src;
  if (fstat(src, &src_st) == -1) {
    err = uv__neg_errno();
    goto out;
  }
  if (S_ISDIR(src_st.st_mode)) {
    err = UV_EISDIR;
    goto out;
  }

  /* Exclusive creation first, to know whether the file is ours to remove
   * on failure. Without UV_FS_COPYFILE_EXCL an existing file is then
   * opened (O_CREAT again, in case it just went away). */
  dst = fs_open_retry(req->new_path, O_WRONLY | O_CREAT | O_EXCL,
                      src_st.st_mode);
  created = dst >= 0;
  if (dst == UV_EEXIST && !(req->flags & UV_FS_COPYFILE_EXCL))
    dst = fs_open_retry(req->new_path, O_WRONLY | O_CREAT, src_st.st_mode);
  if (dst < 0) {
    err = dst;
    dst = -1;
    goto out;
  }
  if (fstat(dst, &dst_st) == -1) {
    err = uv__neg_errno();
    goto fail;
  }
  if (src_st.st_dev == dst_st.st_dev && src_st.st_ino == dst_st.st_ino) {
    err = 0;
    goto out;
  }

  if (S_ISREG(dst_st.st_mode)) {
    if (ftruncate(dst, 0) == -1) {
      err = uv__neg_errno();
      goto fail;
    }
    clobbered = 1;
    /* An existing destination keeps its mode through open(); set it.
     * EPERM means we do not own the file (or a network file system
     * refuses modes): the data can still be copied, as cp(1) does. */
    if (fchmod(dst, src_st.st_mode) == -1) {
      err = uv__neg_errno();
      if (err != UV_EPERM)
        goto fail;
    }
  }

  if (req->flags & (UV_FS_COPYFILE_FICLONE | UV_FS_COPYFILE_FICLONE_FORCE)) {
    if (ioctl(dst, FICLONE, src) == 0) {
      err = 0;
      goto out;
    }
    err = uv__neg_errno();
    /* FICLONE_FORCE reports why there is no reflink (since libuv 1.33 the
     * error itself); plain FICLONE falls back to copying. */
    if (req->flags & UV_FS_COPYFILE_FICLONE_FORCE)
      goto fail;
  }

  err = fs_copy_data(src, dst, (uint64_t) src_st.st_size);
  if (err != 0)
    goto fail;
  goto out;

fail:
  if (created || clobbered)
    unlink(req->new_path);

out:
  uv__close(src);
  if (dst >= 0) {
    /* A network file system may report a failed write only here. */
    int close_err = uv__close(dst);
    if (err == 0 && close_err != 0) {
      err = close_err;
      if (created || clobbered)
        unlink(req->new_path);
    }
  }
  return err;
}
