/* muster_supervise_replace: one step of a rolling reload with real
 * processes. `prev` runs a process that is ONLINE at once; `next` waits
 * for readiness, which the test declares from a timer (as an owner that
 * saw 'listening' would), or never comes (a process that exits at once, or
 * one that is never ready). */
#include "test.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;

/* A row and its process: the start hook spawns, the exit is fed back. */
typedef struct {
  muster_supervisor_t *sup;
  muster_child_t *proc;
  const char *argv[16]; /* test_fixture_argv()'s array is reused */
  int pid_seen;         /* pid when the operation ended */
  int stopped_after_next_online;
  uint64_t online_at, stopped_at;
} row_t;

static row_t prev, next;
static int cb_calls, cb_status = 1;

static void on_child_exit(muster_child_t *c, int64_t status, int sig) {
  row_t *r = muster_child_data(c);
  if (r->proc == c)
    r->proc = NULL;
  if (r->sup)
    ASSERT_OK(muster_supervise_exited(r->sup, status, sig));
}

static void on_child_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

static int start_hook(muster_supervisor_t *sup, int *pid) {
  row_t *r = muster_supervise_data(sup);
  static const muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                                          {MUSTER_STDIO_INHERIT, -1},
                                          {MUSTER_STDIO_INHERIT, -1}};
  muster_spawn_options_t o = {.stdio = stdio,
                              .stdio_count = 3,
                              .on_exit = on_child_exit,
                              .on_close = on_child_close,
                              .data = r};
  int e = muster_spawn(&loop, r->argv[0], r->argv, &o, &r->proc);
  if (e == 0)
    *pid = muster_child_pid(r->proc);
  return e;
}

static int signal_hook(muster_supervisor_t *sup, int signo) {
  row_t *r = muster_supervise_data(sup);
  return r->proc ? muster_child_kill(r->proc, signo) : MUSTER_ESRCH;
}

static void on_state(muster_supervisor_t *sup, muster_supervise_state_t old,
                     muster_supervise_state_t st) {
  row_t *r = muster_supervise_data(sup);
  (void)old;
  if (st == MUSTER_SUPERVISE_ONLINE)
    r->online_at = uv_now(&loop) + 1;
  if (st == MUSTER_SUPERVISE_STOPPED)
    r->stopped_at = uv_now(&loop) + 1;
}

static void row_init(row_t *r, const char *const *argv, int wait_ready,
                     uint64_t ready_timeout_ms) {
  memset(r, 0, sizeof *r);
  for (int i = 0; argv[i] != NULL && i < 15; i++)
    r->argv[i] = argv[i];
  muster_supervise_options_t o = {.start = start_hook,
                                  .signal = signal_hook,
                                  .on_state = on_state,
                                  .data = r};
  o.policy.flags = wait_ready ? MUSTER_SUPERVISE_WAIT_READY : 0;
  o.policy.ready_timeout_ms = ready_timeout_ms;
  o.policy.kill_timeout_ms = 500;
  ASSERT_OK(muster_supervise_create(&loop, &o, &r->sup));
}

static void row_closed(muster_supervisor_t *sup) {
  row_t *r = muster_supervise_data(sup);
  r->sup = NULL;
}

/* Stops both rows, closes them once stopped, and runs the loop dry. */
static uv_timer_t ready_timer, end_timer;

static void end_cb(uv_timer_t *t) {
  row_t *rows[2] = {&prev, &next};
  int busy = 0;
  for (int i = 0; i < 2; i++) {
    row_t *r = rows[i];
    if (r->sup == NULL)
      continue;
    if (muster_supervise_state(r->sup) == MUSTER_SUPERVISE_STOPPED ||
        muster_supervise_state(r->sup) == MUSTER_SUPERVISE_ERRORED) {
      if (r->proc == NULL) {
        muster_supervise_close(r->sup, row_closed);
        continue;
      }
    } else if (muster_supervise_state(r->sup) != MUSTER_SUPERVISE_STOPPING) {
      ASSERT_OK(muster_supervise_stop(r->sup));
    }
    busy = 1;
  }
  if (!busy) {
    uv_close((uv_handle_t *)t, NULL);
    uv_close((uv_handle_t *)&ready_timer, NULL);
  }
}

static void replaced(muster_supervise_replace_t *op, int status, void *arg) {
  (void)op;
  ASSERT(arg == &cb_calls);
  cb_calls++;
  cb_status = status;
  prev.pid_seen = muster_supervise_pid(prev.sup);
  next.pid_seen = muster_supervise_pid(next.sup);
  uv_timer_start(&end_timer, end_cb, 10, 20);
}

