/* File system event handles (uv_fs_event_t) on inotify.
 *
 * Each loop has at most one inotify descriptor, made when the first handle
 * starts and closed by uv_loop_close(); one watcher on the loop
 * (loop->inotify_io_watcher) reads it. inotify gives one watch descriptor
 * per inode, so every handle whose path names the same file (the same
 * spelling, another spelling, a hard link) shares one watch: an entry of
 * the loop's table, keyed by the watch descriptor and holding the handles
 * in start order. The entry keeps the path of the handle that created it,
 * and that path is what each of its handles reports (handle->path and
 * uv_fs_event_getpath), as libuv does.
 *
 * What a callback sees, as libuv 1.44 reports it on Linux (observed on
 * Debian's libuv, see test/test-fs-event.c):
 *   - UV_CHANGE for a modification or a change of attributes (IN_MODIFY,
 *     IN_ATTRIB), UV_RENAME for everything else: an entry created,
 *     deleted or moved, the watched file itself deleted or moved, and the
 *     kernel's IN_IGNORED that follows the deletion of the watched file;
 *   - the name of the entry for a directory watch, else the last
 *     component of the entry's path;
 *   - flags are accepted and ignored: UV_FS_EVENT_RECURSIVE watches only
 *     the directory itself on Linux.
 *
 * Callbacks may stop or close any handle, start new ones, or stop and
 * restart their own: an event is delivered to the handles of the watch
 * taken one at a time from a private list, and a handle stopped meanwhile
 * leaves that list with its queue node. An entry whose last handle leaves
 * during a delivery stays until the delivery ends. Every event is looked
 * up afresh, so events already read for a watch that has gone since
 * reach nobody.
 */
#include "internal.h"
#include "dispatch.h"

#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* The events a watch asks for. Opening, reading and closing a file are
 * not reported (libuv does not either). */
#define UV__INOTIFY_MASK                                                \
  (IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF |     \
   IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)

/* Reads of the descriptor per wakeup: a flood of events cannot keep the
 * loop here; the descriptor stays readable and the next poll comes back. */
#define UV__INOTIFY_READS 32

struct uv__inotify_watch {
  struct uv__inotify_watch* next;   /* hash chain */
  struct uv__queue handles;         /* uv_fs_event_t.watchers, start order */
  int wd;                           /* key: the watch descriptor */
  unsigned int delivering;          /* deliveries in progress */
  char path[];
};

/* loop->inotify_watchers: a chained hash table of the watches by watch
 * descriptor, which the kernel hands out in increasing order, so the low
 * bits spread them well. It doubles when it holds more watches than
 * buckets: lookups stay O(1) for any number of watches. */
struct uv__inotify_table {
  struct uv__inotify_watch** buckets;
  unsigned int mask;                /* buckets - 1, a power of two less 1 */
  unsigned int count;
  int dead_key;                     /* next key for a watch lost in a fork */
};

static struct uv__inotify_table* table_of(const uv_loop_t* loop) {
  return (struct uv__inotify_table*) loop->inotify_watchers;
}

static struct uv__inotify_watch** slot_of(struct uv__inotify_table* t,
                                          int wd) {
  return &t->buckets[(unsigned int) wd & t->mask];
}

static struct uv__inotify_watch* find_watch_in(struct uv__inotify_table* t,
                                               int wd) {
  struct uv__inotify_watch* w;

  for (w = *slot_of(t, wd); w != NULL; w = w->next)
    if (w->wd == wd)
      return w;
  return NULL;
}

static struct uv__inotify_watch* find_watch(const uv_loop_t* loop, int wd) {
  struct uv__inotify_table* t = table_of(loop);
  return t != NULL ? find_watch_in(t, wd) : NULL;
}

/* Doubles the bucket array; on allocation failure the table keeps its
 * size (longer chains, still correct). */
static void grow_table(struct uv__inotify_table* t) {
  unsigned int n = (t->mask + 1) * 2;
  struct uv__inotify_watch** buckets;
  struct uv__inotify_watch* w;
  struct uv__inotify_watch* next;
  unsigned int i;

  buckets = uv__calloc(n, sizeof(*buckets));
  if (buckets == NULL)
    return;
  for (i = 0; i <= t->mask; i++) {
    for (w = t->buckets[i]; w != NULL; w = next) {
      next = w->next;
      w->next = buckets[(unsigned int) w->wd & (n - 1)];
      buckets[(unsigned int) w->wd & (n - 1)] = w;
    }
  }
  uv__free(t->buckets);
  t->buckets = buckets;
  t->mask = n - 1;
}

