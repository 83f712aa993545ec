/* A worker's captured stdout and stderr (Node's `stdout: true` / `stderr:
 * true`): what the worker writes reaches a callback on its creator's loop.
 * The thread module owns one of these per worker that asked for capture
 * and drives it through the calls below (docs/threads.md, "Output").
 *
 * Thread mode: the worker writes through a FILE of its own
 * (muster__thread_stdio_file, a fopencookie stream) into a locked queue
 * bounded by MUSTER_THREAD_OUTPUT_BUFFER bytes; a writer that would pass
 * the bound waits until the creator's loop has taken the queue. A
 * uv_async_t on the creator's loop takes it.
 *
 * Process mode: the worker process's fds 1 and 2 are the write ends of
 * pipes whose read ends the creator's loop reads; the pipe's capacity is
 * the bound (a writer blocks in write(2)).
 *
 * Either way, drain() delivers everything written so far: the thread
 * module calls it once the worker has exited (joined, or reaped), before
 * it reports the exit, so no byte written before the exit comes after it.
 */
#ifndef MUSTER_THREAD_STDIO_H
#define MUSTER_THREAD_STDIO_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

typedef struct muster__thread_stdio_s muster__thread_stdio_t;

/* Output arrived: `fd` is 1 (stdout) or 2 (stderr), data[0..len) is
 * valid during the call. On the creator's loop thread. */
typedef void (*muster__thread_stdio_cb)(void *arg, int fd, const char *data,
                                        size_t len);

/* Creator's side, before the worker starts: capture fd 1 when `out`, fd 2
 * when `err`; `process` picks the mode. Thread mode inits a handle on
 * `loop`; process mode makes the pipes (muster__thread_stdio_parent
 * starts reading them after the fork). Errors: MUSTER_ENOMEM, pipe's and
 * libuv's; nothing to free then. */
int muster__thread_stdio_create(uv_loop_t *loop, int process, int out, int err,
                                muster__thread_stdio_cb cb, void *arg,
                                muster__thread_stdio_t **res);

/* Process mode, in the forked worker (on its copy of the object): makes
 * the pipes its fds 1 and 2 (stdout line-buffered, so lines stream) and
 * closes the rest; the parent's handles are not touched. */
void muster__thread_stdio_child(muster__thread_stdio_t *s);
/* Process mode, in the creator after the fork: closes the write ends and
 * starts reading. Errors: libuv's (the caller then ends the worker). */
int muster__thread_stdio_parent(muster__thread_stdio_t *s);

/* Thread mode, in the worker thread: the FILE to write fd's output to
 * (made on first use; never fclose it). `s` NULL, fd not captured, or
 * process mode: stdout or stderr. */
FILE *muster__thread_stdio_file(muster__thread_stdio_t *s, int fd);
/* Thread mode, the worker's last act: flushes and closes its FILEs. */
void muster__thread_stdio_worker_end(muster__thread_stdio_t *s);

/* Creator's side, once the worker has exited: delivers everything still
 * queued (thread mode) or in the pipes (process mode). */
void muster__thread_stdio_drain(muster__thread_stdio_t *s);
/* The creator stops listening (the thread object is being closed): from
 * now on output is dropped, and no writer waits. */
void muster__thread_stdio_detach(muster__thread_stdio_t *s);
/* Frees the object (its handles close on a later loop turn); no callback
 * comes after. Thread mode: only once the worker is joined (or never
 * started). NULL: nothing. */
void muster__thread_stdio_close(muster__thread_stdio_t *s);

#endif
