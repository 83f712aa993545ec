/* Child processes: Node's child_process in C.
 *
 *   muster_spawn()          start a program; stream its stdio; events spawn,
 *                           data, exit, close (Node's order)
 *   muster_exec()           run a shell command line, buffer its output
 *   muster_exec_file()      run a program without a shell, buffer its output
 *   muster_spawn_sync()     the same, blocking the calling thread
 *   muster_exec_sync(), muster_exec_file_sync()
 *
 * Asynchronous calls are bound to a libuv loop the caller owns. On Linux a
 * child is started with vfork() and raw system calls up to its exec, and
 * watched through a pidfd polled by the loop, then reaped with waitpid()
 * on its own pid; on a kernel without pidfd_open (before 5.3) or another
 * system, muster falls back to libuv's uv_spawn and its SIGCHLD machinery
 * (which has no parent-death signal nor list of groups: MUSTER_ENOSYS).
 * Either way every child is reaped, muster never calls waitpid(-1), never
 * installs a SIGCHLD handler of its own, and coexists with uv_spawn()
 * children on the same loop. (An application that sets SIGCHLD to SIG_IGN
 * makes the kernel reap children itself: their exit is then reported with
 * status 0.) A child inherits no fd of the parent except its stdio slots:
 * every fd muster creates is O_CLOEXEC, and fds the application opened
 * without O_CLOEXEC are closed in the child too (only in the child: the
 * parent's fds are never modified; see docs/child.md).
 *
 * Unless a function says otherwise: options, strings and arrays are borrowed
 * for the call (muster copies what it keeps); functions are called on the
 * loop's thread; a call that takes a callback and fails never calls it, and
 * leaves nothing to close.
 */
#ifndef MUSTER_CHILD_H
#define MUSTER_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "common.h"

typedef struct muster_child_s muster_child_t;

/* At most this many stdio slots (fds 0 .. MUSTER_STDIO_MAX-1 in the child). */
#define MUSTER_STDIO_MAX 16

/* What a stdio slot of the child is connected to. */
typedef enum {
  /* A socketpair to the parent (like Node's 'pipe'): output is delivered to
   * on_data; slot 0 (and any slot written with muster_child_write) is input.
   * Slot 0 is write-only, like Node's stdin; slots 1 and up are read and
   * may also be written. The default for slots 0-2. */
  MUSTER_STDIO_PIPE = 0,
  /* The parent's own fd of the same number (Node's 'inherit'). */
  MUSTER_STDIO_INHERIT,
  /* Node's 'ignore': /dev/null on slots 0-2; slots 3 and up are left
   * closed in the child. The default for slots 3 and up. */
  MUSTER_STDIO_IGNORE,
  /* The fd in muster_stdio_t.fd, which the caller keeps (Node's integer). */
  MUSTER_STDIO_FD,
  /* The IPC channel (Node's 'ipc'): an AF_UNIX stream socketpair; the child
   * gets NODE_CHANNEL_FD=<slot> and NODE_CHANNEL_SERIALIZATION_MODE=json in
   * its environment, overriding any given. At most one slot. The parent's
   * end is taken with muster_child_take_ipc_fd(); muster_fork() does this. */
  MUSTER_STDIO_IPC,
} muster_stdio_kind_t;

typedef struct {
  muster_stdio_kind_t kind;
  int fd; /* for MUSTER_STDIO_FD only */
} muster_stdio_t;

/* How options.env is used. */
typedef enum {
  /* The parent's environment, with options.env's "NAME=value" entries
   * added or replacing (and "NAME" without '=' removing). The default. */
  MUSTER_ENV_EXTEND = 0,
  /* Exactly options.env (NULL: an empty environment). */
  MUSTER_ENV_EXACT,
} muster_env_mode_t;

