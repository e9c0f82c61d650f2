/* What every kernel floor (bench/floor_*.c) needs: giving up with the
 * system call that failed, and a monotonic clock in seconds. Each floor
 * is one file compiled alone (tools/bench.sh), with _GNU_SOURCE. */
#ifndef NL_BENCH_FLOOR_H_
#define NL_BENCH_FLOOR_H_

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char* what) {
  fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
          strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;

  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    die("clock_gettime");
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

#endif
