/* Shared library loading (uv_dlopen, uv_dlsym, uv_dlclose, uv_dlerror): a
 * thin layer over dlopen(3) that keeps the last error message in the
 * caller's uv_lib_t instead of the dynamic linker's thread-local slot.
 */
#include "internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* Stored in lib->errmsg when copying the linker's message fails, so that
 * a failure never reads as "no error". It is never freed. */
static char dl_oom_msg[] = "out of memory while saving the dlopen error";

static void dl_clear_error(uv_lib_t* lib) {
  if (lib->errmsg != dl_oom_msg)
    uv__free(lib->errmsg);
  lib->errmsg = NULL;
}

/* Records msg, the dynamic linker's error text, in lib. Returns -1, the
 * documented failure value of uv_dlopen() and uv_dlsym(). */
static int dl_save_error(uv_lib_t* lib, const char* msg) {
  dl_clear_error(lib);
  if (msg == NULL)
    msg = "unknown dynamic linker error";
  lib->errmsg = uv__strdup(msg);
  if (lib->errmsg == NULL)
    lib->errmsg = dl_oom_msg;
  return -1;
}

int uv_dlopen(const char* filename, uv_lib_t* lib) {
  if (lib == NULL)
    return UV_EINVAL;

  /* lib is not initialised yet: its old contents are not ours to free.
   * A NULL filename opens the main program, as dlopen(3) does. */
  lib->errmsg = NULL;
  dlerror(); /* Drops an error left pending by an earlier dl* call. */
  lib->handle = dlopen(filename, RTLD_LAZY);
  if (lib->handle == NULL)
    return dl_save_error(lib, dlerror());
  return 0;
}

void uv_dlclose(uv_lib_t* lib) {
  if (lib == NULL)
    return;
  dl_clear_error(lib);
  if (lib->handle != NULL) {
    /* Ignoring the result: the handle is gone either way. */
    dlclose(lib->handle);
    lib->handle = NULL;
  }
}

int uv_dlsym(uv_lib_t* lib, const char* name, void** ptr) {
  const char* msg;
  void* sym;

  if (lib == NULL || name == NULL || ptr == NULL)
    return UV_EINVAL;
  /* With glibc a NULL handle means RTLD_DEFAULT, a search of the whole
   * process; a library that failed to open or was closed must not
   * silently turn into that. */
  if (lib->handle == NULL)
    return UV_EINVAL;

  /* A symbol may legitimately have the value NULL, so failure is told
   * apart by dlerror(), which must be cleared before the lookup. */
  dlerror();
  sym = dlsym(lib->handle, name);
  msg = dlerror();
  *ptr = sym;
  if (msg != NULL)
    return dl_save_error(lib, msg);
  /* The message of an earlier failure stays: uv_dlerror() reports the
   * last error, not the outcome of the last call. */
  return 0;
}

const char* uv_dlerror(const uv_lib_t* lib) {
  if (lib == NULL || lib->errmsg == NULL)
    return "no error";
  return lib->errmsg;
}

/* C++'s runtime demangler, when the process has one (a C++ program such
 * as Node.js does): looked up, not linked, so that the library still
 * depends on libc alone. */
typedef char* (*demangle_fn)(const char* name, char* buf, size_t* len,
                             int* status);

char* nl__demangle(const char* name) {
  demangle_fn fn;
  void* sym;
  int status = -1;
  char* out;

  if (name == NULL || name[0] != '_' || name[1] != 'Z')
    return NULL;
  sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  if (sym == NULL)
    return NULL;
  memcpy(&fn, &sym, sizeof(fn));
  out = fn(name, NULL, NULL, &status);
  if (status != 0) {
    free(out);
    return NULL;
  }
  return out;
}
