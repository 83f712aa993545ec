/* Supervision: restart policy, backoff, crash-loop guard, readiness and
 * the stop escalation, with real processes.
 *
 * The owner here is a supervised child (muster_supervise_child_create),
 * the same building block the cluster and the process manager use: the row
 * spawns, feeds the exit and sends the signals; the owner watches through
 * on_child, on_exit and on_signal. Timings are ms-scale; the assertions are on
 * orderings, counts and lower bounds, never on upper bounds of time.
 */
#include "test.h"

#include <signal.h>
#include <unistd.h>

#define MAX_EV 256

/* One supervised row and the process it currently has. */
struct owner {
  muster_supervisor_t *sup;
  muster_child_t *proc;
  int graceful_signal; /* 0: no graceful hook */
  int closed;          /* close callback seen */
  /* The row's queries, read in the close callback (the last moment). */
  muster_supervise_state_t fin_state;
  unsigned fin_restarts;
  int fin_pid;
  int fin_has_exit;
  int64_t fin_status;
  int fin_sig;
  int sup_closing;

  int starts;
  uint64_t start_at[MAX_EV];
  int exits;
  int64_t exit_status[MAX_EV];
  int term_signal[MAX_EV];

  /* Hook calls in order: 'G' graceful, or the signal number sent. */
  int hooks;
  int hook_sig[MAX_EV];
  uint64_t hook_at[MAX_EV];

  int nstates;
  muster_supervise_state_t states[MAX_EV]; /* each new state */
  uint64_t state_at[MAX_EV];
  int nbackoffs;
  uint64_t backoffs[MAX_EV];

  int errors;
  muster_supervise_reason_t reason;
  int err;

  /* What the test does on a transition. */
  void (*react)(struct owner *o, muster_supervise_state_t old,
                muster_supervise_state_t state);
  void *arg;
};

static uv_loop_t loop;

static void log_hook(struct owner *o, int what) {
  ASSERT(o->hooks < MAX_EV);
  o->hook_sig[o->hooks] = what;
  o->hook_at[o->hooks++] = test_now_ms();
}

/* A new process (inside the row's start). */
static void child_cb(muster_supervisor_t *sup, muster_child_t *child,
                     muster_channel_t *channel) {
  struct owner *o = muster_supervise_data(sup);
  ASSERT(channel == NULL);
  /* One process at a time per row: the last one has been reported gone. */
  ASSERT(o->proc == NULL);
  ASSERT(o->starts < MAX_EV);
  o->start_at[o->starts++] = test_now_ms();
  /* Called from inside the start: the row may be queried, not driven. */
  ASSERT_ERR(muster_supervise_stop(sup), MUSTER_EBUSY);
  o->proc = child;
}

static void exit_cb(muster_supervisor_t *sup, muster_child_t *child,
                    int64_t status, int sig) {
  struct owner *o = muster_supervise_data(sup);
  ASSERT(child == o->proc);
  ASSERT(o->exits < MAX_EV);
  o->exit_status[o->exits] = status;
  o->term_signal[o->exits] = sig;
  o->exits++;
  /* Cleared before the row hears of the exit: it may start the next
   * process at once. */
  o->proc = NULL;
}

static void signal_cb(muster_supervisor_t *sup, int signo) {
  log_hook(muster_supervise_data(sup), signo);
}

static int graceful_hook(muster_supervisor_t *sup) {
  struct owner *o = muster_supervise_data(sup);
  log_hook(o, 'G');
  if (o->proc == NULL)
    return MUSTER_ENOTCONN;
  return muster_child_kill(o->proc, o->graceful_signal);
}

static void state_cb(muster_supervisor_t *sup, muster_supervise_state_t old,
                     muster_supervise_state_t state) {
  struct owner *o = muster_supervise_data(sup);
  ASSERT(old != state);
  ASSERT_EQ(muster_supervise_state(sup), state);
  if (o->nstates > 0)
    ASSERT_EQ(o->states[o->nstates - 1], old);
  ASSERT(o->nstates < MAX_EV);
  o->state_at[o->nstates] = test_now_ms();
  o->states[o->nstates++] = state;
  if (state == MUSTER_SUPERVISE_BACKOFF) {
    ASSERT(o->nbackoffs < MAX_EV);
    o->backoffs[o->nbackoffs++] = muster_supervise_backoff_ms(sup);
  }
  if (o->react != NULL)
    o->react(o, old, state);
}

static void error_cb(muster_supervisor_t *sup, muster_supervise_reason_t reason,
                     int err) {
  struct owner *o = muster_supervise_data(sup);
  ASSERT_EQ(muster_supervise_state(sup), MUSTER_SUPERVISE_ERRORED);
  o->errors++;
  o->reason = reason;
  o->err = err;
}

