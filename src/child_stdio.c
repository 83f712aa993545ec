/* The parent's end of a stdio slot: an AF_UNIX stream socket we made, polled
 * with uv_poll_t, read with recv() and written with send(MSG_NOSIGNAL). It
 * reports to its owner (child.c) through child_pipe_cbs_t and never names
 * the child (child_stdio.h).
 *
 * Why not uv_pipe_t: libuv writes a pipe with write(), which raises SIGPIPE
 * when the child has closed its end, and an application that did not
 * ignore SIGPIPE dies. MSG_NOSIGNAL turns that into EPIPE for this one call
 * without touching the process-wide signal disposition.
 *
 * Writes are queued (the bytes copied) and handed to the kernel as the
 * socket accepts them; a finished write goes to the owner's write_done,
 * which defers the user's callback to a later loop turn.
 */
#include "child_stdio.h"

#include "muster/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads per poll event before yielding to the rest of the loop: at most
 * 1 MiB with CHILD_RBUF_SIZE, as 16 reads of 64 KiB were before. */
#define CHILD_READS_PER_EVENT 4

static void poll_cb(uv_poll_t *h, int status, int events);

static void poll_closed_cb(uv_handle_t *h) {
  child_pipe_t *p = h->data;
  p->cbs->closed(p);
}

int muster__child_stdio_open(child_pipe_t *p, uv_loop_t *loop, int fd,
                             int readable, const child_pipe_cbs_t *cbs,
                             void *owner, char *rbuf, size_t rbuf_size) {
  int r = uv_poll_init(loop, &p->poll, fd); /* also sets O_NONBLOCK */
  if (r < 0)
    return r;
  p->poll.data = p;
  p->cbs = cbs;
  p->owner = owner;
  p->rbuf = rbuf;
  p->rbuf_size = rbuf_size;
  p->fd = fd;
  p->is_pipe = 1;
  p->poll_open = 1;
  p->readable = readable != 0;
  p->read_done = !p->readable;
  return 0;
}

static void update_events(child_pipe_t *p) {
  int ev = 0;
  if (p->fd < 0)
    return;
  if (p->readable && !p->read_done && !p->paused)
    ev |= UV_READABLE;
  if (p->wq_head != NULL)
    ev |= UV_WRITABLE;
  if (ev == p->events)
    return;
  p->events = ev;
  if (ev != 0)
    uv_poll_start(&p->poll, ev, poll_cb);
  else
    uv_poll_stop(&p->poll);
}

void muster__child_stdio_start(child_pipe_t *p) {
  update_events(p);
}

static void write_done(child_pipe_t *p, child_write_t *w, int status) {
  w->status = status;
  w->next = NULL;
  p->cbs->write_done(p, w);
}

static void fail_queue(child_pipe_t *p, int status) {
  while (p->wq_head != NULL) {
    child_write_t *w = p->wq_head;
    p->wq_head = w->next;
    write_done(p, w, status);
  }
  p->wq_tail = NULL;
  p->wq_size = 0;
}

void muster__child_stdio_close(child_pipe_t *p, int write_status) {
  if (p->fd < 0)
    return;
  fail_queue(p, write_status);
  p->read_done = 1;
  p->write_closed = 1;
  p->events = 0;
  /* uv_close() stops the watcher and drops the fd from epoll before it
   * returns; closing the fd first would let a new fd with the same number,
   * opened by anyone in between, lose its epoll registration. */
  p->poll_open = 0;
  p->cbs->closing(p);
  uv_close((uv_handle_t *)&p->poll, poll_closed_cb);
  close(p->fd);
  p->fd = -1;
}

/* The writing side is finished: the reading side may still be open. */
static void write_side_done(child_pipe_t *p, int status) {
  p->write_closed = 1;
  fail_queue(p, status);
  if (p->read_done)
    muster__child_stdio_close(p, status);
  else
    update_events(p);
}

static void flush(child_pipe_t *p) {
  child_write_t *w;
  while ((w = p->wq_head) != NULL) {
    ssize_t n = 0;
    if (w->len > w->off)
      n = send(p->fd, (char *)(w + 1) + w->off, w->len - w->off,
               MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      /* The child closed its end. ECONNRESET says the same thing. */
      write_side_done(p, errno == ECONNRESET ? MUSTER_EPIPE : -errno);
      return;
    }
    w->off += (size_t)n;
    p->wq_size -= (size_t)n;
    if (w->off < w->len)
      continue;
    p->wq_head = w->next;
    if (p->wq_head == NULL)
      p->wq_tail = NULL;
    write_done(p, w, 0);
  }
  if (p->wq_head == NULL && p->ending && !p->write_closed) {
    shutdown(p->fd, SHUT_WR);
    write_side_done(p, MUSTER_EPIPE);
    return;
  }
  update_events(p);
}

