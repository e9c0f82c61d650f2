/* Threads and synchronisation primitives: thin wrappers over POSIX threads
 * that validate their arguments and turn pthread error numbers into UV_E*
 * codes. */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* pthread functions return their error number instead of setting errno;
 * on Linux the UV_E* code is its negation. */
static inline int uv__pthread_err(int err) {
  return -err;
}

/* Failures of the void functions below mean the object is corrupt, was
 * never initialised, or is used against its contract (unlocking a lock the
 * thread does not hold, destroying one that is held). There is no way to
 * report it and carrying on would corrupt state silently, so abort(). */
static void uv__thread_check(int err) {
  if (err != 0)
    abort();
}

/* ---------------------------------------------------------------------
 * Threads.
 */

/* The thread's entry point and argument, handed to the trampoline in an
 * allocation the new thread frees, with the free function of the
 * allocator that made it: the global one may be replaced meanwhile, and
 * reading it would race with uv_replace_allocator(). If the allocator set by
 * uv_replace_allocator fails, they go on the creating thread's stack
 * instead, and the creator waits until the new thread has copied them:
 * that costs it a sleep and a wakeup (libuv's thread_create benchmark ran
 * 7 % slower when every creation did so), but uv_thread_create, and with
 * it the worker pool, works whatever the allocator does. */
struct uv__thread_start {
  uv_thread_cb entry;
  void* arg;
  uv_free_func free_fn;   /* how to free it; NULL: on the creator's stack */
  sem_t copied;           /* on the stack: posted once copied */
};

/* uv_thread_cb returns void while pthread wants void* (*)(void*); calling
 * through a cast function pointer of another type is undefined, hence this
 * trampoline. */
static void* uv__thread_trampoline(void* data) {
  struct uv__thread_start* start = data;
  uv_thread_cb entry = start->entry;
  void* arg = start->arg;

  /* `start` may be gone as soon as the creator sees this post: POSIX lets
   * a semaphore be destroyed once no thread is blocked on it. */
  if (start->free_fn != NULL)
    start->free_fn(start);
  else
    sem_post(&start->copied);
  entry(arg);
  return NULL;
}

static size_t uv__page_size(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t) n : 4096;
}

/* Rounds size up to a whole number of pages, and to at least the smallest
 * stack the C library accepts (pthread_attr_setstacksize rejects less). */
static size_t uv__thread_stack_round(size_t size) {
  size_t page = uv__page_size();
  size_t min = (size_t) PTHREAD_STACK_MIN;

  if (size < min)
    size = min;
  if (size > SIZE_MAX - page)
    return SIZE_MAX - SIZE_MAX % page;
  return (size + page - 1) / page * page;
}

/* The default stack of a new thread is as large as the main thread's may
 * grow: the soft RLIMIT_STACK, read at each creation so that a limit set
 * after start-up counts. Without a limit, 2 MiB, glibc's own default for
 * that case. Setting it explicitly keeps the size the same whatever the C
 * library or a sanitizer runtime would otherwise pick. */
static size_t uv__thread_default_stack(void) {
  struct rlimit lim;

  if (getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY ||
      lim.rlim_cur > SIZE_MAX)
    return 2u << 20;
  return (size_t) lim.rlim_cur;
}

int uv_thread_create(uv_thread_t* tid, uv_thread_cb entry, void* arg) {
  return uv_thread_create_ex(tid, NULL, entry, arg);
}

