/* File event handles (uv_fs_event_*): files and directories, renames,
 * entries created and deleted, many handles on one file, stop, restart
 * and close from callbacks (of the handle itself and of others), getpath,
 * bad input, the loop's single inotify descriptor, and fork.
 *
 * inotify queues an event before the system call that caused it returns,
 * so a test makes its change, then runs the loop without blocking
 * (pump()) and looks at what was delivered. Expectations are those
 * observed on Debian's libuv 1.44 (noted "libuv:").
 */
#include "test.h"
#include "fs-helpers.h"

#include <dirent.h>

#define MAX_SEEN 32

struct watch {
  uv_fs_event_t h;
  int calls;
  int nseen;
  struct {
    char name[64];
    int events;
  } seen[MAX_SEEN];
  int action;             /* what the callback does (once, on call 1) */
  struct watch* other;    /* ACT_*_OTHER */
  const char* restart;    /* ACT_RESTART: the path to start again on */
};

enum {
  ACT_NONE,
  ACT_STOP,             /* stop itself */
  ACT_CLOSE,            /* close itself */
  ACT_STOP_OTHER,       /* stop the other handle */
  ACT_CLOSE_OTHER,      /* close the other handle */
  ACT_RESTART,          /* stop, then start itself again on `restart` */
  ACT_CLOSE_AND_START   /* close itself, start `other` on its path */
};

static int close_calls;
static int order[16];     /* handles in the order they were called */
static int norder;

static void close_cb(uv_handle_t* h) {
  (void) h;
  close_calls++;
}

static void watch_cb(uv_fs_event_t* h, const char* filename, int events,
                     int status);

static void watch_start(struct watch* w, const char* path) {
  CHECK_OK(uv_fs_event_start(&w->h, watch_cb, path, 0));
}

static void watch_cb(uv_fs_event_t* h, const char* filename, int events,
                     int status) {
  struct watch* w = (struct watch*) h;
  char path[512];
  size_t len = sizeof(path);

  CHECK_EQ(status, 0);
  CHECK(filename != NULL);
  CHECK(events == UV_RENAME || events == UV_CHANGE ||
        events == (UV_RENAME | UV_CHANGE));
  CHECK(uv_is_active((uv_handle_t*) h));
  CHECK(!uv_is_closing((uv_handle_t*) h));
  if (w->nseen < MAX_SEEN) {
    snprintf(w->seen[w->nseen].name, sizeof(w->seen[0].name), "%s",
             filename);
    w->seen[w->nseen].events = events;
    w->nseen++;
  }
  if (norder < (int) (sizeof(order) / sizeof(order[0])))
    order[norder++] = (int) (intptr_t) h->data;
  if (++w->calls != 1)
    return;
  switch (w->action) {
    case ACT_STOP:
      CHECK_OK(uv_fs_event_stop(h));
      CHECK(!uv_is_active((uv_handle_t*) h));
      break;
    case ACT_CLOSE:
      uv_close((uv_handle_t*) h, close_cb);
      break;
    case ACT_STOP_OTHER:
      CHECK_OK(uv_fs_event_stop(&w->other->h));
      break;
    case ACT_CLOSE_OTHER:
      uv_close((uv_handle_t*) &w->other->h, close_cb);
      break;
    case ACT_RESTART:
      CHECK_OK(uv_fs_event_stop(h));
      watch_start(w, w->restart);
      break;
    case ACT_CLOSE_AND_START:
      CHECK_OK(uv_fs_event_getpath(h, path, &len));
      uv_close((uv_handle_t*) h, close_cb);
      watch_start(w->other, path);
      break;
    default:
      break;
  }
}

static void watch_init(uv_loop_t* loop, struct watch* w, int id) {
  memset(w, 0, sizeof(*w));
  CHECK_OK(uv_fs_event_init(loop, &w->h));
  w->h.data = (void*) (intptr_t) id;
}

/* Runs the loop without blocking until nothing more arrives: events are
 * queued by the time the change's system call returns. */
