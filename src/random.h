/* The kernel's CSPRNG as one internal call, shared by uv_random()'s
 * synchronous form and its asynchronous one on the worker pool.
 */
#ifndef NL_RANDOM_H_
#define NL_RANDOM_H_

#include <stddef.h>

/* Fills buf with exactly len random bytes: getrandom(2), or /dev/urandom
 * where that system call is unavailable. Blocks until the kernel's pool
 * has been initialised once after boot, never afterwards. Returns 0 or a
 * negative UV_E* code (buf may then be partly written). Thread-safe. */
int uv__random_fill(void* buf, size_t len);

#endif /* NL_RANDOM_H_ */
