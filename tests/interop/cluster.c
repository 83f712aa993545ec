/* Cluster interop with real Node: a C primary running Node cluster workers
 * (http.createServer().listen()), and a Node primary running C workers.
 * Skipped when node is not on PATH. */
#include "../test-cluster.h"

#include <signal.h>
#include <unistd.h>

#define NODE_DIR MUSTER_SOURCE_DIR "/tests/interop/node"

static uv_loop_t loop;
static muster_cluster_t *cl;
static int n_listening, n_want, the_port, n_exits, n_online;
static uv_async_t done_async;
static tc_client_t client;
static int exit_codes[8];

static void on_online(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  (void)w;
  n_online++;
}

static void on_listening(muster_cluster_t *c, muster_worker_t *w,
                         const muster_worker_address_t *a) {
  (void)c;
  (void)w;
  ASSERT_EQ(a->address_type, 4);
  ASSERT_STR_EQ(a->address, "127.0.0.1");
  ASSERT(a->port > 0);
  the_port = a->port;
  if (++n_listening == n_want) {
    memset(&client, 0, sizeof client);
    client.addr = "127.0.0.1";
    client.port = the_port;
    client.n = 20;
    client.http = 1;
    client.done = &done_async;
    tc_client_start(&client);
  }
}

static void on_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                       int sig) {
  (void)c;
  ASSERT(muster_worker_exited_after_disconnect(w));
  exit_codes[n_exits++ % 8] = (int)code + 1000 * sig;
}

static void done_cb(uv_async_t *a) {
  tc_client_join(&client);
  uv_close((uv_handle_t *)a, NULL);
  ASSERT_EQ(client.failures, 0);
  for (muster_worker_t *w = muster_cluster_next_worker(cl, NULL); w;
       w = muster_cluster_next_worker(cl, w))
    ASSERT_GE(tc_count(&client, muster_worker_pid(w)), 1);
  muster_cluster_close(cl, NULL);
}

static void node_workers(muster_sched_t policy) {
  const char *node = test_which("node");
  if (node == NULL)
    TEST_SKIP("node is not on PATH");
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_async_init(&loop, &done_async, done_cb));
  const char *args[] = {NODE_DIR "/cluster_worker.js", "127.0.0.1", "0", NULL};
  const char *env[] = {"NODE_EXTRA_CA_CERTS", NULL};
  muster_cluster_options_t o = {0};
  o.settings.exec = "node";
  o.settings.args = args;
  o.settings.env = env;
  o.policy = policy;
  o.events.on_listening = on_listening;
  o.events.on_exit = on_exit_cb;
  o.events.on_online = on_online;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  n_want = 2;
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(n_online, 2);
  ASSERT_EQ(n_exits, 2);
  /* A Node worker told to disconnect closes its channel and exits 0. */
  ASSERT_EQ(exit_codes[0], 0);
  ASSERT_EQ(exit_codes[1], 0);
}

TEST_T(cluster_interop_node_worker_rr, 60) {
  node_workers(MUSTER_SCHED_RR);
}

TEST_T(cluster_interop_node_worker_shared, 60) {
  node_workers(MUSTER_SCHED_SHARED);
}

TEST_T(cluster_interop_node_worker_reuseport, 60) {
  node_workers(MUSTER_SCHED_REUSEPORT);
}

/* Least-connections with Node workers, which never report closes: served
 * as round-robin (see docs/cluster.md). */
TEST_T(cluster_interop_node_worker_leastconn, 60) {
  node_workers(MUSTER_SCHED_LEAST_CONN);
}

/* ---- a Node primary, C workers ------------------------------------------ */

static void node_primary(const char *policy) {
  const char *node = test_which("node");
  if (node == NULL)
    TEST_SKIP("node is not on PATH");
  char pol[64];
  snprintf(pol, sizeof pol, "NODE_CLUSTER_SCHED_POLICY=%s", policy);
  const char *env[] = {"NODE_EXTRA_CA_CERTS", pol, NULL};
  const char *argv[] = {
      "node", NODE_DIR "/cluster_primary.js", test_fixture_path(), "2", "20",
      NULL};
  muster_exec_options_t eo = {0};
  eo.spawn.env = env;
  eo.spawn.timeout_ms = 30000;
  muster_exec_result_t res;
  int r = muster_exec_file_sync("node", argv, &eo, &res);
  if (r != 0 || res.exit_status != 0)
    fprintf(stderr, "stdout: %s\nstderr: %s\n", res.stdout_buf, res.stderr_buf);
  ASSERT_OK(r);
  ASSERT_EQ(res.exit_status, 0);
  json_error_t je;
  json_t *out = json_loads(res.stdout_buf, 0, &je);
  ASSERT(out != NULL);
  json_t *workers = json_object_get(out, "workers");
  json_t *answers = json_object_get(out, "answers");
  json_t *exits = json_object_get(out, "exits");
  ASSERT_EQ(json_array_size(workers), 2);
  ASSERT_EQ(json_array_size(answers), 20);
  size_t i;
  json_t *v;
  int served[2] = {0, 0};
  json_array_foreach(answers, i, v) {
    json_int_t pid = json_integer_value(v);
    if (pid == json_integer_value(json_array_get(workers, 0)))
      served[0]++;
    else if (pid == json_integer_value(json_array_get(workers, 1)))
      served[1]++;
    else
      TEST_FAIL("answer %lld from no worker", (long long)pid);
  }
  if (strcmp(policy, "rr") == 0) {
    ASSERT_EQ(served[0], 10); /* Node's round-robin, one at a time */
    ASSERT_EQ(served[1], 10);
  }
  /* cluster.disconnect(): each C worker closed its channel and exited 0. */
  ASSERT_EQ(json_array_size(exits), 2);
  json_array_foreach(exits, i, v) {
    ASSERT_EQ(json_integer_value(json_array_get(v, 0)), 0);
    ASSERT(json_is_true(json_array_get(v, 2)));
  }
  json_decref(out);
  muster_exec_result_free(&res);
}