static void pump(uv_loop_t* loop) {
  int i;
  for (i = 0; i < 3; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

static void append(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
  CHECK_OK(close(fd));
}

/* A new file with content: created, then modified. */
static void create(const char* path) {
  fs_write_file(path, "x", 1);
}

/* A new empty file: only created. */
static void create_empty(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_OK(close(fd));
}

static void never_cb(uv_fs_event_t* h, const char* filename, int events,
                     int status) {
  (void) h;
  (void) filename;
  (void) events;
  (void) status;
  CHECK(!"an event reached a handle that watches nothing changing");
}

/* The inotify instances this process has open. */
static int inotify_fds(void) {
  char link[300];
  char target[64];
  struct dirent* e;
  ssize_t n;
  DIR* d;
  int count = 0;

  d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
    n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
      continue;
    target[n] = '\0';
    if (strcmp(target, "anon_inode:inotify") == 0)
      count++;
  }
  closedir(d);
  return count;
}

static void check_seen(const struct watch* w, int i, const char* name,
                       int events) {
  CHECK(i < w->nseen);
  CHECK_STREQ(w->seen[i].name, name);
  CHECK_EQ(w->seen[i].events, events);
}

/* ---------------------------------------------------------------------
 * Files and directories.
 */

/* libuv: a write and a chmod are UV_CHANGE, named after the file; the
 * file moved away is UV_RENAME under its old name, and it is still
 * watched under its new name (the watch follows the inode), and still
 * reported under the old one. */
TEST(watch_file) {
  uv_loop_t loop;
  struct watch w;
  char buf[256];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  watch_start(&w, fs_path("f"));
  CHECK(uv_is_active((uv_handle_t*) &w.h));
  CHECK_OK(uv_fs_event_getpath(&w.h, buf, &len));
  CHECK_STREQ(buf, fs_path("f"));
  CHECK_STREQ(w.h.path, fs_path("f"));

  pump(&loop);
  CHECK_EQ(w.calls, 0);
  append(fs_path("f"), "more");
  pump(&loop);
  CHECK_EQ(w.nseen, 1);
  check_seen(&w, 0, "f", UV_CHANGE);

  CHECK_OK(chmod(fs_path("f"), 0600));
  pump(&loop);
  CHECK_EQ(w.nseen, 2);
  check_seen(&w, 1, "f", UV_CHANGE);

  CHECK_OK(rename(fs_path("f"), fs_path("g")));
  pump(&loop);
  CHECK_EQ(w.nseen, 3);
  check_seen(&w, 2, "f", UV_RENAME);

  append(fs_path("g"), "again");
  pump(&loop);
  CHECK_EQ(w.nseen, 4);
  check_seen(&w, 3, "f", UV_CHANGE);

  uv_close((uv_handle_t*) &w.h, close_cb);
  append(fs_path("g"), "after close");
  pump(&loop);
  CHECK_EQ(w.calls, 4);
  CHECK_EQ(close_calls, 1);
  nl_test_close_loop(&loop);
}

/* libuv: the watched file deleted is a UV_CHANGE (its link count), a
 * UV_RENAME (deleted) and another UV_RENAME (the kernel dropped the
 * watch); the handle stays active, silent, with its path. */
TEST(watch_file_deleted) {
  uv_loop_t loop;
  struct watch w;
  char buf[256];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  watch_start(&w, fs_path("f"));
  CHECK_OK(unlink(fs_path("f")));
  pump(&loop);
  CHECK_EQ(w.nseen, 3);
  check_seen(&w, 0, "f", UV_CHANGE);
  check_seen(&w, 1, "f", UV_RENAME);
  check_seen(&w, 2, "f", UV_RENAME);
  CHECK(uv_is_active((uv_handle_t*) &w.h));
  CHECK_OK(uv_fs_event_getpath(&w.h, buf, &len));
  CHECK_STREQ(buf, fs_path("f"));

  /* A new file under the same name is another inode: not watched. */
  create(fs_path("f"));
  pump(&loop);
  CHECK_EQ(w.calls, 3);
  CHECK_OK(uv_fs_event_stop(&w.h));
  nl_test_close_loop(&loop);
  CHECK_EQ(w.calls, 3);
}

/* libuv: in a watched directory, entries created, moved and deleted are
 * UV_RENAME, written or chmod-ed entries UV_CHANGE, each named after the
 * entry; a move is reported under both names; subdirectories' contents
 * are not watched. */
TEST(watch_dir) {
  uv_loop_t loop;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(mkdir(fs_path("d"), 0700));
  watch_init(&loop, &w, 0);
  watch_start(&w, fs_path("d"));

  create_empty(fs_path("d/a"));
  pump(&loop);
  CHECK_EQ(w.nseen, 1);
  check_seen(&w, 0, "a", UV_RENAME);

  append(fs_path("d/a"), "text");
  pump(&loop);
  CHECK_EQ(w.nseen, 2);
  check_seen(&w, 1, "a", UV_CHANGE);

  CHECK_OK(chmod(fs_path("d/a"), 0600));
  pump(&loop);
  CHECK_EQ(w.nseen, 3);
  check_seen(&w, 2, "a", UV_CHANGE);

  CHECK_OK(rename(fs_path("d/a"), fs_path("d/b")));
  pump(&loop);
  CHECK_EQ(w.nseen, 5);
  check_seen(&w, 3, "a", UV_RENAME);
  check_seen(&w, 4, "b", UV_RENAME);

  /* Moved out of the directory, then in again. */
  CHECK_OK(rename(fs_path("d/b"), fs_path("out")));
  CHECK_OK(rename(fs_path("out"), fs_path("d/c")));
  pump(&loop);
  CHECK_EQ(w.nseen, 7);
  check_seen(&w, 5, "b", UV_RENAME);
  check_seen(&w, 6, "c", UV_RENAME);

  CHECK_OK(unlink(fs_path("d/c")));
  pump(&loop);
  CHECK_EQ(w.nseen, 8);
  check_seen(&w, 7, "c", UV_RENAME);

  CHECK_OK(mkdir(fs_path("d/sub"), 0700));
  create_empty(fs_path("d/sub/x"));
  pump(&loop);
  CHECK_EQ(w.nseen, 9);
  check_seen(&w, 8, "sub", UV_RENAME);

  CHECK_OK(uv_fs_event_stop(&w.h));
  create_empty(fs_path("d/after-stop"));
  pump(&loop);
  CHECK_EQ(w.calls, 9);
  nl_test_close_loop(&loop);
  CHECK_EQ(w.calls, 9);
}

/* libuv: the watched directory deleted is UV_RENAME named after its last
 * path component, twice (deleted, then the watch dropped); with a
 * trailing slash the name is empty. */
TEST(watch_dir_deleted) {
  uv_loop_t loop;
  struct watch w1;
  struct watch w2;
  char slash[512];

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(mkdir(fs_path("d1"), 0700));
  CHECK_OK(mkdir(fs_path("d2"), 0700));
  watch_init(&loop, &w1, 1);
  watch_init(&loop, &w2, 2);
  watch_start(&w1, fs_path("d1"));
  snprintf(slash, sizeof(slash), "%s/", fs_path("d2"));
  watch_start(&w2, slash);
  CHECK_OK(rmdir(fs_path("d1")));
  CHECK_OK(rmdir(fs_path("d2")));
  pump(&loop);
  CHECK_EQ(w1.nseen, 2);
  check_seen(&w1, 0, "d1", UV_RENAME);
  check_seen(&w1, 1, "d1", UV_RENAME);
  CHECK_EQ(w2.nseen, 2);
  check_seen(&w2, 0, "", UV_RENAME);
  check_seen(&w2, 1, "", UV_RENAME);
  nl_test_close_loop(&loop);
}

/* libuv accepts any flags on Linux; UV_FS_EVENT_RECURSIVE does not make
 * the watch recursive there. */
TEST(flags_accepted_recursive_ignored) {
  uv_loop_t loop;
  struct watch w;
  struct watch w2;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(mkdir(fs_path("d"), 0700));
  CHECK_OK(mkdir(fs_path("d/sub"), 0700));
  watch_init(&loop, &w, 0);
  watch_init(&loop, &w2, 1);
  CHECK_OK(uv_fs_event_start(&w.h, watch_cb, fs_path("d"),
                             UV_FS_EVENT_RECURSIVE));
  CHECK_OK(uv_fs_event_start(&w2.h, watch_cb, fs_path("d/sub"),
                             UV_FS_EVENT_WATCH_ENTRY | UV_FS_EVENT_STAT |
                                 0xff00));
  create_empty(fs_path("d/sub/x"));
  pump(&loop);
  CHECK_EQ(w.calls, 0);
  CHECK_EQ(w2.nseen, 1);
  check_seen(&w2, 0, "x", UV_RENAME);
  create_empty(fs_path("d/y"));
  pump(&loop);
  CHECK_EQ(w.nseen, 1);
  check_seen(&w, 0, "y", UV_RENAME);
  nl_test_close_loop(&loop);
}

/* ---------------------------------------------------------------------
 * Many handles, one watch, one descriptor.
 */

/* Handles on one file (the same path, another spelling, a hard link)
 * share one inotify watch and are called in start order. libuv: they all
 * report the path of the first handle (getpath and the file name). The
 * loop has one inotify descriptor, made at the first start and closed
 * by uv_loop_close(). */
TEST(many_handles_one_file) {
  uv_loop_t loop;
  struct watch w[6];
  char spelled[512];
  char buf[512];
  size_t len;
  int i;
  int n;

  CHECK_EQ(inotify_fds(), 0);
  CHECK_OK(uv_loop_init(&loop));
  CHECK_EQ(inotify_fds(), 0);
  CHECK_OK(mkdir(fs_path("d"), 0700));
  create(fs_path("d/f"));
  CHECK_OK(link(fs_path("d/f"), fs_path("d/hard")));
  snprintf(spelled, sizeof(spelled), "%s/./f", fs_path("d"));
  for (i = 0; i < 6; i++)
    watch_init(&loop, &w[i], i);
  CHECK_EQ(inotify_fds(), 0);
  watch_start(&w[0], fs_path("d/f"));
  CHECK_EQ(inotify_fds(), 1);
  watch_start(&w[1], fs_path("d/f"));
  watch_start(&w[2], spelled);
  watch_start(&w[3], fs_path("d/hard"));
  watch_start(&w[4], fs_path("d/f"));
  watch_start(&w[5], fs_path("d"));   /* another watch, same descriptor */
  CHECK_EQ(inotify_fds(), 1);
  for (i = 1; i < 5; i++)
    CHECK_EQ(w[i].h.wd, w[0].h.wd);
  CHECK(w[5].h.wd != w[0].h.wd);
  len = sizeof(buf);
  CHECK_OK(uv_fs_event_getpath(&w[3].h, buf, &len));
  CHECK_STREQ(buf, fs_path("d/f"));

  append(fs_path("d/hard"), "x");
  pump(&loop);
  for (i = 0; i < 5; i++) {
    CHECK_EQ(w[i].nseen, 1);
    check_seen(&w[i], 0, "f", UV_CHANGE);
  }
  CHECK_EQ(w[5].nseen, 1);
  check_seen(&w[5], 0, "hard", UV_CHANGE);
  /* The file's handles in start order (the directory's event may come
   * before or after theirs). */
  CHECK_EQ(norder, 6);
  for (i = 0, n = 0; i < norder; i++)
    if (order[i] != 5)
      CHECK_EQ(order[i], n++);

  /* Stopping some leaves the others watching; stopping the first keeps
   * the path (the watch's) for the rest. */
  CHECK_OK(uv_fs_event_stop(&w[0].h));
  CHECK_OK(uv_fs_event_stop(&w[2].h));
  append(fs_path("d/f"), "x");
  pump(&loop);
  CHECK_EQ(w[0].calls, 1);
  CHECK_EQ(w[1].calls, 2);
  CHECK_EQ(w[2].calls, 1);
  CHECK_EQ(w[3].calls, 2);
  check_seen(&w[3], 1, "f", UV_CHANGE);
  len = sizeof(buf);
  CHECK_OK(uv_fs_event_getpath(&w[4].h, buf, &len));
  CHECK_STREQ(buf, fs_path("d/f"));

  /* All stopped: the watch goes, the descriptor stays with the loop. */
  for (i = 0; i < 6; i++)
    CHECK_OK(uv_fs_event_stop(&w[i].h));
  append(fs_path("d/f"), "x");
  pump(&loop);
  CHECK_EQ(w[1].calls, 2);
  CHECK_EQ(inotify_fds(), 1);

  /* A new start on the same file works again. */
  watch_start(&w[2], fs_path("d/hard"));
  append(fs_path("d/f"), "x");
  pump(&loop);
  CHECK_EQ(w[2].calls, 2);
  check_seen(&w[2], 1, "hard", UV_CHANGE);

  nl_test_close_loop(&loop);
  CHECK_EQ(inotify_fds(), 0);
}

/* Two loops, two descriptors; each sees only its own handles' events. */
TEST(two_loops) {
  uv_loop_t a;
  uv_loop_t b;
  struct watch wa;
  struct watch wb;

  CHECK_OK(uv_loop_init(&a));
  CHECK_OK(uv_loop_init(&b));
  create(fs_path("f"));
  watch_init(&a, &wa, 0);
  watch_init(&b, &wb, 1);
  watch_start(&wa, fs_path("f"));
  watch_start(&wb, fs_path("f"));
  CHECK_EQ(inotify_fds(), 2);
  append(fs_path("f"), "x");
  pump(&a);
  CHECK_EQ(wa.calls, 1);
  CHECK_EQ(wb.calls, 0);
  pump(&b);
  CHECK_EQ(wb.calls, 1);
  nl_test_close_loop(&a);
  CHECK_EQ(inotify_fds(), 1);
  nl_test_close_loop(&b);
  CHECK_EQ(inotify_fds(), 0);
}

/* ---------------------------------------------------------------------
 * Callbacks that stop, close and start handles.
 */

/* Stopping itself: no more events, even those already read (a write and
 * a chmod queue two). */
TEST(stop_in_callback) {
  uv_loop_t loop;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  w.action = ACT_STOP;
  watch_start(&w, fs_path("f"));
  append(fs_path("f"), "x");
  CHECK_OK(chmod(fs_path("f"), 0600));
  pump(&loop);
  CHECK_EQ(w.calls, 1);
  append(fs_path("f"), "x");
  pump(&loop);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);   /* not alive */
  nl_test_close_loop(&loop);
  CHECK_EQ(w.calls, 1);
}

