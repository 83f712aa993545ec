/* Cluster: the primary's bytes on the wire, checked line by line against
 * Node's own (NODE-WIRE.md §4.3) by a scripted raw worker. */
#include "test-cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_cluster_t *cl;
static int port, answer, exit_code = -1, n_listening;
static uv_async_t done_async;
static pthread_t th;
static muster_worker_t *worker;

static void *client(void *arg) {
  (void)arg;
  answer = tc_request("127.0.0.1", port, "x\n", NULL);
  uv_async_send(&done_async);
  return NULL;
}

static void done_cb(uv_async_t *a) {
  pthread_join(th, NULL);
  uv_close((uv_handle_t *)a, NULL);
  ASSERT_OK(muster_worker_disconnect(worker));
}

static void on_listening(muster_cluster_t *c, muster_worker_t *w,
                         const muster_worker_address_t *a) {
  (void)c;
  n_listening++;
  worker = w;
  port = a->port;
  ASSERT_STR_EQ(a->key, "127.0.0.1:0:4:undefined:0");
  ASSERT_OK(-pthread_create(&th, NULL, client, NULL));
}

static void on_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                       int sig) {
  ASSERT_EQ(sig, 0);
  exit_code = (int)code;
  ASSERT(muster_worker_exited_after_disconnect(w));
  muster_cluster_close(c, NULL);
}

TEST_T(cluster_wire_transcript, 30) {
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_async_init(&loop, &done_async, done_cb));
  static const char *args[] = {"cluster_raw_worker", NULL};
  muster_cluster_options_t o = {0};
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.policy = MUSTER_SCHED_RR;
  o.events.on_listening = on_listening;
  o.events.on_exit = on_exit_cb;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(n_listening, 1);
  ASSERT(answer > 0);
  ASSERT_EQ(exit_code, 0);
}

/* ---- malformed and unexpected messages from a worker ------------------------
 */

static int g_exit = -1, g_errors;

static void g_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                      int sig) {
  (void)w;
  g_exit = (int)code + 1000 * sig;
  muster_cluster_close(c, NULL);
}

static void g_error(muster_cluster_t *c, muster_worker_t *w, int err) {
  (void)c;
  (void)w;
  (void)err;
  g_errors++;
}

static void raw_run(const char *name) {
  ASSERT_OK(uv_loop_init(&loop));
  static const char *args[2];
  args[0] = name;
  args[1] = NULL;
  muster_cluster_options_t o = {0};
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.supervise.restart = MUSTER_RESTART_NEVER;
  o.events.on_exit = g_exit_cb;
  o.events.on_error = g_error;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST_T(cluster_wire_garbage, 30) {
  raw_run("cluster_raw_garbage");
  ASSERT_EQ(g_exit, 0);
}

TEST_T(cluster_wire_bad_address, 30) {
  raw_run("cluster_raw_badaddr");
  ASSERT_EQ(g_exit, 0);
  ASSERT_GE(g_errors, 1); /* the bind error, reported to on_error too */
}

/* Numbers out of range from a worker are refused with EPROTO (each one
 * reported to on_error), never cast; no Unix socket named after the
 * address appears in the working directory. */
TEST_T(cluster_wire_bignum, 30) {
  raw_run("cluster_raw_bignum");
  ASSERT_EQ(g_exit, 0);
  ASSERT_GE(g_errors, 4);
  ASSERT(access("127.0.0.1", F_OK) != 0);
}

/* ---- hand-offs in flight
 * ------------------------------------------------------ A worker that answers
 * its first newconn and no other shows how many the primary keeps unanswered:
 * one for a Node worker (Node's rule), up to 8 for a muster worker that has
 * just answered (docs/cluster.md). 12 connections wait in the primary
 * meanwhile. */

static int inflight_exit = -1, inflight_port;
static int inflight_fds[12];

/* Connects without waiting for any answer: the primary accepts it. */
static int connect_only(int p) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)p),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static void *inflight_clients(void *arg) {
  (void)arg;
  for (int i = 0; i < 12; i++)
    inflight_fds[i] = connect_only(inflight_port);
  return NULL;
}

static void inflight_listening(muster_cluster_t *c, muster_worker_t *w,
                               const muster_worker_address_t *a) {
  (void)c;
  (void)w;
  inflight_port = a->port;
  ASSERT_OK(-pthread_create(&th, NULL, inflight_clients, NULL));
}

static void inflight_exit_cb(muster_cluster_t *c, muster_worker_t *w,
                             int64_t code, int sig) {
  (void)w;
  ASSERT_EQ(sig, 0);
  inflight_exit = (int)code;
  muster_cluster_close(c, NULL);
}

static int run_inflight(const char *kind) {
  ASSERT_OK(uv_loop_init(&loop));
  static const char *args[3];
  args[0] = "cluster_raw_inflight";
  args[1] = kind;
  args[2] = NULL;
  muster_cluster_options_t o = {0};
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.policy = MUSTER_SCHED_RR;
  o.supervise.restart = MUSTER_RESTART_NEVER;
  o.events.on_listening = inflight_listening;
  o.events.on_exit = inflight_exit_cb;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 30000);
  pthread_join(th, NULL);
  for (int i = 0; i < 12; i++)
    if (inflight_fds[i] >= 0)
      close(inflight_fds[i]);
  ASSERT_OK(uv_loop_close(&loop));
  return inflight_exit;
}

TEST_T(cluster_wire_inflight_node_worker, 40) {
  ASSERT_EQ(run_inflight("node"), 1 + 1);
}

TEST_T(cluster_wire_inflight_muster_worker, 40) {
  ASSERT_EQ(run_inflight("muster"), 1 + 8);
}
