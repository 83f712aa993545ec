/* A worker process's two ends, for the thread module's isolation = process
 * (docs/threads.md, "Process isolation: the thread API on it"): the fork
 * and exit (src/thread_process.h), the port (src/thread_process_bridge.h),
 * and what a thread has that a port does not: online, the entry's result,
 * terminate.
 *
 * Frames of its own on the channel, besides the bridge's:
 *   {"o":1}                     worker → parent: its loop is set up and
 *                               its entry about to run (Node's 'online')
 *   {"exit":CODE,"error":ERR}   worker → parent: the exit code as the
 *                               thread module computed it (any int, where
 *                               a process's status keeps 8 bits) and the
 *                               entry's error (0: none)
 *
 * Terminate is SIGTERM: in the worker it sets the thread's stop flag
 * (muster_thread_should_stop) and stops its loop; SIGKILL follows after a
 * grace period if the process has not ended by then.
 */
#ifndef MUSTER_THREAD_PROCESS_WORKER_H
#define MUSTER_THREAD_PROCESS_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "muster/port.h"

typedef struct muster__tproc_worker_s muster__tproc_worker_t;

typedef struct {
  /* The worker's loop runs (it sent its first frame). */
  void (*on_online)(void *arg);
  /* The worker ended, after its channel did (every message it sent is in
   * the port's queue): `code` as it reported it, or its exit status when
   * it reported none; killed by `signal` (code then -1); `error` the
   * entry's error it reported (0: none). */
  void (*on_exit)(void *arg, int64_t code, int signal, int error);
  void *arg;
} muster__tproc_worker_hooks_t;

/* ---- the parent's side -------------------------------------------------- */

/* Forks a worker process that runs child(fd, child_arg) (the child's copy
 * of child_arg) and exits with what it returns; *port is the parent's end
 * of the port to it (not started). Errors as muster__tproc_start's and
 * muster__bridge_create's; nothing is left running then. */
int muster__tproc_worker_start(uv_loop_t *loop, int (*child)(int fd, void *),
                               void *child_arg,
                               const muster__tproc_worker_hooks_t *hooks,
                               muster_port_t **port,
                               muster__tproc_worker_t **out);
/* Asks the worker to stop: SIGTERM now (or as soon as it is online: before
 * that it has no handler for it), SIGKILL `grace_ms` later if it still
 * runs. Again: no-op. */
void muster__tproc_worker_terminate(muster__tproc_worker_t *w,
                                    uint64_t grace_ms);
/* Frees the parent's side (a running worker is killed and reaped first);
 * the port is the caller's to close. */
void muster__tproc_worker_close(muster__tproc_worker_t *w);

/* ---- the worker's side -------------------------------------------------- */

/* A thread's "run this in my cleanup" call (muster_thread_at_exit), which
 * the thread module hands down so this lower file never calls up. */
typedef int (*muster__tproc_at_exit_fn)(void (*cb)(void *arg), void *arg);

/* In the worker process: the port to the parent on `loop` over the channel
 * `fd`; SIGTERM from now on sets *stop and stops `loop` (the process's one
 * signal state: one worker per process); the online frame sent; the
 * bridge's last flush registered with `at_exit`. Errors:
 * muster_channel_open's, at_exit's, eventfd's, ENOMEM. */
int muster__tproc_worker_port(uv_loop_t *loop, int fd,
                              muster__tproc_at_exit_fn at_exit,
                              atomic_int *stop, muster_port_t **port);

/* In the worker process, once its exit code is known and before its
 * cleanup: queues the {"exit"} frame (the cleanup's flush writes it). */
void muster__tproc_worker_report(int code, int error);

#endif
