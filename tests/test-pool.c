/* The task pool (muster/pool.h): results, errors, timeouts, dead workers,
 * the queue's bound, cancellation, closing, idle workers, output and the
 * workers' options, each in both modes: NAME with worker threads,
 * NAME_process with worker processes. What only a process has (a crash
 * that the pool survives, a worker killed at its timeout, kernel limits)
 * is in the _process cases at the end. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREAD MUSTER_THREAD_ISOLATION_THREAD
#define PROCESS MUSTER_THREAD_ISOLATION_PROCESS

/* What workers tell the test outside of replies: memory both modes share
 * (a worker process has its own copy of every variable of the test). */
typedef struct {
  atomic_int died_once;
  atomic_int hung_pid;
} shm_t;

/* The handler (arg: the shm_t): an integer n gives 2n; "fail" returns
 * -42; "spin" runs until terminated (or 20 s); "die" exits the worker;
 * "die-once" exits the first time only; "print" writes a line to stdout
 * and one to stderr; "name" replies with the worker's comm; bytes come
 * back reversed. Process mode only: "segv", "abort", "crash-once";
 * "hang" ignores SIGTERM and sleeps; "hog" maps memory until it fails,
 * then aborts; "fds" counts the descriptors it can open. */
static int crash_or_hang(const char *s, shm_t *sh) {
  if (strcmp(s, "segv") == 0)
    raise(SIGSEGV);
  if (strcmp(s, "abort") == 0)
    abort();
  if (strcmp(s, "crash-once") == 0 && atomic_exchange(&sh->died_once, 1) == 0)
    raise(SIGSEGV);
  if (strcmp(s, "hang") == 0) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    atomic_store(&sh->hung_pid, getpid());
    for (int i = 0; i < 200; i++)
      usleep(100 * 1000);
  }
  return 0;
}

/* mmap, not malloc: a sanitizer's allocator dies on a failed malloc. The
 * last MiB goes back before the abort (as a real program has some slack
 * when one allocation fails): a sanitizer's runtime needs some to die. */
static int hog(void) {
  char *last = NULL;
  for (int n = 0; n < 1024; n++) {
    char *q = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) {
      if (last)
        munmap(last, 1 << 20);
      abort(); /* as a C program out of memory does */
    }
    memset(last = q, 1, 1 << 20);
  }
  return 0;
}

static int reply_int(muster_pool_reply_t *reply, long long n) {
  json_t *r = json_integer(n);
  int e = muster_pool_reply_json(reply, r);
  if (e == 0) /* once */
    ASSERT_ERR(muster_pool_reply_json(reply, r), MUSTER_EINVAL);
  json_decref(r);
  return e;
}

static int count_fds(muster_pool_reply_t *reply) {
  int fds[256], n = 0;
  while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
    n++;
  ASSERT(n < 256 && errno == EMFILE);
  for (int i = 0; i < n; i++)
    close(fds[i]);
  return reply_int(reply, n);
}

static int handler(muster_message_t *task, muster_pool_reply_t *reply,
                   void *arg) {
  shm_t *sh = arg;
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
  if (json_is_integer(v))
    return reply_int(reply, 2 * json_integer_value(v));
  if (s == NULL)
    return 0;
  if (strcmp(s, "fail") == 0)
    return -42;
  if (strcmp(s, "spin") == 0) {
    uint64_t end = test_now_ms() + 20000;
    while (!muster_thread_should_stop() && test_now_ms() < end)
      ;
    return 0;
  }
  if (strcmp(s, "die") == 0 ||
      (strcmp(s, "die-once") == 0 && atomic_exchange(&sh->died_once, 1) == 0))
    return muster_thread_exit(3);
  if (strcmp(s, "print") == 0) {
    fprintf(muster_thread_stdout(), "out\n");
    fprintf(muster_thread_stderr(), "err\n");
    fflush(muster_thread_stdout());
    return 0;
  }
  if (strcmp(s, "name") == 0) {
    char name[32] = "";
    FILE *f = fopen("/proc/thread-self/comm", "r");
    ASSERT(f != NULL);
    ASSERT(fgets(name, sizeof name, f) != NULL);
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    json_t *r = json_string(name);
    int e = muster_pool_reply_json(reply, r);
    json_decref(r);
    return e;
  }
  if (strcmp(s, "hog") == 0)
    return hog();
  if (strcmp(s, "fds") == 0)
    return count_fds(reply);
  return crash_or_hang(s, sh);
}