static void sup_close_cb(muster_supervisor_t *sup) {
  struct owner *o = muster_supervise_data(sup);
  o->closed = 1;
  o->fin_state = muster_supervise_state(sup);
  o->fin_restarts = muster_supervise_restarts(sup);
  o->fin_pid = muster_supervise_pid(sup);
  o->fin_has_exit =
      muster_supervise_last_exit(sup, &o->fin_status, &o->fin_sig);
  o->sup = NULL;
}

static void owner_close(struct owner *o) {
  o->sup_closing = 1;
  muster_supervise_close(o->sup, sup_close_cb);
}

/* A row whose process is argv, a supervised child with its stdio on ours;
 * with `graceful_signal`, the graceful hook sends that signal. */
static void owner_make(struct owner *o, const muster_supervise_policy_t *p,
                       const char *const *argv, int graceful_signal) {
  static const muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                                          {MUSTER_STDIO_INHERIT, -1},
                                          {MUSTER_STDIO_INHERIT, -1}};
  memset(o, 0, sizeof *o);
  muster_supervise_child_options_t opt;
  memset(&opt, 0, sizeof opt);
  opt.process.spawn.stdio = stdio;
  opt.process.spawn.stdio_count = 3;
  opt.on_child = child_cb;
  opt.on_exit = exit_cb;
  opt.on_signal = signal_cb;
  opt.graceful = graceful_signal != 0 ? graceful_hook : NULL;
  opt.on_state = state_cb;
  opt.on_error = error_cb;
  opt.policy = *p;
  opt.data = o;
  o->graceful_signal = graceful_signal;
  ASSERT_OK(muster_supervise_child_create(&loop, argv[0], argv, &opt, &o->sup));
}

static void owner_init(struct owner *o, const muster_supervise_policy_t *p,
                       const char *const *argv) {
  owner_make(o, p, argv, 0);
}

/* The same, with the graceful hook sending `signo`. */
static void owner_init_graceful(struct owner *o,
                                const muster_supervise_policy_t *p,
                                const char *const *argv, int signo) {
  owner_make(o, p, argv, signo);
}

static void stop_at(struct owner *o, muster_supervise_state_t state) {
  (void)state;
  ASSERT_OK(muster_supervise_stop(o->sup));
}

/* Closes the row once it is STOPPED or ERRORED. */
static void close_when_done(struct owner *o, muster_supervise_state_t old,
                            muster_supervise_state_t state) {
  (void)old;
  if (state == MUSTER_SUPERVISE_STOPPED || state == MUSTER_SUPERVISE_ERRORED)
    owner_close(o);
}

/* Stops the row when it enters BACKOFF after `*(int *)arg` starts. */
static void stop_after_starts(struct owner *o, muster_supervise_state_t old,
                              muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_BACKOFF && o->starts == *(int *)o->arg)
    stop_at(o, state);
  close_when_done(o, old, state);
}

static void run(uint64_t ms) {
  test_run_loop(&loop, ms);
  ASSERT_OK(uv_loop_close(&loop));
}

static const char *state_trail(const struct owner *o) {
  static char buf[2048];
  buf[0] = '\0';
  for (int i = 0; i < o->nstates; i++) {
    if (i > 0)
      strcat(buf, ">");
    strcat(buf, muster_supervise_state_name(o->states[i]));
  }
  return buf;
}

/* ---- creation and the table's edges ------------------------------------- */

/* The bare row's hooks, for what muster_supervise_create() checks. */
static int plain_start(muster_supervisor_t *sup, int *pid) {
  return MUSTER_ENOSYS;
}

static int plain_signal(muster_supervisor_t *sup, int signo) {
  return MUSTER_ESRCH;
}