/* Bits of muster_spawn_options_t.flags. */
enum {
  /* Run the child in a new session (setsid), like Node's detached: it does
   * not get the parent's terminal signals. */
  MUSTER_SPAWN_DETACHED = 1 << 0,
  /* Use options.uid / options.gid (root only, or the same ids). The
   * child's real, effective and saved ids all become that one. Without
   * MUSTER_SPAWN_SETGROUPS, a child whose ids change drops the parent's
   * supplementary groups when it is allowed to (root), as libuv's does. */
  MUSTER_SPAWN_SETUID = 1 << 1,
  MUSTER_SPAWN_SETGID = 1 << 2,
  /* Run `file` as a command line through a shell: options.shell, or
   * /bin/sh when that is NULL; argv is then ignored (like Node's
   * shell: true with a single command string). */
  MUSTER_SPAWN_SHELL = 1 << 3,
  /* Run the child in a new process group of its own (setpgid(0, 0)), whose
   * id is the child's pid: what it starts stays in that group unless it
   * moves itself, so muster_child_kill_group() reaches them all, and the
   * timeout signals the whole group. With DETACHED the new session is that
   * group already. Such a child no longer gets the terminal's Ctrl-C
   * (SIGINT goes to the foreground group), like a detached one. */
  MUSTER_SPAWN_PROCESS_GROUP = 1 << 4,
  /* The child's supplementary groups are exactly options.groups (root
   * only): what initgroups() would set for a user is getgrouplist() of
   * that user, resolved by the caller, in the parent (the user database
   * is not read between fork and exec). Set before the gid and the uid.
   * Linux backend only (MUSTER_ENOSYS otherwise). */
  MUSTER_SPAWN_SETGROUPS = 1 << 5,
};

/* Most supplementary groups MUSTER_SPAWN_SETGROUPS takes (Linux's
 * NGROUPS_MAX). */
#define MUSTER_SPAWN_MAX_GROUPS 65536

/* Callbacks. `child` is valid until muster_child_close()'s callback. */
typedef void (*muster_spawn_cb)(muster_child_t *child);
/* Output from a MUSTER_STDIO_PIPE slot (1 = stdout, 2 = stderr, ...). The
 * bytes are valid only during the call. len == 0 and buf == NULL: that slot
 * reached end of file (it is then closed, once writes still queued on it
 * are flushed, like a Node socket without allowHalfOpen). */
typedef void (*muster_data_cb)(muster_child_t *child, int slot,
                               const char *buf, size_t len);
/* Room for the next read of a MUSTER_STDIO_PIPE output slot, asked just
 * before each read (libuv's alloc_cb): set *buf and *len (at most
 * `suggested` is a hint, any size works) to read into memory of your own,
 * so that bytes go where they are wanted without a copy (a log file's
 * queue: muster_logsource_reserve); leave *buf NULL to read into the
 * child's own buffer. The bytes read then come to on_data at *buf. A read
 * that got nothing, or end of file, leaves the room unused, with no call
 * to say so: the room must need no giving back. Optional. */
typedef void (*muster_alloc_cb)(muster_child_t *child, int slot,
                                size_t suggested, char **buf, size_t *len);
/* The process ended: exit_status is its exit code, or term_signal the
 * signal that killed it (the other is 0). As in Node, slot 0 (stdin) is
 * closed at this point: writes still queued on it fail with MUSTER_EPIPE. */
typedef void (*muster_exit_cb)(muster_child_t *child, int64_t exit_status,
                               int term_signal);
/* The process ended *and* every stdio pipe reached end of file (Node's
 * 'close'). Always after on_exit. The child object is still valid here; free
 * it with muster_child_close(). */
typedef void (*muster_close_cb)(muster_child_t *child);
/* A write finished: status 0 when all its bytes were handed to the kernel,
 * or a negative error (MUSTER_EPIPE when the child closed its end,
 * MUSTER_ECANCELED when the child object was closed first). */
