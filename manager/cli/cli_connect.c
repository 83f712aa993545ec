/* Reaching the daemon: connect, start it on demand, and one call that
 * survives a daemon dying or starting under it.
 *
 * The daemon can go at any moment of a call: `kill` closes its socket with
 * connections still in the listen backlog (their clients read a reset), a
 * kill -9 drops the connection mid-reply, and a daemon that is stopping
 * its apps answers every request "the daemon is exiting". A call that
 * loses its reply that way never prints half an answer (nothing is printed
 * before the whole reply line is decoded) and never exits 0: a read
 * (ping, ls, jlist, describe, env) is asked again once, of the daemon that
 * answers after the old one is gone (started on demand like any other);
 * any other command reports that the daemon went away, since it may have
 * been done in part. */
#include "cli.h"

#include <muster.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a freshly started daemon has to answer. */
#define SPAWN_WAIT_MS 10000
/* After a connection reset, how long the old daemon may take to release
 * its lock before we ask again anyway (a live daemon out of descriptors
 * also closes connections it cannot take). */
#define GONE_WAIT_MS 2000

int64_t cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* flock with a deadline. */
static int lock_until(int fd, int64_t deadline) {
  while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK || cli_now_ms() > deadline)
      return -1;
    sleep_ms(5);
  }
  return 0;
}

/* 1 when no daemon holds the home's lock: none runs, or it is gone. A
 * shared lock is enough to tell, and a daemon taking the lock right now
 * retries for a second (daemon.c), so the probe cannot make it fail. */
static int lock_free(const cli_t *cli) {
  int fd = open(cli->home.lock, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  int free_ = flock(fd, LOCK_SH | LOCK_NB) == 0;
  close(fd);
  return free_;
}

int cli_wait_gone(const cli_t *cli, int64_t deadline) {
  return cli_wait_pid_gone(cli, 0, deadline);
}

int cli_wait_pid_gone(const cli_t *cli, int pid, int64_t deadline) {
  for (;;) {
    if (lock_free(cli))
      return 0;
    /* Another daemon holds the lock now (started on demand by another
     * CLI): it took the lock after ours let it go. */
    int holder = pid ? home_daemon_pid(&cli->home) : 0;
    if (holder != 0 && holder != pid)
      return 0;
    if (cli_now_ms() > deadline)
      return -1;
    sleep_ms(5);
  }
}

/* In the daemon-to-be: leave nothing of the shell that ran the CLI. Its
 * descriptors (a pipe the caller waits on to end, a test runner's log)
 * would stay open for the daemon's life; its ignored and blocked signals
 * would be the daemon's, and its working directory stays busy (a
 * filesystem that cannot be unmounted). A home given as a relative path
 * is found from the caller's directory, so that one is kept. */
static void detach_from_caller(const home_t *h) {
  if (close_range(3, ~0u, 0) < 0)
    for (int fd = 3; fd < 1024; fd++)
      close(fd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  if (h->dir[0] == '/' && chdir("/") < 0)
    return; /* the home's own paths are absolute: nothing depends on it */
}

/* Starts `muster daemon` detached: a new session, stdio to daemon.log, not
 * our child (double fork), so it outlives this CLI and we reap at once. */
static int spawn_daemon(const home_t *h) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return -errno;
  exe[n] = '\0';
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    setsid();
    if (fork() != 0)
      _exit(0);
    detach_from_caller(h);
    int in = open("/dev/null", O_RDONLY);
    int log = open(h->daemon_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in >= 0)
      dup2(in, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    execl(exe, "muster", "daemon", (char *)NULL);
    _exit(127);
  }
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return 0;
}

static int no_daemon(int r) {
  return r == MUSTER_ENOENT || r == MUSTER_ECONNREFUSED;
}

/* Under start.lock: waits for a daemon to answer, starting one when none
 * holds the home's lock. A daemon may hold the lock with no socket to
 * connect to: one still starting (it ends what a killed predecessor left
 * before it binds) or one exiting (its socket is gone, its lock not yet).
 * Starting another then would only make one that gives up after a second
 * (daemon.c), leaving us without a daemon when the exiting one is gone. */
static int wait_daemon(cli_t *cli, int64_t deadline) {
  int spawned = 0;
  for (;;) {
    int r = muster_client_connect(cli->home.dir, &cli->client);
    if (!no_daemon(r))
      return r;
    if (!spawned && lock_free(cli)) {
      if ((r = spawn_daemon(&cli->home)) < 0)
        return r;
      spawned = 1;
    }
    if (cli_now_ms() > deadline) {
      fprintf(stderr,
              "muster: the daemon did not answer within %d ms (see %s)\n",
              SPAWN_WAIT_MS, cli->home.daemon_log);
      return 1;
    }
    sleep_ms(2);
  }
}

/* Only one CLI at a time starts a daemon (start.lock); the others find it
 * answering once they get the lock. The daemon's own flock is what makes
 * it one per home; this only saves starting daemons that would exit. */
/* No daemon answered at once: the slow path, apart so that its page of
 * stack (the lock's path) is not taken by every call. */
__attribute__((noinline)) static int connect_slow(cli_t *cli, int r) {
  /* Whatever went wrong, a home we cannot use is the clearest answer. */
  const char *what;
  int h = home_init(&cli->home, 1, &what);
  if (h < 0) {
    fprintf(stderr, "muster: MUSTER_HOME %s: %s (%s)\n", what,
            muster_err_name(h), muster_strerror(h));
    return CLI_FAIL;
  }
  if (!no_daemon(r))
    goto fail;
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/start.lock", cli->home.dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    r = -errno;
    goto fail;
  }
  int64_t deadline = cli_now_ms() + SPAWN_WAIT_MS;
  if (lock_until(fd, deadline) < 0) {
    close(fd);
    r = MUSTER_ETIMEDOUT;
    goto fail;
  }
  r = wait_daemon(cli, deadline);
  close(fd);
  if (r == 0)
    return CLI_OK;
  if (r == 1)
    return CLI_FAIL; /* said why */
fail:
  fprintf(stderr, "muster: cannot reach the daemon at %s: %s (%s)\n",
          cli->home.sock, muster_err_name(r), muster_strerror(r));
  return CLI_FAIL;
}