TEST(supervise_create_invalid) {
  ASSERT_OK(uv_loop_init(&loop));
  muster_supervisor_t *sup = NULL;
  muster_supervise_options_t opt;
  memset(&opt, 0, sizeof opt);
  opt.start = plain_start;
  opt.signal = plain_signal;

  ASSERT_ERR(muster_supervise_create(NULL, &opt, &sup), MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_create(&loop, NULL, &sup), MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_create(&loop, &opt, NULL), MUSTER_EINVAL);
  opt.start = NULL;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.start = plain_start;
  opt.signal = NULL;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.signal = plain_signal;
  opt.policy.backoff_factor = 0.5;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.policy.backoff_factor = 0;
  opt.policy.backoff_base_ms = 500;
  opt.policy.backoff_max_ms = 100;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.policy.backoff_max_ms = 0;
  opt.policy.crash_limit = MUSTER_SUPERVISE_MAX_CRASH_LIMIT + 1;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.policy.crash_limit = 0;
  opt.policy.stop_signal = 100000;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.policy.stop_signal = 0;
  opt.policy.no_restart_count = MUSTER_SUPERVISE_MAX_EXIT_CODES + 1;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  opt.policy.no_restart_count = 0;
  opt.policy.restart = (muster_restart_t)7;
  ASSERT_ERR(muster_supervise_create(&loop, &opt, &sup), MUSTER_EINVAL);
  ASSERT(sup == NULL);
  /* A bare row has no child of its own. */
  opt.policy.restart = MUSTER_RESTART_ALWAYS;
  ASSERT_OK(muster_supervise_create(&loop, &opt, &sup));
  ASSERT(muster_supervise_child(sup) == NULL);
  ASSERT(muster_supervise_channel(sup) == NULL);
  muster_supervise_close(sup, NULL);
  sup = NULL;

  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_STOPPED),
                "stopped");
  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_STARTING),
                "starting");
  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_ONLINE), "online");
  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_STOPPING),
                "stopping");
  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_BACKOFF),
                "backoff");
  ASSERT_STR_EQ(muster_supervise_state_name(MUSTER_SUPERVISE_ERRORED),
                "errored");
  ASSERT_STR_EQ(muster_supervise_state_name((muster_supervise_state_t)99),
                "unknown");
  ASSERT_STR_EQ(muster_supervise_reason_name(MUSTER_SUPERVISE_CRASH_LOOP),
                "crash loop");

  /* A row that never started: only queries and harmless events. */
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_STOPPED);
  ASSERT_EQ(muster_supervise_pid(o.sup), 0);
  ASSERT_EQ(muster_supervise_uptime(o.sup), 0);
  ASSERT_EQ(muster_supervise_restarts(o.sup), 0);
  ASSERT_EQ(muster_supervise_last_exit(o.sup, NULL, NULL), 0);
  ASSERT_ERR(muster_supervise_exited(o.sup, 0, 0), MUSTER_ESRCH);
  ASSERT_OK(muster_supervise_ready(o.sup));
  ASSERT_OK(muster_supervise_leave(o.sup));
  ASSERT_OK(muster_supervise_stop(o.sup));
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_STOPPED);
  ASSERT_EQ(o.nstates, 0);
  ASSERT(muster_supervise_loop(o.sup) == &loop);
  owner_close(&o);
  ASSERT_ERR(muster_supervise_start(o.sup), MUSTER_ECANCELED);
  run(5000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_EQ(o.starts, 0);
}

TEST(supervise_start_failure) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  static const char *const argv[] = {"/nonexistent/muster-supervise", NULL};
  owner_init(&o, &p, argv);
  ASSERT_ERR(muster_supervise_start(o.sup), MUSTER_ENOENT);
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_ERRORED);
  ASSERT_STR_EQ(state_trail(&o), "errored");
  ASSERT_EQ(o.errors, 1);
  ASSERT_EQ(o.reason, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_ERR(o.err, MUSTER_ENOENT);
  muster_supervise_reason_t reason;
  ASSERT_ERR(muster_supervise_error(o.sup, &reason), MUSTER_ENOENT);
  ASSERT_EQ(reason, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_EQ(muster_supervise_pid(o.sup), 0);
  /* No retry on its own: the owner decides. Starting again fails again and
   * reports again. */
  ASSERT_ERR(muster_supervise_start(o.sup), MUSTER_ENOENT);
  ASSERT_EQ(o.errors, 2);
  ASSERT_EQ(o.starts, 0); /* no process was ever made */
  /* Stop clears the error. */
  ASSERT_OK(muster_supervise_stop(o.sup));
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_STOPPED);
  ASSERT_OK(muster_supervise_error(o.sup, &reason));
  ASSERT_EQ(reason, MUSTER_SUPERVISE_NO_ERROR);
  owner_close(&o);
  run(5000);
  ASSERT_EQ(o.closed, 1);
}

/* ---- restart policy ------------------------------------------------------ */

static void run_exit_case(struct owner *o, muster_restart_t restart,
                          const char *code, int stop_after, const int *codes,
                          size_t ncodes) {
  ASSERT_OK(uv_loop_init(&loop));
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.restart = restart;
  p.backoff_base_ms = 10;
  p.no_restart_codes = codes;
  p.no_restart_count = ncodes;
  owner_init(o, &p, test_fixture_argv("exit_code", code, NULL));
  static int limit;
  limit = stop_after;
  o->arg = &limit;
  o->react = stop_after_starts;
  ASSERT_OK(muster_supervise_start(o->sup));
  ASSERT_ERR(muster_supervise_start(o->sup), MUSTER_EALREADY);
  run(10000);
  ASSERT_EQ(o->closed, 1);
}