typedef void (*muster_write_cb)(muster_child_t *child, int status, void *arg);
/* The child object was freed (after muster_child_close). */
typedef void (*muster_child_close_cb)(muster_child_t *child);

/* Options for muster_spawn(); all zero (or a NULL pointer) means Node's
 * defaults: inherit the environment and cwd, stdio pipe/pipe/pipe, no
 * timeout. */
typedef struct {
  /* NULL-terminated "NAME=value" strings, used as env_mode says. */
  const char *const *env;
  muster_env_mode_t env_mode;
  const char *cwd;   /* NULL: the parent's */
  const char *argv0; /* NULL: argv[0] (or file when argv is NULL) */
  const char *shell; /* with MUSTER_SPAWN_SHELL; NULL: /bin/sh */
  /* The child has max(stdio_count, 3) slots, at most MUSTER_STDIO_MAX.
   * Slot i < stdio_count is stdio[i]; the others are pipes (0-2) or
   * ignored (3 and up); stdio NULL gives every slot its default. */
  const muster_stdio_t *stdio;
  int stdio_count;
  unsigned flags; /* MUSTER_SPAWN_* */
  uid_t uid;
  gid_t gid;
  /* With MUSTER_SPAWN_SETGROUPS: ngroups gids (0: none at all). */
  const gid_t *groups;
  size_t ngroups;
  /* When non-zero, the child gets this signal when the thread that called
   * muster_spawn() ends (Linux's PR_SET_PDEATHSIG; when that is the main
   * thread: when the parent process ends, however it ends, kill -9
   * included). It is set in the child after its ids changed (a change of
   * ids clears it) and before the exec, and it survives the exec but not
   * a fork: processes the child starts itself do not get it (end them
   * with its process group). A parent already gone at that moment is seen
   * too: the child then gets the signal at once. SIGKILL makes sure the
   * child cannot outlive the parent. Linux backend only (MUSTER_ENOSYS
   * otherwise). */
  int death_signal;
  /* When non-zero, the child is sent kill_signal (0: SIGTERM) after this many
   * milliseconds if it is still running (its whole process group, with
   * MUSTER_SPAWN_PROCESS_GROUP); muster_child_timed_out() and
   * muster_child_killed() then report it. */
  uint64_t timeout_ms;
  int kill_signal;
  /* Event callbacks; any may be NULL. */
  /* First of all events, on a later loop turn (idle phase), or just before
   * whichever other event comes first. */
  muster_spawn_cb on_spawn;
  muster_data_cb on_data;
  muster_exit_cb on_exit;
  muster_close_cb on_close;
  void *data; /* returned by muster_child_data() */
  muster_alloc_cb on_alloc; /* optional, see above */
} muster_spawn_options_t;

/* Starts `file` with `argv` (NULL-terminated; argv[0] is the name the child
 * sees, unless options->argv0 is set). NULL argv means {file, NULL}; an
 * empty argv (argv[0] == NULL) is MUSTER_EINVAL. With MUSTER_SPAWN_SHELL,
 * `file` is the command line and argv is ignored. `file` is searched on
 * PATH when it has no '/' (the child's PATH, as execvp() sees it; without
 * one, the system default). On success *out is the child, which must
 * eventually be freed with muster_child_close().
 *
 * Errors: MUSTER_ENOENT (no such program, or no such cwd), MUSTER_EACCES
 * (not executable), MUSTER_EINVAL (NULL loop/file/out, empty file, empty
 * argv, stdio_count negative or over MUSTER_STDIO_MAX, two IPC slots, an
 * unknown slot kind, a MUSTER_STDIO_FD slot with a negative fd, a
 * kill_signal or death_signal that is not a signal, unknown flags or
 * env_mode, an empty shell, SETGROUPS with NULL groups and ngroups > 0 or
 * more than MUSTER_SPAWN_MAX_GROUPS), MUSTER_EPERM (uid/gid/groups not
 * allowed), MUSTER_ENOSYS (death_signal or SETGROUPS where only the
 * uv_spawn() fallback works), MUSTER_EMFILE / MUSTER_ENFILE /
 * MUSTER_ENOMEM / MUSTER_EAGAIN (out of resources). On
 * error nothing was started, *out is untouched and there is nothing to
 * free or close. (After an error other than MUSTER_EINVAL, muster releases
 * internal handles on the loop's next turn, as libuv does for a failed
 * uv_spawn(): run the loop before uv_loop_close().) */