static void insert_watch(struct uv__inotify_table* t,
                         struct uv__inotify_watch* w) {
  struct uv__inotify_watch** slot;

  if (t->count > t->mask)
    grow_table(t);
  slot = slot_of(t, w->wd);
  w->next = *slot;
  *slot = w;
  t->count++;
}

static void unlink_watch(struct uv__inotify_table* t,
                         struct uv__inotify_watch* w) {
  struct uv__inotify_watch** p = slot_of(t, w->wd);

  while (*p != w)
    p = &(*p)->next;
  *p = w->next;
  t->count--;
}

/* Gives the watch back to the kernel (if it still has it: a deleted file
 * took its watch with it, which inotify_rm_watch then reports as EINVAL)
 * and forgets it. The IN_IGNORED this causes finds no entry. */
static void drop_watch(uv_loop_t* loop, struct uv__inotify_watch* w) {
  assert(uv__queue_empty(&w->handles));
  assert(w->delivering == 0);
  if (w->wd >= 0)
    inotify_rm_watch(loop->inotify_fd, w->wd);
  unlink_watch(table_of(loop), w);
  uv__free(w);
}

/* ---------------------------------------------------------------------
 * Reading events.
 */

/* The last component of path, as libuv names the watched file itself. */
static const char* base_name(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

static int to_fs_events(uint32_t mask) {
  int events = 0;

  if (mask & (IN_ATTRIB | IN_MODIFY))
    events |= UV_CHANGE;
  if (mask & ~(uint32_t) (IN_ATTRIB | IN_MODIFY))
    events |= UV_RENAME;
  return events;
}

/* Calls every handle of the watch once. The handles move to a private
 * list and go back one by one before their callback: a handle a callback
 * stops leaves the private list too, and one started meanwhile (or
 * restarted) waits for the next event. */
static void deliver(uv_loop_t* loop, struct uv__inotify_watch* w,
                    const char* filename, int events) {
  struct uv__queue todo;
  struct uv__queue* q;
  uv_fs_event_t* h;

  w->delivering++;
  uv__queue_move(&w->handles, &todo);
  while (!uv__queue_empty(&todo)) {
    q = uv__queue_head(&todo);
    uv__queue_remove(q);
    uv__queue_insert_tail(&w->handles, q);
    h = uv__container_of(q, uv_fs_event_t, watchers);
    uv__dispatch_fs_event(h, filename, events, 0);
  }
  w->delivering--;
  if (w->delivering == 0 && uv__queue_empty(&w->handles))
    drop_watch(loop, w);
}

/* The largest event: its header and a name of NAME_MAX bytes, padded. */
#define UV__INOTIFY_EVENT_MAX (sizeof(struct inotify_event) + NAME_MAX + 1)

static void inotify_io(uv_loop_t* loop, uv__io_t* io, unsigned int events) {
  /* Aligned for the event headers; one read takes as many whole events
   * as fit. */
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  const struct inotify_event* e;
  struct uv__inotify_watch* w;
  const char* filename;
  size_t off;
  ssize_t n;
  int round;

  (void) events;
  for (round = 0; round < UV__INOTIFY_READS; round++) {
    n = read(io->fd, buf, sizeof(buf));
    if (n <= 0) {
      if (n == -1 && errno == EINTR)
        continue;
      return;   /* EAGAIN: drained */
    }
    for (off = 0; off < (size_t) n; off += sizeof(*e) + e->len) {
      e = (const struct inotify_event*) (buf + off);
      /* wd -1 is IN_Q_OVERFLOW, which has no watch: events were lost,
       * and libuv does not report that either. */
      w = find_watch(loop, e->wd);
      if (w == NULL)
        continue;
      filename = e->len != 0 ? e->name : base_name(w->path);
      /* The descriptor outlives the callbacks: only uv_loop_close()
       * closes it, and not while a handle (even a closing one) exists. */
      deliver(loop, w, filename, to_fs_events(e->mask));
    }
    /* Room left for any event: the queue was empty, and another read
     * would only say EAGAIN. One system call per wakeup, mostly. */
    if ((size_t) n <= sizeof(buf) - UV__INOTIFY_EVENT_MAX)
      return;
  }
}

/* Creates the loop's table and descriptor on first use (the table may
 * outlive the descriptor: see uv__fs_event_loop_fork). */
static int inotify_init_loop(uv_loop_t* loop) {
  struct uv__inotify_table* t = table_of(loop);
  int err;
  int fd;

  if (t == NULL) {
    t = uv__calloc(1, sizeof(*t));
    if (t == NULL)
      return UV_ENOMEM;
    t->mask = 7;
    t->dead_key = -2;
    t->buckets = uv__calloc(t->mask + 1, sizeof(*t->buckets));
    if (t->buckets == NULL) {
      uv__free(t);
      return UV_ENOMEM;
    }
    loop->inotify_watchers = t;
  }
  if (loop->inotify_fd != -1)
    return 0;
  fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd == -1)
    return uv__neg_errno();
  uv__io_init(&loop->inotify_io_watcher, inotify_io, fd);
  err = uv__io_start(loop, &loop->inotify_io_watcher, UV__POLLIN);
  if (err != 0) {
    uv__close(fd);
    return err;
  }
  loop->inotify_fd = fd;
  return 0;
}