TEST(supervise_restart_always) {
  static struct owner o;
  run_exit_case(&o, MUSTER_RESTART_ALWAYS, "0", 3, NULL, 0);
  ASSERT_EQ(o.starts, 3);
  ASSERT_EQ(o.exits, 3);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(o.exit_status[i], 0);
    ASSERT_EQ(o.term_signal[i], 0);
  }
  ASSERT_STR_EQ(state_trail(&o), "online>backoff>online>backoff>online>"
                                 "backoff>stopped");
  /* Restarted twice; the third backoff was cancelled by the stop. */
  ASSERT_EQ(o.fin_restarts, 2);
}

TEST(supervise_restart_on_failure) {
  static struct owner o;
  run_exit_case(&o, MUSTER_RESTART_ON_FAILURE, "3", 2, NULL, 0);
  ASSERT_EQ(o.starts, 2);
  ASSERT_STR_EQ(state_trail(&o), "online>backoff>online>backoff>stopped");

  /* A clean exit is not a failure. */
  static struct owner o2;
  run_exit_case(&o2, MUSTER_RESTART_ON_FAILURE, "0", 99, NULL, 0);
  ASSERT_EQ(o2.starts, 1);
  ASSERT_STR_EQ(state_trail(&o2), "online>stopped");
}

TEST(supervise_restart_never) {
  static struct owner o;
  run_exit_case(&o, MUSTER_RESTART_NEVER, "3", 99, NULL, 0);
  ASSERT_EQ(o.starts, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>stopped");
  ASSERT_EQ(o.fin_has_exit, 1);
  ASSERT_EQ(o.fin_status, 3);
  ASSERT_EQ(o.fin_sig, 0);
}

TEST(supervise_no_restart_codes) {
  static const int codes[] = {7, 42};
  static struct owner o;
  run_exit_case(&o, MUSTER_RESTART_ALWAYS, "42", 99, codes, 2);
  ASSERT_EQ(o.starts, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>stopped");
  ASSERT_EQ(o.errors, 0);
  ASSERT_EQ(o.fin_has_exit, 1);
  ASSERT_EQ(o.fin_status, 42);
  ASSERT_EQ(o.fin_state, MUSTER_SUPERVISE_STOPPED);

  /* Any other code is restarted as usual. */
  static struct owner o2;
  run_exit_case(&o2, MUSTER_RESTART_ALWAYS, "43", 2, codes, 2);
  ASSERT_EQ(o2.starts, 2);
}

/* ---- backoff ------------------------------------------------------------- */

TEST(supervise_backoff_grows) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 20;
  p.backoff_factor = 2;
  p.backoff_max_ms = 160;
  p.min_uptime_ms = 60000; /* no run is stable: the delay only grows */
  p.crash_limit = 100;
  owner_init(&o, &p, test_fixture_argv("exit_code", "1", NULL));
  static int limit = 7;
  o.arg = &limit;
  o.react = stop_after_starts;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(20000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_EQ(o.starts, 7);
  static const uint64_t want[] = {20, 40, 80, 160, 160, 160, 160};
  ASSERT_EQ(o.nbackoffs, 7);
  for (int i = 0; i < 7; i++)
    ASSERT_EQ(o.backoffs[i], want[i]);
  /* The measured gaps between starts are at least the delays (less a ms of
   * clock granularity): the restarts really waited. */
  uint64_t total = 0;
  for (int i = 0; i + 1 < o.starts; i++) {
    uint64_t gap = o.start_at[i + 1] - o.start_at[i];
    ASSERT_GE(gap + 2, want[i]);
    total += gap;
  }
  ASSERT_GE(total + 12, 20 + 40 + 80 + 160 + 160 + 160);
}

/* The flag file of the tests below: while it exists the fixture crashes at
 * once. */
static char flag_path[256];

static void make_flag(void) {
  FILE *f = fopen(flag_path, "w");
  ASSERT(f != NULL);
  fclose(f);
}

static void flag_init(void) {
  snprintf(flag_path, sizeof flag_path, "/tmp/muster-supervise-flag-%d",
           (int)getpid());
  unlink(flag_path);
}

static uv_signal_t ready_sig;
static void ready_init(struct owner *o);

static void backoff_reset_react(struct owner *o, muster_supervise_state_t old,
                                muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_BACKOFF) {
    if (o->nbackoffs == 3)
      ASSERT_OK(unlink(flag_path)); /* the next run lasts */
    if (o->nbackoffs == 4)
      make_flag(); /* and the one after crashes again */
    if (o->nbackoffs == 5)
      ASSERT_OK(muster_supervise_stop(o->sup));
  }
  if (state == MUSTER_SUPERVISE_STOPPED)
    uv_close((uv_handle_t *)&ready_sig, NULL);
  close_when_done(o, old, state);
}

TEST(supervise_backoff_resets) {
  ASSERT_OK(uv_loop_init(&loop));
  flag_init();
  make_flag();
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 20;
  p.backoff_factor = 2;
  p.backoff_max_ms = 1000;
  p.min_uptime_ms = 100;
  p.crash_limit = 100;
  /* Uptime counts from ready, so however slowly a crashing process starts
   * and dies on a loaded machine, it never ran "stable". Without the flag
   * the fixture is ready at once and runs 400 ms. */
  p.flags = MUSTER_SUPERVISE_WAIT_READY;
  owner_init(&o, &p,
             test_fixture_argv("supervise_worker", "--flag", flag_path,
                               "--ready-after", "0", "--after", "400", "--exit",
                               "1", NULL));
  ready_init(&o);
  o.react = backoff_reset_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(20000);
  unlink(flag_path);
  ASSERT_EQ(o.closed, 1);
  ASSERT_EQ(o.starts, 5);
  /* 20, 40, 80 for the quick crashes; the run of 400 ms was stable, so the
   * delay went back to the base, and grows again from there. */
  static const uint64_t want[] = {20, 40, 80, 20, 40};
  ASSERT_EQ(o.nbackoffs, 5);
  for (int i = 0; i < 5; i++)
    ASSERT_EQ(o.backoffs[i], want[i]);
  /* The stable run really lasted. */
  ASSERT_GE(o.start_at[4] - o.start_at[3], 400);
}

/* ---- crash-loop guard ---------------------------------------------------- */

static uv_timer_t e6_timer;

static void e6_timer_cb(uv_timer_t *t) {
  struct owner *o = t->data;
  uv_close((uv_handle_t *)t, NULL);
  /* The app has run fine for longer than PM2's whole "unstable" window
   * (min_uptime * max_restarts); now it starts crashing at once. */
  make_flag();
  ASSERT(o->proc != NULL);
  ASSERT_OK(muster_child_kill(o->proc, SIGKILL));
}

static void e6_react(struct owner *o, muster_supervise_state_t old,
                     muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE && o->starts == 1) {
    ASSERT_OK(uv_timer_init(&loop, &e6_timer));
    e6_timer.data = o;
    ASSERT_OK(uv_timer_start(&e6_timer, e6_timer_cb, 600, 0));
  }
  close_when_done(o, old, state);
}

