/* Supervision: restart policy, backoff, crash-loop guard and graceful stop
 * for one managed process.
 *
 *   muster_supervise_create()   a supervisor ("a row") bound to a loop
 *   muster_supervise_start()    start the process; keep it running
 *   muster_supervise_stop()     graceful hook, stop signal, then SIGKILL
 *   muster_supervise_restart()  stop, then start again
 *   muster_supervise_ready()    the owner saw the process report ready
 *   muster_supervise_exited()   the owner saw the process end
 *   muster_supervise_leave()    the process announced it is leaving
 *   muster_supervise_close()    free the supervisor (asynchronously)
 *   muster_supervise_child_create()  a supervisor that spawns (or forks)
 *                               its process itself, stdio to the owner
 *   muster_supervise_replace()  start a second row, then stop the first
 *
 * A supervisor does not know how its process is made: a cluster worker is
 * forked with an IPC channel, a process-manager app is spawned with log
 * pipes. The owner passes hooks (start, graceful, signal) and feeds the
 * events it observes (ready, exited). The supervisor drives its own timers
 * (backoff, ready timeout, stop escalation) from the loop, with uv_now().
 *
 * Each supervisor is one row of a state machine with the states stopped,
 * starting, online, stopping, backoff and errored, driven by the events
 * start, stop, restart, ready, exit, leave and timer. In short: start makes
 * the process (STARTING, or ONLINE when readiness is not awaited); ready
 * makes it ONLINE; an exit is judged by the policy (BACKOFF then STARTING
 * again, or STOPPED, or ERRORED on a crash loop); stop walks the process
 * through STOPPING to STOPPED.
 *
 * The full table (state × event → action, next state) is in
 * docs/supervise.md and, as code, at the top of src/supervise.c.
 *
 * Timing rules, with the policy's defaults:
 *   - Restart delay (backoff): the first automatic restart waits
 *     backoff_base_ms (100 ms); each further one multiplies the delay by
 *     backoff_factor (2) up to backoff_max_ms (15 s). Once a process has
 *     stayed ONLINE for min_uptime_ms (1 s), the next delay is the base
 *     again. With MUSTER_SUPERVISE_RESTART_AT_ONCE the series starts with
 *     a restart without delay, done inside muster_supervise_exited().
 *   - Crash-loop guard: when an exit would need an automatic restart and
 *     crash_limit (10) automatic restarts already happened within the last
 *     crash_window_ms (60 s), the row becomes ERRORED (reason
 *     MUSTER_SUPERVISE_CRASH_LOOP) instead. Every automatic restart
 *     counts, however long the run before it. The window slides over the
 *     whole life of the row: unlike PM2, the age of the process does not
 *     matter.
 *   - Readiness: with MUSTER_SUPERVISE_WAIT_READY the row stays STARTING
 *     until muster_supervise_ready(); after ready_timeout_ms (3 s) the start
 *     has failed: the process is stopped (as by muster_supervise_stop) and
 *     the row ends ERRORED (MUSTER_SUPERVISE_START_FAILED, MUSTER_ETIMEDOUT).
 *     It is never declared ready anyway, and the row does not retry a
 *     failed start by itself. Without the flag the row is ONLINE as soon as
 *     the start hook succeeds.
 *   - Stop escalation, with T = kill_timeout_ms (1600 ms):
 *       with a graceful hook:    graceful, wait T, stop_signal, wait 2T,
 *                                SIGKILL
 *       without one (or when it fails): stop_signal, wait T, SIGKILL
 *     A leaving process (muster_supervise_leave) is already draining: it
 *     gets the schedule from "wait T, stop_signal, wait 2T, SIGKILL".
 *     After SIGKILL the row waits for the exit without a deadline (the
 *     kernel cannot refuse SIGKILL; only the exit report can be missing).
 *
 * Replacing a process (the step of every rolling reload) is
 * muster_supervise_replace() at the end of this file: start a second row,
 * wait until it is ONLINE, then stop the first; if the second fails, keep
 * the first and say why.
 *
 * Unless a function says otherwise: options, strings and arrays are borrowed
 * for the call (muster copies what it keeps), and every function is called
 * on the loop's thread.
 */
