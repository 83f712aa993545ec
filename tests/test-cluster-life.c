/* Cluster: worker lifecycle, restarts, crash-loop guard, primary death,
 * least-connections, graceful disconnect and rolling reload. */
#include "test-cluster.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static muster_cluster_t *cl;
static int n_listening, n_exits, n_forks, n_errored, the_port;
static int64_t last_code = -1;
static int last_sig = -1;
static muster_supervise_reason_t errored_reason;
static void (*on_listen_hook)(muster_worker_t *w);
static void (*on_exit_hook)(muster_worker_t *w);
static void (*on_fork_hook)(muster_worker_t *w);

static void ev_listening(muster_cluster_t *c, muster_worker_t *w,
                         const muster_worker_address_t *a) {
  (void)c;
  the_port = a->port;
  n_listening++;
  if (on_listen_hook)
    on_listen_hook(w);
}

static void ev_exit(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                    int sig) {
  (void)c;
  last_code = code;
  last_sig = sig;
  if (getenv("TDEBUG"))
    fprintf(stderr, "exit pid %d code %d sig %d\n", muster_worker_pid(w),
            (int)code, sig);
  n_exits++;
  if (on_exit_hook)
    on_exit_hook(w);
}

static void ev_fork(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  n_forks++;
  if (on_fork_hook)
    on_fork_hook(w);
}

static void ev_errored(muster_cluster_t *c, muster_worker_t *w,
                       muster_supervise_reason_t reason, int err) {
  (void)c;
  (void)w;
  (void)err;
  n_errored++;
  errored_reason = reason;
}

static void setup(muster_cluster_options_t *o, const char *const *args) {
  ASSERT_OK(uv_loop_init(&loop));
  o->settings.exec = test_fixture_path();
  o->settings.args = args;
  o->events.on_listening = ev_listening;
  o->events.on_exit = ev_exit;
  o->events.on_fork = ev_fork;
  o->events.on_errored = ev_errored;
  ASSERT_OK(muster_cluster_create(&loop, o, &cl));
}

