/* The io_uring contract (src/linux/uring.c): one ring per loop, created
 * on the first request that can use it made while uv_run runs the loop
 * (NODELOOP_IO_URING=all: any request), which runs file requests from the
 * loop thread without a pool hop.
 *
 * A request the ring takes waits in the loop's list until the next poll
 * phase, which hands every waiting request to the kernel in one
 * io_uring_enter and runs the callbacks of those that completed in it;
 * the others complete later through the ring's descriptor, watched by the
 * poller like any other. Until it is handed over a request can be
 * cancelled; afterwards the kernel owns it (UV_EBUSY, as for a pool item
 * that a worker has started).
 *
 * Credentials: only the thread running the loop submits, and the ring has
 * no submission thread (no IORING_SETUP_SQPOLL), so the kernel checks
 * every operation against the loop thread's credentials at the moment of
 * submission, also when it hands the work to one of its own workers
 * (it takes a reference to the submitter's credentials then). A process
 * that changes its credentials through libc changes them on every thread
 * before the call returns, so work submitted afterwards is checked
 * against the new ones. See docs/design.md.
 */
#ifndef NL_URING_H_
#define NL_URING_H_

#include "internal.h"

/* 1 if the ring took the request (registered with the loop, completed
 * later through the same unregister-then-dispatch steps as a pool item),
 * 0 to use the pool: no ring in this process or loop, the operation is
 * one the kernel lacks or the ring does not do. */
int uv__ring_fs_submit(uv_loop_t* loop, uv_fs_t* req);

/* uv_cancel() of a request the ring took: 0 and UV_ECANCELED to its
 * callback if it was still waiting, UV_EBUSY once handed to the kernel.
 * -1 if the request is not the ring's. */
int uv__ring_fs_cancel(uv_fs_t* req);

/* The poll phase's part: submits the waiting requests and runs the
 * callbacks of those that completed. Returns whether any callback ran
 * (the poll must not block then). */
int uv__ring_flush(uv_loop_t* loop);

/* Whether the next poll phase can make progress without waiting:
 * requests to submit while the ring has room, or callbacks due. For
 * uv_backend_timeout(). */
int uv__ring_ready(const uv_loop_t* loop);

/* fs.c: queues a request on the worker pool (0, or the error). */
int uv__fs_pool_submit(uv_loop_t* loop, uv_fs_t* req);

/* The poller's use of the ring (src/linux/uring_poll.c), chosen by
 * NODELOOP_POLLER: epoll_ctl per interest change (epoll, the default),
 * the changes in one io_uring_enter before epoll_wait (ring-ctl), the
 * changes and the wait in one io_uring_enter (ring), or no epoll wait at
 * all: multishot polls on a ring of the poller's own (poll,
 * src/linux/uring_mpoll.c). */
enum { UV__POLLER_EPOLL, UV__POLLER_RING_CTL, UV__POLLER_RING,
       UV__POLLER_POLL };
int uv__ring_poller(void);

/* Applies the loop's interest changes through the ring and, if events is
 * not NULL, waits up to timeout ms for at most maxevents of them in the
 * same io_uring_enter. Returns the number of events (0 also when a
 * refused change cut the wait short; *refused counts those), or -2 if
 * the ring cannot do it now: the changes still queued are the caller's,
 * and so is the wait. Nothing is left in the kernel after it returns. */
struct epoll_event;
int uv__ring_poll(uv_loop_t* loop, struct epoll_event* events,
                  int maxevents, int timeout, int* refused);

/* The ring's descriptor, or -1: one of the loop's own (uv_poll_init). */
int uv__ring_fd(const uv_loop_t* loop);

/* NODELOOP_POLLER=poll (src/linux/uring_mpoll.c); loop->mpoll is set
 * while the loop's watchers are polls on its ring. uv__mpoll_wait
 * applies the interest changes, waits and fetches events as epoll_wait
 * would (-1 with EINTR, or -2: the ring is given up, every watcher is
 * queued for epoll). uv__mpoll_recheck follows each round's dispatch. */
void uv__mpoll_init(uv_loop_t* loop);
void uv__mpoll_close(uv_loop_t* loop);
void uv__mpoll_fork(uv_loop_t* loop);
int uv__mpoll_wait(uv_loop_t* loop, struct epoll_event* events,
                   int maxevents, int timeout);
void uv__mpoll_recheck(uv_loop_t* loop, struct epoll_event* events, int n);
void uv__mpoll_invalidate(uv_loop_t* loop, int fd);
void uv__mpoll_flush(uv_loop_t* loop);
void uv__mpoll_submit(uv_loop_t* loop);
int uv__mpoll_pending(const uv_loop_t* loop);
int uv__mpoll_ready(const uv_loop_t* loop);
int uv__mpoll_fd(const uv_loop_t* loop);

void uv__ring_close(uv_loop_t* loop);
void uv__ring_fork(uv_loop_t* loop);

#endif /* NL_URING_H_ */
