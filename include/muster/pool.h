/* A pool of workers running tasks (what piscina is to Node): threads, or
 * with isolation = process, forked worker processes.
 *
 *   muster_pool_create()       workers that run `handler` on each task
 *   muster_pool_run()          queue a task (a JSON value, or bytes)
 *   muster_pool_cancel()       fail a task with MUSTER_ECANCELED
 *   muster_pool_stats()        utilization, queue wait, counts
 *   muster_pool_close()        finish or cancel what is queued, then free
 *   muster_pool_task_exit()    how the worker ended that a task died with
 *   in a worker: muster_pool_reply_json(), muster_pool_reply_bytes()
 *
 * Each worker is a muster_thread_t (muster/thread.h), made with the pool's
 * isolation, name, limits, terminate grace and output capture; a task
 * travels to it through the thread's port as a message (copied, as any
 * port message) and the result comes back the same way, so a worker in
 * another process serves the same calls. A worker runs its tasks one
 * after the other; up to tasks_per_worker of them are handed to it ahead
 * (they wait in its port's queue), which saves a wake-up per task when
 * tasks are tiny.
 *
 * The two modes (docs/threads.md, "The task pool: threads or processes"):
 *   thread   a worker is a thread of this process: it starts in about
 *            0.1 ms, shares this process's memory (handler_arg is the
 *            same object for all), and a crash in a handler (SIGSEGV,
 *            abort) ends the whole process, as in Node.
 *   process  a worker is a forked copy of this process (fork, no exec):
 *            it starts in milliseconds (more the larger this process:
 *            its page tables are copied) and costs a process (its own
 *            copy-on-write pages, a socketpair, a pidfd); handler and
 *            handler_arg are its copies as of its fork (what it changes
 *            there stays there); a crash ends that worker only: its task
 *            fails with MUSTER_ECONNRESET (muster_pool_task_exit() gives
 *            the signal) or runs once more with retry_on_death, and a new
 *            worker takes the queue. Kernel limits (`limits`) apply per
 *            worker, and a timed-out task's worker is killed: SIGTERM,
 *            then SIGKILL after terminate_grace_ms, and reaped. Each task
 *            and reply crosses a socket, about 5x slower than a thread's
 *            queue for tiny tasks (docs/benchmarks.md has both modes'
 *            rates); bytes cross as a memory file each: prefer JSON.
 *
 * What a task's end can be (the status of muster_pool_done_cb):
 *   0                   the handler returned 0; `result` is its reply
 *   the handler's error the handler returned it (any non-zero int)
 *   MUSTER_ETIMEDOUT    it ran longer than its timeout: its worker is
 *                       terminated (see muster/thread.h for what that can
 *                       interrupt) and replaced
 *   MUSTER_ECANCELED    muster_pool_cancel(), or muster_pool_close() with
 *                       MUSTER_POOL_CANCEL while it was queued
 *   MUSTER_ECONNRESET   its worker died under it (the handler called
 *                       muster_thread_exit(), or a process-isolated worker
 *                       crashed or was killed); with retry_on_death it
 *                       runs once more on another worker first;
 *                       muster_pool_task_exit() says how the worker ended
 *   MUSTER_ENOMEM       likewise, the worker process having passed
 *                       limits.max_memory (muster_thread_limits_t says
 *                       when that is known); MUSTER_ETIMEDOUT when it
 *                       spent limits.max_cpu_seconds
 * Tasks handed to the same worker behind a task that timed out, or that
 * was running when its worker died, go back to the front of the queue and
 * run on another worker.
 *
 * A dead or timed-out worker is replaced: at once when tasks wait, and
 * always while fewer than min_threads run.
 *
 * All calls except the reply calls are made on the pool's loop thread.
 * Options and task values are borrowed for the call.
 */
#ifndef MUSTER_POOL_H
#define MUSTER_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <jansson.h>

#include "common.h"
#include "message.h"
#include "thread.h"

typedef struct muster_pool_s muster_pool_t;
typedef struct muster_pool_task_s muster_pool_task_t;
typedef struct muster_pool_reply_s muster_pool_reply_t;

