/* The public file-system requests: argument checks, setting up uv_fs_t,
 * and the file-system executor, which runs a request on the caller's
 * thread, on a fast path (none yet) or on the worker pool, and completes
 * it. The operations themselves are in fs_ops.c and fs_copy.c.
 *
 * Ownership: a synchronous request uses the caller's path strings for the
 * duration of the call; an asynchronous one outlives the call and copies
 * path and new_path into one allocation. mkdtemp and mkstemp always copy,
 * because they write the generated name into req->path. The uv_buf_t
 * array of read and write is always copied (into bufsml when it fits) and
 * dropped as soon as the operation is over. uv_fs_req_cleanup() frees
 * what is left: the path copy and the outputs in req->ptr.
 */
#include "internal.h"
#include "dispatch.h"
#include "fs.h"
#include "threadpool.h"
#include "uring.h"

#include <stdlib.h>
#include <string.h>

static ssize_t fs_execute(uv_fs_t* req) {
  switch (req->fs_type) {
    case UV_FS_OPEN: return uv__fs_op_open(req);
    case UV_FS_CLOSE: return uv__fs_op_close(req);
    case UV_FS_READ: return uv__fs_op_read(req);
    case UV_FS_WRITE: return uv__fs_op_write(req);
    case UV_FS_SENDFILE: return uv__fs_op_sendfile(req);
    case UV_FS_STAT: return uv__fs_op_stat(req);
    case UV_FS_LSTAT: return uv__fs_op_lstat(req);
    case UV_FS_FSTAT: return uv__fs_op_fstat(req);
    case UV_FS_FTRUNCATE: return uv__fs_op_ftruncate(req);
    case UV_FS_UTIME: return uv__fs_op_utime(req);
    case UV_FS_FUTIME: return uv__fs_op_futime(req);
    case UV_FS_ACCESS: return uv__fs_op_access(req);
    case UV_FS_CHMOD: return uv__fs_op_chmod(req);
    case UV_FS_FCHMOD: return uv__fs_op_fchmod(req);
    case UV_FS_FSYNC: return uv__fs_op_fsync(req);
    case UV_FS_FDATASYNC: return uv__fs_op_fdatasync(req);
    case UV_FS_UNLINK: return uv__fs_op_unlink(req);
    case UV_FS_RMDIR: return uv__fs_op_rmdir(req);
    case UV_FS_MKDIR: return uv__fs_op_mkdir(req);
    case UV_FS_MKDTEMP: return uv__fs_op_mkdtemp(req);
    case UV_FS_RENAME: return uv__fs_op_rename(req);
    case UV_FS_SCANDIR: return uv__fs_op_scandir(req);
    case UV_FS_LINK: return uv__fs_op_link(req);
    case UV_FS_SYMLINK: return uv__fs_op_symlink(req);
    case UV_FS_READLINK: return uv__fs_op_readlink(req);
    case UV_FS_CHOWN: return uv__fs_op_chown(req);
    case UV_FS_FCHOWN: return uv__fs_op_fchown(req);
    case UV_FS_REALPATH: return uv__fs_op_realpath(req);
    case UV_FS_COPYFILE: return uv__fs_op_copyfile(req);
    case UV_FS_LCHOWN: return uv__fs_op_lchown(req);
    case UV_FS_OPENDIR: return uv__fs_op_opendir(req);
    case UV_FS_READDIR: return uv__fs_op_readdir(req);
    case UV_FS_CLOSEDIR: return uv__fs_op_closedir(req);
    case UV_FS_STATFS: return uv__fs_op_statfs(req);
    case UV_FS_MKSTEMP: return uv__fs_op_mkstemp(req);
    case UV_FS_LUTIME: return uv__fs_op_lutime(req);
    case UV_FS_UNKNOWN:
    case UV_FS_CUSTOM:
      break;
  }
  /* Only the functions below set fs_type, and only to the values above. */
  abort();
}

/* The buffer array is only needed while the operation runs. */
static void fs_release_bufs(uv_fs_t* req) {
  if (req->bufs != NULL && req->bufs != req->bufsml)
    uv__free(req->bufs);
  req->bufs = NULL;
  req->nbufs = 0;   /* as libuv leaves it */
}

/* Runs on a pool thread. The loop thread reads the result only after the
 * pool hands the item back under the loop's completion lock. */
static void fs_work(struct uv__work* w) {
  uv_fs_t* req = uv__container_of(w, uv_fs_t, work_req);
  req->result = fs_execute(req);
  fs_release_bufs(req);
}

