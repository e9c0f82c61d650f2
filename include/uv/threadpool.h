/* nodeloop: the item every pool-backed request embeds (private).
 * Included by uv/unix.h, after struct uv__queue is declared. */
#ifndef UV_THREADPOOL_H_
#define UV_THREADPOOL_H_

struct uv_loop_s;

/* One unit of work for the shared worker pool: `work` runs on a worker
 * thread, `done` on the thread of `loop` with 0 or UV_ECANCELED.
 */
struct uv__work {
  void (*work)(struct uv__work* w);
  void (*done)(struct uv__work* w, int status);
  struct uv_loop_s* loop;
  struct uv__queue node;
};

#endif /* UV_THREADPOOL_H_ */