/* ---- the harness --------------------------------------------------------- */

typedef struct {
  int done, bad, closed, drains;
  int last_status, last_code, last_signal, deaths_seen;
  long long sum;
  char out[256], err[256];
} tally_t;

typedef struct {
  uv_loop_t loop;
  tally_t t;
  muster_pool_t *p;
  shm_t *sh;
  int fds;
} ctx_t;

static void on_done(muster_pool_task_t *task, int status,
                    muster_message_t *result, void *arg) {
  tally_t *t = arg;
  t->done++;
  t->last_status = status;
  if (muster_pool_task_exit(task, &t->last_code, &t->last_signal))
    t->deaths_seen++;
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
  if (json_is_string(v))
    snprintf(t->out, sizeof t->out, "%s", json_string_value(v));
  t->sum += json_integer_value(v);
}

static void on_closed(muster_pool_t *pool) {
  tally_t *t = muster_pool_data(pool);
  t->closed++;
}

/* A loop, the shared memory and the options of a pool in `isolation`. */
static muster_pool_options_t setup(ctx_t *c, int isolation) {
  muster_pool_options_t o = {0};
  memset(c, 0, sizeof *c);
  c->fds = test_fd_count();
  ASSERT_OK(uv_loop_init(&c->loop));
  c->sh = mmap(NULL, sizeof *c->sh, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT(c->sh != MAP_FAILED);
  o.handler = handler;
  o.handler_arg = c->sh;
  o.isolation = isolation;
  o.max_threads = 2;
  o.data = &c->t;
  return o;
}

static void start(ctx_t *c, const muster_pool_options_t *o) {
  ASSERT_OK(muster_pool_create(&c->loop, o, &c->p));
}

static void wait_done(ctx_t *c, int n) {
  uint64_t end = test_now_ms() + 30000;
  while (c->t.done < n) {
    ASSERT(test_now_ms() < end);
    uv_run(&c->loop, UV_RUN_ONCE);
  }
}

static void check_stats(ctx_t *c, uint64_t completed, uint64_t failed,
                        uint64_t timed_out, uint64_t deaths) {
  muster_pool_stats_t s;
  muster_pool_stats(c->p, &s);
  ASSERT_EQ(s.completed, completed);
  ASSERT_EQ(s.failed, failed);
  ASSERT_EQ(s.timed_out, timed_out);
  ASSERT_EQ(s.worker_deaths, deaths);
  ASSERT(s.utilization >= 0 && s.utilization <= 1);
  ASSERT(s.wait_max_ms >= s.wait_mean_ms);
}

/* Closes the pool letting its tasks finish (unless it is closing
 * already); the pool, every worker (each
 * thread joined, each process reaped: the runner counts children) and
 * every descriptor are gone after. */
static void end(ctx_t *c) {
  muster_pool_close(c->p, MUSTER_POOL_FINISH, on_closed);
  test_run_loop(&c->loop, 30000);
  ASSERT_EQ(c->t.closed, 1);
  ASSERT_OK(uv_loop_close(&c->loop));
  munmap(c->sh, sizeof *c->sh);
  ASSERT_EQ(test_fd_count(), c->fds);
}

static int run_int(ctx_t *c, long long n) {
  json_t *v = json_integer(n);
  int r = muster_pool_run(c->p, v, NULL, on_done, &c->t, NULL);
  json_decref(v);
  return r;
}

static int run_str(ctx_t *c, const char *s, uint64_t timeout_ms,
                   muster_pool_task_t **task) {
  json_t *v = json_string(s);
  muster_pool_run_options_t ro = {timeout_ms};
  int r = muster_pool_run(c->p, v, &ro, on_done, &c->t, task);
  json_decref(v);
  return r;
}

/* ---- both modes ---------------------------------------------------------- */

TEST_MODES(pool_results, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.tasks_per_worker = 4;
  start(&c, &o);
  for (int i = 0; i < 1000; i++)
    ASSERT_OK(run_int(&c, i));
  ASSERT_OK(muster_pool_run_bytes(c.p, "abc", 3, NULL, on_done, &c.t, NULL));
  ASSERT_OK(run_str(&c, "null", 0, NULL));
  ASSERT_EQ(c.t.done, 0); /* never from inside run() */
  muster_pool_close(c.p, MUSTER_POOL_FINISH, on_closed);
  ASSERT_ERR(run_int(&c, 1), MUSTER_ENOTCONN);
  end(&c);
  ASSERT_EQ(c.t.done, 1002);
  ASSERT_EQ(c.t.bad, 0);
  ASSERT_EQ(c.t.sum, 999LL * 1000);
}

/* The handler's error is the task's status; the worker lives on. */
TEST_MODES(pool_handler_error, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.max_threads = 1;
  start(&c, &o);
  ASSERT_OK(run_str(&c, "fail", 0, NULL));
  wait_done(&c, 1);
  ASSERT_ERR(c.t.last_status, -42);
  ASSERT_EQ(c.t.deaths_seen, 0);
  ASSERT_OK(run_int(&c, 5));
  check_stats(&c, 0, 1, 0, 0);
  end(&c); /* FINISH: 5 still runs */
  ASSERT_EQ(c.t.sum, 10);
}

/* A task over its timeout fails with ETIMEDOUT; its worker is replaced
 * and the task queued behind it runs on the new one. */
TEST_MODES(pool_task_timeout, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.max_threads = 1;
  o.tasks_per_worker = 2;
  start(&c, &o);
  ASSERT_OK(run_str(&c, "spin", 100, NULL));
  ASSERT_OK(run_int(&c, 21)); /* handed to the same worker, behind */
  wait_done(&c, 2);
  ASSERT_EQ(c.t.sum, 42);
  check_stats(&c, 1, 0, 1, 0);
  end(&c);
}

/* A worker that dies under a task: ECONNRESET, the next task on a new
 * worker; or, with retry_on_death, the second try succeeds. */
static void worker_death(int isolation, int retry) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.max_threads = 1;
  o.retry_on_death = retry;
  start(&c, &o);
  ASSERT_OK(run_str(&c, retry ? "die-once" : "die", 0, NULL));
  ASSERT_OK(run_int(&c, 1));
  wait_done(&c, 2);
  ASSERT_OK(c.t.last_status);
  ASSERT_EQ(c.t.sum, 2);
  ASSERT_EQ(c.t.deaths_seen, !retry); /* how it died, told with the error */
  if (!retry) {
    ASSERT_EQ(c.t.last_code, 3);
    ASSERT_EQ(c.t.last_signal, 0);
  }
  check_stats(&c, retry ? 2 : 1, !retry, 0, 1);
  end(&c);
}

