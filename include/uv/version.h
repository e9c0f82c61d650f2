/* nodeloop: the libuv API version these headers implement.
 *
 * nodeloop's own version is a separate number, available from
 * nl_version_string() in <nodeloop.h>.
 */
#ifndef UV_VERSION_H_
#define UV_VERSION_H_

#define UV_VERSION_MAJOR 1
#define UV_VERSION_MINOR 44
#define UV_VERSION_PATCH 2
#define UV_VERSION_IS_RELEASE 1
#define UV_VERSION_SUFFIX ""

#define UV_VERSION_HEX ((UV_VERSION_MAJOR << 16) | \
                        (UV_VERSION_MINOR << 8) | \
                        (UV_VERSION_PATCH))

#endif /* UV_VERSION_H_ */
