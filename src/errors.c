/* Error codes: names and messages of every UV_E* code, from the one
 * table in uv.h (UV_ERRNO_MAP), and the errno translation.
 */
#include "internal.h"

#include <stdio.h>

/* Unknown codes: libuv documents that uv_strerror and uv_err_name "leak a
 * few bytes" for them, i.e. the string stays valid for good. Each distinct
 * code gets one string, made on first use and kept for the life of the
 * process, on a push-only list: memory grows with the number of distinct
 * unknown codes a program meets, not with the number of calls. Lock-free,
 * so that a forked child never finds the list locked. O(n) in the codes
 * seen so far, which are a handful in any real program. */
struct unknown_code {
  struct unknown_code* next;
  int err;
  char text[40];   /* "Unknown system error -2147483648" */
};

static struct unknown_code* unknown_codes;

static const char* find_unknown(struct unknown_code* u, int err) {
  for (; u != NULL; u = u->next)
    if (u->err == err)
      return u->text;
  return NULL;
}

static const char* unknown_message(int err) {
  struct unknown_code* head;
  struct unknown_code* u;
  const char* text;

  head = __atomic_load_n(&unknown_codes, __ATOMIC_ACQUIRE);
  text = find_unknown(head, err);
  if (text != NULL)
    return text;
  u = uv__malloc(sizeof(*u));
  if (u == NULL)
    return "Unknown system error";
  u->err = err;
  snprintf(u->text, sizeof(u->text), "Unknown system error %d", err);
  u->next = head;
  while (!__atomic_compare_exchange_n(&unknown_codes, &u->next, u, 1,
                                      __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
    /* Another thread pushed meanwhile, perhaps this very code. */
    text = find_unknown(u->next, err);
    if (text != NULL) {
      uv__free(u);
      return text;
    }
  }
  return u->text;
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
