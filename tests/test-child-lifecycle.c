/* kill, close, reaping, ref/unref, fd inheritance, many children. */
#include "test-child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
}

/* ---- kill --------------------------------------------------------------- */

static void kill_on_spawn(muster_child_t *c) {
  rec.spawned++;
  rec_event(&rec, "spawn");
  ASSERT_EQ(muster_child_killed(c), 0);
  ASSERT_OK(muster_child_kill(c, 0)); /* alive; not a kill */
  ASSERT_EQ(muster_child_killed(c), 0);
  ASSERT_ERR(muster_child_kill(c, -1), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_kill(c, NSIG), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_kill(c, 1000), MUSTER_EINVAL);
  ASSERT_OK(muster_child_kill(c, SIGTERM));
  ASSERT_EQ(muster_child_killed(c), 1);
}

static void kill_on_close(muster_child_t *c) {
  rec.closed++;
  /* Reaped: the pid may be reused, so kill must refuse. */
  ASSERT_ERR(muster_child_kill(c, SIGTERM), MUSTER_ESRCH);
  ASSERT_ERR(muster_child_kill(c, 0), MUSTER_ESRCH);
  ASSERT_EQ(muster_child_killed(c), 1);
  ASSERT_EQ(muster_child_timed_out(c), 0);
  muster_child_close(c, rec_freed_cb);
}

TEST(child_kill) {
  setup();
  opts.on_spawn = kill_on_spawn;
  opts.on_close = kill_on_close;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "60000", NULL), &opts,
                         &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.term_signal, SIGTERM);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- closing early: no zombie ------------------------------------------- */

static int reaped_pid;
static int waited_ms;
static uv_timer_t poll_timer;

static int is_zombie_or_alive(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  return access(path, F_OK) == 0;
}

static void watch_cb(uv_timer_t *t) {
  waited_ms += 20;
  if (!is_zombie_or_alive(reaped_pid) || waited_ms > 20000)
    uv_close((uv_handle_t *)t, NULL);
}

TEST(child_close_early_no_zombie) {
  setup();
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "300", NULL), &opts,
                         &c));
  reaped_pid = muster_child_pid(c);
  /* Close while it runs: no event after this, but it must be reaped. */
  muster_child_close(c, rec_freed_cb);
  ASSERT_OK(uv_timer_init(&loop, &poll_timer));
  ASSERT_OK(uv_timer_start(&poll_timer, watch_cb, 20, 20));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(rec.spawned, 0);
  ASSERT_EQ(rec.exited, 0);
  ASSERT_EQ(rec.closed, 0);
  ASSERT_EQ(is_zombie_or_alive(reaped_pid), 0); /* reaped by libuv */
  ASSERT_EQ(waitpid(reaped_pid, NULL, WNOHANG), -1);
  ASSERT_EQ(errno, ECHILD);
  ASSERT_EQ(test_zombie_count(), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* muster_child_close() inside each kind of callback. */
static int close_at; /* 0 spawn, 1 data, 2 exit */

static void close_in_spawn(muster_child_t *c) {
  rec.spawned++;
  if (close_at == 0)
    muster_child_close(c, rec_freed_cb);
}

static void close_in_data(muster_child_t *c, int slot, const char *b,
                          size_t n) {
  rec_event(&rec, "data");
  if (close_at == 1)
    muster_child_close(c, rec_freed_cb);
}

static void close_in_exit(muster_child_t *c, int64_t s, int sig) {
  rec.exited++;
  if (close_at == 2)
    muster_child_close(c, rec_freed_cb);
  muster_child_close(c, NULL); /* twice: ignored */
}

static void run_close_in(int at) {
  setup();
  close_at = at;
  opts.on_spawn = close_in_spawn;
  opts.on_data = close_in_data;
  opts.on_exit = close_in_exit;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_bytes", "1000000", NULL),
                         &opts, &c));
  int pid = muster_child_pid(c);
  reaped_pid = pid;
  waited_ms = 0;
  ASSERT_OK(uv_timer_init(&loop, &poll_timer));
  ASSERT_OK(uv_timer_start(&poll_timer, watch_cb, 20, 20));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(rec.closed, 0);
  ASSERT_EQ(is_zombie_or_alive(pid), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_close_in_spawn_cb) {
  run_close_in(0);
  ASSERT_EQ(rec.exited, 0);
  ASSERT_EQ(strstr(rec.log, "data"), NULL);
}

