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
 *   {"p":1} + fd                  a port of the next message's transfer
 *                                 list: one end of a socketpair of its own
 *   {"m":VALUE}                   a JSON message (after its buffers)
 *   {"b":1,"byteLength":N} + fd   a bytes message, as a memory file
  {"e":1}                       a message that could not be decoded:
                                 the receiver's port reports
                                 messageerror (MUSTER_EBADMSG)
 * Closing the user's end disconnects the channel; the channel's end closes
 * the inner end, and the user's end gets on_close.
 *
 * A port in a transfer list crosses as a socketpair: the sender keeps one
 * end, opens a channel on it and bridges it to the port it took from the
 * message (that port is the new bridge's inner end, so what its other end
 * posts is forwarded, and what comes back is delivered there); the other
 * end goes over with {"p":1}, and the receiver opens a channel and a
 * bridge on it whose user's end arrives in the message, as any port
 * would. Those bridges own their channels (muster__bridge_open): they are
 * the same code, so ports cross back and again, and close travels both
 * ways as for the worker's own port.
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

/* A bridge that owns its channel: a channel is opened on `fd` and closed
 * when it ends. `inner`: a port on `loop` to forward, or NULL for a new
 * pair whose user's end is *port (not started). `fd` and `inner` are
 * taken, also on failure (closed then). The channel does not keep the
 * loop alive while the user's end is open (the port decides, as any port
 * does), and does once it closed, until the peer has heard it. Errors:
 * muster_channel_open's, MUSTER_ENOMEM. */
int muster__bridge_open(uv_loop_t *loop, int fd, muster_port_t *inner,
                        muster_port_t **port);

/* A frame arrived on the channel. */
void muster__bridge_on_message(muster__bridge_t *b, muster_message_t *m);

/* The channel ended (disconnect or close): nothing more will be read or
 * written; the user's end gets on_close. */
void muster__bridge_on_end(muster__bridge_t *b);

/* Keeps the bridge until muster__bridge_flush(), however it ends before:
 * for an owner whose last act is the flush. */
void muster__bridge_keep(muster__bridge_t *b);

/* Forwards what the user's end posted and is still queued, and writes the
 * channel out (running the loop until its queue is empty or it ended): a
 * worker process calls it before it exits, so that its last messages
 * arrive, as a thread's do. The last call on a kept bridge: it lets it go
 * (freed now if it has ended). */
void muster__bridge_flush(muster__bridge_t *b);

#endif
