/* A message port whose other end is in another process: the port side of
 * process isolation (src/thread_process.h).
 *
 * The user gets an ordinary muster_port_t. Behind it is a local pair: the
 * user's end, and an inner end the bridge starts; what the user posts
 * reaches the inner end and the bridge writes it to the channel; what
 * comes from the channel the bridge posts to the inner end, so the user's
 * end delivers it as any port would (same order, same callbacks, same
 * receive/close calls). Frames on the channel, each one JSON object:
 *   {"x":1,"byteLength":N} + fd   a buffer of the next message's transfer
 *                                 list, as its memory file
 *   {"s":1} + fd                  a shared buffer of the next message's
 *                                 transfer list, its memory file
 *   {"m":VALUE}                   a JSON message (after its buffers)
 *   {"b":1,"byteLength":N} + fd   a bytes message, as a memory file
 * Closing the user's end disconnects the channel; the channel's end closes
 * the inner end, and the user's end gets on_close. Ports in a transfer
 * list do not cross yet (they are closed, as ports nobody took).
 *
 * Loop thread only.
 */
#ifndef MUSTER_THREAD_PROCESS_BRIDGE_H
#define MUSTER_THREAD_PROCESS_BRIDGE_H

#include "muster/channel.h"
#include "muster/port.h"

typedef struct muster__bridge_s muster__bridge_t;

/* A bridge over `ch` (borrowed: its owner keeps closing it, and must call
 * muster__bridge_on_message / _on_end from the channel's callbacks) with
 * *port the user's end, not started. Errors: MUSTER_ENOMEM, port errors.
 * The bridge frees itself once the channel ended and the inner end
 * closed. */
int muster__bridge_create(uv_loop_t *loop, muster_channel_t *ch,
                          muster_port_t **port, muster__bridge_t **out);

/* A frame arrived on the channel. */
void muster__bridge_on_message(muster__bridge_t *b, muster_message_t *m);

/* The channel ended (disconnect or close): nothing more will be read or
 * written; the user's end gets on_close. */
void muster__bridge_on_end(muster__bridge_t *b);

#endif

/* Forwards what the user's end posted and is still queued, and writes the
 * channel out (running the loop until its queue is empty or it ended): a
 * worker process calls it before it exits, so that its last messages
 * arrive, as a thread's do. */
void muster__bridge_flush(muster__bridge_t *b);
