/* Worker threads (Node's worker_threads): a thread with its own libuv loop,
 * talking to its creator through a pair of message ports.
 *
 *   muster_thread_create()     start a thread running entry(loop, arg)
 *   muster_thread_port()       the creator's end of the pair (post here)
 *   muster_thread_terminate()  stop the thread's loop at its next turn
 *   muster_thread_close()      free the object (after exit)
 *   in the thread:  muster_thread_is_main(), muster_thread_id(),
 *     muster_thread_parent_port(), muster_thread_worker_data(),
 *     muster_thread_should_stop(), muster_thread_at_exit(),
 *     muster_thread_exit(), muster_thread_getenv(),
 *     muster_thread_stdout(), muster_thread_stderr(),
 *     muster_thread_{set,get}_environment_data()
 *
 * Events reach the creator's loop in Node's order: on_online (the thread's
 * loop is set up and its entry is about to run), on_message (each message
 * the thread posted to its parent port; on_stdout / on_stderr for its
 * captured output), on_error (the entry returned an
 * error), on_exit (code), after which nothing more comes.
 *
 * The thread: muster_thread_create() makes a loop for it, runs
 * entry(loop, arg) on it, and then runs the loop until nothing keeps it
 * alive (a started parent port with on_message does, until closed or
 * unref'd) or until muster_thread_exit() or terminate stops it. Then its
 * cleanup runs: the at-exit hooks (last registered first), then every
 * handle still open on its loop is closed (its ports and broadcast
 * channels as by their close calls, so their other ends see on_close; its
 * own threads are terminated and joined), and the loop is closed.
 *
 * What terminate() can and cannot interrupt. C has no safe way to stop a
 * thread from outside (pthread_cancel would leave locks held by malloc,
 * libuv or the user's code), so terminate() asks: it sets a flag that
 * muster_thread_should_stop() reads and wakes the thread's loop, which
 * stops before its next turn, and the cleanup above runs. So terminate
 * ends at once a thread waiting in its loop (on I/O, timers, messages),
 * and ends the rest of the current turn's callbacks' work only when they
 * return. It cannot interrupt code that does not return to the loop: a
 * long computation (check muster_thread_should_stop() in it), a blocking
 * system call (read on a blocking fd, sleep, a futex wait without
 * timeout: use the loop or a timeout instead), or a callback that never
 * returns. Such a thread exits when that code returns. The exit code after
 * terminate() is 1, as in Node, unless the thread exited first.
 *
 * With isolation = process, terminate() is SIGTERM to the worker (sent
 * once it is online, before its entry runs), whose handler sets the flag
 * muster_thread_should_stop() reads and stops its loop: the same safe
 * points, the same cleanup, exit code 1. The signal also interrupts a
 * blocking system call: those that SA_RESTART restarts go on, sleep,
 * poll and the like return EINTR. A worker that does not end within
 * terminate_grace_ms is killed with SIGKILL (no cleanup; exit code 1,
 * muster_thread_exit_signal() says SIGKILL). A worker that handles
 * SIGTERM itself takes it over from the library; SIGTERM sent to the
 * worker's pid by anyone is a terminate.
 *
 * Threads are created and controlled from the creator's loop thread; the
 * in-thread calls answer for the calling thread, whichever it is (a
 * thread not made by muster_thread_create() counts as the main thread).
 */
#ifndef MUSTER_THREAD_H
#define MUSTER_THREAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>
#include <jansson.h>

#include "common.h"
#include "message.h"
#include "port.h"

typedef struct muster_thread_s muster_thread_t;

/* Values of muster_thread_options_t.isolation. */
#define MUSTER_THREAD_ISOLATION_THREAD 0
#define MUSTER_THREAD_ISOLATION_PROCESS 1

/* The default of muster_thread_options_t.terminate_grace_ms. */
#define MUSTER_THREAD_TERMINATE_GRACE_MS 1000

/* The thread's body, run on the new thread with its new loop. Set up the
 * work there and return 0 (the loop then runs), or return an error (any
 * non-zero int): on_error(code) and on_exit(code) follow, the loop does
 * not run. */
typedef int (*muster_thread_entry_cb)(uv_loop_t *loop, void *arg);
typedef void (*muster_thread_online_cb)(muster_thread_t *thread);
typedef void (*muster_thread_message_cb)(muster_thread_t *thread,
                                         muster_message_t *message);
/* on_error: the entry returned `err`, or a process-isolated worker passed
 * one of its limits (MUSTER_ENOMEM, MUSTER_ETIMEDOUT: see
 * muster_thread_limits_t). on_messageerror: as the port's. */