#ifndef MUSTER_SUPERVISE_H
#define MUSTER_SUPERVISE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "channel.h"
#include "child.h"
#include "common.h"
#include "fork.h"

typedef struct muster_supervisor_s muster_supervisor_t;

/* The states of a row. */
typedef enum {
  /* No process, none wanted. The state after create, after a stop, and after
   * an exit that the policy does not restart. */
  MUSTER_SUPERVISE_STOPPED = 0,
  /* The start hook made a process; waiting for it to report ready (only
   * with MUSTER_SUPERVISE_WAIT_READY). */
  MUSTER_SUPERVISE_STARTING,
  /* The process runs (and reported ready, when that is awaited). */
  MUSTER_SUPERVISE_ONLINE,
  /* The process is being stopped: graceful hook, stop signal, SIGKILL. */
  MUSTER_SUPERVISE_STOPPING,
  /* The process ended and will be started again when the backoff delay
   * has passed. */
  MUSTER_SUPERVISE_BACKOFF,
  /* Given up: a crash loop, or a start that failed. No process. Only
   * muster_supervise_start() / _restart() (or _stop()) leave this state. */
  MUSTER_SUPERVISE_ERRORED,
} muster_supervise_state_t;

/* When an exited process is started again (PM2's autorestart). */
typedef enum {
  /* After any exit, whatever its code. The default. */
  MUSTER_RESTART_ALWAYS = 0,
  /* After an exit code other than 0, or death by a signal. */
  MUSTER_RESTART_ON_FAILURE,
  /* Never: an exit always leads to STOPPED. */
  MUSTER_RESTART_NEVER,
} muster_restart_t;

/* Why a row became ERRORED. */
typedef enum {
  MUSTER_SUPERVISE_NO_ERROR = 0,
  /* Too many automatic restarts within the crash window. */
  MUSTER_SUPERVISE_CRASH_LOOP,
  /* The start hook failed, or the process did not report ready in time
   * (MUSTER_ETIMEDOUT). */
  MUSTER_SUPERVISE_START_FAILED,
} muster_supervise_reason_t;

/* Bits of muster_supervise_policy_t.flags. */
enum {
  /* A process is ONLINE only once muster_supervise_ready() is called (the
   * owner saw 'listening', a "ready" message, a notification fd ...). */
  MUSTER_SUPERVISE_WAIT_READY = 1 << 0,
  /* The delay series starts at 0: the row's first automatic restart, and
   * the first after a process that stayed ONLINE for min_uptime_ms, happen
   * at once, inside the muster_supervise_exited() call that reported the
   * exit (for a supervised child: before its on_exited). The row still
   * passes through BACKOFF, reported with muster_supervise_backoff_ms() 0,
   * and the crash-loop guard applies as always; a callback that stops or
   * closes the row on BACKOFF cancels the restart. A quick crash after
   * that waits backoff_base_ms, then the delay grows as usual (0, base,
   * base * factor, ...). For a process manager whose restart delay is 0
   * (PM2's default): no timer, so no loop turn, between exit and restart. */
  MUSTER_SUPERVISE_RESTART_AT_ONCE = 1 << 1,
};

/* Most exit codes a policy may list as "do not restart". */
#define MUSTER_SUPERVISE_MAX_EXIT_CODES 64
/* Largest crash_limit. */
#define MUSTER_SUPERVISE_MAX_CRASH_LIMIT 1000

/* Restart and stop policy. All zero means the defaults given per field. */
typedef struct {
  muster_restart_t restart; /* default MUSTER_RESTART_ALWAYS */
  /* Exit codes after which the process is never restarted, whatever
   * `restart` says (PM2's stop_exit_codes; nginx's "do not respawn" exit
   * code 2): the row goes to STOPPED. At most
   * MUSTER_SUPERVISE_MAX_EXIT_CODES; copied. Death by a signal never
   * matches. */
  const int *no_restart_codes;
  size_t no_restart_count;
  uint64_t backoff_base_ms; /* default 100 */
  /* Multiplier of the delay after each quick crash; 1 means a fixed delay.
   * Default 2. Less than 1 (or not a number) is invalid. */
  double backoff_factor;
  uint64_t backoff_max_ms; /* default 15000; must be >= the base */
  uint64_t min_uptime_ms;  /* default 1000 (PM2's) */
  /* Crash-loop guard: at most crash_limit automatic restarts within any
   * crash_window_ms. Defaults 10 and 60000. At most
   * MUSTER_SUPERVISE_MAX_CRASH_LIMIT. */
  unsigned crash_limit;
  uint64_t crash_window_ms;
  uint64_t kill_timeout_ms;  /* T of the stop schedule; default 1600 */
  uint64_t ready_timeout_ms; /* with WAIT_READY; default 3000 */
  int stop_signal;           /* default SIGTERM */
  unsigned flags;            /* MUSTER_SUPERVISE_* */
} muster_supervise_policy_t;

