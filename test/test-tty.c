/* TTY handles on a pseudo-terminal: uv_guess_handle, uv_tty_init, the
 * modes and the termios settings behind them, uv_tty_reset_mode, window
 * size, the virtual terminal state, and data both ways between the handle
 * and the master side. Cases skip when no pseudo-terminal can be made. */
#include "stream-helpers.h"

#include <poll.h>
#include <sys/stat.h>
#include <termios.h>

struct pty {
  int master;
  int slave;
};

static void pty_open(struct pty* p) {
  const char* name;
  p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p->master < 0)
    nl_test_skip("posix_openpt failed: no pseudo-terminals here");
  CHECK_OK(grantpt(p->master));
  CHECK_OK(unlockpt(p->master));
  name = ptsname(p->master);
  CHECK(name != NULL);
  p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p->slave < 0)
    nl_test_skip("the pseudo-terminal's slave side cannot be opened");
}

static void pty_close(struct pty* p) {
  CHECK_OK(close(p->master));
  CHECK_OK(close(p->slave));
}

/* Reads from the master until want bytes came or timeout_ms passed with
 * nothing new; returns the count. */
static size_t master_read(struct pty* p, char* buf, size_t want,
                          int timeout_ms) {
  size_t got = 0;
  while (got < want) {
    struct pollfd pfd = {p->master, POLLIN, 0};
    ssize_t n;
    if (poll(&pfd, 1, timeout_ms) <= 0)
      break;
    n = read(p->master, buf + got, want - got);
    CHECK(n > 0);
    got += (size_t) n;
  }
  return got;
}

static struct termios attrs(int fd) {
  struct termios t;
  CHECK_OK(tcgetattr(fd, &t));
  return t;
}

static int same_termios(const struct termios* a, const struct termios* b) {
  return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
         a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
         memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0;
}

TEST(guess_handle_and_init) {
  struct pty p;
  uv_tty_t tty, other;
  int fds[2], file, tcp, udp;
  uv_loop_t loop;

  pty_open(&p);
  CHECK_EQ(uv_guess_handle(p.slave), UV_TTY);
  CHECK_EQ(uv_guess_handle(p.master), UV_TTY);
  CHECK_OK(pipe(fds));
  CHECK_EQ(uv_guess_handle(fds[0]), UV_NAMED_PIPE);
  file = open(nl_test_tmpdir(), O_RDONLY | O_CLOEXEC);
  CHECK(file >= 0);
  CHECK_EQ(uv_guess_handle(file), UV_UNKNOWN_HANDLE);   /* a directory */
  CHECK_OK(close(file));
  file = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  CHECK(file >= 0);
  CHECK_EQ(uv_guess_handle(file), UV_FILE);
  tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(tcp >= 0 && udp >= 0);
  CHECK_EQ(uv_guess_handle(tcp), UV_TCP);
  CHECK_EQ(uv_guess_handle(udp), UV_UDP);
  CHECK_EQ(uv_guess_handle(-1), UV_UNKNOWN_HANDLE);

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p.slave, 1));
  CHECK_EQ(uv_handle_get_type((uv_handle_t*) &tty), UV_TTY);
  CHECK(uv_is_readable((uv_stream_t*) &tty));
  CHECK(uv_is_writable((uv_stream_t*) &tty));
  CHECK(sh_nonblocking(sh_fd(&tty)));
  CHECK(isatty(sh_fd(&tty)));
  /* Not a terminal, or not open. */
  CHECK_EQ(uv_tty_init(&loop, &other, file, 0), UV_EINVAL);
  CHECK_EQ(uv_tty_init(&loop, &other, 100000, 0), UV_EINVAL);
  nl_test_close_loop(&loop);
  CHECK_OK(close(file));
  CHECK_OK(close(fds[0]));
  CHECK_OK(close(fds[1]));
  CHECK_OK(close(tcp));
  CHECK_OK(close(udp));
  pty_close(&p);
}

/* Raw mode turns off line editing, echo, signals and input translation,
 * with 8-bit characters and reads of at least one byte; output
 * processing stays. IO mode is raw with output processing off too.
 * Normal mode, and uv_tty_reset_mode, bring the original back. */
static void check_raw_input(const struct termios* t) {
  CHECK_EQ(t->c_lflag & (ECHO | ICANON | ISIG | IEXTEN), 0);
  CHECK_EQ(t->c_iflag & (BRKINT | ICRNL | INPCK | ISTRIP | IXON), 0);
  CHECK_EQ(t->c_cflag & CSIZE, CS8);
  CHECK_EQ(t->c_cc[VMIN], 1);
  CHECK_EQ(t->c_cc[VTIME], 0);
}

TEST(set_mode) {
  struct pty p;
  uv_tty_t tty;
  struct termios orig, t;
  uv_loop_t loop;

  pty_open(&p);
  orig = attrs(p.slave);
  CHECK(orig.c_lflag & ICANON);
  CHECK(orig.c_lflag & ECHO);
  CHECK(orig.c_oflag & OPOST);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p.slave, 1));

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_RAW));
  t = attrs(p.slave);
  check_raw_input(&t);
  CHECK(t.c_oflag & OPOST);

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_IO));
  t = attrs(p.slave);
  check_raw_input(&t);
  CHECK_EQ(t.c_oflag & OPOST, 0);

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_NORMAL));
  t = attrs(p.slave);
  CHECK(same_termios(&t, &orig));

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_RAW));
  t = attrs(p.slave);
  check_raw_input(&t);
  CHECK_OK(uv_tty_reset_mode());
  t = attrs(p.slave);
  CHECK(same_termios(&t, &orig));
  CHECK_OK(uv_tty_reset_mode());   /* nothing to undo: still fine */
  nl_test_close_loop(&loop);
  pty_close(&p);
}

