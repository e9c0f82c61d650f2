/* Pipes: Unix domain stream sockets (bound to a path, or to an abstract
 * name through nl_pipe_bind2), descriptors opened with uv_pipe_open(), and
 * IPC pipes that carry descriptors along with bytes. Reading and writing
 * are the stream's (stream.c); uv_pipe() and uv_socketpair() live here too.
 */
#include "internal.h"
#include "stream.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int uv_pipe_init(uv_loop_t* loop, uv_pipe_t* pipe, int ipc) {
  if (loop == NULL || pipe == NULL)
    return UV_EINVAL;
  uv__stream_init(loop, (uv_stream_t*) pipe, UV_NAMED_PIPE);
  pipe->ipc = ipc != 0;
  pipe->pipe_fname = NULL;
  return 0;
}

/* What a descriptor of unknown kind is, for a pipe handle: a socket (sent
 * to with MSG_NOSIGNAL) and, if so, whether it keeps records. */
unsigned int uv__pipe_fd_flags(int fd) {
  struct stat st;
  socklen_t len = sizeof(int);
  int type = SOCK_STREAM;

  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
    return 0;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
      type != SOCK_STREAM)
    return UV__STREAM_SOCKET | UV__PIPE_RECORDS;
  return UV__STREAM_SOCKET;
}

int uv_pipe_open(uv_pipe_t* pipe, uv_file fd) {
  unsigned int flags = 0;
  int mode;
  int err;

  if (pipe == NULL || pipe->type != UV_NAMED_PIPE || fd < 0)
    return UV_EINVAL;
  if (uv__fd_in_use(pipe->loop, fd))
    return UV_EEXIST;
  mode = fcntl(fd, F_GETFL);
  if (mode == -1)
    return uv__neg_errno();
  err = uv__nonblock(fd, 1);
  if (err != 0)
    return err;
  mode &= O_ACCMODE;
  if (mode != O_WRONLY)
    flags |= UV__STREAM_READABLE;
  if (mode != O_RDONLY)
    flags |= UV__STREAM_WRITABLE;
  flags |= uv__pipe_fd_flags(fd);
  return uv__stream_open((uv_stream_t*) pipe, fd, flags);
}

/* Fills a sockaddr_un from name[0..len). Names longer than sun_path are
 * cut short, as libuv 1.44 documents. Returns the address length. */
static socklen_t make_addr(struct sockaddr_un* sun, const char* name,
                           size_t len) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  if (len > sizeof(sun->sun_path) - 1 && name[0] != '\0')
    len = sizeof(sun->sun_path) - 1;
  if (len > sizeof(sun->sun_path))
    len = sizeof(sun->sun_path);
  memcpy(sun->sun_path, name, len);
  /* An abstract name is exactly len bytes; a path ends at its NUL. */
  if (name[0] == '\0')
    return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
  return (socklen_t) sizeof(*sun);
}

static int pipe_bind(uv_pipe_t* pipe, const char* name, size_t len) {
  struct sockaddr_un sun;
  socklen_t slen;
  char* copy = NULL;
  int err;
  int fd;

  if (pipe == NULL || name == NULL || pipe->type != UV_NAMED_PIPE ||
      uv__is_closing((uv_handle_t*) pipe))
    return UV_EINVAL;
  if (len == 0)
    return UV_EINVAL;
  /* Bound already, or given a descriptor: binding again is refused. */
  if (pipe->pipe_fname != NULL || pipe->io_watcher.fd >= 0)
    return UV_EINVAL;
  slen = make_addr(&sun, name, len);
  if (name[0] != '\0') {
    copy = uv__strdup(sun.sun_path);
    if (copy == NULL)
      return UV_ENOMEM;
  }
  fd = uv__socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    uv__free(copy);
    return fd;
  }
  if (bind(fd, (struct sockaddr*) &sun, slen) != 0) {
    /* A path whose directory is missing is "not available", as libuv
     * reports it. */
    err = errno == ENOENT ? UV_EACCES : uv__neg_errno();
    uv__close(fd);
    uv__free(copy);
    return err;
  }
  err = uv__stream_open((uv_stream_t*) pipe, fd, UV__STREAM_SOCKET);
  if (err != 0) {
    uv__close(fd);
    if (copy != NULL)
      unlink(copy);
    uv__free(copy);
    return err;
  }
  /* Only a file-system name is removed again on close. */
  pipe->pipe_fname = copy;
  return 0;
}

