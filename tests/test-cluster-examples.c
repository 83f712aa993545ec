/* The cluster examples, run as programs: examples/cluster-http,
 * examples/auto-restart and examples/handle-rr. Each is started with its
 * stdout on a pipe the test reads (the port and the workers' pids come
 * from its log), talked to over 127.0.0.1 only, and must exit 0 leaving
 * no worker behind. */
#include "test-cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- running an example ---------------------------------------------------
 */

typedef struct {
  pid_t pid;
  int out;         /* read end of its stdout (and stderr) */
  char log[65536]; /* everything it printed so far */
  size_t len;
} example_t;

/* A failing assertion aborts the test: take the running example down
 * with it (its workers follow through their parent-death signal), so a
 * failure leaves no server behind. */
static volatile pid_t running[4];

static void on_abort(int sig) {
  for (int i = 0; i < 4; i++)
    if (running[i] > 0)
      kill(running[i], SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void track(pid_t pid, int on) {
  for (int i = 0; i < 4; i++)
    if (on ? running[i] == 0 : running[i] == pid) {
      running[i] = on ? pid : 0;
      break;
    }
  signal(SIGABRT, on_abort);
}

static void ex_start(example_t *ex, const char *name, const char *arg,
                     const char *const *env) {
  char path[4096], ppid[16];
  /* Through exec_pdeath: the example dies with this test process. */
  snprintf(ppid, sizeof ppid, "%d", (int)getpid());
  const char *argv[7] = {test_fixture_path(), "exec_pdeath", ppid, path,
                         name, arg, NULL};
  char *envp[256];
  int n = 0, p[2];
  posix_spawn_file_actions_t fa;

  snprintf(path, sizeof path, "%s/%s", MUSTER_EXAMPLES_DIR, name);
  if (access(path, X_OK) != 0)
    TEST_FAIL("example %s was not built", path);
  /* Our environment minus what the examples read, plus `env`. */
  for (char **e = environ; *e != NULL && n < 200; e++) {
    static const char *const drop[] = {
        "PORT=", "HOST=",        "WORKERS=", "MUSTER_SCHED_POLICY=",
        "NODE_", "RUN_SECONDS=", "CHILDREN="};
    int keep = 1;
    for (size_t d = 0; d < sizeof drop / sizeof drop[0]; d++)
      keep = keep && strncmp(*e, drop[d], strlen(drop[d])) != 0;
    if (keep)
      envp[n++] = *e;
  }
  for (int i = 0; env != NULL && env[i] != NULL && n < 254; i++)
    envp[n++] = (char *)env[i];
  envp[n] = NULL;

  ASSERT_OK(pipe2(p, O_CLOEXEC));
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  memset(ex, 0, sizeof *ex);
  ASSERT_OK(-posix_spawn(&ex->pid, test_fixture_path(), &fa, NULL,
                         (char *const *)argv, envp));
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  ex->out = p[0];
  track(ex->pid, 1);
}

/* Reads what the example printed, waiting up to `ms` milliseconds: 1 when
 * it read something, 0 at end of file, -1 when nothing came. */
static int ex_read(example_t *ex, int ms) {
  struct pollfd pfd = {ex->out, POLLIN, 0};
  if (poll(&pfd, 1, ms) <= 0)
    return -1;
  ssize_t r = read(ex->out, ex->log + ex->len, sizeof ex->log - 1 - ex->len);
  if (r <= 0)
    return 0;
  ex->len += (size_t)r;
  ex->log[ex->len] = '\0';
  return 1;
}

/* Waits until the log holds `text` (after offset `from`); returns where. */
static const char *ex_wait_for(example_t *ex, const char *text, size_t from,
                               uint64_t ms) {
  uint64_t deadline = test_now_ms() + ms;
  for (;;) {
    const char *at = strstr(ex->log + from, text);
    if (at != NULL)
      return at;
    if (test_now_ms() >= deadline || ex_read(ex, 100) == 0)
      break;
  }
  TEST_FAIL("no \"%s\" in the output of pid %d:\n%s", text, (int)ex->pid,
            ex->log);
  return NULL;
}

/* Waits for the example's exit (reading its output meanwhile); returns
 * its exit code, failing on a signal or a timeout. */
static int ex_wait_exit(example_t *ex, uint64_t ms) {
  uint64_t deadline = test_now_ms() + ms;
  int status;
  while (waitpid(ex->pid, &status, WNOHANG) == 0) {
    if (test_now_ms() >= deadline) {
      kill(ex->pid, SIGKILL);
      waitpid(ex->pid, &status, 0);
      track(ex->pid, 0);
      TEST_FAIL("pid %d did not exit in time; output:\n%s", (int)ex->pid,
                ex->log);
    }
    if (ex_read(ex, 20) == 0)
      usleep(10000);
  }
  track(ex->pid, 0);
  while (ex->len < sizeof ex->log - 1 && ex_read(ex, 0) == 1)
    ;
  close(ex->out);
  if (!WIFEXITED(status))
    TEST_FAIL("pid %d died with signal %d; output:\n%s", (int)ex->pid,
              WTERMSIG(status), ex->log);
  return WEXITSTATUS(status);
}

/* The pids named in lines "<prefix>(pid N)" of the log, at most `max`. */
static int log_pids(const example_t *ex, const char *what, int *pids, int max) {
  int n = 0;
  for (const char *p = ex->log; (p = strstr(p, "(pid ")) != NULL; p++) {
    const char *eol = strchr(p, '\n');
    const char *w = strstr(p, what);
    if (w == NULL || (eol != NULL && w > eol) || n == max)
      continue;
    pids[n++] = atoi(p + 5);
  }
  return n;
}

/* Every worker the log names must be gone (they are the example's
 * children, not ours: we can only look). */
static void assert_workers_gone(const example_t *ex) {
  int pids[256];
  int n = log_pids(ex, "forked", pids, 256);
  n += log_pids(ex, "started", pids + n, 256 - n);
  ASSERT(n > 0);
  uint64_t deadline = test_now_ms() + 3000;
  for (int i = 0; i < n; i++)
    while (tc_alive(pids[i])) {
      if (test_now_ms() > deadline)
        TEST_FAIL("worker %d is still running", pids[i]);
      usleep(10000);
    }
}

static int serving_port(example_t *ex) {
  const char *at = ex_wait_for(ex, "serving http://127.0.0.1:", 0, 15000);
  return atoi(at + strlen("serving http://127.0.0.1:"));
}

/* ---- a small HTTP client ----------------------------------------------------
 * Only what these tests need to read cluster-http's answers: headers up to
 * the blank line, then Content-Length bytes. */

static int connect_port(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

typedef struct {
  int status;     /* 200 */
  int pid;        /* X-Worker-Pid */
  int body_pid;   /* the pid the body names */
  int keep_alive; /* the server keeps the connection */
  char connection[32];
} answer_t;

/* A connection and what was read on it beyond the last answer (pipelined
 * answers arrive together). */
typedef struct {
  int fd;
  size_t n;
  char buf[8192];
} client_t;

static int client_open(client_t *c, int port) {
  c->n = 0;
  c->fd = connect_port(port);
  return c->fd;
}

static void client_close(client_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

/* Sends `req` (may be "") and reads one answer. 0, or a negative errno. */
static int http_exchange(client_t *c, const char *req, answer_t *a) {
  char *end;
  memset(a, 0, sizeof *a);
  if (*req != '\0' && send(c->fd, req, strlen(req), MSG_NOSIGNAL) < 0)
    return -errno;
  for (;;) {
    c->buf[c->n] = '\0';
    end = strstr(c->buf, "\r\n\r\n");
    if (end != NULL)
      break;
    if (c->n == sizeof c->buf - 1)
      return -EMSGSIZE;
    ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - 1 - c->n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r == 0 ? -ECONNRESET : -errno;
    c->n += (size_t)r;
  }
  *end = '\0';
  const char *h;
  if (sscanf(c->buf, "HTTP/1.%*d %d", &a->status) != 1)
    return -EBADMSG;
  if ((h = strcasestr(c->buf, "\r\nX-Worker-Pid: ")) != NULL)
    a->pid = atoi(h + 16);
  size_t clen = 0;
  if ((h = strcasestr(c->buf, "\r\nContent-Length: ")) != NULL)
    clen = (size_t)atol(h + 18);
  if ((h = strcasestr(c->buf, "\r\nConnection: ")) != NULL)
    sscanf(h + 14, "%31[^\r]", a->connection);
  a->keep_alive = strcasecmp(a->connection, "close") != 0;
  if (strncmp(req, "HEAD ", 5) == 0)
    clen = 0; /* the length of the body a GET would get */
  size_t head = (size_t)(end + 4 - c->buf);
  while (c->n < head + clen) {
    if (head + clen >= sizeof c->buf)
      return -EMSGSIZE;
    ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - 1 - c->n);
    if (r <= 0)
      return -ECONNRESET;
    c->n += (size_t)r;
  }
  char body[256];
  size_t blen = clen < sizeof body - 1 ? clen : sizeof body - 1;
  memcpy(body, c->buf + head, blen);
  body[blen] = '\0';
  sscanf(body, "Hello from worker %d", &a->body_pid);
  /* Keep what follows: the next answer. */
  memmove(c->buf, c->buf + head + clen, c->n - head - clen);
  c->n -= head + clen;
  return 0;
}

/* End of file next on this connection (nothing more was sent). */
static int client_eof(client_t *c) {
  char b[16];
  return c->n == 0 && read(c->fd, b, sizeof b) == 0;
}

static const char get11[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* One request on a new connection: the serving worker's pid. */
static int one_request(int port) {
  answer_t a;
  client_t c;
  if (client_open(&c, port) < 0)
    return c.fd;
  int r = http_exchange(&c, get11, &a);
  client_close(&c);
  if (r < 0)
    return r;
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.pid, a.body_pid);
  return a.pid;
}

static int distinct(const int *xs, int n) {
  int d = 0;
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++)
      seen = seen || xs[j] == xs[i];
    d += !seen && xs[i] > 0;
  }
  return d;
}

/* ---- cluster-http -------------------------------------------------------- */

/* Under round-robin, new connections go to different workers; SIGTERM
 * stops them all and the primary exits 0. */
TEST_T(cluster_example_http_rr, 60) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=2",
                       "MUSTER_SCHED_POLICY=rr", NULL};
  int pids[20];
  ex_start(&ex, "cluster-http", NULL, env);
  int port = serving_port(&ex);
  ASSERT(port > 0);
  for (int i = 0; i < 20; i++) {
    pids[i] = one_request(port);
    ASSERT(pids[i] > 0);
  }
  ASSERT_GE(distinct(pids, 20), 2);
  ASSERT(kill(ex.pid, SIGTERM) == 0);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  ASSERT(strstr(ex.log, "every worker stopped") != NULL);
  assert_workers_gone(&ex);
  /* Nothing listens any more. */
  ASSERT_ERR(connect_port(port), -ECONNREFUSED);
}