TEST_MODES(pool_worker_death, 90) {
  worker_death(isolation, 0);
}

TEST_MODES(pool_worker_death_retry, 90) {
  worker_death(isolation, 1);
}

static void count_drain(muster_pool_t *pool) {
  tally_t *t = muster_pool_data(pool);
  t->drains++;
}

/* The queue's bound: EAGAIN past it, on_drain once there is room. */
TEST_MODES(pool_queue_bound_and_cancel, 90) {
  ctx_t c;
  tally_t k = {0};
  muster_pool_task_t *queued, *running;
  muster_pool_options_t o = setup(&c, isolation);
  o.max_threads = 1;
  o.max_queue = 2;
  o.on_drain = count_drain;
  start(&c, &o);
  json_t *null = json_null();
  ASSERT_OK(muster_pool_run(c.p, null, NULL, on_done, &k, &running));
  ASSERT_OK(run_int(&c, 1));
  ASSERT_OK(muster_pool_run(c.p, null, NULL, on_done, &k, &queued));
  ASSERT_ERR(run_int(&c, 2), MUSTER_EAGAIN);
  ASSERT_ERR(muster_pool_run(c.p, NULL, NULL, on_done, &c.t, NULL),
             MUSTER_EAGAIN);
  /* Cancel: the queued one never runs, the handed-over one is dropped. */
  ASSERT_OK(muster_pool_cancel(queued));
  ASSERT_EQ(k.done, 1);
  ASSERT_ERR(k.last_status, MUSTER_ECANCELED);
  ASSERT_OK(muster_pool_cancel(running));
  ASSERT_EQ(k.done, 2);
  ASSERT_ERR(muster_pool_cancel(NULL), MUSTER_EINVAL);
  wait_done(&c, 1);
  ASSERT_EQ(c.t.sum, 2);
  ASSERT_EQ(c.t.drains, 1);
  ASSERT_EQ(k.done, 2); /* the dropped reply called nothing */
  muster_pool_stats_t s;
  muster_pool_stats(c.p, &s);
  ASSERT_EQ(s.canceled, 2);
  end(&c);
}

