/* Message ports between threads (Node's MessageChannel, MessagePort and
 * BroadcastChannel).
 *
 *   muster_port_pair()          two entangled ports (new MessageChannel())
 *   muster_port_start()         set the callbacks and start delivery
 *   muster_port_post()          send a JSON value (copied), with a transfer
 * list muster_port_post_bytes()    send raw bytes (copied), with a transfer
 * list muster_port_receive()       take one queued message now
 *                               (receiveMessageOnPort)
 *   muster_port_close()         close; the other end gets on_close
 *   muster_message_take_port()  a port that came inside a message
 *   muster_broadcast_*()        BroadcastChannel: by name, across threads
 *
 * A port is bound to one libuv loop, the loop of the thread that owns it,
 * and every call on a port is made on that loop's thread. Posting puts a
 * copy of the message in the other end's queue (a mutex-protected list)
 * and, when the other end is not awake already, wakes its loop (an
 * eventfd per port: a port holds one file descriptor); the receiver then
 * takes the whole queue at once and delivers every message in it, so a
 * burst of posts costs one wake-up. After a callback posted, a port whose
 * thread can run on two CPUs may wait a few microseconds with the CPU for
 * the answer before it sleeps (docs/threads.md). No lock is held while a
 * callback runs. Messages arrive in the order they were posted on that
 * port.
 *
 * A port can travel to another thread inside a message (its transfer
 * list): it then belongs to the receiving port's loop, and messages posted
 * to it in the meantime wait for it there. To and from a worker process
 * (muster_thread_options_t.isolation) it travels as a socketpair of its
 * own, with the same rules: order kept, close reaching the other end.
 * docs/threads.md explains the design.
 *
 * Messages are the library's muster_message_t (muster/message.h): a JSON
 * message has its text and value; a bytes message its bytes. What a port
 * carries is always bytes (JSON is written as text by the library's
 * encoder), so the same calls work when the other end is another process.
 */
#ifndef MUSTER_PORT_H
#define MUSTER_PORT_H

#include <stddef.h>
#include <uv.h>
#include <jansson.h>

#include "buffer.h"
#include "common.h"
#include "message.h"
#include "shared.h"

typedef struct muster_port_s muster_port_t;
typedef struct muster_broadcast_s muster_broadcast_t;

/* Defaults of muster_port_options_t. */
#define MUSTER_PORT_HIGH_WATER_MARK ((size_t)1024 * 1024)
#define MUSTER_PORT_MAX_MESSAGE_SIZE ((size_t)128 * 1024 * 1024)

/* A message arrived; it is valid only during the call. */
typedef void (*muster_port_message_cb)(muster_port_t *port,
                                       muster_message_t *message);
/* A message arrived that cannot be received (Node's messageerror), and was
 * dropped (ports it carried are closed): MUSTER_EBADMSG, text posted with
 * muster_port_post_text() that is not one JSON value. */
typedef void (*muster_port_error_cb)(muster_port_t *port, int err);
/* on_close: the other end closed, and every message it posted before was
 * delivered. on_drain: the other end's queue fell back to this port's
 * high_water_mark after a post returned 1. */
typedef void (*muster_port_event_cb)(muster_port_t *port);
typedef void (*muster_port_close_cb)(muster_port_t *port);

/* Options for muster_port_start(); all zero means the defaults. Borrowed
 * for the call. Callbacks may be NULL. */
typedef struct {
  /* muster_port_post() returns 1 once the other end holds more than this
   * many bytes not yet delivered (Node has no such limit). 0:
   * MUSTER_PORT_HIGH_WATER_MARK (1 MiB). Advice only: the message is
   * queued either way; on_drain follows when the queue is delivered. */
  size_t high_water_mark;
  /* The longest message this port posts, in bytes of JSON text or raw
   * bytes. 0: MUSTER_PORT_MAX_MESSAGE_SIZE (128 MiB). */
  size_t max_message_size;
  muster_port_message_cb on_message;
  muster_port_error_cb on_messageerror;
  muster_port_event_cb on_close;
  muster_port_event_cb on_drain;
  void *data; /* returned by muster_port_data() */
} muster_port_options_t;

