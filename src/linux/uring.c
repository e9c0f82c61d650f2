/* io_uring for file requests (the contract is src/uring.h): the ring, made
 * with raw system calls, what the kernel offers, and the file operations
 * that run on it from the loop thread.
 *
 * Life of a request: uv__ring_fs_submit() puts it on the waiting list
 * (cancellable); the next poll phase writes its submission entry and
 * hands the whole batch to the kernel in one io_uring_enter. Cached reads
 * and closes complete inside that call and their callbacks run right
 * away, still in the poll phase; work the kernel passes to its own
 * workers (opens, fstat, fsync, a read that must wait for the disk)
 * completes later and wakes the loop through the ring's descriptor.
 *
 * At most `sq_entries` requests are in the kernel at once and the
 * completion queue has room for twice that, so it can never overflow; the
 * rest wait on the list. Nothing is dropped when the ring is full.
 */
#include "internal.h"
#include "dispatch.h"
#include "fs.h"
#include "observe.h"
#include "threadpool.h"
#include "uring.h"
#include "uring_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Markers in a request's work item: which of the ring's lists it is on.
 * Never called. */
static void ring_waiting_mark(struct uv__work* w) { (void) w; }
static void ring_kernel_mark(struct uv__work* w) { (void) w; }
static void ring_canceled_mark(struct uv__work* w) { (void) w; }

atomic_int uv__ring_refused;

/* NODELOOP_IO_URING, read once: -1 for "0" (no ring), 2 for "all"
 * (requests made outside uv_run too), 1 otherwise. */
static atomic_int ring_env;

int uv__ring_mode(void) {
  int m = atomic_load_explicit(&ring_env, memory_order_relaxed);
  const char* env;

  if (m == 0) {
    env = getenv("NODELOOP_IO_URING");
    if (env != NULL && strcmp(env, "0") == 0)
      m = -1;
    else if (env != NULL && strcmp(env, "all") == 0)
      m = 2;
    else
      m = 1;
    atomic_store_explicit(&ring_env, m, memory_order_relaxed);
  }
  return m;
}

/* io_uring_setup with p's flags and, if the kernel refuses them, again
 * without the task-run ones (COOP_TASKRUN, TASKRUN_FLAG: Linux 5.19);
 * p's other fields are kept for the second try. The descriptor, or -1. */
int uv__ring_setup(unsigned int entries, struct io_uring_params* p) {
  const unsigned int taskrun =
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  unsigned int flags = p->flags;
  unsigned int cq_entries = p->cq_entries;
  int fd;

  fd = (int) syscall(__NR_io_uring_setup, entries, p);
  if (fd < 0 && errno == EINVAL && (flags & taskrun)) {
    memset(p, 0, sizeof(*p));
    p->flags = flags & ~taskrun;
    p->cq_entries = cq_entries;
    fd = (int) syscall(__NR_io_uring_setup, entries, p);
  }
  return fd;
}

int uv__ring_enter(int fd, unsigned int to_submit, unsigned int min,
                     unsigned int flags) {
  return (int) syscall(__NR_io_uring_enter, fd, to_submit, min, flags,
                       NULL, 0);
}

/* io_uring_enter with IORING_ENTER_EXT_ARG when a timeout (ms) or a
 * signal mask is given. */
static int ring_enter_ext(int fd, unsigned int to_submit, unsigned int min,
                          int timeout, const sigset_t* mask) {
  struct io_uring_getevents_arg arg;
  struct __kernel_timespec ts;

  if (timeout < 0 && mask == NULL)
    return uv__ring_enter(fd, to_submit, min, IORING_ENTER_GETEVENTS);
  memset(&arg, 0, sizeof(arg));
  if (timeout >= 0) {
    ts.tv_sec = timeout / 1000;
    ts.tv_nsec = (long long) (timeout % 1000) * 1000000;
    arg.ts = (uintptr_t) &ts;
  }
  if (mask != NULL) {
    arg.sigmask = (uintptr_t) mask;
    arg.sigmask_sz = _NSIG / 8;
  }
  return (int) syscall(__NR_io_uring_enter, fd, to_submit, min,
                       IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
                       sizeof(arg));
}

#ifdef NL_UNDER_TSAN
#define TSAN_SLICE_MS 5
#endif

/* Submits to_submit entries and waits until min completions are in the
 * queue, the timeout (ms, -1 for none) passes (-1, ETIME) or a signal
 * comes (-1, EINTR); mask, if given, is the signal mask meanwhile. As
 * io_uring_enter: the number submitted if any, and no wait when not all
 * of them were.
 *
 * ThreadSanitizer runs a handler at once only while the thread is in a
 * call it knows may block; a signal that comes elsewhere waits for the
 * thread's next intercepted call, which a wait in a raw system call puts
 * off for as long as it lasts (a SIGCHLD held back so hung the tests). So
 * under TSan the wait goes in slices of a few milliseconds with such a
 * call between them. */
