/* What the child is made with between fork and exec: its parent-death
 * signal (options.death_signal), its user, group and supplementary groups
 * (MUSTER_SPAWN_SETUID / _SETGID / _SETGROUPS). The child_creds fixture
 * prints what the kernel says it got (prctl(PR_GET_PDEATHSIG) and
 * /proc/self/status). */
#include "test-child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
}

static int pidfd_backend(void) {
  const char *b = getenv("MUSTER_SPAWN_BACKEND");
  return b == NULL || strcmp(b, "uv") != 0;
}

/* Runs `file` with `argv` and `opts`, and returns what it printed. */
static const char *run_child(const char *file, const char *const *argv) {
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, file, argv, &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
  return rec.out;
}

/* The child_creds fixture's report (its parent-death signal and status). */
static const char *creds(void) {
  return run_child(test_fixture_path(), test_fixture_argv("child_creds", NULL));
}

/* The kernel's status of a child running as another user: /bin/cat of
 * /proc/self/status, not the fixture, which that user may not reach (a
 * build inside a 0700 home: EACCES, seen in CI). */
static const char *status_as_other(void) {
  static const char *const argv[] = {"cat", "/proc/self/status", NULL};
  if (access("/bin/cat", X_OK) != 0)
    TEST_SKIP("no /bin/cat");
  return run_child("/bin/cat", argv);
}

TEST(child_creds_death_signal) {
  if (!pidfd_backend())
    TEST_SKIP("death_signal needs the pidfd backend (MUSTER_SPAWN_BACKEND)");
  setup();
  opts.death_signal = SIGUSR2;
  char want[32];
  snprintf(want, sizeof want, "pdeathsig %d\n", SIGUSR2);
  if (!test_contains(creds(), want))
    TEST_FAIL("child says:\n%s", rec.out);
  /* Without the option: none. */
  setup();
  if (!test_contains(creds(), "pdeathsig 0\n"))
    TEST_FAIL("child says:\n%s", rec.out);
}

/* ---- the parent dies: the child gets the signal ------------------------- */

static int pid_pipe = -1;

static void report_pid(muster_child_t *c, int slot, const char *buf,
                       size_t len) {
  (void)buf;
  (void)len;
  if (slot != 1)
    return;
  int pid = muster_child_pid(c);
  if (write(pid_pipe, &pid, sizeof pid) != (ssize_t)sizeof pid)
    _exit(3);
  pause(); /* killed here by the test */
}

/* The middle process: spawns a sleeper that is to die with it (SIGUSR2),
 * tells the test its pid once it runs ("ready"), and waits to be killed. */
static void middle(int wfd) {
  uv_loop_t l;
  muster_child_t *c = NULL;
  muster_spawn_options_t o;
  pid_pipe = wfd;
  if (uv_loop_init(&l) != 0)
    _exit(4);
  memset(&o, 0, sizeof o);
  o.death_signal = SIGUSR2;
  o.on_data = report_pid;
  if (muster_spawn(&l, test_fixture_path(),
                   test_fixture_argv("child_sleep", "60000", NULL), &o,
                   &c) != 0)
    _exit(5);
  uv_run(&l, UV_RUN_DEFAULT);
  _exit(6);
}