int cli_connect(cli_t *cli) {
  if (cli->client != NULL)
    return CLI_OK; /* connected already (start asked first: cli_start.c) */
  int r = muster_client_connect(cli->home.dir, &cli->client);
  return r == 0 ? CLI_OK : connect_slow(cli, r);
}

int cli_lost(int r) {
  return r == MUSTER_ECONNRESET || r == MUSTER_EPIPE || r == MUSTER_ENOTCONN;
}

/* The daemon's answer while it stops every app before it exits. */
static int exiting(int r, const char *message) {
  return r == MUSTER_ECANCELED && message != NULL;
}

/* What the daemon serves from its state alone, with no effect: asking
 * twice is asking once. */
static int is_read(muster_client_cmd_t cmd) {
  return cmd == MUSTER_CMD_PING || cmd == MUSTER_CMD_LIST ||
         cmd == MUSTER_CMD_DESCRIBE;
}

/* After a lost reply: waits until the daemon that lost it is gone, then
 * connects to the next one (starting it on demand). */
static int reconnect(cli_t *cli, int was_exiting) {
  /* Wait for that daemon, not for no daemon at all: another CLI may start
   * the next one meanwhile, and it holds the lock then (cli_wait_pid_gone:
   * a reader under `muster kill` waited out its whole timeout so). */
  struct ucred peer = {0};
  socklen_t len = sizeof peer;
  if (getsockopt(muster_client_fd(cli->client), SOL_SOCKET, SO_PEERCRED,
                 &peer, &len) < 0)
    peer.pid = 0;
  muster_client_close(cli->client);
  cli->client = NULL;
  int64_t wait = was_exiting ? (cli->timeout_ms ? cli->timeout_ms : INT32_MAX)
                             : GONE_WAIT_MS;
  if (cli_wait_pid_gone(cli, (int)peer.pid, cli_now_ms() + wait) < 0 &&
      was_exiting)
    return MUSTER_ETIMEDOUT;
  return cli_connect(cli) == CLI_OK ? 0 : 1;
}

int cli_call(cli_t *cli, muster_client_cmd_t cmd, json_t *args,
             json_t **result) {
  char *message = NULL;
  const char *name = muster_client_cmd_name(cmd);
  if (result)
    *result = NULL;
  int r = muster_client_command(cli->client, cmd, args, cli->timeout_ms, result,
                                &message);
  if (is_read(cmd) && (cli_lost(r) || exiting(r, message))) {
    int e = reconnect(cli, exiting(r, message));
    free(message);
    message = NULL;
    if (e == 1)
      return CLI_FAIL; /* cli_connect said why */
    r = e < 0 ? e
              : muster_client_command(cli->client, cmd, args, cli->timeout_ms,
                                      result, &message);
  }
  if (r == 0)
    return CLI_OK;
  if (exiting(r, message) && is_read(cmd)) {
    fprintf(stderr,
            "muster: %s: the daemon exited twice under this call: no "
            "answer\n",
            name);
  } else if (message) {
    fprintf(stderr, "muster: %s\n", message);
  } else if (r == MUSTER_ETIMEDOUT) {
    fprintf(stderr,
            "muster: %s: the daemon did not answer within %d ms "
            "(--timeout)\n",
            name, cli->timeout_ms);
  } else if (cli_lost(r)) {
    fprintf(stderr,
            "muster: %s: the daemon went away before it answered (%s)%s\n",
            name, muster_err_name(r),
            is_read(cmd) ? ", twice: no answer"
                         : "; the command may have been done in part "
                           "(see muster ls)");
  } else {
    fprintf(stderr, "muster: %s: %s (%s)\n", name, muster_err_name(r),
            muster_strerror(r));
  }
  free(message);
  return CLI_FAIL;
}
