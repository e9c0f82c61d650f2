/* Shared libraries: uv_dlopen, uv_dlsym, uv_dlclose, uv_dlerror. */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

typedef size_t (*strlen_fn)(const char*);
typedef double (*cos_fn)(double);

TEST(dlopen_libc) {
  uv_lib_t lib;
  void* sym = NULL;

  memset(&lib, 0xAA, sizeof(lib)); /* uv_dlopen initialises everything */
  CHECK_OK(uv_dlopen("libc.so.6", &lib));
  CHECK(lib.handle != NULL);
  CHECK(strstr(uv_dlerror(&lib), "no error") != NULL);

  CHECK_OK(uv_dlsym(&lib, "strlen", &sym));
  CHECK(sym != NULL);
  CHECK_EQ(((strlen_fn) sym)("nodeloop"), 8);
  CHECK(strstr(uv_dlerror(&lib), "no error") != NULL);

  uv_dlclose(&lib);
  CHECK(lib.handle == NULL);
  CHECK(lib.errmsg == NULL);
  /* Closing twice is harmless. */
  uv_dlclose(&lib);
}

TEST(dlopen_libm) {
  uv_lib_t lib;
  void* sym = NULL;

  CHECK_OK(uv_dlopen("libm.so.6", &lib));
  CHECK_OK(uv_dlsym(&lib, "cos", &sym));
  CHECK(((cos_fn) sym)(0.0) == 1.0);
  uv_dlclose(&lib);
}

TEST(dlopen_main_program) {
  uv_lib_t lib;
  void* sym = NULL;

  /* A NULL filename is the program itself and what it has loaded. */
  CHECK_OK(uv_dlopen(NULL, &lib));
  CHECK_OK(uv_dlsym(&lib, "uv_version", &sym));
  CHECK(sym != NULL);
  CHECK_EQ(((unsigned int (*)(void)) sym)(), uv_version());
  uv_dlclose(&lib);
}

TEST(dlsym_missing_symbol) {
  uv_lib_t lib;
  void* sym = &lib;
  const char* msg;

  CHECK_OK(uv_dlopen("libc.so.6", &lib));
  CHECK_EQ(uv_dlsym(&lib, "nl_no_such_symbol", &sym), -1);
  CHECK(sym == NULL);
  msg = uv_dlerror(&lib);
  CHECK(strstr(msg, "nl_no_such_symbol") != NULL);
  CHECK(strstr(msg, "no error") == NULL);

  /* A later success does not erase the last error (libuv keeps it). */
  CHECK_OK(uv_dlsym(&lib, "strlen", &sym));
  CHECK(strstr(uv_dlerror(&lib), "nl_no_such_symbol") != NULL);

  /* A new failure replaces the message; the old one is freed (the
   * sanitizer build would report a leak otherwise). */
  CHECK_EQ(uv_dlsym(&lib, "nl_other_missing", &sym), -1);
  CHECK(strstr(uv_dlerror(&lib), "nl_other_missing") != NULL);
  CHECK(strstr(uv_dlerror(&lib), "nl_no_such_symbol") == NULL);

  uv_dlclose(&lib);
  CHECK(strstr(uv_dlerror(&lib), "no error") != NULL);
}

TEST(dlopen_missing_file) {
  const char* path = "/nonexistent/nodeloop/libnl-missing.so";
  uv_lib_t lib;
  const char* msg;

  CHECK_EQ(uv_dlopen(path, &lib), -1);
  CHECK(lib.handle == NULL);
  msg = uv_dlerror(&lib);
  CHECK(msg != NULL);
  CHECK(msg[0] != '\0');
  CHECK(strstr(msg, path) != NULL);
  CHECK(strstr(msg, "no error") == NULL);
  /* Asking again gives the same message. */
  CHECK_STREQ(uv_dlerror(&lib), msg);

  /* A library that is not open has no symbols, not even the process's. */
  {
    void* sym = NULL;
    CHECK_EQ(uv_dlsym(&lib, "strlen", &sym), UV_EINVAL);
  }

  uv_dlclose(&lib);
  CHECK(lib.errmsg == NULL);
  CHECK(strstr(uv_dlerror(&lib), "no error") != NULL);
}

TEST(dlopen_not_a_library) {
  char path[512];
  uv_lib_t lib;
  int fd;

  snprintf(path, sizeof(path), "%s/junk.so", nl_test_tmpdir());
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "not an ELF file\n", 16), 16);
  CHECK_OK(close(fd));

  CHECK_EQ(uv_dlopen(path, &lib), -1);
  CHECK(strstr(uv_dlerror(&lib), path) != NULL);
  uv_dlclose(&lib);
}

TEST(dl_argument_validation) {
  uv_lib_t lib;
  void* sym;

  CHECK_EQ(uv_dlopen("libc.so.6", NULL), UV_EINVAL);
  CHECK_OK(uv_dlopen("libc.so.6", &lib));
  CHECK_EQ(uv_dlsym(NULL, "strlen", &sym), UV_EINVAL);
  CHECK_EQ(uv_dlsym(&lib, NULL, &sym), UV_EINVAL);
  CHECK_EQ(uv_dlsym(&lib, "strlen", NULL), UV_EINVAL);
  CHECK(uv_dlerror(NULL) != NULL);
  uv_dlclose(NULL);
  uv_dlclose(&lib);
}

/* An allocator that counts what it hands out and can be told to fail. */
static int live_allocs;
static int fail_allocs;

static void* counting_malloc(size_t size) {
  void* p;
  if (fail_allocs)
    return NULL;
  p = malloc(size);
  if (p != NULL)
    live_allocs++;
  return p;
}

static void* counting_realloc(void* ptr, size_t size) {
  if (ptr == NULL)
    return counting_malloc(size);
  return fail_allocs ? NULL : realloc(ptr, size);
}

static void* counting_calloc(size_t count, size_t size) {
  void* p;
  if (fail_allocs)
    return NULL;
  p = calloc(count, size);
  if (p != NULL)
    live_allocs++;
  return p;
}

static void counting_free(void* ptr) {
  if (ptr != NULL)
    live_allocs--;
  free(ptr);
}

TEST(dlerror_uses_allocator) {
  uv_lib_t lib;

  CHECK_OK(uv_replace_allocator(counting_malloc, counting_realloc,
                                counting_calloc, counting_free));
  CHECK_EQ(uv_dlopen("/nonexistent/libnl-a.so", &lib), -1);
  CHECK_EQ(live_allocs, 1);
  uv_dlclose(&lib);
  CHECK_EQ(live_allocs, 0);

  /* When the message cannot be copied, the failure still reads as one. */
  fail_allocs = 1;
  CHECK_EQ(uv_dlopen("/nonexistent/libnl-b.so", &lib), -1);
  CHECK(lib.errmsg != NULL);
  CHECK(strstr(uv_dlerror(&lib), "no error") == NULL);
  uv_dlclose(&lib);
  CHECK(lib.errmsg == NULL);
  fail_allocs = 0;
  CHECK_EQ(live_allocs, 0);
}
