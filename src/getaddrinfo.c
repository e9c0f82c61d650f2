/* uv_getaddrinfo() and uv_freeaddrinfo(): name resolution by the C
 * library's getaddrinfo(3) on the worker pool's slow lane (or on the
 * caller's thread without a callback), with the host name first turned
 * into the ASCII form the resolver understands.
 */
#include "internal.h"
#include "dispatch.h"
#include "dns.h"
#include "threadpool.h"

#include <netdb.h>
#include <string.h>

/* The longest host name handed to the resolver, in bytes without the NUL.
 * It is libuv's limit; longer names are refused with UV_EINVAL, never
 * shortened. (A DNS name is at most 255 octets on the wire, i.e. 253
 * characters of text; the resolver reports the few names in between with
 * an EAI_* code of its own.) */
#define UV__HOSTNAME_MAX 255

int uv__eai_error(int eai_code) {
  switch (eai_code) {
    case 0: return 0;
    case EAI_ADDRFAMILY: return UV_EAI_ADDRFAMILY;
    case EAI_AGAIN: return UV_EAI_AGAIN;
    case EAI_BADFLAGS: return UV_EAI_BADFLAGS;
    case EAI_CANCELED: return UV_EAI_CANCELED;
    case EAI_FAIL: return UV_EAI_FAIL;
    case EAI_FAMILY: return UV_EAI_FAMILY;
    case EAI_MEMORY: return UV_EAI_MEMORY;
    case EAI_NODATA: return UV_EAI_NODATA;
    case EAI_NONAME: return UV_EAI_NONAME;
    case EAI_OVERFLOW: return UV_EAI_OVERFLOW;
    case EAI_SERVICE: return UV_EAI_SERVICE;
    case EAI_SOCKTYPE: return UV_EAI_SOCKTYPE;
    /* Reached only when EAI_SYSTEM came without an errno to tell more;
     * a failure must never read as success. */
    case EAI_SYSTEM: return UV_EAI_FAIL;
    /* glibc's extensions (EAI_INTR, EAI_IDN_ENCODE, ...) belong to
     * interfaces and flags this library does not use. */
    default: return UV_UNKNOWN;
  }
}

/* ---------------------------------------------------------------------
 * Host names to ASCII. A name is UTF-8; each label holding a non-ASCII
 * character becomes "xn--" and the label's Punycode encoding (RFC 3492),
 * other labels pass unchanged. As libuv does, this is the bare encoding
 * step of IDNA 2003's ToASCII, without nameprep's case folding or
 * normalisation, and the full stops U+3002, U+FF0E and U+FF61 separate
 * labels just like '.'.
 */
enum {
  PUNY_BASE = 36,
  PUNY_TMIN = 1,
  PUNY_TMAX = 26,
  PUNY_SKEW = 38,
  PUNY_DAMP = 700,
  PUNY_INITIAL_BIAS = 72,
  PUNY_INITIAL_N = 128
};

struct ascii_name {
  char buf[UV__HOSTNAME_MAX + 1];
  size_t len;
};

static int put(struct ascii_name* a, char c) {
  if (a->len == UV__HOSTNAME_MAX)
    return UV_EINVAL;
  a->buf[a->len++] = c;
  return 0;
}

/* Decodes the code point at *p and moves *p past it. Returns -1 for
 * anything but the shortest encoding of a Unicode scalar value: stray or
 * missing continuation bytes, overlong forms, surrogates, values above
 * U+10FFFF. */
static long utf8_next(const char** p, const char* end) {
  const unsigned char* s = (const unsigned char*) *p;
  unsigned long c = *s++;
  unsigned long min;
  int extra;

  if (c < 0x80) {
    extra = 0;
    min = 0;
  } else if (c >= 0xC2 && c <= 0xDF) {
    extra = 1;
    c &= 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    extra = 2;
    c &= 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    extra = 3;
    c &= 0x07;
    min = 0x10000;
  } else {
    *p = (const char*) s;
    return -1;
  }
  for (; extra > 0; extra--) {
    if (s == (const unsigned char*) end || (*s & 0xC0) != 0x80) {
      *p = (const char*) s;
      return -1;
    }
    c = (c << 6) | (*s++ & 0x3F);
  }
  *p = (const char*) s;
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return -1;
  return (long) c;
}

