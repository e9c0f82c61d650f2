/* nodeloop's foundation at work: versions, and the thread primitives
 * (threads, a mutex, a condition variable, a barrier, a semaphore,
 * thread-local keys) coordinating four workers. */
#include <stdio.h>
#include "nodeloop.h"

#define WORKERS 4

static uv_mutex_t mutex;
static uv_cond_t cond;
static uv_barrier_t barrier;
static uv_sem_t done;
static uv_key_t name_key;
static int turn;
static int total;

static void worker(void* arg) {
  int id = (int) (intptr_t) arg;
  char name[16];
  int serial;

  snprintf(name, sizeof(name), "worker-%d", id);
  uv_key_set(&name_key, name);

  /* Everyone waits here until all four have started; exactly one of them
   * is told it is the "serial" thread. */
  serial = uv_barrier_wait(&barrier);

  /* Take turns in id order: a condition variable hands the turn on. */
  uv_mutex_lock(&mutex);
  while (turn != id)
    uv_cond_wait(&cond, &mutex);
  total += id;
  printf("  %s (thread-local name) got its turn%s, running total %d\n",
         (const char*) uv_key_get(&name_key),
         serial > 0 ? " and was the barrier's serial thread" : "", total);
  turn++;
  uv_cond_broadcast(&cond);
  uv_mutex_unlock(&mutex);

  uv_sem_post(&done);
}

int main(void) {
  uv_thread_t threads[WORKERS];
  uv_thread_t self = uv_thread_self();
  int i;

  printf("nodeloop %s implements the libuv %s API (UV_VERSION_HEX 0x%06x)\n",
         nl_version_string(), uv_version_string(), uv_version());
  printf("%u CPUs available, uv_hrtime() = %llu ns\n",
         uv_available_parallelism(), (unsigned long long) uv_hrtime());

  uv_mutex_init(&mutex);
  uv_cond_init(&cond);
  uv_barrier_init(&barrier, WORKERS);
  uv_sem_init(&done, 0);
  uv_key_create(&name_key);

  printf("starting %d threads; they meet at a barrier, then take turns:\n",
         WORKERS);
  for (i = 0; i < WORKERS; i++)
    uv_thread_create(&threads[i], worker, (void*) (intptr_t) i);
  for (i = 0; i < WORKERS; i++)
    uv_sem_wait(&done);
  for (i = 0; i < WORKERS; i++) {
    if (uv_thread_equal(&threads[i], &self))
      printf("impossible: a worker is the main thread\n");
    uv_thread_join(&threads[i]);
  }
  printf("all joined; total %d (expected %d)\n", total,
         WORKERS * (WORKERS - 1) / 2);

  uv_key_delete(&name_key);
  uv_sem_destroy(&done);
  uv_barrier_destroy(&barrier);
  uv_cond_destroy(&cond);
  uv_mutex_destroy(&mutex);
  return total == WORKERS * (WORKERS - 1) / 2 ? 0 : 1;
}
