/* This process: Node's `process` object in C.
 *
 *   muster_process_setup()         claim argv for the title; call first in main
 *   muster_process_pid(), _ppid(), _argv(), _platform(), _arch()
 *   muster_process_getenv(), _setenv(), _unsetenv()
 *   muster_process_cwd(), _chdir()
 *   muster_process_set_title(), _get_title()   the name `ps` shows
 *   muster_process_memory_usage()  rss, malloc heap in use / held
 *   muster_process_cpu_usage()     user/system microseconds, or the delta
 *   muster_process_resource_usage()  getrusage(2), Node's field set
 *   muster_process_uptime()        seconds since the process started
 *   muster_process_hrtime()        monotonic nanoseconds
 *   MUSTER_EXIT_*                  Node's exit-code table, and 128 + signal
 *   muster_process_exit_code_string(), _signal()   what an exit code means
 *   muster_signal_subscribe()      SIGINT, SIGTERM, ... delivered on a loop;
 *                                  muster_signal_close(), _ref(), _name()
 *   muster_next_tick()             run a callback before the loop next polls
 *
 * Unless a function says otherwise: strings passed in are borrowed for the
 * call; results are copied into the caller's memory; the "facts" functions
 * (everything before the signal section) may be called from any thread, and
 * need no loop. Design notes: docs/process.md.
 */
#ifndef MUSTER_PROCESS_H
#define MUSTER_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

/* ---- argv and the process title ---------------------------------------- */

/* Call once, first thing in main(), with main's own argc and argv, before
 * any other thread starts; use the returned argv from then on.
 *
 * The kernel shows a process's command line (what `ps` prints, and
 * /proc/<pid>/cmdline) from the memory that held the original argv strings.
 * To change the title, muster (through libuv's uv_setup_args) copies argv
 * elsewhere and takes over that memory: the returned array is the copy,
 * NULL-terminated, valid until the process exits, and is never changed by
 * muster_process_set_title(). The original argv strings must not be used
 * after this call.
 *
 * Calling it again returns the first copy and ignores its arguments. When
 * argc <= 0, or there is no memory for the copy, it returns `argv` itself;
 * muster_process_argv() then still reports it, but titles cannot be set
 * (MUSTER_ENOBUFS). Main thread only. */
MUSTER_EXTERN char **muster_process_setup(int argc, char **argv);

/* The argv that muster_process_setup() returned (NULL-terminated), and its
 * count in *argc when argc is not NULL. NULL and 0 before setup. The array
 * belongs to muster. Any thread, after setup. */
MUSTER_EXTERN char *const *muster_process_argv(int *argc);

/* Sets the process title: the command line `ps` and /proc/<pid>/cmdline
 * show from now on, and (first 15 bytes) the name in /proc/<pid>/comm that
 * `top` and `ps -o comm` show. The title can be no longer than the original
 * command line (all of argv, with a byte between strings): a longer title
 * is cut to fit, silently; read back what was kept with
 * muster_process_get_title(). The argv copy is not affected.
 * Errors: MUSTER_EINVAL (NULL title), MUSTER_ENOBUFS (muster_process_setup()
 * was not called or could not copy argv: there is no memory to hold a
 * title). Any thread (serialized by libuv); the comm name is set for the
 * calling thread, so call it from the main thread to rename the process. */
MUSTER_EXTERN int muster_process_set_title(const char *title);

/* Copies the current title, NUL-terminated, into buf (size bytes). Until a
 * title is set it is argv[0] as started.
 * Errors: MUSTER_EINVAL (NULL buf, size 0), MUSTER_ENOBUFS (buf too small,
 * or muster_process_setup() was not called). */
MUSTER_EXTERN int muster_process_get_title(char *buf, size_t size);

/* ---- identity ----------------------------------------------------------- */

/* This process's id (Node's process.pid). Cannot fail. */
MUSTER_EXTERN int muster_process_pid(void);

/* The parent's id (Node's process.ppid), asked afresh each call: when the
 * parent exits, this becomes the reaper's id (often 1). Cannot fail. */
MUSTER_EXTERN int muster_process_ppid(void);

/* Node's process.platform ("linux") and process.arch ("x64", "arm64",
 * "ia32", "arm", "riscv64", "ppc64", "s390x", or "unknown"), fixed when
 * libmuster was compiled. Static strings. */
MUSTER_EXTERN const char *muster_process_platform(void);
MUSTER_EXTERN const char *muster_process_arch(void);

/* ---- environment -------------------------------------------------------- */

