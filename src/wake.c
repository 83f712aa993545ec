/* Loop wake-ups on an eventfd (src/wake.h). */
#include "wake.h"

#include <errno.h>
#include <stdint.h>
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
  /* Fails only for bad events or a closing handle: neither here. */
  (void)uv_poll_start(&w->poll, UV_READABLE, cb);
  return 0;
}

void muster__wake_send(muster__wake_t *w) {
  muster__wake_ring(w->fd);
}

void muster__wake_clear(muster__wake_t *w) {
  uint64_t count;
  ssize_t n;
  do
    n = read(w->fd, &count, sizeof count);
  while (n < 0 && errno == EINTR);
}

void muster__wake_close(muster__wake_t *w, uv_close_cb close_cb) {
  uv_close((uv_handle_t *)&w->poll, close_cb);
}

muster__wake_t *muster__wake_of(uv_handle_t *h, uv_poll_cb cb) {
  if (h->type != UV_POLL || ((uv_poll_t *)h)->poll_cb != cb)
    return NULL;
  return (muster__wake_t *)h;
}