TEST(supervise_crash_loop_late) {
  ASSERT_OK(uv_loop_init(&loop));
  flag_init();
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 10;
  p.backoff_factor = 2;
  p.backoff_max_ms = 40;
  p.min_uptime_ms = 50;
  p.crash_limit = 5;
  p.crash_window_ms = 10000;
  owner_init(&o, &p,
             test_fixture_argv("supervise_worker", "--flag", flag_path, NULL));
  o.react = e6_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(20000);
  unlink(flag_path);
  ASSERT_EQ(o.closed, 1);
  /* The first process lived 600 ms, then: 5 restarts, all crashing; the
   * sixth crash found 5 restarts inside the window. */
  ASSERT_EQ(o.errors, 1);
  ASSERT_EQ(o.reason, MUSTER_SUPERVISE_CRASH_LOOP);
  ASSERT_EQ(o.err, 0);
  ASSERT_EQ(o.starts, 6);
  ASSERT_EQ(o.exits, 6);
  ASSERT_EQ(o.fin_restarts, 5);
  ASSERT_EQ(o.term_signal[0], SIGKILL);
  for (int i = 1; i < 6; i++)
    ASSERT_EQ(o.exit_status[i], 1);
  ASSERT_GE(o.start_at[1] - o.start_at[0] + 2, 600);
  ASSERT_EQ(o.states[o.nstates - 1], MUSTER_SUPERVISE_ERRORED);
  ASSERT_EQ(o.nbackoffs, 5);
  ASSERT_EQ(o.fin_state, MUSTER_SUPERVISE_ERRORED);
  ASSERT_EQ(o.fin_pid, 0);
}

/* ---- readiness ----------------------------------------------------------- */