/* ---------------------------------------------------------------------
 * The API.
 */
int uv_fs_event_init(uv_loop_t* loop, uv_fs_event_t* handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  uv__handle_init(loop, (uv_handle_t*) handle, UV_FS_EVENT);
  handle->path = NULL;
  handle->cb = NULL;
  handle->wd = -1;
  uv__queue_init(&handle->watchers);
  return 0;
}

static int is_fs_event(const uv_fs_event_t* handle) {
  return handle != NULL && handle->type == UV_FS_EVENT;
}

/* libuv answers UV_EINVAL for an active handle and accepts any flags
 * (none changes anything on Linux). A missing callback or path, or a
 * closing handle, is UV_EINVAL here too (libuv crashes or asserts).
 * Errors of inotify_add_watch come back as they are: UV_ENOENT for a
 * missing file or an empty path, UV_ENOSPC when the user's watch limit
 * is reached. */
int uv_fs_event_start(uv_fs_event_t* handle, uv_fs_event_cb cb,
                      const char* path, unsigned int flags) {
  struct uv__inotify_watch* w;
  uv_loop_t* loop;
  size_t len;
  int err;
  int wd;

  (void) flags;
  if (!is_fs_event(handle) || cb == NULL || path == NULL ||
      uv__is_closing((uv_handle_t*) handle) ||
      uv__is_active((uv_handle_t*) handle))
    return UV_EINVAL;
  loop = handle->loop;
  err = inotify_init_loop(loop);
  if (err != 0)
    return err;
  wd = inotify_add_watch(loop->inotify_fd, path, UV__INOTIFY_MASK);
  if (wd == -1)
    return uv__neg_errno();

  w = find_watch(loop, wd);
  if (w == NULL) {
    len = strlen(path);
    w = uv__malloc(sizeof(*w) + len + 1);
    if (w == NULL) {
      /* No entry had it: the watch is new, give it back. */
      inotify_rm_watch(loop->inotify_fd, wd);
      return UV_ENOMEM;
    }
    memcpy(w->path, path, len + 1);
    w->wd = wd;
    w->delivering = 0;
    uv__queue_init(&w->handles);
    insert_watch(table_of(loop), w);
  }
  uv__queue_insert_tail(&w->handles, &handle->watchers);
  handle->wd = wd;
  handle->path = w->path;
  handle->cb = cb;
  uv__handle_start((uv_handle_t*) handle);
  return 0;
}

/* Stopping a stopped, closing or closed handle changes nothing. */
int uv_fs_event_stop(uv_fs_event_t* handle) {
  struct uv__inotify_watch* w;
  uv_loop_t* loop;

  if (!is_fs_event(handle))
    return UV_EINVAL;
  if (!uv__is_active((uv_handle_t*) handle))
    return 0;
  loop = handle->loop;
  w = find_watch(loop, handle->wd);
  assert(w != NULL);
  uv__queue_remove(&handle->watchers);
  uv__queue_init(&handle->watchers);
  handle->wd = -1;
  handle->path = NULL;
  uv__handle_stop((uv_handle_t*) handle);
  if (w->delivering == 0 && uv__queue_empty(&w->handles))
    drop_watch(loop, w);
  return 0;
}