/* Closing itself: the same, and the close callback runs once. */
TEST(close_in_callback) {
  uv_loop_t loop;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(mkdir(fs_path("d"), 0700));
  watch_init(&loop, &w, 0);
  w.action = ACT_CLOSE;
  watch_start(&w, fs_path("d"));
  create_empty(fs_path("d/a"));
  create_empty(fs_path("d/b"));
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(close_calls, 1);
  create_empty(fs_path("d/c"));
  pump(&loop);
  CHECK_EQ(w.calls, 1);
  nl_test_close_loop(&loop);
}

/* Handles 0..3 on one file: 0 stops 2 and is called once more, 1 closes
 * 3; 2 and 3 are not called for this event (they came after their
 * stopper) nor any later. */
TEST(stop_and_close_others_in_callback) {
  uv_loop_t loop;
  struct watch w[4];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  for (i = 0; i < 4; i++) {
    watch_init(&loop, &w[i], i);
    watch_start(&w[i], fs_path("f"));
  }
  w[0].action = ACT_STOP_OTHER;
  w[0].other = &w[2];
  w[1].action = ACT_CLOSE_OTHER;
  w[1].other = &w[3];
  append(fs_path("f"), "x");
  pump(&loop);
  CHECK_EQ(w[0].calls, 1);
  CHECK_EQ(w[1].calls, 1);
  CHECK_EQ(w[2].calls, 0);
  CHECK_EQ(w[3].calls, 0);
  CHECK_EQ(close_calls, 1);
  CHECK(!uv_is_active((uv_handle_t*) &w[2].h));

  append(fs_path("f"), "x");
  pump(&loop);
  CHECK_EQ(w[0].calls, 2);
  CHECK_EQ(w[1].calls, 2);
  CHECK_EQ(w[2].calls, 0);
  CHECK_EQ(w[3].calls, 0);
  nl_test_close_loop(&loop);
  CHECK_EQ(w[0].calls + w[1].calls + w[2].calls + w[3].calls, 4);
}