/* Copies the value of environment variable `name` into buf, NUL-terminated.
 * On entry *size is buf's size; on success it is the value's length (the NUL
 * not counted); on MUSTER_ENOBUFS it is the size needed (NUL counted), so a
 * second call with that size succeeds.
 * Errors: MUSTER_EINVAL (NULL name/buf/size, *size 0, empty name, '=' in
 * name), MUSTER_ENOENT (not set), MUSTER_ENOBUFS (buf too small; see
 * *size).
 *
 * The environment is one table for the whole process and POSIX does not
 * lock it: getenv, setenv and unsetenv here (or in libc) must not run while
 * another thread changes it. Change it from one thread, before starting
 * others, as Node does from its main thread. */
MUSTER_EXTERN int muster_process_getenv(const char *name, char *buf,
                                        size_t *size);

/* Sets `name` to a copy of `value`, replacing any value. Children spawned
 * later inherit it (MUSTER_ENV_EXTEND).
 * Errors: MUSTER_EINVAL (NULL name/value, empty name, '=' in name),
 * MUSTER_ENOMEM. Threads: see muster_process_getenv(). */
MUSTER_EXTERN int muster_process_setenv(const char *name, const char *value);

/* Removes `name` from the environment; removing a name that is not set is
 * 0 (Node's `delete process.env.NAME`).
 * Errors: MUSTER_EINVAL (NULL or empty name, '=' in name). Threads: see
 * muster_process_getenv(). */
MUSTER_EXTERN int muster_process_unsetenv(const char *name);

/* ---- working directory -------------------------------------------------- */

/* Copies the current working directory into buf, NUL-terminated, with no
 * trailing '/' (except "/"). *size works as for muster_process_getenv().
 * Errors: MUSTER_EINVAL (NULL arguments, *size 0), MUSTER_ENOBUFS (buf too
 * small; *size is the size needed), MUSTER_ENOENT (the directory was
 * removed). The working directory is per process: any thread may read it. */
MUSTER_EXTERN int muster_process_cwd(char *buf, size_t *size);

/* Changes the working directory of the whole process (every thread).
 * Errors: MUSTER_EINVAL (NULL or empty dir), MUSTER_ENOENT, MUSTER_ENOTDIR,
 * MUSTER_EACCES. */
MUSTER_EXTERN int muster_process_chdir(const char *dir);

/* ---- usage -------------------------------------------------------------- */

/* Memory, in bytes (Node's process.memoryUsage(), in C terms). */
typedef struct {
  /* Resident set size: pages of this process in RAM now (all of them: code,
   * stacks, heap, mapped files). */
  uint64_t rss;
  /* Bytes of malloc'd blocks not yet freed: the C meaning of Node's
   * heapUsed. Counts what the allocator handed out (with its per-block
   * rounding), small blocks and large mmap'd ones alike. */
  uint64_t heap_used;
  /* Bytes the allocator holds from the system for those blocks, free space
   * included: the C meaning of Node's heapTotal. heap_used <= heap_total. */
  uint64_t heap_total;
} muster_memory_usage_t;

/* Fills *out. The heap figures come from glibc's mallinfo2(), or from the
 * sanitizer allocator when built with ASan; with another allocator (or
 * another libc) they are 0. rss is from /proc/self/stat.
 * Errors: MUSTER_EINVAL (NULL out), and /proc read errors (MUSTER_ENOENT
 * when /proc is not mounted, MUSTER_EMFILE). On error *out is zeroed. */
MUSTER_EXTERN int muster_process_memory_usage(muster_memory_usage_t *out);

/* CPU time used by the process (all threads), in microseconds. */
typedef struct {
  uint64_t user;   /* running this program's code */
  uint64_t system; /* in the kernel on its behalf */
} muster_cpu_usage_t;

/* Fills *out with the CPU time used so far, or, when `previous` is not NULL,
 * with the time used since that earlier reading (Node's
 * process.cpuUsage(previousValue)). `previous` may equal `out`.
 * Errors: MUSTER_EINVAL (NULL out; a `previous` larger than now, which is
 * not an earlier reading of this process). */
MUSTER_EXTERN int muster_process_cpu_usage(const muster_cpu_usage_t *previous,
                                           muster_cpu_usage_t *out);

/* getrusage(RUSAGE_SELF), with Node's process.resourceUsage() fields. */
typedef struct {
  uint64_t user_cpu_time;       /* microseconds (ru_utime) */
  uint64_t system_cpu_time;     /* microseconds (ru_stime) */
  uint64_t max_rss_kb;          /* peak resident set, kilobytes (ru_maxrss) */
  uint64_t shared_memory_size;  /* ru_ixrss (0 on Linux) */
  uint64_t unshared_data_size;  /* ru_idrss (0 on Linux) */
  uint64_t unshared_stack_size; /* ru_isrss (0 on Linux) */
  uint64_t minor_page_faults;   /* served without I/O (ru_minflt) */
  uint64_t major_page_faults;   /* needed I/O (ru_majflt) */
  uint64_t swapped_out;         /* ru_nswap (0 on Linux) */
  uint64_t fs_read;             /* blocks read from disk (ru_inblock) */
  uint64_t fs_write;            /* blocks written (ru_oublock) */
  uint64_t ipc_sent;            /* ru_msgsnd (0 on Linux) */
  uint64_t ipc_received;        /* ru_msgrcv (0 on Linux) */
  uint64_t signals_count;       /* ru_nsignals (0 on Linux) */
  uint64_t voluntary_context_switches;   /* ru_nvcsw: waited */
  uint64_t involuntary_context_switches; /* ru_nivcsw: preempted */
} muster_resource_usage_t;