int uv_pipe_bind(uv_pipe_t* pipe, const char* name) {
  if (name == NULL)
    return UV_EINVAL;
  return pipe_bind(pipe, name, strlen(name));
}

/* The longest name nl_pipe_*2 accept: an abstract name may use all of
 * sun_path, a path needs its terminating NUL. */
static int name_fits(const char* name, size_t len) {
  size_t max = sizeof(((struct sockaddr_un*) 0)->sun_path);
  return name != NULL && len > 0 && len <= (name[0] == '\0' ? max : max - 1);
}

int nl_pipe_bind2(uv_pipe_t* pipe, const char* name, size_t namelen) {
  if (!name_fits(name, namelen))
    return UV_EINVAL;
  return pipe_bind(pipe, name, namelen);
}

int uv__pipe_listen(uv_pipe_t* pipe, int backlog, uv_connection_cb cb) {
  if (pipe->io_watcher.fd < 0)
    return UV_EINVAL;
  return uv__stream_listen((uv_stream_t*) pipe, backlog, cb);
}

void uv__pipe_close(uv_pipe_t* pipe) {
  if (pipe->pipe_fname != NULL) {
    /* The socket file would refuse the next bind to the same path. */
    unlink(pipe->pipe_fname);
    uv__free((void*) pipe->pipe_fname);
    pipe->pipe_fname = NULL;
  }
}

static int pipe_connect(uv_connect_t* req, uv_pipe_t* pipe, const char* name,
                        size_t len, uv_connect_cb cb) {
  struct sockaddr_un sun;
  socklen_t slen;
  int err = 0;
  int fd;
  int r;

  if (req == NULL || pipe == NULL || name == NULL || len == 0 ||
      pipe->type != UV_NAMED_PIPE || uv__is_closing((uv_handle_t*) pipe))
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  if (pipe->connect_req != NULL)
    return UV_EALREADY;
  slen = make_addr(&sun, name, len);
  if (pipe->io_watcher.fd == -1) {
    fd = uv__socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
      err = fd;
    } else {
      err = uv__stream_open((uv_stream_t*) pipe, fd, UV__STREAM_SOCKET);
      if (err != 0)
        uv__close(fd);
    }
  }
  if (err == 0) {
    do
      r = connect(pipe->io_watcher.fd, (struct sockaddr*) &sun, slen);
    while (r == -1 && errno == EINTR);
    /* EAGAIN from a Unix socket is a full backlog: refused, not pending. */
    if (r == -1 && errno != EINPROGRESS)
      err = uv__neg_errno();
    else
      pipe->flags |= UV__STREAM_READABLE | UV__STREAM_WRITABLE;
  }
  /* Errors, immediate ones included, reach the callback (libuv's
   * uv_pipe_connect returns nothing). */
  uv__stream_connect_begin((uv_stream_t*) pipe, req, cb, err);
  return 0;
}

void uv_pipe_connect(uv_connect_t* req, uv_pipe_t* pipe, const char* name,
                     uv_connect_cb cb) {
  size_t len = name != NULL ? strlen(name) : 0;
  (void) pipe_connect(req, pipe, name, len, cb);
}

int nl_pipe_connect2(uv_connect_t* req, uv_pipe_t* pipe, const char* name,
                     size_t namelen, uv_connect_cb cb) {
  if (!name_fits(name, namelen))
    return UV_EINVAL;
  return pipe_connect(req, pipe, name, namelen, cb);
}

static int pipe_name(const uv_pipe_t* pipe, uv__name_fn fn, char* buffer,
                     size_t* size) {
  struct sockaddr_un sun;
  socklen_t slen = sizeof(sun);
  size_t len;

  if (pipe == NULL || buffer == NULL || size == NULL)
    return UV_EINVAL;
  if (pipe->io_watcher.fd < 0) {
    *size = 0;
    return UV_EBADF;
  }
  memset(&sun, 0, sizeof(sun));
  if (fn(pipe->io_watcher.fd, (struct sockaddr*) &sun, &slen) != 0) {
    *size = 0;
    return uv__neg_errno();
  }
  if (slen <= offsetof(struct sockaddr_un, sun_path))
    len = 0;   /* unnamed */
  else if (sun.sun_path[0] == '\0')
    len = slen - offsetof(struct sockaddr_un, sun_path);   /* abstract */
  else
    len = strnlen(sun.sun_path, sizeof(sun.sun_path));
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, sun.sun_path, len);
  /* A path is a C string; an abstract name is bytes, returned as is. */
  if (len > 0 && sun.sun_path[0] != '\0')
    buffer[len] = '\0';
  *size = len;
  return 0;
}