/* Keep-alive per HTTP/1.1 and HTTP/1.0, pipelining, HEAD; SIGINT ends it. */
TEST_T(cluster_example_http_keepalive, 60) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=2", NULL};
  answer_t a, b;
  static client_t c;
  ex_start(&ex, "cluster-http", NULL, env);
  int port = serving_port(&ex);

  /* HTTP/1.1: two requests on one connection, one worker. */
  ASSERT(client_open(&c, port) >= 0);
  ASSERT_OK(http_exchange(&c, get11, &a));
  ASSERT_EQ(a.status, 200);
  ASSERT(a.keep_alive);
  ASSERT_EQ(a.pid, a.body_pid);
  ASSERT_OK(http_exchange(&c, get11, &b));
  ASSERT_EQ(b.status, 200);
  ASSERT_EQ(a.pid, b.pid);
  /* Two pipelined requests in one write: two answers, in order. */
  ASSERT_OK(http_exchange(&c,
                          "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
                          &a));
  ASSERT_OK(http_exchange(&c, "", &b));
  ASSERT_EQ(b.status, 200);
  ASSERT_EQ(a.pid, b.pid);
  /* "Connection: close" from the client: answered, then end of file. */
  ASSERT_OK(http_exchange(
      &c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &a));
  ASSERT_EQ(a.status, 200);
  ASSERT_STR_EQ(a.connection, "close");
  ASSERT(client_eof(&c));
  client_close(&c);

  /* HTTP/1.0 closes unless asked to keep the connection. */
  ASSERT(client_open(&c, port) >= 0);
  ASSERT_OK(http_exchange(&c, "GET / HTTP/1.0\r\n\r\n", &a));
  ASSERT_EQ(a.status, 200);
  ASSERT_STR_EQ(a.connection, "close");
  ASSERT(client_eof(&c));
  client_close(&c);
  ASSERT(client_open(&c, port) >= 0);
  ASSERT_OK(http_exchange(
      &c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &a));
  ASSERT_STR_EQ(a.connection, "keep-alive");
  ASSERT_OK(http_exchange(
      &c, "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &b));
  ASSERT_EQ(b.status, 200);
  ASSERT_EQ(b.body_pid, 0); /* no body for HEAD */
  ASSERT_EQ(a.pid, b.pid);
  client_close(&c);

  /* Not HTTP: 400 and end of file. */
  ASSERT(client_open(&c, port) >= 0);
  ASSERT_OK(http_exchange(&c, "NOT HTTP AT ALL\r\n\r\n", &a));
  ASSERT_EQ(a.status, 400);
  ASSERT(client_eof(&c));
  client_close(&c);

  /* An idle keep-alive connection does not hold up the stop, and is
   * closed in order (end of file, not a reset). */
  ASSERT(client_open(&c, port) >= 0);
  ASSERT_OK(http_exchange(&c, get11, &a));
  ASSERT(kill(ex.pid, SIGINT) == 0);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  ASSERT(client_eof(&c));
  client_close(&c);
  assert_workers_gone(&ex);
}

/* A client running through a SIGHUP reload: keep-alive connections of a
 * few requests each, back to back. */
#define RING_LEN 8192
typedef struct {
  int port;
  _Atomic int stop; /* set by the main thread, read by the client thread */
  int requests, failures, last_err;
  /* The last RING_LEN answered requests (a ring: a fast run makes tens of
   * thousands, and the ones that matter come last). */
  int pids[RING_LEN];
  uint64_t started[RING_LEN]; /* when each request was sent (test_now_ms) */
  int reconnects; /* connections the server closed ("Connection: close") */
  pthread_t thread;
} reload_client_t;

static void *reload_client_main(void *arg) {
  reload_client_t *c = arg;
  static __thread client_t cl;
  int on_conn = 0;
  cl.fd = -1;
  while (!c->stop) {
    answer_t a;
    if (cl.fd < 0) {
      on_conn = 0;
      if (client_open(&cl, c->port) < 0) {
        c->failures++;
        c->last_err = cl.fd;
        cl.fd = -1;
        usleep(1000);
        continue;
      }
    }
    uint64_t t = test_now_ms();
    int r = http_exchange(&cl, get11, &a);
    if (r < 0 || a.status != 200) {
      c->failures++;
      c->last_err = r < 0 ? r : a.status;
    } else {
      c->pids[c->requests % RING_LEN] = a.pid;
      c->started[c->requests % RING_LEN] = t;
    }
    c->requests++;
    if (r < 0 || !a.keep_alive || ++on_conn == 5) {
      c->reconnects += r == 0 && !a.keep_alive;
      client_close(&cl);
    }
  }
  client_close(&cl);
  return NULL;
}

static void reload_policy(const char *policy) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=2", policy, NULL};
  reload_client_t clients[2];
  int before[64];
  ex_start(&ex, "cluster-http", NULL, env);
  int port = serving_port(&ex);
  int nbefore = log_pids(&ex, "listening", before, 64);
  ASSERT_EQ(nbefore, 2);

  memset(clients, 0, sizeof clients);
  for (int i = 0; i < 2; i++) {
    clients[i].port = port;
    ASSERT_OK(-pthread_create(&clients[i].thread, NULL, reload_client_main,
                              &clients[i]));
  }
  usleep(300000);
  size_t mark = ex.len;
  ASSERT(kill(ex.pid, SIGHUP) == 0);
  ex_wait_for(&ex, "reload done", mark, 20000);
  uint64_t done = test_now_ms();
  usleep(300000);
  for (int i = 0; i < 2; i++) {
    clients[i].stop = 1;
    pthread_join(clients[i].thread, NULL);
  }

  int total = 0, failures = 0;
  for (int i = 0; i < 2; i++) {
    total += clients[i].requests;
    failures += clients[i].failures;
    if (clients[i].failures)
      fprintf(stderr, "client %d: %d failures, last %d (%s)\n", i,
              clients[i].failures, clients[i].last_err,
              muster_err_name(clients[i].last_err));
  }
  fprintf(stderr, "%s: %d requests across the reload, %d failed\n", policy,
          total, failures);
  ASSERT_EQ(failures, 0);
  /* Requests sent after the reload are answered by new workers only. */
  int after = 0;
  for (int i = 0; i < 2; i++)
    for (int n = clients[i].requests, k = n > RING_LEN ? n - RING_LEN : 0;
         k < n; k++) {
      if (clients[i].started[k % RING_LEN] <= done)
        continue;
      for (int j = 0; j < nbefore; j++)
        ASSERT_NE(clients[i].pids[k % RING_LEN], before[j]);
      after++;
    }
  ASSERT(after > 0);
  for (int j = 0; j < nbefore; j++)
    ASSERT(!tc_alive(before[j]));

  ASSERT(kill(ex.pid, SIGTERM) == 0);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  assert_workers_gone(&ex);
}

