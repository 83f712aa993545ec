/* Ending a process the way Node does: process.kill(), process.exit(),
 * process.exitCode, process.abort(), and the 'beforeExit' and 'exit'
 * events, with the loop lifecycle that fires them.
 *
 *   muster_process_kill(), _kill_name()      send a signal (or test a pid)
 *   muster_process_on_exit(), _off_exit()    hooks run when the process exits
 *   muster_process_on_before_exit(), _off_before_exit()
 *                                            hooks run when the loop empties
 *   muster_process_set_exit_code(), _exit_code()   Node's process.exitCode
 *   muster_process_exit()                    run the exit hooks, then exit
 *   muster_process_abort()                   abort(3): core dump, SIGABRT
 *   muster_process_run()                     Node's lifecycle on a loop
 *
 * Node's lifecycle, and muster_process_run()'s:
 *
 *   1. run the loop until it has nothing left to do (no active, referenced
 *      handle or request);
 *   2. fire 'beforeExit' with the exit code; its hooks may start more work
 *      (a timer, a write): if the loop is then alive, go back to 1, and
 *      'beforeExit' fires again the next time the loop empties;
 *   3. fire 'exit' with the exit code (hooks are synchronous: work they
 *      start on the loop never runs) and end with the exit code.
 *
 * 'beforeExit' is *not* fired when the process ends by
 * muster_process_exit() (which fires only 'exit'), by a signal, or by
 * muster_process_abort(); 'exit' is not fired on a signal or abort either
 * (see muster/process_report.h for a report on a fatal signal). This is
 * Node's rule exactly.
 *
 * Hooks and the exit code are process-wide (there is one process), guarded
 * by a lock: any thread may register or remove hooks. Hooks run on the
 * thread that calls muster_process_run() or muster_process_exit(), in the
 * order they were registered; a hook registered or removed while hooks run
 * takes effect from the next firing. */
#ifndef MUSTER_PROCESS_EXIT_H
#define MUSTER_PROCESS_EXIT_H

#include <uv.h>

#include "common.h"

/* Sends signal `signum` to `pid` (Node's process.kill(pid, signal)).
 * signum 0 sends nothing and only tests that the process exists and may be
 * signalled. pid 0 is this process's group, -N the group N (kill(2)).
 * Errors: MUSTER_EINVAL (signum < 0 or above the last real-time signal),
 * MUSTER_ESRCH (no such process or group; a zombie still exists),
 * MUSTER_EPERM (not allowed to signal it). Any thread. */
MUSTER_EXTERN int muster_process_kill(int pid, int signum);

/* The same with the signal named as Node names it: "SIGHUP", "SIGTERM" ...
 * (muster_signal_number()). Errors: as muster_process_kill(), and
 * MUSTER_EINVAL for NULL or an unknown name. */
MUSTER_EXTERN int muster_process_kill_name(int pid, const char *signame);

/* An 'exit' hook: gets the code the process is about to exit with. It may
 * change it with muster_process_set_exit_code(); it must not count on the
 * loop running again. */
typedef void (*muster_process_exit_cb)(int code, void *arg);

/* A 'beforeExit' hook: the loop has emptied; `code` is the current exit
 * code. It may start more work on the loop (then the loop goes on). */
typedef void (*muster_process_before_exit_cb)(int code, void *arg);

/* Adds a hook, after those already there; the same (cb, arg) may be added
 * twice and then runs twice, as Node's listeners do.
 * Errors: MUSTER_EINVAL (NULL cb), MUSTER_ENOMEM. Any thread. */
MUSTER_EXTERN int muster_process_on_exit(muster_process_exit_cb cb, void *arg);
MUSTER_EXTERN int
muster_process_on_before_exit(muster_process_before_exit_cb cb, void *arg);

/* Removes the first hook added with this (cb, arg).
 * Errors: MUSTER_ENOENT (there is none). Any thread. */
MUSTER_EXTERN int muster_process_off_exit(muster_process_exit_cb cb, void *arg);
MUSTER_EXTERN int
muster_process_off_before_exit(muster_process_before_exit_cb cb, void *arg);

/* Node's process.exitCode: the code the process ends with when it ends by
 * itself (muster_process_run()) or by muster_process_exit() from an exit
 * hook. Starts at 0. Only the low 8 bits reach the parent. Any thread. */
MUSTER_EXTERN void muster_process_set_exit_code(int code);
MUSTER_EXTERN int muster_process_exit_code(void);

/* Node's process.exit(code): sets the exit code to `code`, runs the exit
 * hooks with it (each may change it), then exit(3)s with the exit code:
 * atexit handlers run and stdio(3) buffers are flushed. Writes still queued
 * on a loop (muster/process_stdio.h) are lost, as in Node: exit from their
 * callbacks when the output matters. Called again from an exit hook (or
 * from another thread while the hooks run), it exits at once with its
 * code, without running the hooks again. Never returns. */
MUSTER_EXTERN _Noreturn void muster_process_exit(int code);

/* Node's process.abort(): abort(3). No hooks run; a fatal-signal report
 * (muster/process_report.h) is written if one is set up. Never returns. */
MUSTER_EXTERN _Noreturn void muster_process_abort(void);

/* Runs `loop` with Node's lifecycle (above): uv_run until the loop is
 * empty, 'beforeExit' hooks (again each time they made it alive), then the
 * 'exit' hooks; returns the exit code, which main() returns:
 *
 *     int main(void) {
 *       uv_loop_t loop;
 *       uv_loop_init(&loop);
 *       ... start servers, timers, reads ...
 *       int code = muster_process_run(&loop);
 *       uv_loop_close(&loop);
 *       return code;
 *     }
 *
 * As in Node, uv_stop() does not end it: only an empty loop, or
 * muster_process_exit(), does. Errors: MUSTER_EINVAL (NULL loop; nothing
 * ran). Thread: the loop's; one loop per process should use it (the hooks
 * are the process's). */
MUSTER_EXTERN int muster_process_run(uv_loop_t *loop);

#endif
