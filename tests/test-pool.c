/* The task pool (muster/pool.h): results, errors, timeouts, dead workers,
 * the queue's bound, cancellation, closing, idle workers. */
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

/* The handler: an integer n gives 2n; "fail" returns -42; "spin" runs
 * until terminated (or 20 s); "die" exits the thread; "die-once" exits
 * the first time only; bytes come back reversed. */
static atomic_int died_once;

static int handler(muster_message_t *task, muster_pool_reply_t *reply,
                   void *arg) {
  if (muster_message_format(task) == MUSTER_MESSAGE_BYTES) {
    size_t len;
    const char *b = muster_message_bytes(task, &len);
    char out[64];
    ASSERT(len <= sizeof out);
    for (size_t i = 0; i < len; i++)
      out[i] = b[len - 1 - i];
    return muster_pool_reply_bytes(reply, out, len);
  }
  json_t *v = muster_message_json(task);
  const char *s = json_string_value(v);
  if (json_is_integer(v)) {
    json_t *r = json_integer(2 * json_integer_value(v));
    int e = muster_pool_reply_json(reply, r);
    if (e == 0) /* once */
      ASSERT_ERR(muster_pool_reply_json(reply, r), MUSTER_EINVAL);
    json_decref(r);
    return e;
  }
  if (s && strcmp(s, "fail") == 0)
    return -42;
  if (s && strcmp(s, "spin") == 0) {
    uint64_t end = test_now_ms() + 20000;
    while (!muster_thread_should_stop() && test_now_ms() < end)
      ;
    return 0;
  }
  if (s && strcmp(s, "die") == 0)
    return muster_thread_exit(3);
  if (s && strcmp(s, "die-once") == 0 && atomic_exchange(&died_once, 1) == 0)
    return muster_thread_exit(3);
  return 0; /* null */
}

typedef struct {
  int done, bad, closed, drains;
  int last_status;
  long long sum;
} tally_t;

static void on_done(muster_pool_task_t *task, int status,
                    muster_message_t *result, void *arg) {
  tally_t *t = arg;
  t->done++;
  t->last_status = status;
  if (status != 0) {
    ASSERT(result == NULL);
    return;
  }
  if (muster_message_format(result) == MUSTER_MESSAGE_BYTES) {
    size_t len;
    const char *b = muster_message_bytes(result, &len);
    if (len != 3 || memcmp(b, "cba", 3) != 0)
      t->bad++;
    return;
  }
  json_t *v = muster_message_json(result);
  ASSERT(v != NULL);
  t->sum += json_integer_value(v);
}

static void on_closed(muster_pool_t *pool) {
  tally_t *t = muster_pool_data(pool);
  t->closed++;
}

/* Closes the pool letting its tasks finish, and checks that it and the
 * loop end. */
static void close_and_end(uv_loop_t *loop, muster_pool_t *p, tally_t *t) {
  muster_pool_close(p, MUSTER_POOL_FINISH, on_closed);
  test_run_loop(loop, 20000);
  ASSERT_EQ(t->closed, 1);
  ASSERT_OK(uv_loop_close(loop));
}

static muster_pool_options_t options(tally_t *t) {
  muster_pool_options_t o = {0};
  o.handler = handler;
  o.max_threads = 2;
  o.data = t;
  return o;
}

static int run_int(muster_pool_t *p, long long n, tally_t *t) {
  json_t *v = json_integer(n);
  int r = muster_pool_run(p, v, NULL, on_done, t, NULL);
  json_decref(v);
  return r;
}

static int run_str(muster_pool_t *p, const char *s, uint64_t timeout_ms,
                   tally_t *t, muster_pool_task_t **task) {
  json_t *v = json_string(s);
  muster_pool_run_options_t ro = {timeout_ms};
  int r = muster_pool_run(p, v, &ro, on_done, t, task);
  json_decref(v);
  return r;
}