/* ---- hooks: the owner makes and signals the process ---------------------
 *
 * Hooks are called on the loop's thread from inside supervisor calls and
 * timers. They must not call the supervisor's event functions (start, stop,
 * restart, ready, exited, leave), which return MUSTER_EBUSY while a hook
 * runs; they may query it. */

/* Makes the process. Returns 0 and sets *pid, or a negative error (the row
 * then becomes ERRORED with MUSTER_SUPERVISE_START_FAILED and this error).
 * After a 0, the owner must eventually call muster_supervise_exited() for
 * this process (unless it closes the supervisor first). */
typedef int (*muster_supervise_start_cb)(muster_supervisor_t *sup, int *pid);
/* Asks the process to leave gracefully (e.g. a disconnect message over the
 * IPC channel: stop accepting, finish open connections, exit). Returns 0,
 * or a negative error (e.g. MUSTER_ENOTCONN), after which the stop signal
 * is sent at once. */
typedef int (*muster_supervise_graceful_cb)(muster_supervisor_t *sup);
/* Sends signal `signo` to the process. Returns 0 or a negative error (which
 * the supervisor ignores: MUSTER_ESRCH means the exit report is coming). */
typedef int (*muster_supervise_signal_cb)(muster_supervisor_t *sup, int signo);

/* ---- events out --------------------------------------------------------- */

/* The row went from state `old` to `state`. Called after the transition is
 * complete, so queries already give the new values. Reports are in order
 * and never stale: when a callback sends the row an event that moves it on,
 * what the earlier transition still had to report is dropped. */
typedef void (*muster_supervise_state_cb)(muster_supervisor_t *sup,
                                          muster_supervise_state_t old,
                                          muster_supervise_state_t state);
/* The row became ERRORED (again): `reason`, and `err` the start error (the
 * start hook's result, or MUSTER_ETIMEDOUT for a readiness timeout), or 0
 * for a crash loop. Called just before on_state(..., ERRORED), with the
 * state already ERRORED. */
typedef void (*muster_supervise_error_cb)(muster_supervisor_t *sup,
                                          muster_supervise_reason_t reason,
                                          int err);
/* The supervisor is being freed (after muster_supervise_close): `sup` is
 * still readable during the call (muster_supervise_data), freed after it. */
typedef void (*muster_supervise_close_cb)(muster_supervisor_t *sup);

typedef struct {
  muster_supervise_start_cb start;       /* required */
  muster_supervise_graceful_cb graceful; /* optional */
  muster_supervise_signal_cb signal;     /* required */
  muster_supervise_state_cb on_state;    /* optional */
  muster_supervise_error_cb on_error;    /* optional */
  muster_supervise_policy_t policy;
  void *data; /* returned by muster_supervise_data() */
} muster_supervise_options_t;

/* Creates a supervisor in state STOPPED; nothing is started until
 * muster_supervise_start(). Free it with muster_supervise_close().
 * Errors: MUSTER_EINVAL (NULL loop, options, start or signal hook, or out;
 * an invalid policy value: backoff_factor < 1, backoff_max_ms below the
 * base, too many exit codes, crash_limit too large, a bad stop_signal),
 * MUSTER_ENOMEM. On error there is nothing to free. */
MUSTER_EXTERN int
muster_supervise_create(uv_loop_t *loop,
                        const muster_supervise_options_t *options,
                        muster_supervisor_t **out);

