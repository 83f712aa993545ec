/* Cluster: scheduling policies, with the test process as the primary and
 * the cluster_worker fixture as workers, over real sockets on loopback. */
#include "test-cluster.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_cluster_t *cl;
static int n_listening, n_want, the_port, n_exits, n_forks;
static uv_async_t done_async;
static tc_client_t client;
static void (*all_listening)(void);
static void (*client_done)(void);
static const char *c_addr = "127.0.0.1";
static int c_unix;
static int ports[8], nports;

static void on_listening(muster_cluster_t *c, muster_worker_t *w,
                         const muster_worker_address_t *a) {
  (void)c;
  (void)w;
  ports[nports++ % 8] = a->port;
  if (the_port == 0 || a->port != 0)
    the_port = a->port;
  if (++n_listening == n_want && all_listening)
    all_listening();
}

static void on_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                       int sig) {
  (void)c;
  (void)w;
  (void)code;
  (void)sig;
  n_exits++;
}

static void on_fork(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  (void)w;
  n_forks++;
}

static void done_cb(uv_async_t *a) {
  tc_client_join(&client);
  uv_close((uv_handle_t *)a, NULL);
  if (client_done)
    client_done();
}

static void start(muster_sched_t policy, int workers, const char *kind,
                  const char *addr, const char *port) {
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_async_init(&loop, &done_async, done_cb));
  static const char *args[8];
  args[0] = "cluster_worker";
  args[1] = kind;
  args[2] = addr;
  args[3] = port;
  args[4] = NULL;
  muster_cluster_options_t o = {0};
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.policy = policy;
  o.events.on_listening = on_listening;
  o.events.on_exit = on_exit_cb;
  o.events.on_fork = on_fork;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_EQ(muster_cluster_policy(cl), policy);
  n_want = workers;
  for (int i = 0; i < workers; i++)
    ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  c_addr = addr;
  c_unix = strcmp(kind, "unix") == 0;
}

static void finish(void) {
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
}

static void close_cluster(void) {
  muster_cluster_close(cl, NULL);
}

static void run_client(int n) {
  memset(&client, 0, sizeof client);
  client.addr = c_addr;
  client.port = c_unix ? -1 : the_port;
  client.n = n;
  client.done = &done_async;
  tc_client_start(&client);
}

/* ---- round-robin ----------------------------------------------------------
 */

static void rr_go(void) {
  run_client(100);
}

static void rr_check(void) {
  ASSERT_EQ(client.failures, 0);
  int total = 0;
  for (muster_worker_t *w = muster_cluster_next_worker(cl, NULL); w;
       w = muster_cluster_next_worker(cl, w)) {
    int n = tc_count(&client, muster_worker_pid(w));
    ASSERT_GE(n, 24);
    ASSERT_LE(n, 26);
    total += n;
  }
  ASSERT_EQ(total, 100);
  close_cluster();
}

TEST_T(cluster_rr_distribution, 60) {
  all_listening = rr_go;
  client_done = rr_check;
  start(MUSTER_SCHED_RR, 4, "tcp", "127.0.0.1", "0");
  finish();
  ASSERT_EQ(n_forks, 4);
  ASSERT_EQ(n_exits, 4);
  ASSERT_NE(the_port, 0);
}

/* ---- shared handle and reuseport: every connection served, spread ------- */

static void spread_check(void) {
  ASSERT_EQ(client.failures, 0);
  ASSERT_EQ(client.made, 100);
  int total = 0;
  for (muster_worker_t *w = muster_cluster_next_worker(cl, NULL); w;
       w = muster_cluster_next_worker(cl, w))
    total += tc_count(&client, muster_worker_pid(w));
  ASSERT_EQ(total, 100);
  close_cluster();
}

TEST_T(cluster_shared, 60) {
  all_listening = rr_go;
  client_done = spread_check;
  start(MUSTER_SCHED_SHARED, 3, "tcp", "127.0.0.1", "0");
  finish();
  ASSERT_EQ(n_exits, 3);
}

