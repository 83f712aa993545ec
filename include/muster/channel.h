/* IPC channel: messages and handles between two processes, in Node.js's own
 * wire format, so either end may be a Node process.
 *
 *   muster_channel_open()         wrap one end of an AF_UNIX stream socketpair
 *   muster_channel_from_parent()  the channel a parent gave this process
 *                                 (NODE_CHANNEL_FD: Node's fork(), or muster's)
 *   muster_channel_send()         send a JSON value, optionally with a handle
 *   muster_channel_send_text()    send JSON text as it is (the fast path)
 *   muster_channel_disconnect()   flush, then end the channel
 *   muster_channel_close()        free the channel object
 *
 * Wire format (Node's "json" serialization): each message is one JSON text
 * followed by '\n'. A handle (a file descriptor) travels in SCM_RIGHTS on
 * the sendmsg that carries the first byte of a message
 *   {"cmd":"NODE_HANDLE","type":T,"msg":<the user's message>}
 * and the receiver answers {"cmd":"NODE_HANDLE_ACK"} (or _NACK when no fd
 * came). Until that answer arrives, later messages are held back, so order
 * is kept (Node's rule). Our ACK also carries "window":64,"batch":1, which
 * Node ignores; a muster sender that sees it keeps up to 64 handles in
 * flight, writes runs of them in one sendmsg with all their fds, and lets
 * later messages follow them (order is still kept), so between two muster ends
 * handles neither wait for a round trip each nor cost a system call each.
 * docs/channel.md explains every choice.
 *
 * Events come through the callbacks in muster_channel_options_t, always from
 * the loop (never from inside the call that caused them). All functions are
 * called on the loop's thread. Options are borrowed for the call.
 */
#ifndef MUSTER_CHANNEL_H
#define MUSTER_CHANNEL_H

#include <stddef.h>
#include <uv.h>
#include <jansson.h>

#include "common.h"
#include "message.h"

typedef struct muster_channel_s muster_channel_t;

/* The callbacks of muster_channel_options_t (each is described there), of
 * a send, and of muster_channel_close(). A received message is valid only
 * during the callback that got it (muster/message.h). */
typedef void (*muster_channel_message_cb)(muster_channel_t *channel,
                                          muster_message_t *message);
typedef void (*muster_channel_error_cb)(muster_channel_t *channel, int err);
typedef void (*muster_channel_disconnect_cb)(muster_channel_t *channel,
                                             int reason);
typedef void (*muster_channel_drain_cb)(muster_channel_t *channel);
typedef void (*muster_channel_close_cb)(muster_channel_t *channel);

/* Defaults of muster_channel_options_t. */
#define MUSTER_CHANNEL_MAX_MESSAGE_SIZE ((size_t)128 * 1024 * 1024)
#define MUSTER_CHANNEL_HIGH_WATER_MARK ((size_t)128 * 1024)

/* Options for muster_channel_open() and muster_channel_from_parent(); all
 * zero means the defaults. Callbacks may be NULL. */
typedef struct {
  /* The longest message, in bytes of JSON text (without the '\n'), that
   * may be sent or received. 0: MUSTER_CHANNEL_MAX_MESSAGE_SIZE (128 MiB).
   * Sending more fails with MUSTER_EMSGSIZE and changes nothing. Receiving
   * more ends the channel: on_disconnect(MUSTER_EMSGSIZE). The channel's
   * receive buffer never holds much more than this. */
  size_t max_message_size;
  /* muster_channel_send() returns 1 once more than this many bytes wait to
   * be written; on_drain fires when the queue falls back to it. 0:
   * MUSTER_CHANNEL_HIGH_WATER_MARK (128 KiB, Node's). Advice only: the
   * message is queued either way. Also the most bytes of replies the
   * channel itself owes the peer (ACKs, socket-list answers; at least 16
   * KiB) before it stops reading until the peer reads them: a peer that
   * writes and never reads cannot grow our memory. */
  size_t high_water_mark;
  /* A user message arrived (with a handle, if one came with it). */
  muster_channel_message_cb on_message;
  /* An internal message arrived: a top-level object whose "cmd" is a
   * string longer than 5 starting with "NODE_", other than the handle
   * protocol's own (NODE_HANDLE, NODE_HANDLE_ACK, NODE_HANDLE_NACK, which
   * the channel handles). A NODE_HANDLE whose inner message is internal
   * (e.g. Node cluster's NODE_CLUSTER "newconn") arrives here with its
   * handle. NULL: internal messages are dropped. Node's socket-list
   * queries never come here: the channel answers NODE_SOCKET_GET_COUNT with
   * a count of 0 and NODE_SOCKET_NOTIFY_CLOSE with NODE_SOCKET_ALL_CLOSED
   * (a received fd is the user's, untracked), so that a Node parent's
   * server.getConnections() and server.close() complete. */
  muster_channel_message_cb on_internal;
  /* Something bad arrived and was dropped; the channel stays open.
   *   MUSTER_EBADMSG  a line that is not JSON, not UTF-8, or empty
   *   MUSTER_EPROTO   a handle-protocol fault: NODE_HANDLE with no fd (a
   *                   NACK was sent), a malformed NODE_HANDLE envelope (its
   *                   fd was closed, an ACK sent), an ACK or NACK nobody
   *                   waited for, an fd no message claimed (closed), fds
   *                   the kernel truncated (MSG_CTRUNC), a handle we sent
   *                   that the peer NACKed 4 times, or once after later
   *                   frames had gone behind it (dropped, its fd closed)
   *   MUSTER_ENOMEM   no memory to parse an internal message */
  muster_channel_error_cb on_error;
  /* The channel ended, once: 0 when either side disconnected in order (or
   * the peer exited); otherwise the fatal error: MUSTER_EMSGSIZE (a frame
   * over max_message_size), MUSTER_EBADMSG (end of file in the middle of a
   * frame), MUSTER_ECONNRESET or another read/write error, MUSTER_ENOMEM.
   * The fd is closed by then; the object lives until muster_channel_close().
   * Not called when the channel is closed with muster_channel_close(). */
  muster_channel_disconnect_cb on_disconnect;
  /* The write queue fell to high_water_mark after a send returned 1
   * (never for the channel's own replies). */
  muster_channel_drain_cb on_drain;
  void *data; /* returned by muster_channel_data() */
} muster_channel_options_t;

