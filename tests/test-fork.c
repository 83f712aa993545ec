/* muster_fork(): a child with the channel on fd 3, Node's event order
 * (exit, then close after the channel ended), silent, explicit stdio. */
#include "test.h"

#include <signal.h>
#include <unistd.h>

typedef struct {
  char log[256];
  char out[4096];
  size_t out_len;
  int messages;
  char last[256];
  int64_t status;
  muster_channel_t *ch;
  int closed_child, closed_channel;
} fork_rec_t;

static fork_rec_t rec;

static void logev(const char *ev) {
  strncat(rec.log, ev, sizeof rec.log - strlen(rec.log) - 1);
  strncat(rec.log, " ", sizeof rec.log - strlen(rec.log) - 1);
}

static void on_exit_cb(muster_child_t *c, int64_t status, int sig) {
  rec.status = status;
  logev("exit");
}

static void child_freed(muster_child_t *c) {
  rec.closed_child++;
}
static void channel_freed(muster_channel_t *ch) {
  rec.closed_channel++;
}

static void on_close_cb(muster_child_t *c) {
  logev("close");
  muster_child_close(c, child_freed);
}

static void on_data_cb(muster_child_t *c, int slot, const char *buf,
                       size_t len) {
  if (slot == 1 && buf && rec.out_len + len < sizeof rec.out) {
    memcpy(rec.out + rec.out_len, buf, len);
    rec.out_len += len;
  }
}

static void on_msg(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  if (len >= sizeof rec.last)
    len = sizeof rec.last - 1;
  memcpy(rec.last, s, len);
  rec.last[len] = '\0';
  rec.messages++;
  logev("message");
  muster_channel_disconnect(ch);
}

static void on_disc(muster_channel_t *ch, int reason) {
  ASSERT_OK(reason);
  logev("disconnect");
  muster_channel_close(ch, channel_freed);
}

static muster_fork_options_t fork_options(void) {
  memset(&rec, 0, sizeof rec);
  rec.status = -1;
  muster_fork_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.on_exit = on_exit_cb;
  o.spawn.on_close = on_close_cb;
  o.spawn.on_data = on_data_cb;
  o.channel.on_message = on_msg;
  o.channel.on_disconnect = on_disc;
  return o;
}

/* Messages both ways; the parent disconnects; the child exits 0; 'close'
 * comes after the channel ended. */
TEST(fork_echo) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  muster_child_t *child;
  muster_channel_t *ch;
  const char *const *argv = test_fixture_argv("channel_echo", NULL);
  ASSERT_OK(muster_fork(&loop, argv[0], argv, &o, &child, &ch));
  ASSERT_EQ(muster_channel_connected(ch), 1);
  ASSERT_OK(muster_channel_send_text(ch, "{\"n\":1}", 7, -1, NULL, NULL, NULL));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rec.messages, 1);
  ASSERT_STR_EQ(rec.last, "{\"echo\":{\"n\":1}}");
  ASSERT_EQ(rec.status, 0);
  ASSERT_EQ(rec.closed_child, 1);
  ASSERT_EQ(rec.closed_channel, 1);
  /* The child sees EOF and exits; we see the end of the channel (our own
   * disconnect), then exit, then close. */
  ASSERT_STR_EQ(rec.log, "message disconnect exit close ");
  ASSERT_OK(uv_loop_close(&loop));
}

/* The child exits by itself: its end closes, the channel ends (0), and
 * 'close' waits for that. */
TEST(fork_child_exit_ends_channel) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  o.channel.on_message = NULL;
  muster_child_t *child;
  muster_channel_t *ch;
  const char *const *argv = test_fixture_argv("channel_echo", NULL);
  ASSERT_OK(muster_fork(&loop, argv[0], argv, &o, &child, &ch));
  ASSERT_OK(muster_channel_send_text(ch, "\"exit\"", 6, -1, NULL, NULL, NULL));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rec.status, 5);
  ASSERT_EQ(rec.closed_child, 1);
  ASSERT_EQ(rec.closed_channel, 1);
  ASSERT(strstr(rec.log, "disconnect") != NULL);
  ASSERT(strstr(rec.log, "close") > strstr(rec.log, "disconnect"));
  ASSERT(strstr(rec.log, "close") > strstr(rec.log, "exit"));
  ASSERT_OK(uv_loop_close(&loop));
}

