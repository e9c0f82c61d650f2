/* Tests of the machine information in src/linux/sysinfo.c: memory, cgroup
 * limits, RSS, uptime, load, CPUs, interfaces and parallelism. */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Reads a small text file into buf; returns its length or -1. */
static ssize_t slurp(const char* path, char* buf, size_t cap) {
  size_t len = 0;
  int fd = open(path, O_RDONLY);

  if (fd < 0)
    return -1;
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n <= 0)
      break;
    len += (size_t) n;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t) len;
}

/* ---------------------------------------------------------------------
 * Memory.
 */
TEST(memory_consistent) {
  struct sysinfo si;
  uint64_t total = uv_get_total_memory();
  uint64_t free_mem = uv_get_free_memory();

  CHECK(total > 0);
  CHECK(free_mem > 0);
  CHECK(free_mem < total);
  /* MemTotal and sysinfo() count the same pages. */
  CHECK_OK(sysinfo(&si));
  CHECK_EQ(total, (uint64_t) si.totalram * si.mem_unit);
  /* Free means MemAvailable, which counts reclaimable cache too; it moves
   * a little between the two reads. */
  {
    static char text[16384];
    unsigned long long kb;
    const char* p;
    CHECK(slurp("/proc/meminfo", text, sizeof(text)) > 0);
    p = strstr(text, "\nMemAvailable:");
    if (p != NULL) {
      CHECK_EQ(sscanf(p, "\nMemAvailable: %llu", &kb), 1);
      CHECK(free_mem < kb * 1024 + 64 * 1024 * 1024);
      CHECK(free_mem + 64 * 1024 * 1024 > kb * 1024);
    }
  }
}

TEST(resident_set_memory) {
  size_t before;
  size_t after;
  size_t n = 64 * 1024 * 1024;
  size_t i;
  char* block;
  char statm[256];
  unsigned long size_pages;
  unsigned long resident_pages;
  long page = sysconf(_SC_PAGESIZE);

  CHECK_EQ(uv_resident_set_memory(NULL), UV_EINVAL);
  CHECK_OK(uv_resident_set_memory(&before));
  CHECK(before > 0);
  CHECK(before % (size_t) page == 0);

  /* Touching 64 MiB must show up. */
  block = malloc(n);
  CHECK(block != NULL);
  /* Through a volatile pointer, so the compiler cannot drop the stores. */
  for (i = 0; i < n; i += 1024)
    ((volatile char*) block)[i] = 1;
  CHECK_OK(uv_resident_set_memory(&after));
  CHECK(after >= before + n / 2);

  /* /proc/self/statm counts the same pages. */
  CHECK(slurp("/proc/self/statm", statm, sizeof(statm)) > 0);
  CHECK_EQ(sscanf(statm, "%lu %lu", &size_pages, &resident_pages), 2);
  CHECK(after <= resident_pages * (size_t) page + 4 * 1024 * 1024);
  CHECK(after + 4 * 1024 * 1024 >= resident_pages * (size_t) page);
  free(block);
}

/* The command name is field 2 of /proc/self/stat, in parentheses; one that
 * holds ") " must not shift the fields after it. */
TEST(resident_set_memory_odd_comm) {
  size_t rss;
  char statm[256];
  unsigned long size_pages;
  unsigned long resident_pages;
  long page = sysconf(_SC_PAGESIZE);

  CHECK_OK(prctl(PR_SET_NAME, "a) b (c) 1 2 3", 0, 0, 0));
  CHECK_OK(uv_resident_set_memory(&rss));
  CHECK(slurp("/proc/self/statm", statm, sizeof(statm)) > 0);
  CHECK_EQ(sscanf(statm, "%lu %lu", &size_pages, &resident_pages), 2);
  CHECK(rss <= resident_pages * (size_t) page + 1024 * 1024);
  CHECK(rss + 1024 * 1024 >= resident_pages * (size_t) page);
}

/* ---------------------------------------------------------------------
 * cgroup memory limits. Where we may create cgroups (root, cgroup v1
 * memory hierarchy or v2 with the memory controller delegated), a child
 * process is moved into a fresh group with a known limit.
 */