TEST_T(cluster_example_http_reload, 90) {
  reload_policy("MUSTER_SCHED_POLICY=rr");
}

TEST_T(cluster_example_http_reload_leastconn, 90) {
  reload_policy("MUSTER_SCHED_POLICY=leastconn");
}

TEST_T(cluster_example_http_reload_shared, 90) {
  reload_policy("MUSTER_SCHED_POLICY=shared");
}

/* Under each accept-in-the-worker policy the workers serve too. */
TEST_T(cluster_example_http_reuseport, 60) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=2",
                       "MUSTER_SCHED_POLICY=reuseport", NULL};
  int pids[40];
  ex_start(&ex, "cluster-http", NULL, env);
  int port = serving_port(&ex);
  ASSERT(strstr(ex.log, "policy reuseport") != NULL);
  for (int i = 0; i < 40; i++)
    ASSERT((pids[i] = one_request(port)) > 0);
  /* The kernel hashes each new connection (its source port) to one of the
   * two sockets: 40 all on one would be a 2^-39 chance. */
  ASSERT_GE(distinct(pids, 40), 2);
  ASSERT(kill(ex.pid, SIGTERM) == 0);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  assert_workers_gone(&ex);
}

/* kill -9 of a worker: the primary logs it and starts a replacement, which
 * serves. */