/* The last handle called closes the first one (already called): the
 * watch loses a handle during a delivery, and keeps delivering. */
TEST(close_earlier_handle_in_callback) {
  uv_loop_t loop;
  struct watch w[3];
  int i;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  for (i = 0; i < 3; i++) {
    watch_init(&loop, &w[i], i);
    watch_start(&w[i], fs_path("f"));
  }
  w[2].action = ACT_CLOSE_OTHER;
  w[2].other = &w[0];
  append(fs_path("f"), "x");
  pump(&loop);
  for (i = 0; i < 3; i++)
    CHECK_EQ(w[i].calls, 1);
  append(fs_path("f"), "x");
  pump(&loop);
  CHECK_EQ(w[0].calls, 1);
  CHECK_EQ(w[1].calls, 2);
  CHECK_EQ(w[2].calls, 2);
  nl_test_close_loop(&loop);
}

/* Handle A watches file a, B file b; both change before the loop reads,
 * so both events come in one read. A's callback closes B: B's event,
 * already read, reaches nobody. */
TEST(close_other_watch_with_event_read) {
  uv_loop_t loop;
  struct watch a;
  struct watch b;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("a"));
  create(fs_path("b"));
  watch_init(&loop, &a, 0);
  watch_init(&loop, &b, 1);
  watch_start(&a, fs_path("a"));
  watch_start(&b, fs_path("b"));
  a.action = ACT_CLOSE_OTHER;
  a.other = &b;
  append(fs_path("a"), "x");
  append(fs_path("b"), "x");
  pump(&loop);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(b.calls, 0);
  CHECK_EQ(close_calls, 1);
  nl_test_close_loop(&loop);
  CHECK_EQ(b.calls, 0);
}

