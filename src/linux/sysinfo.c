/* What Linux reports about the machine: memory, cgroup limits, uptime,
 * load, CPUs, network interfaces and the parallelism available to us.
 * Each /proc file is read and parsed in exactly one function below.
 */
#include "internal.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Reading and parsing helpers.
 */

/* Reads a whole procfs or sysfs file into a NUL-terminated heap string.
 * These files claim size 0 in stat() and may hand out their contents in
 * several short reads, so read until EOF rather than trusting a size. */
static int read_file(const char* path, char** text) {
  size_t cap;
  size_t len;
  char* buf;
  int fd;

  *text = NULL;
  do
    fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return uv__neg_errno();

  cap = 4096;
  len = 0;
  buf = uv__malloc(cap);
  if (buf == NULL) {
    close(fd);
    return UV_ENOMEM;
  }
  for (;;) {
    ssize_t n;

    if (cap - len < 2) {
      buf = uv__reallocf(buf, cap * 2);
      if (buf == NULL) {
        close(fd);
        return UV_ENOMEM;
      }
      cap *= 2;
    }
    n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = uv__neg_errno();
      uv__free(buf);
      close(fd);
      return err;
    }
    if (n == 0)
      break;
    len += (size_t) n;
  }
  /* Linux closes the descriptor even when close() reports EINTR, so it is
   * not retried. */
  close(fd);
  buf[len] = '\0';
  *text = buf;
  return 0;
}

/* Parses a decimal unsigned number at *p and advances past it; returns 0
 * when no digit is there. Saturates rather than wrapping. */
static int parse_u64(const char** p, uint64_t* out) {
  const char* s = *p;
  uint64_t v = 0;

  while (*s == ' ' || *s == '\t')
    s++;
  if (*s < '0' || *s > '9')
    return 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    unsigned d = (unsigned) (*s - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  *out = v;
  *p = s;
  return 1;
}

/* Parses "123.45" without strtod(), whose decimal point follows the
 * process's LC_NUMERIC locale while the kernel always writes '.'. */
static int parse_decimal(const char** p, double* out) {
  uint64_t whole;
  double frac;
  double scale;
  const char* s;

  if (!parse_u64(p, &whole))
    return 0;
  s = *p;
  frac = 0;
  if (*s == '.') {
    for (s++, scale = 0.1; *s >= '0' && *s <= '9'; s++, scale /= 10)
      frac += (*s - '0') * scale;
  }
  *out = (double) whole + frac;
  *p = s;
  return 1;
}

/* The line after the one p points into, or NULL at the end of the text. */
static const char* next_line(const char* p) {
  p = strchr(p, '\n');
  return p != NULL ? p + 1 : NULL;
}

static size_t page_size(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t) n : 4096;
}

/* ---------------------------------------------------------------------
 * Memory.
 */

/* A field of /proc/meminfo in bytes, or 0 when it is missing. */
static uint64_t meminfo_bytes(const char* field) {
  size_t flen = strlen(field);
  const char* p;
  uint64_t kb;
  char* text;

  if (read_file("/proc/meminfo", &text) != 0)
    return 0;
  kb = 0;
  for (p = text; p != NULL; p = next_line(p)) {
    const char* v = p + flen + 1;
    if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
      /* Every value is in kB, whatever the unit label says. */
      if (!parse_u64(&v, &kb))
        kb = 0;
      break;
    }
  }
  uv__free(text);
  return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

/* MemAvailable (Linux 3.14+) counts reclaimable cache as available, which
 * is what callers mean by "free"; sysinfo's freeram does not. */
uint64_t uv_get_free_memory(void) {
  struct sysinfo si;
  uint64_t n = meminfo_bytes("MemAvailable");

  if (n != 0)
    return n;
  if (sysinfo(&si) != 0)
    return 0;
  return (uint64_t) si.freeram * si.mem_unit;
}

uint64_t uv_get_total_memory(void) {
  struct sysinfo si;
  uint64_t n = meminfo_bytes("MemTotal");

  if (n != 0)
    return n;
  if (sysinfo(&si) != 0)
    return 0;
  return (uint64_t) si.totalram * si.mem_unit;
}