int uv_thread_create_ex(uv_thread_t* tid,
                        const uv_thread_options_t* params,
                        uv_thread_cb entry,
                        void* arg) {
  struct uv__thread_start local;
  struct uv__thread_start* start;
  uv_free_func free_fn;
  pthread_attr_t attr;
  size_t stack_size;
  int allocated;
  int err;

  if (tid == NULL || entry == NULL)
    return UV_EINVAL;
  stack_size = 0;
  if (params != NULL) {
    if (params->flags & ~(unsigned int) UV_THREAD_HAS_STACK_SIZE)
      return UV_EINVAL;
    if (params->flags & UV_THREAD_HAS_STACK_SIZE)
      stack_size = params->stack_size;
  }
  /* A size of 0 means the default, as if the flag were not set. */
  if (stack_size == 0)
    stack_size = uv__thread_default_stack();
  stack_size = uv__thread_stack_round(stack_size);

  free_fn = uv__free_func();
  start = uv__malloc(sizeof(*start));
  allocated = start != NULL;
  if (allocated) {
    start->free_fn = free_fn;
  } else {
    start = &local;
    start->free_fn = NULL;
    if (sem_init(&start->copied, 0, 0) != 0)
      return uv__neg_errno();
  }
  start->entry = entry;
  start->arg = arg;

  err = pthread_attr_init(&attr);
  if (err == 0) {
    err = pthread_attr_setstacksize(&attr, stack_size);
    if (err == 0)
      err = pthread_create(tid, &attr, uv__thread_trampoline, start);
    pthread_attr_destroy(&attr);
  }
  /* Once created, the new thread owns an allocated `start`. */
  if (allocated) {
    if (err != 0)
      free_fn(start);
    return uv__pthread_err(err);
  }
  if (err == 0)
    while (sem_wait(&start->copied) != 0 && errno == EINTR)
      continue;
  sem_destroy(&start->copied);
  return uv__pthread_err(err);
}

uv_thread_t uv_thread_self(void) {
  return pthread_self();
}

int uv_thread_join(uv_thread_t* tid) {
  if (tid == NULL)
    return UV_EINVAL;
  return uv__pthread_err(pthread_join(*tid, NULL));
}

/* A predicate, not a status: a missing thread equals nothing, so NULL gives
 * 0 ("different") rather than a negative code a caller would read as true. */
int uv_thread_equal(const uv_thread_t* t1, const uv_thread_t* t2) {
  if (t1 == NULL || t2 == NULL)
    return 0;
  return pthread_equal(*t1, *t2) != 0;
}

/* ---------------------------------------------------------------------
 * Mutexes.
 */

int uv_mutex_init(uv_mutex_t* mutex) {
  if (mutex == NULL)
    return UV_EINVAL;
  return uv__pthread_err(pthread_mutex_init(mutex, NULL));
}

int uv_mutex_init_recursive(uv_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  int err;

  if (mutex == NULL)
    return UV_EINVAL;
  err = pthread_mutexattr_init(&attr);
  if (err != 0)
    return uv__pthread_err(err);
  err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  if (err == 0)
    err = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return uv__pthread_err(err);
}

void uv_mutex_destroy(uv_mutex_t* mutex) {
  if (mutex != NULL)
    uv__thread_check(pthread_mutex_destroy(mutex));
}

void uv_mutex_lock(uv_mutex_t* mutex) {
  if (mutex != NULL)
    uv__thread_check(pthread_mutex_lock(mutex));
}

int uv_mutex_trylock(uv_mutex_t* mutex) {
  int err;

  if (mutex == NULL)
    return UV_EINVAL;
  err = pthread_mutex_trylock(mutex);
  /* EAGAIN: a recursive mutex's lock count would overflow; to the caller
   * that is the same as "cannot take it now". */
  if (err == EBUSY || err == EAGAIN)
    return UV_EBUSY;
  return uv__pthread_err(err);
}

void uv_mutex_unlock(uv_mutex_t* mutex) {
  if (mutex != NULL)
    uv__thread_check(pthread_mutex_unlock(mutex));
}

/* ---------------------------------------------------------------------
 * Read-write locks.
 */

int uv_rwlock_init(uv_rwlock_t* rwlock) {
  if (rwlock == NULL)
    return UV_EINVAL;
  return uv__pthread_err(pthread_rwlock_init(rwlock, NULL));
}

