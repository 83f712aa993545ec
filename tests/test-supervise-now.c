/* MUSTER_SUPERVISE_RESTART_AT_ONCE: a restart without delay, done inside
 * the call that reported the exit, with real processes.
 *
 * The row is a supervised child: it feeds each exit to the row between
 * the owner's on_exit and on_exited. A restart at once therefore shows as
 * a new process (on_child) *between* those two callbacks of the old one;
 * a restart through the backoff timer comes on a later loop turn, after
 * on_exited. That ordering, not a time, is what the tests assert. */
#include "test.h"

#include <unistd.h>

#define MAX_EV 64

struct now_row {
  muster_supervisor_t *sup;
  char trail[1024];
  int children, exits, exiteds, closed;
  /* For each exit: how many processes had been started when on_exited
   * came (children at on_exit + 1 means the restart happened inside). */
  int children_at_exit[MAX_EV];
  int children_at_exited[MAX_EV];
  muster_supervise_state_t state_at_exited[MAX_EV];
  uint64_t backoffs[MAX_EV];
  int nbackoffs;
  int stop_after; /* stop the row on its n-th BACKOFF (0: never) */
  int fail_start; /* on_prepare fails from this start on (0: never) */
  int prepares;
  int errors;
  muster_supervise_reason_t reason;
  int err;
};

static uv_loop_t loop;

static void on_child(muster_supervisor_t *sup, muster_child_t *child,
                     muster_channel_t *channel) {
  struct now_row *r = muster_supervise_data(sup);
  (void)child;
  (void)channel;
  r->children++;
}

static void on_exit_row(muster_supervisor_t *sup, muster_child_t *child,
                        int64_t status, int sig) {
  struct now_row *r = muster_supervise_data(sup);
  (void)child;
  (void)status;
  (void)sig;
  ASSERT(r->exits < MAX_EV);
  r->children_at_exit[r->exits++] = r->children;
}

static void on_exited(muster_supervisor_t *sup, muster_child_t *child,
                      int64_t status, int sig) {
  struct now_row *r = muster_supervise_data(sup);
  (void)child;
  (void)status;
  (void)sig;
  ASSERT(r->exiteds < r->exits);
  r->state_at_exited[r->exiteds] = muster_supervise_state(sup);
  r->children_at_exited[r->exiteds++] = r->children;
}

static void row_closed(muster_supervisor_t *sup) {
  struct now_row *r = muster_supervise_data(sup);
  r->closed = 1;
}

static void on_state(muster_supervisor_t *sup, muster_supervise_state_t old,
                     muster_supervise_state_t state) {
  struct now_row *r = muster_supervise_data(sup);
  size_t n = strlen(r->trail);
  (void)old;
  snprintf(r->trail + n, sizeof r->trail - n, "%s%s", n ? ">" : "",
           muster_supervise_state_name(state));
  if (state == MUSTER_SUPERVISE_BACKOFF) {
    ASSERT(r->nbackoffs < MAX_EV);
    r->backoffs[r->nbackoffs++] = muster_supervise_backoff_ms(sup);
    if (r->nbackoffs == r->stop_after)
      ASSERT_OK(muster_supervise_stop(sup));
  }
  if (state == MUSTER_SUPERVISE_STOPPED || state == MUSTER_SUPERVISE_ERRORED)
    muster_supervise_close(sup, row_closed);
}

static void on_error(muster_supervisor_t *sup, muster_supervise_reason_t reason,
                     int err) {
  struct now_row *r = muster_supervise_data(sup);
  r->errors++;
  r->reason = reason;
  r->err = err;
}

static int on_prepare(muster_supervisor_t *sup, muster_supervise_run_t *run) {
  struct now_row *r = muster_supervise_data(sup);
  (void)run;
  r->prepares++;
  if (r->fail_start != 0 && r->prepares >= r->fail_start)
    return MUSTER_ENOTSUP;
  return 0;
}

/* Runs `argv` under a row with RESTART_AT_ONCE and `p`'s other values,
 * until the row is closed (on STOPPED or ERRORED). */
static void run_row(struct now_row *r, muster_supervise_policy_t *p,
                    const char *const *argv) {
  static const muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                                          {MUSTER_STDIO_INHERIT, -1},
                                          {MUSTER_STDIO_INHERIT, -1}};
  muster_supervise_child_options_t o;
  ASSERT_OK(uv_loop_init(&loop));
  memset(&o, 0, sizeof o);
  o.process.spawn.stdio = stdio;
  o.process.spawn.stdio_count = 3;
  o.on_prepare = on_prepare;
  o.on_child = on_child;
  o.on_exit = on_exit_row;
  o.on_exited = on_exited;
  o.on_state = on_state;
  o.on_error = on_error;
  o.policy = *p;
  o.policy.flags |= MUSTER_SUPERVISE_RESTART_AT_ONCE;
  o.data = r;
  ASSERT_OK(muster_supervise_child_create(&loop, argv[0], argv, &o, &r->sup));
  ASSERT_OK(muster_supervise_start(r->sup));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r->closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Quick crashes: the first restart is at once, inside the exit; the next
 * ones wait the base, then a growing delay, on the timer. */
