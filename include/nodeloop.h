/* nodeloop: extensions beyond the libuv 1.44 API.
 *
 * Everything here carries the nl_ prefix so that it can never collide with
 * a present or future libuv name.
 */
#ifndef NODELOOP_H
#define NODELOOP_H

#include "uv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NL_VERSION_MAJOR 0
#define NL_VERSION_MINOR 1
#define NL_VERSION_PATCH 0

/* nodeloop's own version, e.g. "0.1.0"; uv_version_string() gives the
 * libuv API version nodeloop is compatible with. */
UV_EXTERN const char* nl_version_string(void);

/* The phase the loop is running, in Node.js's words: "timers", "pending",
 * "idle", "prepare", "poll", "check", "close", or "none" outside uv_run.
 * Meant for the loop's own thread (from inside callbacks). */
UV_EXTERN const char* nl_loop_phase(const uv_loop_t* loop);

/* Completed iterations of the loop since uv_loop_init. */
UV_EXTERN uint64_t nl_loop_iterations(const uv_loop_t* loop);

/* uv_pipe_bind() and uv_pipe_connect() with an explicit name length, so
 * that Linux abstract socket names (a leading NUL byte, no file) can be
 * used: libuv 1.44 takes C strings only. A name longer than sun_path (108
 * bytes) is UV_EINVAL, never cut short. nl_pipe_connect2 returns
 * UV_EINVAL/UV_EBUSY/UV_EALREADY for a request it cannot start; every
 * other error reaches the callback. */
UV_EXTERN int nl_pipe_bind2(uv_pipe_t* handle, const char* name,
                            size_t namelen);
UV_EXTERN int nl_pipe_connect2(uv_connect_t* req, uv_pipe_t* handle,
                               const char* name, size_t namelen,
                               uv_connect_cb cb);

#ifdef __cplusplus
}
#endif
#endif /* NODELOOP_H */