/* Options for one send; NULL means all zero. */
typedef struct {
  /* The caller keeps handle_fd (Node's keepOpen). Without it the channel
   * owns handle_fd from the moment send succeeds and closes it once the
   * peer acknowledged it (Node closes a sent socket). With it the channel
   * sends a duplicate, so the caller may close its fd any time after the
   * send returns. */
  int keep_open;
  /* Present the handle to a Node peer as a raw native handle ("net.Native"
   * or "dgram.Native", as Node's cluster module sends them) rather than as
   * a net.Server / net.Socket / dgram.Socket. */
  int native;
} muster_send_options_t;

/* A send finished: 0 when the message (and its handle) was handed to the
 * kernel; MUSTER_ECANCELED when the channel was closed first; MUSTER_EPIPE
 * (or another write error) when the channel ended first. */
typedef void (*muster_send_cb)(muster_channel_t *channel, int status,
                               void *arg);

/* Wraps `fd`, one end of an AF_UNIX SOCK_STREAM socket (a socketpair),
 * into a channel bound to `loop`, and starts reading. The fd is made
 * non-blocking and close-on-exec. On success the channel owns fd (it is
 * closed when the channel ends) and *out must eventually be freed with
 * muster_channel_close(); on failure the caller still owns fd.
 * Errors: MUSTER_EINVAL (NULL loop/out, negative fd), MUSTER_EBADF (fd not
 * open), MUSTER_ENOTSOCK (not an AF_UNIX stream socket), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_channel_open(uv_loop_t *loop, int fd,
                                      const muster_channel_options_t *options,
                                      muster_channel_t **out);

/* Opens the channel this process's parent gave it: the fd named by
 * NODE_CHANNEL_FD, as set by muster_fork(), Node's child_process.fork(),
 * or a Node spawn with 'ipc' in stdio. Like Node it removes
 * NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE from the environment
 * (so grandchildren do not inherit them; unsetenv is not thread-safe, so
 * call this before starting threads), and a second call gives
 * MUSTER_ENOTCONN.
 * Errors: MUSTER_ENOTCONN (no NODE_CHANNEL_FD: no parent channel),
 * MUSTER_ENOTSUP (NODE_CHANNEL_SERIALIZATION_MODE is "advanced", or another
 * mode than "json": nothing is read from the fd, which is left open),
 * MUSTER_EBADF (NODE_CHANNEL_FD is not a number, or not an open fd),
 * MUSTER_ENOTSOCK (the fd is not an AF_UNIX stream socket), and
 * muster_channel_open()'s errors. */
MUSTER_EXTERN int
muster_channel_from_parent(uv_loop_t *loop,
                           const muster_channel_options_t *options,
                           muster_channel_t **out);

