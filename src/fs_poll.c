/* File poll handles (uv_fs_poll_t): stat() a path every interval and call
 * back when the result changes. For file systems without change
 * notification (network mounts); uv_fs_event_t is cheaper where inotify
 * works.
 *
 * A handle's private state (handle->poll_ctx) is made at its first start
 * and lives until it closes: an internal, unreferenced timer, the stat
 * request and the last result. The stat runs on the worker pool
 * (uv_fs_stat with a callback), never on the loop, so a slow file system
 * cannot block the loop. One stat at a time: the next is due one interval
 * after the last one began (at once if it took longer).
 *
 * What the callback sees, as libuv 1.44 reports it (observed on Debian's
 * libuv, see test/test-fs-poll.c):
 *   - nothing for the first stat if it succeeds: it is the reference;
 *   - an error (UV_ENOENT...) once, with prev the last successful result
 *     (zeroes if none) and curr zeroes, and again only when the error
 *     changes or the path comes back;
 *   - status 0 with prev and curr when the path comes back after an
 *     error, or when any of these differ: size, mode, owner, inode,
 *     device, change, modification and birth times, flags, generation
 *     (not the access time: reading the file is not a change).
 *
 * Stopping, restarting and closing are safe at any time, callbacks
 * included, while a stat is in flight: its result is dropped if the
 * handle was stopped or restarted since (a restart then stats at once
 * for the new path), and a close waits for it: the close callback runs
 * after the stat completed and the state was freed, so that the request
 * never outlives the handle's memory and uv_loop_close() finds nothing
 * in flight.
 */
#include "internal.h"
#include "dispatch.h"

#include <string.h>

/* ctx->status before the first result of a start. */
#define UV__FS_POLL_FRESH 1

struct uv__fs_poll_ctx {
  uv_fs_poll_t* handle;
  uv_fs_poll_cb cb;
  char* path;                 /* of the current start; NULL while stopped */
  uv_timer_t timer;           /* internal and unreferenced */
  uv_fs_t req;
  uv_stat_t statbuf;          /* last successful result */
  uint64_t start_time;        /* loop time the current stat began */
  unsigned int interval;
  unsigned int generation;    /* starts so far */
  unsigned int req_generation;  /* the start the stat in flight is for */
  int status;                 /* last result: 0, an error, or FRESH */
  int in_flight;              /* a stat is out, or its result being handled */
  int submit_error;           /* a stat that could not start, to report */
};

static struct uv__fs_poll_ctx* ctx_of(const uv_fs_poll_t* handle) {
  return (struct uv__fs_poll_ctx*) handle->poll_ctx;
}

/* Whether curr differs from prev in anything but the access time. */
static int stat_changed(const uv_stat_t* prev, const uv_stat_t* curr) {
  return prev->st_ctim.tv_sec != curr->st_ctim.tv_sec ||
         prev->st_ctim.tv_nsec != curr->st_ctim.tv_nsec ||
         prev->st_mtim.tv_sec != curr->st_mtim.tv_sec ||
         prev->st_mtim.tv_nsec != curr->st_mtim.tv_nsec ||
         prev->st_birthtim.tv_sec != curr->st_birthtim.tv_sec ||
         prev->st_birthtim.tv_nsec != curr->st_birthtim.tv_nsec ||
         prev->st_size != curr->st_size ||
         prev->st_mode != curr->st_mode ||
         prev->st_uid != curr->st_uid ||
         prev->st_gid != curr->st_gid ||
         prev->st_ino != curr->st_ino ||
         prev->st_dev != curr->st_dev ||
         prev->st_flags != curr->st_flags ||
         prev->st_gen != curr->st_gen;
}

static void stat_begin(struct uv__fs_poll_ctx* ctx);
static void timer_cb(uv_timer_t* timer);

/* The handle's memory may go right after its close callback: the timer
 * leaves the loop's handle list here, at once, instead of through a
 * close phase of its own. It was never closed, so no list but the handle
 * list knows it. */