/* A "ready" that arrives after the deadline changes nothing. */
static void late_ready_react(struct owner *o, muster_supervise_state_t old,
                             muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_STOPPING || state == MUSTER_SUPERVISE_ERRORED)
    ASSERT_OK(muster_supervise_ready(o->sup));
  ASSERT_EQ(muster_supervise_state(o->sup), state);
  close_when_done(o, old, state);
}

TEST(supervise_ready_timeout) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.flags = MUSTER_SUPERVISE_WAIT_READY;
  p.ready_timeout_ms = 150;
  p.kill_timeout_ms = 2000;
  /* Runs, but never says it is ready. */
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  o.react = late_ready_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_STARTING);
  ASSERT(muster_supervise_pid(o.sup) > 0);
  run(10000);
  ASSERT_EQ(o.closed, 1);
  /* Never "ready anyway": stopped with the stop signal, then errored. */
  ASSERT_STR_EQ(state_trail(&o), "starting>stopping>errored");
  ASSERT_GE(o.state_at[1] - o.start_at[0] + 2, 150);
  ASSERT_EQ(o.errors, 1);
  ASSERT_EQ(o.reason, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_ERR(o.err, MUSTER_ETIMEDOUT);
  ASSERT_EQ(o.hooks, 1);
  ASSERT_EQ(o.hook_sig[0], SIGTERM);
  ASSERT_EQ(o.term_signal[0], SIGTERM);
  ASSERT_EQ(o.starts, 1);
}

static struct owner *ready_owner;

static void ready_sig_cb(uv_signal_t *h, int signo) {
  (void)h;
  (void)signo;
  ASSERT_OK(muster_supervise_ready(ready_owner->sup));
}

static void ready_init(struct owner *o) {
  ready_owner = o;
  ASSERT_OK(uv_signal_init(&loop, &ready_sig));
  ASSERT_OK(uv_signal_start(&ready_sig, ready_sig_cb, SIGUSR2));
}

static void ready_online_react(struct owner *o, muster_supervise_state_t old,
                               muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE) {
    ASSERT_OK(muster_supervise_ready(o->sup)); /* a repeat is harmless */
    ASSERT_OK(muster_supervise_stop(o->sup));
  }
  if (state == MUSTER_SUPERVISE_STOPPED)
    uv_close((uv_handle_t *)&ready_sig, NULL);
  close_when_done(o, old, state);
}

TEST(supervise_ready_online) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.flags = MUSTER_SUPERVISE_WAIT_READY;
  p.ready_timeout_ms = 10000;
  owner_init(
      &o, &p,
      test_fixture_argv("supervise_worker", "--ready-after", "100", NULL));
  ready_init(&o);
  o.react = ready_online_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  ASSERT_EQ(muster_supervise_state(o.sup), MUSTER_SUPERVISE_STARTING);
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "starting>online>stopping>stopped");
  ASSERT_GE(o.state_at[1] - o.start_at[0], 100);
  ASSERT_EQ(o.errors, 0);
  ASSERT_EQ(o.term_signal[0], SIGTERM);
}

/* ---- stopping ------------------------------------------------------------ */

static void stop_when_online(struct owner *o, muster_supervise_state_t old,
                             muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE)
    ASSERT_OK(muster_supervise_stop(o->sup));
  if (state == MUSTER_SUPERVISE_STOPPED && ready_owner == o)
    uv_close((uv_handle_t *)&ready_sig, NULL);
  close_when_done(o, old, state);
}

/* A process that ignores the graceful request and SIGTERM. */
TEST(supervise_stop_escalation) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.flags = MUSTER_SUPERVISE_WAIT_READY; /* its handlers are set up */
  p.kill_timeout_ms = 100;
  owner_init_graceful(&o, &p,
                      test_fixture_argv("supervise_worker", "--usr1", "ignore",
                                        "--ignore-term", "--ready-after", "0",
                                        NULL),
                      SIGUSR1);
  ready_init(&o);
  o.react = stop_when_online;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "starting>online>stopping>stopped");
  /* graceful, wait T, SIGTERM, wait 2T, SIGKILL. */
  ASSERT_EQ(o.hooks, 3);
  ASSERT_EQ(o.hook_sig[0], 'G');
  ASSERT_EQ(o.hook_sig[1], SIGTERM);
  ASSERT_EQ(o.hook_sig[2], SIGKILL);
  ASSERT_GE(o.hook_at[1] - o.hook_at[0] + 2, 100);
  ASSERT_GE(o.hook_at[2] - o.hook_at[1] + 2, 200);
  ASSERT_EQ(o.exits, 1);
  ASSERT_EQ(o.term_signal[0], SIGKILL);
  ASSERT_EQ(o.starts, 1);
}

