/* Async handles: wake a loop from any thread, or from a signal handler.
 *
 * All async handles of a loop share one eventfd, which is also the
 * wakeup of the worker pool's completions. uv_async_send() marks the
 * handle and pushes it on a lock-free stack owned by the loop; only the
 * push that finds the stack empty writes to the eventfd, so a burst of
 * sends to any number of handles costs one system call. The loop drains
 * the stack when the eventfd is readable and runs each marked handle once,
 * in the order of the sends: no scan over all handles.
 *
 * While the loop is running rather than waiting (async_awake), senders do
 * not write at all: the loop looks at the stack in every poll phase and
 * once more, after clearing async_awake, right before it blocks. With the
 * stack push and that flag both sequentially consistent, either the loop
 * sees the push or the sender sees the loop asleep and writes (the same
 * holds for the pool's completion flag).
 *
 * pending: 0 idle, 1 a sender is pushing it, 2 on the stack or ready
 * list, 3 closed. Senders only ever move it from 0 to 1 (a compare and
 * swap) and from 1 to 2; the loop thread moves it from 2 back to 0 when it
 * runs the handle, and to 3 when the handle is closed, which makes every
 * later send a no-op.
 *
 * A write to the eventfd is followed by setting async_written, so that the
 * loop knows to read the counter back to zero even when it never waits on
 * the descriptor itself (an embedder waiting on uv_backend_fd() would
 * otherwise find it readable forever).
 *
 * Other threads (senders, pool workers) write only after they have let go
 * of what they hand over (the handle's state, the completion lock): the
 * write wakes the loop's thread, which may take the writer's CPU on the
 * spot, and must not then find the writer still holding something it
 * needs. async_wakers counts such writers between their decision and the
 * end of their write; uv_loop_close() waits for it to reach zero.
 */
#include "internal.h"
#include "dispatch.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { ASYNC_IDLE = 0, ASYNC_PUSHING = 1, ASYNC_QUEUED = 2, ASYNC_CLOSED = 3 };

/* Waits out a sender that has claimed the handle but not yet finished its
 * push: a handful of instructions, unless that thread was preempted. */
static void wait_for_sender(uv_async_t* h) {
  while (__atomic_load_n(&h->pending, __ATOMIC_ACQUIRE) == ASYNC_PUSHING)
    sched_yield();
}

void uv__async_wake(uv_loop_t* loop) {
  static const uint64_t one = 1;
  ssize_t r;

  do
    r = write(loop->async_fd, &one, sizeof(one));
  while (r == -1 && errno == EINTR);
  /* EAGAIN means the counter is saturated: the loop will wake anyway.
   * The flag goes up after the write, so a loop that sees it and then
   * reads finds the counter non-zero; a flag seen late costs one read
   * that finds nothing. */
  __atomic_store_n(&loop->async_written, 1, __ATOMIC_RELEASE);
}

/* Reads the eventfd's counter back to zero. Loop thread only. The flag
 * goes down first: a write racing with this read raises it again. */
static void reset_wakeup(uv_loop_t* loop) {
  uint64_t count;
  ssize_t r;

  __atomic_store_n(&loop->async_written, 0, __ATOMIC_SEQ_CST);
  do
    r = read(loop->async_fd, &count, sizeof(count));
  while (r == -1 && errno == EINTR);
}

/* Whether the descriptor may have been written since the loop last read
 * it: the flag, or a thread between its decision to write and its flag
 * (it may be preempted there by the very thread its write woke, for as
 * long as a time slice). */
static int wakeup_written(uv_loop_t* loop) {
  return __atomic_load_n(&loop->async_written, __ATOMIC_ACQUIRE) != 0 ||
         __atomic_load_n(&loop->async_wakers, __ATOMIC_ACQUIRE) != 0;
}

void uv__async_wake_if_waiting(uv_loop_t* loop) {
  if (!__atomic_load_n(&loop->async_awake, __ATOMIC_SEQ_CST))
    uv__async_wake(loop);
}

/* For a thread that must write the wakeup after letting go of what it
 * handed over (a send's handle, a pool item), so that the write, a system
 * call that also wakes the loop's thread, is not inside the window where
 * the loop would wait for it. Returns 1 if a wakeup is needed; the loop
 * stays usable until uv__async_wake_end(), since uv_loop_close() waits
 * for async_wakers to drop to zero. */