static void ctx_free(struct uv__fs_poll_ctx* ctx) {
  assert(!ctx->in_flight);
  uv_timer_stop(&ctx->timer);
  uv__queue_remove(&ctx->timer.handle_queue);
  uv__free(ctx->path);
  ctx->handle->poll_ctx = NULL;
  uv__free(ctx);
}

/* Updates the state with one result, then calls back if it is news. The
 * state is settled before the callback, which may stop, restart or close
 * the handle; prev and curr are copies. */
static void report(struct uv__fs_poll_ctx* ctx, int status,
                   const uv_stat_t* st) {
  static const uv_stat_t zero;
  uv_stat_t prev = ctx->statbuf;
  uv_stat_t curr;
  int last = ctx->status;

  ctx->status = status;
  if (status != 0) {
    if (status != last)
      uv__dispatch_fs_poll(ctx->handle, ctx->cb, status, &prev, &zero);
    return;
  }
  curr = *st;
  ctx->statbuf = curr;
  if (last == UV__FS_POLL_FRESH)
    return;
  if (last != 0 || stat_changed(&prev, &curr))
    uv__dispatch_fs_poll(ctx->handle, ctx->cb, 0, &prev, &curr);
}

/* The stat is done. Reports it if the handle still wants it, then frees
 * the state of a closing handle, starts a stat for a handle restarted
 * meanwhile, or waits for the next one. in_flight stays set during the
 * callback: a close from there leaves the freeing to this function, and
 * a restart leaves the stat to it. */
static void stat_done(struct uv__fs_poll_ctx* ctx, unsigned int generation,
                      int status, const uv_stat_t* st) {
  uv_fs_poll_t* handle = ctx->handle;
  uv_loop_t* loop = handle->loop;
  uint64_t elapsed;

  if (uv__is_active((uv_handle_t*) handle) && generation == ctx->generation)
    report(ctx, status, st);
  ctx->in_flight = 0;

  if (uv__is_closing((uv_handle_t*) handle)) {
    ctx_free(ctx);
    uv__make_close_pending((uv_handle_t*) handle);
    return;
  }
  if (!uv__is_active((uv_handle_t*) handle))
    return;
  if (generation != ctx->generation) {
    stat_begin(ctx);    /* restarted since this stat began */
    return;
  }
  elapsed = loop->time - ctx->start_time;
  uv_timer_start(&ctx->timer, timer_cb,
                 elapsed >= ctx->interval ? 0 : ctx->interval - elapsed, 0);
}

static void stat_cb(uv_fs_t* req) {
  struct uv__fs_poll_ctx* ctx =
      uv__container_of(req, struct uv__fs_poll_ctx, req);
  uv_stat_t st = req->statbuf;
  int status = (int) req->result;

  uv_fs_req_cleanup(req);
  stat_done(ctx, ctx->req_generation, status, &st);
}

/* Starts a stat of the current path. A request the pool refuses (no
 * memory for the copy of the path, no thread) counts as a failed stat,
 * reported from the timer, since a callback must not run inside
 * uv_fs_poll_start(). */
static void stat_begin(struct uv__fs_poll_ctx* ctx) {
  uv_loop_t* loop = ctx->handle->loop;
  int err;

  assert(!ctx->in_flight && ctx->path != NULL);
  ctx->start_time = loop->time;
  ctx->req_generation = ctx->generation;
  ctx->in_flight = 1;
  err = uv_fs_stat(loop, &ctx->req, ctx->path, stat_cb);
  if (err == 0)
    return;
  uv_fs_req_cleanup(&ctx->req);
  ctx->in_flight = 0;
  ctx->submit_error = err;
  uv_timer_start(&ctx->timer, timer_cb, 0, 0);
}

static void timer_cb(uv_timer_t* timer) {
  struct uv__fs_poll_ctx* ctx =
      uv__container_of(timer, struct uv__fs_poll_ctx, timer);
  int err = ctx->submit_error;

  assert(!ctx->in_flight && ctx->path != NULL);
  if (err == 0) {
    stat_begin(ctx);
    return;
  }
  ctx->submit_error = 0;
  ctx->in_flight = 1;
  stat_done(ctx, ctx->generation, err, NULL);
}