int uv_resident_set_memory(size_t* rss) {
  const char* p;
  uint64_t pages;
  char* text;
  int field;
  int rc;

  if (rss == NULL)
    return UV_EINVAL;
  rc = read_file("/proc/self/stat", &text);
  if (rc != 0)
    return rc;
  /* Field 2, the command name, is in parentheses and may itself hold
   * spaces and ')', so counting starts after the last ')'. Field 24 is
   * the resident set in pages. */
  p = strrchr(text, ')');
  rc = UV_EIO;
  if (p != NULL) {
    p++;
    for (field = 3; field < 24 && p != NULL; field++) {
      while (*p == ' ')
        p++;
      p = strchr(p, ' ');
    }
    if (p != NULL && parse_u64(&p, &pages)) {
      *rss = (size_t) (pages * page_size());
      rc = 0;
    }
  }
  uv__free(text);
  return rc;
}

/* ---------------------------------------------------------------------
 * The memory limit of our cgroup. With cgroup v1 the memory controller has
 * its own hierarchy, mounted at /sys/fs/cgroup/memory; with v2 there is one
 * hierarchy at /sys/fs/cgroup. An ancestor's limit binds us too, so the
 * lowest limit on the way to the root wins. Inside a container without a
 * cgroup namespace /proc/self/cgroup shows the host's path while the mount
 * shows only the container's own group; missing levels are skipped, so the
 * mount's root file still answers.
 */

/* Finds our memory cgroup in /proc/self/cgroup: the v1 line that lists the
 * memory controller if there is one (it then owns memory, even on hybrid
 * systems), else the v2 line "0::path". Returns 1 for v1, 2 for v2 and 0
 * when neither is there. */
static int own_memory_cgroup(char* path, size_t cap) {
  const char* line;
  char* text;
  int version;

  if (read_file("/proc/self/cgroup", &text) != 0)
    return 0;
  version = 0;
  for (line = text; line != NULL; line = next_line(line)) {
    const char* ctrl = strchr(line, ':');
    const char* rel = ctrl != NULL ? strchr(ctrl + 1, ':') : NULL;
    const char* end;
    int v1;

    if (rel == NULL)
      continue;
    end = strchr(rel, '\n');
    if (end == NULL)
      end = rel + strlen(rel);
    if (ctrl + 1 == rel) {
      if (version != 0 || strncmp(line, "0:", 2) != 0)
        continue;
      v1 = 0;
    } else {
      /* The controller list is comma separated, e.g. "cpu,cpuacct". */
      const char* c = ctrl + 1;
      v1 = 0;
      while (c < rel && !v1) {
        const char* comma = memchr(c, ',', (size_t) (rel - c));
        const char* stop = comma != NULL ? comma : rel;
        v1 = stop - c == 6 && memcmp(c, "memory", 6) == 0;
        c = stop + 1;
      }
      if (!v1)
        continue;
    }
    if ((size_t) (end - rel) > cap)
      continue;
    memcpy(path, rel + 1, (size_t) (end - rel - 1));
    path[end - rel - 1] = '\0';
    version = v1 ? 1 : 2;
    if (v1)
      break;
  }
  uv__free(text);
  return version;
}

/* A limit file's value; 0 when it is missing or says there is no limit. */
static uint64_t read_limit(const char* file) {
  const char* p;
  uint64_t v;
  uint64_t none;
  char* text;

  if (read_file(file, &text) != 0)
    return 0;
  p = text;
  /* v2 writes "max"; v1 writes the largest page count it can represent
   * times the page size, i.e. LONG_MAX rounded down to a page. */
  none = (uint64_t) LONG_MAX / page_size() * page_size();
  if (!parse_u64(&p, &v) || v >= none)
    v = 0;
  uv__free(text);
  return v;
}

uint64_t uv_get_constrained_memory(void) {
  char rel[PATH_MAX];
  char file[PATH_MAX + 64];
  const char* base;
  const char* name;
  uint64_t best;
  int version;

  version = own_memory_cgroup(rel, sizeof(rel));
  if (version == 0)
    return 0;
  if (version == 1) {
    base = "/sys/fs/cgroup/memory";
    name = "memory.limit_in_bytes";
  } else {
    base = "/sys/fs/cgroup";
    name = "memory.max";
  }

  best = 0;
  for (;;) {
    char* slash;
    uint64_t v;

    /* rel starts with '/', or is empty at the root. */
    snprintf(file, sizeof(file), "%s%s/%s", base, rel, name);
    v = read_limit(file);
    if (v != 0 && (best == 0 || v < best))
      best = v;
    if (rel[0] == '\0')
      break;
    slash = strrchr(rel, '/');
    if (slash == NULL)
      break;
    *slash = '\0';
  }
  return best;
}

/* ---------------------------------------------------------------------
 * Uptime and load.
 */

