/* Trace writer (observe.h): not built yet; NODELOOP_TRACE stays off. */
#include "internal.h"
#include "observe.h"

int nl__trace_loop_open(struct nl__obs* o) { (void) o; return UV_ENOSYS; }
void nl__trace_loop_close(struct nl__obs* o) { (void) o; }
void nl__trace_iteration(struct nl__obs* o, uint64_t start, uint64_t end) {}
void nl__trace_phase(struct nl__obs* o, int phase, uint64_t start,
                     uint64_t end) {}
void nl__trace_wait(struct nl__obs* o, uint64_t start, uint64_t end) {}
void nl__trace_cb(struct nl__obs* o, const struct nl__obs_frame* f,
                  uint64_t end) {}
void nl__trace_work_submit(struct nl__obs* o, const uv_req_t* req,
                           int wkind, uint64_t ts) {}
void nl__trace_work_run(const uv_req_t* req, int wkind, uint64_t start,
                        uint64_t end) {}
