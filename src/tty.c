/* TTY handles: a terminal as a stream, its modes (normal, raw, binary IO)
 * and its window size. The mode the first raw-mode switch replaced is kept
 * process-wide so that uv_tty_reset_mode() can restore it from a signal
 * handler or at exit.
 */
#include "internal.h"
#include "stream.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The terminal whose mode uv_tty_reset_mode() restores, and that mode.
 * Guarded by a flag taken with an atomic exchange, never a lock, so that
 * a signal handler interrupting the owner gets UV_EBUSY instead of a
 * deadlock. */
static atomic_int saved_busy;
static int saved_fd = -1;
static struct termios saved_termios;

static int take_saved(void) {
  return atomic_exchange_explicit(&saved_busy, 1, memory_order_acquire) == 0;
}

static void give_saved(void) {
  atomic_store_explicit(&saved_busy, 0, memory_order_release);
}

/* Opens the terminal again, so that O_NONBLOCK on our descriptor does not
 * reach other processes sharing the caller's open file (a shell, say).
 * Returns the new descriptor or -1 when the terminal has no name to open
 * (the master side of a pty) or cannot be opened. */
static int reopen_tty(int fd, int mode) {
  char path[256];
  unsigned int n;

  /* A pty master answers TIOCGPTN; opening its name (/dev/ptmx) would
   * create a new pty instead of reaching this one. */
  if (ioctl(fd, TIOCGPTN, &n) == 0)
    return -1;
  if (ttyname_r(fd, path, sizeof(path)) != 0)
    return -1;
  return open(path, mode | O_NOCTTY | O_CLOEXEC);
}

int uv_tty_init(uv_loop_t* loop, uv_tty_t* tty, uv_file fd, int unused) {
  unsigned int flags = 0;
  uv_handle_type type;
  int newfd = -1;
  int mode;
  int err;

  (void) unused;   /* the open mode says what the descriptor can do */
  if (loop == NULL || tty == NULL || fd < 0)
    return UV_EINVAL;
  type = uv_guess_handle(fd);
  if (type == UV_FILE || type == UV_UNKNOWN_HANDLE)
    return UV_EINVAL;
  mode = fcntl(fd, F_GETFL);
  if (mode == -1)
    return uv__neg_errno();
  mode &= O_ACCMODE;

  if (type == UV_TTY)
    newfd = reopen_tty(fd, mode);
  if (newfd != -1) {
    fd = newfd;
    err = uv__nonblock(fd, 1);
  } else if (type == UV_TTY) {
    /* The shared descriptor stays blocking; writes wait until done. */
    flags |= UV__STREAM_BLOCKING;
    err = 0;
  } else {
    err = uv__nonblock(fd, 1);
  }
  if (err != 0) {
    if (newfd != -1)
      uv__close(newfd);
    return err;
  }
  if (uv__fd_in_use(loop, fd)) {
    if (newfd != -1)
      uv__close(newfd);
    return UV_EEXIST;
  }

  uv__stream_init(loop, (uv_stream_t*) tty, UV_TTY);
  if (mode != O_WRONLY)
    flags |= UV__STREAM_READABLE;
  if (mode != O_RDONLY)
    flags |= UV__STREAM_WRITABLE;
  /* A terminal raises no SIGPIPE; a pipe does, and a socket can avoid
   * it per call: each gets its own way of writing (stream.c). */
  if (type == UV_TTY)
    flags |= UV__STREAM_TERMINAL;
  else if (type != UV_NAMED_PIPE)
    flags |= UV__STREAM_SOCKET;
  uv__stream_open((uv_stream_t*) tty, fd, flags);
  tty->mode = UV_TTY_MODE_NORMAL;
  tty->u.tty.mode_set = 0;
  return 0;
}

static void make_raw(struct termios* t) {
  t->c_iflag &= ~(tcflag_t) (BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  t->c_oflag |= ONLCR;
  t->c_cflag |= CS8;
  t->c_lflag &= ~(tcflag_t) (ECHO | ICANON | IEXTEN | ISIG);
  t->c_cc[VMIN] = 1;
  t->c_cc[VTIME] = 0;
}

static int set_attr(int fd, const struct termios* t) {
  int r;
  do
    r = tcsetattr(fd, TCSADRAIN, t);
  while (r == -1 && errno == EINTR);
  return r == 0 ? 0 : uv__neg_errno();
}

int uv_tty_set_mode(uv_tty_t* tty, uv_tty_mode_t mode) {
  struct termios t;
  int fd;
  int err;

  if (tty == NULL || tty->type != UV_TTY ||
      (unsigned int) mode > UV_TTY_MODE_IO)
    return UV_EINVAL;
  fd = tty->io_watcher.fd;
  if (fd < 0)
    return UV_EBADF;
  if ((int) mode == tty->mode)
    return 0;

  if (tty->mode == UV_TTY_MODE_NORMAL) {
    if (tcgetattr(fd, &tty->orig_termios) != 0)
      return uv__neg_errno();
    /* The first terminal to leave normal mode is the one restored by
     * uv_tty_reset_mode(). */
    if (take_saved()) {
      if (saved_fd == -1) {
        saved_fd = fd;
        saved_termios = tty->orig_termios;
      }
      give_saved();
    }
  }

  t = tty->orig_termios;
  switch (mode) {
    case UV_TTY_MODE_NORMAL:
      break;
    case UV_TTY_MODE_RAW:
      make_raw(&t);
      break;
    case UV_TTY_MODE_IO:
      cfmakeraw(&t);
      break;
  }
  err = set_attr(fd, &t);
  if (err != 0)
    return err;
  tty->mode = (int) mode;
  tty->u.tty.mode_set = mode != UV_TTY_MODE_NORMAL;
  return 0;
}

int uv_tty_reset_mode(void) {
  int saved_errno = errno;
  int err = 0;

  if (!take_saved())
    return UV_EBUSY;
  if (saved_fd != -1 && tcsetattr(saved_fd, TCSANOW, &saved_termios) != 0)
    err = -errno;
  give_saved();
  errno = saved_errno;
  return err;
}

/* Closing a terminal left in raw mode gives it its mode back, and lets
 * uv_tty_reset_mode() forget a descriptor that is about to go away. */
void uv__tty_close(uv_tty_t* tty) {
  int fd = tty->io_watcher.fd;

  if (fd >= 0 && tty->u.tty.mode_set) {
    set_attr(fd, &tty->orig_termios);
    tty->mode = UV_TTY_MODE_NORMAL;
    tty->u.tty.mode_set = 0;
  }
  if (fd >= 0 && take_saved()) {
    if (saved_fd == fd)
      saved_fd = -1;
    give_saved();
  }
  uv__stream_close((uv_stream_t*) tty);
}

int uv_tty_get_winsize(uv_tty_t* tty, int* width, int* height) {
  struct winsize ws;
  int r;

  if (tty == NULL || width == NULL || height == NULL || tty->type != UV_TTY)
    return UV_EINVAL;
  if (tty->io_watcher.fd < 0)
    return UV_EBADF;
  do
    r = ioctl(tty->io_watcher.fd, TIOCGWINSZ, &ws);
  while (r == -1 && errno == EINTR);
  if (r == -1)
    return uv__neg_errno();
  *width = ws.ws_col;
  *height = ws.ws_row;
  return 0;
}

/* Virtual terminal processing is a Windows console setting. */
void uv_tty_set_vterm_state(uv_tty_vtermstate_t state) {
  (void) state;
}

int uv_tty_get_vterm_state(uv_tty_vtermstate_t* state) {
  (void) state;
  return UV_ENOTSUP;
}
