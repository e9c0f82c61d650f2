/* Compiled, never run: the public headers must build as C90 with GNU
 * extensions and -pedantic, as libuv's own tests build them. */
#include "uv.h"
#include "nodeloop.h"

int nl_header_c90_probe(void);
int nl_header_c90_probe(void) {
  uv_loop_t loop;
  union uv_any_handle h;
  union uv_any_req r;
  (void) h;
  (void) r;
  return (int) sizeof(loop);
}
