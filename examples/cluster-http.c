/* cluster-http: Node docs' cluster example, in C.
 *
 *   if (cluster.isPrimary) {
 *     for (let i = 0; i < numCPUs; i++) cluster.fork();
 *     cluster.on('exit', (worker, code, signal) => ...);
 *   } else {
 *     http.createServer((req, res) => {
 *       res.writeHead(200); res.end('hello world\n');
 *     }).listen(8000);
 *   }
 *
 * One program is both: the primary forks one worker per CPU (this same
 * program, which sees NODE_UNIQUE_ID and becomes a worker). Every worker
 * serves HTTP/1.1 on the same port and answers "Hello from worker <pid>"
 * with an X-Worker-Pid header.
 *
 * Usage: cluster-http [PORT]
 *   PORT                   first argument, else $PORT, else 8000 (0: any)
 *   HOST                   address to listen on (default 127.0.0.1)
 *   WORKERS                number of workers (default: one per CPU)
 *   MUSTER_SCHED_POLICY    rr (default), shared, reuseport, leastconn
 *   MUSTER_LOG_TIME=1      prefix the primary's lines with the wall clock
 *                          (seconds.microseconds since the epoch)
 *
 * Signals to the primary: SIGINT or SIGTERM stops every worker gracefully
 * (each finishes its requests in flight) and exits 0; SIGHUP reloads every
 * worker, one at a time, without refusing a request.
 *
 * docs/cluster-http.md explains keep-alive, the graceful stop and reload. */
#include <muster.h>

#include <http_parser.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* ==== common ============================================================== */

static uv_loop_t loop;
static const char *host = "127.0.0.1";
static int port = 8000;

static int parse_port(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0 || v > 65535) {
    fprintf(stderr, "cluster-http: bad port \"%s\"\n", s);
    exit(2);
  }
  return (int)v;
}

static void die(const char *what, int err) {
  fprintf(stderr, "cluster-http[%d]: %s: %s (%s)\n", (int)getpid(), what,
          muster_err_name(err), muster_strerror(err));
  exit(1);
}

/* ==== worker ============================================================== */

/* Read buffer shared by every connection: a read callback parses all it
 * got before returning, so nothing outlives it. */
#define READ_SIZE 65536
/* Responses made while parsing one read are gathered here and written with
 * one uv_try_write() (pipelined requests cost one write). */
#define OUT_SIZE 16384
/* On disconnect, a keep-alive connection is closed once it has been idle
 * for a whole tick of this timer: closing it at once would lose a request
 * already on the wire (the client sees the close instead of an answer). */
#define DRAIN_TICK_MS 50

typedef struct conn_s {
  uv_tcp_t tcp;
  http_parser parser;
  struct conn_s *prev, *next; /* open connections; free list when closed */
  unsigned writes;            /* uv_write()s in flight */
  unsigned in_request : 1;    /* a request has begun, not yet answered */
  unsigned close_after : 1;   /* close once the writes are done */
  unsigned closing : 1;
  unsigned active : 1; /* read something since the last drain tick */
} conn_t;

typedef struct {
  uv_write_t req;
  conn_t *conn;
  size_t len;
  char data[];
} write_req_t;

static muster_cluster_worker_t *self;
static muster_server_t *server;
static http_parser_settings settings;
static conn_t conns;       /* list head of open connections */
static conn_t *free_conns; /* closed ones, reused (no malloc per connection) */
static int draining;
static uv_timer_t drain_timer;
static char read_buf[READ_SIZE];
static char out_buf[OUT_SIZE];
static size_t out_len;
static conn_t *out_conn;

/* The answers, made once: headers for keep-alive and for close, and the
 * body, which names this worker. */
static char head_ka[256], head_ka10[256], head_close[256], body[64];
static size_t head_ka_len, head_ka10_len, head_close_len, body_len;

static void make_responses(void) {
  int pid = (int)getpid();
  body_len = (size_t)snprintf(body, sizeof body, "Hello from worker %d\n", pid);
  const char *fmt = "HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Length: %zu\r\n"
                    "X-Worker-Pid: %d\r\n"
                    "%s"
                    "\r\n";
  /* HTTP/1.1 keeps the connection by default: no Connection header needed;
   * an HTTP/1.0 client asked for keep-alive and is told it got it. */
  head_ka_len =
      (size_t)snprintf(head_ka, sizeof head_ka, fmt, body_len, pid, "");
  head_ka10_len = (size_t)snprintf(head_ka10, sizeof head_ka10, fmt, body_len,
                                   pid, "Connection: keep-alive\r\n");
  head_close_len = (size_t)snprintf(head_close, sizeof head_close, fmt,
                                    body_len, pid, "Connection: close\r\n");
}

static void conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  c->next = free_conns;
  free_conns = c;
  muster_server_connection_closed(server);
}