TEST_T(cluster_example_http_kill_worker, 60) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=2", NULL};
  int before[8];
  ex_start(&ex, "cluster-http", NULL, env);
  int port = serving_port(&ex);
  ASSERT_EQ(log_pids(&ex, "listening", before, 8), 2);
  size_t mark = ex.len;
  ASSERT(kill(before[0], SIGKILL) == 0);
  ex_wait_for(&ex, "(SIGKILL); restarting", mark, 10000);
  const char *fork_line = ex_wait_for(&ex, "forked", mark, 10000);
  ex_wait_for(&ex, "listening", (size_t)(fork_line - ex.log), 10000);
  int seen_new = 0;
  for (int i = 0; i < 20; i++) {
    int pid = one_request(port);
    ASSERT(pid > 0);
    ASSERT_NE(pid, before[0]);
    seen_new = seen_new || pid != before[1];
  }
  ASSERT(seen_new);
  ASSERT(kill(ex.pid, SIGTERM) == 0);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  assert_workers_gone(&ex);
}

/* kill -9 of the only worker as soon as each replacement listens, until
 * the crash-loop guard gives its slot up: the last death must not read
 * "restarting" (nothing restarts), and the primary exits 1. */
TEST_T(cluster_example_http_crash_loop, 90) {
  example_t ex;
  const char *env[] = {"PORT=0", "HOST=127.0.0.1", "WORKERS=1", NULL};
  ex_start(&ex, "cluster-http", NULL, env);
  serving_port(&ex);
  size_t mark = 0;
  for (int kills = 0; kills < 12; kills++) {
    const char *at = ex_wait_for(&ex, "listening on", mark, 20000);
    const char *eol = strchr(at, '\n');
    mark = eol ? (size_t)(eol - ex.log) : (size_t)(at - ex.log);
    const char *pid_at = at;
    while (pid_at > ex.log && strncmp(pid_at, "(pid ", 5) != 0)
      pid_at--;
    ASSERT(kill(atoi(pid_at + 5), SIGKILL) == 0);
    while (!strstr(ex.log + mark, "gave up") &&
           !strstr(ex.log + mark, "listening on") && ex_read(&ex, 100) != 0)
      ;
    if (strstr(ex.log + mark, "gave up"))
      break;
  }
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 1);
  const char *gave = strstr(ex.log, "a worker slot gave up: crash loop");
  ASSERT(gave != NULL);
  const char *died = strstr(gave, "died (SIGKILL)");
  ASSERT(died != NULL);
  const char *eol = strchr(died, '\n');
  ASSERT(eol != NULL);
  char line[256];
  snprintf(line, sizeof line, "%.*s", (int)(eol - died), died);
  if (strstr(line, "restarting") != NULL)
    TEST_FAIL("misleading line after the crash loop: %s\n%s", line, ex.log);
  ASSERT(strstr(line, "not restarted") != NULL);
  assert_workers_gone(&ex);
}