typedef void (*muster_thread_error_cb)(muster_thread_t *thread, int err);
typedef void (*muster_thread_exit_cb)(muster_thread_t *thread, int code);
typedef void (*muster_thread_close_cb)(muster_thread_t *thread);
/* Captured output (on_stdout, on_stderr): data[0..len), valid during the
 * call; chunks come in the order written, cut anywhere (not by lines). */
typedef void (*muster_thread_output_cb)(muster_thread_t *thread,
                                        const char *data, size_t len);

/* Bytes of captured output a thread-mode worker may have written that its
 * creator has not yet taken: a writer that would pass it waits (in
 * process mode the bound is the pipe's capacity, 64 KiB by default). */
#define MUSTER_THREAD_OUTPUT_BUFFER (64 * 1024)

/* resourceLimits. Node's maxOldGenerationSizeMb, maxYoungGenerationSizeMb
 * and codeRangeSizeMb bound V8's heap; a C worker has no heap of its own
 * but the process's, so these are the kernel's limits (setrlimit) on a
 * process-isolated worker, set in the worker process before its entry
 * runs (docs/threads.md, "Resource limits"). Zero: no limit. A thread
 * shares its process's memory, CPU time and descriptors, which the kernel
 * cannot limit per thread: in thread mode any of these fails
 * muster_thread_create() with MUSTER_ENOTSUP (stack_size is the one limit
 * a thread has). */
typedef struct {
  /* Bytes of data (heap: malloc, brk, private writable mappings; what
   * RLIMIT_DATA counts) the worker may add to what it inherited at the
   * fork. Past it, allocations fail: malloc returns NULL, mmap ENOMEM.
   * A worker that then ends with a failure (a non-zero exit code, or
   * SIGSEGV, SIGBUS, SIGABRT) while less than max(1 MiB, max_memory / 16)
   * is left under the limit ran out of memory: on_error(MUSTER_ENOMEM)
   * comes before on_exit (Node's ERR_WORKER_OUT_OF_MEMORY). Not so
   * reported: a worker that freed its memory before it ended, one killed
   * otherwise (SIGKILL), one that exits 0. Memory files (transferred and
   * shared buffers, MAP_SHARED) do not count. */
  size_t max_memory;
  /* Seconds of CPU time (RLIMIT_CPU). Past them the kernel sends SIGXCPU,
   * which ends the worker: exit 128 + SIGXCPU, after
   * on_error(MUSTER_ETIMEDOUT). A worker that catches SIGXCPU gets
   * SIGKILL one second later, reported as that signal. */
  unsigned max_cpu_seconds;
  /* Open descriptors (RLIMIT_NOFILE, soft and hard): past it open,
   * socket, pipe... fail with EMFILE in the worker. Above the creator's
   * hard limit it needs CAP_SYS_RESOURCE. */
  unsigned max_open_files;
} muster_thread_limits_t;

/* Options for muster_thread_create(); all zero means the defaults.
 * Borrowed for the call; what is kept is copied. */