int uv__ring_wait(const struct nl__ring_queues* q, int fd,
                  unsigned int to_submit, unsigned int min, int timeout,
                  const sigset_t* mask) {
#ifndef NL_UNDER_TSAN
  (void) q;
  return ring_enter_ext(fd, to_submit, min, timeout, mask);
#else
  uint64_t end = 0;
  uint64_t now;
  int submitted = 0;
  int slice;
  int rc;

  if (timeout >= 0)
    end = uv__hrtime_ns() + (uint64_t) timeout * 1000000;
  for (;;) {
    slice = TSAN_SLICE_MS;
    if (timeout >= 0) {
      now = uv__hrtime_ns();
      slice = now >= end ? 0 : (int) ((end - now + 999999) / 1000000);
      if (slice > TSAN_SLICE_MS)
        slice = TSAN_SLICE_MS;
    }
    rc = ring_enter_ext(fd, to_submit, min, slice, mask);
    if (to_submit > 0) {
      if (rc >= 0)
        submitted = rc;
      if (rc >= 0 && (unsigned int) rc < to_submit)
        return rc;   /* the kernel does not wait then either */
      to_submit = 0;
    }
    if (rc < 0 && errno != ETIME)
      return submitted > 0 ? submitted : -1;
    if (__atomic_load_n(q->cq_ktail, __ATOMIC_ACQUIRE) - *q->cq_khead >= min)
      return submitted;
    if (timeout >= 0 && slice == 0) {
      if (submitted > 0)
        return submitted;
      errno = ETIME;
      return -1;
    }
    /* Where TSan runs the handlers it held back. */
    poll(NULL, 0, 0);
  }
#endif
}

