/* muster_exec() and muster_exec_file(): buffered runs on the caller's loop. */
#include "test-child.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_exec_options_t opts;
static int calls;
static muster_exec_result_t got;
static char out[1 << 21], err[4096];

static void setup(void) {
  ASSERT_OK(uv_loop_init(&loop));
  memset(&opts, 0, sizeof opts);
  memset(&got, 0, sizeof got);
  calls = 0;
}

static void exec_cb(const muster_exec_result_t *r, void *data) {
  ASSERT(data == &loop);
  ASSERT(r->stdout_buf != NULL && r->stderr_buf != NULL);
  ASSERT_EQ(strlen(r->stdout_buf), r->stdout_len); /* NUL-terminated */
  ASSERT(r->stdout_len < sizeof out && r->stderr_len < sizeof err);
  calls++;
  got = *r;
  memcpy(out, r->stdout_buf, r->stdout_len + 1);
  memcpy(err, r->stderr_buf, r->stderr_len + 1);
  got.stdout_buf = out;
  got.stderr_buf = err;
}

static void finish(void) {
  test_run_loop(&loop, 60000);
  ASSERT_EQ(calls, 1);
  ASSERT(got.pid > 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_exec_basic) {
  setup();
  ASSERT_OK(muster_exec(&loop, "echo out; echo err >&2; exit 4", &opts, exec_cb,
                        &loop));
  ASSERT_EQ(calls, 0);
  finish();
  ASSERT_OK(got.error); /* a non-zero exit is not an error of the run */
  ASSERT_EQ(got.exit_status, 4);
  ASSERT_EQ(got.term_signal, 0);
  ASSERT_STR_EQ(out, "out\n");
  ASSERT_STR_EQ(err, "err\n");
}

TEST(child_exec_null_options) {
  setup();
  ASSERT_OK(muster_exec(&loop, "printf %s abc", NULL, exec_cb, &loop));
  finish();
  ASSERT_STR_EQ(out, "abc");
}

TEST(child_exec_input) {
  setup();
  opts.input = "line one\nline two\n";
  opts.input_len = strlen(opts.input);
  ASSERT_OK(muster_exec(&loop, "wc -l", &opts, exec_cb, &loop));
  finish();
  ASSERT_EQ(atoi(out), 2);
}

TEST(child_exec_no_input_is_eof) {
  setup();
  ASSERT_OK(muster_exec(&loop, "cat; echo done", &opts, exec_cb, &loop));
  finish();
  ASSERT_STR_EQ(out, "done\n");
}

TEST(child_exec_input_not_read) {
  setup();
  static char big[1 << 20];
  opts.input = big;
  opts.input_len = sizeof big;
  ASSERT_OK(muster_exec(&loop, "exit 0", &opts, exec_cb, &loop));
  finish();
  ASSERT_OK(got.error); /* EPIPE on stdin is not the run's error */
}

TEST(child_exec_max_buffer) {
  setup();
  opts.max_buffer = 1000;
  ASSERT_OK(muster_exec_file(&loop, test_fixture_path(),
                             test_fixture_argv("child_bytes", "100000", NULL),
                             &opts, exec_cb, &loop));
  finish();
  ASSERT_ERR(got.error, MUSTER_ENOBUFS);
  ASSERT_EQ(got.stdout_len, 1000); /* the output up to the limit */
  ASSERT_EQ(strspn(out, "x"), 1000);
  /* Killed with SIGTERM, or it finished writing just before. */
  ASSERT(got.term_signal == SIGTERM || got.term_signal == SIGPIPE ||
         got.term_signal == 0);
}

TEST(child_exec_max_buffer_exact) {
  setup();
  opts.max_buffer = 5000;
  ASSERT_OK(muster_exec_file(&loop, test_fixture_path(),
                             test_fixture_argv("child_bytes", "5000", NULL),
                             &opts, exec_cb, &loop));
  finish();
  ASSERT_OK(got.error);
  ASSERT_EQ(got.stdout_len, 5000);
}

TEST(child_exec_max_buffer_default) {
  setup();
  ASSERT_OK(muster_exec_file(&loop, test_fixture_path(),
                             test_fixture_argv("child_bytes", "1048577", NULL),
                             &opts, exec_cb, &loop));
  finish();
  ASSERT_ERR(got.error, MUSTER_ENOBUFS);
  ASSERT_EQ(got.stdout_len, 1024 * 1024);
}

TEST(child_exec_max_buffer_stderr) {
  setup();
  opts.max_buffer = 100;
  ASSERT_OK(
      muster_exec_file(&loop, test_fixture_path(),
                       test_fixture_argv("child_bytes", "10000", "2", NULL),
                       &opts, exec_cb, &loop));
  finish();
  ASSERT_ERR(got.error, MUSTER_ENOBUFS);
  ASSERT_EQ(got.stderr_len, 100);
}

TEST(child_exec_timeout) {
  setup();
  /* Long enough for the child to have written "ready" even on a loaded
   * machine (it does so at once). */
  opts.spawn.timeout_ms = 1000;
  uint64_t t0 = test_now_ms();
  ASSERT_OK(muster_exec_file(&loop, test_fixture_path(),
                             test_fixture_argv("child_sleep", "60000", NULL),
                             &opts, exec_cb, &loop));
  finish();
  ASSERT(test_now_ms() - t0 >= 980);
  ASSERT_ERR(got.error, MUSTER_ETIMEDOUT);
  ASSERT_EQ(got.term_signal, SIGTERM);
  ASSERT_EQ(got.exit_status, 0);
  ASSERT_STR_EQ(out, "ready\n"); /* output before the timeout is kept */
}

TEST(child_exec_timeout_kill_signal) {
  setup();
  opts.spawn.timeout_ms = 200;
  opts.spawn.kill_signal = SIGKILL;
  ASSERT_OK(muster_exec_file(
      &loop, test_fixture_path(),
      test_fixture_argv("child_sleep", "60000", "ignore-term", NULL), &opts,
      exec_cb, &loop));
  finish();
  ASSERT_ERR(got.error, MUSTER_ETIMEDOUT);
  ASSERT_EQ(got.term_signal, SIGKILL);
}

/* execFile: no shell, an argument reaches the child literally. */
TEST(child_exec_file_literal) {
  setup();
  const char *argv[] = {"prog", "; rm -rf x", "$(echo hi)", "a b",
                        "*",    "",           NULL};
  opts.spawn.argv0 = "shown-name";
  const char *const *fa = test_fixture_argv("child_args", argv[1], argv[2],
                                            argv[3], argv[4], argv[5], NULL);
  ASSERT_OK(
      muster_exec_file(&loop, test_fixture_path(), fa, &opts, exec_cb, &loop));
  finish();
  ASSERT_STR_EQ(out, "shown-name\nchild_args\n; rm -rf x\n$(echo hi)\na b\n*"
                     "\n\n");
}

TEST(child_exec_shell_option) {
  if (access("/bin/bash", X_OK) != 0)
    TEST_SKIP("no /bin/bash");
  setup();
  opts.spawn.shell = "/bin/bash";
  ASSERT_OK(
      muster_exec(&loop, "echo ${BASH_VERSION:+bash}", &opts, exec_cb, &loop));
  finish();
  ASSERT_STR_EQ(out, "bash\n");
}

TEST(child_exec_env_cwd) {
  setup();
  const char *env[] = {"MUSTER_X=42", NULL};
  opts.spawn.env = env;
  opts.spawn.cwd = "/";
  ASSERT_OK(muster_exec(&loop, "echo $MUSTER_X $(pwd)", &opts, exec_cb, &loop));
  finish();
  ASSERT_STR_EQ(out, "42 /\n");
}

TEST(child_exec_spawn_error) {
  setup();
  int fds = test_fd_count();
  ASSERT_ERR(muster_exec_file(&loop, "muster-no-such-program", NULL, &opts,
                              exec_cb, &loop),
             MUSTER_ENOENT);
  ASSERT_EQ(test_fd_count(), fds);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(calls, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Many runs at once on one loop. */
static int many_done;
static void many_cb(const muster_exec_result_t *r, void *data) {
  ASSERT_OK(r->error);
  ASSERT_EQ(atoi(r->stdout_buf), (int)(intptr_t)data);
  many_done++;
}

TEST_T(child_exec_concurrent, 120) {
  setup();
  for (int i = 0; i < 20; i++) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "echo %d", i);
    ASSERT_OK(muster_exec(&loop, cmd, NULL, many_cb, (void *)(intptr_t)i));
  }
  test_run_loop(&loop, 100000);
  ASSERT_EQ(many_done, 20);
  ASSERT_OK(uv_loop_close(&loop));
}