static void reuseport_check(void) {
  spread_check();
  /* The kernel hashes each connection to one of the sockets: with 100
   * connections over 2 workers, both get some. */
  ASSERT_EQ(client.failures, 0);
}

TEST_T(cluster_reuseport, 60) {
  all_listening = rr_go;
  client_done = reuseport_check;
  start(MUSTER_SCHED_REUSEPORT, 2, "tcp", "127.0.0.1", "0");
  finish();
  ASSERT_EQ(n_exits, 2);
}

/* ---- port 0, IPv6, Unix path, UDP -----------------------------------------
 */

TEST_T(cluster_port0_shared, 60) {
  all_listening = rr_go;
  client_done = spread_check;
  start(MUSTER_SCHED_RR, 3, "tcp", "127.0.0.1", "0");
  finish();
  /* listen(0) in every worker: one primary socket, the same port for all */
  ASSERT_EQ(nports, 3);
  ASSERT_NE(ports[0], 0);
  ASSERT_EQ(ports[1], ports[0]);
  ASSERT_EQ(ports[2], ports[0]);
}

TEST_T(cluster_ipv6, 60) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0)
    TEST_SKIP("no IPv6");
  close(fd);
  all_listening = rr_go;
  client_done = spread_check;
  start(MUSTER_SCHED_RR, 2, "tcp", "::1", "0");
  finish();
}

TEST_T(cluster_unix, 60) {
  static char path[128];
  snprintf(path, sizeof path, "/tmp/muster-cluster-%d.sock", (int)getpid());
  unlink(path);
  all_listening = rr_go;
  client_done = spread_check;
  start(MUSTER_SCHED_RR, 2, "unix", path, "0");
  finish();
  ASSERT_NE(access(path, F_OK), 0); /* the primary removed its socket */
}

TEST_T(cluster_unix_shared, 60) {
  static char path[128];
  snprintf(path, sizeof path, "/tmp/muster-cluster-s%d.sock", (int)getpid());
  unlink(path);
  all_listening = rr_go;
  client_done = spread_check;
  start(MUSTER_SCHED_SHARED, 2, "unix", path, "0");
  finish();
  ASSERT_NE(access(path, F_OK), 0);
}

static void udp_go(void) {
  int pid = tc_udp_request("127.0.0.1", the_port);
  ASSERT(pid > 0);
  int found = 0;
  for (muster_worker_t *w = muster_cluster_next_worker(cl, NULL); w;
       w = muster_cluster_next_worker(cl, w))
    found += muster_worker_pid(w) == pid;
  ASSERT_EQ(found, 1);
  uv_close((uv_handle_t *)&done_async, NULL);
  close_cluster();
}

TEST_T(cluster_udp, 60) {
  all_listening = udp_go;
  start(MUSTER_SCHED_RR, 2, "udp", "127.0.0.1", "0");
  finish();
  ASSERT_EQ(n_exits, 2);
}

/* ---- bad arguments
 * ------------------------------------------------------------ */

