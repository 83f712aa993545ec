/* The uv_spawn() backend (child_spawn.h): for uid/gid, kernels without
 * pidfd_open(), and other systems. It reports the exit through the
 * child_exit_fn it was given, and never names the child object.
 *
 * What a child inherits: its stdio slots, nothing else. The posix_spawn()
 * backend (child_spawn_posix.c) gets that with
 * posix_spawn_file_actions_addclosefrom_np(); here it takes a hook.
 *
 * Every fd muster creates is O_CLOEXEC, but the application may hold fds
 * opened without it (an old library, a plain open(), an fd inherited from
 * its own parent). uv_spawn() leaves those open across exec, so a child
 * would hold, say, the parent's listening socket or a log file, and keep it
 * alive after the parent closed it. libuv gives no hook between fork() and
 * exec(), and marking the parent's fds close-on-exec (fcntl or
 * close_range(CLOSE_RANGE_CLOEXEC) in the parent) would change the
 * application's fds behind its back, racing with its other threads.
 *
 * What we do instead: a pthread_atfork() child handler, which glibc runs in
 * the new child inside fork(), before fork() returns to libuv. It marks
 * every fd >= 3 close-on-exec *in the child's own fd table* (the parent's
 * is untouched). It acts only when the fork comes from muster's own
 * uv_spawn() call on this thread (a thread-local flag; the child is a copy
 * of that thread), so the application's own fork() calls are unaffected.
 * libuv then moves the stdio sources onto fds 0..n-1 with dup2() (which
 * clears close-on-exec on the target) or clears the flag itself when an fd
 * is already in place, so exactly the stdio slots survive exec.
 *
 * This relies on libuv calling fork() on Linux (1.44, our minimum, does; a
 * vfork/clone3 path would skip atfork handlers). The test child_no_fd_leak
 * fails visibly if that ever changes.
 */
#include "child_spawn.h"

#include <muster/error.h>

#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* 0: not ours; 1: ours; 2: ours, in a process group of its own. */
static _Thread_local int spawning;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;
static int hook_err;

/* Runs in the child between fork() and exec(): async-signal-safe calls
 * only, no malloc, no stdio. */
static void atfork_child(void) {
  if (!spawning)
    return;
  /* Before exec(), so that the group exists before the parent's
   * uv_spawn() returns (it waits for the exec) and before the child can
   * start anything. libuv's setsid() for detached would fail in a group
   * leader: the caller never asks for both. */
  if (spawning == 2)
    setpgid(0, 0);
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
#endif
  /* Kernels before 5.11: walk the fd table up to the soft limit. */
  struct rlimit rl;
  long max = 65536;
  if (syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max)
    max = (long)rl.rlim_cur;
  for (long fd = 3; fd < max; fd++)
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static void install_hook(void) {
  hook_err = pthread_atfork(NULL, NULL, atfork_child);
}

/* uv_spawn() with the hook armed for this one call on this thread. */
static int spawn_hidden_fds(uv_loop_t *loop, uv_process_t *proc,
                            const uv_process_options_t *options,
                            int new_group) {
  pthread_once(&hook_once, install_hook);
  if (hook_err != 0)
    return -hook_err;
  spawning = new_group ? 2 : 1;
  int r = uv_spawn(loop, proc, options);
  spawning = 0;
  return r;
}

static void process_exit(uv_process_t *proc, int64_t exit_status,
                         int term_signal) {
  child_spawn_uv_t *su = proc->data;
  su->exited(su->arg, exit_status, term_signal);
}

int muster__child_spawn_uv(child_spawn_uv_t *su, uv_loop_t *loop,
                           const child_spawn_req_t *req, child_exit_fn exited,
                           void *arg, int *watch_inited) {
  uv_stdio_container_t stdio[MUSTER_STDIO_MAX];
  uv_process_options_t po;

  for (int i = 0; i < req->nslots; i++) {
    stdio[i].flags = req->fds[i] >= 0 ? UV_INHERIT_FD : UV_IGNORE;
    stdio[i].data.fd = req->fds[i];
  }
  memset(&po, 0, sizeof po);
  po.exit_cb = process_exit;
  po.file = req->file;
  po.args = (char **)req->args;
  po.env = (char **)req->env;
  po.cwd = req->cwd;
  po.stdio = stdio;
  po.stdio_count = req->nslots;
  po.uid = req->uid;
  po.gid = req->gid;
  if (req->flags & MUSTER_SPAWN_DETACHED)
    po.flags |= UV_PROCESS_DETACHED;
  if (req->flags & MUSTER_SPAWN_SETUID)
    po.flags |= UV_PROCESS_SETUID;
  if (req->flags & MUSTER_SPAWN_SETGID)
    po.flags |= UV_PROCESS_SETGID;
  /* setsid() already makes a group, and fails in a group leader. */
  int new_group = (req->flags & MUSTER_SPAWN_PROCESS_GROUP) &&
                  !(req->flags & MUSTER_SPAWN_DETACHED);
  su->exited = exited;
  su->arg = arg;
  *watch_inited = 1;
  int r = spawn_hidden_fds(loop, &su->proc, &po, new_group);
  su->proc.data = su;
  return r;
}