/* /proc/uptime reflects a container's own boot time where a namespace
 * layer (lxcfs, time namespaces) adjusts it; CLOCK_BOOTTIME is the
 * fallback and includes time spent suspended, as uptime does. */
int uv_uptime(double* uptime) {
  struct timespec ts;
  const char* p;
  char* text;
  int ok;

  if (uptime == NULL)
    return UV_EINVAL;
  if (read_file("/proc/uptime", &text) == 0) {
    p = text;
    ok = parse_decimal(&p, uptime);
    uv__free(text);
    if (ok)
      return 0;
  }
  if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
    return uv__neg_errno();
  *uptime = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
  return 0;
}

void uv_loadavg(double avg[3]) {
  struct sysinfo si;

  if (avg == NULL)
    return;
  if (sysinfo(&si) != 0) {
    avg[0] = avg[1] = avg[2] = 0;
    return;
  }
  /* The kernel keeps load averages in fixed point, SI_LOAD_SHIFT bits. */
  avg[0] = (double) si.loads[0] / (1 << SI_LOAD_SHIFT);
  avg[1] = (double) si.loads[1] / (1 << SI_LOAD_SHIFT);
  avg[2] = (double) si.loads[2] / (1 << SI_LOAD_SHIFT);
}

/* ---------------------------------------------------------------------
 * CPUs. /proc/stat lists exactly the online CPUs, so it fixes the count
 * and order; /proc/cpuinfo adds model and speed, matched by CPU number.
 */
struct cpu_scan {
  unsigned id;
  const char* model;
  size_t model_len;
  int speed;
  struct uv_cpu_times_s times;
};

/* Parses the "cpuN user nice system idle iowait irq ..." lines. Times are
 * in USER_HZ ticks. */
static int scan_proc_stat(struct cpu_scan** out, size_t* count) {
  struct cpu_scan* cpus;
  const char* line;
  uint64_t hz;
  size_t cap;
  size_t n;
  char* text;
  long tck;
  int rc;

  rc = read_file("/proc/stat", &text);
  if (rc != 0)
    return rc;
  tck = sysconf(_SC_CLK_TCK);
  hz = tck > 0 ? (uint64_t) tck : 100;

  cpus = NULL;
  cap = 0;
  n = 0;
  for (line = text; line != NULL; line = next_line(line)) {
    uint64_t id;
    uint64_t f[6];
    const char* p;
    int i;

    if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
      continue;
    p = line + 3;
    if (!parse_u64(&p, &id) || id > UINT_MAX)
      continue;
    for (i = 0; i < 6; i++)
      if (!parse_u64(&p, &f[i]))
        f[i] = 0;
    if (n == cap) {
      cap = cap == 0 ? 16 : cap * 2;
      cpus = uv__reallocf(cpus, cap * sizeof(*cpus));
      if (cpus == NULL) {
        uv__free(text);
        return UV_ENOMEM;
      }
    }
    memset(&cpus[n], 0, sizeof(cpus[n]));
    cpus[n].id = (unsigned) id;
    cpus[n].times.user = f[0] * 1000 / hz;
    cpus[n].times.nice = f[1] * 1000 / hz;
    cpus[n].times.sys = f[2] * 1000 / hz;
    cpus[n].times.idle = f[3] * 1000 / hz;
    /* f[4] is iowait, which libuv reports nowhere. */
    cpus[n].times.irq = f[5] * 1000 / hz;
    n++;
  }
  uv__free(text);
  if (n == 0) {
    uv__free(cpus);
    return UV_EIO;
  }
  *out = cpus;
  *count = n;
  return 0;
}

static struct cpu_scan* find_cpu(struct cpu_scan* cpus, size_t n,
                                 unsigned id) {
  size_t i;

  /* CPUs are listed in ascending order, so the index is a good guess. */
  if (id < n && cpus[id].id == id)
    return &cpus[id];
  for (i = 0; i < n; i++)
    if (cpus[i].id == id)
      return &cpus[i];
  return NULL;
}

/* Copies model names and speeds from cpuinfo (kept alive in *text, which
 * the models point into). Keys differ by architecture: x86 and some ARM
 * say "model name" and "cpu MHz", PowerPC "cpu" and "clock", MIPS "cpu
 * model"; arm64 names no model at all. */