/* A port already taken: the workers cannot listen, are not restarted, and
 * the primary exits 1 instead of serving nothing. */
TEST_T(cluster_example_http_port_taken, 60) {
  example_t ex;
  muster_listen_options_t lo;
  int fd, port;
  char port_env[32];
  memset(&lo, 0, sizeof lo);
  lo.address = "127.0.0.1";
  ASSERT_OK(muster_listen(&lo, &fd));
  ASSERT_OK(muster_listen_address(fd, NULL, 0, &port));
  snprintf(port_env, sizeof port_env, "PORT=%d", port);
  const char *env[] = {port_env, "HOST=127.0.0.1", "WORKERS=2", NULL};
  ex_start(&ex, "cluster-http", NULL, env);
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 1);
  close(fd);
  ASSERT(strstr(ex.log, "EADDRINUSE") != NULL);
  ASSERT(strstr(ex.log, "cannot listen on 127.0.0.1:") != NULL);
  ASSERT(strstr(ex.log, "restarting") == NULL);
  assert_workers_gone(&ex);
}

/* ---- auto-restart -------------------------------------------------------- */

/* Workers crash every 0.5-3 s; a client asking every 20 ms keeps getting
 * answers, from the replacements too, and the example ends by itself. */
TEST_T(cluster_example_auto_restart, 60) {
  example_t ex;
  const char *env[] = {"WORKERS=2", NULL};
  int pids[512], n = 0, failures = 0;
  ex_start(&ex, "auto-restart", "4", env);
  const char *at = ex_wait_for(&ex, "serving on 127.0.0.1:", 0, 10000);
  int port = atoi(at + strlen("serving on 127.0.0.1:"));
  ex_wait_for(&ex, "listening", 0, 10000);
  uint64_t end = test_now_ms() + 3500;
  while (test_now_ms() < end && n < 512) {
    int fd = connect_port(port);
    char line[64] = "";
    ssize_t r = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
    if (fd >= 0)
      close(fd);
    if (r > 0 && sscanf(line, "worker %d", &pids[n]) == 1)
      n++;
    else
      failures++;
    ex_read(&ex, 0);
    usleep(20000);
  }
  ASSERT_EQ(ex_wait_exit(&ex, 20000), 0);
  fprintf(stderr, "%d answers from %d workers, %d failed\n", n,
          distinct(pids, n), failures);
  ASSERT(strstr(ex.log, "; restart #1\n") != NULL);
  /* (one may be between a crash and its restart at that moment) */
  ASSERT(strstr(ex.log, "run time over: ") != NULL);
  /* Served throughout: answers from more workers than the first two, and
   * hardly a failure (a connection can only be lost if a worker dies
   * between the primary's hand-off and its answer). */
  ASSERT_GE(distinct(pids, n), 3);
  ASSERT_LE(failures * 20, n);
  assert_workers_gone(&ex);
}

