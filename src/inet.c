/* Text <-> binary conversion of IPv4/IPv6 addresses and interface index
 * lookups: uv_ip{4,6}_addr, uv_ip{4,6}_name, uv_ip_name, uv_inet_pton,
 * uv_inet_ntop, uv_if_indextoname and uv_if_indextoiid.
 *
 * The parsing and formatting themselves are glibc's inet_pton/inet_ntop:
 * they accept and print exactly what libuv does (strict dotted quads, no
 * leading zeros, RFC 5952-style "::" compression with embedded IPv4 for
 * mapped and compatible addresses). This file adds what they lack: libuv's
 * error codes, "%zone" suffixes and destination buffers left untouched on
 * failure.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Longest valid IPv6 text without a zone is 45 characters
 * ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"), plus the NUL. */
#define NL_INET6_TEXT_MAX INET6_ADDRSTRLEN

/* Copies the part of an IPv6 text before its "%zone" suffix into out.
 * Returns a pointer to the zone (after the '%'), "" when there is none,
 * or NULL when the address part cannot be a valid address (too long). */
static const char* split_zone(const char* src, char out[NL_INET6_TEXT_MAX]) {
  const char* pct = strchr(src, '%');
  size_t len = pct != NULL ? (size_t) (pct - src) : strlen(src);

  if (len >= NL_INET6_TEXT_MAX)
    return NULL;
  memcpy(out, src, len);
  out[len] = '\0';
  return pct != NULL ? pct + 1 : "";
}

int uv_inet_pton(int af, const char* src, void* dst) {
  char text[NL_INET6_TEXT_MAX];
  unsigned char bin[sizeof(struct in6_addr)];

  if (src == NULL || dst == NULL)
    return UV_EINVAL;

  switch (af) {
    case AF_INET:
      if (inet_pton(AF_INET, src, bin) != 1)
        return UV_EINVAL;
      memcpy(dst, bin, sizeof(struct in_addr));
      return 0;
    case AF_INET6:
      /* A zone ("fe80::1%eth0") is not part of the address: everything
       * from the '%' on is ignored here, uv_ip6_addr() interprets it. */
      if (split_zone(src, text) == NULL)
        return UV_EINVAL;
      if (inet_pton(AF_INET6, text, bin) != 1)
        return UV_EINVAL;
      memcpy(dst, bin, sizeof(struct in6_addr));
      return 0;
    default:
      return UV_EAFNOSUPPORT;
  }
}

int uv_inet_ntop(int af, const void* src, char* dst, size_t size) {
  char text[NL_INET6_TEXT_MAX];
  size_t len;

  if (src == NULL || dst == NULL)
    return UV_EINVAL;
  if (af != AF_INET && af != AF_INET6)
    return UV_EAFNOSUPPORT;

  /* Format into a buffer that always fits, so a too-small dst is
   * reported as UV_ENOSPC and left untouched. */
  if (inet_ntop(af, src, text, sizeof(text)) == NULL)
    return uv__neg_errno();
  len = strlen(text);
  if (len >= size)
    return UV_ENOSPC;
  memcpy(dst, text, len + 1);
  return 0;
}

int uv_ip4_addr(const char* ip, int port, struct sockaddr_in* addr) {
  if (ip == NULL || addr == NULL)
    return UV_EINVAL;

  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons((uint16_t) port);
  return uv_inet_pton(AF_INET, ip, &addr->sin_addr.s_addr);
}

/* The scope id named by a zone: an interface name, or failing that a
 * decimal index (the form Windows uses, accepted here for portability).
 * An unknown zone gives 0, "no scope", without an error, as in libuv. */
static uint32_t zone_to_scope_id(const char* zone) {
  unsigned int index;
  uint64_t n;
  const char* p;

  if (*zone == '\0')
    return 0;
  index = if_nametoindex(zone);
  if (index != 0)
    return index;

  n = 0;
  for (p = zone; *p != '\0'; p++) {
    if (*p < '0' || *p > '9')
      return 0;
    n = n * 10 + (uint64_t) (*p - '0');
    if (n > UINT32_MAX)
      return 0;
  }
  return (uint32_t) n;
}

int uv_ip6_addr(const char* ip, int port, struct sockaddr_in6* addr) {
  char text[NL_INET6_TEXT_MAX];
  const char* zone;
  int err;

  if (ip == NULL || addr == NULL)
    return UV_EINVAL;

  memset(addr, 0, sizeof(*addr));
  addr->sin6_family = AF_INET6;
  addr->sin6_port = htons((uint16_t) port);

  zone = split_zone(ip, text);
  if (zone == NULL)
    return UV_EINVAL;
  err = uv_inet_pton(AF_INET6, text, &addr->sin6_addr);
  if (err != 0)
    return err;
  addr->sin6_scope_id = zone_to_scope_id(zone);
  return 0;
}

int uv_ip4_name(const struct sockaddr_in* src, char* dst, size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  return uv_inet_ntop(AF_INET, &src->sin_addr, dst, size);
}

int uv_ip6_name(const struct sockaddr_in6* src, char* dst, size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  return uv_inet_ntop(AF_INET6, &src->sin6_addr, dst, size);
}

int uv_ip_name(const struct sockaddr* src, char* dst, size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  switch (src->sa_family) {
    case AF_INET:
      return uv_ip4_name((const struct sockaddr_in*) src, dst, size);
    case AF_INET6:
      return uv_ip6_name((const struct sockaddr_in6*) src, dst, size);
    default:
      return UV_EAFNOSUPPORT;
  }
}

int uv_if_indextoname(unsigned int ifindex, char* buffer, size_t* size) {
  char name[IF_NAMESIZE];
  size_t len;

  if (buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;

  /* glibc asks the kernel through a socket ioctl and reports an unknown
   * index as ENXIO; it can also fail with the socket's own errors. */
  if (if_indextoname(ifindex, name) == NULL)
    return uv__neg_errno();

  len = strnlen(name, sizeof(name));
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, name, len);
  buffer[len] = '\0';
  *size = len;
  return 0;
}

/* On Unix the identifier used in scoped addresses is the interface name. */
int uv_if_indextoiid(unsigned int ifindex, char* buffer, size_t* size) {
  return uv_if_indextoname(ifindex, buffer, size);
}
