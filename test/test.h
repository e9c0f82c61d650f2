/* nodeloop's test harness. A test file holds TEST(name) cases; the runner
 * (runner.c) runs the case named on its command line, in its own process,
 * and exits 0 (pass), 1 (fail) or 77 (skipped, with the reason printed).
 * CMake turns every TEST() line into its own ctest entry.
 */
#ifndef NL_TEST_H_
#define NL_TEST_H_

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv.h"

/* 1 in a ThreadSanitizer build (gcc defines the first, clang the
 * second), else 0. */
#if defined(__SANITIZE_THREAD__)
#define NL_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NL_TEST_UNDER_TSAN 1
#endif
#endif
#ifndef NL_TEST_UNDER_TSAN
#define NL_TEST_UNDER_TSAN 0
#endif

typedef void (*nl_test_fn)(void);

struct nl_test {
  const char* name;
  nl_test_fn fn;
  struct nl_test* next;
};

void nl_test_register(struct nl_test* t);

/* Helpers: code a test runs in a child process, by spawning its own test
 * binary as `test-X --helper NAME ARGS...` (nl_test_exepath()). The
 * helper's return value is the child's exit status. */
typedef int (*nl_helper_fn)(int argc, char** argv);

struct nl_helper {
  const char* name;
  nl_helper_fn fn;
  struct nl_helper* next;
};

void nl_helper_register(struct nl_helper* h);

/* The absolute path of the running test binary. */
const char* nl_test_exepath(void);
_Noreturn void nl_test_fail(const char* file, int line, const char* what);
_Noreturn void nl_test_fail_int(const char* file, int line, const char* a,
                                const char* b, int64_t va, int64_t vb);
_Noreturn void nl_test_skip(const char* why);

/* Closes every handle of the loop, runs it until the close callbacks have
 * run and checks that uv_loop_close() succeeds: every test ends this way so
 * that sanitizers see a clean exit. */
void nl_test_close_loop(uv_loop_t* loop);

/* The number after key on its line of a /proc file of "key value" lines
 * ("/proc/self/status", "Threads:"); fails the test if there is none. */
long nl_test_proc_value(const char* path, const char* key);

/* A scratch directory for this test process, created on first use. */
const char* nl_test_tmpdir(void);

/* qsort's comparison for uint64_t, ascending. */
int nl_test_cmp_u64(const void* a, const void* b);

#define TEST(name)                                                          \
  static void nl_test_body_##name(void);                                    \
  static struct nl_test nl_test_entry_##name = {                            \
      #name, nl_test_body_##name, NULL};                                    \
  __attribute__((constructor)) static void nl_test_ctor_##name(void) {      \
    nl_test_register(&nl_test_entry_##name);                                \
  }                                                                         \
  static void nl_test_body_##name(void)

/* HELPER(name) { ... } receives the arguments after its name. */
#define HELPER(name)                                                        \
  static int nl_helper_body_##name(int argc, char** argv);                  \
  static struct nl_helper nl_helper_entry_##name = {                        \
      #name, nl_helper_body_##name, NULL};                                  \
  __attribute__((constructor)) static void nl_helper_ctor_##name(void) {    \
    nl_helper_register(&nl_helper_entry_##name);                            \
  }                                                                         \
  static int nl_helper_body_##name(int argc, char** argv)

#define CHECK(expr)                                                         \
  do {                                                                      \
    if (!(expr))                                                            \
      nl_test_fail(__FILE__, __LINE__, #expr);                              \
  } while (0)

#define CHECK_EQ(a, b)                                                      \
  do {                                                                      \
    int64_t nl_a_ = (int64_t) (a);                                          \
    int64_t nl_b_ = (int64_t) (b);                                          \
    if (nl_a_ != nl_b_)                                                     \
      nl_test_fail_int(__FILE__, __LINE__, #a, #b, nl_a_, nl_b_);           \
  } while (0)

#define CHECK_STREQ(a, b)                                                   \
  do {                                                                      \
    const char* nl_sa_ = (a);                                               \
    const char* nl_sb_ = (b);                                               \
    if (nl_sa_ == NULL || nl_sb_ == NULL || strcmp(nl_sa_, nl_sb_) != 0) {  \
      fprintf(stderr, "  %s = \"%s\"\n  %s = \"%s\"\n", #a,                 \
              nl_sa_ ? nl_sa_ : "(null)", #b, nl_sb_ ? nl_sb_ : "(null)");  \
      nl_test_fail(__FILE__, __LINE__, #a " == " #b);                       \
    }                                                                       \
  } while (0)

#define CHECK_OK(expr) CHECK_EQ((expr), 0)

#endif /* NL_TEST_H_ */
