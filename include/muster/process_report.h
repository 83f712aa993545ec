/* Diagnostic reports: Node's process.report, and the C counterpart of its
 * 'uncaughtException' for a crash.
 *
 *   muster_process_report_fd(), _file()   write a report now
 *   muster_process_report_on_signal()     write one each time a signal
 *                                         arrives (Node's --report-on-signal)
 *   muster_process_report_on_fatal()      write one when the process
 *                                         crashes (SIGSEGV, SIGBUS, SIGFPE,
 *                                         SIGILL, SIGABRT), then die of it
 *   muster_report_add_string(), _int()    fields a crash hook adds
 *
 * A report is one JSON object (reportVersion 1):
 *   "header"        reason ("event"), trigger ("API", "Signal",
 *                   "FatalSignal"), time (ISO 8601 UTC and ms since
 *                   the epoch), pid, ppid, the reporting thread's id, cwd,
 *                   commandLine (argv), execPath, versions (muster, uv,
 *                   jansson, kernel), os (sysname, release, version,
 *                   machine, host)
 *   "signal"        the fatal or triggering signal: name, number, code,
 *                   address (faults), pc, thread (fatal and signal only)
 *   "nativeStack"   the crashing thread's frames: [{pc, symbol}] (fatal
 *                   only; symbols are the dynamic symbol table's: link
 *                   programs with -rdynamic to name their own functions)
 *   "resourceUsage" getrusage fields, rss; heapUsed/heapTotal (not in a
 *                   fatal report: reading malloc's figures takes its lock)
 *   "libuv"         every handle of the loop (uv_walk): type, is_active,
 *                   is_referenced, is_closing, fd (-1 when none), address
 *   "fds"           every open fd and what it is: file (path, mode,
 *                   offset), directory, tty, pipe, fifo, socket (family,
 *                   type, local and remote address), eventfd, epoll,
 *                   timerfd, signalfd, pidfd, inotify ..., with cloexec and
 *                   the access mode
 *   "threads"       each thread: tid, name, state
 *   "userLimits"    every getrlimit(2) resource: soft and hard
 *                   ("unlimited" or a number)
 *   "environmentVariables"  the environment; values of names that look
 *                   secret (containing SECRET, TOKEN, PASSWORD, PASSWD,
 *                   PASSPHRASE, CREDENTIAL, PRIVATE, AUTH, COOKIE,
 *                   SESSION, APIKEY, API_KEY, ACCESS_KEY, or ending in KEY,
 *                   _PASS or _PWD) are "[REDACTED]"
 *   "custom"        fields the crash hook added (fatal only)
 *
 * The writer builds the JSON without touching the heap, into a buffer on
 * the stack, with only async-signal-safe calls, so one code path serves
 * the on-demand report and the one written inside a signal handler. */
#ifndef MUSTER_PROCESS_REPORT_H
#define MUSTER_PROCESS_REPORT_H

#include <stdint.h>
#include <uv.h>

#include "common.h"

/* Writes a report to `fd` (borrowed; not closed, not synced). `loop` gives
 * the "libuv" section; NULL leaves it empty. `reason` is the header's
 * "event" (NULL: "API").
 * Errors: MUSTER_EINVAL (fd < 0), write errors (MUSTER_EPIPE, MUSTER_ENOSPC,
 * MUSTER_EBADF ...; the report may then be cut short).
 * Thread: any; with a loop, the loop's thread (uv_walk). */
MUSTER_EXTERN int muster_process_report_fd(uv_loop_t *loop, int fd,
                                           const char *reason);

/* Writes a report to a new file at `path` (replaced if it exists; mode
 * 0600: the report holds the environment and command line), synced before
 * it returns. Errors: MUSTER_EINVAL (NULL or empty path), open errors
 * (MUSTER_ENOENT, MUSTER_EACCES ...), write errors. Thread: as above. */
MUSTER_EXTERN int muster_process_report_file(uv_loop_t *loop, const char *path,
                                             const char *reason);

