/* The hooks through which the loop's life cycle and uv_close() reach the
 * signal handles of src/signal.c.
 */
#ifndef NL_SIGNALS_H_
#define NL_SIGNALS_H_

#include "internal.h"

/* Closes the loop's signal pipe, if it has one. Called by uv_loop_close()
 * once every handle is closed, before the poller goes away. */
void uv__signal_loop_close(uv_loop_t* loop);

/* In a forked child: gives the loop a pipe of its own and delivers there
 * what was caught in the child before this call. */
int uv__signal_loop_fork(uv_loop_t* loop);

/* The UV_SIGNAL step of uv_close(). It calls uv__make_close_pending()
 * itself: at once, or when the last message about the handle has been
 * read from the loop's pipe. */
void uv__signal_close(uv_signal_t* handle);

#endif /* NL_SIGNALS_H_ */
