/* The supervised child (muster_supervise_child_create): the supervisor
 * spawns or forks its process itself, hands its stdio and channel to the
 * owner, and with a process group treats the whole group as the process.
 * The restart policy itself is tested in test-supervise.c, whose owner is
 * a supervised child too. */
#include "test-child.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

/* Far below the 60 s the orphans of a broken stop would live. */
#define GONE_MS 10000

static uv_loop_t loop;
/* 1: the row is closed at the end of stdout, not when it stops. */
static int close_on_eof;

struct row {
  muster_supervisor_t *sup;
  char trail[512];
  char out[4096];
  size_t out_len;
  int children, exits, signals, closed;
  int sig[16];
  muster_child_t *child;
  muster_channel_t *channel;
  int64_t exit_status;
  int term_signal;
  int grandchild; /* pid the app printed */
  uint64_t stop_at, stopped_at;
  int grandchild_gone_at_stop;
  int echoed;
};

static void on_child(muster_supervisor_t *sup, muster_child_t *child,
                     muster_channel_t *channel) {
  struct row *r = muster_supervise_data(sup);
  r->children++;
  r->child = child;
  r->channel = channel;
  /* Inside the start: the row takes no event. */
  ASSERT_ERR(muster_supervise_stop(sup), MUSTER_EBUSY);
}

static void on_exit_row(muster_supervisor_t *sup, muster_child_t *child,
                        int64_t status, int sig) {
  struct row *r = muster_supervise_data(sup);
  ASSERT(child == r->child);
  r->exits++;
  r->exit_status = status;
  r->term_signal = sig;
}

static void on_signal(muster_supervisor_t *sup, int signo) {
  struct row *r = muster_supervise_data(sup);
  ASSERT(r->signals < 16);
  r->sig[r->signals++] = signo;
}

static void row_closed(muster_supervisor_t *sup) {
  struct row *r = muster_supervise_data(sup);
  r->closed = 1;
}

static void on_state(muster_supervisor_t *sup, muster_supervise_state_t old,
                     muster_supervise_state_t state) {
  struct row *r = muster_supervise_data(sup);
  size_t n = strlen(r->trail);
  snprintf(r->trail + n, sizeof r->trail - n, "%s%s", n ? ">" : "",
           muster_supervise_state_name(state));
  if (state == MUSTER_SUPERVISE_ONLINE) {
    ASSERT(muster_supervise_child(sup) == r->child);
    ASSERT(muster_supervise_channel(sup) == r->channel);
  }
  if (state == MUSTER_SUPERVISE_STOPPED || state == MUSTER_SUPERVISE_ERRORED) {
    ASSERT(muster_supervise_child(sup) == NULL);
    r->stopped_at = test_now_ms();
    if (r->grandchild > 0)
      r->grandchild_gone_at_stop =
          kill(r->grandchild, 0) != 0 && errno == ESRCH;
    if (!close_on_eof)
      muster_supervise_close(sup, row_closed);
  }
}

/* Collects stdout; a first line holding a number is the grandchild's pid,
 * and the row is then stopped when `stop_on_pid`. */
static int stop_on_pid;

static void on_data(muster_supervisor_t *sup, muster_child_t *child, int slot,
                    const char *buf, size_t len) {
  struct row *r = muster_supervise_data(sup);
  if (slot == 1 && buf == NULL && close_on_eof)
    muster_supervise_close(sup, row_closed);
  if (slot != 1 || buf == NULL)
    return;
  ASSERT(r->out_len + len < sizeof r->out);
  memcpy(r->out + r->out_len, buf, len);
  r->out_len += len;
  r->out[r->out_len] = '\0';
  if (r->grandchild == 0 && strchr(r->out, '\n') != NULL) {
    r->grandchild = atoi(r->out);
    if (stop_on_pid) {
      r->stop_at = test_now_ms();
      ASSERT_OK(muster_supervise_stop(sup));
    }
  }
}

static void options(muster_supervise_child_options_t *o, struct row *r) {
  memset(o, 0, sizeof *o);
  memset(r, 0, sizeof *r);
  o->on_child = on_child;
  o->on_exit = on_exit_row;
  o->on_signal = on_signal;
  o->on_data = on_data;
  o->on_state = on_state;
  o->data = r;
}