/* ---- handle-rr ----------------------------------------------------------- */

TEST_T(cluster_example_handle_rr, 60) {
  example_t ex;
  int pids[6];
  ex_start(&ex, "handle-rr", "6", NULL);
  const char *at = ex_wait_for(&ex, "listening on 127.0.0.1:", 0, 10000);
  int port = atoi(at + strlen("listening on 127.0.0.1:"));
  for (int i = 0; i < 6; i++) {
    char line[64] = "";
    size_t len = 0;
    ssize_t r;
    int fd = connect_port(port);
    ASSERT(fd >= 0);
    while ((r = read(fd, line + len, sizeof line - 1 - len)) > 0)
      len += (size_t)r;
    close(fd);
    ASSERT_EQ(sscanf(line, "handled by child %d", &pids[i]), 1);
  }
  ASSERT_EQ(ex_wait_exit(&ex, 15000), 0);
  /* Strictly in turn: child A, child B, A, B... */
  ASSERT_EQ(distinct(pids, 6), 2);
  for (int i = 2; i < 6; i++)
    ASSERT_EQ(pids[i], pids[i - 2]);
  ASSERT(strstr(ex.log, "6 connections: 3 3 (per child)") != NULL);
  /* The children are gone (they were its children: reaped by it). */
  int a = pids[0], b = pids[1];
  uint64_t deadline = test_now_ms() + 3000;
  while ((tc_alive(a) || tc_alive(b)) && test_now_ms() < deadline)
    usleep(10000);
  ASSERT(!tc_alive(a) && !tc_alive(b));
}
