/* The examples, run as children: their output is Node's. */
#include "test-child.h"

#include <unistd.h>

static void run_example(const char *name, const char *const *args,
                        muster_exec_result_t *r) {
  char path[4096];
  const char *argv[8] = {name};
  snprintf(path, sizeof path, "%s/%s", MUSTER_EXAMPLES_DIR, name);
  if (access(path, X_OK) != 0)
    TEST_FAIL("example %s was not built", path);
  for (int i = 0; args != NULL && args[i] != NULL && i < 6; i++)
    argv[i + 1] = args[i];
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 60000;
  ASSERT_OK(muster_spawn_sync(path, argv, &o, r));
}

TEST(child_example_spawn_ls) {
  muster_exec_result_t r;
  run_example("spawn-ls", NULL, &r);
  ASSERT_EQ(r.exit_status, 0);
  ASSERT(strncmp(r.stdout_buf, "stdout: total ", 14) == 0);
  ASSERT(test_contains(r.stdout_buf, "bin\n"));
  ASSERT(test_contains(r.stdout_buf, "child process exited with code 0\n"));
  const char *exit_line = strstr(r.stdout_buf, "child process exited");
  const char *close_line = strstr(r.stdout_buf, "child process close all");
  ASSERT(close_line != NULL && exit_line < close_line);
  ASSERT(test_contains(close_line, "with code 0\n"));
  muster_exec_result_free(&r);
}

TEST(child_example_spawn_ls_missing) {
  muster_exec_result_t r;
  const char *args[] = {"/nonexistent-muster-dir", NULL};
  run_example("spawn-ls", args, &r);
  ASSERT(strncmp(r.stderr_buf, "stderr: ls: ", 12) == 0);
  ASSERT(test_contains(r.stdout_buf, "child process exited with code 2\n"));
  ASSERT(test_contains(r.stdout_buf,
                       "child process close all stdio with code 2\n"));
  muster_exec_result_free(&r);
}

TEST(child_example_exec) {
  muster_exec_result_t r;
  run_example("exec", NULL, &r);
  ASSERT_EQ(r.exit_status, 0);
  /* wc -l counts the lines of the *.js files (none here: 0). */
  ASSERT(strncmp(r.stdout_buf, "stdout: ", 8) == 0);
  ASSERT(test_contains(r.stderr_buf, "stderr: cat: "));
  ASSERT(test_contains(r.stderr_buf, "missing_file"));
  muster_exec_result_free(&r);
}

TEST(child_example_exec_error) {
  muster_exec_result_t r;
  const char *args[] = {"exit 3", NULL};
  run_example("exec", args, &r);
  ASSERT_EQ(r.exit_status, 1);
  ASSERT(test_contains(r.stderr_buf, "exec error: Command failed: exit 3"));
  muster_exec_result_free(&r);
}

TEST(child_example_execfile) {
  muster_exec_result_t r;
  run_example("execfile", NULL, &r);
  ASSERT_EQ(r.exit_status, 0);
  ASSERT(r.stdout_len > 1);
  if (test_which("node") != NULL)
    ASSERT_EQ(r.stdout_buf[0], 'v');
  else
    ASSERT(test_contains(r.stdout_buf, "Linux"));
  muster_exec_result_free(&r);
}