MUSTER_EXTERN int muster_spawn(uv_loop_t *loop, const char *file,
                               const char *const argv[],
                               const muster_spawn_options_t *options,
                               muster_child_t **out);

/* Sends signal `signum` to the child. 0 checks the child is alive.
 * Errors: MUSTER_EINVAL (not a signal number: below 0 or NSIG and up),
 * MUSTER_ESRCH (the child has already exited and was reaped: its pid may
 * belong to another process now). Sets the killed flag on success, except
 * for signal 0. */
MUSTER_EXTERN int muster_child_kill(muster_child_t *child, int signum);

/* Sends signal `signum` to every process of the child's process group
 * (kill(-pid, signum)): the child and what it started, wherever they are in
 * the tree. The child must lead its own group (spawned with
 * MUSTER_SPAWN_PROCESS_GROUP or MUSTER_SPAWN_DETACHED). This works after
 * the child itself exited too, as long as a member of its group lives (the
 * kernel does not give a group's id to a new process while the group
 * exists). 0 checks whether any member is alive. Sets the killed flag on
 * success while the child runs, except for signal 0.
 * Errors: MUSTER_EINVAL (not a signal number, or the child does not lead a
 * group of its own), MUSTER_ESRCH (no process is left in the group),
 * MUSTER_EPERM (a member runs as another user). */
MUSTER_EXTERN int muster_child_kill_group(muster_child_t *child, int signum);

/* Queues `len` bytes for the child's `slot` (0 = stdin), which must be a
 * MUSTER_STDIO_PIPE slot. The bytes are copied. `cb` (may be NULL) is called
 * once they are all handed to the kernel, or the write failed; a producer
 * that waits for it before writing more applies backpressure. A child that
 * closed its end gives MUSTER_EPIPE (to the callback, or as the result when
 * already known), never a SIGPIPE.
 * Errors: MUSTER_EINVAL (not a pipe slot, or NULL buf with len > 0),
 * MUSTER_EPIPE (the slot is already closed or ended, or a write on it
 * already failed), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_child_write(muster_child_t *child, int slot,
                                     const void *buf, size_t len,
                                     muster_write_cb cb, void *arg);

/* Bytes queued for `slot` and not yet handed to the kernel. */
MUSTER_EXTERN size_t muster_child_write_queue_size(const muster_child_t *child,
                                                   int slot);

/* Ends the input of `slot`: queued bytes are written, then the child reads
 * end of file. Errors: MUSTER_EINVAL (not a pipe slot). Ending twice is 0. */
MUSTER_EXTERN int muster_child_end(muster_child_t *child, int slot);

/* Stops reading the output of `slot` (as uv_read_stop()): no on_data for
 * it until muster_child_read_start(). Its bytes wait in the socket; once
 * that is full the child blocks in write(), so a consumer that cannot keep
 * up (a log written to a slow disk) holds the child back instead of
 * buffering without bound. While a slot is paused its end of file is not
 * seen either, so on_close waits for it (on_exit does not). Stopping a
 * paused slot, or one that already reached end of file, is 0. Safe inside
 * any callback, on_data of the same slot included (no more of its data is
 * delivered after the call).
 * Errors: MUSTER_EINVAL (NULL child, or `slot` is not a MUSTER_STDIO_PIPE
 * output slot: slot 0, stdin, is write-only). */
MUSTER_EXTERN int muster_child_read_stop(muster_child_t *child, int slot);

