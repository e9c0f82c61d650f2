/* Loop metrics (observe.h): not built yet; stay off. */
#include "internal.h"
#include "observe.h"

int nl__metrics_loop_open(struct nl__obs* o) { return UV_ENOSYS; }
void nl__metrics_loop_close(struct nl__obs* o) {}
void nl__metrics_iteration(struct nl__obs* o) {}
void nl__metrics_phase(struct nl__obs* o, int phase, uint64_t dur,
                       uint64_t wait) {}
void nl__metrics_wait(struct nl__obs* o, uint64_t dur) {}
void nl__metrics_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                    uint64_t end) {}
void nl__metrics_timer_lag(struct nl__obs* o, uint64_t lag_ns) {}
void nl__metrics_work_submit(struct nl__obs* o, int wkind) {}
void nl__metrics_work_done(struct nl__obs* o, int wkind, uint64_t queued_ns,
                           uint64_t run_ns) {}
