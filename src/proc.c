/* muster_process_*: facts about this process (see include/muster/process.h).
 * Signal subscriptions are in signal.c, next-tick in tick.c. */
#include "muster/error.h"
#include "muster/process.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- argv and title ----------------------------------------------------- */

/* The one piece of process-wide state here, and the OS made it global: the
 * argv memory the kernel shows as our command line can be claimed once.
 * libuv's uv_setup_args() leaks its first copy and points the title at the
 * second if called twice, so the first result is kept and returned again. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static char **setup_argv;
static int setup_argc;

char **muster_process_setup(int argc, char **argv) {
  char **result;

  pthread_mutex_lock(&setup_lock);
  if (setup_argv == NULL && argv != NULL) {
    setup_argv = argc > 0 ? uv_setup_args(argc, argv) : argv;
    setup_argc = argc > 0 ? argc : 0;
  }
  result = setup_argv != NULL ? setup_argv : argv;
  pthread_mutex_unlock(&setup_lock);
  return result;
}

char *const *muster_process_argv(int *argc) {
  char **argv;

  pthread_mutex_lock(&setup_lock);
  argv = setup_argv;
  if (argc != NULL)
    *argc = setup_argc;
  pthread_mutex_unlock(&setup_lock);
  return argv;
}

int muster_process_set_title(const char *title) {
  if (title == NULL)
    return MUSTER_EINVAL;
  return uv_set_process_title(title);
}

int muster_process_get_title(char *buf, size_t size) {
  if (buf == NULL || size == 0)
    return MUSTER_EINVAL;
  return uv_get_process_title(buf, size);
}

/* ---- identity ----------------------------------------------------------- */

int muster_process_pid(void) {
  return (int)uv_os_getpid();
}

int muster_process_ppid(void) {
  return (int)uv_os_getppid();
}

const char *muster_process_platform(void) {
#if defined(__linux__)
  return "linux";
#else
  return "unknown";
#endif
}

const char *muster_process_arch(void) {
#if defined(__x86_64__)
  return "x64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "ia32";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__powerpc64__)
  return "ppc64";
#elif defined(__s390x__)
  return "s390x";
#else
  return "unknown";
#endif
}

/* ---- environment -------------------------------------------------------- */

static int env_name_ok(const char *name) {
  return name != NULL && name[0] != '\0' && strchr(name, '=') == NULL;
}

int muster_process_getenv(const char *name, char *buf, size_t *size) {
  if (!env_name_ok(name) || buf == NULL || size == NULL || *size == 0)
    return MUSTER_EINVAL;
  return uv_os_getenv(name, buf, size);
}

int muster_process_setenv(const char *name, const char *value) {
  if (!env_name_ok(name) || value == NULL)
    return MUSTER_EINVAL;
  return uv_os_setenv(name, value);
}

int muster_process_unsetenv(const char *name) {
  if (!env_name_ok(name))
    return MUSTER_EINVAL;
  return uv_os_unsetenv(name);
}

/* ---- working directory -------------------------------------------------- */

int muster_process_cwd(char *buf, size_t *size) {
  if (buf == NULL || size == NULL || *size == 0)
    return MUSTER_EINVAL;
  return uv_cwd(buf, size);
}

int muster_process_chdir(const char *dir) {
  if (dir == NULL || dir[0] == '\0')
    return MUSTER_EINVAL;
  return uv_chdir(dir);
}

/* ---- usage -------------------------------------------------------------- */

/* Under ASan/TSan/MSan malloc is the sanitizer's, and glibc's mallinfo2()
 * would describe an arena nobody uses (a 10 MB allocation would not show).
 * The sanitizer runtime exports its own counters; these weak references are
 * NULL in a normal build. */
extern size_t __sanitizer_get_current_allocated_bytes(void)
    __attribute__((weak));
extern size_t __sanitizer_get_heap_size(void) __attribute__((weak));

#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define HAVE_MALLINFO2 1
#endif