/* Sends `message` (any JSON value; serialized compactly with jansson,
 * borrowed for the call) and, when handle_fd >= 0, that fd with it.
 * The message is queued and written on this loop turn's end, together with
 * any other messages sent in the meantime (few syscalls for many sends).
 * `cb` (may be NULL) is called once the bytes and the fd were handed to
 * the kernel; a handle is then still awaiting the peer's ACK, and messages
 * sent after it stay queued until that ACK comes (Node's rule) — unless
 * the peer is muster: its ACKs open a window of up to 64 handles in
 * flight, and later messages go behind them, in order. A handle the peer
 * NACKs is resent, up to 3 times, when nothing was sent after it; else (a
 * window) it is dropped with on_error(MUSTER_EPROTO), never reordered, and
 * the window closes for good.
 * Result: 0 queued; 1 queued, but more than high_water_mark bytes are now
 * waiting (wait for on_drain before sending more).
 * Errors (nothing was queued, cb is never called, the caller still owns
 * handle_fd): MUSTER_ENOTCONN (disconnected), MUSTER_EMSGSIZE (longer than
 * max_message_size; the channel stays usable), MUSTER_EINVAL (NULL
 * message, or a message whose cmd is NODE_HANDLE, NODE_HANDLE_ACK or
 * NODE_HANDLE_NACK: those belong to the channel; a value holding a cycle,
 * or a string or key that is not valid UTF-8), MUSTER_EBADF (handle_fd is
 * not open), MUSTER_ENOMEM.
 *
 * Which handles a Node peer can receive: TCP and UDP sockets (listening,
 * connected, bound) and AF_UNIX stream sockets. A MUSTER_HANDLE_FD fd
 * (file, pipe, tty, AF_UNIX datagram socket...) goes out with type
 * "muster.Fd", which only a muster peer understands: Node aborts the whole
 * process on a file or tty fd, and an unknown socket type poisons its
 * channel. Never send one to a Node peer. */
MUSTER_EXTERN int muster_channel_send(muster_channel_t *channel,
                                      const json_t *message, int handle_fd,
                                      const muster_send_options_t *options,
                                      muster_send_cb cb, void *arg);

/* As muster_channel_send(), with a message that is already JSON text
 * (`len` bytes, borrowed for the call, copied). The text is trusted: it is
 * not checked to be JSON, only to hold no '\n' (a raw newline would split
 * the frame; JSON escapes it). Sending text that is not one JSON value
 * crashes a Node peer. Errors: as muster_channel_send(); MUSTER_EINVAL for
 * NULL or empty text or a '\n' in it. */
MUSTER_EXTERN int muster_channel_send_text(muster_channel_t *channel,
                                           const char *json, size_t len,
                                           int handle_fd,
                                           const muster_send_options_t *options,
                                           muster_send_cb cb, void *arg);

/* Bytes queued and not yet handed to the kernel (including messages held
 * back behind a handle awaiting its ACK, and the replies the channel owes
 * the peer: ACKs, NACKs, socket-list answers). */
MUSTER_EXTERN size_t muster_channel_queue_size(const muster_channel_t *channel);

/* Ends the channel in order: stops delivering messages, writes everything
 * already queued (after the ACK of a handle in flight, if any), then closes
 * the fd, so the peer reads end of file. on_disconnect(0) follows, from the
 * loop. Errors: MUSTER_ENOTCONN (already disconnected or ended). */
MUSTER_EXTERN int muster_channel_disconnect(muster_channel_t *channel);

/* Frees the channel: closes the fd at once if it is still open (queued
 * messages are dropped, their callbacks get MUSTER_ECANCELED; received fds
 * nobody took and sent handles the channel owns are closed), then calls
 * `cb` (may be NULL) on a later loop turn, after which the object is gone.
 * on_disconnect is not called. Safe inside any channel callback. */
MUSTER_EXTERN void muster_channel_close(muster_channel_t *channel,
                                        muster_channel_close_cb cb);

/* 1 while messages can be sent and received (Node's connected): from open
 * until disconnect() is called or the channel ends. */
MUSTER_EXTERN int muster_channel_connected(const muster_channel_t *channel);

/* An unreferenced channel does not keep the loop alive (Node's
 * channel.unref()); a channel starts referenced. Queued output is still
 * written while the loop runs. */
MUSTER_EXTERN void muster_channel_ref(muster_channel_t *channel);
MUSTER_EXTERN void muster_channel_unref(muster_channel_t *channel);

MUSTER_EXTERN void *muster_channel_data(const muster_channel_t *channel);
MUSTER_EXTERN void muster_channel_set_data(muster_channel_t *channel,
                                           void *data);
MUSTER_EXTERN uv_loop_t *muster_channel_loop(const muster_channel_t *channel);
/* The socket's fd (Node's channel.fd), or -1 once the channel ended. The
 * channel owns it: do not read, write or close it. */
MUSTER_EXTERN int muster_channel_fd(const muster_channel_t *channel);

#endif
