/* Process groups: MUSTER_SPAWN_PROCESS_GROUP, muster_child_kill_group(), and
 * exec's timeout and max_buffer reaching the shell's children (issue 9.2).
 * Each test makes itself a child subreaper, so that a grandchild the kill
 * missed becomes our child instead of init's and is counted. */
#include "test-child.h"

#include <signal.h>
#include <unistd.h>

/* Long enough for a signalled group to die under load; far below the
 * 60 s the orphans of the bug would run. */
#define GONE_MS 10000

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  test_subreaper_begin();
  rec_setup(&loop, &rec, &opts);
}

static void exec_sync_leaves_nothing(const char *cmd, unsigned flags,
                                     uint64_t timeout_ms, size_t max_buffer,
                                     int err) {
  test_subreaper_begin();
  int fds = test_fd_count();
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.flags = flags;
  o.spawn.timeout_ms = timeout_ms;
  o.max_buffer = max_buffer;
  muster_exec_result_t r;
  ASSERT_ERR(muster_exec_sync(cmd, &o, &r), err);
  ASSERT_EQ(r.term_signal, SIGTERM);
  muster_exec_result_free(&r);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(test_descendants_end(GONE_MS), 0);
}

TEST(child_group_exec_timeout) {
  exec_sync_leaves_nothing("sleep 60 | cat", 0, 500, 0, MUSTER_ETIMEDOUT);
}

TEST(child_group_exec_timeout_detached) {
  exec_sync_leaves_nothing("sleep 60 | cat", MUSTER_SPAWN_DETACHED, 500, 0,
                           MUSTER_ETIMEDOUT);
}

TEST(child_group_exec_enobufs) {
  /* The subshell writes past the limit, then sleeps holding stdout. */
  exec_sync_leaves_nothing("(head -c 200 /dev/zero; sleep 60) | cat", 0, 0, 100,
                           MUSTER_ENOBUFS);
}

static int async_error = 1;

static void async_done(const muster_exec_result_t *r, void *data) {
  async_error = r->error;
}

TEST(child_group_exec_async_timeout) {
  setup();
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 500;
  ASSERT_OK(muster_exec(&loop, "sleep 60 | cat", &o, async_done, NULL));
  test_run_loop(&loop, 30000);
  ASSERT_ERR(async_error, MUSTER_ETIMEDOUT);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_descendants_end(GONE_MS), 0);
}

/* ---- muster_child_kill_group() ------------------------------------------ */

/* Runs `sh -c script` with `opts` until the child object was freed. */
static void run_sh(const char *script) {
  muster_child_t *c;
  const char *argv[] = {"sh", "-c", script, NULL};
  ASSERT_OK(muster_spawn(&loop, "sh", argv, &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
}

/* The loop closes and nothing of the run is left. */
static void finish(void) {
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_descendants_end(GONE_MS), 0);
}

static void kill_group_on_spawn(muster_child_t *c) {
  rec.spawned++;
  int pid = muster_child_pid(c);
  ASSERT_EQ(getpgid(pid), pid);
}

static void kill_group_on_data(muster_child_t *c, int slot, const char *buf,
                               size_t len) {
  /* The shell printed once its background sleep was started. */
  if (slot == 1 && buf != NULL && !muster_child_killed(c))
    ASSERT_OK(muster_child_kill_group(c, SIGTERM));
}

TEST(child_group_kill) {
  setup();
  opts.flags = MUSTER_SPAWN_PROCESS_GROUP;
  opts.on_spawn = kill_group_on_spawn;
  opts.on_data = kill_group_on_data;
  run_sh("sleep 60 & echo up; wait");
  ASSERT_EQ(rec.term_signal, SIGTERM);
  finish();
}

static int after_exit_kill = 1, after_exit_probe = 1;

static void after_exit(muster_child_t *c, int64_t status, int sig) {
  rec.exited++;
  /* The shell is gone; its sleep is still in the group. */
  ASSERT_ERR(muster_child_kill(c, SIGKILL), MUSTER_ESRCH);
  after_exit_kill = muster_child_kill_group(c, SIGKILL);
  after_exit_probe = muster_child_kill_group(c, 0);
  muster_child_close(c, rec_freed_cb);
}

TEST(child_group_kill_after_exit) {
  setup();
  opts.flags = MUSTER_SPAWN_PROCESS_GROUP;
  opts.stdio_count = 3;
  muster_stdio_t st[3] = {{MUSTER_STDIO_IGNORE, 0},
                          {MUSTER_STDIO_IGNORE, 0},
                          {MUSTER_STDIO_IGNORE, 0}};
  opts.stdio = st;
  opts.on_exit = after_exit;
  opts.on_close = NULL;
  run_sh("sleep 60 & exit 0");
  ASSERT_EQ(rec.exited, 1);
  ASSERT_OK(after_exit_kill);
  ASSERT_OK(after_exit_probe); /* SIGKILL is not delivered at once */
  finish();
}

static void timeout_group_on_data(muster_child_t *c, int slot, const char *buf,
                                  size_t len) {}

TEST(child_group_spawn_timeout) {
  setup();
  opts.flags = MUSTER_SPAWN_PROCESS_GROUP;
  opts.timeout_ms = 300;
  opts.on_data = timeout_group_on_data;
  /* The grandchild holds stdout: close waits for it, so only a signal to
   * the group lets this run end. */
  run_sh("sleep 60 | cat");
  ASSERT_EQ(rec.term_signal, SIGTERM);
  finish();
}

TEST(child_group_kill_einval) {
  setup();
  muster_child_t *c;
  const char *argv[] = {"sleep", "60", NULL};
  ASSERT_OK(muster_spawn(&loop, "sleep", argv, &opts, &c));
  /* Not a group of its own: it is in ours. */
  ASSERT_EQ(getpgid(muster_child_pid(c)), getpgid(0));
  ASSERT_ERR(muster_child_kill_group(c, SIGTERM), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_kill_group(NULL, SIGTERM), MUSTER_EINVAL);
  ASSERT_OK(muster_child_kill(c, SIGKILL));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.term_signal, SIGKILL);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_group_detached_leads_group) {
  setup();
  opts.flags = MUSTER_SPAWN_DETACHED;
  muster_child_t *c;
  const char *argv[] = {"sleep", "60", NULL};
  ASSERT_OK(muster_spawn(&loop, "sleep", argv, &opts, &c));
  int pid = muster_child_pid(c);
  ASSERT_EQ(getpgid(pid), pid);
  ASSERT_EQ(getsid(pid), pid);
  ASSERT_ERR(muster_child_kill_group(c, NSIG), MUSTER_EINVAL);
  ASSERT_OK(muster_child_kill_group(c, SIGKILL));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.term_signal, SIGKILL);
  finish();
}