typedef struct {
  /* Passed to entry as it is: the caller keeps it alive for the thread. */
  void *arg;
  /* workerData: a JSON value (copied as text; the thread parses it on its
   * first muster_thread_worker_data() call) or, when worker_data is NULL,
   * worker_bytes[0..worker_len) (copied). */
  const json_t *worker_data;
  const void *worker_bytes;
  size_t worker_len;
  /* The thread's name, as /proc/self/task/<tid>/comm and top -H show it
   * (at most 15 bytes are kept). NULL: "muster-thread". */
  const char *name;
  /* Stack size in bytes (resourceLimits.stackSizeMb). 0: libuv's default
   * (RLIMIT_STACK, usually 8 MiB of address space, touched as used). */
  size_t stack_size;
  /* The environment muster_thread_getenv() reads in the thread: NULL and
   * share_env 0: a copy of this process's environment made now (Node's
   * default); `env` ("NAME=value" strings, NULL-terminated): a copy of
   * those; share_env 1: the process's own environment (Node's SHARE_ENV).
   * With isolation = process the first two hold as they are (the copy is
   * made before the fork), and share_env is refused (MUSTER_ENOTSUP): a
   * process's environment is its own memory, and setenv() in one process
   * can never be seen by another, so there is nothing to share; a worker
   * process that reads getenv() gets its own copy, made by the fork. */
  const char *const *env;
  int share_env;
  /* The thread does not keep the creator's loop alive (worker.unref()). */
  int unref;
  /* MUSTER_THREAD_ISOLATION_PROCESS: the worker is a forked process with
   * the same API (docs/threads.md, "Process isolation"): messages, bytes,
   * transferred and shared buffers cross the process boundary; the events
   * come in the same order (on_error too: the worker reports its entry's
   * error and its full exit code before it exits); a crash (SIGSEGV,
   * abort) ends the worker only (on_exit gets 128 + the signal, see
   * muster_thread_exit_signal). terminate() sends the worker SIGTERM,
   * which there sets muster_thread_should_stop() and stops its loop as a
   * thread's terminate does; the worker is killed (SIGKILL) if it has not
   * ended terminate_grace_ms later. stack_size does not apply (the
   * process runs on the creator's stack, copied); share_env is refused.
   * Ports in a transfer list cross too (each as a socketpair of its own,
   * in both directions). A message posted in the worker leaves when its
   * loop runs. */
  int isolation;
  /* isolation = process: how long terminate() waits for the worker to end
   * before it kills it. 0: MUSTER_THREAD_TERMINATE_GRACE_MS. */
  unsigned terminate_grace_ms;
  /* Kernel limits on a process-isolated worker (above). A limit the
   * worker process cannot set (EPERM) ends it at once with exit code 1,
   * after on_error(that error). */
  muster_thread_limits_t limits;
  /* Options of the creator's port (callbacks set here are ignored: the
   * ones below are used). */
  size_t high_water_mark;
  size_t max_message_size;
  muster_thread_online_cb on_online;
  muster_thread_message_cb on_message;
  muster_thread_error_cb on_messageerror;
  muster_thread_error_cb on_error;
  muster_thread_exit_cb on_exit;
  /* Output capture (Node's `stdout: true`, `stderr: true`): non-NULL
   * captures the worker's stdout (stderr), delivered here on the
   * creator's loop; NULL leaves it on the process's fd 1 (2).
   * What is captured differs by mode, because a thread shares its
   * process's fds and a process does not:
   *   thread   what the worker writes to muster_thread_stdout() /
   *            muster_thread_stderr() (a FILE of its own: stdout by line,
   *            stderr unbuffered). NOT printf, puts, fprintf(stdout) or
   *            write(1, ...): fd 1 and stdout are the whole process's,
   *            and go where they always go. Threads the worker creates
   *            are captured only if it asks for them.
   *   process  everything written to fds 1 and 2 of the worker process:
   *            printf and write(1, ...) alike, its stdout made
   *            line-buffered; muster_thread_stdout() is stdout there.
   *            Programs the worker starts inherit the pipes; what they
   *            write after the worker exited is not delivered.
   * Every byte written before the worker exits reaches the callback
   * before on_error / on_exit (a crash loses what the C library still
   * held in stdout's buffer, as in any process). A worker writing faster
   * than the creator's loop takes its output waits: at most
   * MUSTER_THREAD_OUTPUT_BUFFER bytes (a pipe's capacity in process mode)
   * wait for the creator; so a creator that stops running its loop stops
   * a worker that writes. Output and messages are two streams: their
   * relative order is not kept. After muster_thread_close() the output
   * is dropped and no writer waits. */
  muster_thread_output_cb on_stdout;
  muster_thread_output_cb on_stderr;
  void *data; /* returned by muster_thread_data() */
} muster_thread_options_t;

/* Starts a thread running entry(loop, options->arg) on a loop of its own,
 * and binds its events to `loop`. *out must eventually be freed with
 * muster_thread_close().
 * Errors (nothing to free, no thread started, no callback will come):
 * MUSTER_EINVAL (NULL loop, entry or out; worker_len without
 * worker_bytes; an unknown isolation), MUSTER_ENOTSUP (share_env with
 * isolation = process; limits in thread mode), MUSTER_ENOMEM,
 * MUSTER_EAGAIN (no more threads or processes: RLIMIT_NPROC, or the
 * kernel's limits), and pthread_create's or fork's other errors. Call on
 * the loop's thread. */
MUSTER_EXTERN int muster_thread_create(uv_loop_t *loop,
                                       muster_thread_entry_cb entry,
                                       const muster_thread_options_t *options,
                                       muster_thread_t **out);

/* The creator's port to the thread: post to it (the thread reads its
 * parent port). It belongs to the thread object: do not start, close or
 * transfer it; it closes after on_exit (or with muster_thread_close()).
 * NULL once on_exit was called. */
MUSTER_EXTERN muster_port_t *muster_thread_port(muster_thread_t *thread);

/* Asks the thread to stop (see the top of this header); on_exit follows.
 * 0; a no-op (still 0) once the thread has exited or was asked already.
 * MUSTER_EINVAL for NULL. */