/* ---- events in ----------------------------------------------------------
 *
 * Each returns 0 when the event was applied or, as documented in the state
 * table, ignored as harmless; a negative error otherwise (nothing changed).
 * All may be called from the supervisor's callbacks (not from its hooks).
 * Between muster_supervise_close() and its callback they return
 * MUSTER_ECANCELED. */

/* Starts the process (STOPPED, ERRORED), or at once when waiting out a
 * backoff. A start asked for by the owner forgets the crash history and
 * resets the backoff. During STOPPING, the start happens after the exit.
 * Errors: MUSTER_EALREADY (STARTING or ONLINE), the start hook's error (the
 * row is then ERRORED and on_state / on_error were called), MUSTER_EBUSY. */
MUSTER_EXTERN int muster_supervise_start(muster_supervisor_t *sup);

/* Stops the process with the escalation schedule (see the top of this
 * file); the row is STOPPED once the exit is reported. In BACKOFF it
 * cancels the pending restart; in ERRORED it clears the error (STOPPED);
 * during STOPPING it cancels a start queued by start/restart (a process
 * being stopped for a readiness timeout still ends ERRORED). STOPPED: 0,
 * nothing to do. Errors: MUSTER_EBUSY. */
MUSTER_EXTERN int muster_supervise_stop(muster_supervisor_t *sup);

/* Stop, then start (a start asked for by the owner). With no process
 * (STOPPED, BACKOFF, ERRORED) it starts at once. Errors: as
 * muster_supervise_start() without MUSTER_EALREADY. */
MUSTER_EXTERN int muster_supervise_restart(muster_supervisor_t *sup);

/* The process reported ready: STARTING becomes ONLINE. Ignored (0) in every
 * other state: a late "ready" read after the exit is harmless. */
MUSTER_EXTERN int muster_supervise_ready(muster_supervisor_t *sup);

/* The process ended: exit_status is its exit code, or term_signal the
 * signal that killed it (as muster_exit_cb). The policy decides what comes
 * next. Errors: MUSTER_ESRCH (no process: STOPPED, BACKOFF, ERRORED),
 * MUSTER_EBUSY. */
MUSTER_EXTERN int muster_supervise_exited(muster_supervisor_t *sup,
                                          int64_t exit_status, int term_signal);

/* The process announced it is about to leave. The supervisor will not
 * restart it (the owner starts its replacement at once, typically on a new
 * supervisor) and does not count its exit as a crash; the row is STOPPING
 * and the process is left to drain for T before the stop signal (see the
 * schedule). Ignored (0) when not STARTING or ONLINE. Errors: MUSTER_EBUSY. */
MUSTER_EXTERN int muster_supervise_leave(muster_supervisor_t *sup);

/* Frees the supervisor: stops its timers; calls no hook or callback any
 * more, except `cb` (may be NULL) on a later loop turn. It does not stop
 * the process: a process still running stays the owner's (stop first and
 * close on the transition to STOPPED to end it). Safe inside any of the
 * supervisor's callbacks; not inside a hook. Closing twice is a bug. */
MUSTER_EXTERN void muster_supervise_close(muster_supervisor_t *sup,
                                          muster_supervise_close_cb cb);

/* ---- queries (any time before the close callback) ---------------------- */

MUSTER_EXTERN muster_supervise_state_t
muster_supervise_state(const muster_supervisor_t *sup);
/* "stopped", "starting", "online", "stopping", "backoff", "errored"; for an
 * unknown value "unknown". Static strings. Any thread. */
MUSTER_EXTERN const char *
muster_supervise_state_name(muster_supervise_state_t state);
/* "none", "crash loop", "start failed"; "unknown". Any thread. */
MUSTER_EXTERN const char *
muster_supervise_reason_name(muster_supervise_reason_t reason);
/* The pid of the current process (STARTING, ONLINE, STOPPING), else 0. */
MUSTER_EXTERN int muster_supervise_pid(const muster_supervisor_t *sup);
/* Starts after the first one, automatic or asked for (PM2's "restarts"). */
MUSTER_EXTERN unsigned
muster_supervise_restarts(const muster_supervisor_t *sup);
/* Milliseconds since the current process was started (by uv_now), or 0
 * when there is none. */