struct cg_layout {
  char dir[PATH_MAX];  /* our own cgroup's directory */
  const char* limit_file;
  int v1;
};

static int find_own_cgroup(struct cg_layout* cg) {
  char text[4096];
  char* line;
  char* save;
  char v2path[PATH_MAX] = "";

  if (slurp("/proc/self/cgroup", text, sizeof(text)) <= 0)
    return 0;
  for (line = strtok_r(text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    char* ctrl = strchr(line, ':');
    char* rel = ctrl != NULL ? strchr(ctrl + 1, ':') : NULL;
    if (rel == NULL)
      continue;
    *rel++ = '\0';
    if (strcmp(ctrl + 1, "memory") == 0) {
      if (snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup/memory%s", rel) >=
          (int) sizeof(cg->dir))
        return 0;
      cg->limit_file = "memory.limit_in_bytes";
      cg->v1 = 1;
      return 1;
    }
    if (ctrl + 1 == rel - 1 && line[0] == '0')
      snprintf(v2path, sizeof(v2path), "%s", rel);
  }
  if (v2path[0] == '\0')
    return 0;
  if (snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup%s", v2path) >=
      (int) sizeof(cg->dir))
    return 0;
  cg->limit_file = "memory.max";
  cg->v1 = 0;
  return 1;
}

static int write_file(const char* dir, const char* name, const char* value) {
  char path[PATH_MAX + 64];
  ssize_t n;
  int fd;

  if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
    return -1;
  fd = open(path, O_WRONLY);
  if (fd < 0)
    return -1;
  n = write(fd, value, strlen(value));
  close(fd);
  return n == (ssize_t) strlen(value) ? 0 : -1;
}

/* Runs uv_get_constrained_memory() in a child placed in group dir. */
static uint64_t constrained_in(const char* dir) {
  int fds[2];
  uint64_t v = UINT64_MAX;
  pid_t pid;
  int status;

  CHECK_OK(pipe(fds));
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char me[32];
    snprintf(me, sizeof(me), "%d\n", (int) getpid());
    if (write_file(dir, "cgroup.procs", me) != 0)
      _exit(3);
    v = uv_get_constrained_memory();
    _exit(write(fds[1], &v, sizeof(v)) == sizeof(v) ? 0 : 4);
  }
  close(fds[1]);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) {
    close(fds[0]);
    nl_test_skip("cannot move a process into a new cgroup");
  }
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_EQ(read(fds[0], &v, sizeof(v)), sizeof(v));
  close(fds[0]);
  return v;
}

static char cg_outer[PATH_MAX + 32];
static char cg_inner[PATH_MAX + 64];
static char cg_free[PATH_MAX + 64];

static void remove_test_cgroups(void) {
  /* Empty groups (the children have exited) can be removed. */
  rmdir(cg_inner);
  rmdir(cg_free);
  rmdir(cg_outer);
}

TEST(constrained_memory_cgroup) {
  struct cg_layout cg;
  uint64_t own = uv_get_constrained_memory();
  uint64_t v;

  if (!find_own_cgroup(&cg))
    nl_test_skip("no cgroup");
  snprintf(cg_outer, sizeof(cg_outer), "%s/nl-test-%d", cg.dir,
           (int) getpid());
  if (mkdir(cg_outer, 0755) != 0)
    nl_test_skip("cannot create a cgroup here");
  snprintf(cg_inner, sizeof(cg_inner), "%s/inner", cg_outer);
  snprintf(cg_free, sizeof(cg_free), "%s/free", cg_outer);
  atexit(remove_test_cgroups);
  if (!cg.v1)
    write_file(cg_outer, "cgroup.subtree_control", "+memory");
  CHECK_OK(mkdir(cg_inner, 0755));

  if (write_file(cg_outer, cg.limit_file, "67108864") != 0)
    nl_test_skip("cannot set a memory limit");
  if (write_file(cg_inner, cg.limit_file, "134217728") != 0)
    nl_test_skip("cannot set a memory limit");

  /* The parent's smaller limit binds the inner group too. */
  v = constrained_in(cg_inner);
  if (own == 0 || own > 67108864)
    CHECK_EQ(v, 67108864);
  else
    CHECK_EQ(v, own);

  /* Inner limit below the outer one: the inner one wins. */
  CHECK_OK(write_file(cg_inner, cg.limit_file, "33554432"));
  v = constrained_in(cg_inner);
  if (own == 0 || own > 33554432)
    CHECK_EQ(v, 33554432);

  /* A group with no limit of its own under an unlimited parent: 0, or
   * whatever limits us already. */
  CHECK_OK(write_file(cg_outer, cg.limit_file, cg.v1 ? "-1" : "max"));
  CHECK_OK(mkdir(cg_free, 0755));
  v = constrained_in(cg_free);
  CHECK_EQ(v, own);
}

