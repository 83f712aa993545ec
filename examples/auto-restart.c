/* auto-restart: workers that crash, a primary that keeps N of them serving.
 *
 * The notes' point about the cluster module: a primary must replace a
 * worker that dies (Node: cluster.on('exit', () => cluster.fork())). Here
 * the cluster's supervision does it: every worker slot restarts its worker
 * after a short backoff (100 ms, doubling on quick crashes, back to 100 ms
 * once a worker stayed up a second).
 *
 * Each worker serves a line protocol on the shared port (every connection
 * gets "worker <pid>\n", then end of file: try `nc 127.0.0.1 PORT`) and
 * crashes after a random 0.5-3 s: exit(1), abort() or SIGSEGV. The
 * primary logs each death and each replacement, and after the run time
 * stops the cluster and prints how many restarts it made.
 *
 * Usage: auto-restart [SECONDS]
 *   SECONDS   run time (default $RUN_SECONDS, else 10; 0: until SIGINT)
 *   PORT      port on 127.0.0.1 (default 0: any free port)
 *   WORKERS   how many to keep serving (default 2)
 *   MUSTER_SCHED_POLICY  rr (default), shared, reuseport, leastconn
 * Exits 0 after the run, or on SIGINT / SIGTERM. */
#include <muster.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uv_loop_t loop;
static int port;

/* ==== worker ============================================================== */

static muster_server_t *server;
static uv_timer_t crash_timer;

static void on_connection(muster_server_t *s, int fd) {
  char line[32];
  int n = snprintf(line, sizeof line, "worker %d\n", (int)getpid());
  /* A short line on a fresh socket: the kernel takes it at once. */
  if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
    perror("auto-restart worker: send");
  close(fd);
  muster_server_connection_closed(s);
}

static void crash(uv_timer_t *t) {
  (void)t;
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none); /* a demo crash leaves no core file */
  switch (rand() % 3) {
  case 0:
    exit(1);
  case 1:
    abort();
  default:
    raise(SIGSEGV);
  }
  exit(1);
}

static void on_listening(muster_server_t *s, int status) {
  (void)s;
  if (status < 0) {
    fprintf(stderr, "auto-restart worker: listen: %s\n",
            muster_strerror(status));
    exit(3);
  }
  /* Crash at a random moment 0.5 to 3 seconds from now. */
  uv_timer_start(&crash_timer, crash, 500 + (uint64_t)(rand() % 2500), 0);
}

static void on_disconnect(muster_cluster_worker_t *w, int unexpected) {
  (void)unexpected;
  uv_close((uv_handle_t *)&crash_timer, NULL);
  muster_server_close(server, NULL);
  muster_cluster_worker_close(w, NULL);
}

static int worker_main(void) {
  muster_cluster_worker_t *self;
  int r;

  signal(SIGINT, SIG_IGN); /* the primary stops workers in order */
  srand((unsigned)getpid() ^ (unsigned)time(NULL));
  uv_timer_init(&loop, &crash_timer);
  muster_cluster_worker_options_t wo;
  memset(&wo, 0, sizeof wo);
  wo.on_disconnect = on_disconnect;
  if ((r = muster_cluster_worker_open(&loop, &wo, &self)) < 0) {
    fprintf(stderr, "auto-restart worker: %s\n", muster_strerror(r));
    return 1;
  }
  muster_server_options_t so;
  memset(&so, 0, sizeof so);
  so.listen.kind = MUSTER_LISTEN_TCP;
  so.listen.address = "127.0.0.1";
  so.listen.port = port;
  so.on_connection = on_connection;
  so.on_listening = on_listening;
  if ((r = muster_cluster_listen(&loop, self, &so, &server)) < 0) {
    fprintf(stderr, "auto-restart worker: listen: %s\n", muster_strerror(r));
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}

/* ==== primary ============================================================= */

static muster_cluster_t *cluster;
static uv_timer_t run_timer;
static uv_signal_t sig_int, sig_term;
static unsigned restarts, crashes;
static int stopping;

static void on_fork(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  printf("worker %d (pid %d) started\n", muster_worker_id(w),
         muster_worker_pid(w));
  fflush(stdout);
}

static void on_worker_listening(muster_cluster_t *c, muster_worker_t *w,
                                const muster_worker_address_t *a) {
  (void)c;
  printf("worker %d (pid %d) listening on %s:%d\n", muster_worker_id(w),
         muster_worker_pid(w), a->address ? a->address : "*", a->port);
  fflush(stdout);
}

static void on_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                       int signum) {
  (void)c;
  if (stopping || muster_worker_exited_after_disconnect(w)) {
    printf("worker %d (pid %d) stopped\n", muster_worker_id(w),
           muster_worker_pid(w));
  } else {
    crashes++;
    restarts++; /* the slot's supervisor starts a new worker */
    if (signum != 0)
      printf("worker %d (pid %d) died (%s); restart #%u\n", muster_worker_id(w),
             muster_worker_pid(w), muster_signal_name(signum), restarts);
    else
      printf("worker %d (pid %d) died (exit code %lld); restart #%u\n",
             muster_worker_id(w), muster_worker_pid(w), (long long)code,
             restarts);
  }
  fflush(stdout);
}