static void run_row(struct row *r, const char *file, const char *const *argv,
                    const muster_supervise_child_options_t *o) {
  ASSERT_OK(muster_supervise_child_create(&loop, file, argv, o, &r->sup));
  ASSERT_OK(muster_supervise_start(r->sup));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r->closed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- spawn: stdio to the owner, the policy applies ---------------------- */

TEST(supervise_child_spawn) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.policy.restart = MUSTER_RESTART_ON_FAILURE;
  const char *const *argv =
      test_fixture_argv("child_out", "hello", "", "0", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_STR_EQ(r.trail, "online>stopped");
  ASSERT_STR_EQ(r.out, "hello");
  ASSERT_EQ(r.children, 1);
  ASSERT_EQ(r.exits, 1);
  ASSERT_EQ(r.exit_status, 0);
  ASSERT_EQ(r.signals, 0);
}

/* on_alloc reaches the owner with its row: stdout is read into a room of
 * the owner's, 2 bytes at a time. */
static char sup_room[2];
static int sup_allocs;

static void sup_alloc(muster_supervisor_t *sup, muster_child_t *child,
                      int slot, size_t suggested, char **buf, size_t *len) {
  struct row *r = muster_supervise_data(sup);
  ASSERT(child == r->child);
  ASSERT(suggested > 0);
  if (slot != 1)
    return;
  sup_allocs++;
  *buf = sup_room;
  *len = sizeof sup_room;
}

static int sup_outside;

static void sup_alloc_data(muster_supervisor_t *sup, muster_child_t *child,
                           int slot, const char *buf, size_t len) {
  if (slot == 1 && buf != NULL && (buf != sup_room || len > sizeof sup_room))
    sup_outside++;
  on_data(sup, child, slot, buf, len);
}

TEST(supervise_child_alloc) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_alloc = sup_alloc;
  o.on_data = sup_alloc_data;
  o.policy.restart = MUSTER_RESTART_ON_FAILURE;
  const char *const *argv =
      test_fixture_argv("child_out", "hello", "", "0", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_STR_EQ(r.out, "hello");
  ASSERT_EQ(sup_outside, 0); /* every byte came in the owner's room */
  ASSERT(sup_allocs >= 3); /* "he" "ll" "o", then end of file */
}

static const int stop_codes[] = {7};

TEST(supervise_child_policy) {
  /* Exit 1 restarts, up to the crash-loop guard; the reason is readable. */
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.policy.backoff_base_ms = 10;
  o.policy.crash_limit = 2;
  const char *const *argv = test_fixture_argv("exit_code", "1", NULL);
  ASSERT_OK(muster_supervise_child_create(&loop, argv[0], argv, &o, &r.sup));
  ASSERT_OK(muster_supervise_start(r.sup));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r.closed, 1);
  ASSERT_STR_EQ(r.trail, "online>backoff>online>backoff>online>errored");
  ASSERT_EQ(r.children, 3);
  ASSERT_OK(uv_loop_close(&loop));

  /* An exit code listed as "stop" is never restarted. */
  ASSERT_OK(uv_loop_init(&loop));
  options(&o, &r);
  o.policy.backoff_base_ms = 10;
  o.policy.no_restart_codes = stop_codes;
  o.policy.no_restart_count = 1;
  argv = test_fixture_argv("exit_code", "7", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_STR_EQ(r.trail, "online>stopped");
  ASSERT_EQ(r.exit_status, 7);
}

static int reason_seen = -1, err_seen;

static void errored(muster_supervisor_t *sup, muster_supervise_reason_t reason,
                    int err) {
  reason_seen = (int)reason;
  err_seen = err;
  muster_supervise_reason_t again;
  ASSERT_ERR(muster_supervise_error(sup, &again), err);
  ASSERT_EQ(again, reason);
}

TEST(supervise_child_crash_reason) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_error = errored;
  o.policy.backoff_base_ms = 10;
  o.policy.crash_limit = 1;
  const char *const *argv = test_fixture_argv("exit_code", "1", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_EQ(reason_seen, MUSTER_SUPERVISE_CRASH_LOOP);
  ASSERT_EQ(err_seen, 0);
  ASSERT_STR_EQ(muster_supervise_reason_name(MUSTER_SUPERVISE_CRASH_LOOP),
                "crash loop");

  /* A spawn error: ERRORED at once, START_FAILED with the error. */
  ASSERT_OK(uv_loop_init(&loop));
  options(&o, &r);
  o.on_error = errored;
  static const char *const missing[] = {"/nonexistent/app", NULL};
  ASSERT_OK(
      muster_supervise_child_create(&loop, missing[0], missing, &o, &r.sup));
  ASSERT_ERR(muster_supervise_start(r.sup), MUSTER_ENOENT);
  ASSERT_EQ(reason_seen, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_ERR(err_seen, MUSTER_ENOENT);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r.closed, 1);
  ASSERT_EQ(r.children, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(supervise_child_invalid) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  muster_supervisor_t *sup = NULL;
  const char *const argv[] = {"sh", NULL};
  const char *const empty[] = {NULL};
  ASSERT_ERR(muster_supervise_child_create(NULL, "sh", argv, &o, &sup),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_child_create(&loop, NULL, argv, &o, &sup),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_child_create(&loop, "", argv, &o, &sup),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_child_create(&loop, "sh", empty, &o, &sup),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_child_create(&loop, "sh", argv, NULL, &sup),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_supervise_child_create(&loop, "sh", argv, &o, NULL),
             MUSTER_EINVAL);
  o.process.spawn.stdio_count = MUSTER_STDIO_MAX + 1;
  ASSERT_ERR(muster_supervise_child_create(&loop, "sh", argv, &o, &sup),
             MUSTER_EINVAL);
  o.process.spawn.stdio_count = 0;
  o.policy.backoff_factor = 0.5;
  ASSERT_ERR(muster_supervise_child_create(&loop, "sh", argv, &o, &sup),
             MUSTER_EINVAL);
  ASSERT(sup == NULL);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- options are copied ------------------------------------------------- */

TEST(supervise_child_copies_options) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.policy.restart = MUSTER_RESTART_NEVER;
  char script[64], var[64];
  snprintf(script, sizeof script, "echo $SUP_VAR; pwd");
  snprintf(var, sizeof var, "SUP_VAR=copied");
  const char *env[] = {var, NULL};
  char cwd[] = "/tmp";
  o.process.spawn.env = env;
  o.process.spawn.cwd = cwd;
  o.process.spawn.flags = MUSTER_SPAWN_SHELL;
  ASSERT_OK(muster_supervise_child_create(&loop, script, NULL, &o, &r.sup));
  /* The caller's buffers change; the row keeps what it was given. */
  memset(script, 0, sizeof script);
  memset(var, 0, sizeof var);
  memset(cwd, 0, sizeof cwd);
  ASSERT_OK(muster_supervise_start(r.sup));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r.closed, 1);
  ASSERT_STR_EQ(r.out, "copied\n/tmp\n");
  ASSERT_OK(uv_loop_close(&loop));
}

/* The list of groups is copied too (a buffer of the caller's, reused). */
TEST(supervise_child_copies_groups) {
  static struct row r;
  gid_t groups[2] = {7, 100};
  muster_supervise_child_options_t o;
  muster_supervisor_t *sup = NULL;
  if (geteuid() != 0)
    TEST_SKIP("setting groups needs root");
  ASSERT_OK(uv_loop_init(&loop));
  options(&o, &r);
  o.policy.restart = MUSTER_RESTART_NEVER;
  o.process.spawn.flags = MUSTER_SPAWN_SETGROUPS;
  o.process.spawn.ngroups = 2;
  const char *const *argv = test_fixture_argv("child_creds", NULL);
  ASSERT_ERR(muster_supervise_child_create(&loop, argv[0], argv, &o, &sup),
             MUSTER_EINVAL); /* groups NULL */
  ASSERT(sup == NULL);
  o.process.spawn.groups = groups;
  ASSERT_OK(muster_supervise_child_create(&loop, argv[0], argv, &o, &r.sup));
  groups[0] = groups[1] = 0;
  ASSERT_OK(muster_supervise_start(r.sup));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(r.closed, 1);
  if (!test_contains(r.out, "Groups:\t7 100 \n"))
    TEST_FAIL("child says:\n%s", r.out);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- fork: the channel is the owner's ----------------------------------- */

static void echoed(muster_channel_t *ch, muster_message_t *msg) {
  struct row *r = muster_channel_data(ch);
  r->echoed++;
  ASSERT_OK(muster_supervise_stop(r->sup));
}

static void fork_child(muster_supervisor_t *sup, muster_child_t *child,
                       muster_channel_t *channel) {
  on_child(sup, child, channel);
  ASSERT(channel != NULL);
  ASSERT(muster_channel_send_text(channel, "{\"hi\":1}", 8, -1, NULL, NULL,
                                  NULL) >= 0);
}

TEST(supervise_child_fork) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.fork = 1;
  o.on_child = fork_child;
  o.process.channel.on_message = echoed;
  o.process.channel.data = &r;
  const char *const *argv = test_fixture_argv("channel_echo", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_EQ(r.echoed, 1);
  ASSERT_STR_EQ(r.trail, "online>stopping>stopped");
  ASSERT_EQ(r.term_signal, SIGTERM);
}

/* ---- a process group ---------------------------------------------------- */

/* The app: a grandchild that ignores SIGTERM (its pid printed first, once
 * its trap is set: the leader waits for it on a fifo), and the leader,
 * which does not ignore it. */
#define APP_START                                                              \
  "f=$(mktemp -u); mkfifo $f; (trap '' TERM; echo >$f; exec sleep 60) & "      \
  "read x <$f; rm $f; echo $!; "
#define APP APP_START "exec sleep 60"

TEST_T(supervise_child_group_stop, 60) {
  test_subreaper_begin(); /* what escapes the group is ours to count */
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.process.spawn.flags = MUSTER_SPAWN_SHELL | MUSTER_SPAWN_PROCESS_GROUP;
  o.policy.kill_timeout_ms = 300;
  stop_on_pid = 1;
  run_row(&r, APP, NULL, &o);
  stop_on_pid = 0;
  ASSERT_STR_EQ(r.trail, "online>stopping>stopped");
  ASSERT(r.grandchild > 0);
  /* STOPPED came only once the grandchild was dead too: after the
   * SIGTERM it ignored, the kill timeout and SIGKILL. */
  ASSERT_EQ(r.grandchild_gone_at_stop, 1);
  ASSERT_GE(r.stopped_at - r.stop_at + 2, 300);
  ASSERT_EQ(r.signals, 2);
  ASSERT_EQ(r.sig[0], SIGTERM);
  ASSERT_EQ(r.sig[1], SIGKILL);
  ASSERT_EQ(r.term_signal, SIGTERM); /* the leader's own end */
  ASSERT_EQ(test_descendants_end(GONE_MS), 0);
}

TEST_T(supervise_child_group_leader_exits, 60) {
  /* The leader exits by itself and leaves its grandchild: the exit is
   * reported once the group is gone (stop_signal, ignored; SIGKILL). */
  test_subreaper_begin();
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.process.spawn.flags = MUSTER_SPAWN_SHELL | MUSTER_SPAWN_PROCESS_GROUP;
  o.policy.restart = MUSTER_RESTART_NEVER;
  o.policy.kill_timeout_ms = 300;
  run_row(&r, APP_START "exit 5", NULL, &o);
  ASSERT_STR_EQ(r.trail, "online>stopped");
  ASSERT_EQ(r.exit_status, 5);
  ASSERT(r.grandchild > 0);
  ASSERT_EQ(r.grandchild_gone_at_stop, 1);
  ASSERT_EQ(r.signals, 2);
  ASSERT_EQ(r.sig[0], SIGTERM);
  ASSERT_EQ(r.sig[1], SIGKILL);
  ASSERT_EQ(test_descendants_end(GONE_MS), 0);
}

TEST_T(supervise_child_no_group_orphans, 60) {
  /* Without a group, the same stop reaches the leader only: STOPPED comes
   * while the grandchild still runs (what the group option is for). */
  test_subreaper_begin();
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.process.spawn.flags = MUSTER_SPAWN_SHELL;
  o.process.spawn.stdio_count = 3;
  static const muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, 0},
                                          {MUSTER_STDIO_PIPE, 0},
                                          {MUSTER_STDIO_IGNORE, 0}};
  o.process.spawn.stdio = stdio;
  o.policy.kill_timeout_ms = 300;
  stop_on_pid = 1;
  /* The grandchild's stdout is /dev/null, so the pipe ends with the
   * leader. */
  run_row(&r,
          "(trap '' TERM; exec sleep 60 >/dev/null) & echo $!; "
          "exec sleep 60",
          NULL, &o);
  stop_on_pid = 0;
  ASSERT_STR_EQ(r.trail, "online>stopping>stopped");
  ASSERT_EQ(r.grandchild_gone_at_stop, 0);
  ASSERT_EQ(test_descendants_end(0), 1); /* killed and reaped by it */
}

