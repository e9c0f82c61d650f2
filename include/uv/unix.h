/* nodeloop: POSIX types behind the libuv API, and the private building
 * blocks that public structures embed (queues, I/O watchers, pool items).
 *
 * Nothing declared with a uv__ prefix here is API: programs must not touch
 * it. It is in a public header only because callers own the memory of
 * handles and requests, so the compiler must know their full size.
 */
#ifndef UV_UNIX_H_
#define UV_UNIX_H_

#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <dirent.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>

/* <netdb.h> defines these only with _DEFAULT_SOURCE; a program built with
 * a strict _POSIX_C_SOURCE still needs them for uv_getnameinfo_t. The
 * values are glibc's (the ABI depends on them). */
#ifndef NI_MAXHOST
# define NI_MAXHOST 1025
#endif
#ifndef NI_MAXSERV
# define NI_MAXSERV 32
#endif

#include <termios.h>
#include <pwd.h>
#include <semaphore.h>
#include <pthread.h>
#include <signal.h>

/* A node of an intrusive, circular, doubly linked list. The same type serves
 * as list head and as element link; an empty head points to itself. Its
 * layout is that of libuv's `void* [2]` queue fields.
 */
struct uv__queue {
  struct uv__queue* next;
  struct uv__queue* prev;
};

#include "uv/threadpool.h"
#include "uv/linux.h"

struct uv_loop_s;
struct uv__io_s;

typedef void (*uv__io_cb)(struct uv_loop_s* loop,
                          struct uv__io_s* w,
                          unsigned int events);

/* A file descriptor watched by the loop's poller. `wanted` is the interest
 * the owner asked for; `armed` is what the kernel currently has, so changes
 * are batched and applied once per poll.
 */
typedef struct uv__io_s {
  uv__io_cb cb;
  struct uv__queue pending_node;
  struct uv__queue change_node;
  unsigned int wanted;
  unsigned int armed;
  int fd;
  unsigned int fed_events;  /* events for a callback run by the pending phase */
} uv__io_t;

/* How a loop judges spinning before it sleeps (src/async.c). */
struct uv__spin {
  uint64_t hold_until;    /* loop time (ms) to judge the decision again */
  uint64_t round_start;   /* uv__hrtime_ns() when the sampling round began */
  uint64_t block_start;   /* ... when the measured part of a block began */
  uint64_t ns[2];         /* measured part of a block, without / with spin */
  uint64_t events;        /* callbacks the spin could have waited for */
  uint64_t events_mark;   /* `events` when the measured part began */
  uint64_t done[2];       /* callbacks in it, without / with spin */
  uint32_t budget_us;     /* NODELOOP_SPIN_US; 0: never spin */
  uint32_t waits;         /* waits in the current sampling block */
  uint32_t hold_factor;   /* hold = this many times the sampling time */
  uint64_t left_at;       /* uv_run() returned amid a sampling round, or 0 */
  unsigned char timed;    /* the current wait counts for the sampling */
  unsigned char block;    /* 0 holding, 1 or 2: sampling block */
  unsigned char spin;     /* spin before the next wait */
  unsigned char chosen;   /* the last decision */
  unsigned char first;    /* the kind the next round samples first */
  unsigned char pool;     /* `spin`, for the pool's threads (atomic) */
  uint16_t runs;          /* uv_run() calls in progress (nested ones too) */
};

typedef struct uv_buf_t {
  char* base;
  size_t len;
} uv_buf_t;

typedef int uv_file;
typedef int uv_os_sock_t;
typedef int uv_os_fd_t;
typedef pid_t uv_pid_t;
typedef gid_t uv_gid_t;
typedef uid_t uv_uid_t;

#define UV_ONCE_INIT PTHREAD_ONCE_INIT

typedef pthread_once_t uv_once_t;
typedef pthread_t uv_thread_t;
typedef pthread_mutex_t uv_mutex_t;
typedef pthread_rwlock_t uv_rwlock_t;
typedef sem_t uv_sem_t;
typedef pthread_cond_t uv_cond_t;
typedef pthread_key_t uv_key_t;
typedef pthread_barrier_t uv_barrier_t;

typedef struct dirent uv__dirent_t;

typedef struct {
  void* handle;
  char* errmsg;
} uv_lib_t;

/* Linux reports entry types in struct dirent; programs (libuv's tests
 * among them) look for this macro before they expect real types. */
#define HAVE_DIRENT_TYPES

/* dirent d_type values (fixed by the Linux ABI). */
#define UV__DT_FIFO   1
#define UV__DT_CHAR   2
#define UV__DT_DIR    4
#define UV__DT_BLOCK  6
#define UV__DT_FILE   8
#define UV__DT_LINK   10
#define UV__DT_SOCKET 12

/* open(2) flags for uv_fs_open(). The values are spelled out rather than
 * taken from <fcntl.h> so that they do not depend on the feature macros of
 * the program that includes this header: the ABI must be one thing.
 */
#define UV_FS_O_APPEND      02000
#define UV_FS_O_CREAT       0100
#define UV_FS_O_DIRECT      040000
#define UV_FS_O_DIRECTORY   0200000
#define UV_FS_O_DSYNC       010000
#define UV_FS_O_EXCL        0200
#define UV_FS_O_EXLOCK      0
#define UV_FS_O_NOATIME     0
#define UV_FS_O_NOCTTY      0400
#define UV_FS_O_NOFOLLOW    0400000
#define UV_FS_O_NONBLOCK    04000
#define UV_FS_O_RDONLY      00
#define UV_FS_O_RDWR        02
#define UV_FS_O_SYMLINK     0
#define UV_FS_O_SYNC        04010000
#define UV_FS_O_TRUNC       01000
#define UV_FS_O_WRONLY      01

/* Windows-only hints, accepted and ignored. */
#define UV_FS_O_FILEMAP     0
#define UV_FS_O_RANDOM      0
#define UV_FS_O_SHORT_LIVED 0
#define UV_FS_O_SEQUENTIAL  0
#define UV_FS_O_TEMPORARY   0

#endif /* UV_UNIX_H_ */