static void fs_done(struct uv__work* w, int status) {
  uv_fs_t* req = uv__container_of(w, uv_fs_t, work_req);

  uv__req_unregister(req->loop, req);
  if (status == UV_ECANCELED) {
    /* The operation never ran. */
    req->result = UV_ECANCELED;
    fs_release_bufs(req);
  }
  uv__dispatch_fs(req);
}

/* The fast path for asynchronous requests: 1 if it took the request (and
 * registered it with the loop, and will complete it through the same
 * unregister-then-dispatch steps as fs_done), 0 to use the worker pool.
 * This is the one place where that decision is made: the loop's io_uring
 * (src/uring.h) takes the operations the kernel offers. */
static int uv__fs_try_fast_path(uv_fs_t* req) {
  return uv__ring_fs_submit(req->loop, req);
}

/* The pool's part of the executor, also for requests the loop's io_uring
 * hands back (src/uring.h). 0, or the error with nothing queued. */
int uv__fs_pool_submit(uv_loop_t* loop, uv_fs_t* req) {
  return uv__work_submit(loop, req, &req->work_req, NL_WORK_FS, fs_work,
                         fs_done);
}

/* The file-system executor: every request that passed its checks comes
 * here. Without a callback it runs now, on the caller's thread, and its
 * result is returned; otherwise it is queued and 0 is returned. */
static int uv__fs_submit(uv_loop_t* loop, uv_fs_t* req, uv_fs_cb cb) {
  int err;

  if (cb == NULL) {
    req->result = fs_execute(req);
    fs_release_bufs(req);
    return (int) req->result;
  }
  if (uv__fs_try_fast_path(req))
    return 0;
  err = uv__fs_pool_submit(loop, req);
  if (err != 0) {
    /* Nothing will run: give back what the request holds, as a failed
     * synchronous call would leave it. */
    uv_fs_req_cleanup(req);
    req->result = err;
  }
  return err;
}

/* Sets up every field a later uv_fs_req_cleanup() or uv_cancel() looks
 * at, so that a request reused without cleanup, or filled with garbage,
 * is safe. */
static int fs_init(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                   uv_fs_cb cb) {
  uv__req_init(loop, (uv_req_t*) req, UV_FS);
  req->fs_type = type;
  req->loop = loop;
  req->cb = cb;
  req->result = 0;
  req->ptr = NULL;
  req->path = NULL;
  req->new_path = NULL;
  req->bufs = NULL;
  req->nbufs = 0;
  if (cb != NULL && loop == NULL)
    return UV_EINVAL;
  return 0;
}

/* A request refused before it ran: its result says why, and there is no
 * callback. */
static int fs_reject(uv_fs_t* req, int err) {
  req->result = err;
  return err;
}

static int fs_owns_path(const uv_fs_t* req) {
  return req->cb != NULL || req->fs_type == UV_FS_MKDTEMP ||
         req->fs_type == UV_FS_MKSTEMP;
}

/* Both paths in one allocation: path first, then new_path. */
static int fs_copy_paths(uv_fs_t* req, const char* path,
                         const char* new_path) {
  size_t len = strlen(path) + 1;
  size_t new_len = new_path != NULL ? strlen(new_path) + 1 : 0;
  char* copy;

  copy = uv__malloc(len + new_len);
  if (copy == NULL)
    return UV_ENOMEM;
  memcpy(copy, path, len);
  req->path = copy;
  if (new_path != NULL) {
    memcpy(copy + len, new_path, new_len);
    req->new_path = copy + len;
  }
  return 0;
}

static int fs_prepare(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                      uv_fs_cb cb) {
  int err;

  if (req == NULL)
    return UV_EINVAL;
  /* A request still in flight is in use by a worker: not a field of it
   * may change, not even its result. */
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  err = fs_init(loop, req, type, cb);
  if (err != 0)
    return fs_reject(req, err);
  return 0;
}

/* For a request whose other arguments are already known to be bad:
 * checked before the paths, so nothing is copied. */
static int fs_refuse(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                     uv_fs_cb cb) {
  int err = fs_prepare(loop, req, type, cb);
  if (err != 0)
    return err;
  return fs_reject(req, UV_EINVAL);
}

/* new_path is required when need_new is set. */
static int fs_prepare_paths(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                            const char* path, const char* new_path,
                            int need_new, uv_fs_cb cb) {
  int err;

  err = fs_prepare(loop, req, type, cb);
  if (err != 0)
    return err;
  if (path == NULL || (need_new && new_path == NULL))
    return fs_reject(req, UV_EINVAL);
  if (fs_owns_path(req)) {
    err = fs_copy_paths(req, path, new_path);
    if (err != 0)
      return fs_reject(req, err);
    return 0;
  }
  req->path = path;
  req->new_path = new_path;
  return 0;
}