/* Runs in a worker for each task (valid during the call). Reply with
 * muster_pool_reply_json() or _bytes() (no reply: JSON null) and return
 * 0, or return an error (any non-zero int) to fail the task with it.
 * `arg` is the pool's handler_arg: in thread mode shared by every worker
 * thread (what it points to must be safe to use from all of them at
 * once); in process mode each worker process's own copy, made at its
 * fork. The worker's loop (muster_thread_parent_port's) is free for async
 * work only until the handler returns. */
typedef int (*muster_pool_handler_cb)(muster_message_t *task,
                                      muster_pool_reply_t *reply, void *arg);
/* A task ended (see the top of this header); `result` is valid during the
 * call, NULL unless status is 0. The task object is freed after it. */
typedef void (*muster_pool_done_cb)(muster_pool_task_t *task, int status,
                                    muster_message_t *result, void *arg);
typedef void (*muster_pool_event_cb)(muster_pool_t *pool);
/* Captured output of the worker whose muster_thread_get_id() is
 * `worker_id`: data[0..len), valid during the call, cut anywhere (the
 * output of two workers interleaves by chunks, never inside one). */
typedef void (*muster_pool_output_cb)(muster_pool_t *pool, uint64_t worker_id,
                                      const char *data, size_t len);

/* Options of muster_pool_create(); all zero means the defaults. */
typedef struct {
  muster_pool_handler_cb handler; /* required */
  void *handler_arg;
  /* Workers kept alive even when idle (started at once), and the most
   * that run at a time. 0: max is uv_available_parallelism(); min is 1. */
  unsigned min_threads, max_threads;
  /* Tasks handed to one worker at a time (the first runs, the others
   * wait in its queue). 0: 1 (piscina's concurrentTasksPerWorker). */
  unsigned tasks_per_worker;
  /* Most tasks waiting in the pool's queue; muster_pool_run() fails with
   * MUSTER_EAGAIN beyond it and on_drain follows when there is room
   * again. 0: no bound. */
  size_t max_queue;
  /* Default timeout of a task, from the moment its worker starts it, in
   * ms. 0: none. */
  uint64_t task_timeout_ms;
  /* A worker above min_threads idle this long (ms) is stopped. 0: never. */
  uint64_t idle_timeout_ms;
  /* A task whose worker died is run once more before it fails. */
  int retry_on_death;
  /* Each worker is a muster_thread_t made with these (muster/thread.h):
   * name: NULL: "muster-pool" (the thread's, or the worker process's,
   * comm); stack_size: thread mode only. */
  const char *name;
  size_t stack_size;
  /* MUSTER_THREAD_ISOLATION_THREAD (0) or _PROCESS: see the top. */
  int isolation;
  /* Process mode: how long a worker that is stopped (a task timed out,
   * the pool closes, an idle worker retires) may take before SIGKILL.
   * 0: MUSTER_THREAD_TERMINATE_GRACE_MS. */
  unsigned terminate_grace_ms;
  /* Kernel limits on each worker process (muster_thread_limits_t: memory,
   * CPU seconds over the worker's whole life, not per task; descriptors).
   * Any limit in thread mode: muster_pool_create() fails with
   * MUSTER_ENOTSUP. */
  muster_thread_limits_t limits;
  /* Output capture, as muster_thread_options_t's on_stdout / on_stderr:
   * in thread mode what a handler writes to muster_thread_stdout() /
   * _stderr(); in process mode all the worker process writes to fds 1
   * and 2 (printf too). NULL: not captured. */
  muster_pool_output_cb on_stdout, on_stderr;
  muster_pool_event_cb on_drain;
  void *data; /* returned by muster_pool_data() */
} muster_pool_options_t;

/* Options of one run; NULL means all zero. */
typedef struct {
  /* This task's timeout in ms, instead of the pool's (0: the pool's). */
  uint64_t timeout_ms;
} muster_pool_run_options_t;

/* Figures since the pool was created. */
typedef struct {
  unsigned threads;   /* workers running now (threads or processes) */
  unsigned busy;      /* of those, with a task */
  size_t queued;      /* tasks waiting for a worker */
  uint64_t completed; /* tasks that ended with status 0 */
  uint64_t failed;    /* ended with the handler's error */
  uint64_t timed_out, canceled, worker_deaths;
  /* Busy time over alive time of all workers, 0 to 1. */
  double utilization;
  /* Time from run() until a worker got the task, over started tasks. */
  double wait_mean_ms, wait_max_ms;
  /* Time from a worker starting a task to its result, over completed and
   * failed tasks. */
  double run_mean_ms;
} muster_pool_stats_t;

