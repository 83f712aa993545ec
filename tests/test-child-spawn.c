/* muster_spawn(): events, options. */
#include "test-child.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
}

/* Runs one fixture (or program) to its close with `opts`. */
static void run(const char *file, const char *const *argv) {
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, file, argv, &opts, &c));
  ASSERT(c != NULL);
  ASSERT(muster_child_pid(c) > 0);
  ASSERT(muster_child_loop(c) == &loop);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.spawned, 1);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

static int pos(const char *ev) {
  const char *p = strstr(rec.log, ev);
  if (p == NULL)
    TEST_FAIL("event %s missing from \"%s\"", ev, rec.log);
  return (int)(p - rec.log);
}

TEST(child_spawn_events_order) {
  setup();
  run(test_fixture_path(),
      test_fixture_argv("child_out", "to stdout\n", "to stderr\n", "3", NULL));
  ASSERT_EQ(pos("spawn"), 0);
  ASSERT(pos("data1") < pos("eof1"));
  ASSERT(pos("data2") < pos("eof2"));
  ASSERT(pos("exit") < pos("close"));
  ASSERT(pos("eof1") < pos("close"));
  ASSERT(pos("eof2") < pos("close"));
  ASSERT_STR_EQ(strrchr(rec.log, ' ') + 1, "close");
  ASSERT_STR_EQ(rec.out, "to stdout\n");
  ASSERT_STR_EQ(rec.err, "to stderr\n");
  ASSERT_EQ(rec.exit_status, 3);
  ASSERT_EQ(rec.term_signal, 0);
}

TEST(child_spawn_signal_exit) {
  setup();
  char sig[8];
  snprintf(sig, sizeof sig, "%d", SIGUSR1);
  run(test_fixture_path(), test_fixture_argv("child_raise", sig, NULL));
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_EQ(rec.term_signal, SIGUSR1);
}

/* A child that exits at once still reports spawn before anything else,
 * also when spawned from a poll-phase callback (another child's exit). */
static rec_t inner;
static muster_spawn_options_t inner_opts;

static void outer_exit(muster_child_t *c, int64_t status, int sig) {
  rec_t *r = muster_child_data(c);
  rec_event(r, "exit");
  r->exited++;
  muster_child_t *in = NULL;
  rec_init(&inner);
  memset(&inner_opts, 0, sizeof inner_opts);
  rec_options(&inner_opts, &inner);
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &inner_opts, &in));
  /* Make the exit as likely as possible to be seen before the next idle
   * phase: the child is gone before we return to the loop. */
  usleep(50 * 1000);
}

TEST(child_spawn_event_first_fast_exit) {
  setup();
  opts.on_exit = outer_exit;
  run("true", NULL);
  ASSERT_EQ(inner.spawned, 1);
  ASSERT_EQ(inner.exited, 1);
  ASSERT_EQ(inner.closed, 1);
  ASSERT_EQ(inner.freed, 1);
  ASSERT_EQ(strncmp(inner.log, "spawn", 5), 0);
  ASSERT_EQ(strncmp(rec.log, "spawn", 5), 0);
}

TEST(child_spawn_argv_null_is_file) {
  setup();
  run(test_fixture_path(), NULL); /* fixture without a name: usage, exit 2 */
  ASSERT_EQ(rec.exit_status, 2);
  ASSERT(test_contains(rec.err, "usage"));
}

TEST(child_spawn_path_search) {
  setup();
  const char *argv[] = {"echo", "found", "on", "PATH", NULL};
  run("echo", argv);
  ASSERT_STR_EQ(rec.out, "found on PATH\n");
}

TEST(child_spawn_env_extend) {
  setup();
  setenv("MUSTER_TEST_KEEP", "kept", 1);
  setenv("MUSTER_TEST_GONE", "here", 1);
  setenv("MUSTER_TEST_REPL", "old", 1);
  const char *env[] = {"MUSTER_TEST_NEW=new", "MUSTER_TEST_REPL=new",
                       "MUSTER_TEST_GONE", NULL};
  opts.env = env;
  run(test_fixture_path(),
      test_fixture_argv("child_env", "MUSTER_TEST_KEEP", "MUSTER_TEST_NEW",
                        "MUSTER_TEST_REPL", "MUSTER_TEST_GONE", "PATH",
                        "NODE_CHANNEL_FD", NULL));
  unsetenv("MUSTER_TEST_KEEP");
  unsetenv("MUSTER_TEST_GONE");
  unsetenv("MUSTER_TEST_REPL");
  ASSERT(test_contains(rec.out, "MUSTER_TEST_KEEP=kept\n"));
  ASSERT(test_contains(rec.out, "MUSTER_TEST_NEW=new\n"));
  ASSERT(test_contains(rec.out, "MUSTER_TEST_REPL=new\n"));
  ASSERT(test_contains(rec.out, "MUSTER_TEST_GONE unset\n"));
  ASSERT(test_contains(rec.out, "PATH=/"));
  ASSERT(test_contains(rec.out, "NODE_CHANNEL_FD unset\n"));
}

TEST(child_spawn_env_exact) {
  setup();
  const char *env[] = {"ONLY=this", "ALSO=that", NULL};
  opts.env = env;
  opts.env_mode = MUSTER_ENV_EXACT;
  run(test_fixture_path(),
      test_fixture_argv("child_env", "ONLY", "ALSO", "PATH", NULL));
  ASSERT_STR_EQ(rec.out, "ONLY=this\nALSO=that\nPATH unset\ncount=2\n");
}