static int fs_prepare_path(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                           const char* path, uv_fs_cb cb) {
  return fs_prepare_paths(loop, req, type, path, NULL, 0, cb);
}

/* Keeps the array (not the data) for the operation, which may modify it
 * while it works through a long vector. */
static int fs_copy_bufs(uv_fs_t* req, const uv_buf_t bufs[],
                        unsigned int nbufs) {
  if (bufs == NULL || nbufs == 0)
    return UV_EINVAL;
  req->bufs = req->bufsml;
  if (nbufs > UV__ARRAY_SIZE(req->bufsml)) {
    req->bufs = uv__malloc(nbufs * sizeof(*bufs));
    if (req->bufs == NULL)
      return UV_ENOMEM;
  }
  memcpy(req->bufs, bufs, nbufs * sizeof(*bufs));
  req->nbufs = nbufs;
  return 0;
}

/* ---------------------------------------------------------------------
 * Requests on paths.
 */
int uv_fs_open(uv_loop_t* loop, uv_fs_t* req, const char* path, int flags,
               int mode, uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_OPEN, path, cb);
  if (err != 0)
    return err;
  req->flags = flags;
  req->mode = (mode_t) mode;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_unlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
                 uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_UNLINK, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_mkdir(uv_loop_t* loop, uv_fs_t* req, const char* path, int mode,
                uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_MKDIR, path, cb);
  if (err != 0)
    return err;
  req->mode = (mode_t) mode;
  return uv__fs_submit(loop, req, cb);
}

/* A template without the trailing XXXXXX fails in the operation, like
 * mkdtemp(3), and leaves req->path empty. */