TEST(constrained_memory_here) {
  uint64_t v = uv_get_constrained_memory();
  /* Either unconstrained (0) or a real number, never the "no limit"
   * sentinels of cgroup v1 (LONG_MAX rounded to a page) or UINT64_MAX. */
  CHECK(v < (uint64_t) LONG_MAX / 2);
}

/* ---------------------------------------------------------------------
 * Uptime and load.
 */
TEST(uptime) {
  struct timespec ts;
  double up;

  CHECK_EQ(uv_uptime(NULL), UV_EINVAL);
  CHECK_OK(uv_uptime(&up));
  CHECK_OK(clock_gettime(CLOCK_BOOTTIME, &ts));
  CHECK(up > 0);
  /* /proc/uptime may be a container's, never later than the boot clock. */
  CHECK(up <= (double) ts.tv_sec + 2);
}

TEST(loadavg) {
  double avg[3] = {-1, -1, -1};
  struct sysinfo si;

  uv_loadavg(avg);
  CHECK(avg[0] >= 0 && avg[1] >= 0 && avg[2] >= 0);
  CHECK(avg[0] == avg[0]);
  CHECK_OK(sysinfo(&si));
  /* The kernel updates the averages every 5 seconds. */
  CHECK(avg[2] <= (double) si.loads[2] / 65536.0 + 1.0);
  uv_loadavg(NULL);
}

/* ---------------------------------------------------------------------
 * CPUs.
 */
TEST(cpu_info) {
  uv_cpu_info_t* cpus;
  uv_cpu_info_t* later;
  static char text[1 << 20];
  int count;
  int count2;
  int i;

  CHECK_OK(uv_cpu_info(&cpus, &count));
  CHECK_EQ(count, sysconf(_SC_NPROCESSORS_ONLN));
  CHECK(slurp("/proc/cpuinfo", text, sizeof(text)) > 0);
  for (i = 0; i < count; i++) {
    CHECK(cpus[i].model != NULL && cpus[i].model[0] != '\0');
    CHECK(cpus[i].speed >= 0);
    CHECK(cpus[i].cpu_times.user + cpus[i].cpu_times.sys +
          cpus[i].cpu_times.idle > 0);
    /* Where the kernel names a model, it is the one we report. */
    if (strstr(text, "model name") != NULL) {
      char line[512];
      snprintf(line, sizeof(line), ": %s\n", cpus[i].model);
      CHECK(strstr(text, line) != NULL);
    }
  }
  if (strstr(text, "cpu MHz") != NULL)
    CHECK(cpus[0].speed > 0);

  /* CPU times only grow. */
  CHECK_OK(uv_cpu_info(&later, &count2));
  CHECK_EQ(count2, count);
  for (i = 0; i < count; i++) {
    CHECK(later[i].cpu_times.user >= cpus[i].cpu_times.user);
    CHECK(later[i].cpu_times.sys >= cpus[i].cpu_times.sys);
    CHECK(later[i].cpu_times.idle >= cpus[i].cpu_times.idle);
  }
  uv_free_cpu_info(later, count2);
  uv_free_cpu_info(cpus, count);
}