/* Fills *out. Errors: MUSTER_EINVAL (NULL out). */
MUSTER_EXTERN int muster_process_resource_usage(muster_resource_usage_t *out);

/* Seconds since this process started (Node's process.uptime()): since the
 * kernel created it (its fork, in practice its exec a moment later), not
 * since muster_process_setup(), measured against the boot clock so that
 * time spent suspended counts. Resolution: the kernel's clock tick
 * (10 ms); at least 0.
 * Errors: MUSTER_EINVAL (NULL seconds), /proc read errors (MUSTER_ENOENT
 * when /proc is not mounted), MUSTER_EIO (/proc/self/stat unreadable). */
MUSTER_EXTERN int muster_process_uptime(double *seconds);

/* Nanoseconds of a monotonic clock (Node's process.hrtime.bigint()): only
 * differences mean anything; it never goes back and does not count
 * suspension. Cannot fail. */
MUSTER_EXTERN uint64_t muster_process_hrtime(void);

/* ---- exit codes ------------------------------------------------------------
 * Node's exit-code table (its doc/api/process.md, "Exit codes"), so that a
 * C program under muster exits the way a Node program would, and the
 * manager can tell what an exit of a Node app means. 2, 8 and 11 are unused
 * by Node. */
#define MUSTER_EXIT_SUCCESS 0
/* An uncaught exception, or any generic failure. */
#define MUSTER_EXIT_UNCAUGHT_FATAL_EXCEPTION 1
#define MUSTER_EXIT_INTERNAL_PARSE_ERROR 3
#define MUSTER_EXIT_INTERNAL_EVALUATION_FAILURE 4
/* An unrecoverable error in the runtime (V8 prints "FATAL ERROR"). */
#define MUSTER_EXIT_FATAL_ERROR 5
#define MUSTER_EXIT_NON_FUNCTION_HANDLER 6
/* The uncaught-exception handler itself failed. */
#define MUSTER_EXIT_HANDLER_RUNTIME_FAILURE 7
/* An unknown option, or an option without its value. */
#define MUSTER_EXIT_INVALID_ARGUMENT 9
#define MUSTER_EXIT_INTERNAL_RUNTIME_FAILURE 10
#define MUSTER_EXIT_INVALID_DEBUG_ARGUMENT 12
#define MUSTER_EXIT_UNSETTLED_TOP_LEVEL_AWAIT 13
/* Codes above 128 mean "ended because of signal (code - 128)": what a
 * shell reports for a process a signal killed, and what a program should
 * exit with after handling a fatal signal itself (SIGTERM: 143). */
#define MUSTER_EXIT_SIGNAL_BASE 128
#define MUSTER_EXIT_SIGNAL(signum) (MUSTER_EXIT_SIGNAL_BASE + (signum))

/* What an exit code means, in a few lower-case words ("invalid argument",
 * "uncaught fatal exception"); codes 129..255 give "exit after a signal";
 * unused or unknown codes "unknown exit code". Static string; any thread. */
MUSTER_EXTERN const char *muster_process_exit_code_string(int code);

/* The signal number an exit code above 128 stands for (143 gives SIGTERM),
 * or 0 for codes 0..128 and out-of-range codes. Any thread. */
MUSTER_EXTERN int muster_process_exit_code_signal(int code);

/* ---- signals ---------------------------------------------------------------
 * A subscription delivers a signal to a callback on a loop: the signal
 * handler (libuv's) only notes the signal, and the callback runs later on
 * the loop's thread, where any code may run. There are no raw handlers.
 *
 * Only these signals can be subscribed to: SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH. Signals that report a fault in the
 * running code (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) cannot be handled
 * later on a loop; SIGKILL and SIGSTOP cannot be caught; SIGCHLD belongs to
 * libuv's child reaping; SIGPIPE is better left alone (writes report
 * MUSTER_EPIPE).
 *
 * Every subscription to a signal is called, on every loop that has one, each
 * time the signal arrives; the order among subscriptions on one loop is not
 * specified. Signals that arrive close together may be merged into one call
 * (as the kernel merges pending signals).
 *
 * While at least one subscription to a signal exists, the signal no longer
 * has its default action (SIGINT and SIGTERM no longer end the process: the
 * callback decides, as with a listener in Node). When the last subscription
 * to it is closed, the signal goes back to its default action, even if the
 * program had it ignored before (a SIGHUP ignored by nohup is then fatal
 * again).
 *
 * Like Node's signal listeners, a subscription does not keep its loop
 * alive (it starts unreferenced): a program that only waits for SIGTERM
 * calls muster_signal_ref(). */
