/* Cluster: rolling reload, with clients running throughout. */
#include "test-cluster.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_cluster_t *cl;
static int n_listening, n_want, the_port, reload_status = 1;
static uv_async_t done_async;
static tc_client_t client;
static int old_pids[8], n_old;
static const char *const *new_args;
static uint64_t ready_timeout;

static void done_cb(uv_async_t *a) {
  tc_client_join(&client);
  uv_close((uv_handle_t *)a, NULL);
  muster_cluster_close(cl, NULL);
}

static uv_timer_t after_timer;

static void after_cb(uv_timer_t *t) {
  uv_close((uv_handle_t *)t, NULL);
  client.stop = 1;
}

static void reload_cb(muster_cluster_t *c, int status, void *arg) {
  (void)arg;
  reload_status = status;
  /* Keep the clients going a little after the reload, then stop them. */
  uv_timer_init(muster_cluster_loop(c), &after_timer);
  uv_timer_start(&after_timer, after_cb, 300, 0);
}

static void on_listening(muster_cluster_t *c, muster_worker_t *w,
                         const muster_worker_address_t *a) {
  (void)w;
  the_port = a->port;
  if (++n_listening != n_want)
    return;
  for (muster_worker_t *x = muster_cluster_next_worker(c, NULL); x;
       x = muster_cluster_next_worker(c, x))
    old_pids[n_old++] = muster_worker_pid(x);
  memset(&client, 0, sizeof client);
  client.addr = "127.0.0.1";
  client.port = the_port;
  client.done = &done_async;
  tc_client_start(&client);
  if (new_args) {
    muster_cluster_settings_t s = {0};
    s.exec = test_fixture_path();
    s.args = new_args;
    ASSERT_OK(muster_cluster_setup(c, &s));
  }
  ASSERT_OK(muster_cluster_reload(c, reload_cb, NULL));
  ASSERT_ERR(muster_cluster_reload(c, reload_cb, NULL), MUSTER_EBUSY);
}

static void run_reload(int workers) {
  static const char *args[] = {"cluster_worker", "tcp", "127.0.0.1", "0", NULL};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_async_init(&loop, &done_async, done_cb));
  muster_cluster_options_t o = {0};
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.events.on_listening = on_listening;
  o.ready_timeout_ms = ready_timeout;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  n_want = workers;
  for (int i = 0; i < workers; i++)
    ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Whether every answer after the reload came from a new worker. */
static int served_by_old_at_end(void) {
  int cap = (int)(sizeof client.pids / sizeof client.pids[0]);
  int last = client.pids[(client.made - 1) % cap];
  for (int i = 0; i < n_old; i++)
    if (old_pids[i] == last)
      return 1;
  return 0;
}

TEST_T(cluster_reload, 60) {
  run_reload(3);
  ASSERT_OK(reload_status);
  ASSERT_EQ(client.failures, 0);
  ASSERT_GE(client.made, 10);
  ASSERT(!served_by_old_at_end());
  for (int i = 0; i < n_old; i++)
    ASSERT(!tc_alive(old_pids[i]));
}

TEST_T(cluster_reload_slow_start, 60) {
  /* A single worker whose replacement takes 5 s to listen (the case where
   * PM2 refuses connections for about 2 s): the old one serves meanwhile,
   * and no request fails. */
  static const char *slow[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                               "delay=5000",     NULL};
  new_args = slow;
  run_reload(1);
  ASSERT_OK(reload_status);
  ASSERT_EQ(client.failures, 0);
  ASSERT(!served_by_old_at_end());
}

TEST_T(cluster_reload_fail_exit, 60) {
  static const char *bad[] = {"cluster_exit", "1", NULL};
  new_args = bad;
  run_reload(2);
  ASSERT_ERR(reload_status, MUSTER_ECHILD);
  ASSERT_EQ(client.failures, 0);
  ASSERT(served_by_old_at_end()); /* the old workers stayed */
}

TEST_T(cluster_reload_fail_timeout, 60) {
  static const char *late[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                               "delay=5000",     NULL};
  new_args = late;
  ready_timeout = 1000;
  run_reload(1);
  ASSERT_ERR(reload_status, MUSTER_ETIMEDOUT);
  ASSERT_EQ(client.failures, 0);
  ASSERT(served_by_old_at_end());
}