TEST_T(cluster_interop_node_primary_rr, 60) {
  node_primary("rr");
}

TEST_T(cluster_interop_node_primary_none, 60) {
  node_primary("none");
}

/* ---- Node workers: restart after kill -9, rolling reload under load -------
 */

static int r_listening, r_status = 1, r_killed;
static uv_timer_t r_timer;

static void r_after(uv_timer_t *t) {
  uv_close((uv_handle_t *)t, NULL);
  client.stop = 1;
}

static void r_reloaded(muster_cluster_t *c, int status, void *arg) {
  (void)arg;
  r_status = status;
  uv_timer_init(muster_cluster_loop(c), &r_timer);
  uv_timer_start(&r_timer, r_after, 300, 0);
}

static void r_done(uv_async_t *a) {
  tc_client_join(&client);
  uv_close((uv_handle_t *)a, NULL);
  muster_cluster_close(cl, NULL);
}

static void r_listening_cb(muster_cluster_t *c, muster_worker_t *w,
                           const muster_worker_address_t *a) {
  the_port = a->port;
  r_listening++;
  if (r_listening == 1) {
    /* kill -9 the first Node worker: the slot restarts it */
    r_killed = muster_worker_pid(w);
    ASSERT_OK(kill(r_killed, SIGKILL));
  } else if (r_listening == 3) {
    ASSERT_NE(muster_worker_pid(w), r_killed);
    memset(&client, 0, sizeof client);
    client.addr = "127.0.0.1";
    client.port = the_port;
    client.http = 1;
    client.done = &done_async;
    tc_client_start(&client);
    ASSERT_OK(muster_cluster_reload(c, r_reloaded, NULL));
  }
}

TEST_T(cluster_interop_node_restart_reload, 90) {
  const char *node = test_which("node");
  if (node == NULL)
    TEST_SKIP("node is not on PATH");
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_async_init(&loop, &done_async, r_done));
  const char *args[] = {NODE_DIR "/cluster_worker.js", "127.0.0.1", "0", NULL};
  const char *env[] = {"NODE_EXTRA_CA_CERTS", NULL};
  muster_cluster_options_t o = {0};
  o.settings.exec = "node";
  o.settings.args = args;
  o.settings.env = env;
  o.supervise.backoff_base_ms = 10;
  o.events.on_listening = r_listening_cb;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 80000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_OK(r_status);
  ASSERT_EQ(client.failures, 0);
  ASSERT_GE(client.made, 5);
}

/* ---- the C primary dies: Node workers leave by themselves -----------------
 */

static muster_child_t *pchild;
static char pout[512];
static size_t pout_len;
static int wpids[2], p_signo, pserved;
static int64_t pstatus;
static int pterm;
static uint64_t pkilled_at, pgone_after;

static void p_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  if (slot != 1 || len == 0 || pout_len + len >= sizeof pout)
    return;
  memcpy(pout + pout_len, buf, len);
  pout_len += len;
  pout[pout_len] = '\0';
  if (wpids[0] == 0 && strchr(pout, '\n')) {
    int port;
    ASSERT_EQ(sscanf(pout, "ready %d %d %d", &port, &wpids[0], &wpids[1]), 3);
    int pid = tc_http_request("127.0.0.1", port);
    pserved = pid == wpids[0] || pid == wpids[1];
    pkilled_at = test_now_ms();
    ASSERT_OK(muster_child_kill(c, p_signo));
  }
}

static void p_exit(muster_child_t *c, int64_t status, int sig) {
  (void)c;
  pstatus = status;
  pterm = sig;
  while (tc_alive(wpids[0]) || tc_alive(wpids[1])) {
    if (test_now_ms() - pkilled_at > 5000)
      TEST_FAIL("Node workers still alive 5 s after the primary died");
    usleep(5000);
  }
  pgone_after = test_now_ms() - pkilled_at;
}

static void p_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

static void primary_with_node_workers(int sig) {
  if (test_which("node") == NULL)
    TEST_SKIP("node is not on PATH");
  p_signo = sig;
  ASSERT_OK(uv_loop_init(&loop));
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_INHERIT, -1}};
  muster_spawn_options_t so = {0};
  so.stdio = stdio;
  so.stdio_count = 3;
  so.on_data = p_data;
  so.on_exit = p_exit;
  so.on_close = p_close;
  ASSERT_OK(muster_spawn(
      &loop, test_fixture_path(),
      test_fixture_argv("cluster_primary", "2", "node", "127.0.0.1", "0", NULL),
      &so, &pchild));
  test_run_loop(&loop, 30000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT(pserved);
}

TEST_T(cluster_interop_primary_sigkill_node_workers, 60) {
  primary_with_node_workers(SIGKILL);
  ASSERT_EQ(pterm, SIGKILL);
  /* Node's worker exits on the channel's end: process.exit(0). */
  ASSERT_LE(pgone_after, 1500);
}

TEST_T(cluster_interop_primary_sigterm_node_workers, 60) {
  primary_with_node_workers(SIGTERM);
  ASSERT_EQ(pterm, 0);
  ASSERT_EQ(pstatus, 0);
}