/* What a post moves instead of copying (the transfer list). Each array is
 * borrowed for the call; NULL with a count of 0 means none. The receiver
 * finds them by their index in these arrays (muster_message_take_buffer,
 * muster_message_take_port); the value says which is which if it needs
 * to (Node finds them inside the value; C has no references to follow).
 *   buffers: on success each sender's handle is left detached (length 0,
 *     data NULL; still the sender's to free) and the receiver gets a new
 *     handle on the same bytes: nothing is copied, so a transfer costs the
 *     same whatever the size. A buffer that is detached already or marked
 *     untransferable fails the whole post with MUSTER_EINVAL.
 *   ports: each becomes the receiver's; on success the sender's pointer
 *     is gone (the object is freed on a later turn of its loop) and must
 *     not be used again. A port must be on the posting port's loop and be
 *     neither the posting port nor its other end.
 *   shared: shared buffers (SharedArrayBuffer), sent by reference, not
 *     moved: the sender keeps its reference, the receiver gets one of its
 *     own (muster_message_take_shared), and both see the same bytes.
 * On any error nothing is moved: every buffer and port stays the
 * sender's, as it was. */
typedef struct {
  muster_buffer_t **buffers;
  size_t nbuffers;
  muster_port_t **ports;
  size_t nports;
  muster_shared_t **shared;
  size_t nshared;
} muster_transfer_t;

/* Creates two entangled ports bound to `loop` (new MessageChannel()).
 * Messages posted to one are queued for the other until it is started.
 * Neither keeps the loop alive before muster_port_start(). Free each with
 * muster_port_close(), or transfer it.
 * Errors (nothing to free): MUSTER_EINVAL (NULL argument), MUSTER_ENOMEM,
 * MUSTER_EMFILE / MUSTER_ENFILE (no descriptor left for a port's
 * eventfd). Call on the loop's thread. */
MUSTER_EXTERN int muster_port_pair(uv_loop_t *loop, muster_port_t **a,
                                   muster_port_t **b);

/* Sets the callbacks and limits (`options` may be NULL: defaults, no
 * callbacks) and starts delivery: messages already queued arrive on the
 * next loop turn. A started port with on_message set keeps its loop alive
 * until closed or unref'd (Node's port.on('message')). Calling again
 * replaces the options. Errors: MUSTER_EINVAL (NULL port),
 * MUSTER_ENOTCONN (closed). */
MUSTER_EXTERN int muster_port_start(muster_port_t *port,
                                    const muster_port_options_t *options);

/* Posts a copy of `value` (any JSON value, borrowed for the call, written
 * as muster_channel_send() writes it) to the other end, moving what
 * `transfer` lists (may be NULL).
 * Result: 0 queued; 1 queued, and the other end now holds more than
 * high_water_mark bytes (on_drain tells when it has caught up).
 * Errors (nothing was sent and nothing transferred): MUSTER_ENOTCONN (this
 * port or the other end is closed), MUSTER_EMSGSIZE (over
 * max_message_size), MUSTER_EINVAL (NULL port or value, a string that is
 * not UTF-8, a cycle; a transfer list naming this port, its other end, a
 * port or buffer twice, a closed port or one on another loop, a detached
 * or untransferable buffer, a NULL shared buffer), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_port_post(muster_port_t *port, const json_t *value,
                                   const muster_transfer_t *transfer);

/* As muster_port_post() with JSON text that is already written (`len`
 * bytes, copied). It is checked on the receiving side; text that is not
 * one JSON value reaches on_messageerror(MUSTER_EBADMSG) there. */
MUSTER_EXTERN int muster_port_post_text(muster_port_t *port, const char *json,
                                        size_t len,
                                        const muster_transfer_t *transfer);

/* As muster_port_post() with raw bytes (`len` bytes, copied; `bytes` may
 * be NULL when len is 0): the receiver gets a MUSTER_MESSAGE_BYTES
 * message. */
MUSTER_EXTERN int muster_port_post_bytes(muster_port_t *port, const void *bytes,
                                         size_t len,
                                         const muster_transfer_t *transfer);

/* receiveMessageOnPort(): takes the oldest queued message, if any, and
 * hands it to `cb` before returning (started or not; the message callback
 * of the port is not called for it). Returns 1 when a message was handed
 * over, 0 when none was queued, MUSTER_ENOTCONN when the port is closed,
 * MUSTER_EINVAL for a NULL argument. */
MUSTER_EXTERN int muster_port_receive(muster_port_t *port,
                                      muster_port_message_cb cb);

/* Closes the port: queued messages are dropped (ports they carried are
 * closed), the other end gets on_close after the messages this end posted
 * before, and `cb` (may be NULL) runs on a later loop turn, after which
 * the object is gone. Safe inside any callback of the port. */
MUSTER_EXTERN void muster_port_close(muster_port_t *port,
                                     muster_port_close_cb cb);

