/* The sync forms: a private loop, any thread, inside a loop callback. */
#include "test-child.h"

#include <signal.h>
#include <unistd.h>

TEST(child_sync_spawn) {
  muster_exec_result_t r;
  ASSERT_OK(muster_spawn_sync(
      test_fixture_path(), test_fixture_argv("child_out", "o", "e", "9", NULL),
      NULL, &r));
  ASSERT_OK(r.error);
  ASSERT(r.pid > 0);
  ASSERT_EQ(r.exit_status, 9);
  ASSERT_EQ(r.term_signal, 0);
  ASSERT_STR_EQ(r.stdout_buf, "o");
  ASSERT_EQ(r.stdout_len, 1);
  ASSERT_STR_EQ(r.stderr_buf, "e");
  muster_exec_result_free(&r);
  ASSERT(r.stdout_buf == NULL);
  muster_exec_result_free(&r); /* zeroed: harmless */
}

TEST(child_sync_exec_input) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.input = "b\na\nc\n";
  o.input_len = 6;
  muster_exec_result_t r;
  ASSERT_OK(muster_exec_sync("sort", &o, &r));
  ASSERT_STR_EQ(r.stdout_buf, "a\nb\nc\n");
  muster_exec_result_free(&r);
}

TEST(child_sync_exec_file) {
  const char *argv[] = {"printf", "%s|", "; rm -rf x", "a b", NULL};
  muster_exec_result_t r;
  ASSERT_OK(muster_exec_file_sync("printf", argv, NULL, &r));
  ASSERT_STR_EQ(r.stdout_buf, "; rm -rf x|a b|");
  muster_exec_result_free(&r);
}

TEST(child_sync_timeout) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 1000; /* "ready" is written well before */
  muster_exec_result_t r;
  ASSERT_ERR(muster_spawn_sync(test_fixture_path(),
                               test_fixture_argv("child_sleep", "60000", NULL),
                               &o, &r),
             MUSTER_ETIMEDOUT);
  ASSERT_ERR(r.error, MUSTER_ETIMEDOUT);
  ASSERT_EQ(r.term_signal, SIGTERM);
  ASSERT_STR_EQ(r.stdout_buf, "ready\n");
  muster_exec_result_free(&r);
}

TEST(child_sync_max_buffer) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.max_buffer = 10;
  muster_exec_result_t r;
  ASSERT_ERR(muster_exec_sync("yes", &o, &r), MUSTER_ENOBUFS);
  ASSERT_EQ(r.stdout_len, 10);
  ASSERT_STR_EQ(r.stdout_buf, "y\ny\ny\ny\ny\n");
  /* Killed, or it wrote into the pipe we closed before the signal. */
  ASSERT(r.term_signal == SIGTERM || r.term_signal == SIGPIPE);
  muster_exec_result_free(&r);
}

TEST(child_sync_enoent) {
  muster_exec_result_t r;
  int fds = test_fd_count();
  ASSERT_ERR(muster_spawn_sync("muster-no-such-program", NULL, NULL, &r),
             MUSTER_ENOENT);
  ASSERT_ERR(r.error, MUSTER_ENOENT);
  ASSERT_EQ(r.pid, 0);
  ASSERT_EQ(test_fd_count(), fds);
  muster_exec_result_free(&r);
}

/* Inside a callback of another loop (uv_run is not reentrant). */
static int timer_ran;
static void sync_in_timer(uv_timer_t *t) {
  muster_exec_result_t r;
  ASSERT_OK(muster_exec_sync("echo inside", NULL, &r));
  ASSERT_STR_EQ(r.stdout_buf, "inside\n");
  muster_exec_result_free(&r);
  timer_ran++;
  uv_close((uv_handle_t *)t, NULL);
}

/* ... while that loop has a child of its own, which must still be reaped
 * by its own loop. */
static int outer_exits;
static void outer_exit(muster_child_t *c, int64_t st, int sig) {
  outer_exits++;
  ASSERT_EQ(st, 3);
}
static void outer_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

TEST(child_sync_in_loop_callback) {
  uv_loop_t loop;
  uv_timer_t t;
  ASSERT_OK(uv_loop_init(&loop));
  muster_spawn_options_t o;
  memset(&o, 0, sizeof o);
  o.on_exit = outer_exit;
  o.on_close = outer_close;
  muster_child_t *c;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("exit_code", "3", NULL), &o, &c));
  ASSERT_OK(uv_timer_init(&loop, &t));
  ASSERT_OK(uv_timer_start(&t, sync_in_timer, 1, 0));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(timer_ran, 1);
  ASSERT_EQ(outer_exits, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

#define THREADS 4
static int thread_ok[THREADS];
static void thread_main(void *arg) {
  int i = (int)(intptr_t)arg;
  for (int k = 0; k < 10; k++) {
    char cmd[64], want[64];
    snprintf(cmd, sizeof cmd, "echo %d-%d", i, k);
    snprintf(want, sizeof want, "%d-%d\n", i, k);
    muster_exec_result_t r;
    if (muster_exec_sync(cmd, NULL, &r) == 0 && strcmp(r.stdout_buf, want) == 0)
      thread_ok[i]++;
    muster_exec_result_free(&r);
  }
}

TEST_T(child_sync_threads, 120) {
  uv_thread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    ASSERT_OK(uv_thread_create(&th[i], thread_main, (void *)(intptr_t)i));
  for (int i = 0; i < THREADS; i++)
    ASSERT_OK(uv_thread_join(&th[i]));
  for (int i = 0; i < THREADS; i++)
    ASSERT_EQ(thread_ok[i], 10);
  ASSERT_EQ(test_zombie_count(), 0);
}
