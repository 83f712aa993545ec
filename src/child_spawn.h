/* The spawn backends' interface (docs/child.md, "Two spawn backends"):
 * child.c resolves the options into a child_spawn_req_t and hands it to
 * one backend, which starts the process, watches its exit and reports it
 * through a function pointer. The backends never name the child object.
 *
 *   child_spawn_posix.c  vfork() (child_vfork.c) + a pidfd polled on the
 *                        loop (Linux)
 *   child_spawn_uv.c     uv_spawn(), with every other fd hidden from the
 *                        child (an atfork hook)
 */
#ifndef MUSTER_CHILD_SPAWN_H
#define MUSTER_CHILD_SPAWN_H

#include <muster/child.h>

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* What muster_spawn() hands to a backend: every option resolved. */
typedef struct {
  const char *file; /* searched on the child's PATH when it has no '/' */
  char *const *args;
  char *const *env; /* the child's whole environment */
  const char *cwd;  /* NULL: the parent's */
  /* Slot i of the child gets a copy of fds[i]; -1: /dev/null on 0-2, closed
   * on 3 and up (MUSTER_STDIO_IGNORE). The caller keeps these fds. */
  int fds[MUSTER_STDIO_MAX];
  unsigned shared; /* bit i: fds[i] is the application's (INHERIT, FD) */
  int nslots;
  unsigned flags; /* MUSTER_SPAWN_*; SHELL is already applied to args */
  uid_t uid;
  gid_t gid;
  const gid_t *groups; /* with MUSTER_SPAWN_SETGROUPS */
  size_t ngroups;
  int death_signal; /* 0: none */
} child_spawn_req_t;

/* The process was reaped: its exit code, or the signal that killed it. */
typedef void (*child_exit_fn)(void *arg, int64_t exit_status, int term_signal);

/* ---- child_spawn_posix.c ------------------------------------------------ */

typedef struct {
  uv_poll_t poll; /* on the pidfd, readable once the process exited */
  int pidfd;      /* -1 unless watching; the owner closes it after poll */
  int pid;
  child_exit_fn exited;
  void *arg;
} child_spawn_posix_t;

/* 1 when this backend works here (pidfd_open() needs Linux 5.3, and
 * child_vfork.c a known architecture; MUSTER_SPAWN_BACKEND=uv in the
 * environment, read once, forces the uv_spawn() backend for tests). It
 * takes every option, the parent-death signal and SETGROUPS included. */
int muster__child_spawn_posix_usable(void);
/* Starts the process and watches its exit on sp->poll: on success sets
 * sp->pid and sp->pidfd. On failure no process is left; when
 * *watch_inited is 1 the poll handle (and sp->pidfd) must still be
 * closed. */
int muster__child_spawn_posix(child_spawn_posix_t *sp, uv_loop_t *loop,
                              const child_spawn_req_t *req,
                              child_exit_fn exited, void *arg,
                              int *watch_inited);
/* pidfd_send_signal(): 0 or a negative errno. */
int muster__child_spawn_posix_kill(child_spawn_posix_t *sp, int signum);

/* ---- child_spawn_uv.c --------------------------------------------------- */

typedef struct {
  uv_process_t proc;
  child_exit_fn exited;
  void *arg;
} child_spawn_uv_t;

/* uv_spawn() of the request, the child seeing no fd of the parent but its
 * stdio slots (no SETGROUPS, no death_signal: child.c never sends those).
 * It initialises the process handle even when it fails, and that handle
 * must then be closed: *watch_inited says so. */
int muster__child_spawn_uv(child_spawn_uv_t *su, uv_loop_t *loop,
                           const child_spawn_req_t *req, child_exit_fn exited,
                           void *arg, int *watch_inited);

#endif
