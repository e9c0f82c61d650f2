/* The process's io_uring descriptors, and a way to refuse io_uring, for
 * the tests of the rings (test-uring.c, test-ring-poller.c,
 * test-multishot-poller.c). */
#ifndef NL_RING_HELPERS_H_
#define NL_RING_HELPERS_H_

#include "test.h"

#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Whether this process should be able to use io_uring: not switched off
 * (NODELOOP_IO_URING=0), and not refused by the kernel. */
static inline int ring_allowed(void) {
  const char* env = getenv("NODELOOP_IO_URING");
  FILE* f;
  int disabled = 0;

  if (env != NULL && strcmp(env, "0") == 0)
    return 0;
  f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
  if (f != NULL) {
    if (fscanf(f, "%d", &disabled) != 1)
      disabled = 0;
    fclose(f);
  }
  return disabled == 0;
}

/* Calls fn(name) for each io_uring descriptor ("7" for fd 7); returns
 * how many there are. */
static inline int ring_fds_each(void (*fn)(const char* name, void* arg),
                                void* arg) {
  char path[300], link[64];
  struct dirent* de;
  DIR* d = opendir("/proc/self/fd");
  ssize_t n;
  int count = 0;

  CHECK(d != NULL);
  while ((de = readdir(d)) != NULL) {
    snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
      continue;
    link[n] = '\0';
    if (strcmp(link, "anon_inode:[io_uring]") != 0)
      continue;
    count++;
    if (fn != NULL)
      fn(de->d_name, arg);
  }
  closedir(d);
  return count;
}

/* How many io_uring descriptors the process holds. */
static inline int ring_fds(void) {
  return ring_fds_each(NULL, NULL);
}

static inline void ring_add_sq_head(const char* name, void* arg) {
  char path[300], line[128];
  unsigned long head;
  FILE* f;

  snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", name);
  f = fopen(path, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "SqHead: %lu", &head) == 1)
      *(long*) arg += (long) head;
  fclose(f);
}

/* Entries the process's rings have taken from their submission queues
 * (the kernel's own count, from /proc/self/fdinfo). */
static inline long ring_entries_taken(void) {
  long total = 0;

  ring_fds_each(ring_add_sq_head, &total);
  return total;
}

/* From now on this process's io_uring_enter fails with EPERM (a seccomp
 * filter; io_uring_setup stays allowed, so rings made before remain). */
static inline void refuse_io_uring_enter(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & 0xffff)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};

  CHECK_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  CHECK_OK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

#endif /* NL_RING_HELPERS_H_ */