TEST(child_close_in_data_cb) {
  run_close_in(1);
  ASSERT_STR_EQ(rec.log, "data"); /* nothing after the close */
}

TEST(child_close_in_exit_cb) {
  run_close_in(2);
  ASSERT_EQ(rec.exited, 1);
}

/* ---- ref / unref -------------------------------------------------------- */

TEST(child_unref) {
  setup();
  muster_child_t *c = NULL;
  opts.on_close = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "60000", NULL), &opts,
                         &c));
  muster_child_unref(c);
  uint64_t t0 = test_now_ms();
  test_run_loop(&loop, 30000); /* returns: nothing keeps the loop alive */
  ASSERT(test_now_ms() - t0 < 30000);
  ASSERT_EQ(rec.exited, 0);
  ASSERT_EQ(muster_child_exited(c, NULL, NULL), 0);
  /* ref again, kill, and the loop runs until the child is reaped. */
  muster_child_ref(c);
  ASSERT_OK(muster_child_kill(c, SIGKILL));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.term_signal, SIGKILL);
  muster_child_close(c, rec_freed_cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- fd inheritance ----------------------------------------------------- */

TEST(child_no_fd_leak) {
  setup();
  /* Opened the careless way: no O_CLOEXEC on any of them. */
  int a = open("/dev/null", O_RDONLY);
  int p[2];
  ASSERT_OK(pipe(p));
  int s = dup(1);
  int high = fcntl(a, F_DUPFD, 100);
  ASSERT(a >= 3 && p[0] >= 3 && s >= 3 && high >= 100);
  ASSERT_EQ(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_fds", NULL), &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(rec.exit_status, 0);
  /* The parent's fds are untouched: still not close-on-exec. */
  ASSERT_EQ(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(fcntl(high, F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(fcntl(p[1], F_GETFD) & FD_CLOEXEC, 0);
  close(a);
  close(p[0]);
  close(p[1]);
  close(s);
  close(high);
  /* Exactly 0, 1, 2: our three socketpair ends. */
  int n = 0;
  for (char *line = rec.out; *line; n++) {
    ASSERT_EQ(atoi(line), n);
    ASSERT(strncmp(strchr(line, ' ') + 1, "socket:", 7) == 0);
    line = strchr(line, '\n') + 1;
  }
  if (n != 3)
    TEST_FAIL("child fds:\n%s", rec.out);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A MUSTER_STDIO_FD slot is passed even though the fd is O_CLOEXEC. */
TEST(child_fd_slot_passed) {
  setup();
  int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
  muster_stdio_t stdio[5] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_FD, a}};
  opts.stdio = stdio;
  opts.stdio_count = 5;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_fds", NULL), &opts, &c));
  close(a);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT(test_contains(rec.out, "4 /dev/null\n"));
  ASSERT(!test_contains(rec.out, "3 "));
  ASSERT(!test_contains(rec.out, "\n5 "));
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- many children: every one reaped ------------------------------------ */

#define MANY 1000
#define MANY_AT_ONCE 50
static int many_started, many_closed, many_bad;
static muster_spawn_options_t many_opts;

static void many_start(void);

static void many_close_cb(muster_child_t *c) {
  int64_t status;
  int sig;
  if (!muster_child_exited(c, &status, &sig) || status != 0 || sig != 0)
    many_bad++;
  many_closed++;
  muster_child_close(c, NULL);
  many_start();
}

static void many_start(void) {
  while (many_started < MANY && many_started - many_closed < MANY_AT_ONCE) {
    muster_child_t *c = NULL;
    ASSERT_OK(muster_spawn(&loop, "true", NULL, &many_opts, &c));
    many_started++;
  }
}

TEST_T(child_many_reaped, 300) {
  setup();
  many_opts.on_close = many_close_cb;
  many_start();
  test_run_loop(&loop, 280000);
  ASSERT_EQ(many_started, MANY);
  ASSERT_EQ(many_closed, MANY);
  ASSERT_EQ(many_bad, 0);
  ASSERT_EQ(test_zombie_count(), 0);
  ASSERT_OK(uv_loop_close(&loop));
}
