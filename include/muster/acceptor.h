/* Acceptors: the accept loop of a listening stream socket.
 *
 * An acceptor watches a listening socket (one muster_listen() made, or any
 * listening TCP or Unix stream socket) on a loop and hands each new
 * connection to on_connection. It is the one accept loop of the library:
 * the cluster's round-robin primary, a worker's shared or local server
 * (muster_cluster_listen) and a daemon's control socket all accept
 * through it.
 *
 * - Batching: each wake-up accepts up to `batch` connections (default 64)
 *   before the loop polls again, so a burst costs one epoll_wait, not one
 *   per connection.
 * - Out of descriptors: accept() failing with EMFILE leaves the connection
 *   pending, and a level-triggered poll would wake at once, forever. Each
 *   acceptor keeps a spare descriptor (of "/"); on EMFILE it closes the
 *   spare, accepts and closes the pending connections (their clients see
 *   the connection closed, as with libuv and Node), and opens the spare
 *   again. When that is not possible either (ENFILE: the whole system is
 *   out; the spare could not be reopened; ENOBUFS, ENOMEM) it stops
 *   accepting for 100 ms. Either way on_error hears of it.
 *
 * All calls: the loop's thread only.
 */
#ifndef MUSTER_ACCEPTOR_H
#define MUSTER_ACCEPTOR_H

#include <uv.h>

#include "common.h"

typedef struct muster_acceptor_s muster_acceptor_t;

/* A new connection: `fd` (O_NONBLOCK, O_CLOEXEC) belongs to the callee.
 * The callee may pause or close the acceptor here; no further connection
 * of the batch is then accepted. */
typedef void (*muster_accept_cb)(muster_acceptor_t *acceptor, int fd);
/* accept() failed for a reason other than a vanished client:
 * MUSTER_EMFILE (pending connections were closed, see above),
 * MUSTER_ENFILE, MUSTER_ENOBUFS, MUSTER_ENOMEM (accepting pauses for
 * 100 ms), or a poll error. Once per episode, not per connection. */
typedef void (*muster_accept_error_cb)(muster_acceptor_t *acceptor, int err);
/* The acceptor is gone; it was freed just after this returns. */
typedef void (*muster_acceptor_close_cb)(muster_acceptor_t *acceptor);

/* Options for muster_acceptor_open(); all zero means the defaults. */
typedef struct {
  muster_accept_cb on_connection;  /* required */
  muster_accept_error_cb on_error; /* may be NULL */
  unsigned batch;                  /* accepts per wake-up; 0: 64 */
  void *data;                      /* muster_acceptor_data() */
} muster_acceptor_options_t;

/* Starts accepting on `fd`, a listening stream socket. The fd stays the
 * caller's: keep it open until muster_acceptor_close() has returned, then
 * close it. It is made O_NONBLOCK. `options` is borrowed for the call.
 * Errors (nothing to free): MUSTER_EINVAL (NULL loop, options, out or
 * on_connection; fd < 0), MUSTER_ENOMEM, uv_poll_init()'s errors
 * (MUSTER_EBADF, MUSTER_ENOTSOCK...). */
MUSTER_EXTERN int muster_acceptor_open(uv_loop_t *loop, int fd,
                                       const muster_acceptor_options_t *options,
                                       muster_acceptor_t **out);

/* Stops accepting until muster_acceptor_resume(): new connections wait in
 * the kernel's backlog (listen()'s backlog argument bounds them). Both are
 * idempotent; resume cancels an out-of-descriptors pause too. */
MUSTER_EXTERN void muster_acceptor_pause(muster_acceptor_t *acceptor);
MUSTER_EXTERN void muster_acceptor_resume(muster_acceptor_t *acceptor);

/* Stops accepting at once (the caller may close the fd as soon as this
 * returns) and frees the acceptor on a later loop turn, after calling cb
 * (may be NULL). Safe inside on_connection and on_error. A NULL acceptor
 * or a second call is ignored. */
MUSTER_EXTERN void muster_acceptor_close(muster_acceptor_t *acceptor,
                                         muster_acceptor_close_cb cb);

/* The listening socket it watches. */
MUSTER_EXTERN int muster_acceptor_fd(const muster_acceptor_t *acceptor);
/* Connections accepted and handed to on_connection so far. */
MUSTER_EXTERN unsigned long long
muster_acceptor_count(const muster_acceptor_t *acceptor);
MUSTER_EXTERN void *muster_acceptor_data(const muster_acceptor_t *acceptor);
MUSTER_EXTERN void muster_acceptor_set_data(muster_acceptor_t *acceptor,
                                            void *data);

#endif
