/* process-info: this process as Node's `process` object shows it.
 *
 * Prints pid, ppid, platform/arch, argv, cwd, title, execPath, versions,
 * release, users and groups, what stdin/stdout/stderr are, memory and CPU
 * usage, uptime, hrtime, a few environment variables, the exit-code
 * table, the build's config and the size of a diagnostic report; then
 * subscribes to SIGINT and SIGTERM, sends itself SIGTERM from a next tick,
 * and shuts down gracefully when the callback runs. Exits by itself at
 * once. */
#include <muster.h>

#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROW "  %-12s "

/* "12.3 MiB" or "456.7 KiB", written into buf. */
static const char *human(uint64_t bytes, char *buf, size_t size) {
  if (bytes >= 1024 * 1024)
    snprintf(buf, size, "%8.1f MiB", (double)bytes / (1024.0 * 1024.0));
  else
    snprintf(buf, size, "%8.1f KiB", (double)bytes / 1024.0);
  return buf;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print_build_and_ids(void) {
  char buf[4096];
  size_t size = sizeof buf;
  int r = muster_process_exec_path(buf, &size);
  printf(ROW "%s\n", "execPath", r == 0 ? buf : muster_strerror(r));
  printf(ROW "%s\n", "version", muster_process_version());
  muster_versions_t v;
  if (muster_process_versions(&v) == 0)
    printf(ROW "muster %s, uv %s, jansson %s, kernel %s\n", "versions",
           v.muster, v.uv, v.jansson, v.kernel);
  const muster_release_t *rel = muster_process_release();
  printf(ROW "%s %s (%s)\n", "release", rel->name, rel->version,
         rel->build_type);

  printf("\nusers and groups\n");
  printf(ROW "%u (effective %u)\n", "uid", (unsigned)muster_process_getuid(),
         (unsigned)muster_process_geteuid());
  printf(ROW "%u (effective %u)\n", "gid", (unsigned)muster_process_getgid(),
         (unsigned)muster_process_getegid());
  gid_t groups[64];
  size_t n = 64;
  if (muster_process_getgroups(groups, &n) == 0) {
    printf(ROW, "groups");
    for (size_t i = 0; i < n; i++)
      printf("%s%u", i ? " " : "", (unsigned)groups[i]);
    printf("\n");
  }
}

static void print_stdio(void) {
  static const char *const names[] = {"stdin", "stdout", "stderr"};
  static const char *const kinds[] = {"closed", "tty", "pipe", "file",
                                      "socket"};
  uv_loop_t loop;

  printf("\nstdio\n");
  uv_loop_init(&loop);
  for (int fd = 0; fd <= 2; fd++) {
    muster_process_stdio_t *s;
    int cols, rows;
    if (muster_process_stdio_open(&loop, fd, &s) != 0)
      continue;
    printf(ROW "fd %d, %s", names[fd], fd, kinds[muster_process_stdio_kind(s)]);
    if (muster_process_stdio_window_size(s, &cols, &rows) == 0)
      printf(", %d columns x %d rows", cols, rows);
    printf("\n");
    muster_process_stdio_close(s, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

/* The build's options, and how big a diagnostic report of this process
 * is (written to a memory file and thrown away). */
static void print_config_and_report(void) {
  json_t *config = muster_process_config();
  char *text = config != NULL ? json_dumps(config, JSON_COMPACT) : NULL;
  printf("\nbuild\n");
  printf(ROW "%s\n", "config", text != NULL ? text : "(no memory)");
  free(text);
  json_decref(config);

  int fd = memfd_create("report", MFD_CLOEXEC);
  struct stat st;
  if (fd >= 0 && muster_process_report_fd(NULL, fd, "process-info") == 0 &&
      fstat(fd, &st) == 0)
    printf(ROW "%lld bytes of JSON (muster_process_report_fd)\n", "report",
           (long long)st.st_size);
  if (fd >= 0)
    close(fd);
}

static void print_facts(void) {
  char buf[4096];
  size_t size;
  int argc, r;

  printf("identity\n");
  printf(ROW "%d\n", "pid", muster_process_pid());
  printf(ROW "%d\n", "ppid", muster_process_ppid());
  printf(ROW "%s / %s\n", "platform", muster_process_platform(),
         muster_process_arch());
  char *const *argv = muster_process_argv(&argc);
  for (int i = 0; i < argc; i++) {
    char label[24];
    snprintf(label, sizeof label, "argv[%d]", i);
    printf(ROW "%s\n", label, argv[i]);
  }
  size = sizeof buf;
  r = muster_process_cwd(buf, &size);
  printf(ROW "%s\n", "cwd", r == 0 ? buf : muster_strerror(r));

  /* The title lives in the memory of the original argv strings: it can be
   * no longer than the command line was. */
  r = muster_process_set_title("muster:pinfo");
  if (r == 0)
    r = muster_process_get_title(buf, sizeof buf);
  printf(ROW "%s  (see: ps -o args -p %d)\n", "title",
         r == 0 ? buf : muster_strerror(r), muster_process_pid());

  print_build_and_ids();
  print_stdio();

  muster_memory_usage_t mem;
  printf("\nmemory\n");
  if (muster_process_memory_usage(&mem) == 0) {
    char h[32];
    printf(ROW "%s\n", "rss", human(mem.rss, h, sizeof h));
    printf(ROW "%s\n", "heap used", human(mem.heap_used, h, sizeof h));
    printf(ROW "%s\n", "heap total", human(mem.heap_total, h, sizeof h));
  }

  muster_cpu_usage_t start, delta;
  printf("\ncpu (microseconds)\n");
  if (muster_process_cpu_usage(NULL, &start) == 0) {
    printf(ROW "%8llu\n", "user", (unsigned long long)start.user);
    printf(ROW "%8llu\n", "system", (unsigned long long)start.system);
    /* 30 ms of work, then the delta since the reading above. */
    uint64_t end = cpu_ns() + 30000000u;
    volatile uint64_t x = 0;
    while (cpu_ns() < end)
      for (int i = 0; i < 100000; i++)
        x = x + (uint64_t)i;
    muster_process_cpu_usage(&start, &delta);
    printf(ROW "+%llu user, +%llu system after 30 ms of work\n", "delta",
           (unsigned long long)delta.user, (unsigned long long)delta.system);
  }

  muster_resource_usage_t ru;
  printf("\nresources (getrusage)\n");
  if (muster_process_resource_usage(&ru) == 0) {
    printf(ROW "%8llu KiB\n", "max rss", (unsigned long long)ru.max_rss_kb);
    printf(ROW "%8llu\n", "minor faults",
           (unsigned long long)ru.minor_page_faults);
    printf(ROW "%8llu\n", "ctx switches",
           (unsigned long long)(ru.voluntary_context_switches +
                                ru.involuntary_context_switches));
  }

  double up;
  printf("\ntime\n");
  if (muster_process_uptime(&up) == 0)
    printf(ROW "%.3f s\n", "uptime", up);
  printf(ROW "%llu ns (monotonic)\n", "hrtime",
         (unsigned long long)muster_process_hrtime());

  printf("\nenvironment\n");
  const char *names[] = {"HOME", "USER", "SHELL", "LANG", "TERM"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    size = sizeof buf;
    r = muster_process_getenv(names[i], buf, &size);
    printf(ROW "%s\n", names[i], r == 0 ? buf : "(not set)");
  }

  printf("\nexit codes\n");
  const int codes[] = {0, 1, 3,  4,  5,  6,
                       7, 9, 10, 12, 13, MUSTER_EXIT_SIGNAL(SIGTERM)};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    int sig = muster_process_exit_code_signal(codes[i]);
    printf("  %3d  %s%s%s%s\n", codes[i],
           muster_process_exit_code_string(codes[i]), sig ? " (" : "",
           sig ? muster_signal_name(sig) : "", sig ? ")" : "");
  }
}

/* ---- signals: subscribe, then shut down gracefully ---------------------- */

struct app {
  muster_signal_t *sigint, *sigterm;
  uv_timer_t watchdog;
};

static void stop(struct app *app) {
  muster_signal_close(app->sigint, NULL);
  muster_signal_close(app->sigterm, NULL);
  uv_close((uv_handle_t *)&app->watchdog, NULL);
}

static void on_signal(muster_signal_t *sig, int signum) {
  printf("  got %s: shutting down gracefully (a server would exit %d)\n",
         muster_signal_name(signum), MUSTER_EXIT_SIGNAL(signum));
  stop(muster_signal_data(sig));
}

static void send_sigterm(void *arg) {
  (void)arg;
  printf("  next tick: sending ourselves SIGTERM\n");
  kill(getpid(), SIGTERM);
}

static void on_watchdog(uv_timer_t *t) {
  printf("  no signal arrived\n");
  stop(t->data);
}

static int run_signals(void) {
  uv_loop_t loop;
  struct app app;
  int r;

  printf("\nsignals\n");
  if ((r = uv_loop_init(&loop)) != 0)
    return r;
  if ((r = muster_signal_subscribe(&loop, SIGINT, on_signal, &app,
                                   &app.sigint)) != 0)
    return r;
  if ((r = muster_signal_subscribe(&loop, SIGTERM, on_signal, &app,
                                   &app.sigterm)) != 0)
    return r;
  /* Subscriptions start unreferenced, like Node's listeners; this program
   * wants to wait for one. */
  muster_signal_ref(app.sigint);
  muster_signal_ref(app.sigterm);
  uv_timer_init(&loop, &app.watchdog);
  app.watchdog.data = &app;
  uv_timer_start(&app.watchdog, on_watchdog, 2000, 0);
  uv_unref((uv_handle_t *)&app.watchdog);
  printf("  subscribed to SIGINT and SIGTERM\n");
  if ((r = muster_next_tick(&loop, send_sigterm, NULL)) != 0)
    return r;
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop);
}

int main(int argc, char **argv) {
  argv = muster_process_setup(argc, argv);
  (void)argv;
  print_facts();
  print_config_and_report();
  int r = run_signals();
  if (r != 0) {
    fprintf(stderr, "process-info: signals: %s\n", muster_strerror(r));
    return MUSTER_EXIT_UNCAUGHT_FATAL_EXCEPTION;
  }
  return MUSTER_EXIT_SUCCESS;
}
