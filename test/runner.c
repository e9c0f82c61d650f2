/* The test runner: `test-X NAME` runs one case; `test-X --list` lists
 * them; `test-X` alone runs every case of the file, each in a child;
 * `test-X --helper NAME ARGS...` runs a helper (the child side of a test
 * that spawns processes). */
#include "test.h"

#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct nl_helper* helpers;
static char exepath[4096];
static struct nl_test* tests;
static struct nl_test** tests_tail = &tests;
static const char* current = "?";
static char tmpdir[256];

void nl_test_register(struct nl_test* t) {
  *tests_tail = t;
  tests_tail = &t->next;
}

void nl_helper_register(struct nl_helper* h) {
  h->next = helpers;
  helpers = h;
}

const char* nl_test_exepath(void) {
  ssize_t n;
  if (exepath[0] != '\0')
    return exepath;
  n = readlink("/proc/self/exe", exepath, sizeof(exepath) - 1);
  if (n <= 0) {
    perror("readlink /proc/self/exe");
    abort();
  }
  exepath[n] = '\0';
  return exepath;
}

static int run_helper(int argc, char** argv) {
  struct nl_helper* h;
  for (h = helpers; h != NULL; h = h->next)
    if (strcmp(h->name, argv[0]) == 0)
      return h->fn(argc - 1, argv + 1);
  fprintf(stderr, "no helper named %s\n", argv[0]);
  return 2;
}

void nl_test_fail(const char* file, int line, const char* what) {
  fprintf(stderr, "FAIL %s: %s:%d: check failed: %s\n", current, file, line,
          what);
  fflush(stderr);
  abort();
}

void nl_test_fail_int(const char* file, int line, const char* a,
                      const char* b, int64_t va, int64_t vb) {
  fprintf(stderr, "  %s = %" PRId64 "\n  %s = %" PRId64 "\n", a, va, b, vb);
  nl_test_fail(file, line, "equality");
}

void nl_test_skip(const char* why) {
  printf("SKIP %s: %s\n", current, why);
  fflush(stdout);
  exit(77);
}

static int remove_entry(const char* path, const struct stat* st, int type,
                        struct FTW* ftw) {
  (void) st;
  (void) type;
  (void) ftw;
  remove(path);
  return 0;
}

static void remove_tmpdir(void) {
  if (tmpdir[0] != '\0')
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char* nl_test_tmpdir(void) {
  const char* base;
  if (tmpdir[0] != '\0')
    return tmpdir;
  base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf(tmpdir, sizeof(tmpdir), "%s/nl-test-XXXXXX", base);
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    abort();
  }
  atexit(remove_tmpdir);
  return tmpdir;
}

long nl_test_proc_value(const char* path, const char* key) {
  char line[256];
  size_t len = strlen(key);
  long v = -1;
  FILE* f = fopen(path, "r");

  CHECK(f != NULL);
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, key, len) == 0) {
      v = strtol(line + len, NULL, 10);
      break;
    }
  fclose(f);
  CHECK(v >= 0);
  return v;
}

/* ThreadSanitizer allocates a thread's signal state at the thread's first
 * blocking call, and a signal that lands during that allocation is lost
 * (seen: a SIGCHLD during the first epoll_wait after the ring poller's
 * waits, which TSan does not see, made the loop wait forever). One
 * blocking call at start makes the main thread's state early, for the
 * cases and the helpers. */
int nl_test_cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*) a;
  uint64_t y = *(const uint64_t*) b;

  return (x > y) - (x < y);
}

static void tsan_signal_state(void) {
  struct timespec zero = {0, 0};

  if (NL_TEST_UNDER_TSAN)
    nanosleep(&zero, NULL);
}

static int run_one(struct nl_test* t) {
  current = t->name;
  t->fn();
  return 0;
}

int main(int argc, char** argv) {
  struct nl_test* t;
  int failed = 0;

  /* Unbuffered output keeps the order of the runner's and the library's
   * messages when a case fails. */
  setvbuf(stdout, NULL, _IONBF, 0);
  tsan_signal_state();

  if (argc > 2 && strcmp(argv[1], "--helper") == 0) {
    current = argv[2];
    return run_helper(argc - 2, argv + 2);
  }

  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (t = tests; t != NULL; t = t->next)
      printf("%s\n", t->name);
    return 0;
  }

  if (argc > 1) {
    for (t = tests; t != NULL; t = t->next)
      if (strcmp(t->name, argv[1]) == 0)
        return run_one(t);
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }

  for (t = tests; t != NULL; t = t->next) {
    pid_t pid = fork();
    int status;
    if (pid == 0)
      _exit(run_one(t));
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
      printf("skip %s\n", t->name);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      printf("ok   %s\n", t->name);
    else {
      printf("FAIL %s\n", t->name);
      failed++;
    }
  }
  return failed != 0;
}
