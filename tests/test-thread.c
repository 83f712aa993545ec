/* Worker threads (muster/thread.h): events in Node's order, what a thread
 * knows about itself, terminate, errors, and 10,000 threads in a row.
 *
 * Every case that a worker process can run too is a function of the
 * isolation mode, registered twice: NAME (a thread) and NAME_process
 * (isolation = process, the worker a forked process). */
#include "test-thread.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static void s_error(muster_thread_t *t, int err) {
  seen_t *s = muster_thread_data(t);
  seen_add(s, 'e');
  s->err = err;
}

static muster_thread_options_t s_options(seen_t *s, int isolation) {
  muster_thread_options_t o = {0};
  o.isolation = isolation;
  o.on_online = seen_online;
  o.on_message = seen_message;
  o.on_error = s_error;
  o.on_exit = seen_exit;
  o.data = s;
  return o;
}

static int post_json(muster_port_t *p, json_t *v) {
  int r = muster_port_post(p, v, NULL);
  json_decref(v);
  return r;
}

/* The thread reports what it knows about itself, then returns: its loop
 * has nothing to do, so it exits with 0. */
static int info_entry(uv_loop_t *loop, void *arg) {
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)gettid());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, comm, sizeof comm - 1);
    comm[n > 0 ? n - 1 : 0] = '\0';
    close(fd);
  }
  json_t *wd = muster_thread_worker_data();
  const char *env = muster_thread_getenv("MUSTER_T");
  json_t *v =
      json_pack("{s:b, s:I, s:s, s:O?, s:s?, s:O?, s:i, s:b}", "main",
                muster_thread_is_main(), "id", (json_int_t)muster_thread_id(),
                "comm", comm, "data", wd, "env", env, "envdata",
                muster_thread_get_environment_data("k"), "arg", *(int *)arg,
                "stop", muster_thread_should_stop());
  return post_json(muster_thread_parent_port(), v) < 0 ? -1 : 0;
}

TEST_MODES(thread_events_and_info, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  int arg = 42;
  int fds = test_fd_count();
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT(muster_thread_is_main());
  ASSERT_EQ(muster_thread_id(), 0);
  ASSERT(muster_thread_parent_port() == NULL);
  ASSERT(muster_thread_worker_data() == NULL);
  json_t *ev = json_string("ev");
  ASSERT_OK(muster_thread_set_environment_data("k", ev)); /* copied */
  json_decref(ev);
  json_t *wd = json_pack("{s:[i,s]}", "w", 1, "x");
  const char *env[] = {"MUSTER_T=snap", NULL};
  muster_thread_options_t o = s_options(&s, isolation);
  o.worker_data = wd;
  o.name = "test-worker-thread-name";
  o.env = env;
  o.arg = &arg;
  o.stack_size = 256 * 1024;
  ASSERT_OK(muster_thread_create(&loop, info_entry, &o, &t));
  json_decref(wd);
  ASSERT(muster_thread_get_id(t) > 0);
  test_run_loop(&loop, 10000);
  ASSERT_STR_EQ(s.log, "omx");
  ASSERT_EQ(s.code, 0);
  json_t *v = s.last;
  ASSERT(json_is_false(json_object_get(v, "main")));
  ASSERT(json_integer_value(json_object_get(v, "id")) > 0);
  ASSERT_STR_EQ(json_string_value(json_object_get(v, "comm")),
                "test-worker-thr");
  ASSERT_STR_EQ(json_string_value(json_array_get(
                    json_object_get(json_object_get(v, "data"), "w"), 1)),
                "x");
  ASSERT_STR_EQ(json_string_value(json_object_get(v, "env")), "snap");
  ASSERT_STR_EQ(json_string_value(json_object_get(v, "envdata")), "ev");
  ASSERT_EQ(json_integer_value(json_object_get(v, "arg")), 42);
  json_decref(v);
  ASSERT_OK(muster_thread_set_environment_data("k", NULL));
  ASSERT(muster_thread_get_environment_data("k") == NULL);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}

/* An entry that fails: messages it posted first, then error, then exit
 * with its code (all of it: a worker process reports it, where its exit
 * status would keep 8 bits); the loop never runs. */
static int failing_entry(uv_loop_t *loop, void *arg) {
  post_json(muster_thread_parent_port(), json_integer(1));
  return -5;
}

