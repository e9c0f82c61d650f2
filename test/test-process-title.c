/* The process title: uv_setup_args, uv_set_process_title,
 * uv_get_process_title, and their cleanup by uv_library_shutdown. Most
 * cases hand uv_setup_args an argv laid out in a buffer of their own, as
 * the kernel lays out the real one; one uses the real argv and checks
 * what the kernel then reports for the process.
 */
/* NL_TEST_THREADED */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

static int real_argc;
static char** real_argv;

/* glibc passes main's arguments to constructors too. */
__attribute__((constructor)) static void grab_argv(int argc, char** argv,
                                                   char** envp) {
  (void) envp;
  real_argc = argc;
  real_argv = argv;
}

/* "prog\0alpha\0beta\0" in one buffer: a 16-byte contiguous area. */
static char area[16];
static char* fake_argv[4];

static char** setup_fake_args(void) {
  memcpy(area, "prog\0alpha\0beta", 16);
  fake_argv[0] = area;
  fake_argv[1] = area + 5;
  fake_argv[2] = area + 11;
  fake_argv[3] = NULL;
  return uv_setup_args(3, fake_argv);
}

static size_t read_file(const char* path, char* buf, size_t size) {
  FILE* f = fopen(path, "rb");
  size_t n;
  CHECK(f != NULL);
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n;
}

TEST(before_setup) {
  char buf[64];

  CHECK_EQ(uv_get_process_title(buf, sizeof(buf)), UV_ENOBUFS);
  CHECK_EQ(uv_set_process_title("early"), UV_ENOBUFS);
  CHECK_EQ(uv_get_process_title(buf, sizeof(buf)), UV_ENOBUFS);
  /* Argument errors come first. */
  CHECK_EQ(uv_get_process_title(NULL, sizeof(buf)), UV_EINVAL);
  CHECK_EQ(uv_get_process_title(buf, 0), UV_EINVAL);
  CHECK_EQ(uv_set_process_title(NULL), UV_EINVAL);
}

TEST(setup_without_args) {
  char* empty[1] = {NULL};
  char buf[64];

  CHECK(uv_setup_args(0, NULL) == NULL);
  CHECK(uv_setup_args(0, empty) == empty);
  CHECK(uv_setup_args(-1, empty) == empty);
  CHECK(uv_setup_args(1, empty) == empty);
  CHECK_EQ(uv_get_process_title(buf, sizeof(buf)), UV_ENOBUFS);
  CHECK_EQ(uv_set_process_title("x"), UV_ENOBUFS);
}

TEST(setup_copies_args) {
  char** argv = setup_fake_args();
  char buf[64];

  CHECK(argv != NULL);
  CHECK(argv != fake_argv);
  CHECK_STREQ(argv[0], "prog");
  CHECK_STREQ(argv[1], "alpha");
  CHECK_STREQ(argv[2], "beta");
  CHECK(argv[3] == NULL);
  CHECK(argv[0] < area || argv[0] >= area + sizeof(area));

  /* The title starts as argv[0]. */
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "prog");

  /* Setting it overwrites the original area, not the copies. */
  CHECK_OK(uv_set_process_title("new title"));
  CHECK_EQ(memcmp(area, "new title\0\0\0\0\0\0\0", 16), 0);
  CHECK_STREQ(argv[0], "prog");
  CHECK_STREQ(argv[1], "alpha");
  CHECK_STREQ(argv[2], "beta");
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "new title");

  /* No format string interpretation anywhere. */
  CHECK_OK(uv_set_process_title("%s%n%s"));
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "%s%n%s");

  /* A second setup changes nothing. */
  CHECK(uv_setup_args(3, argv) == argv);
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "%s%n%s");
}

TEST(title_truncated_to_area) {
  char buf[64];

  setup_fake_args();
  /* 16 bytes of area hold 15 characters and the NUL. */
  CHECK_OK(uv_set_process_title("0123456789abcdefghij"));
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "0123456789abcde");
  CHECK_EQ(area[15], '\0');

  CHECK_OK(uv_set_process_title(""));
  CHECK_OK(uv_get_process_title(buf, 1));
  CHECK_STREQ(buf, "");
  {
    size_t i;
    for (i = 0; i < sizeof(area); i++)
      CHECK_EQ(area[i], 0);
  }
}

