/* The test runner: `muster-test NAME` runs one test; `muster-test --list`
 * prints every name. The test runs in a child process of the runner. After
 * the test function returns, that process fails the test if an fd or a
 * child of its own was left behind; after it ended, the runner (a child
 * subreaper) fails the test if any descendant is still alive, a
 * grandchild reparented away from the test included. */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_ENTRY(name) void test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY

struct entry {
  const char *name;
  void (*fn)(void);
};

static const struct entry tests[] = {
#define TEST_ENTRY(name) {#name, test_##name},
#include "test-list.h"
#undef TEST_ENTRY
    {NULL, NULL}};

/* A child still running, or a zombie nobody reaped, is a leak. This runs
 * in the test's own process, which is not a subreaper: what it finds are
 * the test's children, nothing reparented. */
static void check_no_children(void) {
  int status;
  pid_t pid = waitpid(-1, &status, WNOHANG);
  if (pid == 0)
    TEST_FAIL("a child process is still running after the test");
  if (pid > 0)
    TEST_FAIL("child %d was left as a zombie after the test", (int)pid);
  if (errno != ECHILD)
    TEST_FAIL("waitpid: %s", strerror(errno));
}

/* The test's own process: run it, then check fds and children. */
static int run_test(const struct entry *e) {
  /* libuv's first uv_loop_init() in a process opens a pipe it keeps for
   * the process's life (its signal lock); take that hit before counting,
   * or every test that makes a loop would look like it leaked two fds. */
  uv_loop_t warm;
  if (uv_loop_init(&warm) == 0)
    uv_loop_close(&warm);
  int fds = test_fd_count();
  e->fn();
  int after = test_fd_count();
  if (after != fds)
    TEST_FAIL("fd leak: %d fds before the test, %d after", fds, after);
  check_no_children();
  printf("ok %s\n", e->name);
  fflush(stdout);
  return 0;
}

/* Names a process that outlived its test, from /proc. */
static void describe(pid_t pid) {
  char path[64], cmd[256] = "";
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  FILE *f = fopen(path, "re");
  if (f != NULL) {
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
      if (cmd[i] == '\0')
        cmd[i] = ' ';
    cmd[n] = '\0';
  }
  fprintf(stderr, "  pid %d: %s\n", (int)pid, cmd[0] ? cmd : "(exited)");
}

/* After the test's process ended, every process it left behind has been
 * reparented to this runner (a child subreaper). Those already exiting
 * (a PR_SET_PDEATHSIG, a closed channel) get a short grace to go; whatever
 * is still alive then is a leak: named, killed, reaped, and the test
 * fails. Returns how many were left alive. */
static int sweep_descendants(void) {
  uint64_t deadline = test_now_ms() + 3000;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR)
      continue;
    if (pid < 0)
      return 0; /* ECHILD: nothing is left */
    if (pid > 0)
      continue;
    if (test_now_ms() >= deadline)
      break;
    usleep(5000);
  }
  /* Still running past the grace: list our children through /proc, name
   * and kill them, reap each, and again for any that killing reparented to
   * us, until none is left. */
  int left = 0;
  fprintf(stderr, "the test left processes behind:\n");
  for (int round = 0; round < 100; round++) {
    char path[64];
    pid_t pids[256];
    int n = 0, pid;
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "re");
    while (f != NULL && n < 256 && fscanf(f, "%d", &pid) == 1)
      pids[n++] = pid;
    if (f != NULL)
      fclose(f);
    for (int i = 0; i < n; i++) {
      describe(pids[i]);
      kill(pids[i], SIGKILL);
    }
    for (int i = 0; i < n; i++)
      while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
        ;
    left += n;
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ; /* zombies reparented meanwhile */
    if (n == 0)
      break;
  }
  return left > 0 ? left : 1;
}

/* `muster-test --orphan-probe FILE`: a test that orphans a grandchild
 * (its pid written to FILE), so that runner_fails_orphans can check the
 * sweep on this runner itself. */
static const char *probe_file;
static void orphan_probe(void) {
  pid_t pid = fork();
  if (pid == 0) {
    pid_t g = fork();
    if (g == 0) {
      for (;;)
        pause();
    }
    FILE *f = fopen(probe_file, "we");
    if (f != NULL) {
      fprintf(f, "%d\n", (int)g);
      fclose(f);
    }
    _exit(0);
  }
  ASSERT(pid > 0);
  ASSERT_EQ(waitpid(pid, NULL, 0), pid);
}
static const struct entry probe = {"orphan_probe", orphan_probe};

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (const struct entry *e = tests; e->name; e++)
      printf("%s\n", e->name);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s NAME | --list\n", argv[0]);
    return 2;
  }
  /* SIGPIPE keeps its default action on purpose: libmuster must report
   * EPIPE without relying on the application ignoring the signal, and a
   * test that triggers one dies visibly. */
  const struct entry *e = tests;
  while (e->name != NULL && strcmp(e->name, argv[1]) != 0)
    e++;
  if (argc == 3 && strcmp(argv[1], "--orphan-probe") == 0) {
    probe_file = argv[2];
    e = &probe;
  }
  if (e->name == NULL) {
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  if (getenv("MUSTER_TEST_INLINE") != NULL)
    return run_test(e); /* under a debugger: no fork, no sweep */

  /* The runner is a child subreaper and runs the test in a child of its
   * own: a grandchild the test orphans comes back to the runner instead of
   * PID 1, and sweep_descendants() sees it. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    fprintf(stderr, "prctl(PR_SET_CHILD_SUBREAPER): %s\n", strerror(errno));
    return 1;
  }
  fflush(NULL);
  pid_t runner = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "fork: %s\n", strerror(errno));
    return 1;
  }
  if (pid == 0) {
    /* ctest's timeout kills the runner: the test must not outlive it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != runner)
      _exit(1);
    exit(run_test(e));
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      fprintf(stderr, "waitpid: %s\n", strerror(errno));
      return 1;
    }
  int left = sweep_descendants();
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "%s: killed by signal %d (%s)\n", e->name,
            WTERMSIG(status), strsignal(WTERMSIG(status)));
    return 128 + WTERMSIG(status);
  }
  int code = WEXITSTATUS(status);
  if (left > 0) {
    fprintf(stderr, "%s: FAILED: %d process(es) outlived the test\n",
            e->name, left);
    return code == 0 || code == 77 ? 1 : code;
  }
  return code;
}