/* Every handle of a watch closes itself, and the last one starts a new
 * handle on the same file from its callback: the watch is dropped after
 * the delivery only if empty, and the new handle gets only later events. */
TEST(close_all_and_start_in_callback) {
  uv_loop_t loop;
  struct watch w[3];
  struct watch fresh;
  int i;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  for (i = 0; i < 3; i++) {
    watch_init(&loop, &w[i], i);
    w[i].action = ACT_CLOSE;
    watch_start(&w[i], fs_path("f"));
  }
  watch_init(&loop, &fresh, 9);
  w[2].action = ACT_CLOSE_AND_START;
  w[2].other = &fresh;
  append(fs_path("f"), "x");
  CHECK_OK(chmod(fs_path("f"), 0600));
  pump(&loop);
  for (i = 0; i < 3; i++)
    CHECK_EQ(w[i].calls, 1);
  CHECK_EQ(close_calls, 3);
  /* The chmod's event was read with the write's: it reaches the new
   * handle, started before it was delivered, but not the write's. */
  CHECK_EQ(fresh.nseen, 1);
  check_seen(&fresh, 0, "f", UV_CHANGE);

  append(fs_path("f"), "x");
  pump(&loop);
  CHECK_EQ(fresh.calls, 2);
  for (i = 0; i < 3; i++)
    CHECK_EQ(w[i].calls, 1);
  nl_test_close_loop(&loop);
}