/* What muster_pool_close() does with tasks still queued. */
typedef enum {
  MUSTER_POOL_FINISH = 0, /* run them all, then stop the workers */
  MUSTER_POOL_CANCEL = 1, /* fail them with MUSTER_ECANCELED */
} muster_pool_close_mode_t;

/* Creates a pool on `loop` and starts min_threads workers.
 * Errors (nothing to free): MUSTER_EINVAL (NULL loop, out, options or
 * handler; min_threads > max_threads; an unknown isolation),
 * MUSTER_ENOTSUP (limits in thread mode), MUSTER_ENOMEM,
 * muster_thread_create()'s (MUSTER_EAGAIN: no more threads or
 * processes). */
MUSTER_EXTERN int muster_pool_create(uv_loop_t *loop,
                                     const muster_pool_options_t *options,
                                     muster_pool_t **out);

/* Queues a copy of `task` (a JSON value) and calls `cb` (required) once
 * it ended, never from inside this call. *out (may be NULL) gets the task
 * object, valid until cb returns (for muster_pool_cancel).
 * Errors (cb is never called): MUSTER_EINVAL (NULL pool, task or cb; a
 * value muster_port_post refuses), MUSTER_EAGAIN (the queue holds
 * max_queue tasks; wait for on_drain), MUSTER_ENOTCONN (the pool is
 * closing), MUSTER_EMSGSIZE, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_pool_run(muster_pool_t *pool, const json_t *task,
                                  const muster_pool_run_options_t *options,
                                  muster_pool_done_cb cb, void *arg,
                                  muster_pool_task_t **out);

/* As muster_pool_run() with `len` raw bytes (copied). */
MUSTER_EXTERN int
muster_pool_run_bytes(muster_pool_t *pool, const void *bytes, size_t len,
                      const muster_pool_run_options_t *options,
                      muster_pool_done_cb cb, void *arg,
                      muster_pool_task_t **out);

/* Ends a task with MUSTER_ECANCELED: its cb runs before this returns. A
 * queued task never runs; a task a worker has already started (or has in
 * its queue) runs to its end there and its result is dropped. Errors:
 * MUSTER_EINVAL (NULL). */
MUSTER_EXTERN int muster_pool_cancel(muster_pool_task_t *task);

/* In a muster_pool_done_cb whose task's worker died under it (status
 * MUSTER_ECONNRESET, or a limit's error): 1, with the worker's exit code
 * (128 + the signal when a signal ended it) in *code and the signal (0:
 * none) in *signal (either may be NULL). 0 for any other task. */
MUSTER_EXTERN int muster_pool_task_exit(const muster_pool_task_t *task,
                                        int *code, int *signal);

MUSTER_EXTERN void muster_pool_stats(const muster_pool_t *pool,
                                     muster_pool_stats_t *out);

/* Stops taking tasks (run() fails with MUSTER_ENOTCONN), deals with the
 * queued ones as `mode` says, lets tasks already given to workers end
 * (their callbacks run), stops every worker, and then calls `cb` (may be
 * NULL) on a later loop turn, after which the pool is gone. */
MUSTER_EXTERN void muster_pool_close(muster_pool_t *pool,
                                     muster_pool_close_mode_t mode,
                                     muster_pool_event_cb cb);

MUSTER_EXTERN void *muster_pool_data(const muster_pool_t *pool);

/* ---- in the handler ------------------------------------------------------
 * Called from the handler, in the worker, at most once per task.
 * The value or bytes are copied. Errors: MUSTER_EINVAL (NULL, or a reply
 * was given already), MUSTER_EMSGSIZE, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_pool_reply_json(muster_pool_reply_t *reply,
                                         const json_t *value);
MUSTER_EXTERN int muster_pool_reply_bytes(muster_pool_reply_t *reply,
                                          const void *bytes, size_t len);

#endif