void uv_rwlock_destroy(uv_rwlock_t* rwlock) {
  if (rwlock != NULL)
    uv__thread_check(pthread_rwlock_destroy(rwlock));
}

void uv_rwlock_rdlock(uv_rwlock_t* rwlock) {
  if (rwlock != NULL)
    uv__thread_check(pthread_rwlock_rdlock(rwlock));
}

int uv_rwlock_tryrdlock(uv_rwlock_t* rwlock) {
  int err;

  if (rwlock == NULL)
    return UV_EINVAL;
  err = pthread_rwlock_tryrdlock(rwlock);
  /* EAGAIN: the maximum number of readers is reached. */
  if (err == EBUSY || err == EAGAIN)
    return UV_EBUSY;
  return uv__pthread_err(err);
}

void uv_rwlock_rdunlock(uv_rwlock_t* rwlock) {
  if (rwlock != NULL)
    uv__thread_check(pthread_rwlock_unlock(rwlock));
}

void uv_rwlock_wrlock(uv_rwlock_t* rwlock) {
  if (rwlock != NULL)
    uv__thread_check(pthread_rwlock_wrlock(rwlock));
}

int uv_rwlock_trywrlock(uv_rwlock_t* rwlock) {
  int err;

  if (rwlock == NULL)
    return UV_EINVAL;
  err = pthread_rwlock_trywrlock(rwlock);
  if (err == EBUSY || err == EAGAIN)
    return UV_EBUSY;
  return uv__pthread_err(err);
}

void uv_rwlock_wrunlock(uv_rwlock_t* rwlock) {
  if (rwlock != NULL)
    uv__thread_check(pthread_rwlock_unlock(rwlock));
}

/* ---------------------------------------------------------------------
 * Semaphores. Unlike the pthread functions, these report through errno.
 */

int uv_sem_init(uv_sem_t* sem, unsigned int value) {
  if (sem == NULL)
    return UV_EINVAL;
  /* Not shared between processes; value > SEM_VALUE_MAX fails EINVAL. */
  if (sem_init(sem, 0, value) != 0)
    return uv__neg_errno();
  return 0;
}

void uv_sem_destroy(uv_sem_t* sem) {
  if (sem != NULL && sem_destroy(sem) != 0)
    abort(); /* Not a semaphore: memory corruption or misuse. */
}

void uv_sem_post(uv_sem_t* sem) {
  /* EOVERFLOW (more than SEM_VALUE_MAX posts) cannot be reported. */
  if (sem != NULL && sem_post(sem) != 0)
    abort();
}

void uv_sem_wait(uv_sem_t* sem) {
  int r;

  if (sem == NULL)
    return;
  /* A signal handler interrupts sem_wait even with SA_RESTART. */
  do
    r = sem_wait(sem);
  while (r != 0 && errno == EINTR);
  if (r != 0)
    abort();
}

int uv_sem_trywait(uv_sem_t* sem) {
  int r;

  if (sem == NULL)
    return UV_EINVAL;
  do
    r = sem_trywait(sem);
  while (r != 0 && errno == EINTR);
  if (r != 0)
    return uv__neg_errno(); /* UV_EAGAIN when the count is zero */
  return 0;
}