/* Closing with CANCEL: queued tasks fail at once, the ones workers hold
 * end normally, then the pool goes. */
TEST_MODES(pool_close_cancel, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.min_threads = 2;
  start(&c, &o);
  for (int i = 0; i < 10; i++)
    ASSERT_OK(run_int(&c, 1));
  muster_pool_close(c.p, MUSTER_POOL_CANCEL, on_closed);
  ASSERT_EQ(c.t.done, 8); /* two were handed over */
  ASSERT_ERR(c.t.last_status, MUSTER_ECANCELED);
  end(&c); /* a second close: no-op */
  ASSERT_EQ(c.t.done, 10);
  ASSERT_EQ(c.t.sum, 4);
}

/* Workers above min_threads stop after idle_timeout_ms. */
TEST_MODES(pool_idle_timeout, 90) {
  ctx_t c;
  muster_pool_stats_t s;
  muster_pool_options_t o = setup(&c, isolation);
  o.idle_timeout_ms = 50;
  start(&c, &o);
  muster_pool_stats(c.p, &s);
  ASSERT_EQ(s.threads, 1);
  ASSERT_OK(run_str(&c, "null", 0, NULL));
  ASSERT_OK(run_str(&c, "null", 0, NULL));
  muster_pool_stats(c.p, &s);
  ASSERT_EQ(s.threads, 2);
  wait_done(&c, 2);
  uint64_t end_ms = test_now_ms() + 20000;
  do {
    uv_run(&c.loop, UV_RUN_ONCE);
    muster_pool_stats(c.p, &s);
  } while (s.threads > 1 && test_now_ms() < end_ms);
  ASSERT_EQ(s.threads, 1);
  end(&c);
}

/* The pool's name reaches each worker, and its output is captured with
 * the worker's id: in thread mode what a handler writes to
 * muster_thread_stdout(), in process mode its fds 1 and 2. Output up to a
 * worker's end comes before the pool's close callback. */
static void append(muster_pool_t *pool, uint64_t worker, char *buf, size_t size,
                   const char *data, size_t len) {
  tally_t *t = muster_pool_data(pool);
  size_t n = strlen(buf);
  ASSERT_EQ(t->closed, 0);
  ASSERT(worker > 0);
  ASSERT(n + len < size);
  memcpy(buf + n, data, len);
  buf[n + len] = '\0';
}

static void on_out(muster_pool_t *pool, uint64_t worker, const char *data,
                   size_t len) {
  tally_t *t = muster_pool_data(pool);
  append(pool, worker, t->out, sizeof t->out, data, len);
}

static void on_err(muster_pool_t *pool, uint64_t worker, const char *data,
                   size_t len) {
  tally_t *t = muster_pool_data(pool);
  append(pool, worker, t->err, sizeof t->err, data, len);
}

TEST_MODES(pool_name_and_output, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, isolation);
  o.max_threads = 1;
  o.name = "pool-test";
  start(&c, &o);
  ASSERT_OK(run_str(&c, "name", 0, NULL));
  wait_done(&c, 1);
  ASSERT_STR_EQ(c.t.out, "pool-test");
  end(&c);

  o = setup(&c, isolation);
  o.max_threads = 1;
  o.on_stdout = on_out;
  o.on_stderr = on_err;
  start(&c, &o);
  for (int i = 0; i < 3; i++)
    ASSERT_OK(run_str(&c, "print", 0, NULL));
  wait_done(&c, 3);
  end(&c);
  ASSERT_STR_EQ(c.t.out, "out\nout\nout\n");
  ASSERT_STR_EQ(c.t.err, "err\nerr\nerr\n");
}

