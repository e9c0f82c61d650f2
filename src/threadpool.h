/* The worker pool's contract with the rest of the library. */
#ifndef NL_THREADPOOL_H_
#define NL_THREADPOOL_H_

#include "internal.h"

/* Registers req (the request w is part of) with the loop and queues w;
 * wkind (NL_WORK_* of nodeloop.h) says which request type req is: DNS
 * items may hold at most half the threads, and observation finds the
 * request from the item through it;
 * `work` runs on a pool thread, then `done` on the loop's thread with 0,
 * or UV_ECANCELED after a successful uv__work_cancel; `done` unregisters
 * the request. Fails only when no pool thread could be started (0 or a
 * UV_E* code), and then leaves the request unregistered. */
int uv__work_submit(uv_loop_t* loop, void* req, struct uv__work* w,
                    int wkind,
                    void (*work)(struct uv__work* w),
                    void (*done)(struct uv__work* w, int status));

/* 0 if w had not started and will complete with UV_ECANCELED, else
 * UV_EBUSY. */
int uv__work_cancel(uv_loop_t* loop, struct uv__work* w);

int uv__work_loop_init(uv_loop_t* loop);
void uv__work_loop_close(uv_loop_t* loop);
void uv__work_loop_fork(uv_loop_t* loop);
void uv__threadpool_shutdown(void);

/* Items waiting for a worker, workers running one, threads: read without
 * the pool's lock, for metrics and trace counters. */
void uv__work_stats(unsigned int* queued, unsigned int* busy,
                    unsigned int* threads);

#endif /* NL_THREADPOOL_H_ */
