/* Process isolation for worker threads: the worker is a forked process
 * with a loop of its own and a channel to its creator (issue 11, section
 * 4). This is the engine the thread API's isolation option sits on; the
 * thread and port modules hook it in (docs/threads.md, "Process
 * isolation").
 *
 *   muster__tproc_start()   fork a worker process running entry(loop, fd)
 *   muster__tproc_kill()    send it a signal (terminate)
 *   muster__tproc_close()   free the object (SIGKILL if it still runs)
 *
 * The worker is fork() without exec: the entry is a function pointer of
 * this program, which only the same program image can call. The child
 * keeps nothing of the parent's loops (it never touches them: their epoll
 * and signal fds are shared with the parent) and resets every caught
 * signal to its default, so a signal to the worker is the worker's. It
 * dies with its parent (PR_SET_PDEATHSIG). Its exit, normal or by a
 * signal (a crash: SIGSEGV, abort), reaches on_exit on the parent's loop
 * through a pidfd; the parent lives on.
 *
 * Buffers and shared buffers cross as the descriptors of their memory
 * files (muster__tproc_send_buffer/_shared): both processes map the same
 * pages, nothing is copied, and futex wait/notify work across them.
 *
 * All calls on the parent's loop thread.
 */
#ifndef MUSTER_THREAD_PROCESS_H
#define MUSTER_THREAD_PROCESS_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include <jansson.h>

#include "muster/buffer.h"
#include "muster/channel.h"
#include "muster/message.h"
#include "muster/shared.h"

typedef struct muster__tproc_s muster__tproc_t;

/* Runs in the worker process on its new loop. `fd` is the worker's end of
 * the socketpair (open it with muster_channel_open; it is the entry's).
 * Return 0 to run the loop until nothing keeps it alive, then exit 0;
 * anything else exits at once with that code (a negative errno exits
 * with the positive number). */
typedef int (*muster__tproc_entry_cb)(uv_loop_t *loop, int fd, void *arg);
/* The worker ended: exit `code`, or killed by `signal` (code then -1).
 * Called after the channel's end, so after every message it sent. */
typedef void (*muster__tproc_exit_cb)(muster__tproc_t *p, int64_t code,
                                      int signal);
typedef void (*muster__tproc_close_cb)(muster__tproc_t *p);

typedef struct {
  muster__tproc_entry_cb entry;
  void *arg;
  /* Options of the parent's end of the channel (its callbacks). Its
   * `data` is replaced: muster_channel_data() of that channel is the
   * muster__tproc_t (use muster__tproc_data for yours). */
  muster_channel_options_t channel;
  muster__tproc_exit_cb on_exit;
  void *data;
} muster__tproc_options_t;

/* Forks the worker. On success *out is the parent's object (free it with
 * muster__tproc_close). Errors: MUSTER_EINVAL (NULL loop/options/entry/
 * out), fork's, socketpair's, pidfd_open's (MUSTER_ENOSYS before Linux
 * 5.3), muster_channel_open's; nothing is left running then. */
int muster__tproc_start(uv_loop_t *loop, const muster__tproc_options_t *o,
                        muster__tproc_t **out);

/* The parent's end of the channel to the worker; NULL after close. */
muster_channel_t *muster__tproc_channel(const muster__tproc_t *p);
pid_t muster__tproc_pid(const muster__tproc_t *p);
void *muster__tproc_data(const muster__tproc_t *p);

/* Sends `signum` to the worker (via its pidfd: never to a reused pid).
 * 0, or MUSTER_ESRCH once it has exited. */
int muster__tproc_kill(muster__tproc_t *p, int signum);

/* Closes the channel and frees the object; a worker still running is
 * killed (SIGKILL) and reaped first, and on_exit is not called. `cb` (may
 * be NULL) runs on a later loop turn. */
void muster__tproc_close(muster__tproc_t *p, muster__tproc_close_cb cb);

/* ---- memory across the two processes ------------------------------------
 * Sends `msg` (a JSON object, borrowed; the call adds "byteLength") with
 * the bytes of `b`, transferred: `b` is left detached, the bytes travel as
 * their memory file (a heap buffer is first copied into one), and the
 * peer takes them with muster__tproc_take_buffer. Errors: MUSTER_EINVAL (b
 * detached or untransferable, msg not an object: nothing moved),
 * memfd's, muster_channel_send's (the bytes are then lost: `b` stays
 * detached). */
int muster__tproc_send_buffer(muster_channel_t *ch, json_t *msg,
                              muster_buffer_t *b);
/* The buffer that came with `m` into *out (the caller's). Errors:
 * MUSTER_EINVAL (no handle or no byteLength), mmap's. */
int muster__tproc_take_buffer(muster_message_t *m, muster_buffer_t **out);

/* Sends `msg` with shared buffer `s`: the peer maps the same memory file
 * (muster__tproc_take_shared); `s` stays the caller's. Errors:
 * muster_channel_send's. */
int muster__tproc_send_shared(muster_channel_t *ch, const json_t *msg,
                              muster_shared_t *s);
/* The shared buffer that came with `m`, one reference, the caller's.
 * Errors: MUSTER_EINVAL (no handle), muster_shared_open's. */
int muster__tproc_take_shared(muster_message_t *m, muster_shared_t **out);

#endif