MUSTER_EXTERN int muster_thread_terminate(muster_thread_t *thread);

/* Frees the thread object: terminates the thread if it still runs, and
 * calls `cb` (may be NULL) once it has exited and been joined, on a later
 * loop turn; on_exit is not called then. After cb the object is gone. */
MUSTER_EXTERN void muster_thread_close(muster_thread_t *thread,
                                       muster_thread_close_cb cb);

/* The thread's id (threadId): 1, 2, ... in creation order in this process;
 * the main thread is 0. */
MUSTER_EXTERN uint64_t muster_thread_get_id(const muster_thread_t *thread);
/* The signal that ended a process-isolated worker (after on_exit), or 0. */
MUSTER_EXTERN int muster_thread_exit_signal(const muster_thread_t *thread);
/* 1 while the thread has not exited. */
MUSTER_EXTERN int muster_thread_running(const muster_thread_t *thread);
MUSTER_EXTERN void muster_thread_ref(muster_thread_t *thread);
MUSTER_EXTERN void muster_thread_unref(muster_thread_t *thread);
MUSTER_EXTERN void *muster_thread_data(const muster_thread_t *thread);
MUSTER_EXTERN void muster_thread_set_data(muster_thread_t *thread, void *data);

/* ---- inside a thread ------------------------------------------------------
 * These answer for the calling thread. */

/* 1 unless called on a thread made by muster_thread_create() (isMainThread). */
MUSTER_EXTERN int muster_thread_is_main(void);
/* This thread's id (threadId); 0 on the main thread. */
MUSTER_EXTERN uint64_t muster_thread_id(void);
/* This thread's end of its creator's pair (parentPort), bound to its loop,
 * not started; NULL on the main thread or once closed. The library closes
 * it when the thread ends; the thread may close it before. */
MUSTER_EXTERN muster_port_t *muster_thread_parent_port(void);
/* workerData parsed from its JSON text (borrowed; valid until the thread
 * ends), or NULL: none given, given as bytes, the main thread, ENOMEM. */
MUSTER_EXTERN json_t *muster_thread_worker_data(void);
/* The workerData's bytes (JSON text or raw bytes), *len their count; NULL
 * when none. */
MUSTER_EXTERN const void *muster_thread_worker_bytes(size_t *len);
/* 1 once terminate() was called for this thread (in a worker process:
 * once its SIGTERM came), or the thread called muster_thread_exit(): a
 * long computation checks it and returns to the loop. 0 on the main
 * thread. One atomic load: cheap enough for an inner loop. */
MUSTER_EXTERN int muster_thread_should_stop(void);
/* Runs cb(arg) in the thread's cleanup, before its remaining handles are
 * closed: close your own handles here. Hooks run last registered first.
 * Errors: MUSTER_EINVAL (NULL cb, or the main thread), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_thread_at_exit(void (*cb)(void *arg), void *arg);
/* process.exit() of a worker: stops this thread's loop at its next turn;
 * the thread exits with `code` after its cleanup. MUSTER_EINVAL on the
 * main thread. */
MUSTER_EXTERN int muster_thread_exit(int code);
/* Where this thread's stdout (stderr) goes: a FILE of the thread's own
 * that its creator captures when it asked for on_stdout (on_stderr) in
 * thread mode; else the process's stdout (stderr), which in a captured
 * process-mode worker is the pipe to the creator. Write to it with
 * fprintf/fwrite from the thread (glibc's FILE locking makes the thread's
 * own threads safe too); never fclose it: the thread flushes and closes
 * its own at exit, after the at-exit hooks. Write to it only while the
 * thread runs. */
MUSTER_EXTERN FILE *muster_thread_stdout(void);
MUSTER_EXTERN FILE *muster_thread_stderr(void);

/* A variable of the environment chosen by the env options (see
 * muster_thread_options_t); the process's getenv() on the main thread.
 * Borrowed: valid until the thread ends (with share_env, as getenv()). */
MUSTER_EXTERN const char *muster_thread_getenv(const char *name);

/* setEnvironmentData(): stores a copy of `value` under `key` for this
 * thread; threads it creates from now on start with a copy of all its
 * pairs. NULL value deletes the key. Errors: MUSTER_EINVAL (NULL key),
 * MUSTER_ENOMEM. Each thread's store is its own: no locking. */
MUSTER_EXTERN int muster_thread_set_environment_data(const char *key,
                                                     const json_t *value);
/* getEnvironmentData(): the value stored under `key` in this thread
 * (borrowed until it is replaced or the thread ends), or NULL. */
MUSTER_EXTERN json_t *muster_thread_get_environment_data(const char *key);

#endif