TEST(pool_results) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.tasks_per_worker = 4;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  for (int i = 0; i < 1000; i++)
    ASSERT_OK(run_int(p, i, &t));
  ASSERT_OK(muster_pool_run_bytes(p, "abc", 3, NULL, on_done, &t, NULL));
  ASSERT_OK(run_str(p, "null", 0, &t, NULL));
  ASSERT_EQ(t.done, 0); /* never from inside run() */
  muster_pool_close(p, MUSTER_POOL_FINISH, on_closed);
  ASSERT_ERR(run_int(p, 1, &t), MUSTER_ENOTCONN);
  test_run_loop(&loop, 20000);
  ASSERT_EQ(t.done, 1002);
  ASSERT_EQ(t.bad, 0);
  ASSERT_EQ(t.sum, 999LL * 1000);
  ASSERT_EQ(t.closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

static void check_stats_and_close(muster_pool_t *p, uint64_t completed,
                                  uint64_t failed, uint64_t timed_out,
                                  uint64_t deaths) {
  muster_pool_stats_t s;
  muster_pool_stats(p, &s);
  ASSERT_EQ(s.completed, completed);
  ASSERT_EQ(s.failed, failed);
  ASSERT_EQ(s.timed_out, timed_out);
  ASSERT_EQ(s.worker_deaths, deaths);
  ASSERT(s.utilization >= 0 && s.utilization <= 1);
  ASSERT(s.wait_max_ms >= s.wait_mean_ms);
  muster_pool_close(p, MUSTER_POOL_FINISH, on_closed);
}

/* The handler's error is the task's status; the worker lives on. */
TEST(pool_handler_error) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 1;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  ASSERT_OK(run_str(p, "fail", 0, &t, NULL));
  while (t.done < 1)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_ERR(t.last_status, -42);
  ASSERT_OK(run_int(p, 5, &t));
  check_stats_and_close(p, 0, 1, 0, 0); /* FINISH: 5 still runs */
  test_run_loop(&loop, 20000);
  ASSERT_EQ(t.sum, 10);
  ASSERT_EQ(t.closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A task over its timeout fails with ETIMEDOUT; its worker is replaced
 * and the task queued behind it runs on the new one. */
TEST_T(pool_task_timeout, 60) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 1;
  o.tasks_per_worker = 2;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  ASSERT_OK(run_str(p, "spin", 100, &t, NULL));
  ASSERT_OK(run_int(p, 21, &t)); /* handed to the same worker, behind */
  while (t.done < 2)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(t.sum, 42);
  check_stats_and_close(p, 1, 0, 1, 0);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(t.closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A worker that dies under a task: ECONNRESET, or one retry by option. */
TEST(pool_worker_death) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 1;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  ASSERT_OK(run_str(p, "die", 0, &t, NULL));
  ASSERT_OK(run_int(p, 1, &t));
  while (t.done < 2)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_OK(t.last_status);
  ASSERT_EQ(t.sum, 2);
  check_stats_and_close(p, 1, 1, 0, 1);
  test_run_loop(&loop, 20000);

  /* With retry_on_death, the second try succeeds. */
  tally_t t2 = {0};
  o.retry_on_death = 1;
  o.data = &t2;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  ASSERT_OK(run_str(p, "die-once", 0, &t2, NULL));
  while (t2.done < 1)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_OK(t2.last_status);
  check_stats_and_close(p, 1, 0, 0, 1);
  test_run_loop(&loop, 20000);
  ASSERT_EQ(t.closed + t2.closed, 2);
  ASSERT_OK(uv_loop_close(&loop));
}

static void count_drain(muster_pool_t *pool) {
  tally_t *t = muster_pool_data(pool);
  t->drains++;
}

/* The queue's bound: EAGAIN past it, on_drain once there is room. */
TEST(pool_queue_bound_and_cancel) {
  uv_loop_t loop;
  tally_t t = {0}, c = {0};
  muster_pool_t *p;
  muster_pool_task_t *queued, *running;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 1;
  o.max_queue = 2;
  o.on_drain = count_drain;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  ASSERT_OK(run_str(p, "null", 0, &c, &running)); /* handed over */
  ASSERT_OK(run_int(p, 1, &t));
  ASSERT_OK(run_str(p, "null", 0, &c, &queued));
  ASSERT_ERR(run_int(p, 2, &t), MUSTER_EAGAIN);
  ASSERT_ERR(muster_pool_run(p, NULL, NULL, on_done, &t, NULL), MUSTER_EAGAIN);
  /* Cancel: the queued one never runs, the handed-over one is dropped. */
  ASSERT_OK(muster_pool_cancel(queued));
  ASSERT_EQ(c.done, 1);
  ASSERT_ERR(c.last_status, MUSTER_ECANCELED);
  ASSERT_OK(muster_pool_cancel(running));
  ASSERT_EQ(c.done, 2);
  ASSERT_ERR(muster_pool_cancel(NULL), MUSTER_EINVAL);
  while (t.done < 1)
    uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(t.sum, 2);
  ASSERT_EQ(t.drains, 1);
  ASSERT_EQ(c.done, 2); /* the dropped reply called nothing */
  muster_pool_stats_t s;
  muster_pool_stats(p, &s);
  ASSERT_EQ(s.canceled, 2);
  close_and_end(&loop, p, &t);
}

/* Closing with CANCEL: queued tasks fail at once, the ones workers hold
 * end normally, then the pool goes. */
TEST(pool_close_cancel) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 2;
  o.min_threads = 2;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  for (int i = 0; i < 10; i++)
    ASSERT_OK(run_int(p, 1, &t));
  muster_pool_close(p, MUSTER_POOL_CANCEL, on_closed);
  ASSERT_EQ(t.done, 8); /* two were handed over */
  ASSERT_ERR(t.last_status, MUSTER_ECANCELED);
  test_run_loop(&loop, 20000);
  ASSERT_EQ(t.done, 10);
  ASSERT_EQ(t.sum, 4);
  ASSERT_EQ(t.closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Workers above min_threads stop after idle_timeout_ms. */
TEST(pool_idle_timeout) {
  uv_loop_t loop;
  tally_t t = {0};
  muster_pool_t *p;
  muster_pool_stats_t s;
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = options(&t);
  o.max_threads = 2;
  o.idle_timeout_ms = 50;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  muster_pool_stats(p, &s);
  ASSERT_EQ(s.threads, 1);
  ASSERT_OK(run_str(p, "null", 0, &t, NULL));
  ASSERT_OK(run_str(p, "null", 0, &t, NULL));
  muster_pool_stats(p, &s);
  ASSERT_EQ(s.threads, 2);
  while (t.done < 2)
    uv_run(&loop, UV_RUN_ONCE);
  uint64_t end = test_now_ms() + 20000;
  do {
    uv_run(&loop, UV_RUN_ONCE);
    muster_pool_stats(p, &s);
  } while (s.threads > 1 && test_now_ms() < end);
  ASSERT_EQ(s.threads, 1);
  close_and_end(&loop, p, &t);
}

TEST(pool_bad_arguments) {
  uv_loop_t loop;
  muster_pool_t *p;
  tally_t t = {0};
  ASSERT_OK(uv_loop_init(&loop));
  muster_pool_options_t o = {0};
  ASSERT_ERR(muster_pool_create(&loop, &o, &p), MUSTER_EINVAL);
  o = options(&t);
  o.min_threads = 3;
  ASSERT_ERR(muster_pool_create(&loop, &o, &p), MUSTER_EINVAL);
  ASSERT_ERR(muster_pool_create(NULL, &o, &p), MUSTER_EINVAL);
  o.min_threads = 0;
  ASSERT_OK(muster_pool_create(&loop, &o, &p));
  json_t *v = json_integer(1);
  ASSERT_ERR(muster_pool_run(p, v, NULL, NULL, NULL, NULL), MUSTER_EINVAL);
  json_decref(v);
  ASSERT_ERR(muster_pool_run(p, NULL, NULL, on_done, &t, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_pool_run_bytes(p, NULL, 1, NULL, on_done, &t, NULL),
             MUSTER_EINVAL);
  close_and_end(&loop, p, &t);
}
