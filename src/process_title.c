/* The process title: uv_setup_args() takes over the memory holding the
 * program's argument strings, which is what ps(1) and /proc/PID/cmdline
 * show, and uv_set_process_title() writes the title there.
 *
 * All state is behind one mutex, so getting and setting are thread-safe.
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

static pthread_mutex_t title_lock = PTHREAD_MUTEX_INITIALIZER;

/* The original argument strings, argv[0] followed by those arguments that
 * directly follow it in memory: its capacity counts the final NUL. NULL
 * before uv_setup_args() and after uv__process_title_cleanup(). */
static char* title_area;
static size_t title_capacity;
static size_t title_len;

/* What uv_setup_args() handed back: the pointer array and, in the same
 * allocation, copies of the strings. */
static char** args_copy;

char** uv_setup_args(int argc, char** argv) {
  char** copy;
  char* area_end;
  char* dst;
  size_t bytes;
  size_t n;
  int i;

  if (argc <= 0 || argv == NULL || argv[0] == NULL)
    return argv;
  /* A NULL entry before argc would end any argv the kernel built; treat
   * it as the end of this one too. */
  for (i = 0; i < argc; i++)
    if (argv[i] == NULL)
      break;
  argc = i;

  pthread_mutex_lock(&title_lock);
  if (args_copy != NULL) {
    /* Documented as "exactly once"; a second call has nothing to take
     * over, since the area is already ours. */
    pthread_mutex_unlock(&title_lock);
    return argv;
  }

  bytes = (size_t) (argc + 1) * sizeof(char*);
  area_end = argv[0];
  for (i = 0; i < argc; i++) {
    n = strlen(argv[i]) + 1;
    bytes += n;
    /* The title may spill over later arguments only while they are
     * contiguous, as the kernel lays them out. */
    if (argv[i] == area_end)
      area_end += n;
  }

  copy = uv__malloc(bytes);
  if (copy == NULL) {
    /* Without copies the area cannot be reused: no title support. */
    pthread_mutex_unlock(&title_lock);
    return argv;
  }
  dst = (char*) (copy + argc + 1);
  for (i = 0; i < argc; i++) {
    n = strlen(argv[i]) + 1;
    memcpy(dst, argv[i], n);
    copy[i] = dst;
    dst += n;
  }
  copy[argc] = NULL;

  args_copy = copy;
  title_area = argv[0];
  title_capacity = (size_t) (area_end - argv[0]);
  title_len = strlen(argv[0]);
  pthread_mutex_unlock(&title_lock);
  return copy;
}

int uv_set_process_title(const char* title) {
  size_t n;

  if (title == NULL)
    return UV_EINVAL;

  pthread_mutex_lock(&title_lock);
  if (title_area == NULL) {
    pthread_mutex_unlock(&title_lock);
    return UV_ENOBUFS;
  }
  /* The area cannot grow: the title is cut to fit, and the rest of the
   * area is cleared so that no old arguments show after it. */
  n = strnlen(title, title_capacity - 1);
  memcpy(title_area, title, n);
  memset(title_area + n, 0, title_capacity - n);
  title_len = n;
  pthread_mutex_unlock(&title_lock);

  /* Also the name in /proc/PID/comm, top and the like (the kernel keeps
   * the first 15 bytes). It names the calling thread, which is the
   * process only when called from the main thread, as in libuv. */
  prctl(PR_SET_NAME, (unsigned long) title, 0, 0, 0);
  return 0;
}

int uv_get_process_title(char* buffer, size_t size) {
  if (buffer == NULL || size == 0)
    return UV_EINVAL;

  pthread_mutex_lock(&title_lock);
  if (title_area == NULL) {
    pthread_mutex_unlock(&title_lock);
    return UV_ENOBUFS;
  }
  if (size <= title_len) {
    pthread_mutex_unlock(&title_lock);
    return UV_ENOBUFS;
  }
  memcpy(buffer, title_area, title_len);
  buffer[title_len] = '\0';
  pthread_mutex_unlock(&title_lock);
  return 0;
}

/* Called by uv_library_shutdown(): frees the copies of the arguments (the
 * argv uv_setup_args() returned is invalid afterwards, as documented) and
 * leaves the title unsupported again. */
void uv__process_title_cleanup(void) {
  pthread_mutex_lock(&title_lock);
  uv__free(args_copy);
  args_copy = NULL;
  title_area = NULL;
  title_capacity = 0;
  title_len = 0;
  pthread_mutex_unlock(&title_lock);
}
