/* The parent's end of a stdio slot: an AF_UNIX stream socket we made, polled
 * with uv_poll_t, read with recv() and written with send(MSG_NOSIGNAL).
 *
 * Why not uv_pipe_t: libuv writes a pipe with write(), which raises SIGPIPE
 * when the child has closed its end, and an application that did not
 * ignore SIGPIPE dies. MSG_NOSIGNAL turns that into EPIPE for this one call
 * without touching the process-wide signal disposition.
 *
 * Writes are queued (the bytes copied) and handed to the kernel as the
 * socket accepts them; a write's callback is always deferred to a later
 * loop turn, never called from muster_child_write() itself.
 */
#include "child_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads per poll event before yielding to the rest of the loop. */
#define CHILD_READS_PER_EVENT 16

static void poll_cb(uv_poll_t *h, int status, int events);

static void poll_closed_cb(uv_handle_t *h) {
  child_pipe_t *p = h->data;
  muster__child_closed_one(p->child);
}

int muster__pipe_open(muster_child_t *c, child_pipe_t *p, int slot, int fd) {
  int r = uv_poll_init(c->loop, &p->poll, fd); /* also sets O_NONBLOCK */
  if (r < 0)
    return r;
  p->poll.data = p;
  p->fd = fd;
  p->slot = slot;
  p->is_pipe = 1;
  p->poll_open = 1;
  /* Node's stdin is write-only; every other pipe slot is duplex. */
  p->readable = slot != 0;
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

void muster__pipe_start(child_pipe_t *p) {
  update_events(p);
}

void muster__pipe_write_done(muster_child_t *c, child_write_t *w, int status) {
  w->status = status;
  w->next = NULL;
  if (c->done_tail != NULL)
    c->done_tail->next = w;
  else
    c->done_head = w;
  c->done_tail = w;
  muster__child_defer(c);
}

void muster__child_deliver_writes(muster_child_t *c) {
  while (c->done_head != NULL && !c->closing) {
    child_write_t *w = c->done_head;
    c->done_head = w->next;
    if (c->done_head == NULL)
      c->done_tail = NULL;
    if (w->cb != NULL)
      w->cb(c, w->status, w->arg);
    free(w);
  }
}

static void fail_queue(child_pipe_t *p, int status) {
  while (p->wq_head != NULL) {
    child_write_t *w = p->wq_head;
    p->wq_head = w->next;
    muster__pipe_write_done(p->child, w, status);
  }
  p->wq_tail = NULL;
  p->wq_size = 0;
}

void muster__pipe_close(child_pipe_t *p, int write_status) {
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
  p->child->pending_closes++;
  uv_close((uv_handle_t *)&p->poll, poll_closed_cb);
  close(p->fd);
  p->fd = -1;
}

/* The writing side is finished: the reading side may still be open. */
static void write_side_done(child_pipe_t *p, int status) {
  p->write_closed = 1;
  fail_queue(p, status);
  if (p->read_done)
    muster__pipe_close(p, status);
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
    muster__pipe_write_done(p->child, w, 0);
  }
  if (p->wq_head == NULL && p->ending && !p->write_closed) {
    shutdown(p->fd, SHUT_WR);
    write_side_done(p, MUSTER_EPIPE);
    return;
  }
  update_events(p);
}

static void read_eof(child_pipe_t *p) {
  muster_child_t *c = p->child;
  p->read_done = 1;
  muster__child_emit_spawn(c);
  if (c->closing)
    return;
  if (c->on_data != NULL)
    c->on_data(c, p->slot, NULL, 0);
  if (c->closing)
    return;
  /* Like a Node socket without allowHalfOpen, the pipe ends with its
   * reading side: queued writes are flushed first. */
  if (p->fd >= 0) {
    if (p->write_closed || p->wq_head == NULL)
      muster__pipe_close(p, MUSTER_EPIPE);
    else {
      p->ending = 1;
      update_events(p);
    }
  }
  muster__child_maybe_close(c);
}

static void do_read(child_pipe_t *p) {
  muster_child_t *c = p->child;
  for (int i = 0; i < CHILD_READS_PER_EVENT; i++) {
    ssize_t n = recv(p->fd, c->rbuf, CHILD_RBUF_SIZE, MSG_DONTWAIT);
    if (n > 0) {
      muster__child_emit_spawn(c);
      if (c->closing)
        return;
      if (c->on_data != NULL)
        c->on_data(c, p->slot, c->rbuf, (size_t)n);
      if (c->closing || p->fd < 0 || p->read_done || p->paused)
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

void muster__child_drain_output(muster_child_t *c) {
  for (int i = 1; i < c->nslots && !c->closing; i++) {
    child_pipe_t *p = &c->pipes[i];
    if (p->fd >= 0 && p->readable && !p->read_done && !p->paused)
      do_read(p);
  }
}

/* libuv reports POLLERR as UV_EBADF and stops the watcher. For our socket
 * it means the child closed its end while bytes we sent were unread (the
 * kernel set ECONNRESET on our side): the writing side is finished, but
 * output the child wrote before closing may still wait to be read, and
 * comes before the end of file. */
static void poll_error(child_pipe_t *p, int status) {
  muster_child_t *c = p->child;
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
  do_read(p);
  if (!c->closing && p->fd >= 0 && !p->read_done)
    update_events(p);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  child_pipe_t *p = h->data;
  muster_child_t *c = p->child;
  if (status < 0) {
    poll_error(p, status);
    return;
  }
  if ((events & UV_WRITABLE) && p->wq_head != NULL) {
    flush(p);
    if (c->closing || p->fd < 0)
      return;
  }
  if ((events & UV_READABLE) && p->readable && !p->read_done && !p->paused)
    do_read(p);
}

static child_pipe_t *pipe_slot(muster_child_t *c, int slot) {
  if (c == NULL || slot < 0 || slot >= c->nslots || !c->pipes[slot].is_pipe)
    return NULL;
  return &c->pipes[slot];
}

int muster_child_write(muster_child_t *c, int slot, const void *buf, size_t len,
                       muster_write_cb cb, void *arg) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL || (buf == NULL && len > 0))
    return MUSTER_EINVAL;
  if (p->fd < 0 || p->ending || p->write_closed || c->closing)
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

size_t muster_child_write_queue_size(const muster_child_t *c, int slot) {
  if (c == NULL || slot < 0 || slot >= c->nslots || !c->pipes[slot].is_pipe)
    return 0;
  return c->pipes[slot].wq_size;
}

int muster_child_end(muster_child_t *c, int slot) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL)
    return MUSTER_EINVAL;
  if (p->fd < 0 || p->ending || p->write_closed)
    return 0;
  p->ending = 1;
  if (p->wq_head == NULL) {
    shutdown(p->fd, SHUT_WR);
    write_side_done(p, MUSTER_EPIPE);
  }
  return 0;
}

/* Pausing takes UV_READABLE off the poll; resuming puts it back, and
 * bytes already waiting make the next poll (level-triggered) report. */
static int set_paused(muster_child_t *c, int slot, int paused) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL || !p->readable)
    return MUSTER_EINVAL;
  p->paused = paused != 0;
  update_events(p);
  return 0;
}

int muster_child_read_stop(muster_child_t *c, int slot) {
  return set_paused(c, slot, 1);
}

int muster_child_read_start(muster_child_t *c, int slot) {
  return set_paused(c, slot, 0);
}