static void heap_usage(uint64_t *used, uint64_t *total) {
  *used = 0;
  *total = 0;
  if (__sanitizer_get_current_allocated_bytes != NULL &&
      __sanitizer_get_heap_size != NULL) {
    *used = __sanitizer_get_current_allocated_bytes();
    *total = __sanitizer_get_heap_size();
  } else {
#ifdef HAVE_MALLINFO2
    /* uordblks: bytes in use in the arenas (small blocks); hblkhd: bytes in
     * blocks big enough that glibc mmap'd each on its own (128 KiB and up by
     * default). Both kinds are "heap in use" for a C program. */
    struct mallinfo2 mi = mallinfo2();
    *used = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    *total = (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
#endif
  }
  if (*total < *used)
    *total = *used;
}

int muster_process_memory_usage(muster_memory_usage_t *out) {
  size_t rss;
  int r;

  if (out == NULL)
    return MUSTER_EINVAL;
  memset(out, 0, sizeof *out);
  r = uv_resident_set_memory(&rss);
  if (r != 0)
    return r;
  out->rss = rss;
  heap_usage(&out->heap_used, &out->heap_total);
  return 0;
}

static uint64_t timeval_us(const uv_timeval_t *tv) {
  return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

int muster_process_cpu_usage(const muster_cpu_usage_t *previous,
                             muster_cpu_usage_t *out) {
  uv_rusage_t ru;
  uint64_t user, system;
  int r;

  if (out == NULL)
    return MUSTER_EINVAL;
  r = uv_getrusage(&ru);
  if (r != 0)
    return r;
  user = timeval_us(&ru.ru_utime);
  system = timeval_us(&ru.ru_stime);
  if (previous != NULL) {
    /* Unsigned: a "previous" from the future would wrap to ~584000 years. */
    if (previous->user > user || previous->system > system)
      return MUSTER_EINVAL;
    user -= previous->user;
    system -= previous->system;
  }
  out->user = user;
  out->system = system;
  return 0;
}

int muster_process_resource_usage(muster_resource_usage_t *out) {
  uv_rusage_t ru;
  int r;

  if (out == NULL)
    return MUSTER_EINVAL;
  r = uv_getrusage(&ru);
  if (r != 0)
    return r;
  out->user_cpu_time = timeval_us(&ru.ru_utime);
  out->system_cpu_time = timeval_us(&ru.ru_stime);
  out->max_rss_kb = ru.ru_maxrss;
  out->shared_memory_size = ru.ru_ixrss;
  out->unshared_data_size = ru.ru_idrss;
  out->unshared_stack_size = ru.ru_isrss;
  out->minor_page_faults = ru.ru_minflt;
  out->major_page_faults = ru.ru_majflt;
  out->swapped_out = ru.ru_nswap;
  out->fs_read = ru.ru_inblock;
  out->fs_write = ru.ru_oublock;
  out->ipc_sent = ru.ru_msgsnd;
  out->ipc_received = ru.ru_msgrcv;
  out->signals_count = ru.ru_nsignals;
  out->voluntary_context_switches = ru.ru_nvcsw;
  out->involuntary_context_switches = ru.ru_nivcsw;
  return 0;
}

/* Field 22 of /proc/self/stat: when the process started, in clock ticks
 * since boot. Field 2 is the command name in parentheses and may itself
 * hold spaces and ')', so fields are counted from the last ')'. */
static int read_start_ticks(unsigned long long *ticks) {
  char buf[2048];
  ssize_t n;
  size_t len = 0;
  int fd;

  fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  while (len < sizeof buf - 1) {
    n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = -errno;
      close(fd);
      return err;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';

  char *p = strrchr(buf, ')');
  if (p == NULL)
    return MUSTER_EIO;
  p++;
  /* After ')' come fields 3 (state) .. 22 (starttime): skip 19 of them. */
  for (int field = 3; field < 22; field++) {
    while (*p == ' ')
      p++;
    while (*p != ' ' && *p != '\0')
      p++;
    if (*p == '\0')
      return MUSTER_EIO;
  }
  char *end;
  errno = 0;
  *ticks = strtoull(p, &end, 10);
  if (end == p || errno != 0)
    return MUSTER_EIO;
  return 0;
}

int muster_process_uptime(double *seconds) {
  unsigned long long ticks;
  struct timespec now;
  long hz;
  int r;

  if (seconds == NULL)
    return MUSTER_EINVAL;
  r = read_start_ticks(&ticks);
  if (r != 0)
    return r;
  hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0)
    return MUSTER_EIO;
  /* The kernel counts start time on the boot clock (suspend included, and
   * shifted by a time namespace as CLOCK_BOOTTIME is), so compare with it:
   * CLOCK_MONOTONIC would be behind by every suspension since boot. */
  if (clock_gettime(CLOCK_BOOTTIME, &now) != 0)
    return -errno;
  double up = (double)now.tv_sec + (double)now.tv_nsec / 1e9 -
              (double)ticks / (double)hz;
  *seconds = up > 0 ? up : 0;
  return 0;
}

uint64_t muster_process_hrtime(void) {
  return uv_hrtime();
}

/* ---- exit codes --------------------------------------------------------- */

const char *muster_process_exit_code_string(int code) {
  switch (code) {
  case MUSTER_EXIT_SUCCESS:
    return "success";
  case MUSTER_EXIT_UNCAUGHT_FATAL_EXCEPTION:
    return "uncaught fatal exception";
  case MUSTER_EXIT_INTERNAL_PARSE_ERROR:
    return "internal JavaScript parse error";
  case MUSTER_EXIT_INTERNAL_EVALUATION_FAILURE:
    return "internal JavaScript evaluation failure";
  case MUSTER_EXIT_FATAL_ERROR:
    return "fatal error";
  case MUSTER_EXIT_NON_FUNCTION_HANDLER:
    return "non-function internal exception handler";
  case MUSTER_EXIT_HANDLER_RUNTIME_FAILURE:
    return "internal exception handler run-time failure";
  case MUSTER_EXIT_INVALID_ARGUMENT:
    return "invalid argument";
  case MUSTER_EXIT_INTERNAL_RUNTIME_FAILURE:
    return "internal JavaScript run-time failure";
  case MUSTER_EXIT_INVALID_DEBUG_ARGUMENT:
    return "invalid debug argument";
  case MUSTER_EXIT_UNSETTLED_TOP_LEVEL_AWAIT:
    return "unsettled top-level await";
  }
  if (muster_process_exit_code_signal(code) != 0)
    return "exit after a signal";
  return "unknown exit code";
}

int muster_process_exit_code_signal(int code) {
  /* Exit statuses are 8 bits: 129..255 stand for signals 1..127. */
  if (code > MUSTER_EXIT_SIGNAL_BASE && code <= 255)
    return code - MUSTER_EXIT_SIGNAL_BASE;
  return 0;
}