/* ---- the owner pauses a supervised child's output ----------------------- */

static void pause_child(muster_supervisor_t *sup, muster_child_t *child,
                        muster_channel_t *channel) {
  on_child(sup, child, channel);
  ASSERT_OK(muster_child_read_stop(child, 1));
}

static void resume_on_exit(muster_supervisor_t *sup, muster_child_t *child,
                           int64_t status, int sig) {
  struct row *r = muster_supervise_data(sup);
  on_exit_row(sup, child, status, sig);
  ASSERT_EQ(r->out_len, 0); /* paused: nothing read */
  ASSERT_OK(muster_child_read_start(child, 1));
}

TEST(supervise_child_pause) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_child = pause_child;
  o.on_exit = resume_on_exit;
  o.policy.restart = MUSTER_RESTART_NEVER;
  const char *const *argv =
      test_fixture_argv("child_out", "late", "", "0", NULL);
  close_on_eof = 1;
  run_row(&r, argv[0], argv, &o);
  close_on_eof = 0;
  ASSERT_EQ(r.exits, 1);
  ASSERT_STR_EQ(r.trail, "online>stopped");
  ASSERT_STR_EQ(r.out, "late"); /* resumed: nothing lost */
}

/* ---- on_prepare: what each start runs ----------------------------------- */

