/* The harness of test-dns.c: a fake resolver the library is bound to, a
 * counting allocator, a way to keep every pool thread busy, and address
 * helpers. Everything is static: each test file is its own program.
 *
 * The library calls libc's getaddrinfo() and getnameinfo(). This file
 * defines its own, which the dynamic linker binds the library to: they pass
 * straight through to libc unless a test asks them to fail with a chosen
 * code, and they record what reached them and how many run at once. In
 * "hold" mode they wait until the test releases them, which lets a test
 * keep lookups busy on pool threads for as long as it needs.
 */
#ifndef NL_DNS_FAKE_H_
#define NL_DNS_FAKE_H_

#include "test.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <time.h>

enum fake_mode { FAKE_PASS, FAKE_FAIL, FAKE_HOLD };

typedef int (*getaddrinfo_fn)(const char*, const char*,
                              const struct addrinfo*, struct addrinfo**);
typedef int (*getnameinfo_fn)(const struct sockaddr*, socklen_t, char*,
                              socklen_t, char*, socklen_t, int);

/* All fields are guarded by mutex; cond announces every change. */
static struct {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  enum fake_mode mode;
  int fail_code;      /* FAKE_FAIL: the EAI_* code to return */
  int fail_errno;     /* ... and errno, for EAI_SYSTEM */
  int released;       /* FAKE_HOLD: lookups may go on */
  int calls;          /* getaddrinfo() and getnameinfo() calls */
  int held;           /* lookups waiting to be released */
  int active;         /* lookups inside the fakes right now */
  int max_active;
  int cpu_jobs_ran;   /* see slow_lookups_leave_threads_for_work */
  void (*on_enter)(void); /* called, locked, as a lookup enters */
  char node[600];     /* the last getaddrinfo() arguments */
  char service[64];
  int had_hints;
  struct addrinfo hints;
  char numeric_host[64]; /* the address the last getnameinfo() got */
} fake = {.mutex = PTHREAD_MUTEX_INITIALIZER,
            .cond = PTHREAD_COND_INITIALIZER};

static uv_thread_t loop_thread;

/* Entry of both fakes: count, record, hold. Returns the mode to apply. */
static enum fake_mode fake_enter(void) {
  enum fake_mode mode;

  pthread_mutex_lock(&fake.mutex);
  fake.calls++;
  if (fake.on_enter != NULL)
    fake.on_enter();
  fake.active++;
  if (fake.active > fake.max_active)
    fake.max_active = fake.active;
  mode = fake.mode;
  if (mode == FAKE_HOLD) {
    fake.held++;
    pthread_cond_broadcast(&fake.cond);
    while (!fake.released)
      pthread_cond_wait(&fake.cond, &fake.mutex);
    fake.held--;
  }
  pthread_mutex_unlock(&fake.mutex);
  return mode;
}

static void fake_leave(void) {
  pthread_mutex_lock(&fake.mutex);
  fake.active--;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.mutex);
}

int getaddrinfo(const char* node, const char* service,
                const struct addrinfo* hints, struct addrinfo** res) {
  getaddrinfo_fn real;
  enum fake_mode mode;
  int r;

  pthread_mutex_lock(&fake.mutex);
  snprintf(fake.node, sizeof(fake.node), "%s", node ? node : "(null)");
  snprintf(fake.service, sizeof(fake.service), "%s",
           service ? service : "(null)");
  fake.had_hints = hints != NULL;
  if (hints != NULL)
    fake.hints = *hints;
  pthread_mutex_unlock(&fake.mutex);

  mode = fake_enter();
  if (mode == FAKE_FAIL) {
    r = fake.fail_code;
    fake_leave();
    errno = fake.fail_errno;
    return r;
  }
  real = (getaddrinfo_fn) dlsym(RTLD_NEXT, "getaddrinfo");
  CHECK(real != NULL);
  r = real(node, service, hints, res);
  fake_leave();
  return r;
}

int getnameinfo(const struct sockaddr* sa, socklen_t salen, char* host,
                socklen_t hostlen, char* serv, socklen_t servlen,
                int flags) {
  const void* ip;
  getnameinfo_fn real;
  enum fake_mode mode;
  char buf[64];
  int r;

  ip = sa->sa_family == AF_INET
           ? (const void*) &((const struct sockaddr_in*) sa)->sin_addr
           : (const void*) &((const struct sockaddr_in6*) sa)->sin6_addr;
  CHECK(inet_ntop(sa->sa_family, ip, buf, sizeof(buf)) != NULL);
  pthread_mutex_lock(&fake.mutex);
  snprintf(fake.numeric_host, sizeof(fake.numeric_host), "%s", buf);
  pthread_mutex_unlock(&fake.mutex);

  mode = fake_enter();
  if (mode == FAKE_FAIL) {
    r = fake.fail_code;
    fake_leave();
    errno = fake.fail_errno;
    return r;
  }
  real = (getnameinfo_fn) dlsym(RTLD_NEXT, "getnameinfo");
  CHECK(real != NULL);
  r = real(sa, salen, host, hostlen, serv, servlen, flags);
  fake_leave();
  return r;
}

