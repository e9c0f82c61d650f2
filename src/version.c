/* Version numbers: the libuv API version nodeloop implements, and
 * nodeloop's own. */
#include "internal.h"

#define UV__STR_(x) #x
#define UV__STR(x) UV__STR_(x)

unsigned int uv_version(void) {
  return UV_VERSION_HEX;
}

const char* uv_version_string(void) {
  return UV__STR(UV_VERSION_MAJOR) "." UV__STR(UV_VERSION_MINOR) "."
      UV__STR(UV_VERSION_PATCH) UV_VERSION_SUFFIX;
}

const char* nl_version_string(void) {
  return UV__STR(NL_VERSION_MAJOR) "." UV__STR(NL_VERSION_MINOR) "."
      UV__STR(NL_VERSION_PATCH);
}