TEST(cluster_bad_args) {
  uv_loop_t l;
  ASSERT_OK(uv_loop_init(&l));
  muster_cluster_t *c = NULL;
  muster_cluster_options_t o = {0};
  ASSERT_ERR(muster_cluster_create(NULL, &o, &c), MUSTER_EINVAL);
  ASSERT_ERR(muster_cluster_create(&l, &o, NULL), MUSTER_EINVAL);
  o.supervise.backoff_factor = 0.5; /* below 1 */
  ASSERT_ERR(muster_cluster_create(&l, &o, &c), MUSTER_EINVAL);
  o.supervise.backoff_factor = 0;
  o.policy = (muster_sched_t)42;
  ASSERT_ERR(muster_cluster_create(&l, &o, &c), MUSTER_EINVAL);
  o.policy = 0;
  /* A program that does not exist: fork fails, nothing is left. */
  o.settings.exec = "/nonexistent/muster-worker";
  ASSERT_OK(muster_cluster_create(&l, &o, &c));
  ASSERT_ERR(muster_cluster_fork(c, NULL, NULL), MUSTER_ENOENT);
  ASSERT_EQ(muster_cluster_worker_count(c), 0);
  ASSERT(muster_cluster_worker(c, 1) == NULL);
  muster_cluster_close(c, NULL);
  ASSERT_ERR(muster_cluster_fork(c, NULL, NULL), MUSTER_ECANCELED);
  uv_run(&l, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&l));
  /* Not a worker: this test process has no NODE_UNIQUE_ID. */
  ASSERT(muster_cluster_is_primary());
  ASSERT(!muster_cluster_is_worker());
  muster_cluster_worker_t *w;
  ASSERT_OK(uv_loop_init(&l));
  ASSERT_ERR(muster_cluster_worker_open(&l, NULL, &w), MUSTER_ENOTCONN);
  /* A local server needs no cluster at all. */
  muster_server_options_t so = {0};
  so.listen.address = "127.0.0.1";
  muster_server_t *s;
  ASSERT_ERR(muster_cluster_listen(&l, NULL, &so, &s), MUSTER_EINVAL);
  ASSERT_OK(uv_loop_close(&l));
}

TEST(cluster_sched_env) {
  setenv("MUSTER_SCHED_POLICY", "leastconn", 1);
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_LEAST_CONN);
  setenv("MUSTER_SCHED_POLICY", "none", 1);
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_SHARED);
  setenv("MUSTER_SCHED_POLICY", "reuseport", 1);
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_REUSEPORT);
  unsetenv("MUSTER_SCHED_POLICY");
  setenv("NODE_CLUSTER_SCHED_POLICY", "none", 1);
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_SHARED);
  setenv("NODE_CLUSTER_SCHED_POLICY", "bogus", 1);
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_RR);
  unsetenv("NODE_CLUSTER_SCHED_POLICY");
  ASSERT_EQ(muster_cluster_sched_from_env(), MUSTER_SCHED_RR);
  ASSERT_STR_EQ(muster_sched_name(MUSTER_SCHED_LEAST_CONN), "leastconn");
}

/* ---- a local server (primary, exclusive, or no cluster at all)
 * ---------------- */

static int local_conns, local_listened, local_closed;
static muster_server_t *local_server;
static pthread_t local_thread;
static int local_port, local_answer;

static void *local_client(void *arg) {
  (void)arg;
  local_answer = tc_request("127.0.0.1", local_port, "x\n", NULL);
  return NULL;
}

static void local_conn(muster_server_t *s, int fd) {
  local_conns++;
  ASSERT_EQ(muster_server_connections(s), 1);
  char buf[16];
  while (read(fd, buf, sizeof buf) < 0)
    ;
  ASSERT(write(fd, "7\n", 2) == 2);
  close(fd);
  muster_server_connection_closed(s);
  muster_server_close(s, NULL);
}

static void local_listening(muster_server_t *s, int status) {
  ASSERT_OK(status);
  local_listened++;
  char addr[64];
  ASSERT_OK(muster_server_address(s, addr, sizeof addr, &local_port));
  ASSERT_STR_EQ(addr, "127.0.0.1");
  ASSERT(muster_server_fd(s) >= 0);
  ASSERT(muster_server_key(s) == NULL);
  ASSERT_EQ(muster_server_mode(s), MUSTER_SCHED_SHARED);
  ASSERT_OK(-pthread_create(&local_thread, NULL, local_client, NULL));
}

