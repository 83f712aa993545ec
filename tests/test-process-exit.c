/* kill, exit, exit code, exit and beforeExit hooks, muster_process_run
 * (muster/process_exit.h). Whatever ends a process runs in a fixture
 * (process_exit MODE), whose output shows which hooks ran, in order. */
#include "test.h"

#include <signal.h>
#include <unistd.h>

static void run_fixture(const char *mode, muster_exec_result_t *r) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 20000;
  ASSERT_OK(muster_spawn_sync(test_fixture_path(),
                              test_fixture_argv("process_exit", mode, NULL), &o,
                              r));
}

/* Runs the fixture in `mode`; its output and exit code must be these. */
static void expect(const char *mode, const char *out, int status) {
  muster_exec_result_t r;
  run_fixture(mode, &r);
  ASSERT_STR_EQ(r.stdout_buf, out);
  ASSERT_EQ(r.term_signal, 0);
  ASSERT_EQ(r.exit_status, status);
  muster_exec_result_free(&r);
}

/* Node's order: beforeExit (work it adds runs, then beforeExit again),
 * then the exit hooks in registration order, each seeing the code the
 * previous one left. */
TEST(process_exit_lifecycle) {
  expect("run", "beforeExit 0\ntimer\nbeforeExit 3\nexit 3 a\nexit 3 b\n", 5);
}

/* exit() fires no beforeExit; an exit() inside an exit hook ends the
 * process at once with its code, the later hooks not run. */
TEST(process_exit_explicit) {
  expect("exit", "exit 4 a\n", 9);
}

/* A fatal signal and abort() run no hook at all. */
TEST(process_exit_signal_no_hooks) {
  muster_exec_result_t r;
  run_fixture("signal", &r);
  ASSERT_STR_EQ(r.stdout_buf, "");
  ASSERT_EQ(r.term_signal, SIGTERM);
  muster_exec_result_free(&r);
  run_fixture("abort", &r);
  ASSERT_STR_EQ(r.stdout_buf, "");
  ASSERT_EQ(r.term_signal, SIGABRT);
  muster_exec_result_free(&r);
}

static void hook(int code, void *arg) {
  (void)code, (void)arg;
}

TEST(process_exit_hooks_errors) {
  ASSERT_ERR(muster_process_on_exit(NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_on_before_exit(NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_off_exit(hook, NULL), MUSTER_ENOENT);
  ASSERT_OK(muster_process_on_exit(hook, NULL));
  ASSERT_OK(muster_process_on_exit(hook, NULL));
  ASSERT_OK(muster_process_off_exit(hook, NULL));
  ASSERT_OK(muster_process_off_exit(hook, NULL));
  ASSERT_ERR(muster_process_off_exit(hook, NULL), MUSTER_ENOENT);
  ASSERT_ERR(muster_process_off_before_exit(hook, &hook), MUSTER_ENOENT);
  ASSERT_ERR(muster_process_run(NULL), MUSTER_EINVAL);
  ASSERT_EQ(muster_process_exit_code(), 0);
  muster_process_set_exit_code(42);
  ASSERT_EQ(muster_process_exit_code(), 42);
  muster_process_set_exit_code(0);
}

TEST(process_kill) {
  ASSERT_OK(muster_process_kill(getpid(), 0));
  ASSERT_OK(muster_process_kill_name(getpid(), "SIGWINCH")); /* ignored */
  ASSERT_ERR(muster_process_kill(getpid(), -1), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_kill(getpid(), SIGRTMAX + 1), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_kill_name(getpid(), "TERM"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_kill_name(getpid(), "SIGNOPE"), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_kill_name(getpid(), NULL), MUSTER_EINVAL);
  /* A pid above pid_max cannot exist. */
  ASSERT_ERR(muster_process_kill(1 << 30, 0), MUSTER_ESRCH);
  ASSERT_ERR(muster_process_kill_name(1 << 30, "SIGTERM"), MUSTER_ESRCH);
  /* EPERM: init may not be signalled by others (as root, the
   * process_ids_drop fixture checks it as nobody). */
  if (geteuid() != 0)
    ASSERT_ERR(muster_process_kill(1, 0), MUSTER_EPERM);

  /* By name, a real delivery: the fixture waits for SIGTERM. */
  expect("wait-term", "SIGTERM\n", 0);

  for (int s = 1; s < 32; s++)
    if (muster_signal_name(s) != NULL)
      ASSERT_EQ(muster_signal_number(muster_signal_name(s)), s);
  ASSERT_EQ(muster_signal_number("SIGIOT"), SIGABRT);
  ASSERT_ERR(muster_signal_number("sigterm"), MUSTER_EINVAL);
  ASSERT_ERR(muster_signal_number(""), MUSTER_EINVAL);
}
