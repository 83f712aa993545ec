/* The worker-thread examples, run as children. */
#include "test.h"

#include <unistd.h>

/* Runs examples/NAME with up to two arguments; it must exit 0. */
static void run(const char *name, const char *arg, const char *arg2,
                muster_exec_result_t *r) {
  static char path[4096];
  const char *argv[] = {name, arg, arg2, NULL};
  muster_exec_options_t o;
  snprintf(path, sizeof path, "%s/%s", MUSTER_EXAMPLES_DIR, name);
  if (access(path, X_OK) != 0)
    TEST_FAIL("example %s was not built", path);
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 60000;
  ASSERT_OK(muster_spawn_sync(path, argv, &o, r));
  ASSERT_EQ(r->exit_status, 0);
}

/* Node prints exactly this line for its MessageChannel example. */
TEST(thread_example_message_channel) {
  muster_exec_result_t r;
  run("worker-threads", NULL, NULL, &r);
  ASSERT_STR_EQ(r.stdout_buf, "received: the worker is sending this\n");
  muster_exec_result_free(&r);
}

/* The same answers from worker threads and from worker processes. */
static void pool_example(const char *flag, const char *workers) {
  muster_exec_result_t r;
  if (flag)
    run("worker-pool", flag, "4", &r);
  else
    run("worker-pool", "4", NULL, &r);
  /* Answers come in any order; the figures come last. */
  ASSERT(strstr(r.stdout_buf, "primes below 200000: 17984\n") != NULL);
  ASSERT(strstr(r.stdout_buf, "primes below 203000: 18226\n") != NULL);
  ASSERT(strstr(r.stdout_buf, "4 tasks on ") != NULL);
  ASSERT(strstr(r.stdout_buf, workers) != NULL);
  muster_exec_result_free(&r);
}

TEST(thread_example_pool) {
  pool_example(NULL, " threads, ");
}

TEST(thread_example_pool_process) {
  pool_example("--process", " processes, ");
}