static void conn_close(conn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  if (out_conn == c) {
    out_conn = NULL;
    out_len = 0;
  }
  c->prev->next = c->next;
  c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void write_cb(uv_write_t *req, int status) {
  write_req_t *w = (write_req_t *)req;
  conn_t *c = w->conn;
  free(w);
  c->writes--;
  if (status < 0 || (c->close_after && c->writes == 0))
    conn_close(c);
}

/* Writes the gathered responses: uv_try_write() first (the usual case: the
 * socket takes it all at once); what it could not take is copied and
 * queued with uv_write(), which keeps the order. */
static void flush(void) {
  conn_t *c = out_conn;
  size_t len = out_len;
  out_conn = NULL;
  out_len = 0;
  if (c == NULL || len == 0 || c->closing)
    return;
  uv_buf_t buf = uv_buf_init(out_buf, (unsigned)len);
  int r = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (r == (int)len)
    return;
  if (r < 0 && r != UV_EAGAIN) {
    conn_close(c);
    return;
  }
  size_t done = r > 0 ? (size_t)r : 0;
  write_req_t *w = malloc(sizeof *w + len - done);
  if (w == NULL) {
    conn_close(c);
    return;
  }
  w->conn = c;
  w->len = len - done;
  memcpy(w->data, out_buf + done, w->len);
  buf = uv_buf_init(w->data, (unsigned)w->len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) < 0) {
    free(w);
    conn_close(c);
    return;
  }
  c->writes++;
}

static void append(conn_t *c, const char *p, size_t n) {
  if (out_conn != c || out_len + n > OUT_SIZE)
    flush();
  out_conn = c;
  memcpy(out_buf + out_len, p, n);
  out_len += n;
}

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  c->in_request = 1;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  /* An Upgrade (WebSocket...) is not served here: answer, then close. */
  int keep = http_should_keep_alive(p) && !p->upgrade && !draining;
  c->in_request = 0;
  if (!keep)
    append(c, head_close, head_close_len);
  else if (p->http_major == 1 && p->http_minor == 0)
    append(c, head_ka10, head_ka10_len);
  else
    append(c, head_ka, head_ka_len);
  if (p->method != HTTP_HEAD)
    append(c, body, body_len);
  if (!keep) {
    /* Whatever follows on this connection is not read: stop parsing. */
    c->close_after = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    return 1;
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  (void)hint;
  *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    /* End of file or an error: nothing more will be asked. Answers still
     * being written are finished first. */
    uv_read_stop(s);
    c->close_after = 1;
    if (c->writes == 0)
      conn_close(c);
    return;
  }
  c->active = 1;
  size_t n =
      http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
  if (n != (size_t)nread && !c->close_after) {
    /* Not HTTP: say so and hang up. */
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    append(c, bad, sizeof bad - 1);
    c->close_after = 1;
    uv_read_stop(s);
  }
  flush();
  if (c->close_after && c->writes == 0)
    conn_close(c);
}