/* time_t is a signed integer of 32 or 64 bits. */
#define UV__TIME_T_MAX \
  ((time_t) (((uint64_t) 1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))

/* ---------------------------------------------------------------------
 * Condition variables. They wait on CLOCK_MONOTONIC so that a change of
 * the wall clock neither shortens nor stretches a timed wait.
 */

int uv_cond_init(uv_cond_t* cond) {
  pthread_condattr_t attr;
  int err;

  if (cond == NULL)
    return UV_EINVAL;
  err = pthread_condattr_init(&attr);
  if (err != 0)
    return uv__pthread_err(err);
  err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (err == 0)
    err = pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
  return uv__pthread_err(err);
}

void uv_cond_destroy(uv_cond_t* cond) {
  if (cond != NULL)
    uv__thread_check(pthread_cond_destroy(cond));
}

void uv_cond_signal(uv_cond_t* cond) {
  if (cond != NULL)
    uv__thread_check(pthread_cond_signal(cond));
}

void uv_cond_broadcast(uv_cond_t* cond) {
  if (cond != NULL)
    uv__thread_check(pthread_cond_broadcast(cond));
}

void uv_cond_wait(uv_cond_t* cond, uv_mutex_t* mutex) {
  if (cond != NULL && mutex != NULL)
    uv__thread_check(pthread_cond_wait(cond, mutex));
}

int uv_cond_timedwait(uv_cond_t* cond, uv_mutex_t* mutex, uint64_t timeout) {
  struct timespec ts;
  uint64_t sec;
  long nsec;
  int err;

  if (cond == NULL || mutex == NULL)
    return UV_EINVAL;
  /* timeout is relative, in nanoseconds; the wait wants an absolute time
   * on the condition's clock. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  sec = timeout / 1000000000u;
  nsec = ts.tv_nsec + (long) (timeout % 1000000000u);
  if (nsec >= 1000000000L) {
    nsec -= 1000000000L;
    sec++;
  }
  /* Saturate: a timeout beyond the range of time_t is simply forever. */
  if (sec > (uint64_t) (UV__TIME_T_MAX - ts.tv_sec)) {
    ts.tv_sec = UV__TIME_T_MAX;
    ts.tv_nsec = 999999999L;
  } else {
    ts.tv_sec += (time_t) sec;
    ts.tv_nsec = nsec;
  }
  err = pthread_cond_timedwait(cond, mutex, &ts);
  if (err == ETIMEDOUT)
    return UV_ETIMEDOUT;
  return uv__pthread_err(err);
}

/* ---------------------------------------------------------------------
 * Barriers.
 */

int uv_barrier_init(uv_barrier_t* barrier, unsigned int count) {
  if (barrier == NULL)
    return UV_EINVAL;
  /* count 0 fails EINVAL in pthread_barrier_init. */
  return uv__pthread_err(pthread_barrier_init(barrier, NULL, count));
}

void uv_barrier_destroy(uv_barrier_t* barrier) {
  if (barrier != NULL)
    uv__thread_check(pthread_barrier_destroy(barrier));
}

/* The serial thread gets 1, the others 0. glibc's pthread_barrier_destroy
 * waits until every thread has left pthread_barrier_wait, which is what
 * makes "if (uv_barrier_wait(b) > 0) uv_barrier_destroy(b)" safe. */
int uv_barrier_wait(uv_barrier_t* barrier) {
  int r;

  if (barrier == NULL)
    return UV_EINVAL;
  r = pthread_barrier_wait(barrier);
  if (r == PTHREAD_BARRIER_SERIAL_THREAD)
    return 1;
  return uv__pthread_err(r);
}

/* ---------------------------------------------------------------------
 * Once-only initialisation and thread-local keys.
 */

void uv_once(uv_once_t* guard, void (*callback)(void)) {
  if (guard != NULL && callback != NULL)
    uv__thread_check(pthread_once(guard, callback));
}

int uv_key_create(uv_key_t* key) {
  if (key == NULL)
    return UV_EINVAL;
  return uv__pthread_err(pthread_key_create(key, NULL));
}

void uv_key_delete(uv_key_t* key) {
  if (key != NULL)
    uv__thread_check(pthread_key_delete(*key));
}

void* uv_key_get(uv_key_t* key) {
  if (key == NULL)
    return NULL;
  return pthread_getspecific(*key);
}

/* pthread_setspecific can also fail ENOMEM (glibc allocates the block for
 * high-numbered keys on first use in a thread); a void function cannot say
 * so and a lost value would surface later as wrong data, so that aborts
 * too. */
void uv_key_set(uv_key_t* key, void* value) {
  if (key != NULL)
    uv__thread_check(pthread_setspecific(*key, value));
}
