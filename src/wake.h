/* A wake-up for a loop from any thread: an eventfd watched by a uv_poll_t.
 *
 * What uv_async_t does, without its cost in libuv 1.44 (the version this
 * library builds against): there uv_async_send() marks the handle "busy",
 * writes the loop's eventfd and only then marks it "done", and the woken
 * loop spins (997 pauses, then sched_yield, again) while it sees "busy".
 * In a ping-pong between two threads on two CPUs the woken side is
 * nearly always scheduled before the sender's write() returns, so every
 * hop paid that spin: tens of microseconds per round trip (libuv 1.45
 * removed the spin). Here the sender writes and is done; the woken side
 * reads the counter back to zero.
 *
 * The handle is the object's identity on its loop (ref/unref, uv_walk,
 * uv_close): put it first in the owner's struct. Callers keep the rule of
 * uv_async_t: nobody may call send() once close() was called, which ports
 * keep by clearing the queue's pointer under the queue's lock. */
#ifndef MUSTER_WAKE_H
#define MUSTER_WAKE_H

#include <uv.h>

typedef struct {
  uv_poll_t poll; /* first */
  int fd;
} muster__wake_t;

/* Creates the eventfd and starts watching it; cb runs on the loop after
 * a send (sends before a run merge into one call). Errors: negative errno
 * (EMFILE, ENFILE, ENOMEM), uv_poll_init's. */
int muster__wake_init(uv_loop_t *loop, muster__wake_t *w, uv_poll_cb cb);
/* Wakes the loop. Any thread; async-signal-safe. */
void muster__wake_send(muster__wake_t *w);
/* Called first by cb: takes the pending sends back. */
void muster__wake_clear(muster__wake_t *w);
/* Closes the handle; close_cb must then call muster__wake_closed(). */
void muster__wake_close(muster__wake_t *w, uv_close_cb close_cb);
/* Closes the eventfd (from the close callback). */
void muster__wake_closed(muster__wake_t *w);
/* The wake-up whose handle is `h` when its callback is `cb`, else NULL. */
muster__wake_t *muster__wake_of(uv_handle_t *h, uv_poll_cb cb);

#endif
