/* Clocks: uv_hrtime() and the millisecond clock the loop caches. */
#include "internal.h"

#include <time.h>

uint64_t uv__hrtime_ns(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC cannot fail with a valid pointer; the vDSO serves it
   * without a system call. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t uv_hrtime(void) {
  return uv__hrtime_ns();
}

/* The loop's clock has millisecond granularity, so the coarse clock is
 * good enough when its resolution is 1 ms or finer (a kernel with HZ=1000);
 * it is cheaper to read. Decided once per process. */
static clockid_t loop_clock_id(void) {
  static _Atomic int cached = -1;
  int id = atomic_load_explicit(&cached, memory_order_relaxed);
  struct timespec res;

  if (id >= 0)
    return (clockid_t) id;
  id = CLOCK_MONOTONIC;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
      res.tv_nsec <= 1000000)
    id = CLOCK_MONOTONIC_COARSE;
  atomic_store_explicit(&cached, id, memory_order_relaxed);
  return (clockid_t) id;
}

uint64_t uv__loop_clock_ms(void) {
  struct timespec ts;
  clock_gettime(loop_clock_id(), &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

void uv_sleep(unsigned int msec) {
  struct timespec ts;
  ts.tv_sec = msec / 1000;
  ts.tv_nsec = (long) (msec % 1000) * 1000000L;
  /* nanosleep updates ts with the time left when a signal interrupts. */
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}