MUSTER_EXTERN uint64_t muster_supervise_uptime(const muster_supervisor_t *sup);
/* In BACKOFF, the delay in ms this pending restart waits (counted from the
 * exit); otherwise 0. */
MUSTER_EXTERN uint64_t
muster_supervise_backoff_ms(const muster_supervisor_t *sup);
/* 1 when a process has exited since create; then *exit_status and
 * *term_signal (either may be NULL) describe the last exit. 0 otherwise. */
MUSTER_EXTERN int muster_supervise_last_exit(const muster_supervisor_t *sup,
                                             int64_t *exit_status,
                                             int *term_signal);
/* In ERRORED: the error passed to on_error (0 for a crash loop) and, when
 * reason is not NULL, *reason. Otherwise 0 and MUSTER_SUPERVISE_NO_ERROR. */
MUSTER_EXTERN int muster_supervise_error(const muster_supervisor_t *sup,
                                         muster_supervise_reason_t *reason);

MUSTER_EXTERN uv_loop_t *muster_supervise_loop(const muster_supervisor_t *sup);
MUSTER_EXTERN void *muster_supervise_data(const muster_supervisor_t *sup);
MUSTER_EXTERN void muster_supervise_set_data(muster_supervisor_t *sup,
                                             void *data);

/* ---- a supervised child --------------------------------------------------
 *
 * The usual owner: a supervisor whose process is a muster_spawn() child (or
 * a muster_fork() child with an IPC channel) that the supervisor makes
 * itself, so the owner writes no hooks. It is a muster_supervisor_t like
 * any other: muster_supervise_start(), _stop(), _restart(), _close() and
 * the queries work on it, on_state and on_error report as above, and the
 * policy applies (stop_signal and kill_timeout_ms are the per-supervisor
 * kill signal and escalation; the restart policy, no_restart_codes,
 * backoff, min_uptime and the crash-loop guard decide restarts; the reason
 * of an ERRORED row is muster_supervise_error()). Its start spawns (a
 * spawn error makes the row ERRORED, MUSTER_SUPERVISE_START_FAILED, with
 * that error); the process's exit is fed to the row; its signal is sent
 * with muster_child_kill() (or to the group, below).
 *
 * The process's stdio is the owner's: pipe slots deliver to on_data, and
 * on_child hands over each new muster_child_t (and its channel), through
 * which the owner may write to it, pause its output
 * (muster_child_read_stop) or send messages. The owner must not close that
 * child or channel, nor change their data pointers: the supervisor closes
 * them once the process has closed (exit and end of every pipe), and on
 * muster_supervise_close().
 *
 * Process group. With MUSTER_SPAWN_PROCESS_GROUP (or MUSTER_SPAWN_DETACHED)
 * in process.spawn.flags, the process is its whole group: the stop signal
 * and SIGKILL go to every member (muster_child_kill_group), and the exit
 * is fed to the row only once no member is left, so STOPPED means that
 * nothing the process started in its group still runs. When the leader
 * exits and members remain, they get stop_signal at once (unless a stop is
 * under way, whose schedule goes on), then SIGKILL after kill_timeout_ms.
 * Whether members remain is checked every few ms with kill(-pgid, 0);
 * members that became this process's children (it is a child subreaper)
 * are reaped with waitpid(-pgid), which touches no other child. A member
 * that left the group (setsid, setpgid) is not followed. */

/* What one start runs: the file, argv and options the row was created
 * with, which on_prepare may change for that start. */
typedef struct {
  const char *file;
  const char *const *argv;
  muster_fork_options_t process;
} muster_supervise_run_t;

/* Before each start (the first and every restart), with a copy of what the
 * row was created with: the owner may change any field for this start
 * only, such as an id or an attempt number in the environment, or settings
 * changed since create (a cluster's setupPrimary). Strings and arrays it
 * points to are borrowed until the start returns: they are the owner's to
 * keep meanwhile (a buffer of its own, freed on a later start or at
 * close). As at create, the spawn callbacks, data, timeout_ms and
 * kill_signal are ignored; so are changes to MUSTER_SPAWN_PROCESS_GROUP
 * and MUSTER_SPAWN_DETACHED (fixed at create), and run->file must not be
 * NULL (MUSTER_EINVAL). Returns 0, or a negative error, which fails the
 * start as a spawn error does (ERRORED, MUSTER_SUPERVISE_START_FAILED, with
 * that error). Called from inside the row's start: like a hook, it must
 * not call the row's event functions (MUSTER_EBUSY); it may query. */
