/* The process module's facts: ids, argv and title, env, cwd, usage,
 * uptime, hrtime, exit codes. Each reading is compared with an independent
 * source (libc, /proc, ps, a shell). Signals: test-process-signal.c;
 * next-tick: test-process-tick.c. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Starts argv with its stdin and stdout on pipes to us (O_CLOEXEC on our
 * ends, so no other child inherits them). *in_fd and *out_fd are ours to
 * close; the caller must waitpid() the result. */
static pid_t spawn_piped(const char *const *argv, int *in_fd, int *out_fd) {
  int in[2], out[2];
  ASSERT_OK(pipe2(in, O_CLOEXEC) ? -errno : 0);
  ASSERT_OK(pipe2(out, O_CLOEXEC) ? -errno : 0);
  posix_spawn_file_actions_t fa;
  ASSERT_EQ(posix_spawn_file_actions_init(&fa), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&fa, in[0], 0), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ),
            0);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  *in_fd = in[1];
  *out_fd = out[0];
  return pid;
}

/* Reads one line (without its '\n') from fd; fails the test at EOF. */
static void read_line(int fd, char *buf, size_t size) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    ASSERT(r == 1);
    if (c == '\n')
      break;
    ASSERT(n + 1 < size);
    buf[n++] = c;
  }
  buf[n] = '\0';
}

static int wait_exit_code(pid_t pid) {
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Reads a whole small file; returns its length (NULs kept). */
static size_t read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ASSERT(fd >= 0);
  size_t n = 0;
  ssize_t r;
  while (n < size && (r = read(fd, buf + n, size - n)) > 0)
    n += (size_t)r;
  close(fd);
  return n;
}

TEST(process_ids) {
  ASSERT_EQ(muster_process_pid(), getpid());
  ASSERT_EQ(muster_process_ppid(), getppid());
  /* In a child, both change: pid is the child's, ppid is us. */
  int parent = getpid();
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0)
    _exit(muster_process_pid() == getpid() && muster_process_pid() != parent &&
                  muster_process_ppid() == parent
              ? 0
              : 1);
  ASSERT_EQ(wait_exit_code(pid), 0);
}

TEST(process_platform_arch) {
  ASSERT_STR_EQ(muster_process_platform(), "linux");
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  const char *want = strcmp(u.machine, "x86_64") == 0    ? "x64"
                     : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                                                         : NULL;
  if (want == NULL)
    TEST_SKIP("no expected arch name for machine %s", u.machine);
  ASSERT_STR_EQ(muster_process_arch(), want);
}

TEST(process_title_before_setup) {
  /* The runner never calls muster_process_setup(): no argv, no title. */
  int argc = -1;
  ASSERT(muster_process_argv(&argc) == NULL);
  ASSERT_EQ(argc, 0);
  ASSERT(muster_process_argv(NULL) == NULL);
  char buf[64];
  ASSERT_ERR(muster_process_set_title("x"), MUSTER_ENOBUFS);
  ASSERT_ERR(muster_process_get_title(buf, sizeof buf), MUSTER_ENOBUFS);
  ASSERT_ERR(muster_process_set_title(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_get_title(NULL, 64), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_get_title(buf, 0), MUSTER_EINVAL);
}

TEST(process_title_visible_in_ps) {
  const char *title = "muster-title-test";
  const char *pad = "padding-that-the-title-overwrites";
  const char *const *argv =
      test_fixture_argv("process_title", title, pad, NULL);
  int in, out;
  pid_t pid = spawn_piped(argv, &in, &out);
  char line[20100];
  read_line(out, line, sizeof line);
  ASSERT_STR_EQ(line, "title=muster-title-test");
  /* The argv copy is intact: the title went into the old memory only. */
  char want[4096];
  snprintf(want, sizeof want, "argv=%s process_title %s %s",
           test_fixture_path(), title, pad);
  read_line(out, line, sizeof line);
  ASSERT_STR_EQ(line, want);
  read_line(out, line, sizeof line);
  ASSERT_STR_EQ(line, "ready");

  /* What the kernel shows: the title, then NULs where argv was. */
  char path[64], cmdline[8192];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  size_t n = read_file(path, cmdline, sizeof cmdline);
  ASSERT(n > strlen(title));
  ASSERT_STR_EQ(cmdline, title);
  for (size_t i = strlen(title); i < n; i++)
    ASSERT_EQ(cmdline[i], '\0');
  /* /proc/<pid>/comm: the first 15 bytes, for top and ps -o comm. */
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  char comm[64] = {0};
  read_file(path, comm, sizeof comm - 1);
  ASSERT_STR_EQ(comm, "muster-title-te\n");

  /* And ps itself, when it is installed. */
  if (test_which("ps") != NULL) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ps -ww -o args= -p %d", (int)pid);
    FILE *ps = popen(cmd, "re");
    ASSERT(ps != NULL);
    char got[4096] = {0};
    ASSERT(fgets(got, sizeof got, ps) != NULL);
    ASSERT_EQ(pclose(ps), 0);
    got[strcspn(got, "\n")] = '\0';
    /* ps shows the NULs after the title as spaces: trim them. */
    size_t len = strlen(got);
    while (len > 0 && got[len - 1] == ' ')
      got[--len] = '\0';
    ASSERT_STR_EQ(got, title);
  }
  close(in);
  ASSERT_EQ(wait_exit_code(pid), 0);
  close(out);
}

