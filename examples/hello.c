/* Prints the library and API versions. */
#include <stdio.h>
#include "nodeloop.h"

int main(void) {
  printf("nodeloop %s, libuv API %s (0x%06x)\n", nl_version_string(),
         uv_version_string(), uv_version());
  return 0;
}