static void scan_proc_cpuinfo(struct cpu_scan* cpus, size_t n, char** text) {
  struct cpu_scan* cur;
  const char* line;

  if (read_file("/proc/cpuinfo", text) != 0)
    return;
  cur = NULL;
  for (line = *text; line != NULL; line = next_line(line)) {
    const char* colon = strchr(line, ':');
    const char* eol = strchr(line, '\n');
    const char* key_end;
    const char* v;
    size_t klen;

    if (eol == NULL)
      eol = line + strlen(line);
    if (colon == NULL || colon > eol)
      continue;
    for (key_end = colon; key_end > line && (key_end[-1] == ' ' ||
         key_end[-1] == '\t'); key_end--)
      ;
    klen = (size_t) (key_end - line);
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;

    if (klen == 9 && memcmp(line, "processor", 9) == 0) {
      uint64_t id;
      const char* p = v;
      cur = parse_u64(&p, &id) && id <= UINT_MAX
                ? find_cpu(cpus, n, (unsigned) id)
                : NULL;
    } else if (cur == NULL) {
      continue;
    } else if ((klen == 10 && memcmp(line, "model name", 10) == 0) ||
               (klen == 9 && memcmp(line, "cpu model", 9) == 0) ||
               (klen == 3 && memcmp(line, "cpu", 3) == 0)) {
      if (cur->model == NULL) {
        cur->model = v;
        cur->model_len = (size_t) (eol - v);
      }
    } else if ((klen == 7 && memcmp(line, "cpu MHz", 7) == 0) ||
               (klen == 5 && memcmp(line, "clock", 5) == 0)) {
      uint64_t mhz;
      const char* p = v;
      if (cur->speed == 0 && parse_u64(&p, &mhz) && mhz <= INT_MAX)
        cur->speed = (int) mhz;
    }
  }
}

/* The current frequency from cpufreq, in MHz, or 0. */
static int cpufreq_mhz(unsigned id) {
  char path[96];
  const char* p;
  uint64_t khz;
  char* text;
  int mhz;

  snprintf(path, sizeof(path),
           "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_cur_freq", id);
  if (read_file(path, &text) != 0)
    return 0;
  p = text;
  mhz = parse_u64(&p, &khz) && khz / 1000 <= INT_MAX ? (int) (khz / 1000) : 0;
  uv__free(text);
  return mhz;
}

/* One allocation holds the array and, after it, the model strings, so
 * uv_free_cpu_info() has a single block to free. */
int uv_cpu_info(uv_cpu_info_t** cpu_infos, int* count) {
  static const char unknown[] = "unknown";
  struct cpu_scan* cpus;
  uv_cpu_info_t* infos;
  char* cpuinfo;
  char* pool;
  size_t bytes;
  size_t n;
  size_t i;
  int rc;

  if (cpu_infos == NULL || count == NULL)
    return UV_EINVAL;
  *cpu_infos = NULL;
  *count = 0;

  rc = scan_proc_stat(&cpus, &n);
  if (rc != 0)
    return rc;
  if (n > INT_MAX) {
    uv__free(cpus);
    return UV_ENOMEM;
  }
  cpuinfo = NULL;
  scan_proc_cpuinfo(cpus, n, &cpuinfo);

  bytes = 0;
  for (i = 0; i < n; i++) {
    if (cpus[i].model == NULL) {
      cpus[i].model = unknown;
      cpus[i].model_len = sizeof(unknown) - 1;
    }
    if (cpus[i].speed == 0)
      cpus[i].speed = cpufreq_mhz(cpus[i].id);
    bytes += cpus[i].model_len + 1;
  }

  infos = uv__malloc(n * sizeof(*infos) + bytes);
  if (infos == NULL) {
    uv__free(cpuinfo);
    uv__free(cpus);
    return UV_ENOMEM;
  }
  pool = (char*) (infos + n);
  for (i = 0; i < n; i++) {
    memcpy(pool, cpus[i].model, cpus[i].model_len);
    pool[cpus[i].model_len] = '\0';
    infos[i].model = pool;
    pool += cpus[i].model_len + 1;
    infos[i].speed = cpus[i].speed;
    infos[i].cpu_times = cpus[i].times;
  }
  uv__free(cpuinfo);
  uv__free(cpus);

  *cpu_infos = infos;
  *count = (int) n;
  return 0;
}

void uv_free_cpu_info(uv_cpu_info_t* cpu_infos, int count) {
  (void) count;
  uv__free(cpu_infos);
}

/* sched_getaffinity fails with EINVAL when the mask is smaller than the
 * kernel's CPU id space, so the mask grows until it fits. */