int uv_fs_mkdtemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
                  uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_MKDTEMP, tpl, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_mkstemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
                  uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_MKSTEMP, tpl, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_rmdir(uv_loop_t* loop, uv_fs_t* req, const char* path,
                uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_RMDIR, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

/* flags are accepted and ignored, as in libuv. */
int uv_fs_scandir(uv_loop_t* loop, uv_fs_t* req, const char* path, int flags,
                  uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_SCANDIR, path, cb);
  if (err != 0)
    return err;
  req->flags = flags;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_scandir_next(uv_fs_t* req, uv_dirent_t* ent) {
  if (req == NULL || ent == NULL || req->fs_type != UV_FS_SCANDIR)
    return UV_EINVAL;
  /* A failed scan reports its error again. */
  if (req->result < 0)
    return (int) req->result;
  if (req->ptr == NULL)
    return UV_EOF;
  return uv__fs_scandir_take(req->ptr, ent);
}

int uv_fs_opendir(uv_loop_t* loop, uv_fs_t* req, const char* path,
                  uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_OPENDIR, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_stat(uv_loop_t* loop, uv_fs_t* req, const char* path,
               uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_STAT, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_lstat(uv_loop_t* loop, uv_fs_t* req, const char* path,
                uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_LSTAT, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_statfs(uv_loop_t* loop, uv_fs_t* req, const char* path,
                 uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_STATFS, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_rename(uv_loop_t* loop, uv_fs_t* req, const char* path,
                 const char* new_path, uv_fs_cb cb) {
  int err = fs_prepare_paths(loop, req, UV_FS_RENAME, path, new_path, 1, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_copyfile(uv_loop_t* loop, uv_fs_t* req, const char* path,
                   const char* new_path, int flags, uv_fs_cb cb) {
  const int known = UV_FS_COPYFILE_EXCL | UV_FS_COPYFILE_FICLONE |
                    UV_FS_COPYFILE_FICLONE_FORCE;
  int err;

  if ((flags & ~known) != 0)
    return fs_refuse(loop, req, UV_FS_COPYFILE, cb);
  err = fs_prepare_paths(loop, req, UV_FS_COPYFILE, path, new_path, 1, cb);
  if (err != 0)
    return err;
  req->flags = flags;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_access(uv_loop_t* loop, uv_fs_t* req, const char* path, int mode,
                 uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_ACCESS, path, cb);
  if (err != 0)
    return err;
  req->flags = mode;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_chmod(uv_loop_t* loop, uv_fs_t* req, const char* path, int mode,
                uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_CHMOD, path, cb);
  if (err != 0)
    return err;
  req->mode = (mode_t) mode;
  return uv__fs_submit(loop, req, cb);
}

/* Times are seconds since the epoch. NaN, infinities and values beyond
 * what a 64-bit time_t holds have no timespec (the comparisons are false
 * for NaN). */
static int fs_times_ok(double atime, double mtime) {
  return atime > -9.2e18 && atime < 9.2e18 && mtime > -9.2e18 &&
         mtime < 9.2e18;
}

int uv_fs_utime(uv_loop_t* loop, uv_fs_t* req, const char* path,
                double atime, double mtime, uv_fs_cb cb) {
  int err;

  if (!fs_times_ok(atime, mtime))
    return fs_refuse(loop, req, UV_FS_UTIME, cb);
  err = fs_prepare_path(loop, req, UV_FS_UTIME, path, cb);
  if (err != 0)
    return err;
  req->atime = atime;
  req->mtime = mtime;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_lutime(uv_loop_t* loop, uv_fs_t* req, const char* path,
                 double atime, double mtime, uv_fs_cb cb) {
  int err;

  if (!fs_times_ok(atime, mtime))
    return fs_refuse(loop, req, UV_FS_LUTIME, cb);
  err = fs_prepare_path(loop, req, UV_FS_LUTIME, path, cb);
  if (err != 0)
    return err;
  req->atime = atime;
  req->mtime = mtime;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_link(uv_loop_t* loop, uv_fs_t* req, const char* path,
               const char* new_path, uv_fs_cb cb) {
  int err = fs_prepare_paths(loop, req, UV_FS_LINK, path, new_path, 1, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

/* flags only mean something on Windows. */
int uv_fs_symlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
                  const char* new_path, int flags, uv_fs_cb cb) {
  int err = fs_prepare_paths(loop, req, UV_FS_SYMLINK, path, new_path, 1, cb);
  if (err != 0)
    return err;
  req->flags = flags;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_readlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
                   uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_READLINK, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_realpath(uv_loop_t* loop, uv_fs_t* req, const char* path,
                   uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_REALPATH, path, cb);
  if (err != 0)
    return err;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_chown(uv_loop_t* loop, uv_fs_t* req, const char* path,
                uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_CHOWN, path, cb);
  if (err != 0)
    return err;
  req->uid = uid;
  req->gid = gid;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_lchown(uv_loop_t* loop, uv_fs_t* req, const char* path,
                 uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  int err = fs_prepare_path(loop, req, UV_FS_LCHOWN, path, cb);
  if (err != 0)
    return err;
  req->uid = uid;
  req->gid = gid;
  return uv__fs_submit(loop, req, cb);
}

/* ---------------------------------------------------------------------
 * Requests on descriptors. A bad descriptor is the kernel's to report
 * (UV_EBADF from the operation).
 */
int uv_fs_close(uv_loop_t* loop, uv_fs_t* req, uv_file file, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_CLOSE, cb);
  if (err != 0)
    return err;
  req->file = file;
  return uv__fs_submit(loop, req, cb);
}

static int fs_rw(uv_loop_t* loop, uv_fs_t* req, uv_fs_type type,
                 uv_file file, const uv_buf_t bufs[], unsigned int nbufs,
                 int64_t offset, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, type, cb);
  if (err != 0)
    return err;
  err = fs_copy_bufs(req, bufs, nbufs);
  if (err != 0)
    return fs_reject(req, err);
  req->file = file;
  req->off = offset;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_read(uv_loop_t* loop, uv_fs_t* req, uv_file file,
               const uv_buf_t bufs[], unsigned int nbufs, int64_t offset,
               uv_fs_cb cb) {
  return fs_rw(loop, req, UV_FS_READ, file, bufs, nbufs, offset, cb);
}

int uv_fs_write(uv_loop_t* loop, uv_fs_t* req, uv_file file,
                const uv_buf_t bufs[], unsigned int nbufs, int64_t offset,
                uv_fs_cb cb) {
  return fs_rw(loop, req, UV_FS_WRITE, file, bufs, nbufs, offset, cb);
}

int uv_fs_fstat(uv_loop_t* loop, uv_fs_t* req, uv_file file, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FSTAT, cb);
  if (err != 0)
    return err;
  req->file = file;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_fsync(uv_loop_t* loop, uv_fs_t* req, uv_file file, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FSYNC, cb);
  if (err != 0)
    return err;
  req->file = file;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_fdatasync(uv_loop_t* loop, uv_fs_t* req, uv_file file,
                    uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FDATASYNC, cb);
  if (err != 0)
    return err;
  req->file = file;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_ftruncate(uv_loop_t* loop, uv_fs_t* req, uv_file file,
                    int64_t offset, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FTRUNCATE, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->off = offset;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_sendfile(uv_loop_t* loop, uv_fs_t* req, uv_file out_fd,
                   uv_file in_fd, int64_t in_offset, size_t length,
                   uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_SENDFILE, cb);
  if (err != 0)
    return err;
  /* No offset means no position: libuv fails too (EINVAL from a pipe,
   * EOVERFLOW from a file); one clear code here. */
  if (in_offset < 0)
    return fs_reject(req, UV_EINVAL);
  req->file = out_fd;
  req->flags = in_fd;
  req->off = in_offset;
  req->bufsml[0].len = length;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_fchmod(uv_loop_t* loop, uv_fs_t* req, uv_file file, int mode,
                 uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FCHMOD, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->mode = (mode_t) mode;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_futime(uv_loop_t* loop, uv_fs_t* req, uv_file file, double atime,
                 double mtime, uv_fs_cb cb) {
  int err;

  if (!fs_times_ok(atime, mtime))
    return fs_refuse(loop, req, UV_FS_FUTIME, cb);
  err = fs_prepare(loop, req, UV_FS_FUTIME, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->atime = atime;
  req->mtime = mtime;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_fchown(uv_loop_t* loop, uv_fs_t* req, uv_file file, uv_uid_t uid,
                 uv_gid_t gid, uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_FCHOWN, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->uid = uid;
  req->gid = gid;
  return uv__fs_submit(loop, req, cb);
}

/* ---------------------------------------------------------------------
 * Requests on directory streams. req->ptr is the stream throughout, so a
 * readdir callback can find it there.
 */
int uv_fs_readdir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
                  uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_READDIR, cb);
  if (err != 0)
    return err;
  if (dir == NULL || dir->dir == NULL || dir->dirents == NULL ||
      dir->nentries == 0)
    return fs_reject(req, UV_EINVAL);
  req->ptr = dir;
  return uv__fs_submit(loop, req, cb);
}

int uv_fs_closedir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
                   uv_fs_cb cb) {
  int err = fs_prepare(loop, req, UV_FS_CLOSEDIR, cb);
  if (err != 0)
    return err;
  if (dir == NULL || dir->dir == NULL)
    return fs_reject(req, UV_EINVAL);
  req->ptr = dir;
  return uv__fs_submit(loop, req, cb);
}

/* ---------------------------------------------------------------------
 * Cleanup and accessors.
 */
void uv_fs_req_cleanup(uv_fs_t* req) {
  /* In flight, the path and buffers are a worker's: freeing them now
   * would pull them from under it. */
  if (req == NULL || uv__req_in_flight(req))
    return;
  if (req->path != NULL && fs_owns_path(req))
    uv__free((char*) req->path);
  req->path = NULL;
  req->new_path = NULL;
  fs_release_bufs(req);

  switch (req->fs_type) {
    case UV_FS_SCANDIR:
      if (req->ptr != NULL)
        uv__fs_scandir_free(req->ptr);
      break;
    case UV_FS_READDIR:
      if (req->ptr != NULL && req->result > 0)
        uv__fs_readdir_free(req->ptr, (size_t) req->result);
      break;
    case UV_FS_READLINK:
    case UV_FS_REALPATH:
    case UV_FS_STATFS:
      uv__free(req->ptr);
      break;
    default:
      /* The stat family points at req->statbuf; opendir's uv_dir_t
       * belongs to the caller until uv_fs_closedir(). */
      break;
  }
  req->ptr = NULL;
}

uv_fs_type uv_fs_get_type(const uv_fs_t* req) {
  if (req == NULL)
    return UV_FS_UNKNOWN;
  return req->fs_type;
}

ssize_t uv_fs_get_result(const uv_fs_t* req) {
  if (req == NULL)
    return UV_EINVAL;
  return req->result;
}

/* The errno of a failed request. libuv documents it as -result; for a
 * request that succeeded there is no error, so 0 rather than a negative
 * byte count or descriptor. */
/* libuv documents this as -(req->result) on Unix, successes included. */
int uv_fs_get_system_error(const uv_fs_t* req) {
  if (req == NULL)
    return EINVAL;
  return (int) -req->result;
}

void* uv_fs_get_ptr(const uv_fs_t* req) {
  if (req == NULL)
    return NULL;
  return req->ptr;
}

const char* uv_fs_get_path(const uv_fs_t* req) {
  if (req == NULL)
    return NULL;
  return req->path;
}

uv_stat_t* uv_fs_get_statbuf(uv_fs_t* req) {
  if (req == NULL)
    return NULL;
  return &req->statbuf;
}

/* On Unix the C runtime's descriptor is the system's. */
uv_os_fd_t uv_get_osfhandle(int fd) {
  return fd;
}

int uv_open_osfhandle(uv_os_fd_t os_fd) {
  return os_fd;
}
