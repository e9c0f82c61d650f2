/* Address conversion: uv_ip{4,6}_addr, uv_ip{4,6}_name, uv_ip_name,
 * uv_inet_pton/ntop, uv_if_indextoname/iid. */
#include "test.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static const char* const bad_ip4[] = {
    "", "1", "10.1", "10.0.1", "10.0.0.256", "300.1.1.1", "1000.0.0.0",
    "10.0.0.1.", ".10.0.0.1", "10..0.1", "10.0.0.1 ", " 10.0.0.1",
    "010.0.0.1", "10.0.0.01", "0x10.0.0.1", "10.0.0.1x", "10.0.0*1",
    "10.0.0.1/8", "10.0.0.1%lo", "-1.0.0.0", "::1"};

TEST(ip4_addr_valid) {
  struct sockaddr_in a;

  memset(&a, 0xAA, sizeof(a));
  CHECK_OK(uv_ip4_addr("192.0.2.33", 8080, &a));
  CHECK_EQ(a.sin_family, AF_INET);
  CHECK_EQ(a.sin_port, htons(8080));
  CHECK_EQ(a.sin_addr.s_addr, htonl(0xC0000221u));
  /* The padding is cleared too: callers compare whole structures. */
  CHECK_EQ(a.sin_zero[0], 0);
  CHECK_EQ(a.sin_zero[7], 0);

  CHECK_OK(uv_ip4_addr("0.0.0.0", 0, &a));
  CHECK_EQ(a.sin_addr.s_addr, 0);
  CHECK_OK(uv_ip4_addr("255.255.255.255", 65535, &a));
  CHECK_EQ(a.sin_addr.s_addr, 0xFFFFFFFFu);
  CHECK_EQ(a.sin_port, 0xFFFF);
}

TEST(ip4_addr_invalid) {
  struct sockaddr_in a;
  size_t i;

  for (i = 0; i < sizeof(bad_ip4) / sizeof(bad_ip4[0]); i++) {
    int r = uv_ip4_addr(bad_ip4[i], 80, &a);
    if (r != UV_EINVAL)
      fprintf(stderr, "  accepted \"%s\"\n", bad_ip4[i]);
    CHECK_EQ(r, UV_EINVAL);
  }
  CHECK_EQ(uv_ip4_addr(NULL, 80, &a), UV_EINVAL);
  CHECK_EQ(uv_ip4_addr("10.0.0.1", 80, NULL), UV_EINVAL);
}

TEST(inet_pton4) {
  unsigned char out[4];

  CHECK_OK(uv_inet_pton(AF_INET, "10.20.30.40", out));
  CHECK_EQ(out[0], 10);
  CHECK_EQ(out[3], 40);

  /* A failed conversion leaves the destination alone. */
  memset(out, 0x5A, sizeof(out));
  CHECK_EQ(uv_inet_pton(AF_INET, "10.20.30.400", out), UV_EINVAL);
  CHECK_EQ(out[0], 0x5A);
  CHECK_EQ(out[3], 0x5A);

  CHECK_EQ(uv_inet_pton(AF_UNIX, "10.20.30.40", out), UV_EAFNOSUPPORT);
  CHECK_EQ(uv_inet_pton(12345, "10.20.30.40", out), UV_EAFNOSUPPORT);
  CHECK_EQ(uv_inet_pton(AF_INET, NULL, out), UV_EINVAL);
  CHECK_EQ(uv_inet_pton(AF_INET, "10.20.30.40", NULL), UV_EINVAL);
}