/* Restarting itself on another path: later events come from there. */
TEST(restart_in_callback) {
  uv_loop_t loop;
  struct watch w;
  char buf[512];
  size_t len = sizeof(buf);

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("a"));
  create(fs_path("b"));
  watch_init(&loop, &w, 0);
  w.action = ACT_RESTART;
  w.restart = fs_path("b");
  watch_start(&w, fs_path("a"));
  append(fs_path("a"), "x");
  pump(&loop);
  CHECK_EQ(w.calls, 1);
  CHECK_OK(uv_fs_event_getpath(&w.h, buf, &len));
  CHECK_STREQ(buf, fs_path("b"));
  append(fs_path("a"), "x");
  pump(&loop);
  CHECK_EQ(w.calls, 1);
  append(fs_path("b"), "x");
  pump(&loop);
  CHECK_EQ(w.calls, 2);
  check_seen(&w, 1, "b", UV_CHANGE);
  nl_test_close_loop(&loop);
}

/* Closed with events queued and never read: nothing is delivered, and the
 * loop closes (libuv's fs_event_close_with_pending_event). */
TEST(close_with_pending_events) {
  uv_loop_t loop;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  watch_start(&w, fs_path("f"));
  append(fs_path("f"), "x");
  CHECK_OK(unlink(fs_path("f")));
  uv_close((uv_handle_t*) &w.h, close_cb);
  CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
  CHECK_EQ(close_calls, 1);
  CHECK_EQ(w.calls, 0);
  CHECK_OK(uv_loop_close(&loop));
  CHECK_EQ(inotify_fds(), 0);
}

/* ---------------------------------------------------------------------
 * getpath, bad input, liveness.
 */

/* libuv: UV_EINVAL and size 0 while inactive; UV_ENOBUFS with the length
 * plus one when too small; else the path, NUL-terminated, and its
 * length. The path is the one given, not a normalised one. nodeloop: a
 * NULL buffer is UV_ENOBUFS with the size, a NULL size or handle
 * UV_EINVAL (libuv crashes). */
TEST(getpath) {
  uv_loop_t loop;
  uv_fs_event_t h;
  char buf[512];
  char path[512];
  size_t len;
  size_t n;

  CHECK_OK(uv_loop_init(&loop));
  CHECK_OK(mkdir(fs_path("d"), 0700));
  CHECK_OK(mkdir(fs_path("d/sub"), 0700));
  snprintf(path, sizeof(path), "%s//sub//..//", fs_path("d"));
  n = strlen(path);
  CHECK_OK(uv_fs_event_init(&loop, &h));
  len = sizeof(buf);
  CHECK_EQ(uv_fs_event_getpath(&h, buf, &len), UV_EINVAL);
  CHECK_EQ(len, 0);
  CHECK_OK(uv_fs_event_start(&h, never_cb, path, 0));

  len = 0;
  CHECK_EQ(uv_fs_event_getpath(&h, buf, &len), UV_ENOBUFS);
  CHECK_EQ(len, n + 1);
  len = n;
  CHECK_EQ(uv_fs_event_getpath(&h, buf, &len), UV_ENOBUFS);
  CHECK_EQ(len, n + 1);
  memset(buf, 'z', sizeof(buf));
  CHECK_OK(uv_fs_event_getpath(&h, buf, &len));   /* len is n + 1 now */
  CHECK_EQ(len, n);
  CHECK_EQ(buf[n], '\0');
  CHECK_STREQ(buf, path);
  len = sizeof(buf);
  CHECK_EQ(uv_fs_event_getpath(&h, NULL, &len), UV_ENOBUFS);
  CHECK_EQ(len, n + 1);
  CHECK_EQ(uv_fs_event_getpath(&h, buf, NULL), UV_EINVAL);
  CHECK_EQ(uv_fs_event_getpath(NULL, buf, &len), UV_EINVAL);

  CHECK_OK(uv_fs_event_stop(&h));
  len = sizeof(buf);
  CHECK_EQ(uv_fs_event_getpath(&h, buf, &len), UV_EINVAL);
  CHECK_EQ(len, 0);
  CHECK(h.path == NULL);
  nl_test_close_loop(&loop);
}

