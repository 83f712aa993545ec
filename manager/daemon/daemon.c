/* `muster daemon`: take the home's lock, bind the control socket, become
 * the child subreaper, run the loop.
 *
 * One daemon per MUSTER_HOME is enforced by flock() on daemon.lock, held
 * for the daemon's whole life (the kernel drops it however the process
 * ends, so a kill -9 never leaves a stale lock, unlike a pid file). The pid
 * written in the file is information for humans and tests, never trusted. */
#include "daemon.h"
#include "applog.h"
#include "groups.h"
#include "reaper.h"
#include "registry.h"
#include "../clock.h"
#include "../userdb.h"

#include <muster.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <unistd.h>

static muster_signal_t *signals[4];

/* A daemon that is exiting still holds the lock for a moment after its
 * last reply: a successor started right then waits for it a little. */
static int take_lock(const home_t *h, int *out) {
  int fd = open(h->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
    if (errno != EWOULDBLOCK || i == 100) {
      int e = errno == EWOULDBLOCK ? MUSTER_EBUSY : -errno;
      close(fd);
      return e;
    }
    usleep(10000);
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
    int e = -errno;
    close(fd);
    return e;
  }
  *out = fd;
  return 0;
}

/* A daemon killed in the middle of a save leaves its temporary file; the
 * lock is ours, so no save is under way. */
static void remove_stale_temps(const home_t *h) {
  char pattern[PATH_MAX + 16];
  snprintf(pattern, sizeof pattern, "%s.tmp.", h->dump);
  DIR *dir = opendir(h->dir);
  if (dir == NULL)
    return;
  const char *base = strrchr(pattern, '/') + 1;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (strncmp(e->d_name, base, strlen(base)) == 0)
      unlinkat(dirfd(dir), e->d_name, 0);
  closedir(dir);
}

static void on_signal(muster_signal_t *sig, int signum) {
  daemon_t *d = muster_signal_data(sig);
  switch (signum) {
  case SIGTERM:
  case SIGINT:
    fprintf(stderr, "muster daemon: %s: stopping every app, then exiting\n",
            muster_signal_name(signum));
    daemon_exit(d, NULL);
    break;
  case SIGUSR1:
    registry_reopen_logs(d->registry);
    break;
  default: /* SIGHUP: a closed terminal is no reason to stop the apps */
    break;
  }
}

static void close_signals(void) {
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
    if (signals[i]) {
      muster_signal_close(signals[i], NULL);
      signals[i] = NULL;
    }
}

/* glibc's free() gives memory back only from the top of the heap: after
 * 300 apps are deleted, the heap keeps their pages (touched, so resident)
 * under the few allocations still live above them, and each start/delete
 * cycle left the daemon bigger (2.7 MB, then 12, 17, 21 MB over three
 * cycles of 300 apps, with under 100 kB in use). malloc_trim(0) returns
 * every free page wherever it is. It walks the free lists, so it runs once
 * the burst is over, not at each free. */
#define TRIM_DELAY_MS 200

static void on_trim(uv_timer_t *t) {
  (void)t;
  malloc_trim(0);
}

void daemon_trim_soon(daemon_t *d) {
  if (!d->exiting && uv_is_active((uv_handle_t *)&d->trim) == 0)
    uv_timer_start(&d->trim, on_trim, TRIM_DELAY_MS, 0);
}

typedef struct {
  daemon_t *d;
  ctl_req_t *done;
} exit_ctx_t;

static void on_all_stopped(void *arg) {
  exit_ctx_t *x = arg;
  daemon_t *d = x->d;
  if (x->done)
    ctl_reply(x->done, 0, NULL, json_object());
  free(x);
  control_close(d->control);
  d->control = NULL;
  uv_close((uv_handle_t *)&d->trim, NULL);
  close_signals();
  reaper_close();
  groups_close();
  registry_close(d->registry);
  d->registry = NULL;
}

void daemon_exit(daemon_t *d, ctl_req_t *done) {
  if (d->exiting) {
    if (done)
      ctl_reply(done, MUSTER_EALREADY, "the daemon is already exiting", NULL);
    return;
  }
  exit_ctx_t *x = malloc(sizeof *x);
  if (x == NULL) {
    if (done)
      ctl_reply(done, MUSTER_ENOMEM, NULL, NULL);
    return;
  }
  d->exiting = 1;
  x->d = d;
  x->done = done;
  registry_stop_all(d->registry, on_all_stopped, x);
}

static int usage(void) {
  fprintf(stderr, "usage: muster daemon\n"
                  "  Runs the daemon of MUSTER_HOME in the foreground.\n");
  return 2;
}

int daemon_main(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") != 0))
    return usage();
  if (argc == 2) {
    usage();
    return 0;
  }
  daemon_t d = {0};
  const char *what;
  int r = home_init(&d.home, 1, &what);
  if (r < 0) {
    fprintf(stderr, "muster daemon: %s: %s (%s)\n", what, muster_err_name(r),
            muster_strerror(r));
    return 1;
  }
  r = take_lock(&d.home, &d.lock_fd);
  if (r == MUSTER_EBUSY) {
    fprintf(stderr,
            "muster daemon: a daemon already runs for %s (pid %d): refused\n",
            d.home.dir, home_daemon_pid(&d.home));
    return 1;
  }
  if (r < 0) {
    fprintf(stderr, "muster daemon: %s: %s (%s)\n", d.home.lock,
            muster_err_name(r), muster_strerror(r));
    return 1;
  }
  d.started_ms = clock_wall_ms();
  remove_stale_temps(&d.home);
  muster_process_set_title("muster daemon");
  d.loop = uv_default_loop();
  /* Before anything is served: what a killed predecessor left running
   * would otherwise run unseen next to what `resurrect` starts. */
  if ((r = groups_open(d.loop, &d.home)) < 0) {
    fprintf(stderr, "muster daemon: %s/groups.json: %s (%s)\n", d.home.dir,
            muster_err_name(r), muster_strerror(r));
    return 1;
  }
  /* Orphans of the apps (a double-forked grandchild) become ours, so the
   * daemon sees every process of an app and no zombie outlives it. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* libuv writes the control socket with write(2): a client gone before
   * its answer (`muster logs --follow | head`, a killed CLI) would raise
   * SIGPIPE and kill the daemon. Ignored, it is an EPIPE on that
   * connection. The apps start with every disposition back to default
   * (the spawn resets them). */
  signal(SIGPIPE, SIG_IGN);
  /* Users and groups are asked off the loop from now on. */
  userdb_init(d.loop);
  uv_timer_init(d.loop, &d.trim);
  uv_unref((uv_handle_t *)&d.trim);
  if ((r = registry_create(&d, &d.registry)) < 0 ||
      (r = reaper_start(d.loop, d.registry)) < 0 ||
      (r = control_listen(&d, &d.control)) < 0) {
    fprintf(stderr, "muster daemon: %s: %s (%s)\n", d.home.sock,
            muster_err_name(r), muster_strerror(r));
    return 1;
  }
  const int nums[] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP};
  for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
    muster_signal_subscribe(d.loop, nums[i], on_signal, &d, &signals[i]);
  uv_run(d.loop, UV_RUN_DEFAULT);
  close_signals();
  uv_run(d.loop, UV_RUN_DEFAULT);
  uv_loop_close(d.loop);
  close(d.lock_fd);
  return 0;
}
