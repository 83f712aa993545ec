/* muster_process_report_fd, _file, _on_signal: the diagnostic report's
 * document and its on-demand triggers (see include/muster/process_report.h).
 *
 * ASYNC-SIGNAL-SAFE when ctx->fatal is set: muster__report_write() and
 * everything it calls run in the fatal-signal handler too
 * (src/process_report_fatal.c). Only the parts guarded by !ctx->fatal may
 * take locks (malloc's figures). */
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_report.h"
#include "process_report_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- header ------------------------------------------------------------- */

/* "2026-12-02T05:01:02.345Z" from the realtime clock, by hand: gmtime_r
 * and strftime are not async-signal-safe. Days to civil date: Howard
 * Hinnant's algorithm. */
static void iso_time(const struct timespec *ts, char out[32]) {
  int64_t secs = ts->tv_sec, days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t ms = ts->tv_nsec / 1000000;
  int64_t f[7] = {y + (m <= 2), m, d, rem / 3600, rem / 60 % 60, rem % 60, ms};
  const int width[7] = {4, 2, 2, 2, 2, 2, 3};
  const char sep[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
  int n = 0;
  for (int i = 0; i < 7; i++) {
    for (int k = width[i] - 1; k >= 0; k--) {
      int64_t v = f[i];
      for (int j = 0; j < k; j++)
        v /= 10;
      out[n++] = (char)('0' + v % 10);
    }
    out[n++] = sep[i];
  }
  out[n] = '\0';
}

static void write_command_line(struct muster__jw *w,
                               const struct muster__report_ctx *ctx) {
  char buf[4096];
  ssize_t n;

  muster__jw_array(w, "commandLine");
  if (ctx->argv != NULL) {
    for (int i = 0; i < ctx->argc && ctx->argv[i] != NULL; i++)
      muster__jw_str(w, NULL, ctx->argv[i]);
  } else if ((n = muster__report_read_file("/proc/self/cmdline", buf,
                                           sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
      muster__jw_str(w, NULL, buf + i);
  }
  muster__jw_end(w, ']');
}

static void write_link(struct muster__jw *w, const char *key,
                       const char *link) {
  char buf[4096];
  ssize_t n = readlink(link, buf, sizeof buf);
  if (n < 0)
    muster__jw_null(w, key);
  else
    muster__jw_strn(w, key, buf, (size_t)n);
}

static void write_header(struct muster__jw *w,
                         const struct muster__report_ctx *ctx) {
  struct timespec now;
  struct utsname u;
  char when[32];

  clock_gettime(CLOCK_REALTIME, &now);
  iso_time(&now, when);
  if (uname(&u) != 0)
    memset(&u, 0, sizeof u);
  muster__jw_object(w, "header");
  muster__jw_int(w, "reportVersion", 1);
  muster__jw_str(w, "event", ctx->event);
  muster__jw_str(w, "trigger", ctx->trigger);
  muster__jw_str(w, "dumpEventTime", when);
  muster__jw_int(w, "dumpEventTimeStamp",
                 (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
  muster__jw_int(w, "processId", getpid());
  muster__jw_int(w, "ppid", getppid());
  muster__jw_int(w, "threadId", (int64_t)syscall(SYS_gettid));
  write_link(w, "cwd", "/proc/self/cwd");
  write_command_line(w, ctx);
  write_link(w, "execPath", "/proc/self/exe");
  muster__jw_object(w, "versions");
  muster__jw_str(w, "muster", MUSTER_VERSION_STRING);
  muster__jw_str(w, "uv", uv_version_string());
  muster__jw_str(w, "jansson", jansson_version_str());
  muster__jw_str(w, "kernel", u.release);
  muster__jw_end(w, '}');
  muster__jw_str(w, "osName", u.sysname);
  muster__jw_str(w, "osRelease", u.release);
  muster__jw_str(w, "osVersion", u.version);
  muster__jw_str(w, "osMachine", u.machine);
  muster__jw_str(w, "host", u.nodename);
  muster__jw_str(w, "arch", muster_process_arch());
  muster__jw_str(w, "platform", muster_process_platform());
  muster__jw_end(w, '}');
}

static void write_signal(struct muster__jw *w,
                         const struct muster__report_ctx *ctx) {
  const siginfo_t *si = ctx->info;

  muster__jw_object(w, "signal");
  muster__jw_str(w, "name", muster_signal_name(ctx->signum));
  muster__jw_int(w, "number", ctx->signum);
  if (si != NULL) {
    muster__jw_int(w, "code", si->si_code);
    /* si_addr means the faulting address only for faults the kernel
     * raised (si_code > 0); for kill() it overlaps the sender's pid. */
    if (si->si_code > 0 && ctx->signum != SIGABRT)
      muster__jw_hex(w, "address", (uint64_t)(uintptr_t)si->si_addr);
    else
      muster__jw_int(w, "senderPid", si->si_pid);
  }
  if (ctx->pc != 0)
    muster__jw_hex(w, "pc", ctx->pc);
  if (ctx->signal_tid != 0)
    muster__jw_int(w, "thread", ctx->signal_tid);
  muster__jw_end(w, '}');
}

/* ---- usage, handles, limits, environment -------------------------------- */

static void write_usage(struct muster__jw *w,
                        const struct muster__report_ctx *ctx) {
  struct rusage ru;
  char statm[128];

  muster__jw_object(w, "resourceUsage");
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    muster__jw_uint(w, "userCpuMicros",
                    (uint64_t)ru.ru_utime.tv_sec * 1000000 +
                        (uint64_t)ru.ru_utime.tv_usec);
    muster__jw_uint(w, "systemCpuMicros",
                    (uint64_t)ru.ru_stime.tv_sec * 1000000 +
                        (uint64_t)ru.ru_stime.tv_usec);
    muster__jw_int(w, "maxRssKb", ru.ru_maxrss);
    muster__jw_int(w, "minorPageFaults", ru.ru_minflt);
    muster__jw_int(w, "majorPageFaults", ru.ru_majflt);
    muster__jw_int(w, "fsRead", ru.ru_inblock);
    muster__jw_int(w, "fsWrite", ru.ru_oublock);
    muster__jw_int(w, "voluntaryContextSwitches", ru.ru_nvcsw);
    muster__jw_int(w, "involuntaryContextSwitches", ru.ru_nivcsw);
  }
  /* statm: "size resident shared ..." in pages. sysconf(_SC_PAGESIZE)
   * reads the auxiliary vector: no lock. */
  if (muster__report_read_file("/proc/self/statm", statm, sizeof statm) > 0) {
    const char *p = statm;
    uint64_t resident = 0;
    while (*p != ' ' && *p != '\0')
      p++;
    while (*p == ' ')
      p++;
    while (*p >= '0' && *p <= '9')
      resident = resident * 10 + (uint64_t)(*p++ - '0');
    muster__jw_uint(w, "rss", resident * (uint64_t)sysconf(_SC_PAGESIZE));
  }
  if (!ctx->fatal) {
    muster_memory_usage_t mem;
    if (muster_process_memory_usage(&mem) == 0) {
      muster__jw_uint(w, "heapUsed", mem.heap_used);
      muster__jw_uint(w, "heapTotal", mem.heap_total);
    }
  }
  muster__jw_end(w, '}');
}

static void walk_handle(uv_handle_t *h, void *arg) {
  struct muster__jw *w = arg;
  uv_os_fd_t fd;

  muster__jw_object(w, NULL);
  muster__jw_str(w, "type", uv_handle_type_name(uv_handle_get_type(h)));
  muster__jw_bool(w, "is_active", uv_is_active(h));
  muster__jw_bool(w, "is_referenced", uv_has_ref(h));
  muster__jw_bool(w, "is_closing", uv_is_closing(h));
  muster__jw_int(w, "fd", uv_fileno(h, &fd) == 0 ? fd : -1);
  muster__jw_hex(w, "address", (uint64_t)(uintptr_t)h);
  muster__jw_end(w, '}');
}

static const struct {
  int resource;
  const char *name;
} limits[] = {
    {RLIMIT_AS, "as"},
    {RLIMIT_CORE, "core"},
    {RLIMIT_CPU, "cpu"},
    {RLIMIT_DATA, "data"},
    {RLIMIT_FSIZE, "fsize"},
    {RLIMIT_LOCKS, "locks"},
    {RLIMIT_MEMLOCK, "memlock"},
    {RLIMIT_MSGQUEUE, "msgqueue"},
    {RLIMIT_NICE, "nice"},
    {RLIMIT_NOFILE, "nofile"},
    {RLIMIT_NPROC, "nproc"},
    {RLIMIT_RSS, "rss"},
    {RLIMIT_RTPRIO, "rtprio"},
    {RLIMIT_RTTIME, "rttime"},
    {RLIMIT_SIGPENDING, "sigpending"},
    {RLIMIT_STACK, "stack"},
};

static void write_limit(struct muster__jw *w, const char *key, rlim_t v) {
  if (v == RLIM_INFINITY)
    muster__jw_str(w, key, "unlimited");
  else
    muster__jw_uint(w, key, (uint64_t)v);
}

static void write_limits(struct muster__jw *w) {
  muster__jw_object(w, "userLimits");
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
    struct rlimit rl;
    if (getrlimit(limits[i].resource, &rl) != 0)
      continue;
    muster__jw_object(w, limits[i].name);
    write_limit(w, "soft", rl.rlim_cur);
    write_limit(w, "hard", rl.rlim_max);
    muster__jw_end(w, '}');
  }
  muster__jw_end(w, '}');
}

/* Case-insensitive: does name[0..n) contain `word`? */
static int has_word(const char *name, size_t n, const char *word) {
  size_t k = strlen(word);
  for (size_t i = 0; i + k <= n; i++) {
    size_t j = 0;
    while (j < k && (name[i + j] & ~0x20) == (word[j] & ~0x20))
      j++;
    if (j == k)
      return 1;
  }
  return 0;
}

static int ends_with(const char *name, size_t n, const char *word) {
  size_t k = strlen(word);
  return n >= k && has_word(name + n - k, k, word);
}

static int looks_secret(const char *name, size_t n) {
  static const char *const words[] = {
      "SECRET",     "TOKEN",   "PASSWORD",   "PASSWD", "PASSPHRASE",
      "CREDENTIAL", "PRIVATE", "AUTH",       "COOKIE", "SESSION",
      "APIKEY",     "API_KEY", "ACCESS_KEY",
  };
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (has_word(name, n, words[i]))
      return 1;
  return ends_with(name, n, "KEY") || ends_with(name, n, "_PASS") ||
         ends_with(name, n, "_PWD");
}

static void write_environment(struct muster__jw *w) {
  muster__jw_object(w, "environmentVariables");
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL || eq == *e)
      continue;
    size_t n = (size_t)(eq - *e);
    char name[256];
    if (n >= sizeof name)
      n = sizeof name - 1;
    memcpy(name, *e, n);
    name[n] = '\0';
    muster__jw_str(w, name, looks_secret(name, n) ? "[REDACTED]" : eq + 1);
  }
  muster__jw_end(w, '}');
}

void muster__report_write(struct muster__jw *w,
                          const struct muster__report_ctx *ctx) {
  muster__jw_object(w, NULL);
  write_header(w, ctx);
  if (ctx->signum != 0)
    write_signal(w, ctx);
  write_usage(w, ctx);
  muster__jw_array(w, "libuv");
  if (ctx->loop != NULL)
    uv_walk(ctx->loop, walk_handle, w);
  muster__jw_end(w, ']');
  muster__report_fds(w);
  muster__report_threads(w, ctx->signal_tid);
  write_limits(w);
  write_environment(w);
  if (ctx->extra != NULL)
    ctx->extra(w, ctx->extra_arg);
  muster__jw_end(w, '}');
  muster__jw_raw(w, "\n", 1);
}

/* ---- on demand ---------------------------------------------------------- */

static int report_to(uv_loop_t *loop, int fd, const char *event,
                     const char *trigger, int signum) {
  struct muster__report_ctx ctx;
  struct muster__jw w;

  memset(&ctx, 0, sizeof ctx);
  ctx.loop = loop;
  ctx.event = event != NULL ? event : "API";
  ctx.trigger = trigger;
  ctx.signum = signum;
  ctx.argv = muster_process_argv(&ctx.argc);
  muster__jw_init(&w, fd);
  muster__report_write(&w, &ctx);
  return muster__jw_flush(&w);
}

int muster_process_report_fd(uv_loop_t *loop, int fd, const char *reason) {
  if (fd < 0)
    return MUSTER_EINVAL;
  return report_to(loop, fd, reason, "API", 0);
}

static int report_file(uv_loop_t *loop, const char *path, const char *event,
                       const char *trigger, int signum) {
  int fd, r;

  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  r = report_to(loop, fd, event, trigger, signum);
  if (r == 0 && fsync(fd) != 0)
    r = -errno;
  if (close(fd) != 0 && r == 0 && errno != EINTR)
    r = -errno;
  return r;
}

int muster_process_report_file(uv_loop_t *loop, const char *path,
                               const char *reason) {
  if (path == NULL || path[0] == '\0')
    return MUSTER_EINVAL;
  return report_file(loop, path, reason, "API", 0);
}

/* ---- on a signal -------------------------------------------------------- */

struct muster_report_signal_s {
  muster_signal_t *sig;
  uv_loop_t *loop;
  unsigned seq;
  char directory[]; /* "" for the working directory */
};

/* Node's name: report.20261202.050102.12345.0.001.json */
static void report_name(char *out, size_t size, const char *dir, unsigned seq) {
  struct timespec now;
  char when[32], date[16], time_of_day[8];

  clock_gettime(CLOCK_REALTIME, &now);
  iso_time(&now, when); /* 2026-12-02T05:01:02.345Z */
  snprintf(date, sizeof date, "%.4s%.2s%.2s", when, when + 5, when + 8);
  snprintf(time_of_day, sizeof time_of_day, "%.2s%.2s%.2s", when + 11,
           when + 14, when + 17);
  snprintf(out, size, "%s%sreport.%s.%s.%d.0.%03u.json", dir,
           dir[0] != '\0' ? "/" : "", date, time_of_day, (int)getpid(), seq);
}

static void on_report_signal(muster_signal_t *sig, int signum) {
  muster_report_signal_t *t = muster_signal_data(sig);
  char path[4096 + 64];

  report_name(path, sizeof path, t->directory, ++t->seq);
  /* There is no caller to return an error to, and the library does not
   * print: a report that cannot be written (directory gone, disk full) is
   * lost, as it is in Node. */
  report_file(t->loop, path, muster_signal_name(signum), "Signal", signum);
}

int muster_process_report_on_signal(uv_loop_t *loop, int signum,
                                    const char *directory,
                                    muster_report_signal_t **out) {
  size_t n = directory != NULL ? strlen(directory) : 0;
  muster_report_signal_t *t;
  int r;

  if (out != NULL)
    *out = NULL;
  if (loop == NULL || out == NULL)
    return MUSTER_EINVAL;
  if (n > 4096)
    return MUSTER_ENAMETOOLONG;
  t = calloc(1, sizeof *t + n + 1);
  if (t == NULL)
    return MUSTER_ENOMEM;
  if (n > 0)
    memcpy(t->directory, directory, n);
  t->loop = loop;
  r = muster_signal_subscribe(loop, signum, on_report_signal, t, &t->sig);
  if (r != 0) {
    free(t);
    return r;
  }
  *out = t;
  return 0;
}

static void free_trigger(muster_signal_t *sig) {
  free(muster_signal_data(sig));
}

void muster_process_report_on_signal_close(muster_report_signal_t *t) {
  if (t != NULL)
    muster_signal_close(t->sig, free_trigger);
}