/* /proc/stat counts in USER_HZ ticks; the API wants milliseconds. */
TEST(cpu_info_times_in_ms) {
  uv_cpu_info_t* cpus;
  char text[4096];
  unsigned long long user;
  long hz = sysconf(_SC_CLK_TCK);
  int count;

  CHECK(slurp("/proc/stat", text, sizeof(text)) > 0);
  CHECK_OK(uv_cpu_info(&cpus, &count));
  /* The line after the aggregate "cpu" line is cpu0. */
  CHECK_EQ(sscanf(strchr(text, '\n') + 1, "cpu0 %llu", &user), 1);
  CHECK(cpus[0].cpu_times.user >= user * 1000 / (unsigned long long) hz);
  CHECK(cpus[0].cpu_times.user <=
        (user + 100 * (unsigned long long) hz) * 1000 /
            (unsigned long long) hz);
  uv_free_cpu_info(cpus, count);
}

TEST(cpu_info_invalid) {
  uv_cpu_info_t* cpus;
  int count;

  CHECK_EQ(uv_cpu_info(NULL, &count), UV_EINVAL);
  CHECK_EQ(uv_cpu_info(&cpus, NULL), UV_EINVAL);
  uv_free_cpu_info(NULL, 0);
}

TEST(available_parallelism) {
  cpu_set_t set;
  cpu_set_t one;
  int first;

  CHECK_OK(sched_getaffinity(0, sizeof(set), &set));
  CHECK_EQ(uv_available_parallelism(), CPU_COUNT(&set));
  CHECK(uv_available_parallelism() >= 1);

  /* Pinned to one CPU, we have one. */
  for (first = 0; !CPU_ISSET(first, &set); first++)
    ;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  CHECK_OK(sched_setaffinity(0, sizeof(one), &one));
  CHECK_EQ(uv_available_parallelism(), 1);
}

/* ---------------------------------------------------------------------
 * Network interfaces.
 */
TEST(interface_addresses) {
  uv_interface_address_t* addrs;
  struct ifaddrs* all;
  struct ifaddrs* ifa;
  unsigned int up = IFF_UP | IFF_RUNNING;
  int expected = 0;
  int loopback4 = 0;
  int count;
  int i;

  CHECK_OK(getifaddrs(&all));
  for (ifa = all; ifa != NULL; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == NULL || (ifa->ifa_flags & up) != up)
      continue;
    if (ifa->ifa_addr->sa_family == AF_INET ||
        ifa->ifa_addr->sa_family == AF_INET6)
      expected++;
  }
  freeifaddrs(all);

  CHECK_OK(uv_interface_addresses(&addrs, &count));
  CHECK_EQ(count, expected);
  for (i = 0; i < count; i++) {
    int family = addrs[i].address.address4.sin_family;
    unsigned int index = if_nametoindex(addrs[i].name);

    CHECK(family == AF_INET || family == AF_INET6);
    CHECK(index != 0);
    if (family == AF_INET &&
        addrs[i].address.address4.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
      char mask[INET_ADDRSTRLEN];
      loopback4++;
      CHECK_EQ(addrs[i].is_internal, 1);
      CHECK(inet_ntop(AF_INET, &addrs[i].netmask.netmask4.sin_addr, mask,
                      sizeof(mask)) != NULL);
      CHECK_STREQ(mask, "255.0.0.0");
      CHECK(memcmp(addrs[i].phys_addr, "\0\0\0\0\0\0", 6) == 0);
    }
    if (family == AF_INET6 &&
        memcmp(&addrs[i].address.address6.sin6_addr, &in6addr_loopback,
               sizeof(in6addr_loopback)) == 0)
      CHECK_EQ(addrs[i].is_internal, 1);
    if (strcmp(addrs[i].name, "lo") != 0 && family == AF_INET &&
        addrs[i].address.address4.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
      CHECK_EQ(addrs[i].is_internal, 0);
  }
  if (if_nametoindex("lo") != 0 && expected > 0)
    CHECK_EQ(loopback4, 1);
  uv_free_interface_addresses(addrs, count);
}

TEST(interface_addresses_invalid) {
  uv_interface_address_t* addrs;
  int count;

  CHECK_EQ(uv_interface_addresses(NULL, &count), UV_EINVAL);
  CHECK_EQ(uv_interface_addresses(&addrs, NULL), UV_EINVAL);
  uv_free_interface_addresses(NULL, 0);
}