static void run(void) {
  test_run_loop(&loop, 100000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Clients block: they run on a thread while the loop (the primary) runs.
 * The thread wakes the loop with step_async; the loop wakes the thread by
 * setting `go`. */
static uv_async_t step_async;
static _Atomic int go; /* written by the loop thread, read by the client */
static pthread_t th;
static void (*step_fn)(void);

static void step_cb(uv_async_t *a) {
  (void)a;
  if (step_fn)
    step_fn();
}

static void wait_go(int v) {
  while (go < v)
    usleep(1000);
}

static void thread_start(void *(*fn)(void *)) {
  ASSERT_OK(uv_async_init(&loop, &step_async, step_cb));
  ASSERT_OK(-pthread_create(&th, NULL, fn, NULL));
}

static void thread_done(void) {
  pthread_join(th, NULL);
  uv_close((uv_handle_t *)&step_async, NULL);
}

static const char *tcp_args[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                                 NULL};

/* ---- kill -9 of a worker: a replacement listens ----------------------------
 */

static int killed_pid, k9_answer;

static void *k9_thread(void *arg) {
  (void)arg;
  wait_go(1);
  k9_answer = tc_request("127.0.0.1", the_port, "x\n", NULL);
  uv_async_send(&step_async);
  return NULL;
}

static void k9_done(void) {
  thread_done();
  muster_cluster_close(cl, NULL);
}

static void k9_listen(muster_worker_t *w) {
  if (n_listening == 2) {
    killed_pid = muster_worker_pid(w);
    ASSERT_OK(kill(killed_pid, SIGKILL));
  } else if (n_listening == 3) {
    /* the replacement: a new id, serving on the same port */
    ASSERT_EQ(muster_worker_id(w), 3);
    go = 1;
  }
}

TEST_T(cluster_kill9_restart, 60) {
  muster_cluster_options_t o = {0};
  o.supervise.backoff_base_ms = 10;
  on_listen_hook = k9_listen;
  step_fn = k9_done;
  setup(&o, tcp_args);
  thread_start(k9_thread);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT(k9_answer > 0);
  ASSERT_NE(k9_answer, killed_pid);
  ASSERT_EQ(n_forks, 3);
  ASSERT_EQ(n_exits, 3);
}

/* ---- a worker dies before taking a queued connection ------------------------
 */

static int stopped_pid, other_pid, answers[2];

static void q_listen(muster_worker_t *w) {
  if (n_listening < 2)
    return;
  (void)w;
  muster_worker_t *a = muster_cluster_next_worker(cl, NULL);
  muster_worker_t *b = muster_cluster_next_worker(cl, a);
  stopped_pid = muster_worker_pid(a);
  other_pid = muster_worker_pid(b);
  /* The stopped worker cannot answer its hand-off: the connection waits in
   * flight until the worker dies, then another worker gets it. */
  ASSERT_OK(kill(stopped_pid, SIGSTOP));
}

static uv_timer_t q_timer;
static int q_phase;
/* Set by the client thread when both requests are answered: the loop must
 * not join it before, since the answers need the loop (a join while a
 * request still waited for its accept or its hand-off blocked the loop
 * until the client's 10 s timeout: seen under ASan at load 11). */
static _Atomic int q_client_done;

static void *q_client(void *arg) {
  (void)arg;
  for (int i = 0; i < 2; i++)
    answers[i] = tc_request("127.0.0.1", the_port, "x\n", NULL);
  q_client_done = 1;
  return NULL;
}

static pthread_t q_thread;

static void q_tick(uv_timer_t *t) {
  if (q_phase == 0 && n_listening >= 2) {
    q_phase = 1;
    ASSERT_OK(-pthread_create(&q_thread, NULL, q_client, NULL));
    uv_timer_start(t, q_tick, 300, 0);
    return;
  }
  if (q_phase == 1) {
    q_phase = 2;
    kill(stopped_pid, SIGKILL);
    uv_timer_start(t, q_tick, 50, 50);
    return;
  }
  if (q_phase == 2 && n_exits >= 1 && q_client_done) {
    pthread_join(q_thread, NULL);
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    muster_cluster_close(cl, NULL);
    return;
  }
  if (q_phase == 0)
    uv_timer_start(t, q_tick, 20, 0);
}

TEST_T(cluster_inflight_redistributed, 60) {
  muster_cluster_options_t o = {0};
  o.supervise.restart = MUSTER_RESTART_NEVER;
  on_listen_hook = q_listen;
  setup(&o, tcp_args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  uv_timer_init(&loop, &q_timer);
  uv_timer_start(&q_timer, q_tick, 20, 0);
  run();
  /* Both connections answered, by the worker that was not stopped: the one
   * handed to the stopped worker went back to the queue when it died. */
  ASSERT_EQ(answers[0], other_pid);
  ASSERT_EQ(answers[1], other_pid);
}

/* ---- crash-loop guard
 * -------------------------------------------------------- */

TEST_T(cluster_crash_loop, 60) {
  static const char *args[] = {"cluster_exit", "3", NULL};
  muster_cluster_options_t o = {0};
  o.supervise.backoff_base_ms = 1;
  o.supervise.crash_limit = 3;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  test_run_loop(&loop, 30000); /* ends once the slot gave up */
  ASSERT_EQ(n_errored, 1);
  ASSERT_EQ(errored_reason, MUSTER_SUPERVISE_CRASH_LOOP);
  ASSERT_EQ(n_forks, 4); /* the first start and 3 automatic restarts */
  ASSERT_EQ(n_exits, 4);
  ASSERT_EQ(muster_cluster_worker_count(cl), 0);
  muster_cluster_close(cl, NULL);
  run();
}

/* ---- fds stay the same after 200 restarts
 * ------------------------------------ */

/* 200 restarts: one fd leaked per restart would show 200 times over, and
 * the test stays well inside its time under ASan on a loaded machine (500
 * took 68-112 s there, one exec of the sanitized test binary each). */
#define RESTARTS 200
static int fd_before, fd_at_end;

static void restarts_fork(muster_worker_t *w) {
  (void)w;
  if (n_forks == 2)
    fd_before = test_fd_count();
  if (n_forks == 2 + RESTARTS) {
    fd_at_end = test_fd_count();
    muster_cluster_close(cl, NULL);
  }
}

TEST_T(cluster_fd_count_restarts, 120) {
  static const char *args[] = {"cluster_exit", "1", NULL};
  muster_cluster_options_t o = {0};
  o.supervise.backoff_base_ms = 1;
  o.supervise.backoff_factor = 1;
  o.supervise.backoff_max_ms = 1;
  o.supervise.crash_limit = 1000;
  o.supervise.crash_window_ms = 1;
  on_fork_hook = restarts_fork;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  int after = 0;
  test_run_loop(&loop, 110000);
  after = test_fd_count();
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_GE(n_forks, 2 + RESTARTS);
  ASSERT_EQ(n_errored, 0);
  /* After close everything of the cluster is gone; while it ran, the fd
   * count between restart 1 and the last did not grow. */
  ASSERT_LE(after, fd_before);
  ASSERT_EQ(fd_at_end, fd_before);
}

/* ---- least-connections
 * -------------------------------------------------------- */

static int hold_fd = -1;
/* Set by a client thread, read on the loop after uv_async_send(): atomic,
 * because the async handle's wake-up is inside libuv, unseen by TSan. */
static _Atomic int hold_pid;
static int lc_answers[10];

static void lc_listen(muster_worker_t *w) {
  (void)w;
  if (n_listening == 2)
    go = 1;
}

static void *lc_thread(void *arg) {
  (void)arg;
  wait_go(1);
  /* A connection held open on one worker... */
  hold_pid = tc_request("127.0.0.1", the_port, "hold\n", &hold_fd);
  /* ...so every new one goes to the idle worker (give the worker's
   * accepted reply a moment to reach the primary). */
  usleep(100000);
  for (int i = 0; i < 10; i++) {
    lc_answers[i] = tc_request("127.0.0.1", the_port, "x\n", NULL);
    /* The worker reports the close over its channel; a connection the
     * primary accepts before that report arrives sees a tie. */
    usleep(30000);
  }
  close(hold_fd);
  uv_async_send(&step_async);
  return NULL;
}

static void lc_done(void) {
  thread_done();
  muster_cluster_close(cl, NULL);
}

TEST_T(cluster_least_conn, 60) {
  muster_cluster_options_t o = {0};
  o.policy = MUSTER_SCHED_LEAST_CONN;
  on_listen_hook = lc_listen;
  step_fn = lc_done;
  setup(&o, tcp_args);
  thread_start(lc_thread);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT(hold_pid > 0);
  for (int i = 0; i < 10; i++) {
    ASSERT(lc_answers[i] > 0);
    ASSERT_NE(lc_answers[i], hold_pid);
  }
}

/* ---- a disconnecting worker gets no new connections
 * --------------------------- */

static int d_answers[10], d_alive;

static void *d_thread(void *arg) {
  (void)arg;
  wait_go(1);
  hold_pid = tc_request("127.0.0.1", the_port, "hold\n", &hold_fd);
  usleep(100000);
  uv_async_send(&step_async); /* the loop disconnects that worker */
  wait_go(2);
  for (int i = 0; i < 10; i++)
    d_answers[i] = tc_request("127.0.0.1", the_port, "x\n", NULL);
  d_alive = tc_alive(hold_pid);
  close(hold_fd);
  return NULL;
}

static void d_step(void) {
  muster_worker_t *held = NULL;
  for (muster_worker_t *w = muster_cluster_next_worker(cl, NULL); w;
       w = muster_cluster_next_worker(cl, w))
    if (muster_worker_pid(w) == hold_pid)
      held = w;
  ASSERT(held != NULL);
  ASSERT_OK(muster_worker_disconnect(held));
  go = 2;
}

static void d_exit(muster_worker_t *w) {
  if (muster_worker_pid(w) == hold_pid) {
    /* It drained its held connection, then left by choice: no restart. */
    ASSERT(muster_worker_exited_after_disconnect(w));
    thread_done();
    muster_cluster_close(cl, NULL);
  }
}

TEST_T(cluster_disconnecting_no_new, 60) {
  muster_cluster_options_t o = {0};
  on_listen_hook = lc_listen;
  on_exit_hook = d_exit;
  step_fn = d_step;
  setup(&o, tcp_args);
  thread_start(d_thread);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT(d_alive); /* it stayed while its connection was open */
  for (int i = 0; i < 10; i++) {
    ASSERT(d_answers[i] > 0);
    ASSERT_NE(d_answers[i], hold_pid);
  }
  ASSERT_EQ(n_forks, 2);
}

/* ---- a worker announces it is leaving
 * ----------------------------------------- */

static int leave_first_pid, leave_old_signal = -1, leave_new_listening;

static void lv_listen(muster_worker_t *w) {
  if (n_listening == 1) {
    leave_first_pid = muster_worker_pid(w);
    /* Its replacement runs the plain worker. */
    muster_cluster_settings_t s = {0};
    s.exec = test_fixture_path();
    s.args = tcp_args;
    ASSERT_OK(muster_cluster_setup(cl, &s));
  } else {
    leave_new_listening = 1;
  }
}

static void lv_exit(muster_worker_t *w) {
  if (muster_worker_pid(w) != leave_first_pid)
    return;                    /* the replacement, at the close */
  leave_old_signal = last_sig; /* the stop signal, after the drain time */
  ASSERT(muster_worker_exited_after_disconnect(w));
  ASSERT(leave_new_listening); /* the replacement came first */
  muster_cluster_close(cl, NULL);
}

static void lv_exit_sig(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                        int sig) {
  (void)c;
  (void)code;
  if (muster_worker_pid(w) == leave_first_pid)
    leave_old_signal = sig;
  ev_exit(c, w, code, sig);
}

TEST_T(cluster_leaving, 60) {
  static const char *args[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                               "leave",          NULL};
  muster_cluster_options_t o = {0};
  o.supervise.kill_timeout_ms = 300;
  on_listen_hook = lv_listen;
  on_exit_hook = lv_exit;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_EQ(n_forks, 2);
  ASSERT_EQ(leave_old_signal, SIGTERM);
  (void)lv_exit_sig;
}

/* ---- a worker disconnects itself: not restarted
 * -------------------------------- */

static int64_t sd_code = -1;

static void sd_exit(muster_worker_t *w) {
  ASSERT(muster_worker_exited_after_disconnect(w));
  muster_cluster_close(cl, NULL);
}

static void sd_exit_code(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                         int sig) {
  sd_code = code + 1000 * sig;
  ev_exit(c, w, code, sig);
}

TEST_T(cluster_worker_self_disconnect, 60) {
  static const char *args[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                               "selfdisc",       NULL};
  muster_cluster_options_t o = {0};
  on_exit_hook = sd_exit;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_EQ(n_forks, 1);
  ASSERT_EQ(n_listening, 1);
  ASSERT_EQ(last_code, 0);
  ASSERT_EQ(last_sig, 0);
  (void)sd_exit_code;
}

/* ---- the primary cannot bind: the worker gets the errno
 * ------------------------ */

static int bind_err, le_code = -1;

static void le_error(muster_cluster_t *c, muster_worker_t *w, int err) {
  (void)c;
  (void)w;
  bind_err = err;
}

static void le_exit(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                    int sig) {
  (void)w;
  (void)sig;
  le_code = (int)code;
  muster_cluster_close(c, NULL);
}

TEST_T(cluster_listen_error, 30) {
  muster_listen_options_t lo = {0};
  lo.address = "127.0.0.1";
  int busy;
  ASSERT_OK(muster_listen(&lo, &busy));
  int port;
  ASSERT_OK(muster_listen_address(busy, NULL, 0, &port));
  char pbuf[16];
  snprintf(pbuf, sizeof pbuf, "%d", port);
  const char *args[] = {"cluster_worker", "tcp", "127.0.0.1", pbuf, NULL};
  muster_cluster_options_t o = {0};
  o.supervise.restart = MUSTER_RESTART_NEVER;
  o.events.on_error = le_error;
  o.events.on_exit = le_exit;
  ASSERT_OK(uv_loop_init(&loop));
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  close(busy);
  ASSERT_ERR(bind_err, MUSTER_EADDRINUSE);
  ASSERT_EQ(le_code, 3); /* the fixture's "listen failed" */
}

/* ---- muster_cluster_disconnect: every worker, then the callback
 * ----------------- */

static int disc_status = 1;

static void disc_cb(muster_cluster_t *c, int status, void *arg) {
  (void)arg;
  disc_status = status;
  ASSERT_EQ(muster_cluster_worker_count(c), 0);
  muster_cluster_close(c, NULL);
}

static void disc_listen(muster_worker_t *w) {
  (void)w;
  if (n_listening == 3)
    ASSERT_OK(muster_cluster_disconnect(cl, disc_cb, NULL));
}

TEST_T(cluster_disconnect_all, 60) {
  muster_cluster_options_t o = {0};
  on_listen_hook = disc_listen;
  setup(&o, tcp_args);
  for (int i = 0; i < 3; i++)
    ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_OK(disc_status);
  ASSERT_EQ(n_exits, 3);
  ASSERT_EQ(n_forks, 3);
}

/* ---- explicit readiness
 * ------------------------------------------------------- */

static uv_timer_t er_timer;
static int er_ready;

static void er_tick(uv_timer_t *t) {
  muster_worker_t *w = muster_cluster_next_worker(cl, NULL);
  if (w && muster_worker_is_ready(w)) {
    er_ready = 1;
    uv_close((uv_handle_t *)t, NULL);
    muster_cluster_close(cl, NULL);
  }
}

TEST_T(cluster_explicit_ready, 30) {
  static const char *args[] = {"cluster_worker", "none", "-", "0",
                               "ready",          NULL};
  muster_cluster_options_t o = {0};
  o.flags = MUSTER_CLUSTER_EXPLICIT_READY;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(uv_timer_init(&loop, &er_timer));
  ASSERT_OK(uv_timer_start(&er_timer, er_tick, 10, 10));
  run();
  ASSERT(er_ready);
}

static int nr_err;

static void nr_errored(muster_cluster_t *c, muster_worker_t *w,
                       muster_supervise_reason_t reason, int err) {
  (void)w;
  ASSERT_EQ(reason, MUSTER_SUPERVISE_START_FAILED);
  nr_err = err;
  muster_cluster_close(c, NULL);
}

TEST_T(cluster_ready_timeout, 30) {
  /* A worker that never says it is ready is stopped, never "ready anyway". */
  static const char *args[] = {"cluster_worker", "none", "-", "0", NULL};
  muster_cluster_options_t o = {0};
  o.flags = MUSTER_CLUSTER_EXPLICIT_READY;
  o.ready_timeout_ms = 300;
  o.supervise.kill_timeout_ms = 200;
  ASSERT_OK(uv_loop_init(&loop));
  o.settings.exec = test_fixture_path();
  o.settings.args = args;
  o.events.on_errored = nr_errored;
  o.events.on_exit = ev_exit;
  ASSERT_OK(muster_cluster_create(&loop, &o, &cl));
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_ERR(nr_err, MUSTER_ETIMEDOUT);
  ASSERT_EQ(n_exits, 1);
}

static int err_reload_status = 1, err_phase;

static void er_reloaded(muster_cluster_t *c, int status, void *arg) {
  (void)arg;
  err_reload_status = status;
  muster_cluster_close(c, NULL);
}

static void err_tick(uv_timer_t *t) {
  muster_worker_t *w = muster_cluster_next_worker(cl, NULL);
  if (err_phase == 0 && w && muster_worker_is_ready(w)) {
    err_phase = 1;
    uv_close((uv_handle_t *)t, NULL);
    /* The replacement must say ready well within the timeout. */
    ASSERT_OK(muster_cluster_reload(cl, er_reloaded, NULL));
  }
}

TEST_T(cluster_explicit_ready_reload, 30) {
  static const char *args[] = {"cluster_worker", "none", "-", "0",
                               "ready",          NULL};
  muster_cluster_options_t o = {0};
  o.flags = MUSTER_CLUSTER_EXPLICIT_READY;
  o.ready_timeout_ms = 3000;
  setup(&o, args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(uv_timer_init(&loop, &er_timer));
  ASSERT_OK(uv_timer_start(&er_timer, err_tick, 10, 10));
  run();
  /* 0, not ETIMEDOUT: the new worker's "ready" reached its slot. */
  ASSERT_OK(err_reload_status);
  ASSERT_EQ(n_forks, 2);
}

/* ---- muster_worker_kill: channel first, then the signal; no restart
 * ----------- */

static void kill_listen(muster_worker_t *w) {
  ASSERT_OK(muster_worker_kill(w, SIGTERM));
  ASSERT(muster_worker_exited_after_disconnect(w));
  ASSERT(!muster_worker_is_connected(w));
}

static void kill_exit(muster_worker_t *w) {
  ASSERT(muster_worker_is_dead(w));
  ASSERT_EQ(muster_worker_state(w), MUSTER_WORKER_DEAD);
  ASSERT_ERR(muster_worker_kill(w, SIGTERM), MUSTER_ESRCH);
  muster_cluster_close(cl, NULL);
}

TEST_T(cluster_worker_kill, 30) {
  muster_cluster_options_t o = {0};
  on_listen_hook = kill_listen;
  on_exit_hook = kill_exit;
  setup(&o, tcp_args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_EQ(n_forks, 1);
  ASSERT_EQ(n_exits, 1);
  /* SIGTERM, or 0 when the worker saw its channel end first and left */
  ASSERT(last_sig == SIGTERM || (last_sig == 0 && last_code == 0));
}

/* ---- user messages both ways
 * ---------------------------------------------------- */

static int msg_got;

static void msg_online(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  json_t *m = json_pack("{s:s,s:i}", "hello", "wörld", "n", 1);
  ASSERT_OK(muster_worker_send(w, m, -1, NULL, NULL, NULL));
  json_decref(m);
  const char text[] = "[1,2,3]";
  ASSERT_OK(
      muster_worker_send_text(w, text, sizeof text - 1, -1, NULL, NULL, NULL));
}

static void msg_message(muster_cluster_t *c, muster_worker_t *w,
                        muster_message_t *m) {
  json_t *j = muster_message_json(m);
  ASSERT_EQ(json_integer_value(json_object_get(j, "id")), muster_worker_id(w));
  json_t *echo = json_object_get(j, "echo");
  if (msg_got == 0) {
    ASSERT_STR_EQ(json_string_value(json_object_get(echo, "hello")), "wörld");
  } else {
    ASSERT_EQ(json_array_size(echo), 3);
    muster_cluster_close(c, NULL);
  }
  msg_got++;
}

TEST_T(cluster_messages, 30) {
  muster_cluster_options_t o = {0};
  o.events.on_online = msg_online;
  o.events.on_message = msg_message;
  setup(&o, tcp_args);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_EQ(msg_got, 2);
}

/* ---- the only worker dies: its socket and queued connections wait
 * --------------- */

static int solo_port1, solo_port2, solo_killed, solo_answer;

static void *solo_thread(void *arg) {
  (void)arg;
  wait_go(1);
  /* No worker right now: the primary accepts and queues the connection
   * until the replacement takes it. */
  solo_answer = tc_request("127.0.0.1", solo_port1, "x\n", NULL);
  uv_async_send(&step_async);
  return NULL;
}

static void solo_listen(muster_worker_t *w) {
  if (n_listening == 1) {
    solo_port1 = the_port;
    solo_killed = muster_worker_pid(w);
    ASSERT_OK(kill(solo_killed, SIGKILL));
    go = 1;
  } else {
    solo_port2 = the_port;
  }
}

static void solo_done(void) {
  thread_done();
  muster_cluster_close(cl, NULL);
}

TEST_T(cluster_solo_restart_keeps_socket, 60) {
  muster_cluster_options_t o = {0};
  o.supervise.backoff_base_ms = 200;
  on_listen_hook = solo_listen;
  step_fn = solo_done;
  setup(&o, tcp_args);
  thread_start(solo_thread);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT(solo_answer > 0);
  ASSERT_NE(solo_answer, solo_killed);
  ASSERT_EQ(solo_port2, solo_port1); /* port 0 stays the same port */
}

/* ---- exclusive: the worker listens by itself
 * ------------------------------------- */

static int ex_port, ex_answer, ex_pid;

static void *ex_thread(void *arg) {
  (void)arg;
  wait_go(1);
  ex_answer = tc_request("127.0.0.1", ex_port, "x\n", NULL);
  uv_async_send(&step_async);
  return NULL;
}

static void ex_message(muster_cluster_t *c, muster_worker_t *w,
                       muster_message_t *m) {
  (void)c;
  json_t *j = muster_message_json(m);
  ex_port = (int)json_integer_value(json_object_get(j, "exclusive_port"));
  ex_pid = muster_worker_pid(w);
  ASSERT(ex_port > 0);
  go = 1;
}

static void ex_done(void) {
  thread_done();
  muster_cluster_close(cl, NULL);
}

TEST_T(cluster_exclusive, 30) {
  static const char *args[] = {"cluster_worker", "tcp", "127.0.0.1", "0",
                               "exclusive",      NULL};
  muster_cluster_options_t o = {0};
  o.events.on_message = ex_message;
  step_fn = ex_done;
  setup(&o, args);
  thread_start(ex_thread);
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  run();
  ASSERT_EQ(ex_answer, ex_pid);
  ASSERT_EQ(n_listening, 0); /* as in Node: the primary is not involved */
}

/* ---- an exit code listed as "do not restart"
 * ------------------------------------- */

static void nr_exit(muster_worker_t *w) {
  (void)w;
  /* give a wrong restart a chance to show up before closing */
  ASSERT_EQ(last_code, 2);
}

static uv_timer_t nr_timer;

static void nr_tick(uv_timer_t *t) {
  if (n_exits == 0)
    return;
  uv_close((uv_handle_t *)t, NULL);
  muster_cluster_close(cl, NULL);
}

TEST_T(cluster_no_restart_code, 30) {
  static const char *args[] = {"cluster_exit", "2", NULL};
  int codes[] = {2};
  muster_cluster_options_t o = {0};
  o.supervise.no_restart_codes = codes;
  o.supervise.no_restart_count = 1;
  o.supervise.backoff_base_ms = 1;
  on_exit_hook = nr_exit;
  setup(&o, args);
  codes[0] = 99; /* borrowed for the create call only */
  ASSERT_OK(muster_cluster_fork(cl, NULL, NULL));
  ASSERT_OK(uv_timer_init(&loop, &nr_timer));
  ASSERT_OK(uv_timer_start(&nr_timer, nr_tick, 200, 50));
  run();
  ASSERT_EQ(n_forks, 1);
  ASSERT_EQ(n_exits, 1);
  ASSERT_EQ(n_errored, 0);
}
