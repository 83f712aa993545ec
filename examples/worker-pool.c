/* A CPU-bound task pool (what piscina does for Node), in C: each task
 * counts the primes below a bound, on as many workers as there are CPUs:
 * threads, or with --process (or MUSTER_POOL_ISOLATION=process in the
 * environment) worker processes, where a crash in a task would end only
 * its worker.
 *
 *   worker-pool [--process] [tasks [bound]]   default: 16 tasks, 200000
 *
 * Prints each task's answer as it comes, then the pool's figures. */
#include <muster.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs in a worker: a thread, or a worker process. */
static int count_primes(muster_message_t *task, muster_pool_reply_t *reply,
                        void *arg) {
  json_int_t below = json_integer_value(muster_message_json(task)), n = 0;
  for (json_int_t i = 2; i < below; i++) {
    json_int_t d = 2;
    while (d * d <= i && i % d != 0)
      d++;
    n += d * d > i;
    if ((i & 0xffff) == 0 && muster_thread_should_stop())
      return MUSTER_ECANCELED; /* terminated: give up at once */
  }
  json_t *v = json_integer(n);
  int r = muster_pool_reply_json(reply, v);
  json_decref(v);
  return r;
}

static struct {
  int left, isolation;
  muster_pool_t *pool;
} s;

static void done(muster_pool_task_t *task, int status, muster_message_t *result,
                 void *arg) {
  long long below = (long long)(intptr_t)arg;
  if (status != 0)
    printf("primes below %lld: %s\n", below, muster_strerror(status));
  else
    printf("primes below %lld: %lld\n", below,
           (long long)json_integer_value(muster_message_json(result)));
  if (--s.left == 0) {
    muster_pool_stats_t st;
    muster_pool_stats(s.pool, &st);
    printf("%llu tasks on %u %s, utilization %.0f%%, "
           "mean wait %.1f ms, mean run %.1f ms\n",
           (unsigned long long)st.completed, st.threads,
           s.isolation ? "processes" : "threads", st.utilization * 100,
           st.wait_mean_ms, st.run_mean_ms);
    muster_pool_close(s.pool, MUSTER_POOL_FINISH, NULL);
  }
}

int main(int argc, char **argv) {
  const char *env = getenv("MUSTER_POOL_ISOLATION");
  int process = env && strcmp(env, "process") == 0;
  if (argc > 1 && strcmp(argv[1], "--process") == 0) {
    process = 1;
    argc--;
    argv++;
  }
  int tasks = argc > 1 ? atoi(argv[1]) : 16;
  long long bound = argc > 2 ? atoll(argv[2]) : 200000;
  uv_loop_t *loop = uv_default_loop();
  muster_pool_options_t o = {0};
  int r;
  s.left = tasks;
  s.isolation = process ? MUSTER_THREAD_ISOLATION_PROCESS
                        : MUSTER_THREAD_ISOLATION_THREAD;
  o.handler = count_primes;
  o.isolation = s.isolation;
  o.min_threads = uv_available_parallelism();
  if (tasks <= 0 || (r = muster_pool_create(loop, &o, &s.pool)) != 0) {
    fprintf(stderr, "worker-pool: %s\n",
            tasks <= 0 ? "tasks must be > 0" : muster_strerror(r));
    return 1;
  }
  for (int i = 0; i < tasks; i++) {
    long long below = bound + i * 1000LL;
    json_t *v = json_integer(below);
    r = muster_pool_run(s.pool, v, NULL, done, (void *)(intptr_t)below, NULL);
    json_decref(v);
    if (r != 0) {
      fprintf(stderr, "worker-pool: run: %s\n", muster_strerror(r));
      return 1;
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