typedef int (*muster_supervise_prepare_cb)(muster_supervisor_t *sup,
                                           muster_supervise_run_t *run);

/* Each new process: `child` and, in fork mode, `channel` (else NULL), both
 * valid until the process has closed or the supervisor is closed. Called
 * from inside the row's start, before its on_state: like a hook, it must
 * not call the row's event functions (MUSTER_EBUSY); it may query. */
typedef void (*muster_supervise_child_cb)(muster_supervisor_t *sup,
                                          muster_child_t *child,
                                          muster_channel_t *channel);
/* Output of a MUSTER_STDIO_PIPE slot of `child` (any process of the row,
 * also one still draining after a restart), as muster_data_cb. */
typedef void (*muster_supervise_data_cb)(muster_supervisor_t *sup,
                                         muster_child_t *child, int slot,
                                         const char *buf, size_t len);

/* Room for the next read of a pipe slot of `child`, as muster_alloc_cb. */
typedef void (*muster_supervise_alloc_cb)(muster_supervisor_t *sup,
                                          muster_child_t *child, int slot,
                                          size_t suggested, char **buf,
                                          size_t *len);

/* The process ended, as muster_exit_cb (for a group: once no member is
 * left; with close_wait_ms: once its pipes and channel ended too), just
 * before the row is told (so the state is still the one it ended in). The
 * owner may close the row here, and the row is then not told: an exit it
 * must not judge (a process that left by the owner's choice). */
typedef void (*muster_supervise_exit_cb)(muster_supervisor_t *sup,
                                         muster_child_t *child,
                                         int64_t exit_status, int term_signal);
/* The row is about to send `signo` to the process (or its group): the
 * stop signal, SIGKILL, or what a group's leftover members get. For logs;
 * the signal is sent whatever the callback does. */
typedef void (*muster_supervise_signaled_cb)(muster_supervisor_t *sup,
                                             int signo);

typedef struct {
  /* What to run. process.spawn: every spawn option but the callbacks, data
   * and timeout_ms (which are ignored) and kill_signal (the policy's
   * stop_signal is used); with `fork`, process.channel (its callbacks and
   * data are the owner's) and process.silent apply too. Copied (strings,
   * arrays and all) at create. */
  muster_fork_options_t process;
  int fork; /* 1: muster_fork() (an IPC channel); 0: muster_spawn() */
  /* 0: a process's exit is reported (on_exit, then the row) when the
   * process is reaped. Otherwise at its close, as Node's 'close' follows
   * 'exit': once each of its pipes and, with `fork`, its channel have
   * ended too, so all of its output and messages (and the channel's
   * on_disconnect) come before on_exit; when something else keeps one of
   * them open (a grandchild that inherited it), at most close_wait_ms
   * after the exit. */
  uint64_t close_wait_ms;
  muster_supervise_prepare_cb on_prepare; /* optional */
  muster_supervise_child_cb on_child;     /* optional */
  muster_supervise_data_cb on_data;       /* optional */
  muster_supervise_exit_cb on_exit;       /* optional */
  /* The same exit, just after the row was told: the state is the one the
   * exit led to (BACKOFF, STOPPED, ERRORED, or STARTING for a restart
   * already under way, whose on_child came first). Not called when the row
   * was closed meanwhile (from on_exit, on_state or on_error): the owner
   * knows, and must finish with the process there. Optional. */
  muster_supervise_exit_cb on_exited;
  muster_supervise_signaled_cb on_signal; /* optional */
  muster_supervise_graceful_cb graceful;  /* optional, as in the hooks */
  muster_supervise_state_cb on_state;     /* optional */
  muster_supervise_error_cb on_error;     /* optional */
  muster_supervise_policy_t policy;
  void *data; /* returned by muster_supervise_data() */
  muster_supervise_alloc_cb on_alloc; /* optional: where on_data's go */
} muster_supervise_child_options_t;