/* libuv: a missing file or an empty path is UV_ENOENT and leaves the
 * handle inactive; starting an active handle is UV_EINVAL (whatever the
 * path). nodeloop: NULL arguments, a closing handle and a handle of
 * another type are UV_EINVAL (libuv crashes, asserts or goes ahead). */
TEST(bad_arguments) {
  uv_loop_t loop;
  uv_fs_event_t h;
  uv_timer_t t;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  CHECK_EQ(uv_fs_event_init(NULL, &h), UV_EINVAL);
  CHECK_EQ(uv_fs_event_init(&loop, NULL), UV_EINVAL);
  CHECK_OK(uv_fs_event_init(&loop, &h));
  CHECK_EQ(uv_fs_event_start(NULL, never_cb, "f", 0),
           UV_EINVAL);
  CHECK_EQ(uv_fs_event_start(&h, NULL, fs_path("f"), 0), UV_EINVAL);
  CHECK_EQ(uv_fs_event_start(&h, never_cb, NULL, 0),
           UV_EINVAL);
  CHECK_EQ(uv_fs_event_start(&h, never_cb,
                             fs_path("missing"), 0), UV_ENOENT);
  CHECK_EQ(uv_fs_event_start(&h, never_cb, "", 0),
           UV_ENOENT);
  CHECK_EQ(uv_fs_event_start(&h, never_cb,
                             fs_path("f/x"), 0), UV_ENOTDIR);
  CHECK(!uv_is_active((uv_handle_t*) &h));
  CHECK_OK(uv_fs_event_start(&h, never_cb, fs_path("f"), 0));
  CHECK_EQ(uv_fs_event_start(&h, never_cb, fs_path("f"), 0),
           UV_EINVAL);
  CHECK_EQ(uv_fs_event_start(&h, never_cb,
                             fs_path("missing"), 0), UV_EINVAL);
  CHECK(uv_is_active((uv_handle_t*) &h));
  CHECK_EQ(uv_fs_event_stop(NULL), UV_EINVAL);
  CHECK_OK(uv_fs_event_stop(&h));
  CHECK_OK(uv_fs_event_stop(&h));   /* stopping twice is fine */

  /* Not an fs_event handle. */
  CHECK_OK(uv_timer_init(&loop, &t));
  CHECK_EQ(uv_fs_event_start((uv_fs_event_t*) &t, never_cb,
                             fs_path("f"), 0), UV_EINVAL);
  CHECK_EQ(uv_fs_event_stop((uv_fs_event_t*) &t), UV_EINVAL);

  uv_close((uv_handle_t*) &h, close_cb);
  CHECK_EQ(uv_fs_event_start(&h, never_cb, fs_path("f"), 0),
           UV_EINVAL);
  CHECK_OK(uv_fs_event_stop(&h));
  nl_test_close_loop(&loop);
  CHECK_EQ(close_calls, 1);
}

/* An inactive handle does not keep the loop alive, nor an unreferenced
 * active one; a referenced active one does. */
TEST(liveness) {
  uv_loop_t loop;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  watch_start(&w, fs_path("f"));
  CHECK(uv_loop_alive(&loop));
  uv_unref((uv_handle_t*) &w.h);
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  uv_ref((uv_handle_t*) &w.h);
  CHECK(uv_loop_alive(&loop));
  CHECK_OK(uv_fs_event_stop(&w.h));
  CHECK(!uv_loop_alive(&loop));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  nl_test_close_loop(&loop);
}

/* A handle that stays active until a callback closes it: the loop waits
 * for the event in the poll phase. */
static void touch_cb(uv_timer_t* t) {
  append((const char*) t->data, "x");
  uv_close((uv_handle_t*) t, NULL);
}