/* An unref'd port does not keep its loop alive (port.unref()). */
MUSTER_EXTERN void muster_port_ref(muster_port_t *port);
MUSTER_EXTERN void muster_port_unref(muster_port_t *port);

MUSTER_EXTERN void *muster_port_data(const muster_port_t *port);
MUSTER_EXTERN void muster_port_set_data(muster_port_t *port, void *data);
MUSTER_EXTERN uv_loop_t *muster_port_loop(const muster_port_t *port);
/* Bytes queued at the other end and not yet delivered. */
MUSTER_EXTERN size_t muster_port_queue_size(const muster_port_t *port);

/* ---- ports that arrive inside messages --------------------------------- */

/* How many buffers came with a message (0 for a channel's messages). */
MUSTER_EXTERN size_t
muster_message_buffer_count(const muster_message_t *message);

/* Takes the i-th buffer that came with `message` (transfer-list order): a
 * new handle on the bytes the sender transferred, now the caller's (free
 * it with muster_buffer_free()). NULL when i is out of range, the buffer
 * was taken already, or on ENOMEM. Buffers not taken are freed after the
 * callback. */
MUSTER_EXTERN muster_buffer_t *
muster_message_take_buffer(muster_message_t *message, size_t i);

/* How many shared buffers came with a message (0 for a channel's). */
MUSTER_EXTERN size_t
muster_message_shared_count(const muster_message_t *message);

/* Takes the i-th shared buffer that came with `message`: a reference that
 * is now the caller's (muster_shared_unref() it when done). NULL when i is
 * out of range or it was taken already. Those not taken are unref'd after
 * the callback. */
MUSTER_EXTERN muster_shared_t *
muster_message_take_shared(muster_message_t *message, size_t i);

/* How many ports came with a message (0 for a channel's messages). */
MUSTER_EXTERN size_t muster_message_port_count(const muster_message_t *message);

/* Takes the i-th port that came with `message` (in transfer-list order):
 * it is bound to the loop of the port that received the message, not yet
 * started, and the caller now owns it. NULL when i is out of range or the
 * port was taken already. Ports not taken are closed after the callback.
 */
MUSTER_EXTERN muster_port_t *muster_message_take_port(muster_message_t *message,
                                                      size_t i);

/* ---- BroadcastChannel -------------------------------------------------- */

/* Callbacks of a broadcast channel; may be NULL. */
typedef void (*muster_broadcast_message_cb)(muster_broadcast_t *channel,
                                            muster_message_t *message);
typedef void (*muster_broadcast_close_cb)(muster_broadcast_t *channel);

/* Joins the broadcast channel called `name` (copied; 1 to 255 bytes) on
 * `loop`. Every message posted on a channel of that name, in any thread
 * of this process, is delivered to every other open channel of that name,
 * in the order each poster posted. A channel with on_message keeps its
 * loop alive until closed or unref'd.
 * Errors: MUSTER_EINVAL (NULL loop/out, empty name or longer than 255),
 * MUSTER_ENOMEM, MUSTER_EMFILE / MUSTER_ENFILE (no descriptor left for the
 * channel's eventfd). Call on the loop's thread. */
MUSTER_EXTERN int muster_broadcast_open(uv_loop_t *loop, const char *name,
                                        muster_broadcast_message_cb on_message,
                                        void *data, muster_broadcast_t **out);

/* Posts a copy of `value` (or of `len` raw bytes) to every other channel
 * of this name. Returns how many channels it was queued for.
 * Errors: MUSTER_ENOTCONN (closed), MUSTER_EINVAL (NULL, not UTF-8, a
 * cycle), MUSTER_EMSGSIZE (over MUSTER_PORT_MAX_MESSAGE_SIZE),
 * MUSTER_ENOMEM (then some channels may have got it and others not). */
MUSTER_EXTERN int muster_broadcast_post(muster_broadcast_t *channel,
                                        const json_t *value);
MUSTER_EXTERN int muster_broadcast_post_bytes(muster_broadcast_t *channel,
                                              const void *bytes, size_t len);

/* Leaves the channel: queued messages are dropped, `cb` (may be NULL) runs
 * on a later loop turn, then the object is gone. */
MUSTER_EXTERN void muster_broadcast_close(muster_broadcast_t *channel,
                                          muster_broadcast_close_cb cb);
MUSTER_EXTERN void muster_broadcast_ref(muster_broadcast_t *channel);
MUSTER_EXTERN void muster_broadcast_unref(muster_broadcast_t *channel);
MUSTER_EXTERN void *muster_broadcast_data(const muster_broadcast_t *channel);

#endif