int uv_fs_event_getpath(uv_fs_event_t* handle, char* buffer, size_t* size) {
  if (!is_fs_event(handle))
    return UV_EINVAL;
  return uv__handle_getpath((uv_handle_t*) handle, handle->path, buffer,
                            size);
}

/* Called by uv_close(). */
void uv__fs_event_close(uv_fs_event_t* handle) {
  uv_fs_event_stop(handle);
}

/* ---------------------------------------------------------------------
 * The loop's life cycle.
 */

/* Called by uv_loop_close(), when no handle is left: the table is empty. */
void uv__fs_event_loop_close(uv_loop_t* loop) {
  struct uv__inotify_table* t = table_of(loop);

  if (loop->inotify_fd != -1) {
    uv__io_close(loop, &loop->inotify_io_watcher);
    uv__close(loop->inotify_fd);
    loop->inotify_fd = -1;
  }
  if (t != NULL) {
    assert(t->count == 0);
    uv__free(t->buckets);
    uv__free(t);
    loop->inotify_watchers = NULL;
  }
}

/* Moves the handles of `from` to the end of `to`'s list (after a fork,
 * both paths turned out to name one file) and frees `from`. */
static void merge_watch(struct uv__inotify_watch* to,
                        struct uv__inotify_watch* from) {
  struct uv__queue* q;
  uv_fs_event_t* h;

  while (!uv__queue_empty(&from->handles)) {
    q = uv__queue_head(&from->handles);
    uv__queue_remove(q);
    uv__queue_insert_tail(&to->handles, q);
    h = uv__container_of(q, uv_fs_event_t, watchers);
    h->path = to->path;
  }
  uv__free(from);
}

/* The child of a fork() shares the parent's inotify instance, and the two
 * would steal each other's events: the child gets its own, with every
 * watch added again by path. A path that names nothing any more (deleted
 * since the watch began) leaves its handles active and silent, as a
 * deleted file does; such a watch gets a negative key, which the kernel
 * never uses. With no watch at all, the descriptor simply goes and the
 * next start makes a new one. If no descriptor can be made, every watch
 * is silent and the error is returned. Called after the poller was made
 * anew. Costs one inotify_add_watch per watch. */
int uv__fs_event_loop_fork(uv_loop_t* loop) {
  struct uv__inotify_table* t = table_of(loop);
  struct uv__inotify_watch* all = NULL;
  struct uv__inotify_watch* w;
  struct uv__inotify_watch* other;
  struct uv__queue* q;
  unsigned int i;
  int err = 0;
  int fd = -1;

  if (loop->inotify_fd != -1) {
    uv__io_close(loop, &loop->inotify_io_watcher);
    uv__close(loop->inotify_fd);
    loop->inotify_fd = -1;
  }
  if (t == NULL || t->count == 0)
    return 0;
  fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd == -1) {
    err = uv__neg_errno();
  } else {
    uv__io_init(&loop->inotify_io_watcher, inotify_io, fd);
    err = uv__io_start(loop, &loop->inotify_io_watcher, UV__POLLIN);
    if (err != 0) {
      uv__close(fd);
      fd = -1;
    }
  }

  /* Take every watch out of the table, then put each back under its new
   * watch descriptor. */
  for (i = 0; i <= t->mask; i++) {
    while ((w = t->buckets[i]) != NULL) {
      t->buckets[i] = w->next;
      w->next = all;
      all = w;
    }
  }
  t->count = 0;
  while (all != NULL) {
    w = all;
    all = w->next;
    w->wd = fd != -1 ? inotify_add_watch(fd, w->path, UV__INOTIFY_MASK) : -1;
    if (w->wd == -1)
      w->wd = t->dead_key--;
    other = w->wd >= 0 ? find_watch_in(t, w->wd) : NULL;
    if (other != NULL) {
      merge_watch(other, w);
      w = other;
    } else {
      insert_watch(t, w);
    }
    for (q = uv__queue_head(&w->handles); q != &w->handles;
         q = uv__queue_next(q))
      uv__container_of(q, uv_fs_event_t, watchers)->wd = w->wd;
  }
  loop->inotify_fd = fd;
  return err;
}
