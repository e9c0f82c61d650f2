/* Between the two halves of the trace writer: the record path (trace.c),
 * run by every traced thread, and the background writer thread
 * (trace_writer.c), which formats the records and writes the file.
 */
#ifndef NL_TRACE_H_
#define NL_TRACE_H_

#include "internal.h"
#include "observe.h"

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

enum {
  NL__REC_THREAD = 1,   /* a track's name */
  NL__REC_ITER,         /* an iteration, and the loop's counters at its end */
  NL__REC_PHASE,
  NL__REC_WAIT,
  NL__REC_CB,
  NL__REC_SUBMIT,       /* a pool item leaves the loop */
  NL__REC_WORK          /* a pool item run on a worker */
};

/* One event, as the hot path leaves it: no text, only numbers and
 * pointers to static names. */
struct nl__trace_rec {
  uint32_t type;
  uint32_t arg;         /* phase, NL_WORK_* kind, or worker number */
  uint64_t t0;          /* ns; THREAD: 1 for the default loop */
  uint64_t t1;
  uintptr_t loop;
  union {
    struct {
      uintptr_t fn;
      uintptr_t flow;   /* pool item this callback completes, or 0 */
      const char* name;
    } cb;
    struct {
      uint64_t n;
      uint32_t handles;
      uint32_t reqs;
      uint32_t queue;
    } it;
    struct {
      uintptr_t req;
      const char* name;
      uint64_t submit;  /* ns */
    } work;
    char name[24];      /* THREAD: pthread_getname_np of a loop thread */
  } u;
};

#define NL__TRACE_BUF_RECS 2048
/* Buffers beyond one per thread, when the writer falls behind. */
#define NL__TRACE_SPARE_BUFS 64

struct nl__trace_buf {
  struct nl__trace_buf* next;
  int tid;
  unsigned int n;       /* records published: the owner stores, release */
  unsigned int done;    /* records written out: the writer's only */
  struct nl__trace_rec recs[NL__TRACE_BUF_RECS];
};

/* A thread that records. Lives until the writer sees it dead. */
struct nl__trace_thread {
  struct nl__trace_thread* next;
  struct nl__trace_buf* cur;   /* changed by the owner under the mutex */
  int tid;
  int worker;                  /* n of "nodeloop worker n", 0 for loops */
  int dead;
};

enum {
  NL__TRACE_OFF,
  NL__TRACE_ON,
  NL__TRACE_FINISHED,          /* the final flush is done */
  NL__TRACE_FORKED             /* a child of fork(): never traced */
};

struct nl__trace {
  int state;                   /* NL__TRACE_*, atomic */
  int err;                     /* why tracing did not start */
  pid_t pid;
  int fd;
  int wake_fd;                 /* eventfd: wakes the writer */
  int done_pipe[2];            /* readable once the final flush is done */
  int final_req;               /* atomic */
  uint64_t dropped;            /* atomic */
  char comm[64];
  struct sigaction old_int;
  struct sigaction old_term;
  /* Held only for list operations, never while formatting or writing. */
  pthread_mutex_t mutex;
  struct nl__trace_buf* full_head;
  struct nl__trace_buf** full_tail;
  struct nl__trace_buf* free_list;
  struct nl__trace_thread* threads;
  unsigned int nbufs;
  unsigned int nthreads;
  int nworkers;
};

extern struct nl__trace nl__trace_g;

/* trace_writer.c: writes the file's head (0 or -1 with errno), then runs
 * the writer thread. */
int nl__trace_writer_begin(void);
void* nl__trace_writer_main(void* arg);

#endif /* NL_TRACE_H_ */