static void read_eof(child_pipe_t *p) {
  p->read_done = 1;
  p->cbs->data(p, NULL, 0);
  /* Like a Node socket without allowHalfOpen, the pipe ends with its
   * reading side: queued writes are flushed first. */
  if (p->fd >= 0) {
    if (p->write_closed || p->wq_head == NULL)
      muster__child_stdio_close(p, MUSTER_EPIPE);
    else {
      p->ending = 1;
      update_events(p);
    }
  }
  p->cbs->ended(p);
}

void muster__child_stdio_read(child_pipe_t *p) {
  if (p->fd < 0 || !p->readable || p->read_done || p->paused)
    return;
  for (int i = 0; i < CHILD_READS_PER_EVENT; i++) {
    char *buf = p->rbuf;
    size_t size = p->rbuf_size;
    p->cbs->alloc(p, &buf, &size);
    if (p->fd < 0 || p->read_done || p->paused)
      return; /* the owner's callbacks (on_spawn first) closed or paused */
    ssize_t n = recv(p->fd, buf, size, MSG_DONTWAIT);
    if (n > 0) {
      p->cbs->data(p, buf, (size_t)n);
      if (p->fd < 0 || p->read_done || p->paused)
        return;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    /* 0 is end of file. ECONNRESET: the child exited with bytes we sent
     * still unread; for its output that is the end too. */
    read_eof(p);
    return;
  }
}

/* libuv reports POLLERR as UV_EBADF and stops the watcher. For our socket
 * it means the child closed its end while bytes we sent were unread (the
 * kernel set ECONNRESET on our side): the writing side is finished, but
 * output the child wrote before closing may still wait to be read, and
 * comes before the end of file. */
static void poll_error(child_pipe_t *p, int status) {
  int err = 0;
  socklen_t len = sizeof err;
  p->events = 0; /* libuv stopped the watcher */
  if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
    status = err == ECONNRESET || err == EPIPE ? MUSTER_EPIPE : -err;
  else if (status == UV_EBADF)
    status = MUSTER_EPIPE;
  write_side_done(p, status);
  if (p->fd < 0 || p->read_done || p->paused)
    return;
  muster__child_stdio_read(p);
  if (p->fd >= 0 && !p->read_done)
    update_events(p);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  child_pipe_t *p = h->data;
  if (status < 0) {
    poll_error(p, status);
    return;
  }
  if ((events & UV_WRITABLE) && p->wq_head != NULL) {
    flush(p);
    if (p->fd < 0)
      return;
  }
  if (events & UV_READABLE)
    muster__child_stdio_read(p);
}

int muster__child_stdio_write(child_pipe_t *p, const void *buf, size_t len,
                              child_write_fn cb, void *arg) {
  if (p->fd < 0 || p->ending || p->write_closed)
    return MUSTER_EPIPE;
  child_write_t *w = malloc(sizeof *w + len);
  if (w == NULL)
    return MUSTER_ENOMEM;
  w->next = NULL;
  w->cb = cb;
  w->arg = arg;
  w->len = len;
  w->off = 0;
  w->status = 0;
  if (len > 0)
    memcpy(w + 1, buf, len);
  if (p->wq_tail != NULL) {
    p->wq_tail->next = w;
    p->wq_tail = w;
    p->wq_size += len;
    return 0; /* the poll is already waiting for room */
  }
  p->wq_head = p->wq_tail = w;
  p->wq_size += len;
  flush(p); /* most writes fit at once */
  return 0;
}

void muster__child_stdio_end(child_pipe_t *p) {
  if (p->fd < 0 || p->ending || p->write_closed)
    return;
  p->ending = 1;
  if (p->wq_head == NULL) {
    shutdown(p->fd, SHUT_WR);
    write_side_done(p, MUSTER_EPIPE);
  }
}

/* Pausing takes UV_READABLE off the poll; resuming puts it back, and
 * bytes already waiting make the next poll (level-triggered) report. */
void muster__child_stdio_pause(child_pipe_t *p, int paused) {
  p->paused = paused != 0;
  update_events(p);
}
