/* A wake-up for a loop from any thread: an eventfd (the doorbell) and a
 * uv_poll_t watching it on the loop.
 *
 * What uv_async_t does, without its cost in libuv 1.44 (the version this
 * library builds against): there uv_async_send() marks the handle "busy",
 * writes the loop's eventfd and only then marks it "done", and the woken
 * loop spins (997 pauses, then sched_yield, again) while it sees "busy".
 * In a ping-pong between two threads on two CPUs the woken side is
 * nearly always scheduled before the sender's write() returns, so every
 * hop paid that spin: tens of microseconds per round trip (libuv 1.45
 * removed the spin). Here the sender writes and is done; the woken side
 * reads the counter back to zero the first time, and from then on finds
 * the doorbell edge-triggered and reads nothing (wake.c).
 *
 * The doorbell and the handle live apart: the doorbell belongs to what
 * is rung (a port's queue, which every poster holds a reference to), so a
 * poster may ring it after dropping its locks; the handle belongs to the
 * object on the loop and is its identity there (ref/unref, uv_walk,
 * uv_close): put it first in the owner's struct. */
#ifndef MUSTER_WAKE_H
#define MUSTER_WAKE_H

#include <uv.h>

/* A new doorbell (close it with close(2)), or a negative errno (EMFILE,
 * ENFILE, ENOMEM). */
int muster__wake_fd_new(void);
/* Rings a doorbell. Any thread; async-signal-safe. */
void muster__wake_ring(int fd);

typedef struct {
  uv_poll_t poll; /* first */
  int fd;         /* the doorbell watched (borrowed) */
  int edge;       /* the loop's epoll reports each ring once: no read */
} muster__wake_t;

/* Watches the doorbell `fd` (borrowed: it must stay open until the handle
 * is closed); cb runs on the loop after a ring (rings before a run merge
 * into one call). Errors: uv_poll_init's (nothing to close then). */
int muster__wake_init(uv_loop_t *loop, muster__wake_t *w, int fd,
                      uv_poll_cb cb);
/* Rings the doorbell this handle watches. */
void muster__wake_send(muster__wake_t *w);
/* Called first by cb: takes the rings back. The first call also turns
 * the doorbell edge-triggered in the loop's epoll set when it can (wake.c
 * says how), and later calls then cost nothing. */
void muster__wake_clear(muster__wake_t *w);
/* Closes the handle (the doorbell stays open). */
void muster__wake_close(muster__wake_t *w, uv_close_cb close_cb);
/* The wake-up whose handle is `h` when its callback is `cb`, else NULL. */
muster__wake_t *muster__wake_of(uv_handle_t *h, uv_poll_cb cb);

#endif
