/* The contract between the file-system requests (fs.c) and the blocking
 * operations behind them (fs_ops.c, fs_copy.c).
 *
 * Each uv__fs_op_* runs one operation to completion on the calling thread
 * (the caller's for a synchronous request, a pool thread otherwise) and
 * returns the request's result: >= 0, or a negative UV_E* code taken from
 * the failing system call. They read their arguments from the request,
 * which fs.c has validated, and write only their own outputs: req->ptr,
 * req->statbuf, and the template in req->path (mkdtemp, mkstemp).
 *
 * Where the arguments live in uv_fs_t:
 *   path, new_path    the paths (owned copies for asynchronous requests)
 *   file              the descriptor; sendfile: the output descriptor
 *   flags             open and copyfile flags, the access mode;
 *                     sendfile: the input descriptor
 *   mode              open, mkdir, chmod, fchmod
 *   bufs, nbufs, off  read and write (bufs is always the request's own
 *                     copy of the caller's array, so it may be modified);
 *                     off is also ftruncate's length and sendfile's offset
 *   bufsml[0].len     sendfile's length
 *   uid, gid          the chown family
 *   atime, mtime      the utime family
 *   ptr               readdir, closedir: the uv_dir_t
 */
#ifndef NL_FS_H_
#define NL_FS_H_

#include "internal.h"

#include <sys/types.h>

ssize_t uv__fs_op_open(uv_fs_t* req);
ssize_t uv__fs_op_close(uv_fs_t* req);
ssize_t uv__fs_op_read(uv_fs_t* req);
ssize_t uv__fs_op_write(uv_fs_t* req);
ssize_t uv__fs_op_unlink(uv_fs_t* req);
ssize_t uv__fs_op_mkdir(uv_fs_t* req);
ssize_t uv__fs_op_mkdtemp(uv_fs_t* req);
ssize_t uv__fs_op_mkstemp(uv_fs_t* req);
ssize_t uv__fs_op_rmdir(uv_fs_t* req);
ssize_t uv__fs_op_scandir(uv_fs_t* req);
ssize_t uv__fs_op_opendir(uv_fs_t* req);
ssize_t uv__fs_op_readdir(uv_fs_t* req);
ssize_t uv__fs_op_closedir(uv_fs_t* req);
ssize_t uv__fs_op_stat(uv_fs_t* req);
ssize_t uv__fs_op_lstat(uv_fs_t* req);
ssize_t uv__fs_op_fstat(uv_fs_t* req);
ssize_t uv__fs_op_statfs(uv_fs_t* req);
ssize_t uv__fs_op_rename(uv_fs_t* req);
ssize_t uv__fs_op_fsync(uv_fs_t* req);
ssize_t uv__fs_op_fdatasync(uv_fs_t* req);
ssize_t uv__fs_op_ftruncate(uv_fs_t* req);
ssize_t uv__fs_op_access(uv_fs_t* req);
ssize_t uv__fs_op_chmod(uv_fs_t* req);
ssize_t uv__fs_op_fchmod(uv_fs_t* req);
ssize_t uv__fs_op_utime(uv_fs_t* req);
ssize_t uv__fs_op_futime(uv_fs_t* req);
ssize_t uv__fs_op_lutime(uv_fs_t* req);
ssize_t uv__fs_op_link(uv_fs_t* req);
ssize_t uv__fs_op_symlink(uv_fs_t* req);
ssize_t uv__fs_op_readlink(uv_fs_t* req);
ssize_t uv__fs_op_realpath(uv_fs_t* req);
ssize_t uv__fs_op_chown(uv_fs_t* req);
ssize_t uv__fs_op_fchown(uv_fs_t* req);
ssize_t uv__fs_op_lchown(uv_fs_t* req);

/* Fills *s from a statx(2) result (io_uring's too). */
struct statx;
void uv__fs_stat_from_statx(uv_stat_t* s, const struct statx* x);

/* fs_copy.c */
ssize_t uv__fs_op_copyfile(uv_fs_t* req);
ssize_t uv__fs_op_sendfile(uv_fs_t* req);

/* The entries a successful scandir leaves in req->ptr (NULL when there
 * are none). take() hands out the next one, UV_EOF after the last; the
 * names stay valid until free(). */
int uv__fs_scandir_take(void* entries, uv_dirent_t* ent);
void uv__fs_scandir_free(void* entries);

/* Frees the names a readdir stored in dir->dirents[0, n). */
void uv__fs_readdir_free(uv_dir_t* dir, size_t n);

#endif /* NL_FS_H_ */
