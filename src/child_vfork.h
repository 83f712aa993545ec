/* Our own posix_spawn() (child_vfork.c): vfork(), then in the child only
 * raw system calls up to execve(). It does what glibc's posix_spawn() did
 * for the pidfd backend, plus what posix_spawn() has no attribute for: a
 * parent-death signal, and a change of user, group and supplementary
 * groups. Linux only (child_spawn_posix.c is its one caller). */
#ifndef MUSTER_CHILD_VFORK_H
#define MUSTER_CHILD_VFORK_H

#include "child_spawn.h"

#include <sys/types.h>

/* 1 when muster__child_vfork() works on this system (Linux, on an
 * architecture whose kernel signal-action layout it knows). */
int muster__child_vfork_usable(void);

/* What a slot of the child gets, besides an fd to copy there (>= 0). */
enum {
  CHILD_VFORK_NULL = -1, /* /dev/null on 0-2, closed on 3 and up */
  CHILD_VFORK_KEEP = -2, /* left as it is (an inherited fd that is closed) */
};

/* What the child runs: the backend's request (child_spawn.h: env, cwd,
 * slots, flags, ids, groups, death_signal), with what the backend
 * resolved. The child only reads it. */
typedef struct {
  const child_spawn_req_t *spawn;
  const char *path;  /* a full path: the PATH search is done */
  char *const *args; /* spawn->args, or the /bin/sh retry's */
  /* Slot i gets a copy of src[i], or CHILD_VFORK_NULL / _KEEP. A source
   * is either its own slot (its close-on-exec flag is cleared) or an fd
   * >= nslots, so no copy overwrites a source still to be read. */
  int src[MUSTER_STDIO_MAX];
} child_vfork_req_t;

/* Starts req->path in a new process set up as `req` says, and returns once
 * it has exec'd or failed to: 0 and *pid, or the error of the step that
 * failed in the child (the process is then reaped: nothing is left), or
 * the error of vfork() or of the parent's preparation (MUSTER_EAGAIN,
 * MUSTER_ENOMEM, MUSTER_EMFILE). Any thread may call it; its signal mask
 * is the same on return. */
int muster__child_vfork(const child_vfork_req_t *req, pid_t *pid);

#endif
