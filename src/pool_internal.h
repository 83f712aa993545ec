/* The pool's two halves: the scheduler (src/pool.c) on the pool's loop,
 * and the worker side (src/pool_worker.c) in each worker thread, with the
 * one codec between them.
 *
 * A task goes to a worker as the user's message, unchanged. The reply
 * is one message, whose format and first byte say what it is:
 *   bytes              the handler's bytes, as they are
 *   JSON [VALUE]       the handler's value, in an array of one
 *   JSON N (integer)   the handler's error
 * JSON, not a tag byte before the value: a process-isolated worker's
 * port carries a JSON message inline in one channel frame, where bytes
 * go as a memory file of their own (src/thread_process_bridge.h), and
 * the frame's value is encoded again on the parent's side, in the same
 * compact form the array's brackets are cut from.
 * A worker runs its tasks in the order they came and replies once to
 * each, so the scheduler matches replies to tasks by order alone. */
#ifndef MUSTER_POOL_INTERNAL_H
#define MUSTER_POOL_INTERNAL_H

#include <uv.h>

#include "muster/message.h"
#include "muster/pool.h"

typedef struct {
  muster_pool_handler_cb handler;
  void *arg;
} muster__pool_conf_t;

/* The worker thread's entry (muster_thread_entry_cb); arg is a
 * muster__pool_conf_t that outlives the thread. */
int muster__pool_worker_entry(uv_loop_t *loop, void *arg);

/* Reads a reply: *status gets 0 and `out` the result message (to end
 * with muster__message_done), or the handler's error. MUSTER_EBADMSG
 * when `in` is not a reply. */
int muster__pool_reply_decode(muster_message_t *in, muster_message_t *out,
                              int *status);

#endif