TEST(get_buffer_sizes) {
  char buf[64];

  setup_fake_args();
  CHECK_OK(uv_set_process_title("abcd"));
  memset(buf, 'Z', sizeof(buf));
  CHECK_EQ(uv_get_process_title(buf, 4), UV_ENOBUFS);
  CHECK_EQ(buf[0], 'Z');
  CHECK_EQ(uv_get_process_title(buf, 1), UV_ENOBUFS);
  CHECK_OK(uv_get_process_title(buf, 5));
  CHECK_STREQ(buf, "abcd");
  CHECK_EQ(uv_get_process_title(NULL, 5), UV_EINVAL);
  CHECK_EQ(uv_get_process_title(buf, 0), UV_EINVAL);
  CHECK_EQ(uv_set_process_title(NULL), UV_EINVAL);
}

TEST(noncontiguous_args) {
  static char first[8] = "first";
  static char second[8] = "second";
  char* argv[3] = {first, second, NULL};
  char buf[64];

  /* Only argv[0]'s own bytes can hold the title here. */
  uv_setup_args(2, argv);
  CHECK_OK(uv_set_process_title("much longer title"));
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  CHECK_STREQ(buf, "much ");
  CHECK_STREQ(second, "second");
}

TEST(real_argv_shows_in_proc) {
  char want[256];
  char cmdline[512];
  char comm[64];
  char** argv;
  size_t n;

  if (real_argc < 1 || real_argv == NULL)
    nl_test_skip("main's arguments were not passed to constructors");
  argv = uv_setup_args(real_argc, real_argv);
  CHECK(argv != real_argv);
  CHECK_STREQ(argv[0], real_argv[0]);
  CHECK(real_argc < 2 || strcmp(argv[1], real_argv[1]) == 0);

  CHECK_OK(uv_set_process_title("nl-title-check"));
  CHECK_OK(uv_get_process_title(want, sizeof(want)));
  /* The runner's argv is its path and the case name: room enough. */
  CHECK_STREQ(want, "nl-title-check");

  n = read_file("/proc/self/cmdline", cmdline, sizeof(cmdline));
  CHECK(n >= strlen(want));
  CHECK_STREQ(cmdline, want);

  /* The thread name follows, cut by the kernel to 15 bytes. */
  read_file("/proc/self/comm", comm, sizeof(comm));
  CHECK_STREQ(comm, "nl-title-check\n");
  CHECK_OK(uv_set_process_title("a-title-longer-than-fifteen"));
  read_file("/proc/self/comm", comm, sizeof(comm));
  CHECK_STREQ(comm, "a-title-longer-\n");
}

TEST(shutdown_frees_args) {
  char buf[64];

  setup_fake_args();
  CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
  /* The copies are freed (the sanitizer build checks for leaks when they
   * are not) and titles are unsupported again. */
  uv_library_shutdown();
  CHECK_EQ(uv_get_process_title(buf, sizeof(buf)), UV_ENOBUFS);
  CHECK_EQ(uv_set_process_title("x"), UV_ENOBUFS);
}

static const char* const titles[] = {"title-one", "title-two-is-longer",
                                     "3", "the fourth title"};

static void* setter(void* arg) {
  int i;
  (void) arg;
  for (i = 0; i < 2000; i++)
    CHECK_OK(uv_set_process_title(titles[i % 4]));
  return NULL;
}

static atomic_int stop_getter;

static void* getter(void* arg) {
  char buf[64];
  size_t len;
  size_t k;
  int ok;
  (void) arg;
  while (!atomic_load(&stop_getter)) {
    CHECK_OK(uv_get_process_title(buf, sizeof(buf)));
    len = strlen(buf);
    CHECK(len > 0);
    /* Each read is one whole title, cut to the area, never a mix. */
    ok = 0;
    for (k = 0; k < 4; k++)
      if (strncmp(buf, titles[k], len) == 0 &&
          (len == strlen(titles[k]) || len == sizeof(area) - 1))
        ok = 1;
    CHECK(ok);
  }
  return NULL;
}

TEST(threads_set_and_get) {
  pthread_t setters[4];
  pthread_t reader;
  int i;

  setup_fake_args();
  CHECK_OK(uv_set_process_title(titles[0]));
  CHECK_OK(pthread_create(&reader, NULL, getter, NULL));
  for (i = 0; i < 4; i++)
    CHECK_OK(pthread_create(&setters[i], NULL, setter, NULL));
  for (i = 0; i < 4; i++)
    CHECK_OK(pthread_join(setters[i], NULL));
  atomic_store(&stop_getter, 1);
  CHECK_OK(pthread_join(reader, NULL));
}
