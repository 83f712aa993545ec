/* The two spawn backends (docs/child.md): posix_spawn() + pidfd on Linux,
 * uv_spawn() otherwise. MUSTER_SPAWN_BACKEND=uv in the environment forces
 * the second; child_backend_uv_rerun runs key tests again that way. */
#include "test-child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
}

static int uv_forced(void) {
  const char *b = getenv("MUSTER_SPAWN_BACKEND");
  return b != NULL && strcmp(b, "uv") == 0;
}

static int pidfd_works(void) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd < 0)
    return 0;
  close(fd);
  return 1;
#else
  return 0;
#endif
}

static void run(const char *file, const char *const *argv) {
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, file, argv, &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- which backend ran -------------------------------------------------- */

static int sigchld_default; /* while the child ran: -1 unknown */

static void check_sigchld(muster_child_t *c) {
  struct sigaction sa;
  rec.spawned++;
  ASSERT_OK(sigaction(SIGCHLD, NULL, &sa));
  sigchld_default = sa.sa_handler == SIG_DFL;
}

/* The pidfd backend installs no SIGCHLD handler; libuv's uv_spawn() does.
 * So the disposition while a child runs tells which backend started it. */
TEST(child_backend_sigchld) {
  setup();
  sigchld_default = -1;
  opts.on_spawn = check_sigchld;
  run(test_fixture_path(), test_fixture_argv("child_sleep", "50", NULL));
  ASSERT_EQ(rec.spawned, 1);
  if (uv_forced() || !pidfd_works())
    ASSERT_EQ(sigchld_default, 0);
  else
    ASSERT_EQ(sigchld_default, 1);
}

/* SETUID/SETGID no longer need uv_spawn(): the vfork backend changes ids
 * itself. With our own ids it works for anyone. */
TEST(child_backend_setuid) {
  setup();
  sigchld_default = -1;
  opts.on_spawn = check_sigchld;
  opts.flags = MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID;
  opts.uid = getuid();
  opts.gid = getgid();
  run(test_fixture_path(), test_fixture_argv("child_ids", NULL));
  if (uv_forced() || !pidfd_works())
    ASSERT_EQ(sigchld_default, 0);
  else
    ASSERT_EQ(sigchld_default, 1);
  ASSERT_EQ(rec.exit_status, 0);
}

/* ---- a raw uv_spawn() child next to a muster child ----------------------- */

static uv_process_t raw_proc;
static int raw_exited;
static int64_t raw_status;

static void raw_exit_cb(uv_process_t *p, int64_t status, int sig) {
  raw_exited++;
  raw_status = status;
  uv_close((uv_handle_t *)p, NULL);
}

/* libuv's SIGCHLD handler waitpid()s only the pids of its own process
 * handles, and ours only our pid: each must see its own exit, whichever
 * comes first, and neither may steal the other's. */
static void run_mixed(const char *muster_ms, const char *raw_ms) {
  const char *raw_argv[] = {test_fixture_path(), "child_sleep", raw_ms, NULL};
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  muster_child_t *c = NULL;

  setup();
  raw_exited = 0;
  raw_status = -1;
  memset(&po, 0, sizeof po);
  for (int i = 0; i < 3; i++) {
    stdio[i].flags = i == 1 ? UV_IGNORE : UV_INHERIT_FD;
    stdio[i].data.fd = i;
  }
  po.file = raw_argv[0];
  po.args = (char **)raw_argv;
  po.exit_cb = raw_exit_cb;
  po.stdio = stdio;
  po.stdio_count = 3;
  ASSERT_OK(uv_spawn(&loop, &raw_proc, &po));
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", muster_ms, NULL),
                         &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(raw_exited, 1);
  ASSERT_EQ(raw_status, 0);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_EQ(rec.term_signal, 0);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(test_zombie_count(), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_backend_mixed_uv_first) {
  run_mixed("300", "0");
}

TEST(child_backend_mixed_muster_first) {
  run_mixed("0", "300");
}

/* A muster child closed early (its watcher waits, unreferenced) while a raw
 * uv_spawn() child runs too: both reaped. */
TEST(child_backend_mixed_close_early) {
  const char *raw_argv[] = {test_fixture_path(), "child_sleep", "200", NULL};
  uv_process_options_t po;
  muster_child_t *c = NULL;
  setup();
  raw_exited = 0;
  memset(&po, 0, sizeof po);
  po.file = raw_argv[0];
  po.args = (char **)raw_argv;
  po.exit_cb = raw_exit_cb;
  ASSERT_OK(uv_spawn(&loop, &raw_proc, &po));
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "100", NULL), &opts,
                         &c));
  int pid = muster_child_pid(c);
  muster_child_close(c, rec_freed_cb);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(raw_exited, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(rec.exited, 0);
  ASSERT_EQ(waitpid(pid, NULL, WNOHANG), -1);
  ASSERT_EQ(errno, ECHILD);
  ASSERT_EQ(test_zombie_count(), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- stdio sources that are also slot numbers --------------------------- */

static unsigned long pipe_ino(int fd) {
  struct stat st;
  ASSERT_OK(fstat(fd, &st));
  return (unsigned long)st.st_ino;
}

/* Slot lo gets the parent's fd hi and slot hi its fd lo (two free fd
 * numbers below MUSTER_STDIO_MAX): a naive sequence of dup2(hi, lo),
 * dup2(lo, hi) would give both slots the same pipe. */
TEST(child_backend_swapped_fds) {
  int a[2], b[2], lo = 5;
  setup();
  ASSERT_OK(pipe2(a, O_CLOEXEC));
  ASSERT_OK(pipe2(b, O_CLOEXEC));
  /* Out of the way of the low numbers, which ctest fills up. */
  for (int i = 0; i < 2; i++) {
    int fa = fcntl(a[i], F_DUPFD_CLOEXEC, 64);
    int fb = fcntl(b[i], F_DUPFD_CLOEXEC, 64);
    ASSERT(fa >= 64 && fb >= 64);
    close(a[i]);
    close(b[i]);
    a[i] = fa;
    b[i] = fb;
  }
  while (lo + 1 < MUSTER_STDIO_MAX &&
         (fcntl(lo, F_GETFD) >= 0 || fcntl(lo + 1, F_GETFD) >= 0))
    lo++;
  if (lo + 1 >= MUSTER_STDIO_MAX) {
    char open_fds[128] = "";
    for (int fd = 0; fd < MUSTER_STDIO_MAX; fd++)
      if (fcntl(fd, F_GETFD) >= 0)
        snprintf(open_fds + strlen(open_fds),
                 sizeof open_fds - strlen(open_fds), " %d", fd);
    TEST_SKIP("no two free fds below %d (open:%s)", MUSTER_STDIO_MAX, open_fds);
  }
  int hi = lo + 1, n = hi + 1;
  ASSERT_EQ(dup3(a[1], lo, O_CLOEXEC), lo);
  ASSERT_EQ(dup3(b[1], hi, O_CLOEXEC), hi);
  close(a[1]);
  close(b[1]);
  muster_stdio_t stdio[MUSTER_STDIO_MAX];
  for (int i = 0; i < n; i++)
    stdio[i].kind = i < 3 ? MUSTER_STDIO_PIPE : MUSTER_STDIO_IGNORE;
  stdio[lo] = (muster_stdio_t){MUSTER_STDIO_FD, hi};
  stdio[hi] = (muster_stdio_t){MUSTER_STDIO_FD, lo};
  opts.stdio = stdio;
  opts.stdio_count = n;
  run(test_fixture_path(), test_fixture_argv("child_fds", NULL));
  char want_lo[64], want_hi[64], none[16];
  snprintf(want_lo, sizeof want_lo, "\n%d pipe:[%lu]\n", lo, pipe_ino(b[0]));
  snprintf(want_hi, sizeof want_hi, "\n%d pipe:[%lu]\n", hi, pipe_ino(a[0]));
  if (!test_contains(rec.out, want_lo) || !test_contains(rec.out, want_hi))
    TEST_FAIL("child fds:\n%s", rec.out);
  /* Nothing else leaked, and the parent's fds were left as they were. */
  ASSERT(!test_contains(rec.out, "\n3 "));
  snprintf(none, sizeof none, "\n%d ", n);
  ASSERT(!test_contains(rec.out, none));
  ASSERT_EQ(fcntl(lo, F_GETFD), FD_CLOEXEC);
  ASSERT_EQ(fcntl(hi, F_GETFD), FD_CLOEXEC);
  close(lo);
  close(hi);
  close(a[0]);
  close(b[0]);
}

/* Slot 0 gets the parent's fd 1 and slot 1 its fd 0, where 0 and 1 are
 * the ends of a pipe placed there by the test. */
TEST(child_backend_swapped_stdio) {
  int save0 = dup(0), save1 = dup(1), p[2];
  setup();
  ASSERT(save0 >= 0 && save1 >= 0);
  ASSERT_OK(pipe(p));
  /* fd 0: the pipe's write end, fd 1: its read end (swapped on purpose). */
  ASSERT_EQ(dup2(p[1], 0), 0);
  ASSERT_EQ(dup2(p[0], 1), 1);
  close(p[0]);
  close(p[1]);
  muster_stdio_t stdio[3] = {
      {MUSTER_STDIO_FD, 1}, {MUSTER_STDIO_FD, 0}, {MUSTER_STDIO_PIPE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 3;
  muster_child_t *c = NULL;
  /* The child's stdin is the read end, its stdout the write end: what it
   * writes to stdout comes back on stdin, and goes out on stderr. Given
   * the same pipe end twice, it would block in read or fail to write. */
  const char *argv[] = {"/bin/sh", "-c",
                        "echo swapped >&1; read x; "
                        "echo \"$x\" >&2",
                        NULL};
  ASSERT_OK(muster_spawn(&loop, "/bin/sh", argv, &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(dup2(save0, 0), 0);
  ASSERT_EQ(dup2(save1, 1), 1);
  close(save0);
  close(save1);
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_STR_EQ(rec.err, "swapped\n");
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- exec semantics kept from uv_spawn() (execvp) ------------------------ */

static char dir[64];

static void make_dir_with(const char *name, const char *body, int mode) {
  char path[128];
  snprintf(dir, sizeof dir, "/tmp/muster-backend-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, body, strlen(body)), (long long)strlen(body));
  close(fd);
  ASSERT_OK(chmod(path, mode));
}

static void remove_dir(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  rmdir(dir);
}

/* The PATH searched is the child's, not the parent's. */
TEST(child_backend_child_path) {
  char path_env[128];
  make_dir_with("muster-only-here", "#!/bin/sh\necho found in $0\n", 0755);
  snprintf(path_env, sizeof path_env, "PATH=/nonexistent:%s", dir);
  const char *env[] = {path_env, NULL};

  /* Only the child's PATH has it. */
  setup();
  opts.env = env;
  run("muster-only-here", NULL);
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT(test_contains(rec.out, "found in"));
  ASSERT(test_contains(rec.out, dir));

  /* Only the parent's PATH has it: not found. */
  char *old = strdup(getenv("PATH"));
  char parent_path[256];
  snprintf(parent_path, sizeof parent_path, "%s:%s", dir, old);
  setenv("PATH", parent_path, 1);
  const char *env2[] = {"PATH=/bin:/usr/bin", NULL};
  ASSERT_OK(uv_loop_init(&loop));
  opts.env = env2;
  muster_child_t *c = NULL;
  int r = muster_spawn(&loop, "muster-only-here", NULL, &opts, &c);
  setenv("PATH", old, 1);
  free(old);
  ASSERT_ERR(r, MUSTER_ENOENT);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_OK(uv_loop_close(&loop));
  remove_dir("muster-only-here");
}

/* Found on PATH but not executable: EACCES, unless a later entry has an
 * executable one (execvp goes on after EACCES). */
TEST(child_backend_path_eacces) {
  char path_env[160];
  make_dir_with("true", "#!/bin/sh\nexit 9\n", 0644);
  snprintf(path_env, sizeof path_env, "PATH=%s", dir);
  const char *env[] = {path_env, NULL};
  setup();
  opts.env = env;
  muster_child_t *c = NULL;
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, &c), MUSTER_EACCES);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_OK(uv_loop_close(&loop));

  snprintf(path_env, sizeof path_env, "PATH=%s:/bin:/usr/bin", dir);
  setup();
  opts.env = env;
  run("true", NULL);
  ASSERT_EQ(rec.exit_status, 0);
  remove_dir("true");
}

/* A relative PATH entry is relative to the child's cwd. */
TEST(child_backend_relative_path_entry) {
  make_dir_with("muster-rel", "#!/bin/sh\necho rel ok\n", 0755);
  const char *env[] = {"PATH=.", NULL};
  setup();
  opts.env = env;
  opts.cwd = dir;
  run("muster-rel", NULL);
  ASSERT_STR_EQ(rec.out, "rel ok\n");
  remove_dir("muster-rel");
}

/* A script without a #! line: execvp() (and so uv_spawn()) runs it with
 * /bin/sh, with its arguments. */
TEST(child_backend_script_no_shebang) {
  char path[128];
  make_dir_with("plain", "echo \"plain $1 $2\"\n", 0755);
  snprintf(path, sizeof path, "%s/plain", dir);
  const char *argv[] = {"plain", "a", "b", NULL};
  setup();
  run(path, argv);
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_STR_EQ(rec.out, "plain a b\n");
  remove_dir("plain");
}

/* Signals the parent ignores or blocks are reset in the child. */
TEST(child_backend_signals_reset) {
  sigset_t block, old;
  setup();
  signal(SIGTERM, SIG_IGN);
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_OK(sigprocmask(SIG_BLOCK, &block, &old));
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "60000", NULL), &opts,
                         &c));
  signal(SIGTERM, SIG_DFL);
  ASSERT_OK(sigprocmask(SIG_SETMASK, &old, NULL));
  /* Wait for "ready" so the signal is not sent before exec. */
  while (rec.out_len == 0)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_OK(muster_child_kill(c, SIGTERM));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.term_signal, SIGTERM);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- the whole thing again with uv_spawn() ------------------------------- */

/* Key tests, each in its own runner process with the uv_spawn() backend
 * forced (the whole suite passes that way too: run ctest with
 * MUSTER_SPAWN_BACKEND=uv). */
TEST_T(child_backend_uv_rerun, 240) {
  static const char *const names[] = {
      "child_backend_sigchld",
      "child_backend_mixed_uv_first",
      "child_backend_mixed_muster_first",
      "child_backend_mixed_close_early",
      "child_backend_swapped_fds",
      "child_backend_swapped_stdio",
      "child_backend_child_path",
      "child_backend_path_eacces",
      "child_backend_relative_path_entry",
      "child_backend_script_no_shebang",
      "child_backend_signals_reset",
      "child_spawn_events_order",
      "child_spawn_signal_exit",
      "child_spawn_path_search",
      "child_spawn_env_exact",
      "child_spawn_cwd",
      "child_spawn_argv0",
      "child_spawn_detached",
      "child_spawn_timeout",
      "child_err_enoent",
      "child_err_enoent_path",
      "child_err_eacces",
      "child_err_cwd_enoent",
      "child_err_kill_esrch",
      "child_kill",
      "child_close_early_no_zombie",
      "child_close_in_exit_cb",
      "child_unref",
      "child_no_fd_leak",
      "child_fd_slot_passed",
      "child_stdio_kinds",
      "child_stdio_inherit",
      "child_stdin_echo",
      "child_exec_basic",
      "child_exec_timeout",
      "child_sync_spawn",
      "child_group_exec_timeout",
      "child_group_kill",
      "child_group_spawn_timeout",
      "child_group_kill_einval",
      "fork_echo",
  };
  const char *env[] = {"MUSTER_SPAWN_BACKEND=uv", NULL};
  muster_exec_options_t eo;
  memset(&eo, 0, sizeof eo);
  eo.spawn.env = env;
  eo.spawn.timeout_ms = 60000;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const char *argv[] = {MUSTER_TEST_PATH, names[i], NULL};
    muster_exec_result_t r;
    int err = muster_spawn_sync(MUSTER_TEST_PATH, argv, &eo, &r);
    if (err != 0 || (r.exit_status != 0 && r.exit_status != 77) ||
        r.term_signal != 0)
      TEST_FAIL("%s with MUSTER_SPAWN_BACKEND=uv: error %d, exit %d, "
                "signal %d\n%s%s",
                names[i], err, (int)r.exit_status, r.term_signal,
                r.stdout_buf ? r.stdout_buf : "",
                r.stderr_buf ? r.stderr_buf : "");
    muster_exec_result_free(&r);
  }
}