TEST(blocking_wait_for_event) {
  uv_loop_t loop;
  uv_timer_t t;
  struct watch w;

  CHECK_OK(uv_loop_init(&loop));
  create(fs_path("f"));
  watch_init(&loop, &w, 0);
  w.action = ACT_CLOSE;
  watch_start(&w, fs_path("f"));
  CHECK_OK(uv_timer_init(&loop, &t));
  t.data = (void*) fs_path("f");
  CHECK_OK(uv_timer_start(&t, touch_cb, 20, 0));
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK_EQ(w.calls, 1);
  CHECK_EQ(close_calls, 1);
  CHECK_OK(uv_loop_close(&loop));
}

/* ---------------------------------------------------------------------
 * fork.
 */

/* A handle started before fork() keeps working in the child after
 * uv_loop_fork(), which gives the child an inotify descriptor of its
 * own: the parent's events are still the parent's. */
static uv_loop_t fork_loop;
static struct watch fork_w;

static void fork_child(void) {
  int before = fork_w.calls;

  CHECK_OK(uv_loop_fork(&fork_loop));
  CHECK_EQ(inotify_fds(), 1);
  append(fs_path("f"), "child");
  pump(&fork_loop);
  CHECK_EQ(fork_w.calls, before + 1);
  check_seen(&fork_w, before, "f", UV_CHANGE);
  /* A new handle in the child, on another file. */
  {
    struct watch w2;
    watch_init(&fork_loop, &w2, 1);
    watch_start(&w2, fs_path("g"));
    CHECK_EQ(w2.h.wd != fork_w.h.wd, 1);
    append(fs_path("g"), "x");
    pump(&fork_loop);
    CHECK_EQ(w2.calls, 1);
    nl_test_close_loop(&fork_loop);
  }
  CHECK_EQ(inotify_fds(), 0);
}

TEST(fork_child_keeps_watching) {
  CHECK_OK(uv_loop_init(&fork_loop));
  create(fs_path("f"));
  create(fs_path("g"));
  watch_init(&fork_loop, &fork_w, 0);
  watch_start(&fork_w, fs_path("f"));
  append(fs_path("f"), "parent");
  pump(&fork_loop);
  CHECK_EQ(fork_w.calls, 1);

  fs_in_child(fork_child);
  /* The child's write is an event for the parent's watch too, read from
   * the parent's own descriptor: the child did not take it. */
  pump(&fork_loop);
  CHECK_EQ(fork_w.calls, 2);
  append(fs_path("f"), "parent");
  pump(&fork_loop);
  CHECK_EQ(fork_w.calls, 3);
  nl_test_close_loop(&fork_loop);
}

/* A child whose watched file is gone by the time of uv_loop_fork(): the
 * handle stays active and silent, and stops and closes cleanly (libuv:
 * uv_loop_fork() fails with UV_ENOENT; nodeloop completes the fork, as a
 * deleted file leaves a handle without a fork, too); a loop
 * whose handles all stopped before the fork has no descriptor after it
 * until the next start. */
static void fork_child_deleted(void) {
  struct watch w2;

  CHECK_OK(unlink(fs_path("f")));
  CHECK_OK(uv_loop_fork(&fork_loop));
  CHECK(uv_is_active((uv_handle_t*) &fork_w.h));
  CHECK(fork_w.h.wd < -1);
  pump(&fork_loop);
  CHECK_OK(uv_fs_event_stop(&fork_w.h));
  CHECK_EQ(inotify_fds(), 1);   /* the descriptor of the fork, unused */
  CHECK_OK(uv_loop_fork(&fork_loop));
  CHECK_EQ(inotify_fds(), 0);
  watch_init(&fork_loop, &w2, 1);
  watch_start(&w2, fs_path("g"));
  CHECK_EQ(inotify_fds(), 1);
  append(fs_path("g"), "x");
  pump(&fork_loop);
  CHECK_EQ(w2.calls, 1);
  nl_test_close_loop(&fork_loop);
  CHECK_EQ(inotify_fds(), 0);
}

TEST(fork_child_watched_file_gone) {
  CHECK_OK(uv_loop_init(&fork_loop));
  create(fs_path("f"));
  create(fs_path("g"));
  watch_init(&fork_loop, &fork_w, 0);
  watch_start(&fork_w, fs_path("f"));
  fs_in_child(fork_child_deleted);
  pump(&fork_loop);   /* the child's unlink: change, rename, rename */
  CHECK_EQ(fork_w.calls, 3);
  nl_test_close_loop(&fork_loop);
}