static void on_errored(muster_cluster_t *c, muster_worker_t *last,
                       muster_supervise_reason_t reason, int err) {
  (void)last;
  (void)err;
  /* The crash-loop guard gave up on a slot: start a fresh one, so that N
   * keep serving. */
  printf("a slot gave up (%s); forking a new one\n",
         reason == MUSTER_SUPERVISE_CRASH_LOOP ? "crash loop" : "start failed");
  fflush(stdout);
  if (!stopping)
    muster_cluster_fork(c, NULL, NULL);
}

static void on_closed(muster_cluster_t *c) {
  (void)c;
  printf("%u crashes, %u restarts; every worker stopped\n", crashes, restarts);
  fflush(stdout);
}

static void stop(void) {
  if (stopping)
    return;
  stopping = 1;
  uv_close((uv_handle_t *)&run_timer, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  muster_cluster_close(cluster, on_closed);
}

static void on_run_timer(uv_timer_t *t) {
  (void)t;
  printf("run time over: %u workers serving\n",
         muster_cluster_worker_count(cluster));
  stop();
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  stop();
}

static int primary_main(int argc, char **argv) {
  const char *e;
  char port_arg[16];
  const char *args[] = {port_arg, NULL};
  double seconds = 10;
  unsigned workers = 2;
  int r;

  if (argc > 1)
    seconds = atof(argv[1]);
  else if ((e = getenv("RUN_SECONDS")) != NULL && *e != '\0')
    seconds = atof(e);
  if ((e = getenv("WORKERS")) != NULL && *e != '\0')
    workers = (unsigned)atoi(e);
  if (seconds < 0 || workers < 1 || workers > 64) {
    fprintf(stderr, "usage: auto-restart [SECONDS] (WORKERS 1-64)\n");
    return 2;
  }

  /* Port 0 would give each new worker its own port once the key's socket
   * is gone; take a free port here and hand it to every worker. */
  if (port == 0) {
    muster_listen_options_t lo;
    int fd;
    memset(&lo, 0, sizeof lo);
    lo.address = "127.0.0.1";
    if ((r = muster_listen(&lo, &fd)) < 0) {
      fprintf(stderr, "auto-restart: %s\n", muster_strerror(r));
      return 1;
    }
    muster_listen_address(fd, NULL, 0, &port);
    close(fd);
  }
  snprintf(port_arg, sizeof port_arg, "%d", port);

  muster_cluster_options_t o;
  memset(&o, 0, sizeof o);
  o.settings.args = args;
  /* A demo that crashes on purpose all the time: allow many restarts
   * before the crash-loop guard gives up on a slot. */
  o.supervise.crash_limit = MUSTER_SUPERVISE_MAX_CRASH_LIMIT;
  o.events.on_fork = on_fork;
  o.events.on_listening = on_worker_listening;
  o.events.on_exit = on_exit_cb;
  o.events.on_errored = on_errored;
  if ((r = muster_cluster_create(&loop, &o, &cluster)) < 0) {
    fprintf(stderr, "auto-restart: %s\n", muster_strerror(r));
    return 1;
  }
  printf("primary %d: keeping %u workers serving on 127.0.0.1:%d for %g s\n",
         (int)getpid(), workers, port, seconds);
  fflush(stdout);
  uv_signal_init(&loop, &sig_int);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_init(&loop, &sig_term);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_timer_init(&loop, &run_timer);
  if (seconds > 0)
    uv_timer_start(&run_timer, on_run_timer, (uint64_t)(seconds * 1000), 0);
  for (unsigned i = 0; i < workers; i++)
    if ((r = muster_cluster_fork(cluster, NULL, NULL)) < 0) {
      fprintf(stderr, "auto-restart: fork: %s\n", muster_strerror(r));
      return 1;
    }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}

int main(int argc, char **argv) {
  const char *e;
  if (!muster_cluster_is_primary())
    port = argc > 1 ? atoi(argv[1]) : 0;
  else if ((e = getenv("PORT")) != NULL && *e != '\0')
    port = atoi(e);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  return muster_cluster_is_primary() ? primary_main(argc, argv) : worker_main();
}