/* The child object may be freed while its channel is still open: here the
 * child hands its end to a grandchild and exits, so the child object is
 * reaped and freed first, and only then does the channel end. The channel
 * must not tell the freed child object (ASan sees a use after free if it
 * does). */
static int reap_pid;
static muster_channel_t *reap_ch;
static void wait_reaped(uv_timer_t *t) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", reap_pid);
  if (rec.closed_child == 1 && access(path, F_OK) != 0) {
    uv_close((uv_handle_t *)t, NULL);
    ASSERT_OK(muster_channel_disconnect(reap_ch));
  }
}

TEST(fork_child_freed_before_channel) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  muster_child_t *child;
  const char *const *argv = test_fixture_argv("channel_hand_off", NULL);
  ASSERT_OK(muster_fork(&loop, argv[0], argv, &o, &child, &reap_ch));
  reap_pid = muster_child_pid(child);
  muster_child_close(child, child_freed);
  uv_timer_t t;
  ASSERT_OK(uv_timer_init(&loop, &t));
  ASSERT_OK(uv_timer_start(&t, wait_reaped, 10, 10));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rec.closed_child, 1);
  ASSERT_EQ(rec.closed_channel, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* silent: the child's stdout comes to the parent. The worker notices the
 * end of its parent's channel (here: the parent closes it, as the kernel
 * does when the parent dies) and exits. */
TEST(fork_silent_worker_sees_parent_end) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  o.silent = 1;
  muster_child_t *child;
  muster_channel_t *ch;
  const char *const *argv = test_fixture_argv("channel_wait_parent", NULL);
  ASSERT_OK(muster_fork(&loop, argv[0], argv, &o, &child, &ch));
  muster_channel_close(ch, channel_freed); /* no on_disconnect for us */
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rec.status, 0);
  rec.out[rec.out_len] = '\0';
  ASSERT_STR_EQ(rec.out, "disconnected 0\n");
  ASSERT_EQ(rec.closed_child, 1);
  ASSERT_EQ(rec.closed_channel, 1);
  ASSERT_STR_EQ(rec.log, "exit close ");
  ASSERT_OK(uv_loop_close(&loop));
}

/* An explicit stdio array puts the channel on its IPC slot (fd 4 here),
 * and env cannot override NODE_CHANNEL_FD. */