/* ---- on a signal ---------------------------------------------------------
 * Node's --report-on-signal: each time `signum` arrives, a report is
 * written, on the loop's thread, to a new file in `directory` (NULL: the
 * working directory) named as Node names them:
 *     report.YYYYMMDD.HHMMSS.<pid>.0.<seq>.json
 * Any signal muster_signal_subscribe() accepts may be used; Node's default
 * is SIGUSR2. The subscription does not keep the loop alive. */
typedef struct muster_report_signal_s muster_report_signal_t;

/* Errors: MUSTER_EINVAL (NULL loop or out, a signal that cannot be
 * subscribed to), MUSTER_ENOMEM. Thread: the loop's. */
MUSTER_EXTERN int muster_process_report_on_signal(uv_loop_t *loop, int signum,
                                                  const char *directory,
                                                  muster_report_signal_t **out);

/* Ends it; freed on a later loop turn. Thread: the loop's. */
MUSTER_EXTERN void
muster_process_report_on_signal_close(muster_report_signal_t *trigger);

/* ---- on a fatal signal ---------------------------------------------------
 * When the process receives SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT, a
 * handler writes a report to `path`, with the crashing thread's native
 * stack, calls the hook, then puts the signal's default action back and
 * re-raises it: the process dies of the same signal (core dump and exit
 * status as without the report). The crashed code is never resumed.
 *
 * Prepared in advance, so that the handler needs no allocation and no
 * lookup: the report's file (an unnamed O_TMPFILE in path's directory,
 * given its name only when a crash happens, so no empty file is left
 * behind; on file systems without O_TMPFILE, `path` itself is created
 * empty now), an alternate signal stack for the calling thread (so a stack
 * overflow in it can still be reported), a pipe for symbolizing frames,
 * and glibc's unwinder (loaded now, not in the handler).
 *
 * Other threads' crashes are reported too, on their own stacks (a stack
 * overflow in a thread without its own sigaltstack dies unreported). If
 * two threads crash at once, the second waits up to 5 s for the first
 * report before dying.
 *
 * The hook, when set, runs in the signal handler, inside the report's
 * "custom" object: it may call only async-signal-safe functions (write,
 * muster_report_add_*; no malloc, no printf, no locks) and must return.
 * It is the C counterpart of process.setUncaughtExceptionCaptureCallback:
 * it can record, it cannot resume. */
typedef struct muster_report_s muster_report_t;
typedef void (*muster_report_fatal_cb)(muster_report_t *report, int signum,
                                       void *arg);

typedef struct {
  const char *path;            /* where the report goes; required */
  uv_loop_t *loop;             /* handles to list; NULL: none */
  muster_report_fatal_cb hook; /* may be NULL */
  void *hook_arg;
} muster_report_fatal_options_t;

/* Installs the handlers (replacing any earlier setup of this function;
 * handlers the program installed itself for these signals are replaced
 * too). `options` and its path are copied. argv is taken from
 * muster_process_setup() now, or /proc/self/cmdline when it was not called.
 * Errors: MUSTER_EINVAL (NULL options or path, empty path),
 * MUSTER_ENAMETOOLONG, open errors for path's directory (MUSTER_ENOENT,
 * MUSTER_EACCES ...), MUSTER_EMFILE, MUSTER_ENOMEM. On error nothing is
 * installed. Thread: any, but not concurrently with itself or _stop; the
 * alternate stack is the calling thread's (call it from the main thread). */
MUSTER_EXTERN int
muster_process_report_on_fatal(const muster_report_fatal_options_t *options);

/* Puts the default action back on the five signals, closes the prepared
 * file and pipe, and frees the alternate stack (when it is still the
 * calling thread's). 0, or MUSTER_ENOENT when nothing is installed. */
MUSTER_EXTERN int muster_process_report_on_fatal_stop(void);

/* Fields for the hook to add to "custom" (async-signal-safe). A repeated
 * key is written twice; readers keep the last. Strings are copied out at
 * once. */
MUSTER_EXTERN void muster_report_add_string(muster_report_t *report,
                                            const char *key, const char *value);
MUSTER_EXTERN void muster_report_add_int(muster_report_t *report,
                                         const char *key, int64_t value);

#endif