/* A process that leaves when asked: no signal at all. */
TEST(supervise_stop_graceful) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.flags = MUSTER_SUPERVISE_WAIT_READY;
  p.kill_timeout_ms = 5000;
  owner_init_graceful(&o, &p,
                      test_fixture_argv("supervise_worker", "--usr1", "exit",
                                        "--ready-after", "0", NULL),
                      SIGUSR1);
  ready_init(&o);
  o.react = stop_when_online;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "starting>online>stopping>stopped");
  ASSERT_EQ(o.hooks, 1);
  ASSERT_EQ(o.hook_sig[0], 'G');
  ASSERT_EQ(o.exit_status[0], 0);
  ASSERT_EQ(o.term_signal[0], 0);
}

/* No graceful hook: the configured stop signal, and no SIGKILL needed. */
TEST(supervise_stop_signal) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.stop_signal = SIGINT;
  p.kill_timeout_ms = 5000;
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  o.react = stop_when_online;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>stopping>stopped");
  ASSERT_EQ(o.hooks, 1);
  ASSERT_EQ(o.hook_sig[0], SIGINT);
  ASSERT_EQ(o.term_signal[0], SIGINT);
  ASSERT_EQ(o.starts, 1);
}

static void cancel_react(struct owner *o, muster_supervise_state_t old,
                         muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_BACKOFF) {
    ASSERT_EQ(muster_supervise_backoff_ms(o->sup), 10000);
    ASSERT_OK(muster_supervise_stop(o->sup));
    ASSERT_EQ(muster_supervise_backoff_ms(o->sup), 0);
  }
  close_when_done(o, old, state);
}

TEST(supervise_stop_cancels_backoff) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.backoff_base_ms = 10000;
  owner_init(&o, &p, test_fixture_argv("exit_code", "1", NULL));
  o.react = cancel_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  /* Well under the 10 s delay: a restart timer left armed would keep the
   * loop alive past the watchdog. */
  uint64_t t0 = test_now_ms();
  run(5000);
  ASSERT(test_now_ms() - t0 < 5000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>backoff>stopped");
  ASSERT_EQ(o.starts, 1);
}

/* restart = stop, then start once the first process is gone. */
static void restart_react(struct owner *o, muster_supervise_state_t old,
                          muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE && o->starts == 1)
    ASSERT_OK(muster_supervise_restart(o->sup));
  else if (state == MUSTER_SUPERVISE_ONLINE)
    ASSERT_OK(muster_supervise_stop(o->sup));
  close_when_done(o, old, state);
}

TEST(supervise_restart_command) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  o.react = restart_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>stopping>online>stopping>stopped");
  ASSERT_EQ(o.starts, 2);
  ASSERT_EQ(o.exits, 2);
  ASSERT_EQ(o.fin_restarts, 1);
  ASSERT_EQ(o.term_signal[0], SIGTERM);
}

/* Events during STOPPING: a start waits for the exit; a stop cancels it. */
static void queue_react(struct owner *o, muster_supervise_state_t old,
                        muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE && o->starts == 1) {
    ASSERT_OK(muster_supervise_stop(o->sup));
    ASSERT_OK(muster_supervise_start(o->sup)); /* queued */
    ASSERT_EQ(muster_supervise_state(o->sup), MUSTER_SUPERVISE_STOPPING);
    ASSERT_EQ(o->starts, 1);
  } else if (state == MUSTER_SUPERVISE_ONLINE && o->starts == 2) {
    ASSERT_OK(muster_supervise_restart(o->sup));
    ASSERT_OK(muster_supervise_stop(o->sup)); /* cancels the start */
  }
  close_when_done(o, old, state);
}

TEST(supervise_stopping_queue) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  o.react = queue_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_STR_EQ(state_trail(&o), "online>stopping>online>stopping>stopped");
  ASSERT_EQ(o.starts, 2);
  ASSERT_EQ(o.exits, 2);
}

/* ---- leaving, and a replacement on a second row ------------------------- */

static struct owner leave_old, leave_new;

static void leave_new_react(struct owner *o, muster_supervise_state_t old,
                            muster_supervise_state_t state) {
  /* The replacement is online while the old one still drains. */
  if (state == MUSTER_SUPERVISE_ONLINE) {
    ASSERT_EQ(muster_supervise_state(leave_old.sup), MUSTER_SUPERVISE_STOPPING);
    ASSERT(muster_supervise_pid(leave_old.sup) > 0);
  }
  close_when_done(o, old, state);
}