typedef struct muster_signal_s muster_signal_t;

/* The signal arrived. `sig` stays valid for the call, even if it is closed
 * inside it. */
typedef void (*muster_signal_cb)(muster_signal_t *sig, int signum);
/* The subscription was freed: `sig` is valid only during this call. */
typedef void (*muster_signal_close_cb)(muster_signal_t *sig);

/* Subscribes `cb` to `signum` on `loop`; on success *out is the
 * subscription, which must be ended with muster_signal_close(). `data` is
 * returned by muster_signal_data().
 * Errors: MUSTER_EINVAL (NULL loop/cb/out, a signal not in the list above),
 * MUSTER_ENOMEM. On error nothing was subscribed and *out is NULL.
 * Thread: the loop's. */
MUSTER_EXTERN int muster_signal_subscribe(uv_loop_t *loop, int signum,
                                          muster_signal_cb cb, void *data,
                                          muster_signal_t **out);

/* Ends the subscription at once (no callback after this returns) and frees
 * it on a later loop turn, then calls `cb` (may be NULL). Safe inside the
 * subscription's own callback. Thread: the loop's. */
MUSTER_EXTERN void muster_signal_close(muster_signal_t *sig,
                                       muster_signal_close_cb cb);

/* A referenced subscription keeps the loop alive (uv_run does not return
 * while it is open); new subscriptions are unreferenced. Thread: the
 * loop's. */
MUSTER_EXTERN void muster_signal_ref(muster_signal_t *sig);
MUSTER_EXTERN void muster_signal_unref(muster_signal_t *sig);

MUSTER_EXTERN int muster_signal_signum(const muster_signal_t *sig);
MUSTER_EXTERN void *muster_signal_data(const muster_signal_t *sig);
MUSTER_EXTERN void muster_signal_set_data(muster_signal_t *sig, void *data);

/* "SIGTERM" for SIGTERM, and so on for every Linux signal 1..31; NULL for
 * other numbers. Static string; any thread. */
MUSTER_EXTERN const char *muster_signal_name(int signum);

/* The reverse: SIGTERM for "SIGTERM", for the names muster_signal_name()
 * gives, and SIGIOT, SIGPOLL and SIGUNUSED (glibc's aliases).
 * Errors: MUSTER_EINVAL (NULL or unknown name; names are case-sensitive
 * and need their "SIG", as in Node). Any thread. */
MUSTER_EXTERN int muster_signal_number(const char *name);

/* ---- next tick -------------------------------------------------------------
 * Node's process.nextTick(): run a callback soon, after the current callback
 * returns and before the loop waits for I/O again. */
typedef void (*muster_tick_cb)(void *arg);

/* Queues cb(arg) to run on `loop` before the loop next polls for I/O.
 *
 * Order: ticks run first in, first out. A tick queued from inside a tick
 * callback runs in the same round, after those already queued, and the
 * loop does not go on until the queue is empty (as in Node: a tick that
 * always queues another starves I/O; use a timer or a check handle to yield).
 *
 * When: the queue is run in the loop's idle phase of its next turn (after
 * due timers and libuv's deferred completions, before the poll). So a tick
 * queued from any callback, or before uv_run, runs before any I/O callback
 * the next poll delivers, even for I/O that was already ready. A tick queued
 * from your own uv_idle_t or uv_prepare_t callback may run after one poll
 * that does not wait. Unlike Node, the queue runs once per loop turn, not
 * after every callback: two I/O callbacks delivered by one poll both run
 * before the ticks the first of them queued.
 *
 * Lifetime: pending ticks keep the loop alive (uv_run does not return before
 * they ran). The queue is an internal handle on the loop that exists only
 * while ticks are pending and closes itself when the queue empties, so
 * nothing is left to close: uv_run ends and uv_loop_close() succeeds. Do
 * not close it yourself (with uv_walk); ticks still queued would be
 * dropped. There is no way to cancel a tick.
 *
 * Errors (cb is then never called): MUSTER_EINVAL (NULL loop or cb),
 * MUSTER_ENOMEM.
 *
 * Thread: the loop's only. Each loop has its own queue and its ticks run
 * only on it, so several loops in several threads may use ticks at once. */
MUSTER_EXTERN int muster_next_tick(uv_loop_t *loop, muster_tick_cb cb,
                                   void *arg);

#endif
