/* Timer costs without the wall-clock floor of libuv's million_timers:
 * starting, stopping and firing many timers, measured in CPU time.
 *
 * Built twice from this source, against nodeloop and against Debian's
 * libuv (tools/bench.sh); prints "RESULT name value unit better" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <uv.h>

#define N (1000 * 1000)

static uv_timer_t* timers;
static unsigned int fired;

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static unsigned int rnd_state = 1;

static unsigned int rnd(void) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return rnd_state >> 8;
}

static void fire_cb(uv_timer_t* h) {
  (void) h;
  fired++;
}

int main(void) {
  uv_loop_t* loop = uv_default_loop();
  unsigned int* order;
  double t0, t1;
  unsigned int i;

  timers = malloc(N * sizeof(*timers));
  order = malloc(N * sizeof(*order));
  if (timers == NULL || order == NULL)
    return 1;
  for (i = 0; i < N; i++) {
    uv_timer_init(loop, &timers[i]);
    order[i] = i;
  }
  for (i = N - 1; i > 0; i--) {
    unsigned int j = rnd() % (i + 1);
    unsigned int tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }

  /* 1. Random timeouts, random order: the general case. */
  t0 = cpu_seconds();
  for (i = 0; i < N; i++)
    uv_timer_start(&timers[order[i]], fire_cb, 1000 + rnd() % 100000, 0);
  t1 = cpu_seconds();
  printf("RESULT timer_start_random %.0f starts/s higher\n", N / (t1 - t0));

  t0 = cpu_seconds();
  for (i = 0; i < N; i++)
    uv_timer_stop(&timers[order[N - 1 - i]]);
  t1 = cpu_seconds();
  printf("RESULT timer_stop_random %.0f stops/s higher\n", N / (t1 - t0));

  /* 2. Bursts that share a timeout (a server arming one timeout per
   * request): 1000 timeouts of 1000 timers each, then let them all fire.
   * The wall time is about one second either way; the CPU time is the
   * cost of the timers. */
  uv_update_time(loop);
  t0 = cpu_seconds();
  for (i = 0; i < N; i++)
    uv_timer_start(&timers[i], fire_cb, 1 + i / 1000, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  t1 = cpu_seconds();
  if (fired != N)
    return 2;
  printf("RESULT timer_burst_start_fire_cpu %.3f cpu-seconds lower\n", t1 - t0);

  for (i = 0; i < N; i++)
    uv_close((uv_handle_t*) &timers[i], NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  free(order);
  free(timers);
  return 0;
}
