/* Loop wake-ups on an eventfd (src/wake.h). */
#include "wake.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int muster__wake_fd_new(void) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd < 0 ? -errno : fd;
}

void muster__wake_ring(int fd) {
  uint64_t one = 1;
  ssize_t n;
  /* EAGAIN: the counter is full of earlier rings, which wake it anyway. */
  do
    n = write(fd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
}

int muster__wake_init(uv_loop_t *loop, muster__wake_t *w, int fd,
                      uv_poll_cb cb) {
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0)
    return r;
  w->fd = fd;
  w->edge = 0;
  /* Fails only for bad events or a closing handle: neither here. */
  (void)uv_poll_start(&w->poll, UV_READABLE, cb);
  return 0;
}

void muster__wake_send(muster__wake_t *w) {
  muster__wake_ring(w->fd);
}

/* A hop between two threads is a ring (write), the woken loop's
 * epoll_wait and, level-triggered, a read to take the ring back: the
 * read was a third of the system calls of a round trip, where a futex
 * ping-pong makes two per hop. Edge-triggered, epoll reports each ring
 * once (an eventfd write wakes its waiters whatever the counter holds),
 * so the counter is never read again: it grows by one per ring and
 * would saturate after 2^64 - 2 of them.
 *
 * libuv 1.44 cannot ask for EPOLLET, so this sets it on the loop's own
 * epoll set (uv_backend_fd), with the event data libuv's Linux backend
 * gives every descriptor (data.fd). libuv adds the descriptor in the loop
 * turn after uv_poll_start and calls epoll_ctl for it again only when the
 * handle stops (EPOLL_CTL_DEL); so the change is made here, in the
 * callback of the first ring, when the descriptor is surely in the set.
 * A ring between the read above and the change is not lost: EPOLL_CTL_MOD
 * queues the event when the descriptor is readable. When the change fails
 * (another backend), the doorbell stays level-triggered and is read at
 * every wake-up as before. A handle that watches the same doorbell later
 * (a port moved to another loop) starts level-triggered, gets one wake-up
 * for the count left in it, reads it and turns edge-triggered in turn. */
static int set_edge(muster__wake_t *w) {
#if defined(__linux__) && UV_VERSION_MAJOR == 1
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  e.events = EPOLLIN | EPOLLET;
  e.data.fd = w->fd;
  return epoll_ctl(uv_backend_fd(w->poll.loop), EPOLL_CTL_MOD, w->fd, &e) == 0;
#else
  (void)w;
  return 0;
#endif
}

void muster__wake_clear(muster__wake_t *w) {
  uint64_t count;
  ssize_t n;
  if (w->edge)
    return;
  do
    n = read(w->fd, &count, sizeof count);
  while (n < 0 && errno == EINTR);
  w->edge = set_edge(w);
}

void muster__wake_close(muster__wake_t *w, uv_close_cb close_cb) {
  uv_close((uv_handle_t *)&w->poll, close_cb);
}

muster__wake_t *muster__wake_of(uv_handle_t *h, uv_poll_cb cb) {
  if (h->type != UV_POLL || ((uv_poll_t *)h)->poll_cb != cb)
    return NULL;
  return (muster__wake_t *)h;
}