int uv__async_wake_begin(uv_loop_t* loop) {
  if (__atomic_load_n(&loop->async_awake, __ATOMIC_SEQ_CST))
    return 0;
  __atomic_add_fetch(&loop->async_wakers, 1, __ATOMIC_SEQ_CST);
  return 1;
}

/* The last touch of the loop by that thread. `taken` counts the loop's
 * takings of what the thread handed over (the async stack, the pool's
 * completions) and `seen` is its value read after the hand-over: if the
 * loop has taken it since, it will run it without being woken, and a
 * write would only leave the descriptor readable for nothing. */
void uv__async_wake_end(uv_loop_t* loop, const unsigned int* taken,
                        unsigned int seen) {
  if (__atomic_load_n(taken, __ATOMIC_SEQ_CST) == seen)
    uv__async_wake(loop);
  __atomic_sub_fetch(&loop->async_wakers, 1, __ATOMIC_RELEASE);
}

int uv_async_send(uv_async_t* handle) {
  uv_loop_t* loop;
  void* head;
  int expected = ASYNC_IDLE;
  unsigned int seen = 0;
  int wake = 0;

  if (handle == NULL || handle->type != UV_ASYNC)
    return UV_EINVAL;
  /* Cheap check first: a handle already marked needs nothing more. */
  if (__atomic_load_n(&handle->pending, __ATOMIC_RELAXED) != ASYNC_IDLE)
    return 0;
  if (!__atomic_compare_exchange_n(&handle->pending, &expected, ASYNC_PUSHING,
                                   0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return 0;

  loop = handle->loop;
  head = __atomic_load_n(&loop->async_stack, __ATOMIC_RELAXED);
  do
    handle->u.async.next = head;
  while (!__atomic_compare_exchange_n(&loop->async_stack, &head, handle, 1,
                                      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  if (head == NULL && uv__async_wake_begin(loop)) {
    wake = 1;
    seen = __atomic_load_n(&loop->async_taken, __ATOMIC_SEQ_CST);
  }
  /* Only now may uv_close() go ahead; the handle is not touched again.
   * The write comes after, so that a loop it wakes (which may take this
   * thread's CPU on the spot) never waits for this thread to get it
   * back; uv_loop_close() waits for the write instead. */
  __atomic_store_n(&handle->pending, ASYNC_QUEUED, __ATOMIC_RELEASE);
  if (wake)
    uv__async_wake_end(loop, &loop->async_taken, seen);
  return 0;
}

/* Moves everything senders pushed onto the loop's ready list, oldest
 * first. Loop thread only. */
static void collect(uv_loop_t* loop) {
  uv_async_t* h;
  uv_async_t* prev = NULL;
  uv_async_t* next;

  h = __atomic_exchange_n(&loop->async_stack, NULL, __ATOMIC_SEQ_CST);
  if (h != NULL)
    __atomic_add_fetch(&loop->async_taken, 1, __ATOMIC_SEQ_CST);
  /* The stack is newest first; reverse it. */
  while (h != NULL) {
    next = h->u.async.next;
    h->u.async.next = prev;
    prev = h;
    h = next;
  }
  for (h = prev; h != NULL; h = h->u.async.next)
    uv__queue_insert_tail(&loop->async_ready, &h->queue);
}

/* Sends that arrive while the loop drains are taken in the same poll
 * phase, a few rounds at most: under a stream of sends this saves a wait
 * and a read per callback, and the bound keeps the other phases running. */
#define UV__ASYNC_DRAIN_ROUNDS 16

/* Runs the signalled async handles and the pool's completions. */
static void drain(uv_loop_t* loop) {
  struct uv__queue* q;
  uv_async_t* h;
  int round;

  for (round = 0; round < UV__ASYNC_DRAIN_ROUNDS; round++) {
    collect(loop);
    if (uv__queue_empty(&loop->async_ready))
      break;
    while (!uv__queue_empty(&loop->async_ready)) {
      q = uv__queue_head(&loop->async_ready);
      uv__queue_remove(q);
      h = uv__container_of(q, uv_async_t, queue);
      wait_for_sender(h);
      /* Cleared before the callback, so a send from inside it (or from
       * another thread meanwhile) schedules the handle again. */
      __atomic_store_n(&h->pending, ASYNC_IDLE, __ATOMIC_RELEASE);
      loop->spin.events++;
      if (h->async_cb != NULL)
        uv__dispatch_async(h);
    }
  }

  uv__work_done(loop);
}

static void async_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  (void) w;
  (void) events;
  /* Reset the counter first: a send racing with the drain then makes the
   * eventfd readable again instead of being lost. */
  reset_wakeup(loop);
  drain(loop);
}

static int wakeup_pending(uv_loop_t* loop);

/* Every poll phase: consumes a wakeup written while the loop was not
 * looking (between two uv_run() calls, say), and runs what senders left
 * without one (they skip it while the loop is awake). Returns 1 if
 * anything ran. */
int uv__async_poll_check(uv_loop_t* loop) {
  if (wakeup_written(loop))
    reset_wakeup(loop);
  if (!wakeup_pending(loop))
    return 0;
  drain(loop);
  return 1;
}

/* Right before a blocking wait: from here on senders must write. Returns
 * 1 (and stays awake) if something arrived in the meantime. */
int uv__async_sleep_begin(uv_loop_t* loop) {
  __atomic_store_n(&loop->async_awake, 0, __ATOMIC_SEQ_CST);
  if (!wakeup_pending(loop))
    return 0;
  __atomic_store_n(&loop->async_awake, 1, __ATOMIC_SEQ_CST);
  drain(loop);
  return 1;
}

void uv__async_sleep_end(uv_loop_t* loop) {
  __atomic_store_n(&loop->async_awake, 1, __ATOMIC_SEQ_CST);
}

/* A sampling round measures the loop's time inside uv_run() only: time
 * the program spends between two runs (libuv's fs_stat benchmark makes a
 * million synchronous stats there) would count against whichever kind of
 * wait was being sampled, and stretch the hold that follows. A uv_run()
 * called from a callback is inside the outer one: only the outermost
 * counts. */
static void spin_run_begin(struct uv__spin* s) {
  uint64_t away;

  if (s->runs++ != 0 || s->left_at == 0)
    return;
  away = uv__hrtime_ns() - s->left_at;
  s->round_start += away;
  s->block_start += away;
  s->left_at = 0;
}

static void spin_run_end(struct uv__spin* s) {
  if (--s->runs == 0 && s->block != 0)
    s->left_at = uv__hrtime_ns();
}

/* uv_run() is entered: senders may skip their wakeup. */
void uv__async_run_begin(uv_loop_t* loop) {
  __atomic_store_n(&loop->async_awake, 1, __ATOMIC_SEQ_CST);
  spin_run_begin(&loop->spin);
}

/* uv_run() returns: whatever is left must make the descriptor readable,
 * for the next uv_run() and for programs that wait on uv_backend_fd(). */
void uv__async_run_end(uv_loop_t* loop) {
  spin_run_end(&loop->spin);
  __atomic_store_n(&loop->async_awake, 0, __ATOMIC_SEQ_CST);
  /* A sender that wrote while this run drained its send (it had seen the
   * loop between two runs) left the descriptor readable for nothing:
   * read it back, then write again if anything is left. */
  if (wakeup_written(loop))
    reset_wakeup(loop);
  if (wakeup_pending(loop))
    uv__async_wake(loop);
}

/* ---------------------------------------------------------------------
 * Spinning before sleeping, judged by what it is for.
 *
 * When another thread is about to wake this loop (a reply to an async
 * send, a pool job finishing), a few microseconds of spinning can catch
 * the wakeup without sleeping: the kernel's wakeup of a sleeping thread
 * costs tens of microseconds on some virtual machines. On others the
 * spin costs more than it saves: two vCPUs may share one physical core,
 * so the spinning one slows the very thread it waits for, and a pause loop
 * may make the hypervisor take the vCPU away. Whether the spin caught the
 * wakeup says nothing about that.
 *
 * So each loop measures it, by what the spin is for: callbacks per
 * second. A sampling round is two blocks of waits, one with spinning and
 * one without (which comes first alternates between rounds, so that a
 * drifting workload favours neither). For each block it counts the async
 * callbacks, pool completions and I/O callbacks the loop ran and the wall
 * time they took (over 48 waits and at least 5 ms), leaving out the first
 * waits of the block, which still feel the other kind (a loop that slept
 * lets the pool's threads fall asleep too). Spinning is kept only if it ran at
 * least 10 % more callbacks per second; a tie, or too few callbacks to
 * tell, means no spin. Shorter waits alone are not enough: a loop that
 * sleeps may let senders batch up more work per wakeup and get more done.
 * The decision holds for 32 times as long as the sampling took (at least
 * 10 ms, at most 10 s), and a decision to spin twice as long each time it
 * comes out again (up to 512 times), so sampling the worse kind costs a
 * few percent at most. A loop whose callbacks come at a pace set
 * elsewhere (an idle server, a timer) ties every round and spins only in
 * its short sampling blocks. While a decision holds, a wait costs no
 * clock reading beyond the loop's own.
 *
 * Only waits that something in flight could end soon are spun (an async
 * handle is open, a request is active, or a descriptor is watched), never
 * on one CPU. With descriptors watched, the spin also asks the poller
 * every 32 looks at the flags whether one is ready (a non-blocking wait:
 * a system call, but no sleep and no wakeup); a peer replying within the
 * budget is then served without the kernel putting this thread to sleep
 * and waking it again, which costs tens of microseconds on some VMs.
 * NODELOOP_SPIN_US, read once per loop, sets the budget (0: never spin).
 * Spinning counts as idle time for uv_metrics_idle_time().
 */
#define UV__SPIN_DEFAULT_US 20
#define UV__SPIN_MAX_US 10000
#define UV__SPIN_SKIP 8               /* waits of a block not measured */
#define UV__SPIN_BLOCK 48             /* waits of a block, at least ... */
#define UV__SPIN_BLOCK_MAX 4096       /* ... and at most, */
#define UV__SPIN_BLOCK_NS ((uint64_t) 5 * 1000 * 1000) /* else measure 5 ms */
#define UV__SPIN_MIN_EVENTS 16        /* fewer callbacks: no evidence */
#define UV__SPIN_HOLD_MIN_FACTOR 32
#define UV__SPIN_HOLD_MAX_FACTOR 512
#define UV__SPIN_HOLD_MIN_NS ((uint64_t) 10 * 1000 * 1000)
#define UV__SPIN_HOLD_MAX_NS ((uint64_t) 10 * 1000 * 1000 * 1000)

/* Loop thread only. Sequentially consistent loads: see the top of the
 * file for the pairing with the senders. */
static int wakeup_pending(uv_loop_t* loop) {
  return __atomic_load_n(&loop->async_stack, __ATOMIC_SEQ_CST) != NULL ||
         __atomic_load_n(&loop->wq_notified, __ATOMIC_SEQ_CST) != 0 ||
         !uv__queue_empty(&loop->async_ready);
}

static uint32_t spin_budget_from_env(void) {
  const char* v = getenv("NODELOOP_SPIN_US");
  unsigned long n;
  char* end;

  /* With one CPU the thread that would wake us cannot run while we spin. */
  if (uv_available_parallelism() < 2)
    return 0;
  /* Digits only: strtoul would take "-5" as a huge number. */
  if (v == NULL || *v < '0' || *v > '9')
    return UV__SPIN_DEFAULT_US;
  errno = 0;
  n = strtoul(v, &end, 10);
  if (*end != '\0')
    return UV__SPIN_DEFAULT_US;
  if (errno == ERANGE || n > UV__SPIN_MAX_US)
    return UV__SPIN_MAX_US;
  return (uint32_t) n;
}

/* The first timed wait starts a sampling round: hold_until is 0. */
static void spin_init(struct uv__spin* s) {
  memset(s, 0, sizeof(*s));
  s->budget_us = spin_budget_from_env();
  s->hold_factor = UV__SPIN_HOLD_MIN_FACTOR;
  s->first = 1;
}

/* The pool's threads spin with the loop that gets their completions
 * (threadpool.c): a loop that catches a completion at once submits the
 * next job within microseconds, before a worker that slept could wake.
 * Both spins are sampled, and judged, together. */
static void spin_set(struct uv__spin* s, int spin) {
  s->spin = (unsigned char) spin;
  __atomic_store_n(&s->pool, (unsigned char) spin, __ATOMIC_RELAXED);
}

static void spin_start_round(struct uv__spin* s, uint64_t now) {
  s->block = 1;
  s->waits = 0;
  spin_set(s, s->first);
  s->first = !s->first;
  s->round_start = now;
  s->ns[0] = s->ns[1] = 0;
  s->done[0] = s->done[1] = 0;
}

static void spin_decide(uv_loop_t* loop, uint64_t now) {
  struct uv__spin* s = &loop->spin;
  uint64_t hold;
  int choice;

  /* In floating point: a block of slow waits can last long enough for
   * the integer cross products to overflow. */
  choice = s->done[0] >= UV__SPIN_MIN_EVENTS &&
           s->done[1] >= UV__SPIN_MIN_EVENTS && s->ns[0] > 0 && s->ns[1] > 0 &&
           (double) s->done[1] / (double) s->ns[1] >
               1.1 * (double) s->done[0] / (double) s->ns[0];
  /* Not spinning, a loop samples again soon: a sampled spin costs little,
   * while a spin that would pay (a pipeline of pool jobs that only forms
   * once the loop catches a completion, say) may show it only in a later
   * round. Spinning, it samples less and less often. */
  if (!choice || choice != s->chosen)
    s->hold_factor = UV__SPIN_HOLD_MIN_FACTOR;
  else if (s->hold_factor < UV__SPIN_HOLD_MAX_FACTOR)
    s->hold_factor *= 2;
  s->chosen = choice;
  spin_set(s, choice);
  s->block = 0;
  /* Bounded both ways: long enough to pay for the sampling, short enough
   * to notice within seconds that the workload changed. */
  hold = (now - s->round_start) * s->hold_factor;
  if (hold < UV__SPIN_HOLD_MIN_NS)
    hold = UV__SPIN_HOLD_MIN_NS;
  if (hold > UV__SPIN_HOLD_MAX_NS)
    hold = UV__SPIN_HOLD_MAX_NS;
  s->hold_until = loop->time + hold / 1000000;
}

static void add_idle(uv_loop_t* loop, uint64_t ns) {
  if (loop->flags & UV__LOOP_METRICS_IDLE)
    __atomic_add_fetch(&loop->idle_time, ns, __ATOMIC_RELAXED);
}

/* Ends a wait that could have spun: moves the sampling along. The part of
 * a block that is measured runs from the end of its SKIP-th wait to the
 * end of its last. A hold is checked against the loop's cached time. */
static void spin_wait_end(uv_loop_t* loop) {
  struct uv__spin* s = &loop->spin;
  uint64_t now;

  s->timed = 0;
  if (s->block == 0) {
    if (loop->time >= s->hold_until)
      spin_start_round(s, uv__hrtime_ns());
    return;
  }
  now = uv__hrtime_ns();
  s->waits++;
  if (s->waits == UV__SPIN_SKIP) {
    s->block_start = now;
    s->events_mark = s->events;
    return;
  }
  /* Long enough that a preemption or two does not decide it. */
  if (s->waits < UV__SPIN_BLOCK ||
      (now - s->block_start < UV__SPIN_BLOCK_NS &&
       s->waits < UV__SPIN_BLOCK_MAX))
    return;
  s->ns[s->spin] = now - s->block_start;
  s->done[s->spin] = s->events - s->events_mark;
  if (s->block == 1) {
    s->block = 2;
    s->waits = 0;
    spin_set(s, !s->spin);
    return;
  }
  spin_decide(loop, now);
}

void uv__async_wait_end(uv_loop_t* loop) {
  if (loop->spin.timed)
    spin_wait_end(loop);
}

int uv__async_spin(uv_loop_t* loop, int timeout) {
  struct uv__spin* s = &loop->spin;
  uint64_t budget_ns;
  uint64_t start;
  uint64_t now;
  int io;
  int i;

  /* Descriptors besides the wakeup's: their readiness ends a wait too. */
  io = loop->nfds > 1;
  if (s->budget_us == 0 ||
      (!io && loop->async_count == 0 && loop->active_reqs.count == 0))
    return 0;
  s->timed = 1;
  if (!s->spin)
    return 0;
  start = uv__hrtime_ns();
  budget_ns = (uint64_t) s->budget_us * 1000;
  if (timeout > 0 && (uint64_t) timeout * 1000000 < budget_ns)
    budget_ns = (uint64_t) timeout * 1000000;
  do {
    for (i = 0; i < 32; i++) {
      if (wakeup_pending(loop)) {
        add_idle(loop, uv__hrtime_ns() - start);
        spin_wait_end(loop);
        return 1;
      }
      uv__cpu_relax();
    }
    /* A system call, hence only every 32 looks at the flags. */
    if (io && uv__poller_peek(loop)) {
      add_idle(loop, uv__hrtime_ns() - start);
      spin_wait_end(loop);
      return 2;
    }
    now = uv__hrtime_ns();
  } while (now - start < budget_ns);
  add_idle(loop, now - start);
  return 0;
}

int uv_async_init(uv_loop_t* loop, uv_async_t* handle, uv_async_cb async_cb) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  uv__handle_init(loop, (uv_handle_t*) handle, UV_ASYNC);
  handle->async_cb = async_cb;
  handle->pending = ASYNC_IDLE;
  uv__queue_init(&handle->queue);
  handle->u.async.next = NULL;
  loop->async_count++;
  uv__handle_start((uv_handle_t*) handle);
  return 0;
}

/* A closing handle must leave the stack and the ready list before its
 * memory can be reused, and no sender may touch it (or the loop's wakeup
 * descriptor on its behalf) once this returns. The state goes to
 * ASYNC_CLOSED by a compare and swap, never by a plain store: a sender
 * that claims the handle between a look and a store would otherwise leave
 * it on the stack. Sends after uv_close() find it closed and do nothing. */
void uv__async_close(uv_async_t* handle) {
  uv_loop_t* loop = handle->loop;
  int state;

  for (;;) {
    state = ASYNC_IDLE;
    if (__atomic_compare_exchange_n(&handle->pending, &state, ASYNC_CLOSED,
                                    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      break;
    if (state == ASYNC_PUSHING) {
      /* A sender between its claim and the end of its wakeup. */
      sched_yield();
      continue;
    }
    /* Queued: only this thread moves the handle out of that state. */
    assert(state == ASYNC_QUEUED);
    collect(loop);
    uv__queue_remove(&handle->queue);
    __atomic_store_n(&handle->pending, ASYNC_CLOSED, __ATOMIC_RELAXED);
    /* What else was collected still needs its dispatch: a running loop
     * looks at the ready list in its poll phase; an embedder needs the
     * descriptor readable. */
    if (!uv__queue_empty(&loop->async_ready))
      uv__async_wake_if_waiting(loop);
    break;
  }
  loop->async_count--;
  uv__handle_stop((uv_handle_t*) handle);
}

/* ---------------------------------------------------------------------
 * The loop's wakeup descriptor.
 */
static int open_wakeup(uv_loop_t* loop) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int err;

  if (fd == -1)
    return uv__neg_errno();
  loop->async_fd = fd;
  uv__io_init(&loop->async_io_watcher, async_io, fd);
  err = uv__io_start(loop, &loop->async_io_watcher, UV__POLLIN);
  if (err != 0) {
    uv__close(fd);
    loop->async_fd = -1;
  }
  return err;
}

int uv__async_loop_init(uv_loop_t* loop) {
  loop->async_stack = NULL;
  loop->async_written = 0;
  loop->async_wakers = 0;
  loop->async_taken = 0;
  uv__queue_init(&loop->async_ready);
  loop->async_count = 0;
  spin_init(&loop->spin);
  return open_wakeup(loop);
}

void uv__async_loop_close(uv_loop_t* loop) {
  if (loop->async_fd == -1)
    return;
  /* A sender or worker between its hand-over and the end of its write:
   * one system call. */
  while (__atomic_load_n(&loop->async_wakers, __ATOMIC_ACQUIRE) != 0)
    sched_yield();
  uv__io_close(loop, &loop->async_io_watcher);
  uv__close(loop->async_fd);
  loop->async_fd = -1;
}

/* The child of a fork() must not share the parent's eventfd. Sends and
 * pool completions that were pending at the fork are delivered in the
 * child too. */
int uv__async_loop_fork(uv_loop_t* loop) {
  int err;

  /* No other thread exists in the child: nobody is writing. */
  loop->async_wakers = 0;
  uv__async_loop_close(loop);
  loop->async_written = 0;
  err = open_wakeup(loop);
  if (err != 0)
    return err;
  if (loop->async_stack != NULL || !uv__queue_empty(&loop->async_ready) ||
      !uv__queue_empty(&loop->wq_done))
    uv__async_wake(loop);
  return 0;
}