static uint32_t puny_adapt(uint32_t delta, uint32_t points, int first) {
  uint32_t k = 0;

  delta = first ? delta / PUNY_DAMP : delta / 2;
  delta += delta / points;
  while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
    delta /= PUNY_BASE - PUNY_TMIN;
    k += PUNY_BASE;
  }
  return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

static char puny_digit(uint32_t d) {
  return (char) (d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Appends "xn--" and the Punycode form of the label cp[0..n). The name
 * has at most UV__HOSTNAME_MAX code points, all below U+110000, so delta
 * stays far below 2^32. Costs O(n^2), with n at most 255. */
static int puny_label(struct ascii_name* a, const uint32_t* cp, size_t n) {
  uint32_t next = PUNY_INITIAL_N;
  uint32_t bias = PUNY_INITIAL_BIAS;
  uint32_t delta = 0;
  uint32_t m, q, k, t;
  size_t basic = 0;
  size_t done;
  size_t i;

  for (i = 0; i < 4; i++)
    if (put(a, "xn--"[i]) != 0)
      return UV_EINVAL;
  for (i = 0; i < n; i++) {
    if (cp[i] >= 0x80)
      continue;
    if (put(a, (char) cp[i]) != 0)
      return UV_EINVAL;
    basic++;
  }
  if (basic > 0 && put(a, '-') != 0)
    return UV_EINVAL;

  for (done = basic; done < n; delta++, next++) {
    m = UINT32_MAX;
    for (i = 0; i < n; i++)
      if (cp[i] >= next && cp[i] < m)
        m = cp[i];
    delta += (m - next) * (uint32_t) (done + 1);
    next = m;
    for (i = 0; i < n; i++) {
      if (cp[i] < next)
        delta++;
      if (cp[i] != next)
        continue;
      /* delta as a variable-length integer, least significant first. */
      q = delta;
      for (k = PUNY_BASE;; k += PUNY_BASE) {
        t = k <= bias ? PUNY_TMIN
                      : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;
        if (q < t)
          break;
        if (put(a, puny_digit(t + (q - t) % (PUNY_BASE - t))) != 0)
          return UV_EINVAL;
        q = (q - t) / (PUNY_BASE - t);
      }
      if (put(a, puny_digit(q)) != 0)
        return UV_EINVAL;
      bias = puny_adapt(delta, (uint32_t) (done + 1), done == basic);
      delta = 0;
      done++;
    }
  }
  return 0;
}

/* 0, or UV_EINVAL for an empty name, malformed UTF-8 or an ASCII form
 * longer than UV__HOSTNAME_MAX. */
static int hostname_to_ascii(const char* name, struct ascii_name* a) {
  uint32_t cp[UV__HOSTNAME_MAX];
  const char* end = name + strlen(name);
  size_t ncp = 0;
  size_t start;
  size_t i;
  size_t j;
  int ascii;
  long c;

  a->len = 0;
  if (name == end)
    return UV_EINVAL;
  /* Every code point yields at least one byte of output, so a name with
   * more of them than the limit is too long whatever it holds. */
  while (name < end) {
    c = utf8_next(&name, end);
    if (c < 0 || ncp == UV__HOSTNAME_MAX)
      return UV_EINVAL;
    if (c == 0x3002 || c == 0xFF0E || c == 0xFF61)
      c = '.';
    cp[ncp++] = (uint32_t) c;
  }

  /* Label by label; i stops at the dot (or the end) after each. */
  for (start = 0; start <= ncp; start = i + 1) {
    ascii = 1;
    for (i = start; i < ncp && cp[i] != '.'; i++)
      if (cp[i] >= 0x80)
        ascii = 0;
    if (!ascii) {
      if (puny_label(a, cp + start, i - start) != 0)
        return UV_EINVAL;
    } else {
      for (j = start; j < i; j++)
        if (put(a, (char) cp[j]) != 0)
          return UV_EINVAL;
    }
    if (i < ncp && put(a, '.') != 0)
      return UV_EINVAL;
  }
  a->buf[a->len] = '\0';
  return 0;
}

/* ---------------------------------------------------------------------
 * The request.
 */

/* Only the four fields that are hints are kept: getaddrinfo(3) requires
 * the others to be zero, and callers do not always clear them. */
static void copy_hints(struct addrinfo* dst, const struct addrinfo* src) {
  memset(dst, 0, sizeof(*dst));
  dst->ai_flags = src->ai_flags;
  dst->ai_family = src->ai_family;
  dst->ai_socktype = src->ai_socktype;
  dst->ai_protocol = src->ai_protocol;
}

/* The hints, host name and service share one allocation, laid out in
 * that order and starting with the first of them present; the request
 * frees it through that pointer. */
static void release_copies(uv_getaddrinfo_t* req) {
  void* block = req->hints;

  if (block == NULL)
    block = req->hostname;
  if (block == NULL)
    block = req->service;
  uv__free(block);
  req->hints = NULL;
  req->hostname = NULL;
  req->service = NULL;
}

/* Runs on a pool thread, or on the caller's for a synchronous request. */
static void lookup(struct uv__work* w) {
  uv_getaddrinfo_t* req = uv__container_of(w, uv_getaddrinfo_t, work_req);
  struct addrinfo* res = NULL;
  int err;

  err = getaddrinfo(req->hostname, req->service, req->hints, &res);
  if (err == EAI_SYSTEM && errno != 0)
    req->retcode = uv__neg_errno();
  else
    req->retcode = uv__eai_error(err);
  req->addrinfo = err == 0 ? res : NULL;
}

static void lookup_done(struct uv__work* w, int status) {
  uv_getaddrinfo_t* req = uv__container_of(w, uv_getaddrinfo_t, work_req);

  uv__req_unregister(req->loop, req);
  release_copies(req);
  /* A cancelled lookup reports libuv's DNS-specific code. */
  if (status == UV_ECANCELED) {
    assert(req->addrinfo == NULL);
    req->retcode = UV_EAI_CANCELED;
  }
  uv__dispatch_getaddrinfo(req, req->retcode, req->addrinfo);
}

int uv_getaddrinfo(uv_loop_t* loop,
                   uv_getaddrinfo_t* req,
                   uv_getaddrinfo_cb getaddrinfo_cb,
                   const char* node,
                   const char* service,
                   const struct addrinfo* hints) {
  struct ascii_name host;
  size_t hints_size;
  size_t node_size;
  size_t service_size;
  char* block;
  int err;

  if (loop == NULL || req == NULL || (node == NULL && service == NULL))
    return UV_EINVAL;
  if (uv__req_in_flight(req))
    return UV_EBUSY;
  node_size = 0;
  if (node != NULL) {
    err = hostname_to_ascii(node, &host);
    if (err != 0)
      return err;
    node_size = host.len + 1;
  }
  hints_size = hints != NULL ? sizeof(*hints) : 0;
  service_size = service != NULL ? strlen(service) + 1 : 0;
  block = uv__malloc(hints_size + node_size + service_size);
  if (block == NULL)
    return UV_ENOMEM;

  uv__req_init(loop, (uv_req_t*) req, UV_GETADDRINFO);
  req->loop = loop;
  req->cb = getaddrinfo_cb;
  req->addrinfo = NULL;
  req->retcode = 0;
  req->hints = NULL;
  req->hostname = NULL;
  req->service = NULL;
  if (hints != NULL) {
    req->hints = (struct addrinfo*) block;
    copy_hints(req->hints, hints);
    block += hints_size;
  }
  if (node != NULL) {
    req->hostname = memcpy(block, host.buf, node_size);
    block += node_size;
  }
  if (service != NULL)
    req->service = memcpy(block, service, service_size);

  if (getaddrinfo_cb == NULL) {
    lookup(&req->work_req);
    release_copies(req);
    return req->retcode;
  }
  err = uv__work_submit(loop, req, &req->work_req, NL_WORK_GETADDRINFO, lookup,
                        lookup_done);
  if (err != 0)
    release_copies(req);
  return err;
}

void uv_freeaddrinfo(struct addrinfo* ai) {
  if (ai != NULL)
    freeaddrinfo(ai);
}
