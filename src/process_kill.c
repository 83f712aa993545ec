/* muster_process_kill, _kill_name (see include/muster/process_exit.h). */
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_exit.h"

#include <errno.h>
#include <signal.h>

int muster_process_kill(int pid, int signum) {
  /* kill(2) would say EINVAL too, but only after a pid of -1 had been
   * checked against every process; refuse bad numbers up front. */
  if (signum < 0 || signum > SIGRTMAX)
    return MUSTER_EINVAL;
  return kill(pid, signum) == 0 ? 0 : -errno;
}

int muster_process_kill_name(int pid, const char *signame) {
  int signum = muster_signal_number(signame);
  if (signum < 0)
    return signum;
  return muster_process_kill(pid, signum);
}