TEST_MODES(thread_entry_error, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = s_options(&s, isolation);
  ASSERT_OK(muster_thread_create(&loop, failing_entry, &o, &t));
  test_run_loop(&loop, 10000);
  ASSERT_STR_EQ(s.log, "omex");
  ASSERT_EQ(s.err, -5);
  ASSERT_EQ(s.code, -5);
  json_decref(s.last);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A thread waiting in its loop (a timer that never fires) is stopped by
 * terminate: its at-exit hooks run, last first, and it exits with 1. The
 * hooks say so in messages, which reach the creator before the exit (in
 * process mode the worker's memory is not ours to look at). */
static void hook1(void *arg) {
  post_json(muster_thread_parent_port(), json_string("hook1"));
}

static void hook2(void *arg) {
  post_json(muster_thread_parent_port(), json_string("hook2"));
  /* The timer is still open here: close what is ours. */
  uv_close(arg, NULL);
}

static void never(uv_timer_t *timer) {
  TEST_FAIL("an hour passed");
}

static int waiting_entry(uv_loop_t *loop, void *arg) {
  static _Thread_local uv_timer_t timer;
  ASSERT_OK(uv_timer_init(loop, &timer));
  ASSERT_OK(uv_timer_start(&timer, never, 3600000, 0));
  ASSERT_OK(muster_thread_at_exit(hook1, NULL));
  ASSERT_OK(muster_thread_at_exit(hook2, &timer));
  return post_json(muster_thread_parent_port(), json_string("up")) < 0;
}

/* Records what came ("m", and the hooks' names as "2" / "1") and
 * terminates the thread on its first message. */
static void terminate_on_message(muster_thread_t *t, muster_message_t *m) {
  const char *v = json_string_value(muster_message_json(m));
  seen_message(t, m);
  if (v != NULL && strncmp(v, "hook", 4) == 0)
    seen_add(muster_thread_data(t), v[4]);
  ASSERT_OK(muster_thread_terminate(t));
  ASSERT_OK(muster_thread_terminate(t)); /* twice: no-op */
}

TEST_MODES(thread_terminate_waiting, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_thread_at_exit(hook1, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_thread_exit(0), MUSTER_EINVAL);
  muster_thread_options_t o = s_options(&s, isolation);
  o.on_message = terminate_on_message;
  ASSERT_OK(muster_thread_create(&loop, waiting_entry, &o, &t));
  test_run_loop(&loop, 20000);
  ASSERT_STR_EQ(s.log, "omm2m1x");
  ASSERT_EQ(s.code, 1);
  json_decref(s.last);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A thread in pure computation sees should_stop and returns; a thread
 * that calls muster_thread_exit() exits with its code. The entry says it
 * runs through a shared buffer (a worker process inherits the mapping),
 * which the creator hears with waitAsync and terminates the worker. */
static void say_running(void *arg) {
  atomic_store((_Atomic int32_t *)arg, 1);
  muster_shared_notify(arg, MUSTER_SHARED_ALL);
}

static int busy_entry(uv_loop_t *loop, void *arg) {
  say_running(arg);
  while (!muster_thread_should_stop())
    ;
  return muster_thread_exit(7);
}

static void terminate_when_running(muster_shared_wait_t *w, int result,
                                   void *data) {
  ASSERT_EQ(result, MUSTER_SHARED_OK);
  ASSERT_OK(muster_thread_terminate(*(muster_thread_t **)data));
}

/* Starts `entry` with a word of `sh` as its arg, and terminates the
 * thread once the entry stored 1 there (the wait starts first: the entry
 * may store before create returns). */
static void start_then_terminate(uv_loop_t *loop, muster_thread_entry_cb entry,
                                 muster_thread_options_t *o,
                                 muster_shared_t *sh, muster_thread_t **t) {
  o->arg = muster_shared_i32(sh, 0);
  ASSERT_EQ(muster_shared_wait_async(loop, o->arg, 0, MUSTER_SHARED_FOREVER,
                                     terminate_when_running, t, NULL),
            MUSTER_SHARED_PENDING);
  ASSERT_OK(muster_thread_create(loop, entry, o, t));
}

TEST_MODES(thread_should_stop_and_exit, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_shared_t *sh;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_shared_create(64, &sh));
  muster_thread_options_t o = s_options(&s, isolation);
  muster_thread_t *t;
  start_then_terminate(&loop, busy_entry, &o, sh, &t);
  test_run_loop(&loop, 20000);
  ASSERT_STR_EQ(s.log, "ox");
  ASSERT_EQ(s.code, 7);
  muster_shared_unref(sh);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A message posted by an entry busy in computation leaves at once, in
 * both modes: the creator gets it (and terminates the worker) while the
 * entry still computes. A worker process used to hold it until its loop
 * turned, which this entry never lets happen: it would give up after 15 s
 * and exit with 9. */
static int post_then_busy_entry(uv_loop_t *loop, void *arg) {
  uint64_t t0 = uv_hrtime();
  if (post_json(muster_thread_parent_port(), json_string("busy")) < 0)
    return 8;
  while (!muster_thread_should_stop())
    if (uv_hrtime() - t0 > 15000000000u)
      return 9;
  return muster_thread_exit(7);
}

TEST_MODES(thread_post_while_busy, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = s_options(&s, isolation);
  o.on_message = terminate_on_message;
  ASSERT_OK(muster_thread_create(&loop, post_then_busy_entry, &o, &t));
  test_run_loop(&loop, 30000);
  ASSERT_STR_EQ(s.log, "omx");
  ASSERT_EQ(s.code, 7);
  ASSERT_STR_EQ(json_string_value(s.last), "busy");
  json_decref(s.last);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Text that is not JSON, posted to a worker, reaches the worker's port as
 * messageerror (MUSTER_EBADMSG) in its place among the messages, in both
 * modes. The worker reports each event back; "bye" closes its port. */
static void report_message(muster_port_t *p, muster_message_t *m) {
  json_t *v = muster_message_json(m);
  post_json(p, json_pack("{s:O}", "message", v));
  if (json_is_string(v))
    muster_port_close(p, NULL);
}

static void report_messageerror(muster_port_t *p, int err) {
  post_json(p, json_pack("{s:i}", "messageerror", err));
}

static int report_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = report_message;
  o.on_messageerror = report_messageerror;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static json_t *reports;

static void collect(muster_thread_t *t, muster_message_t *m) {
  seen_add(muster_thread_data(t), 'm');
  json_array_append(reports, muster_message_json(m));
}

TEST_MODES(thread_messageerror_in_order, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  reports = json_array();
  muster_thread_options_t o = s_options(&s, isolation);
  o.on_message = collect;
  ASSERT_OK(muster_thread_create(&loop, report_entry, &o, &t));
  muster_port_t *p = muster_thread_port(t);
  ASSERT(muster_port_post_text(p, "[1]", 3, NULL) >= 0);
  ASSERT(muster_port_post_text(p, "{bad", 4, NULL) >= 0);
  ASSERT(muster_port_post_text(p, "\"bye\"", 5, NULL) >= 0);
  test_run_loop(&loop, 20000);
  ASSERT_STR_EQ(s.log, "ommmx");
  ASSERT_EQ(s.code, 0);
  char *got = json_dumps(reports, JSON_COMPACT);
  ASSERT_STR_EQ(got, "[{\"message\":[1]},{\"messageerror\":-74},"
                     "{\"message\":\"bye\"}]");
  free(got);
  json_decref(reports);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Process mode only (a thread cannot be killed alone): a worker that
 * neither returns to its loop nor checks should_stop is killed once the
 * grace period has passed: exit 1, signal SIGKILL. */
static int deaf_entry(uv_loop_t *loop, void *arg) {
  volatile int forever = 1;
  say_running(arg);
  while (forever)
    pause(); /* SIGTERM's handler returns here: pause again */
  return 0;
}

TEST(thread_terminate_grace_then_kill_process) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_shared_t *sh;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_shared_create(64, &sh));
  muster_thread_options_t o = s_options(&s, MUSTER_THREAD_ISOLATION_PROCESS);
  o.terminate_grace_ms = 200;
  uint64_t t0 = test_now_ms();
  muster_thread_t *t;
  start_then_terminate(&loop, deaf_entry, &o, sh, &t);
  test_run_loop(&loop, 20000);
  ASSERT_GE(test_now_ms() - t0, 200);
  ASSERT_STR_EQ(s.log, "ox");
  ASSERT_EQ(s.code, 1);
  ASSERT_EQ(s.sig, SIGKILL);
  muster_shared_unref(sh);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Echo over the parent port; "bye" makes the thread close its parent
 * port, and with its loop then empty it exits. */
static void t_echo(muster_port_t *p, muster_message_t *m) {
  size_t len;
  const char *text = muster_message_text(m, &len);
  if (json_is_string(muster_message_json(m))) { /* "bye" */
    muster_port_close(p, NULL);
    return;
  }
  ASSERT(muster_port_post_text(p, text, len, NULL) >= 0);
}

static void t_close(muster_port_t *p) {
  muster_port_close(p, NULL);
}

static int echo_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = t_echo;
  o.on_close = t_close;
  return muster_port_start(muster_thread_parent_port(), &o);
}

typedef struct {
  int got, exits;
  muster_thread_t *t;
} echo_t;

static void echo_back(muster_thread_t *t, muster_message_t *m) {
  echo_t *e = muster_thread_data(t);
  ASSERT_EQ(json_integer_value(muster_message_json(m)), e->got);
  if (++e->got == 500)
    ASSERT_OK(post_json(muster_thread_port(t), json_string("bye")));
}

static void echo_exit(muster_thread_t *t, int code) {
  echo_t *e = muster_thread_data(t);
  ASSERT_EQ(code, 0);
  e->exits++;
  ASSERT(muster_thread_port(t) == NULL);
  muster_thread_close(t, NULL);
}

TEST_MODES(thread_echo, 30) {
  uv_loop_t loop;
  echo_t e = {0};
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = {0};
  o.isolation = isolation;
  o.on_message = echo_back;
  o.on_exit = echo_exit;
  o.data = &e;
  ASSERT_OK(muster_thread_create(&loop, echo_entry, &o, &e.t));
  for (int i = 0; i < 500; i++)
    ASSERT(post_json(muster_thread_port(e.t), json_integer(i)) >= 0);
  test_run_loop(&loop, 10000);
  ASSERT_EQ(e.got, 500);
  ASSERT_EQ(e.exits, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Closing a running thread: terminated, joined, cb called; no on_exit. A
 * thread that ends with a thread of its own still running terminates and
 * joins it in its cleanup. */
static int nested_entry(uv_loop_t *loop, void *arg) {
  muster_thread_t *inner;
  ASSERT(!muster_thread_is_main());
  ASSERT_OK(muster_thread_create(loop, echo_entry, NULL, &inner));
  return post_json(muster_thread_parent_port(), json_true()) < 0;
}

static int closed_count;
static void count_close(muster_thread_t *t) {
  closed_count++;
}

static void close_on_message(muster_thread_t *t, muster_message_t *m) {
  muster_thread_close(t, count_close);
}

TEST_MODES(thread_close_running_nested, 30) {
  uv_loop_t loop;
  seen_t s = {0};
  muster_thread_t *t;
  closed_count = 0;
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = s_options(&s, isolation);
  ASSERT_OK(muster_thread_create(&loop, nested_entry, &o, &t));
  muster_thread_close(t, count_close);
  muster_thread_close(t, count_close); /* twice: no-op */
  test_run_loop(&loop, 10000);
  ASSERT_EQ(closed_count, 1);
  /* Again, once the thread has made its own. */
  o.on_message = close_on_message;
  ASSERT_OK(muster_thread_create(&loop, nested_entry, &o, &t));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(closed_count, 2);
  ASSERT_EQ(s.exits, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(thread_bad_arguments) {
  uv_loop_t loop;
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_thread_create(NULL, echo_entry, NULL, &t), MUSTER_EINVAL);
  ASSERT_ERR(muster_thread_create(&loop, NULL, NULL, &t), MUSTER_EINVAL);
  ASSERT_ERR(muster_thread_create(&loop, echo_entry, NULL, NULL),
             MUSTER_EINVAL);
  muster_thread_options_t o = {0};
  o.worker_len = 3; /* bytes promised, none given */
  ASSERT_ERR(muster_thread_create(&loop, echo_entry, &o, &t), MUSTER_EINVAL);
  o = (muster_thread_options_t){0};
  o.isolation = 7;
  ASSERT_ERR(muster_thread_create(&loop, echo_entry, &o, &t), MUSTER_EINVAL);
  /* A process cannot share another's environment (thread.h). */
  o.isolation = MUSTER_THREAD_ISOLATION_PROCESS;
  o.share_env = 1;
  ASSERT_ERR(muster_thread_create(&loop, echo_entry, &o, &t), MUSTER_ENOTSUP);
  ASSERT_ERR(muster_thread_terminate(NULL), MUSTER_EINVAL);
  ASSERT_OK(uv_loop_close(&loop));
}

/* 10,000 threads created and joined one after the other: no fd left, and
 * memory flat (the resident size after the last thousand is within a few
 * MiB of what it was after the first thousand). Threads only: the case is
 * about what a thread costs; 10,000 forks would take minutes under the
 * sanitizers, so process mode has its own shorter run
 * (isolation_many_in_sequence). */
static int quick_entry(uv_loop_t *loop, void *arg) {
  return 0;
}

static void on_quick_exit(muster_thread_t *t, int code) {
  ASSERT_EQ(code, 0);
  muster_thread_close(t, NULL);
}

/* Sanitizers keep memory of their own per thread (TSan's history, ASan's
 * quarantine): resident size says nothing about ours under them. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "re");
  ASSERT(f != NULL);
  ASSERT_EQ(fscanf(f, "%ld %ld", &pages, &resident), 2);
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST_T(thread_10000_in_sequence, 600) {
  uv_loop_t loop;
  int fds = test_fd_count();
  long rss_1000 = 0;
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = {0};
  o.on_exit = on_quick_exit;
  o.share_env = 1;
  for (int i = 1; i <= 10000; i++) {
    muster_thread_t *t;
    ASSERT_OK(muster_thread_create(&loop, quick_entry, &o, &t));
    uv_run(&loop, UV_RUN_DEFAULT);
    if (i == 1000)
      rss_1000 = rss_kib();
  }
  long rss_end = rss_kib();
  fprintf(stderr, "rss after 1000: %ld KiB, after 10000: %ld KiB\n", rss_1000,
          rss_end);
  if (!UNDER_SANITIZER)
    ASSERT_LE(rss_end - rss_1000, 8 * 1024);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}