TEST(winsize) {
  struct pty p;
  uv_tty_t tty;
  struct winsize ws;
  int width = -1, height = -1;
  uv_loop_t loop;

  pty_open(&p);
  memset(&ws, 0, sizeof(ws));
  ws.ws_col = 111;
  ws.ws_row = 33;
  CHECK_OK(ioctl(p.master, TIOCSWINSZ, &ws));
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p.slave, 0));
  CHECK_OK(uv_tty_get_winsize(&tty, &width, &height));
  CHECK_EQ(width, 111);
  CHECK_EQ(height, 33);
  ws.ws_col = 40;
  ws.ws_row = 12;
  CHECK_OK(ioctl(p.master, TIOCSWINSZ, &ws));
  CHECK_OK(uv_tty_get_winsize(&tty, &width, &height));
  CHECK_EQ(width, 40);
  CHECK_EQ(height, 12);
  nl_test_close_loop(&loop);
  pty_close(&p);
}

/* The virtual terminal state is a Windows matter: on Linux, setting it
 * does nothing and reading it is not supported. */
TEST(vterm_state) {
  uv_tty_vtermstate_t state = UV_TTY_UNSUPPORTED;

  CHECK_EQ(uv_tty_get_vterm_state(&state), UV_ENOTSUP);
  uv_tty_set_vterm_state(UV_TTY_SUPPORTED);
  CHECK_EQ(uv_tty_get_vterm_state(&state), UV_ENOTSUP);
  uv_tty_set_vterm_state(UV_TTY_UNSUPPORTED);
  CHECK_EQ(uv_tty_get_vterm_state(&state), UV_ENOTSUP);
  CHECK_EQ(state, UV_TTY_UNSUPPORTED);
}

/* What the handle writes reaches the master: with output processing
 * ("\n" becomes "\r\n") in normal mode, without in IO mode. */
static int tty_writes;

static void tty_write_cb(uv_write_t* req, int status) {
  (void) req;
  CHECK_OK(status);
  tty_writes++;
}

TEST(write_reaches_master) {
  struct pty p;
  uv_tty_t tty;
  uv_write_t req;
  uv_buf_t b = uv_buf_init("hi\n", 3);
  char buf[16];
  uv_loop_t loop;

  pty_open(&p);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p.slave, 0));
  CHECK_OK(uv_write(&req, (uv_stream_t*) &tty, &b, 1, tty_write_cb));
  CHECK_EQ(tty_writes, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(tty_writes, 1);
  CHECK_EQ(tty.write_queue_size, 0);
  CHECK_EQ(master_read(&p, buf, 4, 5000), 4);
  CHECK(memcmp(buf, "hi\r\n", 4) == 0);

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_IO));
  CHECK_EQ(uv_try_write((uv_stream_t*) &tty, &b, 1), 3);
  CHECK_EQ(master_read(&p, buf, 3, 5000), 3);
  CHECK(memcmp(buf, "hi\n", 3) == 0);
  CHECK_EQ(master_read(&p, buf, 1, 50), 0);   /* nothing more */
  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_NORMAL));
  nl_test_close_loop(&loop);
  pty_close(&p);
}

/* Reading: in normal mode a line comes when it is complete, and is
 * echoed; in raw mode each byte comes at once, without echo. */
TEST(read_from_tty) {
  struct pty p;
  uv_tty_t tty;
  struct sh_sink sink;
  char buf[16];
  int i;
  uv_loop_t loop;

  pty_open(&p);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(uv_tty_init(&loop, &tty, p.slave, 1));
  sh_sink_start(&sink, (uv_stream_t*) &tty);
  sh_write_all(p.master, "abc", 3);
  for (i = 0; i < 10; i++) {
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
    usleep(5000);
  }
  CHECK_EQ(sink.len, 0);   /* the line is not finished */
  sh_write_all(p.master, "\n", 1);
  SH_RUN_UNTIL(&loop, sink.len == 4);
  CHECK(memcmp(sink.data, "abc\n", 4) == 0);
  CHECK_EQ(master_read(&p, buf, 5, 5000), 5);
  CHECK(memcmp(buf, "abc\r\n", 5) == 0);

  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_RAW));
  sh_write_all(p.master, "xy", 2);
  SH_RUN_UNTIL(&loop, sink.len == 6);
  CHECK(memcmp(sink.data + 4, "xy", 2) == 0);
  CHECK_EQ(master_read(&p, buf, 1, 50), 0);   /* no echo */
  CHECK_OK(uv_tty_set_mode(&tty, UV_TTY_MODE_NORMAL));
  CHECK_EQ(sink.eof + sink.error, 0);
  sh_sink_free(&sink);
  nl_test_close_loop(&loop);
  pty_close(&p);
}