/* Resumes reading `slot` after muster_child_read_stop(); what the child
 * wrote meanwhile comes first, nothing is lost. Starting a slot that is
 * not paused is 0. Errors: as muster_child_read_stop(). */
MUSTER_EXTERN int muster_child_read_start(muster_child_t *child, int slot);

/* Frees the child object: stops reading its pipes, cancels pending writes
 * (their callbacks get MUSTER_ECANCELED) and calls `cb` (may be NULL) on a
 * later loop turn; no event is delivered after this call. It does not kill
 * the process: a child still running is still reaped when it exits (no
 * zombie), silently. For that, muster keeps an unreferenced handle (the
 * pidfd's poll, or libuv's process handle) on the loop until the exit: keep
 * running the loop (uv_loop_close() says UV_EBUSY until then), and do not
 * uv_close() muster's handles from a uv_walk(). Safe inside any child
 * callback, on_close included; a second call is ignored. */
MUSTER_EXTERN void muster_child_close(muster_child_t *child,
                                      muster_child_close_cb cb);

/* An unreferenced child does not keep the loop alive (Node's unref()):
 * neither its process nor its pipes nor its timeout. ref() undoes it. */
MUSTER_EXTERN void muster_child_ref(muster_child_t *child);
MUSTER_EXTERN void muster_child_unref(muster_child_t *child);

MUSTER_EXTERN int muster_child_pid(const muster_child_t *child);
MUSTER_EXTERN uv_loop_t *muster_child_loop(const muster_child_t *child);
MUSTER_EXTERN void *muster_child_data(const muster_child_t *child);
MUSTER_EXTERN void muster_child_set_data(muster_child_t *child, void *data);
/* 1 once muster_child_kill() has delivered a signal, or the timeout did
 * (Node's killed). */
MUSTER_EXTERN int muster_child_killed(const muster_child_t *child);
/* 1 once the options' timeout fired and the kill signal was sent. */
MUSTER_EXTERN int muster_child_timed_out(const muster_child_t *child);
/* 1 when the process has exited; then *exit_status and *term_signal (either
 * may be NULL) are set as for on_exit. 0 while it runs. */
MUSTER_EXTERN int muster_child_exited(const muster_child_t *child,
                                      int64_t *exit_status, int *term_signal);

/* Takes the parent's end of the IPC slot: the result is an fd that the
 * caller now owns (O_CLOEXEC, blocking). The child's 'close' still waits
 * for the IPC channel: call muster_child_ipc_closed() when it ends.
 * Errors: MUSTER_ENOTCONN (no IPC slot, or already taken). */
MUSTER_EXTERN int muster_child_take_ipc_fd(muster_child_t *child);

/* Tells the child its IPC channel has ended, so that on_close can fire (Node
 * counts the channel among the streams 'close' waits for). Once only. */
MUSTER_EXTERN void muster_child_ipc_closed(muster_child_t *child);

/* ---- buffered execution ------------------------------------------------- */

/* Options for muster_exec(), muster_exec_file() and the sync forms. */
typedef struct {
  /* env, env_mode, cwd, argv0, shell, flags (DETACHED, SETUID, SETGID,
   * SETGROUPS), uid, gid, groups, ngroups, death_signal, timeout_ms and
   * kill_signal apply; stdio and the callbacks are ignored (stdin gets
   * `input`, stdout and stderr are buffered).
   *
   * A difference from Node: the child always runs in a process group of
   * its own (MUSTER_SPAWN_PROCESS_GROUP), and the timeout and max_buffer
   * send kill_signal to that whole group, not to the child alone. With
   * Node, exec('sleep 60 | cat', {timeout}) kills only the shell and
   * leaves sleep and cat running with parent 1; here they get the signal
   * too. (So the child does not get the terminal's Ctrl-C either; the
   * caller that dies of it leaves the run to its timeout.) */
  muster_spawn_options_t spawn;
  /* Largest stdout or stderr kept, in bytes; 0: 1 MiB (Node's default).
   * Over it, the child's group is sent kill_signal and the result is
   * MUSTER_ENOBUFS with the output up to the limit. On that and on the
   * timeout, the output pipes are closed at once, as Node's exec does, so
   * a grandchild holding them that ignores the signal cannot keep the run
   * open. */
  size_t max_buffer;
  /* Bytes written to the child's stdin, which is then closed. NULL: stdin
   * is closed at once (the child reads end of file). A child that does not
   * read them all is not an error (EPIPE on stdin is ignored, as in Node). */
  const void *input;
  size_t input_len;
} muster_exec_options_t;