static int sys_register(int fd, unsigned int op, void* arg,
                        unsigned int n) {
  return (int) syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void ring_io(uv_loop_t* loop, uv__io_t* w, unsigned int events);

int uv__ring_map(int fd, const struct io_uring_params* p,
                 struct nl__ring_queues* q) {
  size_t sq_len, cq_len;
  unsigned int i;
  char* map;
  void* sqes;

  sq_len = p->sq_off.array + p->sq_entries * sizeof(unsigned int);
  cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
  q->ring_len = sq_len > cq_len ? sq_len : cq_len;
  q->sqe_len = p->sq_entries * sizeof(struct io_uring_sqe);
  map = mmap(NULL, q->ring_len, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (map == MAP_FAILED)
    return -1;
  sqes = mmap(NULL, q->sqe_len, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    munmap(map, q->ring_len);
    return -1;
  }
  q->ring_map = map;
  q->sqes = sqes;
  q->sq_mask = *(unsigned int*) (map + p->sq_off.ring_mask);
  q->sq_khead = (unsigned int*) (map + p->sq_off.head);
  q->sq_ktail = (unsigned int*) (map + p->sq_off.tail);
  q->sq_kflags = (unsigned int*) (map + p->sq_off.flags);
  q->cq_mask = *(unsigned int*) (map + p->cq_off.ring_mask);
  q->cq_khead = (unsigned int*) (map + p->cq_off.head);
  q->cq_ktail = (unsigned int*) (map + p->cq_off.tail);
  q->cqes = (struct io_uring_cqe*) (map + p->cq_off.cqes);
  q->sq_tail = *q->sq_ktail;
  for (i = 0; i < p->sq_entries; i++)
    ((unsigned int*) (map + p->sq_off.array))[i] = i;
  return 0;
}

void uv__ring_unmap(struct nl__ring_queues* q) {
  if (q->ring_map != NULL)
    munmap(q->ring_map, q->ring_len);
  if (q->sqes != NULL)
    munmap(q->sqes, q->sqe_len);
  q->ring_map = NULL;
  q->sqes = NULL;
}

/* The kernel's half: the descriptors and the two maps. */
static void ring_close_kernel(struct nl__ring* r) {
  uv__ring_unmap(&r->q);
  if (r->fd >= 0)
    uv__close(r->fd);
  r->fd = -1;
}

static void ring_probe(struct nl__ring* r) {
  /* The probe ends in a flexible array: room for NL_NOPS entries. */
  uint64_t buf[(sizeof(struct io_uring_probe) +
                NL_NOPS * sizeof(struct io_uring_probe_op) + 7) / 8];
  struct io_uring_probe* probe = (struct io_uring_probe*) buf;
  unsigned int i;

  memset(r->ops, 0, sizeof(r->ops));
  memset(buf, 0, sizeof(buf));
  if (sys_register(r->fd, IORING_REGISTER_PROBE, probe, NL_NOPS) != 0)
    return;   /* before Linux 5.6: no operation this file uses anyway */
  for (i = 0; i < probe->ops_len && i < NL_NOPS; i++)
    r->ops[i] = (probe->ops[i].flags & IO_URING_OP_SUPPORTED) != 0;
}

/* 1 once a ring's own descriptor, which refuses an offset, has been
 * refused by offset_refusal() as it should (ESPIPE); -1 if not (a filter
 * on system calls, say), and then reads are checked with fstat. */
static atomic_int offset_probe;

/* Whether pread(2) takes an offset on fd, for the price of a bare system
 * call: a vector count above IOV_MAX, which the kernel refuses (EINVAL)
 * only after it has refused a descriptor without positional reads
 * (ESPIPE: pipes, sockets, terminals, eventfd and the like). Nothing is
 * read, no buffer is looked at, no watcher is notified. fstat(2) cost
 * the loop thread of fs_read_files a sixth of its time. It admits some
 * character devices too (/dev/zero, /dev/kmsg): their first try on the
 * ring is made without waiting, and one that would wait is sent to the
 * pool (ring_reap), where it behaves as pread(2) does. */
static int offset_refusal(int fd) {
  return syscall(SYS_preadv, fd, NULL, IOV_MAX + 1, 0, 0) == -1 ? errno : 0;
}

/* 0, or -1 with nothing held. */
static int ring_open_kernel(struct nl__ring* r) {
  struct io_uring_params p;
  int fd;

  /* How the kernel finishes what it could not do inside io_uring_enter.
   * Every request here completes either there, or on one of the kernel's
   * workers, which posts the completion itself (opens and reads that must
   * wait go there: see sqe_fill). A worker's request is then freed by
   * "task work" on the submitting thread, which by default interrupts
   * that thread at once: measured, it cost fs_read_files 40 % (230 k
   * against 390 k files/s). COOP_TASKRUN (Linux 5.19) lets the work wait
   * for the thread's next system call instead. DEFER_TASKRUN was tried
   * too: then only the submitting thread can finish requests, and a loop
   * run by another thread after uv_run returned with requests in flight
   * waited for them forever. */
  memset(&p, 0, sizeof(p));
  p.flags = IORING_SETUP_COOP_TASKRUN;
  fd = uv__ring_setup(RING_ENTRIES, &p);
  if (fd < 0) {
    /* Missing or forbidden for the whole process; anything else
     * (memory, the limit on rings) may be this loop's bad luck only. */
    if (errno == ENOSYS || errno == EPERM || errno == EACCES ||
        errno == EINVAL)
      atomic_store(&uv__ring_refused, 1);
    return -1;
  }
  r->fd = fd;
  /* Without these the bookkeeping below would be wrong: a shared map for
   * both queues (5.4), completions never dropped (5.5), submission data
   * copied at submission (5.5). Fewer entries than asked would not
   * match the slots. */
  if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
      !(p.features & IORING_FEAT_NODROP) ||
      !(p.features & IORING_FEAT_SUBMIT_STABLE) ||
      p.sq_entries != RING_ENTRIES || p.cq_entries < p.sq_entries) {
    atomic_store(&uv__ring_refused, 1);
    goto fail;
  }
  if (uv__ring_map(fd, &p, &r->q) != 0)
    goto fail;
  uv__io_init(&r->watcher, ring_io, fd);
  ring_probe(r);
  if (atomic_load_explicit(&offset_probe, memory_order_relaxed) == 0)
    atomic_store_explicit(&offset_probe,
                          offset_refusal(fd) == ESPIPE ? 1 : -1,
                          memory_order_relaxed);
  return 0;

fail:
  ring_close_kernel(r);
  return -1;
}

static struct nl__ring* ring_create(void) {
  struct nl__ring* r;
  unsigned int i;

  r = uv__calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;   /* memory: the next request tries again */
  r->fd = -1;
  /* At most RING_ENTRIES requests in flight; the completion queue has at
   * least as many places (twice, by default), so it never overflows. */
  for (i = 0; i < RING_ENTRIES; i++)
    r->free_slots[i] = RING_ENTRIES - 1 - i;
  r->nfree = RING_ENTRIES;
  uv__queue_init(&r->waiting);
  uv__queue_init(&r->canceled);
  uv__io_init(&r->watcher, ring_io, -1);
  /* A kernel that refuses this loop a ring (descriptors, memory, its
   * limit on rings) leaves it without one for good: fd -1, so that
   * every request does not pay a failing io_uring_setup first. */
  (void) ring_open_kernel(r);
  return r;
}

/* The loop's ring, made on first use; NULL when the pool must do. */
struct nl__ring* uv__ring_get(uv_loop_t* loop) {
  if (loop->ring == NULL)
    loop->ring = ring_create();
  return loop->ring;
}

/* ---------------------------------------------------------------------
 * Which requests go on the ring.
 */
/* The most one read(2) or write(2) moves (MAX_RW_COUNT). */
#define RW_MAX 0x7ffff000u

/* Whether fd names a file whose reads and writes behave on the ring as
 * they do with read(2)/write(2) on a pool thread: a regular file or a
 * block device. Pipes, sockets, terminals and the like do not: the ring
 * waits for them even when they are O_NONBLOCK, ignores an offset a pipe
 * would refuse, and cancels what is pending when the submitting thread
 * exits. lseek(2) would cost less (fs_read_files 15 % faster) but seeks
 * on descriptors that refuse an offset: eventfd, timerfd, inotify. */
static int ring_fd_is_file(int fd) {
  struct stat st;

  return fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static int ring_fd_reads_at_offset(int fd) {
  if (atomic_load_explicit(&offset_probe, memory_order_relaxed) > 0)
    return offset_refusal(fd) == EINVAL;
  return ring_fd_is_file(fd);
}

/* Whether a kernel worker may be given a read of fd that the first try
 * could not finish: it waits for the descriptor to be readable where
 * there is something to wait for (a message queue, /proc/kmsg: regular
 * files to fstat), which pread(2) does not. Files on disk always are. */
static int ring_fd_readable(int fd) {
  struct pollfd p;

  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/* The most one read of req can move: what pread(2) would. */
static size_t ring_read_len(const uv_fs_t* req) {
  size_t total = 0;
  unsigned int i;

  for (i = 0; i < req->nbufs && total < RW_MAX; i++)
    total += req->bufs[i].len;
  return total < RW_MAX ? total : RW_MAX;
}

/* Moves req past the n bytes a try read (n short of the whole), for the
 * next try to read the rest, and trims the rest so that all the tries
 * together read no more than one pread(2) would (RW_MAX). Its buffers
 * are the request's own copy; ring_reap adds the counts up. A vector
 * stays a vector (IORING_OP_READV, the only read a 5.5 kernel has). */
static void ring_read_advance(uv_fs_t* req, size_t n, size_t done) {
  size_t room = RW_MAX - done;
  size_t sum = 0;
  unsigned int i = 0;

  req->off += (int64_t) n;
  while (n >= req->bufs[i].len) {
    n -= req->bufs[i].len;
    i++;
  }
  req->bufs[i].base += n;
  req->bufs[i].len -= n;
  if (i > 0 && req->nbufs - i == 1) {
    i--;
    req->bufs[i].len = 0;
  }
  memmove(req->bufs, req->bufs + i, (req->nbufs - i) * sizeof(req->bufs[0]));
  req->nbufs -= i;
  for (i = 0; i < req->nbufs; i++) {
    if (req->bufs[i].len > room - sum) {
      req->bufs[i].len = room - sum;
      if (i + 1 < req->nbufs) {   /* the buffers after it stay unread */
        req->nbufs = i + 1;
        if (req->nbufs == 1) {
          req->bufs[1].len = 0;
          req->nbufs = 2;
        }
      }
      break;
    }
    sum += req->bufs[i].len;
  }
}

/* How a request the kernel's worker held ends when the kernel interrupts
 * it, because the thread that submitted it exits (a loop run by one
 * thread and finished by another): ECANCELED if it had not started,
 * EINTR or the kernel's own restart codes (ERESTARTSYS to
 * ERESTART_RESTARTBLOCK, which no system call returns) if it had. Either
 * way it did nothing: a read or write that moved data ends with a count.
 * Nothing here asks the kernel to cancel a request it holds. */
static int ring_interrupted(int res) {
  return res == -ECANCELED || res == -EINTR || (res <= -512 && res >= -516);
}

/* Frees slot i of a request that goes on elsewhere. */
static void ring_slot_free(struct nl__ring* r, unsigned int i) {
  r->slots[i].req = NULL;
  r->free_slots[r->nfree++] = i;
  r->inflight--;
}

static void ring_to_pool(uv_loop_t* loop, struct nl__ring* r, uv_fs_t* req);
static void ring_push(struct nl__ring* r, unsigned int i);

/* A read's completion: 1 if the read goes on (on the ring or the pool),
 * 0 if *res, with what earlier tries read, is its result. A try is made
 * without waiting first; what it could not start goes to a kernel worker
 * if the descriptor is a file the worker will not wait on, otherwise to
 * the pool, as pread(2) (a device), or ends with what was read. A try
 * that stops short where pread(2) would read on (part of a file cached;
 * /dev/zero when the thread should yield or its worker was interrupted)
 * is followed by another for the rest; at the end of a file that one
 * reads 0 at once. */
static int ring_read_on(uv_loop_t* loop, struct nl__ring* r, unsigned int i,
                        int* res) {
  struct ring_slot* s = &r->slots[i];
  uv_fs_t* req = s->req;
  int n = *res;

  if (n > 0 && (size_t) n < ring_read_len(req)) {
    ring_read_advance(req, (size_t) n, s->done + (size_t) n);
    s->done += (unsigned int) n;
    s->async = 0;
    ring_push(r, i);
    return 1;
  }
  if (!s->async && (n == -EAGAIN || n == -EOPNOTSUPP) &&
      ring_fd_is_file(req->file) && ring_fd_readable(req->file)) {
    s->async = 1;
    ring_push(r, i);
    return 1;
  }
  if (s->done == 0 &&
      (n == -EAGAIN || n == -EOPNOTSUPP || ring_interrupted(n))) {
    ring_slot_free(r, i);
    ring_to_pool(loop, r, req);
    return 1;
  }
  if (s->done != 0 && ring_interrupted(n)) {
    s->async = 0;
    ring_push(r, i);
    return 1;
  }
  if (s->done != 0) {
    req->off -= s->done;
    *res = n > 0 ? n + (int) s->done : (int) s->done;
  }
  return 0;
}

/* What can go on a ring at all, whatever the kernel offers; decided
 * before the loop has one, so that a loop whose requests never can makes
 * none. */
static int ring_may_take(const uv_fs_t* req) {
  size_t total = 0;
  unsigned int i;

  switch (req->fs_type) {
    case UV_FS_READ:
    case UV_FS_WRITE:
      /* The file position (offset -1) stays with the pool: the kernel
       * reads it when a ring request starts and moves it when the
       * request ends, without the lock read(2) holds, so two at once
       * would read the same bytes, and a partial write would leave it
       * wrong. So do reads of what refuses an offset, and writes to
       * anything but a regular file or a block device. */
      if (req->off < 0 || req->nbufs > IOV_MAX)
        return 0;
      if (req->fs_type == UV_FS_READ)
        return ring_fd_reads_at_offset(req->file);
      /* One write on the ring is final, like one write(2): more than a
       * system call moves needs the pool's loop. */
      if (req->fs_type == UV_FS_WRITE)
        for (i = 0; i < req->nbufs; i++) {
          total += req->bufs[i].len;
          if (total > RW_MAX)
            return 0;
        }
      return ring_fd_is_file(req->file);
    case UV_FS_FSYNC:
    case UV_FS_FDATASYNC:
    case UV_FS_FTRUNCATE:
    case UV_FS_CLOSE:
    case UV_FS_OPEN:
    case UV_FS_FSTAT:
      return 1;
    default:
      /* stat and lstat stay on the pool: the kernel always hands a ring
       * statx to one of its workers, and with many in flight that was
       * 2-3 times slower than the pool (libuv's fs_stat benchmark,
       * docs/benchmarks.md). The rest has no ring operation. */
      return 0;
  }
}

/* Whether this kernel has the request's operation. */
static int ring_takes(const struct nl__ring* r, const uv_fs_t* req) {
  switch (req->fs_type) {
    case UV_FS_READ:
      return req->nbufs == 1 ? r->ops[IORING_OP_READ]
                             : r->ops[IORING_OP_READV];
    case UV_FS_WRITE:
      return req->nbufs == 1 ? r->ops[IORING_OP_WRITE]
                             : r->ops[IORING_OP_WRITEV];
    case UV_FS_FSYNC:
    case UV_FS_FDATASYNC:
      return r->ops[IORING_OP_FSYNC];
    case UV_FS_FTRUNCATE:
      return r->ops[NL_OP_FTRUNCATE];
    case UV_FS_CLOSE:
      return r->ops[IORING_OP_CLOSE];
    case UV_FS_OPEN:
      return r->ops[IORING_OP_OPENAT];
    case UV_FS_FSTAT:
      return r->ops[IORING_OP_STATX];
    default:
      return 0;
  }
}

int uv__ring_fs_submit(uv_loop_t* loop, uv_fs_t* req) {
  int mode = uv__ring_mode();
  struct nl__obs* o;
  struct nl__ring* r;

  /* A request made outside uv_run goes to the pool, which starts it at
   * once: on the ring it would wait for the next poll phase, and the
   * program may have other work to do before it runs the loop. It can
   * also be cancelled until a worker takes it, as in libuv. (The loop is
   * awake exactly while uv_run runs it and does not wait.) */
  if (mode < 0 ||
      (mode == 1 && !__atomic_load_n(&loop->async_awake, __ATOMIC_RELAXED)))
    return 0;
  /* Without a ring for good (refused, or broken), not even the checks. */
  r = loop->ring;
  if (atomic_load_explicit(&uv__ring_refused, memory_order_relaxed) ||
      (r != NULL && (r->fd < 0 || r->broken)) || !ring_may_take(req))
    return 0;
  r = uv__ring_get(loop);
  if (r == NULL || r->fd < 0 || r->broken || !ring_takes(r, req))
    return 0;
  uv__req_register(loop, req);
  req->reserved[NL__REQ_SUBMIT] = NULL;
  o = nl__obs_of(loop);
  if (o != NULL)
    nl__obs_work_submit(o, (uv_req_t*) req, NL_WORK_FS);
  req->work_req.loop = loop;
  req->work_req.work = ring_waiting_mark;
  req->work_req.done = NULL;
  uv__queue_insert_tail(&r->waiting, &req->work_req.node);
  r->nwaiting++;
  return 1;
}

int uv__ring_fs_cancel(uv_fs_t* req) {
  struct nl__ring* r;
  void (*work)(struct uv__work*);

  /* A pool thread may be writing it (the pool's request, started): read
   * once, atomically. Only this thread sets the ring's marks. */
  work = __atomic_load_n(&req->work_req.work, __ATOMIC_RELAXED);
  if (work == ring_kernel_mark || work == ring_canceled_mark)
    return UV_EBUSY;
  if (work != ring_waiting_mark)
    return -1;
  r = req->loop->ring;
  uv__queue_remove(&req->work_req.node);
  uv__queue_insert_tail(&r->canceled, &req->work_req.node);
  req->work_req.work = ring_canceled_mark;
  req->result = UV_ECANCELED;
  /* Still counted as waiting: the next poll phase must not block before
   * it has run the callback. */
  return 0;
}

/* ---------------------------------------------------------------------
 * Submission entries.
 */
static void sqe_rw(struct io_uring_sqe* sqe, int op, int fd, const void* addr,
                   unsigned int len, int64_t off) {
  sqe->opcode = (unsigned char) op;
  sqe->fd = fd;
  sqe->addr = (uint64_t) (uintptr_t) addr;
  sqe->len = len;
  sqe->off = (uint64_t) off;   /* always explicit (ring_may_take) */
}

static void sqe_write(struct io_uring_sqe* sqe, uv_fs_t* req) {
  if (req->nbufs == 1)
    sqe_rw(sqe, IORING_OP_WRITE, req->file, req->bufs[0].base,
           (unsigned int) req->bufs[0].len, req->off);
  else
    sqe_rw(sqe, IORING_OP_WRITEV, req->file, req->bufs, req->nbufs,
           req->off);
}

static void sqe_fill(struct io_uring_sqe* sqe, struct ring_slot* s) {
  uv_fs_t* req = s->req;

  switch (req->fs_type) {
    case UV_FS_READ:
      if (req->nbufs == 1)
        sqe_rw(sqe, IORING_OP_READ, req->file, req->bufs[0].base,
               (unsigned int) (req->bufs[0].len > INT_MAX ? INT_MAX
                                                          : req->bufs[0].len),
               req->off);
      else
        sqe_rw(sqe, IORING_OP_READV, req->file, req->bufs, req->nbufs,
               req->off);
      /* Cached data is read inside io_uring_enter; anything else fails
       * with EAGAIN and goes to a worker (s->async). Without NOWAIT the
       * kernel would wait for the page itself and finish the read by task
       * work on the loop thread, which COOP_TASKRUN defers until the
       * thread's next system call: a loop asleep in epoll_wait would not
       * hear of it. */
      if (s->async)
        sqe->flags |= IOSQE_ASYNC;
      else
        sqe->rw_flags = RWF_NOWAIT;
      break;
    case UV_FS_WRITE:
      sqe_write(sqe, req);
      break;
    case UV_FS_FSYNC:
    case UV_FS_FDATASYNC:
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fd = req->file;
      if (req->fs_type == UV_FS_FDATASYNC)
        sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      break;
    case UV_FS_FTRUNCATE:
      sqe->opcode = NL_OP_FTRUNCATE;
      sqe->fd = req->file;
      sqe->off = (uint64_t) req->off;
      break;
    case UV_FS_CLOSE:
      sqe->opcode = IORING_OP_CLOSE;
      sqe->fd = req->file;
      break;
    case UV_FS_OPEN:
      sqe->opcode = IORING_OP_OPENAT;
      sqe->fd = AT_FDCWD;
      sqe->addr = (uint64_t) (uintptr_t) req->path;
      sqe->len = (unsigned int) req->mode;
      sqe->open_flags = (unsigned int) (req->flags | O_CLOEXEC);
      /* Straight to a kernel worker, which opens as open(2) does. The
       * kernel's usual first attempt, made without blocking, opens with
       * O_NONBLOCK for its duration: a FIFO would open for reading at
       * once and refuse writing with ENXIO, where open(2) waits for the
       * other end, and some devices likewise. The workers also open
       * several files at once; with 64 in flight that measured faster
       * than the attempt followed by an fstat to catch those cases. */
      sqe->flags |= IOSQE_ASYNC;
      break;
    case UV_FS_FSTAT:
      sqe->opcode = IORING_OP_STATX;
      sqe->fd = req->file;
      sqe->addr = (uint64_t) (uintptr_t) "";
      sqe->len = STATX_BASIC_STATS | STATX_BTIME;
      sqe->statx_flags = AT_EMPTY_PATH;
      sqe->addr2 = (uint64_t) (uintptr_t) &s->stx;
      break;
    default:
      abort();   /* ring_takes() admits only the types above */
  }
}

/* Writes the entry of the request in slot `i` (its fields set). */
static void ring_push(struct nl__ring* r, unsigned int i) {
  struct io_uring_sqe* sqe = &r->q.sqes[r->q.sq_tail & r->q.sq_mask];

  memset(sqe, 0, sizeof(*sqe));
  sqe_fill(sqe, &r->slots[i]);
  sqe->user_data = i;
  r->q.sq_tail++;
}

/* Moves waiting requests into free slots and submission entries. */
static void ring_fill(struct nl__ring* r) {
  struct uv__queue* q;
  struct ring_slot* s;
  uv_fs_t* req;
  unsigned int i;

  while (r->nfree > 0 && !uv__queue_empty(&r->waiting)) {
    q = uv__queue_head(&r->waiting);
    uv__queue_remove(q);
    req = uv__container_of(q, uv_fs_t, work_req.node);
    req->work_req.work = ring_kernel_mark;
    r->nwaiting--;

    i = r->free_slots[--r->nfree];
    s = &r->slots[i];
    s->req = req;
    s->start = 0;
    s->async = 0;
    s->done = 0;
    if (req->reserved[NL__REQ_SUBMIT] != NULL)   /* observed */
      s->start = nl__obs_work_begin((uv_req_t*) req);
    r->inflight++;
    ring_push(r, i);
  }
}


/* Hands the written entries to the kernel. If it refuses them (EAGAIN or
 * ENOMEM: short of memory; EPERM and the like: a seccomp filter that
 * allows io_uring_setup but not io_uring_enter), they go to the pool, and
 * after a refusal that will not pass, so does everything else. */
static void ring_submit(uv_loop_t* loop, struct nl__ring* r) {
  struct io_uring_sqe* sqe;
  unsigned int head, i, done;
  uv_fs_t* req;
  int rc;
  int err;

  __atomic_store_n(r->q.sq_ktail, r->q.sq_tail, __ATOMIC_RELEASE);
  for (;;) {
    head = __atomic_load_n(r->q.sq_khead, __ATOMIC_ACQUIRE);
    if (head == r->q.sq_tail)
      return;
    rc = uv__ring_enter(r->fd, r->q.sq_tail - head, 0, 0);
    if (rc > 0 || (rc < 0 && errno == EINTR))
      continue;
    err = rc == 0 ? EAGAIN : errno;
    break;
  }
  if (err == EPERM || err == ENOSYS)
    atomic_store(&uv__ring_refused, 1);   /* seccomp: for every loop */
  if (err != EAGAIN && err != ENOMEM && err != EBUSY)
    r->broken = 1;
  /* The kernel has not looked at these entries: take them back. */
  __atomic_store_n(r->q.sq_ktail, head, __ATOMIC_RELEASE);
  for (; head != r->q.sq_tail; head++) {
    sqe = &r->q.sqes[head & r->q.sq_mask];
    i = (unsigned int) sqe->user_data;
    req = r->slots[i].req;
    done = r->slots[i].done;
    ring_slot_free(r, i);
    if (done == 0) {
      ring_to_pool(loop, r, req);
      continue;
    }
    /* The rest of a read whose first try stopped short: what was read
     * is its result, a short read (the pool would lose count of it). */
    if (r->slots[i].start != 0)
      nl__obs_work_end((uv_req_t*) req, NL_WORK_FS, r->slots[i].start,
                       (int) i);
    req->off -= done;
    req->result = (ssize_t) done;
    req->work_req.work = ring_canceled_mark;
    uv__queue_insert_tail(&r->canceled, &req->work_req.node);
    r->nwaiting++;
  }
  r->q.sq_tail = *r->q.sq_ktail;
}

/* ---------------------------------------------------------------------
 * Completions.
 */
static void ring_complete(uv_loop_t* loop, uv_fs_t* req) {
  struct nl__obs* o;

  if (req->reserved[NL__REQ_SUBMIT] != NULL) {
    o = nl__obs_of(loop);
    if (o != NULL)
      nl__obs_work_done(o, (uv_req_t*) req, NL_WORK_FS);
    req->reserved[NL__REQ_SUBMIT] = NULL;
  }
  req->work_req.work = NULL;
  if (req->bufs != NULL && req->bufs != req->bufsml)
    uv__free(req->bufs);
  req->bufs = NULL;
  req->nbufs = 0;   /* as libuv leaves it */
  uv__req_unregister(loop, req);
  loop->spin.events++;   /* as a pool completion would (async.c) */
  uv__dispatch_fs(req);
}

/* Gives a request the ring took to the pool instead (it is registered
 * with the loop by the ring; the pool registers it again). A pool that
 * cannot start fails it with the error, in the next poll phase. */
static void ring_to_pool(uv_loop_t* loop, struct nl__ring* r, uv_fs_t* req) {
  struct nl__obs* o;
  int err;

  /* Observed: the pool counts it as submitted again, so it ends here
   * as one that never ran (else it would look in flight for good). */
  o = nl__obs_of(loop);
  if (o != NULL && req->reserved[NL__REQ_SUBMIT] != NULL) {
    req->reserved[NL__REQ_START] = NULL;
    nl__obs_work_done(o, (uv_req_t*) req, NL_WORK_FS);
  }
  uv__req_unregister(loop, req);
  req->work_req.work = NULL;
  req->reserved[NL__REQ_SUBMIT] = NULL;
  err = uv__fs_pool_submit(loop, req);
  if (err == 0)
    return;
  uv__req_register(loop, req);
  req->result = err;
  req->work_req.work = ring_canceled_mark;
  uv__queue_insert_tail(&r->canceled, &req->work_req.node);
  r->nwaiting++;
}

/* Runs the callbacks of finished requests; returns how many ran. */
static int ring_reap(uv_loop_t* loop, struct nl__ring* r) {
  struct io_uring_cqe* cqe;
  struct ring_slot* s;
  unsigned int head, tail, i;
  uv_fs_t* req;
  int res;
  int ran = 0;

  for (;;) {
    head = *r->q.cq_khead;
    tail = __atomic_load_n(r->q.cq_ktail, __ATOMIC_ACQUIRE);
    if (head == tail)
      break;
    cqe = &r->q.cqes[head & r->q.cq_mask];
    i = (unsigned int) cqe->user_data;
    res = cqe->res;
    __atomic_store_n(r->q.cq_khead, head + 1, __ATOMIC_RELEASE);
    s = &r->slots[i];
    req = s->req;
    if (req->fs_type == UV_FS_READ) {
      if (ring_read_on(loop, r, i, &res))
        continue;
    } else if (ring_interrupted(res)) {
      /* A close that started is done whatever its result (the
       * descriptor is gone), as close(2) says EINTR. */
      if (req->fs_type == UV_FS_CLOSE && res != -ECANCELED) {
        res = -EINTR;
      } else {
        ring_slot_free(r, i);
        ring_to_pool(loop, r, req);
        continue;
      }
    }
    ring_slot_free(r, i);
    req->result = res;
    if (res == 0 && req->fs_type == UV_FS_FSTAT) {
      uv__fs_stat_from_statx(&req->statbuf, &s->stx);
      req->ptr = &req->statbuf;
    }
    if (s->start != 0)
      nl__obs_work_end((uv_req_t*) req, NL_WORK_FS, s->start, (int) i);
    ring_complete(loop, req);
    ran++;
  }
  return ran;
}

static int ring_run_canceled(uv_loop_t* loop, struct nl__ring* r) {
  struct uv__queue* q;
  uv_fs_t* req;
  int ran = 0;

  while (!uv__queue_empty(&r->canceled)) {
    q = uv__queue_head(&r->canceled);
    uv__queue_remove(q);
    r->nwaiting--;
    req = uv__container_of(q, uv_fs_t, work_req.node);
    ring_complete(loop, req);   /* UV_ECANCELED, an error, a short count */
    ran++;
  }
  return ran;
}

/* Rounds of submit-and-reap per poll phase: callbacks that queue more
 * requests (open, then read, then close) see them through in one phase,
 * a bounded number of times so the rest of the loop is not starved. */
#define RING_ROUNDS 8

static int ring_cycle(uv_loop_t* loop, struct nl__ring* r) {
  struct uv__queue* q;
  int ran = 0;
  int round;
  int n;

  if (r->fd < 0)   /* after a fork without a ring of its own */
    return ring_run_canceled(loop, r);
  for (round = 0; round < RING_ROUNDS; round++) {
    n = ring_run_canceled(loop, r);
    while (r->broken && !uv__queue_empty(&r->waiting)) {
      q = uv__queue_head(&r->waiting);
      uv__queue_remove(q);
      r->nwaiting--;
      ring_to_pool(loop, r, uv__container_of(q, uv_fs_t, work_req.node));
    }
    ring_fill(r);
    if (r->q.sq_tail != __atomic_load_n(r->q.sq_khead, __ATOMIC_ACQUIRE))
      ring_submit(loop, r);
    n += ring_reap(loop, r);
    ran += n;
    /* Done unless a callback queued more, or a read went back to the
     * kernel for a worker (not submitted yet). */
    if (n == 0 && r->q.sq_tail == *r->q.sq_ktail)
      break;
  }
  /* Entries written in the last round go now, not a poll later. */
  if (r->q.sq_tail != *r->q.sq_ktail)
    ring_submit(loop, r);
  /* Wake up for what the kernel still holds. */
  if (r->inflight > 0)
    uv__io_start(loop, &r->watcher, UV__POLLIN);
  else
    uv__io_stop(loop, &r->watcher, UV__POLLIN);
  return ran;
}

int uv__ring_ready(const uv_loop_t* loop) {
  const struct nl__ring* r = loop->ring;

  return r != NULL && (!uv__queue_empty(&r->canceled) ||
         (!uv__queue_empty(&r->waiting) && (r->nfree > 0 || r->broken)));
}

int uv__ring_fd(const uv_loop_t* loop) {
  return loop->ring != NULL ? loop->ring->fd : -1;
}

int uv__ring_flush(uv_loop_t* loop) {
  struct nl__ring* r = loop->ring;

  if (r == NULL || (r->nwaiting == 0 && r->inflight == 0))
    return 0;
  return ring_cycle(loop, r) > 0;
}

static void ring_io(uv_loop_t* loop, uv__io_t* w, unsigned int events) {
  (void) w;
  (void) events;
  if (loop->ring != NULL)
    ring_cycle(loop, loop->ring);
}

/* ---------------------------------------------------------------------
 * Teardown. uv_loop_close() refuses while requests are active, so the
 * ring is idle here.
 */
void uv__ring_close(uv_loop_t* loop) {
  struct nl__ring* r = loop->ring;

  if (r == NULL)
    return;
  uv__io_close(loop, &r->watcher);
  loop->ring = NULL;
  ring_close_kernel(r);
  uv__free(r);
}

/* The child shares the parent's ring (the same kernel queues) and must
 * never touch it. Requests the parent's kernel queues hold end with
 * UV_ECANCELED, since their completions go to the parent; waiting ones
 * go to a ring of the child's own, or end the same way without one. The
 * callbacks run in the next poll phase. */
void uv__ring_fork(uv_loop_t* loop) {
  struct nl__ring* r = loop->ring;
  struct uv__queue* q;
  unsigned int i;
  uv_fs_t* req;

  if (r == NULL)
    return;
  /* The epoll instance is still the parent's too: forget the watcher
   * without deregistering it there (the new poller starts empty). */
  r->watcher.armed = 0;
  uv__io_close(loop, &r->watcher);
  ring_close_kernel(r);
  for (i = 0; i < RING_ENTRIES; i++) {
    req = r->slots[i].req;
    if (req == NULL)
      continue;
    ring_slot_free(r, i);
    req->work_req.work = ring_canceled_mark;
    req->result = UV_ECANCELED;
    if (r->slots[i].done != 0) {   /* a read partly done: what it read */
      req->off -= r->slots[i].done;
      req->result = (ssize_t) r->slots[i].done;
    }
    uv__queue_insert_tail(&r->canceled, &req->work_req.node);
    r->nwaiting++;
  }
  if (ring_open_kernel(r) == 0)
    return;
  /* No ring: later requests use the pool (ring_takes sees fd -1). */
  while (!uv__queue_empty(&r->waiting)) {
    q = uv__queue_head(&r->waiting);
    uv__queue_remove(q);
    req = uv__container_of(q, uv_fs_t, work_req.node);
    req->work_req.work = ring_canceled_mark;
    req->result = UV_ECANCELED;
    uv__queue_insert_tail(&r->canceled, q);
  }
}