static char attempt_var[32];
static const char *attempt_env[3];
static int prepares;

static int prepare_attempt(muster_supervisor_t *sup,
                           muster_supervise_run_t *run) {
  ASSERT_ERR(muster_supervise_stop(sup), MUSTER_EBUSY); /* inside the start */
  if (++prepares == 3)
    return MUSTER_ECANCELED; /* the third start fails with it */
  snprintf(attempt_var, sizeof attempt_var, "ATTEMPT=%d", prepares);
  attempt_env[0] = run->process.spawn.env[0]; /* the create's copy */
  attempt_env[1] = attempt_var;
  attempt_env[2] = NULL;
  run->process.spawn.env = attempt_env;
  return 0;
}

TEST(supervise_child_prepare) {
  /* Each start gets its own environment; an error fails the start. */
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_prepare = prepare_attempt;
  o.on_error = errored;
  o.policy.backoff_base_ms = 10;
  static const char *const env[] = {"BASE=b", NULL};
  o.process.spawn.env = env;
  o.process.spawn.flags = MUSTER_SPAWN_SHELL;
  run_row(&r, "echo $BASE$ATTEMPT; exit 1", NULL, &o);
  ASSERT_STR_EQ(r.out, "b1\nb2\n");
  ASSERT_EQ(r.children, 2);
  ASSERT_EQ(prepares, 3);
  ASSERT_EQ(reason_seen, MUSTER_SUPERVISE_START_FAILED);
  ASSERT_ERR(err_seen, MUSTER_ECANCELED);
  ASSERT_STR_EQ(r.trail, "online>backoff>online>backoff>errored");
}