TEST(pool_bad_arguments) {
  ctx_t c;
  muster_pool_t *p;
  muster_pool_options_t o = {0};
  ASSERT_ERR(muster_pool_create(&c.loop, &o, &p), MUSTER_EINVAL);
  o = setup(&c, THREAD);
  o.min_threads = 3;
  ASSERT_ERR(muster_pool_create(&c.loop, &o, &p), MUSTER_EINVAL);
  ASSERT_ERR(muster_pool_create(NULL, &o, &p), MUSTER_EINVAL);
  o.min_threads = 0;
  o.isolation = 7;
  ASSERT_ERR(muster_pool_create(&c.loop, &o, &p), MUSTER_EINVAL);
  /* A thread cannot have kernel limits of its own (muster/thread.h). */
  o.isolation = THREAD;
  o.limits.max_open_files = 64;
  ASSERT_ERR(muster_pool_create(&c.loop, &o, &p), MUSTER_ENOTSUP);
  o.limits.max_open_files = 0;
  start(&c, &o);
  json_t *v = json_integer(1);
  ASSERT_ERR(muster_pool_run(c.p, v, NULL, NULL, NULL, NULL), MUSTER_EINVAL);
  json_decref(v);
  ASSERT_ERR(muster_pool_run(c.p, NULL, NULL, on_done, &c.t, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_pool_run_bytes(c.p, NULL, 1, NULL, on_done, &c.t, NULL),
             MUSTER_EINVAL);
  ASSERT_EQ(muster_pool_task_exit(NULL, NULL, NULL), 0);
  end(&c);
}

/* ---- process mode only --------------------------------------------------- */

/* A worker process that crashes fails its task with ECONNRESET and the
 * signal; the pool, and this process, go on with a new worker. */
static void crash(const char *task, int sig) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, PROCESS);
  o.max_threads = 1;
  start(&c, &o);
  ASSERT_OK(run_str(&c, task, 0, NULL));
  wait_done(&c, 1);
  ASSERT_ERR(c.t.last_status, MUSTER_ECONNRESET);
  ASSERT_EQ(c.t.deaths_seen, 1);
  ASSERT_EQ(c.t.last_signal, sig);
  ASSERT_EQ(c.t.last_code, 128 + sig);
  ASSERT_OK(run_int(&c, 4));
  wait_done(&c, 2);
  ASSERT_EQ(c.t.sum, 8);
  check_stats(&c, 1, 1, 0, 1);
  end(&c);
}

TEST_T(pool_crash_process, 90) {
  crash("segv", SIGSEGV);
  crash("abort", SIGABRT);
}

TEST_T(pool_crash_retry_process, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, PROCESS);
  o.retry_on_death = 1;
  start(&c, &o);
  ASSERT_OK(run_str(&c, "crash-once", 0, NULL));
  wait_done(&c, 1);
  ASSERT_OK(c.t.last_status);
  ASSERT_EQ(c.t.deaths_seen, 0);
  check_stats(&c, 1, 0, 0, 1);
  end(&c);
}

/* A handler that ignores SIGTERM and never checks should_stop() is
 * killed terminate_grace_ms after its timeout, and reaped: its pid is
 * gone (a zombie would still answer kill(pid, 0)). */
TEST_T(pool_timeout_kills_process, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, PROCESS);
  o.max_threads = 1;
  o.terminate_grace_ms = 100;
  start(&c, &o);
  uint64_t t0 = test_now_ms();
  ASSERT_OK(run_str(&c, "hang", 500, NULL));
  ASSERT_OK(run_int(&c, 3));
  wait_done(&c, 2);
  ASSERT_LE(test_now_ms() - t0, 15000); /* not the 20 s the handler sleeps */
  ASSERT_EQ(c.t.sum, 6);
  check_stats(&c, 1, 0, 1, 0);
  pid_t hung = atomic_load(&c.sh->hung_pid);
  ASSERT(hung > 0);
  end(&c);
  ASSERT_EQ(kill(hung, 0), -1);
  ASSERT_EQ(errno, ESRCH);
}

/* The pool's limits reach each worker process: a descriptor limit it
 * sees, and a memory limit whose end fails the task with ENOMEM. */
TEST_T(pool_limits_process, 90) {
  ctx_t c;
  muster_pool_options_t o = setup(&c, PROCESS);
  o.max_threads = 1;
  o.limits.max_open_files = 64;
  start(&c, &o);
  ASSERT_OK(run_str(&c, "fds", 0, NULL));
  wait_done(&c, 1);
  ASSERT_OK(c.t.last_status);
  ASSERT(c.t.sum > 0 && c.t.sum < 64);
  end(&c);

  o = setup(&c, PROCESS);
  o.max_threads = 1;
  o.limits.max_memory = 32 << 20;
  start(&c, &o);
  ASSERT_OK(run_str(&c, "hog", 0, NULL));
  wait_done(&c, 1);
  ASSERT_ERR(c.t.last_status, MUSTER_ENOMEM);
  ASSERT_EQ(c.t.last_signal, SIGABRT);
  ASSERT_OK(run_int(&c, 2)); /* a new worker, with the same limit */
  wait_done(&c, 2);
  ASSERT_EQ(c.t.sum, 4);
  end(&c);
}
