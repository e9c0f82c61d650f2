/* Blocked-loop watchdog (observe.h): not built yet; stays off. */
#include "internal.h"
#include "observe.h"

int nl__wd_loop_open(struct nl__obs* o, uint64_t threshold_ms) {
  return UV_ENOSYS;
}
void nl__wd_loop_close(struct nl__obs* o) {}
void nl__wd_update(struct nl__obs* o, uint64_t now) {}