static void on_connection(muster_server_t *s, int fd) {
  (void)s;
  conn_t *c = free_conns;
  if (c != NULL)
    free_conns = c->next;
  else
    c = malloc(sizeof *c);
  if (c == NULL || uv_tcp_init(&loop, &c->tcp) < 0) {
    free(c);
    close(fd);
    muster_server_connection_closed(server);
    return;
  }
  c->tcp.data = c;
  c->writes = 0;
  c->in_request = c->close_after = c->closing = 0;
  c->active = 1;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = conns.next;
  c->prev = &conns;
  conns.next->prev = c;
  conns.next = c;
  if (uv_tcp_open(&c->tcp, fd) < 0) {
    close(fd);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
    conn_close(c);
}

/* While draining: close connections that stayed idle for a whole tick. A
 * request that comes meanwhile is answered with "Connection: close". */
static void drain_tick(uv_timer_t *t) {
  (void)t;
  conn_t *next;
  for (conn_t *c = conns.next; c != &conns; c = next) {
    next = c->next;
    if (!c->active && !c->in_request && c->writes == 0)
      conn_close(c);
    else
      c->active = 0;
  }
}

static void on_disconnecting(muster_cluster_worker_t *w) {
  (void)w;
  draining = 1;
  uv_timer_start(&drain_timer, drain_tick, DRAIN_TICK_MS, DRAIN_TICK_MS);
}

static void on_disconnect(muster_cluster_worker_t *w, int unexpected) {
  (void)w;
  if (unexpected)
    exit(0); /* the primary went away (Node's worker exits here too) */
  /* Every connection is closed by now: let the loop end. */
  uv_close((uv_handle_t *)&drain_timer, NULL);
  muster_server_close(server, NULL);
  server = NULL;
  muster_cluster_worker_close(self, NULL);
  self = NULL;
}

/* Exit code of a worker that cannot listen (port taken, bad address): the
 * primary does not restart it (nginx's "do not respawn" code). */
#define EXIT_CANNOT_LISTEN 2

static void on_listening(muster_server_t *s, int status) {
  (void)s;
  if (status < 0) {
    fprintf(stderr, "cluster-http[%d]: listen on %s:%d: %s (%s)\n",
            (int)getpid(), host, port, muster_err_name(status),
            muster_strerror(status));
    exit(EXIT_CANNOT_LISTEN);
  }
}

static int worker_main(void) {
  char title[64];
  int r;

  /* Ctrl-C reaches the whole process group; the primary stops workers in
   * order, so a worker leaves SIGINT to it. */
  signal(SIGINT, SIG_IGN);
  snprintf(title, sizeof title, "cluster-http worker");
  muster_process_set_title(title);
  make_responses();
  settings.on_message_begin = on_message_begin;
  settings.on_message_complete = on_message_complete;
  conns.next = conns.prev = &conns;
  uv_timer_init(&loop, &drain_timer);

  muster_cluster_worker_options_t wo;
  memset(&wo, 0, sizeof wo);
  wo.on_disconnecting = on_disconnecting;
  wo.on_disconnect = on_disconnect;
  r = muster_cluster_worker_open(&loop, &wo, &self);
  if (r < 0)
    die("muster_cluster_worker_open", r);

  muster_server_options_t so;
  memset(&so, 0, sizeof so);
  so.listen.kind = MUSTER_LISTEN_TCP;
  so.listen.address = host;
  so.listen.port = port;
  so.on_connection = on_connection;
  so.on_listening = on_listening;
  r = muster_cluster_listen(&loop, self, &so, &server);
  if (r < 0)
    die("muster_cluster_listen", r);

  uv_run(&loop, UV_RUN_DEFAULT);
  while (free_conns != NULL) {
    conn_t *c = free_conns;
    free_conns = c->next;
    free(c);
  }
  uv_loop_close(&loop);
  return 0;
}

/* ==== primary ============================================================= */

static muster_cluster_t *cluster;
static muster_signal_t *sig_int, *sig_term, *sig_hup;
static unsigned want_workers, listening_count;
static int announced, stopping, exit_status;

/* printf for the primary's log: one line, flushed, optionally stamped. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  static int stamp = -1;
  va_list ap;
  if (stamp < 0) {
    const char *e = getenv("MUSTER_LOG_TIME");
    stamp = e != NULL && strcmp(e, "1") == 0;
  }
  if (stamp) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    printf("%lld.%06ld ", (long long)tv.tv_sec, (long)tv.tv_usec);
  }
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void on_fork(muster_cluster_t *c, muster_worker_t *w) {
  (void)c;
  say("worker %d (pid %d) forked", muster_worker_id(w), muster_worker_pid(w));
}

static void on_worker_listening(muster_cluster_t *c, muster_worker_t *w,
                                const muster_worker_address_t *a) {
  say("worker %d (pid %d) listening on %s:%d", muster_worker_id(w),
      muster_worker_pid(w), a->address ? a->address : "*", a->port);
  if (!announced && ++listening_count == want_workers) {
    announced = 1;
    say("serving http://%s:%d/ with %u workers (policy %s)",
        a->address ? a->address : host, a->port, want_workers,
        muster_sched_name(muster_cluster_policy(c)));
  }
}

static void stop(const char *why);

/* The worker whose exit made its slot give up, between on_errored and
 * that worker's on_exit (called next, on the same turn). */
static muster_worker_t *gave_up;

static void on_exit_cb(muster_cluster_t *c, muster_worker_t *w, int64_t code,
                       int signum) {
  if (signum == 0 && code == EXIT_CANNOT_LISTEN && !stopping) {
    say("worker %d (pid %d) cannot listen on %s:%d", muster_worker_id(w),
        muster_worker_pid(w), host, port);
    exit_status = 1;
    stop("no worker can serve");
    return;
  }
  /* on_errored comes first when this exit ended its slot (a crash loop):
   * then nothing restarts. */
  const char *next = "; restarting";
  int ended = w == gave_up;
  if (ended)
    next = "; not restarted (its slot gave up)";
  else if (muster_worker_exited_after_disconnect(w) || stopping)
    next = "";
  gave_up = NULL;
  if (signum != 0)
    say("worker %d (pid %d) died (%s)%s", muster_worker_id(w),
        muster_worker_pid(w), muster_signal_name(signum), next);
  else
    say("worker %d (pid %d) exited (code %lld)%s", muster_worker_id(w),
        muster_worker_pid(w), (long long)code, next);
  /* It still counts as live during this call. */
  if (ended && !stopping && muster_cluster_worker_count(c) <= 1) {
    exit_status = 1;
    stop("no worker left");
  }
}

static void on_errored(muster_cluster_t *c, muster_worker_t *last,
                       muster_supervise_reason_t reason, int err) {
  gave_up = last;
  say("a worker slot gave up: %s%s%s",
      reason == MUSTER_SUPERVISE_CRASH_LOOP ? "crash loop" : "start failed",
      err ? ": " : "", err ? muster_err_name(err) : "");
  if (muster_cluster_worker_count(c) == 0 && !stopping) {
    exit_status = 1;
    stop("no worker left");
  }
}

static void on_cluster_error(muster_cluster_t *c, muster_worker_t *w, int err) {
  (void)c;
  say("cluster error%s: %s (%s)", w ? " (a worker)" : "", muster_err_name(err),
      muster_strerror(err));
}

static void on_reloaded(muster_cluster_t *c, int status, void *arg) {
  (void)c;
  (void)arg;
  if (status == 0)
    say("reload done");
  else
    say("reload failed: %s (%s)", muster_err_name(status),
        muster_strerror(status));
}

static void on_closed(muster_cluster_t *c) {
  (void)c;
  say("primary %d: every worker stopped; bye", (int)getpid());
}

static void stop(const char *why) {
  if (stopping)
    return;
  stopping = 1;
  say("%s: stopping every worker", why);
  muster_signal_close(sig_int, NULL);
  muster_signal_close(sig_term, NULL);
  muster_signal_close(sig_hup, NULL);
  muster_cluster_close(cluster, on_closed);
}

static void on_signal(muster_signal_t *s, int signum) {
  (void)s;
  if (signum == SIGHUP) {
    say("SIGHUP: reloading every worker");
    int r = muster_cluster_reload(cluster, on_reloaded, NULL);
    if (r < 0)
      say("reload not started: %s", muster_err_name(r));
    return;
  }
  stop(muster_signal_name(signum));
}

static unsigned worker_count(void) {
  const char *e = getenv("WORKERS");
  if (e != NULL && *e != '\0') {
    long n = strtol(e, NULL, 10);
    if (n < 1 || n > 1024) {
      fprintf(stderr, "cluster-http: bad WORKERS \"%s\"\n", e);
      exit(2);
    }
    return (unsigned)n;
  }
  return uv_available_parallelism();
}

static int primary_main(void) {
  char port_arg[16];
  const char *args[] = {port_arg, NULL};
  int r;

  muster_process_set_title("cluster-http primary");
  want_workers = worker_count();
  snprintf(port_arg, sizeof port_arg, "%d", port);

  muster_cluster_options_t o;
  memset(&o, 0, sizeof o);
  o.settings.args = args; /* workers: this program, same port */
  /* A worker that dies is replaced at once (1 ms, the least the
   * supervisor takes; it doubles on quick crashes), as a Node primary
   * calling cluster.fork() in its 'exit' handler would. */
  o.supervise.backoff_base_ms = 1;
  static const int no_restart[] = {EXIT_CANNOT_LISTEN};
  o.supervise.no_restart_codes = no_restart;
  o.supervise.no_restart_count = 1;
  o.events.on_fork = on_fork;
  o.events.on_listening = on_worker_listening;
  o.events.on_exit = on_exit_cb;
  o.events.on_errored = on_errored;
  o.events.on_error = on_cluster_error;
  r = muster_cluster_create(&loop, &o, &cluster);
  if (r < 0)
    die("muster_cluster_create", r);
  say("primary %d is running (policy %s, %u workers)", (int)getpid(),
      muster_sched_name(muster_cluster_policy(cluster)), want_workers);

  if ((r = muster_signal_subscribe(&loop, SIGINT, on_signal, NULL, &sig_int)) <
          0 ||
      (r = muster_signal_subscribe(&loop, SIGTERM, on_signal, NULL,
                                   &sig_term)) < 0 ||
      (r = muster_signal_subscribe(&loop, SIGHUP, on_signal, NULL, &sig_hup)) <
          0)
    die("muster_signal_subscribe", r);

  for (unsigned i = 0; i < want_workers; i++) {
    r = muster_cluster_fork(cluster, NULL, NULL);
    if (r < 0)
      die("muster_cluster_fork", r);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (!stopping) {
    /* Nothing kept the loop alive (signal subscriptions do not): every
     * worker slot is gone. */
    exit_status = 1;
    stop("no worker left");
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  r = uv_loop_close(&loop);
  if (r < 0)
    die("uv_loop_close", r);
  return exit_status;
}

int main(int argc, char **argv) {
  argv = muster_process_setup(argc, argv);
  const char *e;
  if ((e = getenv("HOST")) != NULL && *e != '\0')
    host = e;
  if (argc > 1)
    port = parse_port(argv[1]);
  else if ((e = getenv("PORT")) != NULL && *e != '\0')
    port = parse_port(e);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  return muster_cluster_is_primary() ? primary_main() : worker_main();
}