TEST(process_title_truncated) {
  const char *const *argv = test_fixture_argv("process_title", "--long", NULL);
  /* The room is every argv string with its NUL, less the last NUL. */
  size_t room = 0;
  for (int i = 0; argv[i] != NULL; i++)
    room += strlen(argv[i]) + 1;
  room -= 1;
  int in, out;
  pid_t pid = spawn_piped(argv, &in, &out);
  static char line[20100];
  read_line(out, line, sizeof line);
  ASSERT(strncmp(line, "title=", 6) == 0);
  ASSERT_EQ(strlen(line + 6), room);
  ASSERT_EQ(strspn(line + 6, "x"), room);
  read_line(out, line, sizeof line);
  read_line(out, line, sizeof line);
  ASSERT_STR_EQ(line, "ready");
  close(in);
  ASSERT_EQ(wait_exit_code(pid), 0);
  close(out);
}

TEST(process_env) {
  const char *name = "MUSTER_PROCESS_TEST_VAR";
  char buf[64];
  size_t size = sizeof buf;
  ASSERT_OK(muster_process_unsetenv(name));
  ASSERT_ERR(muster_process_getenv(name, buf, &size), MUSTER_ENOENT);

  ASSERT_OK(muster_process_setenv(name, "hello world"));
  ASSERT_STR_EQ(getenv(name), "hello world");
  size = sizeof buf;
  ASSERT_OK(muster_process_getenv(name, buf, &size));
  ASSERT_STR_EQ(buf, "hello world");
  ASSERT_EQ(size, strlen("hello world"));

  /* Too small: ENOBUFS and the size needed, NUL counted. */
  size = 4;
  ASSERT_ERR(muster_process_getenv(name, buf, &size), MUSTER_ENOBUFS);
  ASSERT_EQ(size, strlen("hello world") + 1);
  ASSERT_OK(muster_process_getenv(name, buf, &size));

  /* Replacing, and an empty value. */
  ASSERT_OK(muster_process_setenv(name, ""));
  size = sizeof buf;
  ASSERT_OK(muster_process_getenv(name, buf, &size));
  ASSERT_STR_EQ(buf, "");
  ASSERT_EQ(size, 0);

  /* A child started now inherits it. */
  ASSERT_OK(muster_process_setenv(name, "inherited"));
  const char *sh[] = {"/bin/sh", "-c",
                      "test \"$MUSTER_PROCESS_TEST_VAR\" = inherited", NULL};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, sh[0], NULL, NULL, (char *const *)sh, environ),
            0);
  ASSERT_EQ(wait_exit_code(pid), 0);

  ASSERT_OK(muster_process_unsetenv(name));
  ASSERT(getenv(name) == NULL);
  ASSERT_OK(muster_process_unsetenv(name)); /* not set: still 0 */

  /* Bad names and arguments. */
  size = sizeof buf;
  ASSERT_ERR(muster_process_setenv("", "x"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setenv("A=B", "x"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setenv(NULL, "x"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setenv(name, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_unsetenv("A=B"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_unsetenv(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_getenv("A=B", buf, &size), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_getenv(name, NULL, &size), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_getenv(name, buf, NULL), MUSTER_EINVAL);
  size = 0;
  ASSERT_ERR(muster_process_getenv("PATH", buf, &size), MUSTER_EINVAL);
  ASSERT(getenv("A") == NULL); /* "A=B" was not split into A and B=x */
}

TEST(process_cwd) {
  char start[4096], buf[4096], tmpl[] = "/tmp/muster-cwd-XXXXXX";
  ASSERT(getcwd(start, sizeof start) != NULL);
  size_t size = sizeof buf;
  ASSERT_OK(muster_process_cwd(buf, &size));
  ASSERT_STR_EQ(buf, start);
  ASSERT_EQ(size, strlen(start));

  ASSERT(mkdtemp(tmpl) != NULL);
  ASSERT_OK(muster_process_chdir(tmpl));
  char real[4096];
  ASSERT(realpath(tmpl, real) != NULL);
  size = sizeof buf;
  ASSERT_OK(muster_process_cwd(buf, &size));
  ASSERT_STR_EQ(buf, real);
  char libc[4096];
  ASSERT(getcwd(libc, sizeof libc) != NULL);
  ASSERT_STR_EQ(buf, libc);

  /* Too small: ENOBUFS and the size needed. */
  size = 3;
  ASSERT_ERR(muster_process_cwd(buf, &size), MUSTER_ENOBUFS);
  ASSERT_EQ(size, strlen(real) + 1);
  ASSERT_OK(muster_process_cwd(buf, &size));

  /* Errors leave the directory where it was. */
  ASSERT_ERR(muster_process_chdir("no-such-dir"), MUSTER_ENOENT);
  int fd = open("file", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT(fd >= 0);
  close(fd);
  ASSERT_ERR(muster_process_chdir("file"), MUSTER_ENOTDIR);
  ASSERT_ERR(muster_process_chdir(""), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_chdir(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_cwd(NULL, &size), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_cwd(buf, NULL), MUSTER_EINVAL);
  size = 0;
  ASSERT_ERR(muster_process_cwd(buf, &size), MUSTER_EINVAL);
  ASSERT(getcwd(libc, sizeof libc) != NULL);
  ASSERT_STR_EQ(libc, real);

  ASSERT_EQ(unlink("file"), 0);
  ASSERT_OK(muster_process_chdir(start));
  ASSERT_EQ(rmdir(tmpl), 0);
  /* The directory removed under us: ENOENT. */
  ASSERT(mkdtemp(strcpy(tmpl, "/tmp/muster-cwd-XXXXXX")) != NULL);
  ASSERT_OK(muster_process_chdir(tmpl));
  ASSERT_EQ(rmdir(tmpl), 0);
  size = sizeof buf;
  ASSERT_ERR(muster_process_cwd(buf, &size), MUSTER_ENOENT);
  ASSERT_OK(muster_process_chdir(start));
}

/* VmRSS from /proc/self/status, in bytes. */
static uint64_t status_rss(void) {
  char buf[8192];
  size_t n = read_file("/proc/self/status", buf, sizeof buf - 1);
  buf[n] = '\0';
  char *p = strstr(buf, "\nVmRSS:");
  ASSERT(p != NULL);
  return strtoull(p + 7, NULL, 10) * 1024;
}

TEST(process_memory_usage) {
  muster_memory_usage_t m0, m1, m2;
  ASSERT_ERR(muster_process_memory_usage(NULL), MUSTER_EINVAL);
  ASSERT_OK(muster_process_memory_usage(&m0));
  uint64_t vm = status_rss();
  ASSERT(m0.rss > 0);
  /* Same quantity from two files read a moment apart. */
  ASSERT_LE(m0.rss, vm + (4u << 20));
  ASSERT_GE(m0.rss + (4u << 20), vm);
  ASSERT(m0.heap_used > 0);
  ASSERT_LE(m0.heap_used, m0.heap_total);

  /* 10 MB malloc'd and touched: in the heap, and resident. */
  const size_t big = 10u << 20;
  char *p = malloc(big);
  ASSERT(p != NULL);
  memset(p, 0x5a, big);
  ASSERT_OK(muster_process_memory_usage(&m1));
  ASSERT_GE(m1.heap_used, m0.heap_used + big);
  ASSERT_LE(m1.heap_used, m1.heap_total);
  ASSERT_GE(m1.rss, m0.rss + big - (1u << 20));
  ASSERT_LE(m1.rss, status_rss() + (4u << 20));

  /* Freed: no longer in use. */
  volatile char sink = p[big - 1];
  (void)sink;
  free(p);
  ASSERT_OK(muster_process_memory_usage(&m2));
  ASSERT_LE(m2.heap_used + big, m1.heap_used);
}

/* User + system CPU time of this process, from getrusage directly. */
static void libc_cpu(uint64_t *user, uint64_t *sys) {
  struct rusage ru;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
  *user = (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
  *sys = (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static uint64_t process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Burns `ms` milliseconds of this process's CPU (not wall) time. */
static void burn_cpu(uint64_t ms) {
  uint64_t end = process_cpu_ns() + ms * 1000000u;
  uint64_t x = 0;
  /* Reading the CPU clock is a system call: compute long between reads so
   * that the time is mostly user time. */
  while (process_cpu_ns() < end) {
    for (int i = 0; i < 200000; i++) {
      x += (uint64_t)i * 2654435761u;
      /* One real step per iteration: no closed form, no vectorizing. */
      __asm__ volatile("" : "+r"(x));
    }
  }
}

TEST(process_cpu_usage) {
  uint64_t u0, s0, u1, s1;
  muster_cpu_usage_t now, start, delta;

  libc_cpu(&u0, &s0);
  ASSERT_OK(muster_process_cpu_usage(NULL, &now));
  libc_cpu(&u1, &s1);
  ASSERT(u0 <= now.user && now.user <= u1);
  ASSERT(s0 <= now.system && now.system <= s1);

  /* The delta over 200 ms of computing grows by about that much. */
  ASSERT_OK(muster_process_cpu_usage(NULL, &start));
  burn_cpu(200);
  ASSERT_OK(muster_process_cpu_usage(&start, &delta));
  ASSERT_GE(delta.user + delta.system, 150000);
  ASSERT_GE(delta.user, 75000); /* mostly in user space */
  ASSERT_OK(muster_process_cpu_usage(NULL, &now));
  ASSERT_LE(delta.user, now.user - start.user);
  ASSERT_LE(delta.system, now.system - start.system);

  /* previous may be the output. */
  muster_cpu_usage_t inplace = start;
  ASSERT_OK(muster_process_cpu_usage(&inplace, &inplace));
  ASSERT_GE(inplace.user, delta.user);

  ASSERT_ERR(muster_process_cpu_usage(NULL, NULL), MUSTER_EINVAL);
  muster_cpu_usage_t future = {now.user + 60000000u, 0};
  ASSERT_ERR(muster_process_cpu_usage(&future, &delta), MUSTER_EINVAL);
  future = (muster_cpu_usage_t){0, now.system + 60000000u};
  ASSERT_ERR(muster_process_cpu_usage(&future, &delta), MUSTER_EINVAL);
}

TEST(process_resource_usage) {
  struct rusage a, b;
  muster_resource_usage_t r;
  ASSERT_ERR(muster_process_resource_usage(NULL), MUSTER_EINVAL);

  /* 4 MB of fresh pages touched: minor faults, and a higher peak RSS. */
  const size_t len = 4u << 20;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  ASSERT(p != MAP_FAILED);
  ASSERT_EQ(getrusage(RUSAGE_SELF, &a), 0);
  memset(p, 1, len);
  ASSERT_OK(muster_process_resource_usage(&r));
  ASSERT_EQ(getrusage(RUSAGE_SELF, &b), 0);
  ASSERT_EQ(munmap(p, len), 0);

#define BETWEEN(field, ru_field)                                               \
  do {                                                                         \
    ASSERT_GE(r.field, (uint64_t)a.ru_field);                                  \
    ASSERT_LE(r.field, (uint64_t)b.ru_field);                                  \
  } while (0)
  BETWEEN(max_rss_kb, ru_maxrss);
  BETWEEN(minor_page_faults, ru_minflt);
  BETWEEN(major_page_faults, ru_majflt);
  BETWEEN(fs_read, ru_inblock);
  BETWEEN(fs_write, ru_oublock);
  BETWEEN(voluntary_context_switches, ru_nvcsw);
  BETWEEN(involuntary_context_switches, ru_nivcsw);
  BETWEEN(shared_memory_size, ru_ixrss);
  BETWEEN(unshared_data_size, ru_idrss);
  BETWEEN(unshared_stack_size, ru_isrss);
  BETWEEN(swapped_out, ru_nswap);
  BETWEEN(ipc_sent, ru_msgsnd);
  BETWEEN(ipc_received, ru_msgrcv);
  BETWEEN(signals_count, ru_nsignals);
#undef BETWEEN
  uint64_t ua = a.ru_utime.tv_sec * 1000000u + a.ru_utime.tv_usec;
  uint64_t ub = b.ru_utime.tv_sec * 1000000u + b.ru_utime.tv_usec;
  ASSERT(ua <= r.user_cpu_time && r.user_cpu_time <= ub);
  uint64_t sa = a.ru_stime.tv_sec * 1000000u + a.ru_stime.tv_usec;
  uint64_t sb = b.ru_stime.tv_sec * 1000000u + b.ru_stime.tv_usec;
  ASSERT(sa <= r.system_cpu_time && r.system_cpu_time <= sb);
  /* Touching 1024 fresh pages faulted at least some of them in. */
  ASSERT_GE(r.minor_page_faults, (uint64_t)a.ru_minflt + 100);
  ASSERT_GE(r.max_rss_kb, 4096);
}

TEST(process_uptime) {
  double up0, up1;
  ASSERT_ERR(muster_process_uptime(NULL), MUSTER_EINVAL);
  uint64_t t0 = test_now_ms();
  ASSERT_OK(muster_process_uptime(&up0));
  /* The runner started a moment ago. */
  ASSERT(up0 >= 0 && up0 < 60);
  struct timespec ts = {0, 300 * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
  ASSERT_OK(muster_process_uptime(&up1));
  uint64_t waited = test_now_ms() - t0;
  /* Grows with the wall clock, within the 10 ms tick of the start time. */
  ASSERT(up1 - up0 >= 0.29);
  ASSERT(up1 - up0 <= waited / 1000.0 + 0.02);

  /* It counts from the start of the process, not from the first call: a
   * child that sleeps 1.2 s before asking reports at least that. */
  int in, out;
  pid_t pid =
      spawn_piped(test_fixture_argv("process_uptime", "1200", NULL), &in, &out);
  char line[64];
  read_line(out, line, sizeof line);
  double child = atof(line);
  ASSERT(child >= 1.19);
  ASSERT(child < 60);
  close(in);
  ASSERT_EQ(wait_exit_code(pid), 0);
  close(out);
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TEST(process_hrtime) {
  /* The same clock as CLOCK_MONOTONIC, in nanoseconds. */
  uint64_t a = monotonic_ns();
  uint64_t t = muster_process_hrtime();
  uint64_t b = monotonic_ns();
  ASSERT(a <= t && t <= b);
  /* Never goes back. */
  uint64_t prev = t;
  for (int i = 0; i < 100000; i++) {
    uint64_t now = muster_process_hrtime();
    ASSERT(now >= prev);
    prev = now;
  }
  /* Differences measure time: 50 ms of sleep is at least 50 ms. */
  t = muster_process_hrtime();
  struct timespec ts = {0, 50 * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
  ASSERT_GE(muster_process_hrtime() - t, 50000000);
}

TEST(process_exit_codes) {
  /* Node's numbers (doc/api/process.md, "Exit codes"). */
  ASSERT_EQ(MUSTER_EXIT_SUCCESS, 0);
  ASSERT_EQ(MUSTER_EXIT_UNCAUGHT_FATAL_EXCEPTION, 1);
  ASSERT_EQ(MUSTER_EXIT_INTERNAL_PARSE_ERROR, 3);
  ASSERT_EQ(MUSTER_EXIT_INTERNAL_EVALUATION_FAILURE, 4);
  ASSERT_EQ(MUSTER_EXIT_FATAL_ERROR, 5);
  ASSERT_EQ(MUSTER_EXIT_NON_FUNCTION_HANDLER, 6);
  ASSERT_EQ(MUSTER_EXIT_HANDLER_RUNTIME_FAILURE, 7);
  ASSERT_EQ(MUSTER_EXIT_INVALID_ARGUMENT, 9);
  ASSERT_EQ(MUSTER_EXIT_INTERNAL_RUNTIME_FAILURE, 10);
  ASSERT_EQ(MUSTER_EXIT_INVALID_DEBUG_ARGUMENT, 12);
  ASSERT_EQ(MUSTER_EXIT_UNSETTLED_TOP_LEVEL_AWAIT, 13);
  ASSERT_EQ(MUSTER_EXIT_SIGNAL(SIGTERM), 143);
  ASSERT_EQ(MUSTER_EXIT_SIGNAL(SIGABRT), 134);

  ASSERT_STR_EQ(muster_process_exit_code_string(0), "success");
  ASSERT_STR_EQ(muster_process_exit_code_string(1), "uncaught fatal exception");
  ASSERT_STR_EQ(muster_process_exit_code_string(9), "invalid argument");
  ASSERT_STR_EQ(muster_process_exit_code_string(13),
                "unsettled top-level await");
  ASSERT_STR_EQ(muster_process_exit_code_string(143), "exit after a signal");
  ASSERT_STR_EQ(muster_process_exit_code_string(2), "unknown exit code");
  ASSERT_STR_EQ(muster_process_exit_code_string(8), "unknown exit code");
  ASSERT_STR_EQ(muster_process_exit_code_string(11), "unknown exit code");
  ASSERT_STR_EQ(muster_process_exit_code_string(128), "unknown exit code");
  ASSERT_STR_EQ(muster_process_exit_code_string(-1), "unknown exit code");
  for (int c = -2; c < 300; c++)
    ASSERT(muster_process_exit_code_string(c) != NULL);

  ASSERT_EQ(muster_process_exit_code_signal(143), SIGTERM);
  ASSERT_EQ(muster_process_exit_code_signal(130), SIGINT);
  ASSERT_EQ(muster_process_exit_code_signal(255), 127);
  ASSERT_EQ(muster_process_exit_code_signal(128), 0);
  ASSERT_EQ(muster_process_exit_code_signal(1), 0);
  ASSERT_EQ(muster_process_exit_code_signal(256), 0);
  ASSERT_EQ(muster_process_exit_code_signal(-1), 0);

  /* The convention is the shell's: a command killed by SIGTERM is
   * reported as 143. */
  const char *sh[] = {"/bin/sh", "-c", "sh -c 'kill -TERM $$'; exit $?", NULL};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, sh[0], NULL, NULL, (char *const *)sh, environ),
            0);
  int code = wait_exit_code(pid);
  ASSERT_EQ(code, MUSTER_EXIT_SIGNAL(SIGTERM));
  ASSERT_EQ(muster_process_exit_code_signal(code), SIGTERM);
}
