/* What muster_fork() and the bridge to a worker process
 * (src/thread_process_bridge.c) need from the channel beyond the public
 * API. */
#ifndef MUSTER_CHANNEL_PRIVATE_H
#define MUSTER_CHANNEL_PRIVATE_H

#include "muster/channel.h"

/* Calls fn(arg) exactly once, when the channel's fd is closed: when the
 * channel ends (before on_disconnect) or, without an end, when it is
 * closed with muster_channel_close(). Replaces an earlier hook. */
void muster__channel_set_end_hook(muster_channel_t *channel,
                                  void (*fn)(void *arg), void *arg);

/* Writes what is queued now (as much as the socket takes), instead of
 * after the loop's current phase: for a send made outside the loop's
 * callbacks (a worker process's busy entry), which else waits for the
 * loop to turn. Loop thread; may end the channel (on_disconnect runs). */
void muster__channel_flush(muster_channel_t *channel);

#endif