TEST(cluster_local_server) {
  uv_loop_t l;
  ASSERT_OK(uv_loop_init(&l));
  muster_server_options_t so = {0};
  so.listen.address = "127.0.0.1";
  so.on_connection = local_conn;
  so.on_listening = local_listening;
  ASSERT_OK(muster_cluster_listen(&l, NULL, &so, &local_server));
  test_run_loop(&l, 10000);
  pthread_join(local_thread, NULL);
  ASSERT_OK(uv_loop_close(&l));
  ASSERT_EQ(local_listened, 1);
  ASSERT_EQ(local_conns, 1);
  ASSERT_EQ(local_answer, 7);
  (void)local_closed;
}

/* ---- silent workers: their output comes to on_output
 * -------------------------- */

static char silent_out[256];
static size_t silent_len;

static void on_output(muster_cluster_t *c, muster_worker_t *w, int slot,
                      const char *buf, size_t len) {
  (void)c;
  (void)w;
  if (slot == 1 && len > 0 && silent_len + len < sizeof silent_out) {
    memcpy(silent_out + silent_len, buf, len);
    silent_len += len;
  }
}

static void silent_exit(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                        int sig) {
  (void)w;
  ASSERT_EQ(code, 0);
  ASSERT_EQ(sig, 0);
  muster_cluster_close(c, NULL);
}

TEST(cluster_silent_output) {
  uv_loop_t l;
  ASSERT_OK(uv_loop_init(&l));
  static const char *args[] = {"-c", "echo worker $NODE_UNIQUE_ID", NULL};
  muster_cluster_options_t o = {0};
  o.settings.exec = "/bin/sh";
  o.settings.args = args;
  o.settings.silent = 1;
  o.supervise.restart = MUSTER_RESTART_NEVER;
  o.events.on_output = on_output;
  o.events.on_exit = silent_exit;
  muster_cluster_t *c;
  ASSERT_OK(muster_cluster_create(&l, &o, &c));
  ASSERT_OK(muster_cluster_fork(c, NULL, NULL));
  test_run_loop(&l, 10000);
  ASSERT_OK(uv_loop_close(&l));
  silent_out[silent_len] = '\0';
  ASSERT_STR_EQ(silent_out, "worker 1\n");
}

/* ---- many clients at once: the primary's queue
 * -------------------------------- */

static tc_client_t many[4];
static uv_async_t many_async;

static void many_cb(uv_async_t *a) {
  (void)a;
  /* Wake-ups merge: count the threads that finished. */
  int finished = 0;
  for (int i = 0; i < 4; i++)
    finished += __atomic_load_n(&many[i].finished, __ATOMIC_ACQUIRE);
  if (finished < 4)
    return;
  for (int i = 0; i < 4; i++)
    tc_client_join(&many[i]);
  uv_close((uv_handle_t *)&many_async, NULL);
  uv_close((uv_handle_t *)&done_async, NULL);
  close_cluster();
}

static void many_go(void) {
  ASSERT_OK(uv_async_init(&loop, &many_async, many_cb));
  for (int i = 0; i < 4; i++) {
    memset(&many[i], 0, sizeof many[i]);
    many[i].addr = "127.0.0.1";
    many[i].port = the_port;
    many[i].n = 100;
    many[i].done = &many_async;
    tc_client_start(&many[i]);
  }
}

TEST_T(cluster_rr_concurrent, 60) {
  all_listening = many_go;
  start(MUSTER_SCHED_RR, 3, "tcp", "127.0.0.1", "0");
  finish();
  int total = 0;
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(many[i].failures, 0);
    total += many[i].made;
  }
  ASSERT_EQ(total, 400);
}

static void many_check(void) {
  int total = 0;
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(many[i].failures, 0);
    total += many[i].made;
  }
  ASSERT_EQ(total, 400);
}

TEST_T(cluster_leastconn_concurrent, 60) {
  all_listening = many_go;
  start(MUSTER_SCHED_LEAST_CONN, 3, "tcp", "127.0.0.1", "0");
  finish();
  many_check();
}

TEST_T(cluster_shared_concurrent, 60) {
  all_listening = many_go;
  start(MUSTER_SCHED_SHARED, 3, "tcp", "127.0.0.1", "0");
  finish();
  many_check();
}