int uv_pipe_getsockname(const uv_pipe_t* pipe, char* buffer, size_t* size) {
  return pipe_name(pipe, getsockname, buffer, size);
}

int uv_pipe_getpeername(const uv_pipe_t* pipe, char* buffer, size_t* size) {
  return pipe_name(pipe, getpeername, buffer, size);
}

/* A Windows setting; nothing to do on Linux. */
void uv_pipe_pending_instances(uv_pipe_t* pipe, int count) {
  (void) pipe;
  (void) count;
}

int uv_pipe_pending_count(uv_pipe_t* pipe) {
  if (pipe == NULL || pipe->type != UV_NAMED_PIPE || !pipe->ipc)
    return 0;
  return uv__stream_pending_count((uv_stream_t*) pipe);
}

uv_handle_type uv_pipe_pending_type(uv_pipe_t* pipe) {
  if (pipe == NULL || pipe->type != UV_NAMED_PIPE || !pipe->ipc ||
      pipe->accepted_fd == -1)
    return UV_UNKNOWN_HANDLE;
  return uv_guess_handle(pipe->accepted_fd);
}

int uv_pipe_chmod(uv_pipe_t* pipe, int flags) {
  char name[sizeof(((struct sockaddr_un*) 0)->sun_path) + 1];
  size_t len = sizeof(name);
  struct stat st;
  mode_t want = 0;
  int err;

  if (pipe == NULL || pipe->type != UV_NAMED_PIPE ||
      pipe->io_watcher.fd < 0 || uv__is_closing((uv_handle_t*) pipe))
    return UV_EBADF;
  if (flags == 0 || (flags & ~(UV_READABLE | UV_WRITABLE)))
    return UV_EINVAL;
  err = uv_pipe_getsockname(pipe, name, &len);
  if (err != 0)
    return err;
  if (len == 0 || name[0] == '\0')
    return UV_ENOENT;   /* unnamed or abstract: no file to change */
  if (flags & UV_READABLE)
    want |= S_IRUSR | S_IRGRP | S_IROTH;
  if (flags & UV_WRITABLE)
    want |= S_IWUSR | S_IWGRP | S_IWOTH;
  if (stat(name, &st) != 0)
    return uv__neg_errno();
  if ((st.st_mode & want) == want)
    return 0;
  if (chmod(name, (st.st_mode & 07777) | want) != 0)
    return uv__neg_errno();
  return 0;
}

/* Hands a fresh pair of descriptors to the caller, each made non-blocking
 * if its flags ask for it; on failure both are closed. */
static int hand_out_pair(const int pair[2], int flags0, int flags1,
                         int out[2]) {
  int err = 0;

  if (flags0 & UV_NONBLOCK_PIPE)
    err = uv__nonblock(pair[0], 1);
  if (err == 0 && (flags1 & UV_NONBLOCK_PIPE))
    err = uv__nonblock(pair[1], 1);
  if (err != 0) {
    uv__close(pair[0]);
    uv__close(pair[1]);
    return err;
  }
  out[0] = pair[0];
  out[1] = pair[1];
  return 0;
}

int uv_pipe(uv_file fds[2], int read_flags, int write_flags) {
  int p[2];

  if (fds == NULL)
    return UV_EINVAL;
  if (pipe2(p, O_CLOEXEC) != 0)
    return uv__neg_errno();
  return hand_out_pair(p, read_flags, write_flags, fds);
}

int uv_socketpair(int type, int protocol, uv_os_sock_t sv[2], int flags0,
                  int flags1) {
  int s[2];

  if (sv == NULL)
    return UV_EINVAL;
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, protocol, s) != 0)
    return uv__neg_errno();
  return hand_out_pair(s, flags0, flags1, sv);
}