unsigned int uv_available_parallelism(void) {
  size_t ncpu;
  long online;

  for (ncpu = CPU_SETSIZE; ncpu <= (size_t) 1 << 20; ncpu *= 2) {
    size_t size = CPU_ALLOC_SIZE(ncpu);
    cpu_set_t* set = uv__malloc(size);
    int r;
    int n;

    if (set == NULL)
      break;
    CPU_ZERO_S(size, set);
    r = sched_getaffinity(0, size, set);
    n = r == 0 ? CPU_COUNT_S(size, set) : 0;
    if (r != 0 && errno == EINVAL) {
      uv__free(set);
      continue;
    }
    uv__free(set);
    if (n > 0)
      return (unsigned) n;
    break;
  }
  online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? (unsigned) online : 1;
}

/* ---------------------------------------------------------------------
 * Network interfaces.
 */
static int wanted_ifaddr(const struct ifaddrs* ifa) {
  unsigned int up = IFF_UP | IFF_RUNNING;

  if (ifa->ifa_addr == NULL || (ifa->ifa_flags & up) != up)
    return 0;
  return ifa->ifa_addr->sa_family == AF_INET ||
         ifa->ifa_addr->sa_family == AF_INET6;
}

/* The hardware address comes from the interface's AF_PACKET entry, which
 * getifaddrs lists alongside the address entries under the same name. */
static void copy_phys_addr(const struct ifaddrs* all, const char* name,
                           char phys[6]) {
  const struct ifaddrs* ifa;

  memset(phys, 0, 6);
  for (ifa = all; ifa != NULL; ifa = ifa->ifa_next) {
    const struct sockaddr_ll* ll;

    if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != AF_PACKET ||
        strcmp(ifa->ifa_name, name) != 0)
      continue;
    ll = (const struct sockaddr_ll*) ifa->ifa_addr;
    memcpy(phys, ll->sll_addr, ll->sll_halen < 6 ? ll->sll_halen : 6);
    return;
  }
}

/* One allocation holds the array and, after it, the interface names, so
 * uv_free_interface_addresses() has a single block to free. Cost: O(N^2)
 * in the number of getifaddrs entries for the hardware address lookup,
 * which is fine for the handful of interfaces a host has. */
int uv_interface_addresses(uv_interface_address_t** addresses, int* count) {
  struct ifaddrs* all;
  struct ifaddrs* ifa;
  uv_interface_address_t* out;
  char* pool;
  size_t bytes;
  size_t n;
  size_t i;

  if (addresses == NULL || count == NULL)
    return UV_EINVAL;
  *addresses = NULL;
  *count = 0;
  if (getifaddrs(&all) != 0)
    return uv__neg_errno();

  n = 0;
  bytes = 0;
  for (ifa = all; ifa != NULL; ifa = ifa->ifa_next) {
    if (!wanted_ifaddr(ifa))
      continue;
    n++;
    bytes += strlen(ifa->ifa_name) + 1;
  }
  if (n == 0) {
    freeifaddrs(all);
    return 0;
  }
  if (n > INT_MAX) {
    freeifaddrs(all);
    return UV_ENOMEM;
  }

  out = uv__calloc(1, n * sizeof(*out) + bytes);
  if (out == NULL) {
    freeifaddrs(all);
    return UV_ENOMEM;
  }
  pool = (char*) (out + n);
  for (ifa = all, i = 0; ifa != NULL; ifa = ifa->ifa_next) {
    uv_interface_address_t* a;
    size_t len;

    if (!wanted_ifaddr(ifa))
      continue;
    a = &out[i++];
    len = strlen(ifa->ifa_name);
    memcpy(pool, ifa->ifa_name, len + 1);
    a->name = pool;
    pool += len + 1;

    if (ifa->ifa_addr->sa_family == AF_INET) {
      memcpy(&a->address.address4, ifa->ifa_addr, sizeof(struct sockaddr_in));
      if (ifa->ifa_netmask != NULL)
        memcpy(&a->netmask.netmask4, ifa->ifa_netmask,
               sizeof(struct sockaddr_in));
    } else {
      memcpy(&a->address.address6, ifa->ifa_addr,
             sizeof(struct sockaddr_in6));
      if (ifa->ifa_netmask != NULL)
        memcpy(&a->netmask.netmask6, ifa->ifa_netmask,
               sizeof(struct sockaddr_in6));
    }
    a->is_internal = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    copy_phys_addr(all, ifa->ifa_name, a->phys_addr);
  }
  freeifaddrs(all);

  *addresses = out;
  *count = (int) n;
  return 0;
}

void uv_free_interface_addresses(uv_interface_address_t* addresses,
                                 int count) {
  (void) count;
  uv__free(addresses);
}