static void leave_old_react(struct owner *o, muster_supervise_state_t old,
                            muster_supervise_state_t state) {
  if (state == MUSTER_SUPERVISE_ONLINE) {
    /* The worker said it is about to leave: fork its replacement at once. */
    ASSERT_OK(muster_supervise_leave(o->sup));
    ASSERT_OK(muster_supervise_leave(o->sup)); /* ignored */
    muster_supervise_policy_t p;
    memset(&p, 0, sizeof p);
    owner_init(&leave_new, &p, test_fixture_argv("supervise_worker", NULL));
    leave_new.react = leave_new_react;
    ASSERT_OK(muster_supervise_start(leave_new.sup));
  }
  if (state == MUSTER_SUPERVISE_STOPPED) {
    ASSERT_EQ(muster_supervise_state(leave_new.sup), MUSTER_SUPERVISE_ONLINE);
    ASSERT_OK(muster_supervise_stop(leave_new.sup));
  }
  close_when_done(o, old, state);
}

TEST(supervise_leave) {
  ASSERT_OK(uv_loop_init(&loop));
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  p.kill_timeout_ms = 5000;
  /* Drains for 200 ms, then exits 1: not a crash, not restarted. */
  owner_init(&leave_old, &p,
             test_fixture_argv("supervise_worker", "--after", "200", "--exit",
                               "1", NULL));
  leave_old.react = leave_old_react;
  ASSERT_OK(muster_supervise_start(leave_old.sup));
  run(10000);
  ASSERT_EQ(leave_old.closed, 1);
  ASSERT_EQ(leave_new.closed, 1);
  ASSERT_STR_EQ(state_trail(&leave_old), "online>stopping>stopped");
  ASSERT_EQ(leave_old.starts, 1);
  ASSERT_EQ(leave_old.hooks, 0); /* no graceful, no signal: it left */
  ASSERT_EQ(leave_old.exit_status[0], 1);
  ASSERT_EQ(leave_old.errors, 0);
  ASSERT_STR_EQ(state_trail(&leave_new), "online>stopping>stopped");
}

/* ---- close -----------------------------------------------------------------
 */

/* Keeps the loop running until the closed row's process was reaped (its
 * unreferenced exit watcher alone would not). */
static uv_timer_t reap_timer;
static int reap_pid;

static void reap_watch(uv_timer_t *t) {
  if (kill(reap_pid, 0) != 0)
    uv_close((uv_handle_t *)t, NULL);
}

static void close_online_react(struct owner *o, muster_supervise_state_t old,
                               muster_supervise_state_t state) {
  (void)old;
  if (state == MUSTER_SUPERVISE_ONLINE) {
    int pid = muster_supervise_pid(o->sup);
    ASSERT(pid > 0);
    ASSERT(muster_supervise_child(o->sup) == o->proc);
    owner_close(o);
    /* The process outlives the row: end it. It is still reaped (the
     * runner fails a test that leaves a child), silently. */
    ASSERT_OK(kill(pid, SIGKILL));
    reap_pid = pid;
    ASSERT_OK(uv_timer_init(&loop, &reap_timer));
    ASSERT_OK(uv_timer_start(&reap_timer, reap_watch, 10, 10));
  }
}

static void close_backoff_react(struct owner *o, muster_supervise_state_t old,
                                muster_supervise_state_t state) {
  (void)old;
  if (state == MUSTER_SUPERVISE_BACKOFF)
    owner_close(o);
}

TEST(supervise_close_running) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct owner o;
  muster_supervise_policy_t p;
  memset(&p, 0, sizeof p);
  owner_init(&o, &p, test_fixture_argv("supervise_worker", NULL));
  o.react = close_online_react;
  ASSERT_OK(muster_supervise_start(o.sup));
  run(10000);
  ASSERT_EQ(o.closed, 1);
  ASSERT_EQ(o.exits, 0); /* nothing is reported after the close */
  ASSERT_STR_EQ(state_trail(&o), "online");

  /* Closed while a restart is pending: the timer goes with it. */
  static struct owner o2;
  ASSERT_OK(uv_loop_init(&loop));
  p.backoff_base_ms = 10000;
  owner_init(&o2, &p, test_fixture_argv("exit_code", "1", NULL));
  o2.react = close_backoff_react;
  ASSERT_OK(muster_supervise_start(o2.sup));
  run(5000);
  ASSERT_EQ(o2.closed, 1);
  ASSERT_EQ(o2.starts, 1);
  ASSERT_STR_EQ(state_trail(&o2), "online>backoff");
}
