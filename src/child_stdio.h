/* The parent's end of one stdio socketpair of a child: read, write, end,
 * pause (child_stdio.c). It knows no child: it reports to its owner
 * through a small callback set, as libuv's stream.c reports to whoever
 * opened the stream and never knows a process exists. */
#ifndef MUSTER_CHILD_STDIO_H
#define MUSTER_CHILD_STDIO_H

#include <stddef.h>
#include <uv.h>

typedef struct child_pipe_s child_pipe_t;

/* The owner's write callback, kept in the write and cast back by it. */
typedef void (*child_write_fn)(void);

/* One queued write. Its bytes follow the struct. */
typedef struct child_write_s {
  struct child_write_s *next;
  child_write_fn cb; /* the owner's callback and argument, kept for it */
  void *arg;
  size_t len;
  size_t off;
  int status; /* once done: 0 or a negative error */
} child_write_t;

/* What a pipe tells its owner. Each is called on the loop's thread, from
 * inside the pipe's own poll callback or calls. After `data` and
 * `write_done` the pipe checks whether it was closed meanwhile (its fd is
 * -1 then) and stops: the owner may close it from any of them. */
typedef struct {
  /* Bytes read (valid during the call); buf NULL, len 0: end of file. */
  void (*data)(child_pipe_t *p, const char *buf, size_t len);
  /* Where the next read goes: *buf and *size start as the pipe's own
   * buffer; the owner may point them at memory of its own. */
  void (*alloc)(child_pipe_t *p, char **buf, size_t *size);
  /* After end of file, once the pipe has closed (or is flushing its last
   * writes before it closes). */
  void (*ended)(child_pipe_t *p);
  /* A write finished, w->status set; the owner now owns `w` (free()). */
  void (*write_done)(child_pipe_t *p, child_write_t *w);
  /* The poll handle's uv_close() started, and later ended. */
  void (*closing)(child_pipe_t *p);
  void (*closed)(child_pipe_t *p);
} child_pipe_cbs_t;

struct child_pipe_s {
  const child_pipe_cbs_t *cbs;
  void *owner;
  char *rbuf; /* the owner's read buffer, shared by its pipes */
  size_t rbuf_size;
  uv_poll_t poll;
  int fd; /* -1 once closed */
  int slot;
  unsigned is_pipe : 1;
  unsigned readable : 1;     /* output is delivered */
  unsigned read_done : 1;    /* end of file seen, or never readable */
  unsigned ending : 1;       /* end() was called */
  unsigned write_closed : 1; /* shut down, or a write failed */
  unsigned poll_open : 1;    /* the uv_poll_t needs uv_close() */
  unsigned paused : 1;       /* read_stop() */
  int events;                /* what the poll watches now */
  child_write_t *wq_head;
  child_write_t *wq_tail;
  size_t wq_size;
};

/* Wraps `fd` (which the pipe then owns). A readable pipe delivers what it
 * reads; slot 0 (stdin) is write-only. 0 or uv_poll_init()'s error (the fd
 * is then still the caller's). */
int muster__child_stdio_open(child_pipe_t *p, uv_loop_t *loop, int fd,
                             int readable, const child_pipe_cbs_t *cbs,
                             void *owner, char *rbuf, size_t rbuf_size);
/* Starts watching the fd. */
void muster__child_stdio_start(child_pipe_t *p);
/* Closes the fd at once: queued writes fail with `write_status`. Closing a
 * closed pipe does nothing. */
void muster__child_stdio_close(child_pipe_t *p, int write_status);
/* Reads, once, what the socket already holds (up to the usual per-event
 * amount), unless paused or ended. */
void muster__child_stdio_read(child_pipe_t *p);
/* Queues `len` bytes (copied); cb/arg are kept in the write for the
 * owner. 0, MUSTER_EPIPE (closed, ending or failed), MUSTER_ENOMEM. */
int muster__child_stdio_write(child_pipe_t *p, const void *buf, size_t len,
                              child_write_fn cb, void *arg);
/* Ends the writing side once the queue is flushed. */
void muster__child_stdio_end(child_pipe_t *p);
/* Stops or resumes reading. */
void muster__child_stdio_pause(child_pipe_t *p, int paused);

#endif
