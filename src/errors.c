/* Error codes: names and messages of every UV_E* code, from the one
 * table in uv.h (UV_ERRNO_MAP), and the errno translation.
 */
#include "internal.h"

#include <stdio.h>

/* Unknown codes get a message built on the fly. libuv leaks a heap string
 * for each; nodeloop formats into a small ring of per-thread buffers, so
 * the result stays valid across the next seven such calls on the thread
 * and nothing leaks. */
#define UV__UNKNOWN_RING 8
#define UV__UNKNOWN_LEN 48

static const char* unknown_message(int err) {
  static _Thread_local char ring[UV__UNKNOWN_RING][UV__UNKNOWN_LEN];
  static _Thread_local unsigned int next;
  char* buf = ring[next++ % UV__UNKNOWN_RING];
  snprintf(buf, UV__UNKNOWN_LEN, "Unknown system error %d", err);
  return buf;
}

static const char* known_message(int err) {
  switch (err) {
#define UV__MSG_CASE(name, msg) case UV_##name: return msg;
    UV_ERRNO_MAP(UV__MSG_CASE)
#undef UV__MSG_CASE
    default:
      return NULL;
  }
}

static const char* known_name(int err) {
  switch (err) {
#define UV__NAME_CASE(name, _) case UV_##name: return #name;
    UV_ERRNO_MAP(UV__NAME_CASE)
#undef UV__NAME_CASE
    default:
      return NULL;
  }
}

const char* uv_strerror(int err) {
  const char* msg = known_message(err);
  return msg != NULL ? msg : unknown_message(err);
}

const char* uv_err_name(int err) {
  const char* name = known_name(err);
  return name != NULL ? name : unknown_message(err);
}

static char* copy_or_format(const char* text, int err, char* buf,
                            size_t buflen) {
  if (buf == NULL || buflen == 0)
    return buf;
  if (text != NULL)
    snprintf(buf, buflen, "%s", text);
  else
    snprintf(buf, buflen, "Unknown system error %d", err);
  return buf;
}

char* uv_strerror_r(int err, char* buf, size_t buflen) {
  return copy_or_format(known_message(err), err, buf, buflen);
}

char* uv_err_name_r(int err, char* buf, size_t buflen) {
  return copy_or_format(known_name(err), err, buf, buflen);
}

/* On Unix a system error is an errno value; libuv's codes are the
 * negated values, and codes that are already negative pass through. */
int uv_translate_sys_error(int sys_errno) {
  return sys_errno <= 0 ? sys_errno : -sys_errno;
}