static inline void fake_set(enum fake_mode mode, int code, int err) {
  pthread_mutex_lock(&fake.mutex);
  fake.mode = mode;
  fake.fail_code = code;
  fake.fail_errno = err;
  fake.released = 0;
  pthread_mutex_unlock(&fake.mutex);
}

static inline void fake_release(void) {
  pthread_mutex_lock(&fake.mutex);
  fake.released = 1;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.mutex);
}

static inline int fake_calls(void) {
  int n;
  pthread_mutex_lock(&fake.mutex);
  n = fake.calls;
  pthread_mutex_unlock(&fake.mutex);
  return n;
}

/* Waits up to 10 s for *counter (a field of fake) to reach want; returns
 * whether it did. */
static inline int fake_wait_for(const int* counter, int want) {
  struct timespec deadline;
  int ok;

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&fake.mutex);
  while (*counter < want &&
         pthread_cond_timedwait(&fake.cond, &fake.mutex, &deadline) == 0) {
  }
  ok = *counter >= want;
  pthread_mutex_unlock(&fake.mutex);
  return ok;
}

/* ---------------------------------------------------------------------
 * Counting allocator: each request's copies must be one allocation,
 * freed when the request completes.
 */
static long allocs_total;
static long allocs_live;

static inline void* count_malloc(size_t n) {
  void* p = malloc(n);
  if (p != NULL) {
    __atomic_add_fetch(&allocs_total, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
  }
  return p;
}

static inline void* count_calloc(size_t n, size_t size) {
  void* p = calloc(n, size);
  if (p != NULL) {
    __atomic_add_fetch(&allocs_total, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
  }
  return p;
}

static inline void* count_realloc(void* old, size_t n) {
  void* p = realloc(old, n);
  if (old == NULL && p != NULL) {
    __atomic_add_fetch(&allocs_total, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
  }
  return p;
}

static inline void count_free(void* p) {
  if (p != NULL)
    __atomic_sub_fetch(&allocs_live, 1, __ATOMIC_RELAXED);
  free(p);
}

static inline void use_counting_allocator(void) {
  CHECK_OK(uv_replace_allocator(count_malloc, count_realloc, count_calloc,
                                count_free));
}

static inline long live(void) {
  return __atomic_load_n(&allocs_live, __ATOMIC_RELAXED);
}

static inline long total(void) {
  return __atomic_load_n(&allocs_total, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------
 * Helpers.
 */
static inline int has_ip4(const struct addrinfo* ai, const char* ip, int port) {
  const struct sockaddr_in* sin;
  char buf[INET_ADDRSTRLEN];

  for (; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET)
      continue;
    sin = (const struct sockaddr_in*) ai->ai_addr;
    CHECK(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) != NULL);
    if (strcmp(buf, ip) == 0 && ntohs(sin->sin_port) == port)
      return 1;
  }
  return 0;
}

static inline int has_ip6(const struct addrinfo* ai, const char* ip, int port) {
  const struct sockaddr_in6* sin6;
  char buf[INET6_ADDRSTRLEN];

  for (; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET6)
      continue;
    sin6 = (const struct sockaddr_in6*) ai->ai_addr;
    CHECK(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)) != NULL);
    if (strcmp(buf, ip) == 0 && ntohs(sin6->sin6_port) == port)
      return 1;
  }
  return 0;
}

static inline void on_loop_thread(void) {
  uv_thread_t self = uv_thread_self();
  CHECK(uv_thread_equal(&self, &loop_thread));
}

/* Blocks all pool threads (UV_THREADPOOL_SIZE must be POOL) with user
 * jobs that wait until unblock_pool(). */
#define POOL 4
static uv_work_t blockers[POOL];
static uv_sem_t blocker_started;
static uv_sem_t blocker_release;

static inline void blocker_work(uv_work_t* req) {
  (void) req;
  uv_sem_post(&blocker_started);
  uv_sem_wait(&blocker_release);
}

static inline void blocker_done(uv_work_t* req, int status) {
  (void) req;
  CHECK_EQ(status, 0);
}

static inline void block_pool(uv_loop_t* loop) {
  int i;

  CHECK_OK(uv_sem_init(&blocker_started, 0));
  CHECK_OK(uv_sem_init(&blocker_release, 0));
  for (i = 0; i < POOL; i++)
    CHECK_OK(uv_queue_work(loop, &blockers[i], blocker_work, blocker_done));
  for (i = 0; i < POOL; i++)
    uv_sem_wait(&blocker_started);
}

static inline void unblock_pool(void) {
  int i;
  for (i = 0; i < POOL; i++)
    uv_sem_post(&blocker_release);
}

static inline void destroy_pool_blocker(void) {
  uv_sem_destroy(&blocker_started);
  uv_sem_destroy(&blocker_release);
}

#endif /* NL_DNS_FAKE_H_ */