/* ---------------------------------------------------------------------
 * The API.
 */
int uv_fs_poll_init(uv_loop_t* loop, uv_fs_poll_t* handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  uv__handle_init(loop, (uv_handle_t*) handle, UV_FS_POLL);
  handle->poll_ctx = NULL;
  return 0;
}

static int is_fs_poll(const uv_fs_poll_t* handle) {
  return handle != NULL && handle->type == UV_FS_POLL;
}

/* Starting an active handle changes nothing and succeeds, as in libuv
 * (the first path, callback and interval stay). A missing callback or
 * path, or a closing handle, is UV_EINVAL (libuv crashes or asserts).
 * The first stat begins at once. */
int uv_fs_poll_start(uv_fs_poll_t* handle, uv_fs_poll_cb poll_cb,
                     const char* path, unsigned int interval) {
  struct uv__fs_poll_ctx* ctx;
  uv_loop_t* loop;
  char* copy;

  if (!is_fs_poll(handle) || poll_cb == NULL || path == NULL ||
      uv__is_closing((uv_handle_t*) handle))
    return UV_EINVAL;
  if (uv__is_active((uv_handle_t*) handle))
    return 0;
  loop = handle->loop;
  copy = uv__strdup(path);
  if (copy == NULL)
    return UV_ENOMEM;
  ctx = ctx_of(handle);
  if (ctx == NULL) {
    ctx = uv__calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
      uv__free(copy);
      return UV_ENOMEM;
    }
    ctx->handle = handle;
    uv_timer_init(loop, &ctx->timer);
    ctx->timer.flags |= UV__HANDLE_INTERNAL;
    uv_unref((uv_handle_t*) &ctx->timer);
    handle->poll_ctx = ctx;
  }
  ctx->cb = poll_cb;
  ctx->path = copy;
  /* An interval of 0 would stat back to back, a busy loop on the pool:
   * the shortest is 1 ms. */
  ctx->interval = interval != 0 ? interval : 1;
  ctx->generation++;
  ctx->status = UV__FS_POLL_FRESH;
  ctx->submit_error = 0;
  memset(&ctx->statbuf, 0, sizeof(ctx->statbuf));
  uv__handle_start((uv_handle_t*) handle);
  /* With a stat of an earlier start in flight, its completion begins the
   * stat of this one. */
  if (!ctx->in_flight)
    stat_begin(ctx);
  return 0;
}

/* Stopping a stopped, closing or closed handle changes nothing. A stat in
 * flight finishes unreported. */
int uv_fs_poll_stop(uv_fs_poll_t* handle) {
  struct uv__fs_poll_ctx* ctx;

  if (!is_fs_poll(handle))
    return UV_EINVAL;
  if (!uv__is_active((uv_handle_t*) handle))
    return 0;
  ctx = ctx_of(handle);
  uv_timer_stop(&ctx->timer);
  uv__free(ctx->path);
  ctx->path = NULL;
  uv__handle_stop((uv_handle_t*) handle);
  return 0;
}

int uv_fs_poll_getpath(uv_fs_poll_t* handle, char* buffer, size_t* size) {
  struct uv__fs_poll_ctx* ctx;

  if (!is_fs_poll(handle))
    return UV_EINVAL;
  ctx = ctx_of(handle);
  return uv__handle_getpath((uv_handle_t*) handle,
                            ctx != NULL ? ctx->path : NULL, buffer, size);
}

/* Called by uv_close(). With a stat in flight, its completion frees the
 * state and makes the handle close-pending; until then the request keeps
 * the loop alive. */
void uv__fs_poll_close(uv_fs_poll_t* handle) {
  struct uv__fs_poll_ctx* ctx = ctx_of(handle);

  uv_fs_poll_stop(handle);
  if (ctx != NULL && ctx->in_flight)
    return;
  if (ctx != NULL)
    ctx_free(ctx);
  uv__make_close_pending((uv_handle_t*) handle);
}
