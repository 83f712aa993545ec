/* The daemon is a child subreaper (PR_SET_CHILD_SUBREAPER): a process of an
 * app whose parent dies is re-parented to the daemon, not to init, and the
 * daemon must reap it. Only this file waits for such children.
 *
 * The apps' main processes are muster_spawn children, which libmuster
 * reaps itself with waitpid() on their own pid once their pidfd is
 * readable; a waitpid(-1) here would steal their exit status. So this
 * file peeks with waitid(WNOWAIT) at the next zombie and reaps it only when
 * neither the registry nor userdb.c (a getent it runs) owns its pid. When
 * the next zombie is an owned one, libmuster reaps it on this same loop
 * turn or the next, and the sweep is
 * tried again a moment later (a short timer), so an orphan queued behind
 * it is not left a zombie until the next SIGCHLD. */
#include "reaper.h"
#include "registry.h"
#include "../userdb.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static uv_signal_t sigchld;
static uv_timer_t retry;
static registry_t *reg;
static int started;

void reaper_sweep(void) {
  if (!started)
    return;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
      if (errno == EINTR)
        continue;
      return; /* ECHILD: no child at all */
    }
    if (si.si_pid == 0)
      return; /* children, none exited */
    if (registry_owns_pid(reg, si.si_pid) || userdb_owns_pid(si.si_pid)) {
      uv_timer_start(&retry, (uv_timer_cb)reaper_sweep, 5, 0);
      return;
    }
    while (waitpid(si.si_pid, NULL, WNOHANG) < 0 && errno == EINTR)
      ;
  }
}

static void on_sigchld(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  reaper_sweep();
}

int reaper_start(uv_loop_t *loop, registry_t *registry) {
  reg = registry;
  int r = uv_signal_init(loop, &sigchld);
  if (r < 0)
    return r;
  uv_timer_init(loop, &retry);
  uv_unref((uv_handle_t *)&retry);
  r = uv_signal_start(&sigchld, on_sigchld, SIGCHLD);
  if (r < 0) {
    uv_close((uv_handle_t *)&sigchld, NULL);
    uv_close((uv_handle_t *)&retry, NULL);
    return r;
  }
  uv_unref((uv_handle_t *)&sigchld);
  started = 1;
  return 0;
}

void reaper_close(void) {
  if (!started)
    return;
  started = 0;
  uv_close((uv_handle_t *)&sigchld, NULL);
  uv_close((uv_handle_t *)&retry, NULL);
}
