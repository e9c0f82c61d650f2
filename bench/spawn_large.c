/* The cost of uv_spawn() from a large process: 1 GiB allocated and
 * touched (so its page tables are populated, as in a big Node.js heap),
 * then /bin/true spawned N times in a row, each waited for before the
 * next. A fork()-based spawn copies those page tables every time; a
 * vfork-style spawn does not. The same loop from a small process (before
 * the allocation) is reported for comparison.
 *
 * Built twice from this source, against nodeloop and against Debian's
 * libuv (tools/bench.sh); prints "RESULT name value unit better" lines.
 * SPAWN_N sets N (default 100). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define LARGE ((size_t) 1 << 30)

static int exits;

static void exit_cb(uv_process_t* p, int64_t status, int term_signal) {
  if (status != 0 || term_signal != 0) {
    fprintf(stderr, "spawn_large: /bin/true failed (%d, %d)\n", (int) status,
            term_signal);
    exit(1);
  }
  exits++;
  uv_close((uv_handle_t*) p, NULL);
}

/* Spawns /bin/true n times, one after the other; returns spawns/s. */
static double spawn_rate(uv_loop_t* loop, int n) {
  char* args[] = {"/bin/true", NULL};
  uv_process_options_t o;
  uv_process_t p;
  uint64_t t0;
  uint64_t t1;
  int r;
  int i;

  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = exit_cb;
  exits = 0;
  t0 = uv_hrtime();
  for (i = 0; i < n; i++) {
    r = uv_spawn(loop, &p, &o);
    if (r != 0) {
      fprintf(stderr, "spawn_large: uv_spawn: %s\n", uv_strerror(r));
      exit(1);
    }
    uv_run(loop, UV_RUN_DEFAULT);
  }
  t1 = uv_hrtime();
  if (exits != n) {
    fprintf(stderr, "spawn_large: %d exits of %d\n", exits, n);
    exit(1);
  }
  return n / ((t1 - t0) / 1e9);
}

/* One write per page, through a volatile pointer: the compiler may not
 * drop it (a memset of memory freed later unread would be dropped). */
static void touch(char* heap) {
  volatile char* v = heap;
  size_t i;

  for (i = 0; i < LARGE; i += 4096)
    v[i] = 1;
}

int main(void) {
  uv_loop_t* loop = uv_default_loop();
  const char* env = getenv("SPAWN_N");
  int n = env != NULL ? atoi(env) : 100;
  double small;
  double large;
  char* heap;

  if (n <= 0)
    n = 100;
  small = spawn_rate(loop, n);
  heap = malloc(LARGE);
  if (heap == NULL) {
    fprintf(stderr, "spawn_large: cannot allocate 1 GiB\n");
    return 1;
  }
  touch(heap);
  large = spawn_rate(loop, n);
  printf("RESULT spawn_small_process %.1f spawns/s higher\n", small);
  printf("RESULT spawn_1gib_process %.1f spawns/s higher\n", large);
  free(heap);
  uv_loop_close(loop);
  return 0;
}
