/* What the thread module needs from ports beyond the public API. */
#ifndef MUSTER_PORT_INTERNAL_H
#define MUSTER_PORT_INTERNAL_H

#include "muster/port.h"
#include "port_queue.h"

/* Two ends of a new pair, bound to no loop yet. Errors: MUSTER_ENOMEM. */
int muster__port_pair_ends(muster__port_end_t *a, muster__port_end_t *b);
/* A port on `loop` for `end` (taken on success, left alone on failure).
 * Call on the loop's thread. Errors: MUSTER_ENOMEM, uv_async_init's. */
int muster__port_adopt(uv_loop_t *loop, muster__port_end_t *end,
                       muster_port_t **out);
/* Posts a copy of data[0..len) as a message of `format`
 * (MUSTER__PORT_MSG_JSON: text the library's encoder wrote; _BYTES; _BAD,
 * with no data: the receiver's on_messageerror gets MUSTER_EBADMSG).
 * Results as muster_port_post(). */
int muster__port_post_raw(muster_port_t *port, int format, const void *data,
                          size_t len);
/* Delivers everything queued for a started port now, as a wake-up would. */
void muster__port_deliver(muster_port_t *port);
/* A post from this thread to `port`'s other end is delivered to `port`
 * before the post returns (with what was queued before it, in order), as
 * if its loop had turned, and then after(port) runs: for a port whose
 * callback passes messages on (the bridge to a worker process, which
 * else waited for a loop that a busy entry never runs). Posts from other
 * threads still wake the loop. Call on the port's thread; the port must
 * never be transferred. */
typedef void (*muster__port_after_cb)(muster_port_t *port);
void muster__port_deliver_on_post(muster_port_t *port,
                                  muster__port_after_cb after);
/* When `h` is a port's or a broadcast channel's handle, closes that object
 * (as muster_port_close or muster_broadcast_close with no callback) and
 * returns 1; else 0. For a loop that ends with objects still open. */
int muster__port_close_handle(uv_handle_t *h);
int muster__broadcast_close_handle(uv_handle_t *h);

#endif