/* The outcome of a buffered run. */
typedef struct {
  /* 0 when the child ran and exited by itself (whatever its exit code);
   * MUSTER_ETIMEDOUT when the timeout killed it; MUSTER_ENOBUFS when output
   * went over max_buffer; another negative error when it could not be
   * started (sync forms only: the async forms return that error instead). */
  int error;
  int pid;
  int64_t exit_status; /* its exit code, or 0 when killed by a signal */
  int term_signal;     /* the signal that ended it, or 0 */
  /* NUL-terminated (the NUL is not counted). NULL only in a sync result
   * whose child could not be started. */
  char *stdout_buf;
  size_t stdout_len;
  char *stderr_buf;
  size_t stderr_len;
} muster_exec_result_t;

/* Called once when a buffered child has closed. `result` and its buffers are
 * valid only during the call. */
typedef void (*muster_exec_cb)(const muster_exec_result_t *result,
                               void *data);

/* Runs `command` through the shell (options->spawn.shell or /bin/sh -c),
 * buffering its output; calls cb once it has closed. options may be NULL.
 * Errors (cb is then never called): MUSTER_EINVAL (NULL loop, command or
 * cb; NULL input with input_len > 0), and muster_spawn()'s errors. */
MUSTER_EXTERN int muster_exec(uv_loop_t *loop, const char *command,
                              const muster_exec_options_t *options,
                              muster_exec_cb cb, void *data);

/* Runs `file` with `argv` without a shell (arguments reach the child
 * literally), buffering its output; calls cb once it has closed.
 * Errors: as muster_exec(). */
MUSTER_EXTERN int muster_exec_file(uv_loop_t *loop, const char *file,
                                   const char *const argv[],
                                   const muster_exec_options_t *options,
                                   muster_exec_cb cb, void *data);

/* The blocking forms: run the child to completion on a private loop of
 * their own, so they may be called from any thread and inside a loop
 * callback. They return result->error (0 when the child ran and exited by
 * itself, whatever its exit code). Whatever they return, *result is filled
 * in (with the output so far on MUSTER_ETIMEDOUT / MUSTER_ENOBUFS) and must
 * be released with muster_exec_result_free(); freeing a zeroed result is
 * harmless. Errors: MUSTER_EINVAL (NULL arguments), muster_spawn()'s errors,
 * MUSTER_ETIMEDOUT, MUSTER_ENOBUFS. */
MUSTER_EXTERN int muster_spawn_sync(const char *file, const char *const argv[],
                                    const muster_exec_options_t *options,
                                    muster_exec_result_t *result);
/* Through the shell, as muster_exec(). */
MUSTER_EXTERN int muster_exec_sync(const char *command,
                                   const muster_exec_options_t *options,
                                   muster_exec_result_t *result);
/* No shell, as muster_exec_file(). Same as muster_spawn_sync(). */
MUSTER_EXTERN int muster_exec_file_sync(const char *file,
                                        const char *const argv[],
                                        const muster_exec_options_t *options,
                                        muster_exec_result_t *result);

/* Frees the buffers of a result filled by a sync call, and zeroes it. */
MUSTER_EXTERN void muster_exec_result_free(muster_exec_result_t *result);

#endif