TEST(supervise_now_first_restart) {
  static struct now_row r;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 20;
  p.backoff_factor = 2;
  p.backoff_max_ms = 1000;
  p.min_uptime_ms = 60000; /* no run is stable */
  p.crash_limit = 100;
  r.stop_after = 4;
  run_row(&r, &p, test_fixture_argv("exit_code", "1", NULL));
  ASSERT_STR_EQ(r.trail, "online>backoff>online>backoff>online>backoff>"
                         "online>backoff>stopped");
  ASSERT_EQ(r.nbackoffs, 4);
  static const uint64_t want[] = {0, 20, 40, 80};
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(r.backoffs[i], want[i]);
  /* The last exit's BACKOFF stopped the row and closed it: no on_exited. */
  ASSERT_EQ(r.exits, 4);
  ASSERT_EQ(r.exiteds, 3);
  /* The first exit: the next process was made before on_exited, and the
   * row was already online again. */
  ASSERT_EQ(r.children_at_exit[0], 1);
  ASSERT_EQ(r.children_at_exited[0], 2);
  ASSERT_EQ(r.state_at_exited[0], MUSTER_SUPERVISE_ONLINE);
  /* The others waited for the timer. */
  for (int i = 1; i < 3; i++) {
    ASSERT_EQ(r.children_at_exited[i], r.children_at_exit[i]);
    ASSERT_EQ(r.state_at_exited[i], MUSTER_SUPERVISE_BACKOFF);
  }
  ASSERT_EQ(r.children, 4);
}

/* Runs that stayed up for min_uptime: every restart is at once, and the
 * crash-loop guard still ends the series. */
TEST(supervise_now_stable_runs) {
  static struct now_row r;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 500;
  p.min_uptime_ms = 1;
  p.crash_limit = 3;
  p.crash_window_ms = 60000;
  run_row(&r, &p,
          test_fixture_argv("supervise_worker", "--after", "30", "--exit", "1",
                            NULL));
  ASSERT_STR_EQ(r.trail, "online>backoff>online>backoff>online>backoff>"
                         "online>errored");
  ASSERT_EQ(r.errors, 1);
  ASSERT_EQ(r.reason, MUSTER_SUPERVISE_CRASH_LOOP);
  ASSERT_EQ(r.nbackoffs, 3);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(r.backoffs[i], 0);
    ASSERT_EQ(r.children_at_exited[i], r.children_at_exit[i] + 1);
  }
  ASSERT_EQ(r.children, 4);
  ASSERT_EQ(r.exits, 4);
  ASSERT_EQ(r.exiteds, 3); /* the row closed on ERRORED */
}

/* A stop from on_state(BACKOFF) wins over the restart at once. */
TEST(supervise_now_stop_wins) {
  static struct now_row r;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  r.stop_after = 1;
  run_row(&r, &p, test_fixture_argv("exit_code", "1", NULL));
  ASSERT_STR_EQ(r.trail, "online>backoff>stopped");
  ASSERT_EQ(r.children, 1);
  ASSERT_EQ(r.exits, 1);
  ASSERT_EQ(r.exiteds, 0); /* closed on STOPPED, inside the exit */
}

/* The restart at once fails to start: the row is ERRORED with the start's
 * error, reported from inside the exit, as a timer's restart would be. */
TEST(supervise_now_start_fails) {
  static struct now_row r;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  r.fail_start = 2;
  run_row(&r, &p, test_fixture_argv("exit_code", "1", NULL));
  ASSERT_STR_EQ(r.trail, "online>backoff>errored");
  ASSERT_EQ(r.errors, 1);
  ASSERT_EQ(r.reason, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_EQ(r.err, MUSTER_ENOTSUP);
  ASSERT_EQ(r.children, 1);
  ASSERT_EQ(r.prepares, 2);
  ASSERT_EQ(r.exiteds, 0); /* closed on ERRORED, inside the exit */
}

/* The flag is a policy bit like WAIT_READY; an unknown bit is refused. */
static int plain_start(muster_supervisor_t *sup, int *pid) {
  (void)sup;
  (void)pid;
  return MUSTER_ENOSYS;
}

static int plain_signal(muster_supervisor_t *sup, int signo) {
  (void)sup;
  (void)signo;
  return MUSTER_ESRCH;
}

TEST(supervise_now_flags) {
  muster_supervisor_t *sup = NULL;
  muster_supervise_options_t o;
  ASSERT_OK(uv_loop_init(&loop));
  memset(&o, 0, sizeof o);
  o.start = plain_start;
  o.signal = plain_signal;
  o.policy.flags = 1u << 2;
  ASSERT_ERR(muster_supervise_create(&loop, &o, &sup), MUSTER_EINVAL);
  ASSERT(sup == NULL);
  o.policy.flags =
      MUSTER_SUPERVISE_RESTART_AT_ONCE | MUSTER_SUPERVISE_WAIT_READY;
  ASSERT_OK(muster_supervise_create(&loop, &o, &sup));
  muster_supervise_close(sup, NULL);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_OK(uv_loop_close(&loop));
}