static const char *const *other_argv;

static int prepare_other(muster_supervisor_t *sup,
                         muster_supervise_run_t *run) {
  (void)sup;
  run->file = other_argv[0];
  run->argv = other_argv;
  return 0;
}

TEST(supervise_child_prepare_program) {
  /* The program itself may change from one start to the next. */
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_prepare = prepare_other;
  o.policy.restart = MUSTER_RESTART_NEVER;
  other_argv = test_fixture_argv("child_out", "other", "", "0", NULL);
  static const char *const missing[] = {"/nonexistent/app", NULL};
  run_row(&r, missing[0], missing, &o);
  ASSERT_STR_EQ(r.out, "other");
  ASSERT_STR_EQ(r.trail, "online>stopped");
}

/* ---- close_wait_ms: the exit after the pipes and the channel ------------ */

#define CLOSE_WAIT_MESSAGES 20000
static int got_messages, got_disconnect;
static uint64_t started_at, exit_at;

static void count_message(muster_channel_t *ch, muster_message_t *m) {
  (void)ch;
  (void)m;
  got_messages++;
}

static void count_disconnect(muster_channel_t *ch, int reason) {
  (void)ch;
  (void)reason;
  got_disconnect++;
}

static void exit_after_close(muster_supervisor_t *sup, muster_child_t *child,
                             int64_t status, int sig) {
  on_exit_row(sup, child, status, sig);
  exit_at = test_now_ms();
  /* Everything it sent came first, and the channel's end. */
  ASSERT_EQ(got_messages, CLOSE_WAIT_MESSAGES);
  ASSERT_EQ(got_disconnect, 1);
}