/* Waits up to `ms` for `pid` (our child) and returns its wait status. */
static int wait_for(pid_t pid, int ms) {
  int ws = 0;
  for (int i = 0; i < ms; i++) {
    pid_t r = waitpid(pid, &ws, WNOHANG);
    if (r == pid)
      return ws;
    ASSERT_EQ(r, 0);
    usleep(1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &ws, 0);
  TEST_FAIL("pid %d still ran after %d ms", (int)pid, ms);
  return 0;
}

TEST(child_creds_parent_dies) {
  int p[2], pid = 0;
  if (!pidfd_backend())
    TEST_SKIP("death_signal needs the pidfd backend (MUSTER_SPAWN_BACKEND)");
  /* The sleeper, orphaned, becomes our child: we can see how it ended. */
  test_subreaper_begin();
  ASSERT_OK(pipe2(p, O_CLOEXEC));
  pid_t mid = fork();
  ASSERT(mid >= 0);
  if (mid == 0) {
    close(p[0]);
    middle(p[1]);
  }
  close(p[1]);
  ASSERT_EQ(read(p[0], &pid, sizeof pid), (ssize_t)sizeof pid);
  close(p[0]);
  ASSERT(pid > 0);
  ASSERT_OK(kill(mid, SIGKILL));
  int ws = wait_for(mid, 10000);
  ASSERT(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  /* The sleeper was the middle's child; it died of SIGUSR2, not of old
   * age (60 s) nor of a kill of ours. */
  ws = wait_for(pid, 10000);
  ASSERT(WIFSIGNALED(ws));
  ASSERT_EQ(WTERMSIG(ws), SIGUSR2);
  ASSERT_EQ(test_descendants_end(1000), 0);
}

/* ---- ids ----------------------------------------------------------------- */

static void need_root(void) {
  if (geteuid() != 0)
    TEST_SKIP("changing ids needs root");
}

/* The uid, gid and groups the kernel reports for the child. */
TEST(child_creds_ids) {
  static const gid_t groups[] = {65534, 100, 7};
  need_root();
  setup();
  opts.flags =
      MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID | MUSTER_SPAWN_SETGROUPS;
  opts.uid = 65534;
  opts.gid = 65533;
  opts.groups = groups;
  opts.ngroups = 3;
  const char *out = status_as_other();
  if (!test_contains(out, "Uid:\t65534\t65534\t65534\t65534\n") ||
      !test_contains(out, "Gid:\t65533\t65533\t65533\t65533\n") ||
      !test_contains(out, "Groups:\t7 100 65534 \n"))
    TEST_FAIL("child says:\n%s", out);
}

/* Ids without a list: root's groups are dropped (libuv's rule); an empty
 * list is none either. */
TEST(child_creds_no_groups) {
  need_root();
  setup();
  opts.flags = MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID;
  opts.uid = 65534;
  opts.gid = 65534;
  if (!test_contains(status_as_other(), "Groups:\t \n"))
    TEST_FAIL("child says:\n%s", rec.out);
  setup();
  opts.flags = MUSTER_SPAWN_SETGROUPS;
  if (!test_contains(status_as_other(), "Groups:\t \n") ||
      !test_contains(rec.out, "Uid:\t0\t0\t0\t0\n"))
    TEST_FAIL("child says:\n%s", rec.out);
}

/* A change of ids the kernel refuses: MUSTER_EPERM from muster_spawn(),
 * nothing started, nothing left. Run as nobody, in a process of its own. */
TEST(child_creds_eperm) {
  static const gid_t groups[] = {0};
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
         setresuid(65534, 65534, 65534) != 0))
      _exit(10);
    setup();
    int fds = test_fd_count();
    muster_child_t *c = NULL;
    opts.flags = MUSTER_SPAWN_SETUID;
    opts.uid = 0;
    if (muster_spawn(&loop, test_fixture_path(), NULL, &opts, &c) !=
        MUSTER_EPERM)
      _exit(11);
    opts.flags = MUSTER_SPAWN_SETGROUPS;
    opts.groups = groups;
    opts.ngroups = 1;
    int r = muster_spawn(&loop, test_fixture_path(), NULL, &opts, &c);
    if (r != MUSTER_EPERM && !(r == MUSTER_ENOSYS && !pidfd_backend()))
      _exit(12);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (test_fd_count() != fds)
      _exit(14);
    if (uv_loop_close(&loop) != 0)
      _exit(13);
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
      _exit(15); /* the failed child was reaped */
    _exit(0);
  }
  int ws = wait_for(pid, 20000);
  ASSERT(WIFEXITED(ws));
  ASSERT_EQ(WEXITSTATUS(ws), 0);
}

/* ---- bad options --------------------------------------------------------- */

TEST(child_creds_invalid) {
  static const gid_t one[] = {1};
  muster_child_t *c = NULL;
  setup();
  int fds = test_fd_count();
  opts.death_signal = NSIG;
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EINVAL);
  opts.death_signal = -1;
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EINVAL);
  opts.death_signal = 0;
  opts.flags = MUSTER_SPAWN_SETGROUPS;
  opts.ngroups = 2; /* and groups NULL */
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EINVAL);
  opts.groups = one;
  opts.ngroups = (size_t)MUSTER_SPAWN_MAX_GROUPS + 1;
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EINVAL);
  opts.flags = 1u << 6;
  opts.ngroups = 0;
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EINVAL);
  ASSERT(c == NULL);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* The uv_spawn() fallback cannot do either: ENOSYS, not a silent child
 * without them. Forced in a process of its own (the backend is chosen
 * once per process). */
TEST(child_creds_uv_enosys) {
  static const gid_t one[] = {0};
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    muster_child_t *c = NULL;
    setenv("MUSTER_SPAWN_BACKEND", "uv", 1);
    setup();
    opts.death_signal = SIGKILL;
    if (muster_spawn(&loop, "true", NULL, &opts, &c) != MUSTER_ENOSYS)
      _exit(10);
    opts.death_signal = 0;
    opts.flags = MUSTER_SPAWN_SETGROUPS;
    opts.groups = one;
    opts.ngroups = 1;
    if (muster_spawn(&loop, "true", NULL, &opts, &c) != MUSTER_ENOSYS)
      _exit(11);
    opts.flags = 0;
    if (muster_spawn(&loop, "true", NULL, &opts, &c) != 0)
      _exit(12);
    test_run_loop(&loop, 30000);
    _exit(rec.exited == 1 && uv_loop_close(&loop) == 0 ? 0 : 13);
  }
  int ws = wait_for(pid, 20000);
  ASSERT(WIFEXITED(ws));
  ASSERT_EQ(WEXITSTATUS(ws), 0);
}
