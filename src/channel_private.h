/* What muster_fork() needs from the channel beyond the public API. */
#ifndef MUSTER_CHANNEL_PRIVATE_H
#define MUSTER_CHANNEL_PRIVATE_H

#include "muster/channel.h"

/* Calls fn(arg) exactly once, when the channel's fd is closed: when the
 * channel ends (before on_disconnect) or, without an end, when it is
 * closed with muster_channel_close(). Replaces an earlier hook. */
void muster__channel_set_end_hook(muster_channel_t *channel,
                                  void (*fn)(void *arg), void *arg);

#endif
