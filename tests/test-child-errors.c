/* Bad input: each returns the exact error and leaves nothing behind. */
#include "test-child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_spawn_options_t opts;
static int events;

static void any_event(muster_child_t *c) {
  events++;
}

static void exec_never(const muster_exec_result_t *r, void *data) {
  events++;
}

static void setup(void) {
  ASSERT_OK(uv_loop_init(&loop));
  memset(&opts, 0, sizeof opts);
  opts.on_spawn = any_event;
  opts.on_close = any_event;
}

/* Spawns, expecting `err`: no fd left open, no child, no callback, and the
 * loop closes after one more turn (a failed uv_spawn() handle is closed
 * asynchronously). */
static void expect_spawn_error(const char *file, const char *const *argv,
                               int err) {
  muster_child_t *c = (muster_child_t *)&loop; /* must stay untouched */
  int fds = test_fd_count();
  ASSERT_ERR(muster_spawn(&loop, file, argv, &opts, &c), err);
  ASSERT(c == (muster_child_t *)&loop);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(events, 0);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(test_zombie_count(), 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_err_enoent) {
  setup();
  expect_spawn_error("muster-no-such-program", NULL, MUSTER_ENOENT);
}

TEST(child_err_enoent_path) {
  setup();
  expect_spawn_error("/nonexistent/dir/prog", NULL, MUSTER_ENOENT);
}

TEST(child_err_eacces) {
  char path[] = "/tmp/muster-child-noexec-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
  close(fd);
  ASSERT_OK(chmod(path, 0644));
  setup();
  expect_spawn_error(path, NULL, MUSTER_EACCES);
  unlink(path);
}

TEST(child_err_cwd_enoent) {
  setup();
  opts.cwd = "/nonexistent/muster/cwd";
  expect_spawn_error("true", NULL, MUSTER_ENOENT);
}

TEST(child_err_null_file) {
  setup();
  expect_spawn_error(NULL, NULL, MUSTER_EINVAL);
}

TEST(child_err_empty_file) {
  setup();
  expect_spawn_error("", NULL, MUSTER_EINVAL);
}

TEST(child_err_empty_argv) {
  setup();
  const char *argv[] = {NULL};
  expect_spawn_error("true", argv, MUSTER_EINVAL);
}

TEST(child_err_null_args) {
  setup();
  muster_child_t *c;
  ASSERT_ERR(muster_spawn(NULL, "true", NULL, &opts, &c), MUSTER_EINVAL);
  ASSERT_ERR(muster_spawn(&loop, "true", NULL, &opts, NULL), MUSTER_EINVAL);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_err_too_many_stdio) {
  setup();
  muster_stdio_t stdio[MUSTER_STDIO_MAX + 1];
  memset(stdio, 0, sizeof stdio);
  opts.stdio = stdio;
  opts.stdio_count = MUSTER_STDIO_MAX + 1;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_negative_stdio_count) {
  setup();
  opts.stdio_count = -1;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_two_ipc) {
  setup();
  muster_stdio_t stdio[5] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_IPC, 0},
                             {MUSTER_STDIO_IPC, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 5;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_negative_fd) {
  setup();
  muster_stdio_t stdio[3] = {
      {MUSTER_STDIO_FD, -1}, {MUSTER_STDIO_PIPE, 0}, {MUSTER_STDIO_PIPE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 3;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_bad_stdio_kind) {
  setup();
  muster_stdio_t stdio[1] = {{(muster_stdio_kind_t)42, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 1;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_bad_kill_signal) {
  setup();
  opts.kill_signal = -3;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
  setup();
  opts.kill_signal = NSIG;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

TEST(child_err_bad_flags) {
  setup();
  opts.flags = 1u << 20;
  expect_spawn_error("true", NULL, MUSTER_EINVAL);
}

/* Failing spawns in a row leave nothing, and a good one still works. */
TEST(child_err_repeated) {
  int fds = test_fd_count();
  for (int i = 0; i < 50; i++) {
    setup();
    opts.on_spawn = NULL;
    opts.on_close = NULL;
    expect_spawn_error("muster-no-such-program", NULL, MUSTER_ENOENT);
  }
  ASSERT_EQ(test_fd_count(), fds);
}

/* Kill of a reaped child: ESRCH (also in child_kill). Invalid signal:
 * EINVAL before anything else. */
static void esrch_exit(muster_child_t *c, int64_t st, int sig) {
  events++;
  ASSERT_ERR(muster_child_kill(c, SIGTERM), MUSTER_ESRCH);
  ASSERT_ERR(muster_child_kill(c, -1), MUSTER_EINVAL);
  muster_child_close(c, NULL);
}

TEST(child_err_kill_esrch) {
  int fds = test_fd_count();
  setup();
  opts.on_spawn = NULL;
  opts.on_close = NULL;
  opts.on_exit = esrch_exit;
  muster_child_t *c;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(events, 1);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}

TEST(child_err_exec_args) {
  setup();
  muster_exec_result_t r;
  ASSERT_ERR(muster_exec(&loop, NULL, NULL, exec_never, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_exec(&loop, "true", NULL, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_exec(NULL, "true", NULL, exec_never, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_exec_file(&loop, NULL, NULL, NULL, exec_never, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_spawn_sync(NULL, NULL, NULL, &r), MUSTER_EINVAL);
  ASSERT_ERR(r.error, MUSTER_EINVAL);
  muster_exec_result_free(&r);
  ASSERT_ERR(muster_spawn_sync("true", NULL, NULL, NULL), MUSTER_EINVAL);
  const char *empty[] = {NULL};
  ASSERT_ERR(muster_exec_file_sync("true", empty, NULL, &r), MUSTER_EINVAL);
  muster_exec_result_free(&r);
  ASSERT_EQ(events, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* The run-time errors of a buffered run, with fds counted around them. */
TEST(child_err_enobufs) {
  int fds = test_fd_count();
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.max_buffer = 64;
  muster_exec_result_t r;
  ASSERT_ERR(muster_spawn_sync(test_fixture_path(),
                               test_fixture_argv("child_bytes", "100000", NULL),
                               &o, &r),
             MUSTER_ENOBUFS);
  ASSERT_ERR(r.error, MUSTER_ENOBUFS);
  ASSERT_EQ(r.stdout_len, 64);
  muster_exec_result_free(&r);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(test_zombie_count(), 0);
}

/* A grandchild holding stdout does not keep the run open past maxBuffer. */
TEST(child_err_enobufs_grandchild) {
  test_subreaper_begin();
  int fds = test_fd_count();
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.max_buffer = 100;
  muster_exec_result_t r;
  ASSERT_ERR(muster_exec_sync("yes | cat", &o, &r), MUSTER_ENOBUFS);
  ASSERT_EQ(r.stdout_len, 100);
  muster_exec_result_free(&r);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(test_descendants_end(10000), 0); /* yes and cat too */
}

TEST(child_err_etimedout) {
  test_subreaper_begin();
  int fds = test_fd_count();
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 100;
  muster_exec_result_t r;
  /* The shell's group gets the signal: sleep and cat too. */
  ASSERT_ERR(muster_exec_sync("sleep 60 | cat", &o, &r), MUSTER_ETIMEDOUT);
  ASSERT_ERR(r.error, MUSTER_ETIMEDOUT);
  ASSERT_EQ(r.term_signal, SIGTERM);
  muster_exec_result_free(&r);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_EQ(test_descendants_end(10000), 0);
}

static int epipe_status = 1;
static void epipe_write_cb(muster_child_t *c, int status, void *arg) {
  epipe_status = status;
}

static void epipe_exit(muster_child_t *c, int64_t st, int sig) {
  /* Already known dead: the result itself. */
  ASSERT_ERR(muster_child_write(c, 0, "x", 1, epipe_write_cb, NULL),
             MUSTER_EPIPE);
  muster_child_close(c, NULL);
}

static void epipe_spawn(muster_child_t *c) {
  /* The child is gone (or about to be): never a SIGPIPE for us. */
  static char big[1 << 20];
  int r = muster_child_write(c, 0, big, sizeof big, epipe_write_cb, NULL);
  ASSERT(r == 0 || r == MUSTER_EPIPE);
}

TEST(child_err_epipe) {
  int fds = test_fd_count();
  setup();
  opts.on_spawn = epipe_spawn;
  opts.on_close = NULL;
  opts.on_exit = epipe_exit;
  muster_child_t *c;
  /* Closes its stdin at once, exits after 100 ms. */
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_close_stdin", "100", NULL),
                         &opts, &c));
  test_run_loop(&loop, 30000);
  ASSERT_ERR(epipe_status, MUSTER_EPIPE);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}
