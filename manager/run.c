/* `muster __run <daemon pid> <file> <argv0> [args...]`: the exec
 * trampoline every app process starts as. It arranges that the app dies
 * with the daemon, then becomes the app.
 *
 * libmuster spawns with posix_spawn, which has no hook between fork and
 * exec for prctl(PR_SET_PDEATHSIG); this small step provides it, at the
 * cost of one extra exec. The parent-death signal reaches the app's main
 * process (SIGKILL, so the app cannot ignore it); processes it started
 * itself, in its group, are not covered (the kernel clears the setting in
 * a fork): the daemon kills the whole group on every stop, and after a
 * kill -9 of the daemon its successor ends the group (daemon/groups.c).
 * The check of getppid() covers a daemon that died before the prctl. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int run_main(int argc, char **argv);

int run_main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "muster __run: for the daemon's use only\n");
    return 2;
  }
  pid_t daemon = (pid_t)strtol(argv[2], NULL, 10);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != daemon)
    return 128 + SIGKILL;
  execvp(argv[3], &argv[4]);
  fprintf(stderr, "muster: cannot run %s: %s\n", argv[3], strerror(errno));
  return 127;
}