static const char* const good_ip6[] = {
    "::", "::2", "2001:db8::", "2001:DB8::A:b", "1:2:3:4:5:6:7:8",
    "2001:db8:0:0:1:0:0:1", "1::8", "1:2:3:4:5:6::8", "1::3:4:5:6:7:8",
    "::ffff:192.0.2.1", "::192.0.2.1", "64:ff9b::198.51.100.7",
    "1:2:3:4:5:6:10.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0000",
    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"};

static const char* const bad_ip6[] = {
    "", ":", ":::", "1:::2", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7", "::1:", ":1::", "1:2:3:4:5:6:7:1.2.3.4",
    "::10.0.0.256", "::10.0.0", "::10.0.0.1.2", "::010.0.0.1",
    "::ffff:10.0.0.1:1", "10.0.0.1", " ::1", "::1 ", "%lo",
    "fe80::1::%lo"};

TEST(inet_pton6_valid) {
  unsigned char out[16];
  char with_zone[96];
  size_t i;

  for (i = 0; i < sizeof(good_ip6) / sizeof(good_ip6[0]); i++) {
    if (uv_inet_pton(AF_INET6, good_ip6[i], out) != 0)
      fprintf(stderr, "  rejected \"%s\"\n", good_ip6[i]);
    CHECK_OK(uv_inet_pton(AF_INET6, good_ip6[i], out));
    /* Whatever follows a '%' is a zone, not part of the address. */
    snprintf(with_zone, sizeof(with_zone), "%s%%eth0", good_ip6[i]);
    CHECK_OK(uv_inet_pton(AF_INET6, with_zone, out));
    snprintf(with_zone, sizeof(with_zone), "%s%%", good_ip6[i]);
    CHECK_OK(uv_inet_pton(AF_INET6, with_zone, out));
    snprintf(with_zone, sizeof(with_zone), "%s%%x%%y:1::", good_ip6[i]);
    CHECK_OK(uv_inet_pton(AF_INET6, with_zone, out));
  }

  CHECK_OK(uv_inet_pton(AF_INET6, "2001:db8::a:b", out));
  CHECK_EQ(out[0], 0x20);
  CHECK_EQ(out[1], 0x01);
  CHECK_EQ(out[2], 0x0d);
  CHECK_EQ(out[3], 0xb8);
  CHECK_EQ(out[4], 0);
  CHECK_EQ(out[13], 0x0a);
  CHECK_EQ(out[15], 0x0b);

  CHECK_OK(uv_inet_pton(AF_INET6, "::ffff:192.0.2.1%lo", out));
  CHECK_EQ(out[10], 0xff);
  CHECK_EQ(out[11], 0xff);
  CHECK_EQ(out[12], 192);
  CHECK_EQ(out[15], 1);
}

TEST(inet_pton6_invalid) {
  unsigned char out[16];
  char with_zone[96];
  char longest[64];
  size_t i;

  for (i = 0; i < sizeof(bad_ip6) / sizeof(bad_ip6[0]); i++) {
    if (uv_inet_pton(AF_INET6, bad_ip6[i], out) != UV_EINVAL)
      fprintf(stderr, "  accepted \"%s\"\n", bad_ip6[i]);
    CHECK_EQ(uv_inet_pton(AF_INET6, bad_ip6[i], out), UV_EINVAL);
    snprintf(with_zone, sizeof(with_zone), "%s%%eth0", bad_ip6[i]);
    CHECK_EQ(uv_inet_pton(AF_INET6, with_zone, out), UV_EINVAL);
  }

  /* 45 characters is the longest valid text; one more leading zero
   * makes it invalid, zone or not. */
  strcpy(longest, "0000:0000:0000:0000:0000:0000:255.255.255.255");
  CHECK_EQ(strlen(longest), 45);
  CHECK_OK(uv_inet_pton(AF_INET6, longest, out));
  strcat(longest, "%eth0");
  CHECK_OK(uv_inet_pton(AF_INET6, longest, out));
  strcpy(longest, "00000:0000:0000:0000:0000:0000:255.255.255.255");
  CHECK_EQ(uv_inet_pton(AF_INET6, longest, out), UV_EINVAL);

  memset(out, 0x5A, sizeof(out));
  CHECK_EQ(uv_inet_pton(AF_INET6, "1::2::3", out), UV_EINVAL);
  CHECK_EQ(out[0], 0x5A);
  CHECK_EQ(out[15], 0x5A);
  CHECK_EQ(uv_inet_pton(AF_INET6, NULL, out), UV_EINVAL);
}

TEST(ip6_addr_zone) {
  struct sockaddr_in6 a;
  unsigned int lo = if_nametoindex("lo");

  memset(&a, 0xAA, sizeof(a));
  CHECK_OK(uv_ip6_addr("fe80::1", 443, &a));
  CHECK_EQ(a.sin6_family, AF_INET6);
  CHECK_EQ(a.sin6_port, htons(443));
  CHECK_EQ(a.sin6_flowinfo, 0);
  CHECK_EQ(a.sin6_scope_id, 0);
  CHECK_EQ(a.sin6_addr.s6_addr[0], 0xfe);
  CHECK_EQ(a.sin6_addr.s6_addr[1], 0x80);
  CHECK_EQ(a.sin6_addr.s6_addr[15], 1);

  /* A zone naming an interface becomes its index. */
  if (lo != 0) {
    CHECK_OK(uv_ip6_addr("fe80::1%lo", 443, &a));
    CHECK_EQ(a.sin6_scope_id, lo);
    CHECK_EQ(a.sin6_addr.s6_addr[15], 1);
  }

  /* A decimal zone is the index itself. */
  CHECK_OK(uv_ip6_addr("fe80::1%7", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 7);
  CHECK_OK(uv_ip6_addr("fe80::1%4294967295", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 4294967295u);

  /* Unknown zones and out-of-range numbers leave the scope unset. */
  CHECK_OK(uv_ip6_addr("fe80::1%4294967296", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 0);
  CHECK_OK(uv_ip6_addr("fe80::1%nl-no-such-if", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 0);
  CHECK_OK(uv_ip6_addr("fe80::1%", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 0);
  CHECK_OK(uv_ip6_addr("fe80::1%12x", 443, &a));
  CHECK_EQ(a.sin6_scope_id, 0);

  CHECK_EQ(uv_ip6_addr("fe80::1::2%lo", 443, &a), UV_EINVAL);
  CHECK_EQ(uv_ip6_addr("192.0.2.1", 443, &a), UV_EINVAL);
  CHECK_EQ(uv_ip6_addr(NULL, 443, &a), UV_EINVAL);
  CHECK_EQ(uv_ip6_addr("::1", 443, NULL), UV_EINVAL);
}

TEST(inet_ntop4) {
  char dst[16];
  const unsigned char all[4] = {255, 255, 255, 255};
  const unsigned char some[4] = {10, 0, 20, 3};

  CHECK_OK(uv_inet_ntop(AF_INET, all, dst, sizeof(dst)));
  CHECK_STREQ(dst, "255.255.255.255");
  CHECK_OK(uv_inet_ntop(AF_INET, some, dst, sizeof(dst)));
  CHECK_STREQ(dst, "10.0.20.3");

  /* "10.0.20.3" needs 10 bytes with its NUL; one less is ENOSPC, and the
   * destination is left as it was. */
  memset(dst, 'Z', sizeof(dst));
  CHECK_EQ(uv_inet_ntop(AF_INET, some, dst, 9), UV_ENOSPC);
  CHECK_EQ(dst[0], 'Z');
  CHECK_EQ(uv_inet_ntop(AF_INET, some, dst, 0), UV_ENOSPC);
  CHECK_OK(uv_inet_ntop(AF_INET, some, dst, 10));
  CHECK_STREQ(dst, "10.0.20.3");
  CHECK_EQ(uv_inet_ntop(AF_INET, all, dst, 15), UV_ENOSPC);

  CHECK_EQ(uv_inet_ntop(AF_UNIX, some, dst, sizeof(dst)), UV_EAFNOSUPPORT);
  CHECK_EQ(uv_inet_ntop(AF_INET, NULL, dst, sizeof(dst)), UV_EINVAL);
  CHECK_EQ(uv_inet_ntop(AF_INET, some, NULL, sizeof(dst)), UV_EINVAL);
}

/* Binary address given as eight 16-bit groups, and its expected text. */
struct ntop6_case {
  uint16_t w[8];
  const char* text;
};

static const struct ntop6_case ntop6_cases[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0}, "::"},
    {{0, 0, 0, 0, 0, 0, 0, 2}, "::2"},
    {{0x2001, 0xdb8, 0, 0, 0, 0, 0, 0}, "2001:db8::"},
    {{0xfe80, 0, 0, 0, 0x2acf, 0xdaff, 0xfedd, 0x342a},
     "fe80::2acf:daff:fedd:342a"},
    /* The longest run of zero groups is compressed, the first on a tie. */
    {{1, 0, 0, 2, 0, 0, 0, 3}, "1:0:0:2::3"},
    {{1, 0, 0, 2, 3, 0, 0, 4}, "1::2:3:0:0:4"},
    /* A single zero group is never compressed. */
    {{1, 0, 2, 3, 4, 5, 6, 7}, "1:0:2:3:4:5:6:7"},
    {{0xABCD, 0xEF01, 0, 0, 0, 0, 0, 1}, "abcd:ef01::1"},
    /* IPv4-mapped and IPv4-compatible addresses end in dotted quads. */
    {{0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201}, "::ffff:192.0.2.1"},
    {{0, 0, 0, 0, 0, 0, 0xc000, 0x0201}, "::192.0.2.1"},
    {{0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407}, "64:ff9b::c633:6407"},
    {{0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff},
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}};

TEST(inet_ntop6) {
  unsigned char bin[16];
  unsigned char back[16];
  char dst[INET6_ADDRSTRLEN];
  size_t i;
  int g;

  for (i = 0; i < sizeof(ntop6_cases) / sizeof(ntop6_cases[0]); i++) {
    const struct ntop6_case* c = &ntop6_cases[i];
    size_t len = strlen(c->text);
    for (g = 0; g < 8; g++) {
      bin[2 * g] = (unsigned char) (c->w[g] >> 8);
      bin[2 * g + 1] = (unsigned char) (c->w[g] & 0xff);
    }
    CHECK_OK(uv_inet_ntop(AF_INET6, bin, dst, sizeof(dst)));
    CHECK_STREQ(dst, c->text);
    /* Exactly enough room, then one byte short. */
    memset(dst, 'Z', sizeof(dst));
    CHECK_OK(uv_inet_ntop(AF_INET6, bin, dst, len + 1));
    CHECK_STREQ(dst, c->text);
    memset(dst, 'Z', sizeof(dst));
    CHECK_EQ(uv_inet_ntop(AF_INET6, bin, dst, len), UV_ENOSPC);
    CHECK_EQ(dst[0], 'Z');
    /* And the text reads back as the same address. */
    CHECK_OK(uv_inet_pton(AF_INET6, c->text, back));
    CHECK_EQ(memcmp(back, bin, sizeof(bin)), 0);
  }
}

TEST(ip_name) {
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
  } u;
  char dst[INET6_ADDRSTRLEN];

  CHECK_OK(uv_ip4_addr("198.51.100.20", 53, &u.in4));
  CHECK_OK(uv_ip4_name(&u.in4, dst, sizeof(dst)));
  CHECK_STREQ(dst, "198.51.100.20");
  memset(dst, 0, sizeof(dst));
  CHECK_OK(uv_ip_name(&u.sa, dst, sizeof(dst)));
  CHECK_STREQ(dst, "198.51.100.20");
  CHECK_EQ(uv_ip_name(&u.sa, dst, 13), UV_ENOSPC);
  CHECK_OK(uv_ip_name(&u.sa, dst, 14));

  /* The zone is not part of the name. */
  CHECK_OK(uv_ip6_addr("fe80::2acf:daff:fedd:342a%9", 53, &u.in6));
  CHECK_OK(uv_ip6_name(&u.in6, dst, sizeof(dst)));
  CHECK_STREQ(dst, "fe80::2acf:daff:fedd:342a");
  memset(dst, 0, sizeof(dst));
  CHECK_OK(uv_ip_name(&u.sa, dst, sizeof(dst)));
  CHECK_STREQ(dst, "fe80::2acf:daff:fedd:342a");
  CHECK_EQ(uv_ip6_name(&u.in6, dst, 4), UV_ENOSPC);

  memset(&u, 0, sizeof(u));
  u.un.sun_family = AF_UNIX;
  CHECK_EQ(uv_ip_name(&u.sa, dst, sizeof(dst)), UV_EAFNOSUPPORT);
  u.sa.sa_family = AF_UNSPEC;
  CHECK_EQ(uv_ip_name(&u.sa, dst, sizeof(dst)), UV_EAFNOSUPPORT);

  CHECK_EQ(uv_ip_name(NULL, dst, sizeof(dst)), UV_EINVAL);
  CHECK_EQ(uv_ip4_name(NULL, dst, sizeof(dst)), UV_EINVAL);
  CHECK_EQ(uv_ip6_name(NULL, dst, sizeof(dst)), UV_EINVAL);
  CHECK_EQ(uv_ip4_name(&u.in4, NULL, sizeof(dst)), UV_EINVAL);
}

TEST(if_indextoname_loopback) {
  unsigned int lo = if_nametoindex("lo");
  char name[UV_IF_NAMESIZE];
  size_t size;

  if (lo == 0)
    nl_test_skip("no loopback interface");

  size = sizeof(name);
  CHECK_OK(uv_if_indextoname(lo, name, &size));
  CHECK_STREQ(name, "lo");
  CHECK_EQ(size, 2);

  size = sizeof(name);
  memset(name, 0, sizeof(name));
  CHECK_OK(uv_if_indextoiid(lo, name, &size));
  CHECK_STREQ(name, "lo");
  CHECK_EQ(size, 2);

  /* "lo" needs 3 bytes with its NUL: *size becomes that on ENOBUFS. */
  size = 2;
  memset(name, 'Z', sizeof(name));
  CHECK_EQ(uv_if_indextoname(lo, name, &size), UV_ENOBUFS);
  CHECK_EQ(size, 3);
  CHECK_EQ(name[0], 'Z');
  size = 1;
  CHECK_EQ(uv_if_indextoiid(lo, name, &size), UV_ENOBUFS);
  CHECK_EQ(size, 3);
  size = 3;
  CHECK_OK(uv_if_indextoname(lo, name, &size));
  CHECK_STREQ(name, "lo");
  CHECK_EQ(size, 2);
}

TEST(if_indextoname_errors) {
  char name[UV_IF_NAMESIZE];
  size_t size;

  size = sizeof(name);
  CHECK_EQ(uv_if_indextoname((unsigned int) -1, name, &size), UV_ENXIO);
  CHECK_EQ(size, sizeof(name));
  size = sizeof(name);
  CHECK_EQ(uv_if_indextoiid((unsigned int) -1, name, &size), UV_ENXIO);
  size = sizeof(name);
  CHECK_EQ(uv_if_indextoname(0, name, &size), UV_ENXIO);

  size = 0;
  CHECK_EQ(uv_if_indextoname(1, name, &size), UV_EINVAL);
  CHECK_EQ(uv_if_indextoname(1, NULL, &size), UV_EINVAL);
  CHECK_EQ(uv_if_indextoname(1, name, NULL), UV_EINVAL);
  CHECK_EQ(uv_if_indextoiid(1, name, NULL), UV_EINVAL);
}
