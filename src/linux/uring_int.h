/* What src/linux/uring.c shares with the ring's poller
 * (src/linux/uring_poll.c): the ring itself and how to reach the kernel.
 */
#ifndef NL_URING_INT_H_
#define NL_URING_INT_H_

#include "internal.h"

#include <linux/io_uring.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>

/* Opcodes newer than the system's header. */
#define NL_OP_FTRUNCATE 55          /* Linux 6.9 */
#define NL_NOPS 64

#define RING_ENTRIES 128

/* What a request in the kernel needs beyond its uv_fs_t. */
struct ring_slot {
  uv_fs_t* req;
  uint64_t start;                   /* observed: when the kernel took it */
  int async;                        /* a read sent again to a worker */
  unsigned int done;                /* bytes its first try read */
  struct statx stx;                 /* fstat's result */
};

/* A ring's two queues as the kernel maps them (uv__ring_map). */
struct nl__ring_queues {
  unsigned int sq_mask;
  unsigned int cq_mask;
  unsigned int* sq_ktail;
  unsigned int* sq_khead;
  unsigned int* sq_kflags;
  unsigned int* cq_khead;
  unsigned int* cq_ktail;
  struct io_uring_sqe* sqes;
  struct io_uring_cqe* cqes;
  void* ring_map;
  size_t ring_len;
  size_t sqe_len;
  unsigned int sq_tail;             /* entries written, submitted or not */
};

/* Maps the queues of ring fd, made with p (IORING_FEAT_SINGLE_MMAP
 * needed); entry i of the submission array names SQE i for good. 0, or
 * -1 with nothing left mapped. */
int uv__ring_map(int fd, const struct io_uring_params* p,
                 struct nl__ring_queues* q);
void uv__ring_unmap(struct nl__ring_queues* q);

struct nl__ring {
  unsigned int nwaiting;            /* on waiting or canceled */
  int fd;
  struct nl__ring_queues q;
  unsigned int inflight;            /* in the kernel (slots in use) */
  unsigned int nfree;
  struct uv__queue waiting;         /* requests not yet in the ring */
  struct uv__queue canceled;        /* their callbacks are due */
  uv__io_t watcher;                 /* the ring's descriptor */
  int broken;                       /* io_uring_enter refused: pool only */
  int poll_broken;                  /* the poller must not use the ring */
  unsigned char ops[NL_NOPS];       /* opcodes the kernel supports */
  unsigned int free_slots[RING_ENTRIES];
  struct ring_slot slots[RING_ENTRIES];
};

/* Set when the kernel refuses io_uring to the whole process (ENOSYS,
 * EPERM from seccomp or kernel.io_uring_disabled, a kernel too old). */
extern atomic_int uv__ring_refused;

/* NODELOOP_IO_URING: -1 for "0" (no ring), 2 for "all", 1 otherwise. */
int uv__ring_mode(void);

/* The loop's ring, made on first use (fd -1 if the kernel refused one). */
struct nl__ring* uv__ring_get(uv_loop_t* loop);

int uv__ring_setup(unsigned int entries, struct io_uring_params* p);
int uv__ring_enter(int fd, unsigned int to_submit, unsigned int min,
                   unsigned int flags);
int uv__ring_wait(const struct nl__ring_queues* q, int fd,
                  unsigned int to_submit, unsigned int min, int timeout,
                  const sigset_t* mask);

#endif /* NL_URING_INT_H_ */
