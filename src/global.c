/* Process-wide state: the allocator every internal allocation goes
 * through, and uv_library_shutdown(), which tears down what the process
 * shares (the worker pool). Nothing else in nodeloop is global.
 */
#include "internal.h"
#include "threadpool.h"

#include <stdlib.h>
#include <string.h>

struct uv__allocator {
  uv_malloc_func malloc_fn;
  uv_realloc_func realloc_fn;
  uv_calloc_func calloc_fn;
  uv_free_func free_fn;
};

static struct uv__allocator allocator = {malloc, realloc, calloc, free};

int uv_replace_allocator(uv_malloc_func malloc_func,
                         uv_realloc_func realloc_func,
                         uv_calloc_func calloc_func,
                         uv_free_func free_func) {
  if (malloc_func == NULL || realloc_func == NULL || calloc_func == NULL ||
      free_func == NULL)
    return UV_EINVAL;
  allocator.malloc_fn = malloc_func;
  allocator.realloc_fn = realloc_func;
  allocator.calloc_fn = calloc_func;
  allocator.free_fn = free_func;
  return 0;
}

/* malloc(0) may return NULL or a unique pointer; callers of uv__malloc
 * treat NULL as failure, so zero-sized requests return NULL up front. */
void* uv__malloc(size_t size) {
  if (size == 0)
    return NULL;
  return allocator.malloc_fn(size);
}

void* uv__calloc(size_t count, size_t size) {
  return allocator.calloc_fn(count, size);
}

void* uv__realloc(void* ptr, size_t size) {
  if (size == 0) {
    uv__free(ptr);
    return NULL;
  }
  return allocator.realloc_fn(ptr, size);
}

/* Like uv__realloc, but frees ptr when the reallocation fails. */
void* uv__reallocf(void* ptr, size_t size) {
  void* p = uv__realloc(ptr, size);
  if (p == NULL && size != 0)
    uv__free(ptr);
  return p;
}

void uv__free(void* ptr) {
  int saved;
  if (ptr == NULL)
    return;
  /* free() may clobber errno; callers often free on an error path and
   * still need the errno of the failed call. */
  saved = errno;
  allocator.free_fn(ptr);
  errno = saved;
}

uv_free_func uv__free_func(void) {
  return allocator.free_fn;
}

char* uv__strdup(const char* s) {
  size_t len = strlen(s) + 1;
  char* p = uv__malloc(len);
  if (p != NULL)
    memcpy(p, s, len);
  return p;
}

char* uv__strndup(const char* s, size_t n) {
  size_t len = strnlen(s, n);
  char* p = uv__malloc(len + 1);
  if (p == NULL)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

static atomic_int shutdown_done;

void uv_library_shutdown(void) {
  /* Runs at most once; later calls are no-ops, as documented. */
  if (atomic_exchange(&shutdown_done, 1) != 0)
    return;
  uv__threadpool_shutdown();
  uv__process_title_cleanup();
}
