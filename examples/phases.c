/* The Node.js event loop, phase by phase, shown by nodeloop itself.
 *
 * Like the main module of a Node.js script, main() schedules:
 *   setTimeout(f, 0)          a 0 ms timer
 *   setImmediate(g)           Node's way: a FIFO of immediates run by one
 *                             check handle, plus an idle handle while any
 *                             are queued so that the poll phase does not
 *                             block on them
 *   an idle callback          an idle handle
 *   fs.readFile(...)-like I/O  a job on the worker pool, whose completion
 *                             runs in the poll phase
 * and from that I/O callback, again a setTimeout(0) and a setImmediate.
 * Every callback prints the phase the loop reports (nl_loop_phase), so the
 * order below is observed, not assumed.
 */
#include <stdio.h>
#include <string.h>
#include "nodeloop.h"

static uv_loop_t* loop;
static uv_timer_t timeout_main, timeout_io;
static uv_check_t immediate_check;
static uv_idle_t immediate_idle;
static uv_idle_t idle;
static uv_work_t read_file;
static char order[8][48];
static int norder;

/* Node's names for libuv's phases. */
static const char* node_words(const char* phase) {
  if (strcmp(phase, "timers") == 0) return "timers";
  if (strcmp(phase, "pending") == 0) return "pending callbacks";
  if (strcmp(phase, "idle") == 0) return "idle, prepare";
  if (strcmp(phase, "prepare") == 0) return "idle, prepare";
  if (strcmp(phase, "poll") == 0) return "poll (I/O callbacks)";
  if (strcmp(phase, "check") == 0) return "check (setImmediate)";
  if (strcmp(phase, "close") == 0) return "close callbacks";
  return phase;
}

static void ran(const char* what) {
  printf("  iteration %llu  %-22s %s\n",
         (unsigned long long) nl_loop_iterations(loop) + 1,
         node_words(nl_loop_phase(loop)), what);
  snprintf(order[norder++], sizeof(order[0]), "%s", what);
}

static void on_timeout(uv_timer_t* t) {
  ran(t == &timeout_main ? "setTimeout(0) from the main module"
                         : "setTimeout(0) from the I/O callback");
}

/* setImmediate, as Node.js builds it on libuv. */
static const char* immediates[8];
static int nimmediates;

static void keep_polling(uv_idle_t* h) {
  (void) h;
}

static void run_immediates(uv_check_t* c) {
  int n = nimmediates;
  int i;
  /* Immediates queued while these run wait for the next check phase. */
  for (i = 0; i < n; i++)
    ran(immediates[i]);
  memmove(immediates, immediates + n, (nimmediates - n) * sizeof(char*));
  nimmediates -= n;
  if (nimmediates == 0) {
    uv_check_stop(c);
    uv_idle_stop(&immediate_idle);
  }
}

static void set_immediate(const char* what) {
  immediates[nimmediates++] = what;
  uv_check_start(&immediate_check, run_immediates);
  uv_idle_start(&immediate_idle, keep_polling);
}

static void on_idle(uv_idle_t* h) {
  ran("idle callback");
  uv_idle_stop(h);
}

static void on_close(uv_handle_t* h) {
  (void) h;
  ran("close callback of the idle handle");
}

/* Runs on a pool thread, like the read behind fs.readFile. */
static void read_on_pool(uv_work_t* req) {
  (void) req;
  uv_sleep(20);
}

static void on_read_done(uv_work_t* req, int status) {
  (void) req;
  (void) status;
  ran("I/O callback (file read on the worker pool)");
  uv_timer_start(&timeout_io, on_timeout, 0, 0);
  set_immediate("setImmediate from the I/O callback");
  uv_close((uv_handle_t*) &idle, on_close);
}

int main(void) {
  int i;
  int io_immediate = -1;
  int io_timeout = -1;

  loop = uv_default_loop();
  uv_timer_init(loop, &timeout_main);
  uv_timer_init(loop, &timeout_io);
  uv_check_init(loop, &immediate_check);
  uv_idle_init(loop, &immediate_idle);
  uv_idle_init(loop, &idle);

  printf("nodeloop %s (libuv %s API): one iteration runs\n"
         "  timers -> pending callbacks -> idle, prepare -> poll -> check"
         " -> close callbacks\n\n",
         nl_version_string(), uv_version_string());

  uv_timer_start(&timeout_main, on_timeout, 0, 0);
  set_immediate("setImmediate from the main module");
  uv_idle_start(&idle, on_idle);
  uv_queue_work(loop, &read_file, read_on_pool, on_read_done);

  uv_run(loop, UV_RUN_DEFAULT);

  for (i = 0; i < norder; i++) {
    if (strstr(order[i], "setImmediate from the I/O") != NULL)
      io_immediate = i;
    if (strstr(order[i], "setTimeout(0) from the I/O") != NULL)
      io_timeout = i;
  }
  printf("\nInside an I/O callback, setImmediate runs before setTimeout(0): "
         "%s\n", io_immediate >= 0 && io_immediate < io_timeout ? "yes" : "NO");

  uv_close((uv_handle_t*) &timeout_main, NULL);
  uv_close((uv_handle_t*) &timeout_io, NULL);
  uv_close((uv_handle_t*) &immediate_check, NULL);
  uv_close((uv_handle_t*) &immediate_idle, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return io_immediate >= 0 && io_immediate < io_timeout ? 0 : 1;
}