TEST(supervise_child_close_wait) {
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.fork = 1;
  o.close_wait_ms = 20000;
  o.on_exit = exit_after_close;
  o.process.channel.on_message = count_message;
  o.process.channel.on_disconnect = count_disconnect;
  o.policy.restart = MUSTER_RESTART_NEVER;
  char n[16];
  snprintf(n, sizeof n, "%d", CLOSE_WAIT_MESSAGES);
  const char *const *argv = test_fixture_argv("channel_send_n", n, NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_EQ(r.exits, 1);
  ASSERT_EQ(r.exit_status, 0);
  ASSERT_STR_EQ(r.trail, "online>stopped");
}

static void exit_held_open(muster_supervisor_t *sup, muster_child_t *child,
                           int64_t status, int sig) {
  on_exit_row(sup, child, status, sig);
  exit_at = test_now_ms();
  ASSERT_EQ(got_disconnect, 0); /* the grandchild still holds it */
}

TEST_T(supervise_child_close_wait_deadline, 60) {
  /* A grandchild keeps the channel open: the exit is reported anyway,
   * close_wait_ms after it. */
  test_subreaper_begin();
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.fork = 1;
  o.close_wait_ms = 300;
  o.on_exit = exit_held_open;
  o.process.channel.on_disconnect = count_disconnect;
  o.process.spawn.flags = MUSTER_SPAWN_SHELL;
  o.policy.restart = MUSTER_RESTART_NEVER;
  started_at = test_now_ms();
  run_row(&r, "(exec sleep 60) & exit 3", NULL, &o);
  ASSERT_EQ(r.exits, 1);
  ASSERT_EQ(r.exit_status, 3);
  ASSERT_STR_EQ(r.trail, "online>stopped");
  ASSERT_GE(exit_at - started_at, 300);
  ASSERT_EQ(test_descendants_end(0), 1); /* the sleep, killed */
}

/* ---- on_exited: after the row was told ---------------------------------- */

static int exiteds;

static void after_exit(muster_supervisor_t *sup, muster_child_t *child,
                       int64_t status, int sig) {
  struct row *r = muster_supervise_data(sup);
  ASSERT(child == r->child);
  ASSERT_EQ(status, 1);
  ASSERT_EQ(sig, 0);
  ASSERT_EQ(r->exits, 1); /* on_exit came first */
  /* The row has judged the exit: a restart, after a delay. */
  ASSERT_EQ(muster_supervise_state(sup), MUSTER_SUPERVISE_BACKOFF);
  ASSERT(muster_supervise_backoff_ms(sup) > 0);
  exiteds++;
}

TEST(supervise_child_exited) {
  /* The first exit is restarted: on_exited sees BACKOFF. The second ends
   * the row (crash loop), which on_state closes: no on_exited. */
  ASSERT_OK(uv_loop_init(&loop));
  static struct row r;
  muster_supervise_child_options_t o;
  options(&o, &r);
  o.on_exited = after_exit;
  o.policy.backoff_base_ms = 10;
  o.policy.crash_limit = 1;
  const char *const *argv = test_fixture_argv("exit_code", "1", NULL);
  run_row(&r, argv[0], argv, &o);
  ASSERT_EQ(r.exits, 2);
  ASSERT_EQ(exiteds, 1);
  ASSERT_STR_EQ(r.trail, "online>backoff>online>errored");
}
