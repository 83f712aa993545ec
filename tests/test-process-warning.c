/* emitWarning (muster/process_warning.h): listeners, Node's line on
 * stderr, once per code, and the switch that silences it. Printing is
 * checked in a fixture whose stderr we read. */
#include "test.h"

#include <unistd.h>

static char seen_log[1024];

static void listener(const muster_warning_t *w, void *arg) {
  size_t n = strlen(seen_log);
  snprintf(seen_log + n, sizeof seen_log - n, "%s|%s|%s|%s;", (const char *)arg,
           w->type, w->code ? w->code : "-", w->message);
}

TEST(process_warning_listeners) {
  seen_log[0] = '\0';
  ASSERT_ERR(muster_process_emit_warning(NULL, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_on_warning(NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_off_warning(listener, "a"), MUSTER_ENOENT);
  ASSERT_OK(muster_process_setenv("MUSTER_NO_WARNINGS", "1"));
  ASSERT_OK(muster_process_on_warning(listener, "a"));
  ASSERT_OK(muster_process_on_warning(listener, "b"));
  ASSERT_OK(muster_process_emit_warning("m1", NULL, NULL));
  ASSERT_OK(muster_process_emit_warning("m2", "DeprecationWarning", "DEP1"));
  /* Listeners hear a code every time, even when printing is once. */
  ASSERT_OK(muster_process_emit_warning("m2", "DeprecationWarning", "DEP1"));
  ASSERT_OK(muster_process_off_warning(listener, "a"));
  ASSERT_OK(muster_process_emit_warning("m3", "", ""));
  ASSERT_OK(muster_process_off_warning(listener, "b"));
  ASSERT_STR_EQ(seen_log, "a|Warning|-|m1;b|Warning|-|m1;"
                          "a|DeprecationWarning|DEP1|m2;"
                          "b|DeprecationWarning|DEP1|m2;"
                          "a|DeprecationWarning|DEP1|m2;"
                          "b|DeprecationWarning|DEP1|m2;"
                          "b|Warning|-|m3;");
  ASSERT_OK(muster_process_unsetenv("MUSTER_NO_WARNINGS"));
}

static void run(const char *env, muster_exec_result_t *r) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  const char *envp[] = {env, NULL};
  o.spawn.env = envp;
  o.spawn.env_mode = MUSTER_ENV_EXTEND;
  o.spawn.timeout_ms = 20000;
  ASSERT_OK(muster_spawn_sync(
      test_fixture_path(), test_fixture_argv("process_warning", NULL), &o, r));
  ASSERT_EQ(r->exit_status, 0);
}

TEST(process_warning_printed) {
  muster_exec_result_t r;
  run("MUSTER_NO_WARNINGS=0", &r);
  char want[512];
  snprintf(want, sizeof want,
           "(muster:%d) Warning: plain\n"
           "(muster:%d) [MST001] DeprecationWarning: old call\n"
           "(muster:%d) [MST002] Warning: other code\n"
           "(muster:%d) Warning: plain\n",
           r.pid, r.pid, r.pid, r.pid);
  ASSERT_STR_EQ(r.stderr_buf, want);
  ASSERT_STR_EQ(r.stdout_buf, "listener 5\n");
  muster_exec_result_free(&r);

  run("MUSTER_NO_WARNINGS=1", &r);
  ASSERT_STR_EQ(r.stderr_buf, "");
  ASSERT_STR_EQ(r.stdout_buf, "listener 5\n");
  muster_exec_result_free(&r);
  run("NODE_NO_WARNINGS=1", &r);
  ASSERT_STR_EQ(r.stderr_buf, "");
  muster_exec_result_free(&r);
}