/* Creates a supervisor in state STOPPED whose process is `file` with
 * `argv` (as muster_spawn() or muster_fork() take them); nothing runs
 * until muster_supervise_start(). Free it with muster_supervise_close(),
 * which closes the current child object and channel (the process itself
 * is not stopped: it is still reaped when it exits; stop first to end it).
 * Errors: MUSTER_EINVAL (NULL loop, file, options or out; an empty argv;
 * a policy muster_supervise_create() rejects; too many stdio slots),
 * MUSTER_ENOMEM. On error there is nothing to free. */
MUSTER_EXTERN int muster_supervise_child_create(
    uv_loop_t *loop, const char *file, const char *const argv[],
    const muster_supervise_child_options_t *options, muster_supervisor_t **out);

/* The current process's child object (STARTING, ONLINE, STOPPING), else
 * NULL; NULL too for a supervisor not made by
 * muster_supervise_child_create(). Borrowed: see on_child. */
MUSTER_EXTERN muster_child_t *
muster_supervise_child(const muster_supervisor_t *sup);
/* Its channel in fork mode, else NULL. Borrowed: see on_child. */
MUSTER_EXTERN muster_channel_t *
muster_supervise_channel(const muster_supervisor_t *sup);

/* ---- end of the supervised child ---------------------------------------- */

/* ==== Replacing one process by another (src/supervise_replace.c) ========
 *
 * muster_supervise_replace(prev, next) is one step of a rolling reload,
 * the same for a cluster worker and for a process manager's app: it starts
 * `next`, waits until it is ONLINE (with MUSTER_SUPERVISE_WAIT_READY in its
 * policy: until the new process said it is ready), and only then stops
 * `prev` (graceful hook, stop signal, SIGKILL: prev's own schedule). When
 * `next` fails first, `prev` is left as it was (serving) and `next`
 * stopped. Both rows stay their owner's: the owner's on_state and on_error
 * still see every transition (the operation watches them as well, after
 * the owner's callbacks) and the owner may close them; the operation never
 * closes a row.
 */
typedef struct muster_supervise_replace_s muster_supervise_replace_t;

/* The replacement ended, on a loop turn after the event that ended it:
 *   0                  `next` is ONLINE and `prev` STOPPED (or closed, or
 *                      it had no process to stop);
 *   MUSTER_ECHILD      next's process exited before it was ready (or went
 *                      into a crash loop); it was stopped;
 *   MUSTER_ETIMEDOUT   next was not ready within its ready_timeout_ms;
 *   another error      next's start failed with it (the start hook's);
 *   MUSTER_ECANCELED   `next` was closed by its owner before it was ready.
 * `op` is freed after this returns. */
typedef void (*muster_supervise_replace_cb)(muster_supervise_replace_t *op,
                                            int status, void *arg);

/* Starts replacing `prev` by `next`. `prev` may be in any state (with no
 * process, `next` only has to come up); `next` must be STOPPED or
 * ERRORED. On success *out (may be NULL) is the operation, valid until
 * its callback or muster_supervise_replace_cancel(); `cb` may be NULL.
 * Call on the loop's thread, not from inside a hook of either row.
 * Errors (nothing changed, cb never called): MUSTER_EINVAL (NULL row, the
 * same row twice, rows of different loops), MUSTER_EBUSY (a row is already
 * part of a replacement), MUSTER_EALREADY (next is not STOPPED or
 * ERRORED), MUSTER_ECANCELED (a row is closing), MUSTER_ENOMEM; next's
 * start error (next is then ERRORED, as muster_supervise_start() leaves
 * it). */
MUSTER_EXTERN int muster_supervise_replace(muster_supervisor_t *prev,
                                           muster_supervisor_t *next,
                                           muster_supervise_replace_cb cb,
                                           void *arg,
                                           muster_supervise_replace_t **out);

/* Gives the replacement up: `next` is stopped if it is not ONLINE yet
 * (prev keeps serving); a `prev` already being stopped goes on stopping.
 * The callback is not called; the operation is freed on a later loop
 * turn. NULL is ignored. */
MUSTER_EXTERN void
muster_supervise_replace_cancel(muster_supervise_replace_t *op);

#endif