TEST(child_spawn_env_exact_empty) {
  setup();
  opts.env_mode = MUSTER_ENV_EXACT;
  run(test_fixture_path(), test_fixture_argv("child_env", "HOME", NULL));
  ASSERT_STR_EQ(rec.out, "HOME unset\ncount=0\n");
}

TEST(child_spawn_cwd) {
  setup();
  opts.cwd = "/tmp";
  run(test_fixture_path(), test_fixture_argv("child_cwd", NULL));
  ASSERT_STR_EQ(rec.out, "/tmp\n");
}

TEST(child_spawn_argv0) {
  setup();
  opts.argv0 = "custom-name";
  run(test_fixture_path(), test_fixture_argv("child_args", "a b", NULL));
  ASSERT_STR_EQ(rec.out, "custom-name\nchild_args\na b\n");
}

TEST(child_spawn_shell) {
  setup();
  opts.flags = MUSTER_SPAWN_SHELL;
  run("echo one; echo two >&2; exit 7", NULL);
  ASSERT_STR_EQ(rec.out, "one\n");
  ASSERT_STR_EQ(rec.err, "two\n");
  ASSERT_EQ(rec.exit_status, 7);
}

TEST(child_spawn_shell_named) {
  if (access("/bin/bash", X_OK) != 0)
    TEST_SKIP("no /bin/bash");
  setup();
  opts.flags = MUSTER_SPAWN_SHELL;
  opts.shell = "/bin/bash";
  run("echo \"bash=${BASH_VERSION:+yes}\" \"$0\"", NULL);
  ASSERT_STR_EQ(rec.out, "bash=yes /bin/bash\n");
}

TEST(child_spawn_detached) {
  setup();
  opts.flags = MUSTER_SPAWN_DETACHED;
  run(test_fixture_path(), test_fixture_argv("child_ids", NULL));
  int uid, gid, pid, sid, pgid;
  ASSERT_EQ(sscanf(rec.out, "%d %d %d %d %d", &uid, &gid, &pid, &sid, &pgid),
            5);
  ASSERT_EQ(sid, pid);
  ASSERT_EQ(pgid, pid);
  ASSERT_NE(sid, getsid(0));
}

TEST(child_spawn_not_detached) {
  setup();
  run(test_fixture_path(), test_fixture_argv("child_ids", NULL));
  int uid, gid, pid, sid, pgid;
  ASSERT_EQ(sscanf(rec.out, "%d %d %d %d %d", &uid, &gid, &pid, &sid, &pgid),
            5);
  ASSERT_EQ(sid, getsid(0));
}

TEST(child_spawn_uid_gid) {
  setup();
  if (getuid() != 0) {
    /* Not root: switching to root must be refused, and leak nothing. */
    muster_child_t *c = NULL;
    int fds = test_fd_count();
    opts.flags = MUSTER_SPAWN_SETUID;
    opts.uid = 0;
    ASSERT_ERR(muster_spawn(&loop, test_fixture_path(),
                            test_fixture_argv("child_ids", NULL), &opts, &c),
               MUSTER_EPERM);
    ASSERT_EQ(test_fd_count(), fds);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&loop));
    return;
  }
  /* The child runs as nobody, who may not reach the test binaries: a
   * checkout in a private (0700) home is common. So it runs /bin/sh from
   * "/", which any user can reach, and prints its ids. */
  const char *sh_argv[] = {"sh", "-c", "echo \"$(id -u) $(id -g)\"", NULL};
  if (access("/bin/sh", X_OK) != 0)
    TEST_SKIP("no /bin/sh to run as nobody");
  opts.flags = MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID;
  opts.uid = 65534;
  opts.gid = 65534;
  opts.cwd = "/";
  run("/bin/sh", sh_argv);
  ASSERT_STR_EQ(rec.out, "65534 65534\n");
}

TEST(child_spawn_user_data) {
  setup();
  muster_child_t *c = NULL;
  int other;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  ASSERT(muster_child_data(c) == &rec);
  muster_child_set_data(c, &other);
  ASSERT(muster_child_data(c) == &other);
  muster_child_set_data(c, &rec);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_spawn_timeout) {
  setup();
  opts.timeout_ms = 200;
  muster_child_t *c = NULL;
  opts.on_close = NULL; /* check the flags before closing */
  uint64_t t0 = test_now_ms();
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "60000", NULL), &opts,
                         &c));
  test_run_loop(&loop, 30000);
  ASSERT(test_now_ms() - t0 >= 180);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.term_signal, SIGTERM);
  ASSERT_EQ(muster_child_timed_out(c), 1);
  ASSERT_EQ(muster_child_killed(c), 1);
  muster_child_close(c, rec_freed_cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_spawn_timeout_kill_signal) {
  setup();
  opts.timeout_ms = 200;
  opts.kill_signal = SIGKILL;
  run(test_fixture_path(),
      test_fixture_argv("child_sleep", "60000", "ignore-term", NULL));
  ASSERT_EQ(rec.term_signal, SIGKILL);
}

TEST(child_spawn_no_timeout_when_quick) {
  setup();
  opts.timeout_ms = 60000;
  muster_child_t *c = NULL;
  opts.on_close = NULL;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  /* The timer must not keep the loop alive once the child exited. */
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(muster_child_timed_out(c), 0);
  ASSERT_EQ(muster_child_killed(c), 0);
  muster_child_close(c, rec_freed_cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}
