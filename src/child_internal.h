/* Private to src/child*.c: the child object, and what the files above it
 * (exec, sync, fork) use. Layers, bottom up; a file names only the structs
 * of the files below it:
 *
 *   child_stdio.c        one stdio socketpair: read, write, end, pause;
 *                        reports through child_pipe_cbs_t (child_stdio.h)
 *   child_spawn_posix.c  the Linux backend: posix_spawn() + a pidfd
 *   child_spawn_uv.c     the uv_spawn() backend, fds hidden by an atfork
 *                        hook; both report the exit through a function
 *                        pointer (child_spawn.h)
 *   child_env.c          the child's environment
 *   child.c              the child object: spawn, events, stdio API, kill,
 *                        close and reaping; picks the backend
 *   child_exec.c         exec / execFile: buffered output
 *   child_sync.c         the blocking forms, on a private loop
 */
#ifndef MUSTER_CHILD_INTERNAL_H
#define MUSTER_CHILD_INTERNAL_H

#include <muster/child.h>
#include <muster/error.h>

#include "child_spawn.h"
#include "child_stdio.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes read from a pipe per recv(): a recv takes every byte the socket
 * holds (Linux's default socket buffer, 208 KiB, fits), so a flooding
 * child costs one recv per wake-up. Only the pages a read fills are
 * touched (docs/child.md). */
#define CHILD_RBUF_SIZE (256 * 1024)

struct muster_child_s {
  uv_loop_t *loop;
  /* The process is watched by exactly one backend (see exit_watch() in
   * child.c): libuv's process handle, or a poll on a pidfd. */
  child_spawn_uv_t uv;
  child_spawn_posix_t posix;
  uv_timer_t timer;
  uv_idle_t idle; /* defers on_spawn, write callbacks, ipc close */
  child_pipe_t pipes[MUSTER_STDIO_MAX];
  int nslots;
  char *rbuf; /* read buffer, shared by the pipes */

  int ipc_slot; /* -1: none */
  int ipc_fd;   /* parent's end until taken; -1 after */

  muster_spawn_cb on_spawn;
  muster_data_cb on_data;
  muster_alloc_cb on_alloc;
  muster_exit_cb on_exit;
  muster_close_cb on_close;
  void *data;

  int pid;
  int kill_signal;
  uint64_t timeout_ms;
  int64_t exit_status;
  int term_signal;

  unsigned spawned : 1;       /* the process was started */
  unsigned use_pidfd : 1;     /* started by the posix_spawn() backend */
  unsigned spawn_emitted : 1; /* on_spawn was called (or is being) */
  unsigned exited : 1;        /* the process was reaped */
  unsigned close_emitted : 1; /* on_close was called */
  unsigned killed : 1;
  unsigned timed_out : 1;
  unsigned ipc_taken : 1;
  unsigned ipc_closed : 1;
  unsigned check_close : 1; /* the idle callback should try on_close */
  unsigned unrefd : 1;
  unsigned closing : 1;         /* muster_child_close() was called */
  unsigned user_closed : 1;     /* the close callback was called */
  unsigned proc_waiting : 1;    /* closing; the exit watcher waits for exit */
  unsigned drop_on_timeout : 1; /* exec: the timeout also drops output */
  unsigned own_group : 1;  /* leads a process group (PROCESS_GROUP, DETACHED) */
  unsigned group_kill : 1; /* the timeout and exec's limits signal the group */

  /* Writes that finished, waiting for their callback on the idle turn. */
  child_write_t *done_head;
  child_write_t *done_tail;

  int pending_closes;
  muster_child_close_cb close_cb;

  /* Called once when muster_child_close() is called: fork uses it so the
   * channel stops pointing at a child object that is going away. */
  void (*close_hook)(void *arg);
  void *close_hook_arg;
};

/* child.c */
/* Sets (or with fn NULL clears) the close hook; replaces an earlier one. */
void muster__child_set_close_hook(muster_child_t *c, void (*fn)(void *),
                                  void *arg);
/* Sends `signum` (to the group, for a child spawned with
 * MUSTER_SPAWN_PROCESS_GROUP) and stops reading the output pipes at once,
 * as Node's exec does on timeout or maxBuffer: a grandchild holding stdout
 * that ignores the signal must not keep the run open. 0 or an error. */
int muster__child_kill_and_drop(muster_child_t *c, int signum);

/* child_env.c: NULL-terminated arrays, each freed with free() alone. */
int muster__child_env(const muster_spawn_options_t *o, int ipc_slot,
                      char ***out);

/* child_exec.c: the buffered run behind muster_exec(), muster_exec_file()
 * and the sync forms. `cb` may take the buffers (set them to NULL). */
typedef void (*muster__child_exec_cb)(muster_exec_result_t *result, void *data);
int muster__child_exec_start(uv_loop_t *loop, int shell, const char *file,
                             const char *const argv[],
                             const muster_exec_options_t *options,
                             muster__child_exec_cb icb, muster_exec_cb cb,
                             void *data);

#endif
