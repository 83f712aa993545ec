/* A received message: what a channel (and a worker thread's port) hands to
 * its message callback.
 *
 *   muster_message_text()         its JSON text
 *   muster_message_json()         its value, parsed on the first call
 *   muster_message_bytes()        its raw bytes (a message posted as bytes)
 *   muster_message_handle()       the fd that came with it, if any
 *   muster_message_take_handle()  the same, and the fd becomes the caller's
 *   muster_message_handle_kind()  the Node handle type the sender named
 *
 * A message is one of two formats. A JSON message (everything a channel
 * delivers) has both a text and a value: whichever form it arrived in, the
 * other is made on the first call that asks for it. A bytes message (only
 * a port delivers these) is raw bytes, neither text nor value.
 *
 * The message object belongs to whoever delivered it: every call below is
 * valid only during the callback that got the message, on that callback's
 * thread. Nothing returned outlives the callback unless the call says how
 * to keep it.
 */
#ifndef MUSTER_MESSAGE_H
#define MUSTER_MESSAGE_H

#include <stddef.h>
#include <jansson.h>

#include "common.h"

typedef struct muster_message_s muster_message_t;

/* What kind of handle an fd is. */
typedef enum {
  MUSTER_HANDLE_NONE = 0,    /* not an open fd */
  MUSTER_HANDLE_TCP_SERVER,  /* a listening AF_INET/AF_INET6 stream socket */
  MUSTER_HANDLE_TCP,         /* any other AF_INET/AF_INET6 stream socket */
  MUSTER_HANDLE_UDP,         /* an AF_INET/AF_INET6 datagram socket */
  MUSTER_HANDLE_PIPE_SERVER, /* a listening AF_UNIX stream socket */
  MUSTER_HANDLE_PIPE,        /* any other AF_UNIX stream socket */
  MUSTER_HANDLE_FD,          /* anything else: file, pipe, tty, eventfd... */
} muster_handle_type_t;

/* Classifies an open fd with getsockopt(SO_DOMAIN, SO_TYPE, SO_ACCEPTCONN).
 * MUSTER_HANDLE_NONE when fd is not open. Any thread. */
MUSTER_EXTERN muster_handle_type_t muster_handle_type(int fd);

/* The two formats a message can have (see the top of this header). */
typedef enum {
  MUSTER_MESSAGE_JSON = 0, /* JSON text and value */
  MUSTER_MESSAGE_BYTES,    /* raw bytes */
} muster_message_format_t;

MUSTER_EXTERN muster_message_format_t
muster_message_format(const muster_message_t *message);

/* The message's JSON text, without a trailing '\n', not NUL-terminated;
 * *len (may be NULL) gets its length. It is valid JSON and valid UTF-8.
 * A channel hands out the text exactly as received: lines that are not
 * JSON were reported to on_error and never delivered; for a message that
 * came with a handle it is the inner message (the envelope's "msg"), as
 * received when the envelope is written as muster and Node write it and
 * the message is not internal, else re-encoded by jansson. A message that
 * arrived as a value (a port's) is encoded on the first call, as
 * muster_channel_send() would write it.
 * NULL (and *len 0) for a bytes message, or on ENOMEM. */
MUSTER_EXTERN const char *muster_message_text(const muster_message_t *message,
                                              size_t *len);

/* The message's value, parsed on the first call (later calls return the
 * same value). Borrowed: it is freed after the callback; json_incref it to
 * keep it. A message holding an integer beyond 64 bits
 * (JSON.stringify(2**70) writes one) comes back with all its numbers as
 * reals. NULL for a bytes message; for what jansson cannot represent
 * though it is valid JSON: a number beyond double range (1e400), "\u0000"
 * in an object key, a value nested in 2048 or more arrays and objects
 * (jansson's depth limit); or on ENOMEM. The parse is muster's own
 * (src/json_read.c), building the same values jansson's json_loadb() would,
 * several times faster. */
MUSTER_EXTERN json_t *muster_message_json(muster_message_t *message);

/* The raw bytes of a bytes message; *len (may be NULL) gets their count.
 * For a JSON message: its text, as muster_message_text(). */
MUSTER_EXTERN const void *muster_message_bytes(const muster_message_t *message,
                                               size_t *len);

/* The fd that came with the message, or -1; *type (may be NULL) gets its
 * kind. The message owns it: it is closed after the callback unless taken
 * with muster_message_take_handle(). It arrives as the sender had it (Node
 * sockets are O_NONBLOCK; that flag is shared with the sender's copy), and
 * close-on-exec. */
MUSTER_EXTERN int muster_message_handle(const muster_message_t *message,
                                        muster_handle_type_t *type);

/* As muster_message_handle(), and ownership of the fd moves to the caller
 * (a second call returns -1). */
MUSTER_EXTERN int muster_message_take_handle(muster_message_t *message,
                                             muster_handle_type_t *type);

/* The Node handle type the sender named ("net.Server", "net.Socket",
 * "dgram.Socket", "net.Native", "dgram.Native", "muster.Fd"), or NULL when
 * no handle came. */
MUSTER_EXTERN const char *
muster_message_handle_kind(const muster_message_t *message);

#endif