TEST(fork_explicit_stdio) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  muster_stdio_t stdio[5] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_INHERIT, -1},
                             {MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_IPC, -1}};
  o.spawn.stdio = stdio;
  o.spawn.stdio_count = 5;
  const char *env[] = {"NODE_CHANNEL_FD=3", NULL};
  o.spawn.env = env;
  muster_child_t *child;
  muster_channel_t *ch;
  const char *const *argv = test_fixture_argv("channel_echo", NULL);
  ASSERT_OK(muster_fork(&loop, argv[0], argv, &o, &child, &ch));
  ASSERT_OK(muster_channel_send_text(ch, "7", 1, -1, NULL, NULL, NULL));
  test_run_loop(&loop, 10000);
  ASSERT_STR_EQ(rec.last, "{\"echo\":7}");
  ASSERT_EQ(rec.status, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A worker whose parent dies (SIGKILL: nothing is closed in order) sees
 * its channel end and exits by itself. The worker is our grandchild; it
 * inherits the middle process's stdout, so that pipe reaches end of file
 * only once the worker has exited too. */
static void on_mid_close(muster_child_t *c) {
  logev("close");
  muster_child_close(c, child_freed);
}

TEST_T(fork_worker_exits_when_parent_dies, 30) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  memset(&rec, 0, sizeof rec);
  muster_spawn_options_t o;
  memset(&o, 0, sizeof o);
  o.on_data = on_data_cb;
  o.on_close = on_mid_close;
  muster_child_t *mid;
  const char *const *argv = test_fixture_argv("fork_middle", NULL);
  ASSERT_OK(muster_spawn(&loop, argv[0], argv, &o, &mid));
  test_run_loop(&loop, 20000);
  rec.out[rec.out_len] = '\0';
  int pid = 0;
  ASSERT_EQ(sscanf(rec.out, "worker %d\ndisconnected 0\n", &pid), 1);
  ASSERT(strstr(rec.out, "disconnected 0\n") != NULL);
  ASSERT(pid > 0);
  /* Its stdout reached end of file, so it is exiting: within a moment it
   * is gone, or a zombie its new parent (init or a subreaper) has yet to
   * reap. */
  char path[64], stat[256] = "";
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  uint64_t t0 = test_now_ms();
  for (;;) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
      break;
    char *got = fgets(stat, sizeof stat, f);
    fclose(f);
    if (got == NULL || strstr(stat, ") Z ") != NULL)
      break;
    if (test_now_ms() - t0 > 5000)
      TEST_FAIL("worker %d still running: %s", pid, stat);
    usleep(10000);
  }
  ASSERT_EQ(rec.closed_child, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(fork_errors) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_fork_options_t o = fork_options();
  muster_stdio_t no_ipc[3] = {{MUSTER_STDIO_PIPE, -1},
                              {MUSTER_STDIO_PIPE, -1},
                              {MUSTER_STDIO_PIPE, -1}};
  o.spawn.stdio = no_ipc;
  o.spawn.stdio_count = 3;
  muster_child_t *child;
  muster_channel_t *ch;
  ASSERT_ERR(muster_fork(&loop, "true", NULL, &o, &child, &ch), MUSTER_EINVAL);
  muster_stdio_t two[2] = {{MUSTER_STDIO_IPC, -1}, {MUSTER_STDIO_IPC, -1}};
  o.spawn.stdio = two;
  o.spawn.stdio_count = 2;
  ASSERT_ERR(muster_fork(&loop, "true", NULL, &o, &child, &ch), MUSTER_EINVAL);
  o = fork_options();
  ASSERT_ERR(muster_fork(&loop, "/nonexistent/program", NULL, &o, &child, &ch),
             MUSTER_ENOENT);
  ASSERT_ERR(muster_fork(NULL, "true", NULL, &o, &child, &ch), MUSTER_EINVAL);
  ASSERT_ERR(muster_fork(&loop, "true", NULL, &o, &child, NULL), MUSTER_EINVAL);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* The seed examples run to completion by themselves. */
static int64_t ex_status;
static char ex_out[8192];
static size_t ex_len;

static void ex_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  if (buf && ex_len + len < sizeof ex_out - 1) {
    memcpy(ex_out + ex_len, buf, len);
    ex_len += len;
  }
}
static void ex_exit(muster_child_t *c, int64_t status, int sig) {
  ex_status = sig ? 128 + sig : status;
}
static void ex_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

static void run_example(const char *const *argv) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_spawn_options_t o;
  memset(&o, 0, sizeof o);
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_INHERIT, -1}};
  o.stdio = stdio;
  o.stdio_count = 3;
  o.on_data = ex_data;
  o.on_exit = ex_exit;
  o.on_close = ex_close;
  ex_len = 0;
  ex_status = -1;
  muster_child_t *c;
  if (access(argv[0], X_OK) != 0)
    TEST_SKIP("%s is not built", argv[0]);
  ASSERT_OK(muster_spawn(&loop, argv[0], argv, &o, &c));
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
  ex_out[ex_len] = '\0';
  fputs(ex_out, stderr);
}

TEST_T(fork_example_parent_worker, 60) {
  const char *argv[] = {MUSTER_EXAMPLES_DIR "/fork-parent", NULL};
  run_example(argv);
  ASSERT_EQ(ex_status, 0);
  ASSERT(strstr(ex_out, "PARENT got message: {\"foo\":\"bar\",\"baz\":null}"));
  ASSERT(strstr(ex_out, "CHILD got message: {\"hello\":\"world\"}"));
}

TEST_T(fork_example_handle, 60) {
  const char *argv[] = {MUSTER_EXAMPLES_DIR "/handle-parent",
                        "--port",
                        "0",
                        "--requests",
                        "24",
                        NULL};
  run_example(argv);
  ASSERT_EQ(ex_status, 0);
  /* handle-parent checks the distribution itself (two children answered,
   * and only children once the parent closed its copy) and says so. */
  ASSERT(strstr(ex_out, "ok: "));
}
