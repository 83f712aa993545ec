/* Cluster: the primary's own death. A cluster_primary fixture runs two
 * workers; the test signals the primary and watches the workers go. */
#include "test-cluster.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_child_t *primary;
static char out[512];
static size_t out_len;
static int worker_pids[2], primary_signal, served;
static int64_t exit_status;
static int term_signal;
static uint64_t killed_at, gone_after;

static void on_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  if (slot != 1 || len == 0)
    return;
  if (out_len + len >= sizeof out)
    TEST_FAIL("too much output");
  memcpy(out + out_len, buf, len);
  out_len += len;
  out[out_len] = '\0';
  if (worker_pids[0] == 0 && strchr(out, '\n')) {
    int port;
    ASSERT_EQ(
        sscanf(out, "ready %d %d %d", &port, &worker_pids[0], &worker_pids[1]),
        3);
    int pid = tc_request("127.0.0.1", port, "x\n", NULL);
    served = pid == worker_pids[0] || pid == worker_pids[1];
    killed_at = test_now_ms();
    ASSERT_OK(muster_child_kill(c, primary_signal));
  }
}

static void on_exit_cb(muster_child_t *c, int64_t status, int sig) {
  (void)c;
  exit_status = status;
  term_signal = sig;
  /* Workers notice by themselves: poll /proc for them. */
  for (;;) {
    if (!tc_alive(worker_pids[0]) && !tc_alive(worker_pids[1]))
      break;
    if (test_now_ms() - killed_at > 5000)
      TEST_FAIL("workers %d %d still alive 5 s after the primary died",
                worker_pids[0], worker_pids[1]);
    usleep(5000);
  }
  gone_after = test_now_ms() - killed_at;
}

static void on_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

static void run_primary(int sig) {
  primary_signal = sig;
  ASSERT_OK(uv_loop_init(&loop));
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_INHERIT, -1}};
  muster_spawn_options_t so = {0};
  so.stdio = stdio;
  so.stdio_count = 3;
  so.on_data = on_data;
  so.on_exit = on_exit_cb;
  so.on_close = on_close;
  ASSERT_OK(muster_spawn(
      &loop, test_fixture_path(),
      test_fixture_argv("cluster_primary", "2", "tcp", "127.0.0.1", "0", NULL),
      &so, &primary));
  test_run_loop(&loop, 30000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT(served);
}

TEST_T(cluster_primary_sigterm, 60) {
  run_primary(SIGTERM);
  /* Workers disconnected and ended, then the primary left its loop. */
  ASSERT_EQ(term_signal, 0);
  ASSERT_EQ(exit_status, 0);
  ASSERT(!tc_alive(worker_pids[0]));
  ASSERT(!tc_alive(worker_pids[1]));
}

TEST_T(cluster_primary_sigkill, 60) {
  run_primary(SIGKILL);
  ASSERT_EQ(term_signal, SIGKILL);
  /* PR_SET_PDEATHSIG (and the channel's end) take the workers down at
   * once; "within about a second" leaves room for a loaded machine. */
  ASSERT_LE(gone_after, 1500);
}