static void ready_cb(uv_timer_t *t) {
  (void)t;
  ASSERT_OK(muster_supervise_ready(next.sup));
}

static const char *const *forever(void) {
  return test_fixture_argv("supervise_worker", NULL);
}

static void setup(const char *const *next_argv, uint64_t ready_timeout_ms) {
  ASSERT_OK(uv_loop_init(&loop));
  uv_timer_init(&loop, &ready_timer);
  uv_timer_init(&loop, &end_timer);
  cb_calls = 0;
  cb_status = 1;
  row_init(&next, next_argv, 1, ready_timeout_ms); /* before forever() */
  row_init(&prev, forever(), 0, 0);
  ASSERT_OK(muster_supervise_start(prev.sup));
  ASSERT_EQ(muster_supervise_state(prev.sup), MUSTER_SUPERVISE_ONLINE);
}

static void finish(void) {
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(cb_calls, 1);
}

/* next comes up, then prev is stopped: never both gone. */
TEST_T(supervise_replace_ok, 30) {
  setup(forever(), 10000);
  int prev_pid = muster_supervise_pid(prev.sup);
  ASSERT_OK(
      muster_supervise_replace(prev.sup, next.sup, replaced, &cb_calls, NULL));
  ASSERT_EQ(muster_supervise_state(next.sup), MUSTER_SUPERVISE_STARTING);
  uv_timer_start(&ready_timer, ready_cb, 100, 0);
  finish();
  ASSERT_EQ(cb_status, 0);
  ASSERT_EQ(prev.pid_seen, 0); /* stopped when the callback came */
  ASSERT(next.pid_seen > 0 && next.pid_seen != prev_pid);
  ASSERT(next.online_at > 0 && prev.stopped_at >= next.online_at);
}

/* next exits before it is ready: prev keeps its process. */
TEST_T(supervise_replace_next_exits, 30) {
  setup(test_fixture_argv("supervise_worker", "--exit", "3", NULL), 10000);
  int prev_pid = muster_supervise_pid(prev.sup);
  ASSERT_OK(
      muster_supervise_replace(prev.sup, next.sup, replaced, &cb_calls, NULL));
  finish();
  ASSERT_ERR(cb_status, MUSTER_ECHILD);
  ASSERT_EQ(prev.pid_seen, prev_pid);
  ASSERT_EQ(next.pid_seen, 0);
  ASSERT_EQ(prev.stopped_at >= next.stopped_at, 1); /* stopped at the end */
}

/* next is never ready: ETIMEDOUT, prev keeps serving. */
TEST_T(supervise_replace_timeout, 30) {
  setup(forever(), 150);
  int prev_pid = muster_supervise_pid(prev.sup);
  ASSERT_OK(
      muster_supervise_replace(prev.sup, next.sup, replaced, &cb_calls, NULL));
  finish();
  ASSERT_ERR(cb_status, MUSTER_ETIMEDOUT);
  ASSERT_EQ(prev.pid_seen, prev_pid);
}

static void cancel_cb(uv_timer_t *t) {
  muster_supervise_replace_t *op = t->data;
  muster_supervise_replace_cancel(op);
  muster_supervise_replace_cancel(op); /* a second call is harmless */
  prev.pid_seen = muster_supervise_pid(prev.sup);
  uv_timer_start(&end_timer, end_cb, 200, 20);
}

/* Bad calls change nothing; a cancelled replacement calls nothing back,
 * stops next and leaves prev running. */
TEST_T(supervise_replace_errors_cancel, 30) {
  setup(forever(), 10000);
  muster_supervise_replace_t *op = NULL;
  ASSERT_ERR(muster_supervise_replace(NULL, next.sup, NULL, NULL, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_replace(prev.sup, prev.sup, NULL, NULL, NULL),
             MUSTER_EINVAL);
  /* next must not be running already. */
  ASSERT_ERR(muster_supervise_replace(next.sup, prev.sup, NULL, NULL, NULL),
             MUSTER_EALREADY);
  ASSERT_OK(
      muster_supervise_replace(prev.sup, next.sup, replaced, &cb_calls, &op));
  ASSERT(op != NULL);
  /* One replacement per row at a time. */
  row_t third;
  row_init(&third, forever(), 1, 10000);
  ASSERT_ERR(muster_supervise_replace(prev.sup, third.sup, NULL, NULL, NULL),
             MUSTER_EBUSY);
  muster_supervise_close(third.sup, NULL);
  int prev_pid = muster_supervise_pid(prev.sup);
  ready_timer.data = op;
  uv_timer_start(&ready_timer, cancel_cb, 50, 0);
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(cb_calls, 0);
  ASSERT_EQ(prev.pid_seen, prev_pid);
  ASSERT(next.stopped_at > 0);
}
