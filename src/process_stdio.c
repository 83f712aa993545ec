/* muster_process_stdio_*: stdin, stdout and stderr as streams on a loop (see
 * include/muster/process_stdio.h).
 *
 * Three ways to do I/O behind one stream:
 *   poll   TTYs, pipes, FIFOs, sockets: a uv_poll_t on a descriptor of our
 *          own, non-blocking reads and writes done here. Not uv_pipe_t /
 *          uv_tty_t: those write with write(2) from inside uv_run, where a
 *          closed pipe raises SIGPIPE and nothing can stop it short of
 *          ignoring SIGPIPE for the whole process (Node does; a library
 *          must not). Here every write to a pipe is wrapped (see
 *          write_no_sigpipe) and sockets use MSG_NOSIGNAL.
 *   file   regular files and devices epoll refuses: synchronous writes
 *          (Node's SyncWriteStream), reads on the thread pool (uv_fs_read).
 *   none   the fd is closed: writes vanish, reads end.
 * Completions that happen inside a call (a write that went out at once,
 * end of file on a closed fd) are delivered from a next tick, so no
 * callback ever runs inside the call that caused it. */
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)

struct wreq {
  struct wreq *next;
  muster_process_stdio_write_cb cb;
  void *arg;
  int status;
  size_t len;
  size_t off;
  char data[];
};

struct muster_process_stdio_s {
  uv_loop_t *loop;
  int fd;    /* the caller's, never closed */
  int io_fd; /* ours, or -1 (closed kind) */
  muster_process_stdio_kind_t kind;
  int restore_flags; /* io_fd shares the caller's description: */
  int saved_flags;   /* put these flags back on close */
  void *data;

  uv_poll_t poll; /* poll kinds */
  int poll_events;

  muster_process_stdio_read_cb read_cb;
  char *rbuf;
  int reading;
  int eof_pending; /* closed kind: deliver MUSTER_EOF from the tick */

  uv_fs_t fs; /* file kind: one read at a time */
  int fs_busy;
  ssize_t stash; /* a file read that finished while stopped; 0: none */

  struct wreq *head, *tail;      /* not yet (fully) written */
  struct wreq *done, *done_tail; /* written or failed; callbacks due */
  size_t queued;
  int write_err; /* sticky */
  int need_drain;
  muster_process_stdio_drain_cb drain_cb;

  int tick_pending;
  int closing;
  int handle_open;
  muster_process_stdio_close_cb close_cb;
};

static int uses_poll(const muster_process_stdio_t *s) {
  return s->kind == MUSTER_PROCESS_STDIO_TTY ||
         s->kind == MUSTER_PROCESS_STDIO_PIPE ||
         s->kind == MUSTER_PROCESS_STDIO_SOCKET;
}

muster_process_stdio_kind_t muster_process_stdio_guess(int fd) {
  struct stat st;

  if (fd < 0 || fstat(fd, &st) != 0)
    return MUSTER_PROCESS_STDIO_CLOSED;
  if (S_ISSOCK(st.st_mode))
    return MUSTER_PROCESS_STDIO_SOCKET;
  if (S_ISFIFO(st.st_mode))
    return MUSTER_PROCESS_STDIO_PIPE;
  if (S_ISCHR(st.st_mode) && isatty(fd))
    return MUSTER_PROCESS_STDIO_TTY;
  return MUSTER_PROCESS_STDIO_FILE;
}

/* ---- delivering callbacks ----------------------------------------------- */

static void on_tick(void *arg);
static void try_finish_close(muster_process_stdio_t *s);

static int schedule(muster_process_stdio_t *s) {
  int r;
  if (s->tick_pending)
    return 0;
  r = muster_next_tick(s->loop, on_tick, s);
  if (r == 0)
    s->tick_pending = 1;
  return r;
}

static void complete(muster_process_stdio_t *s, struct wreq *w, int status) {
  w->status = status;
  w->next = NULL;
  if (s->done_tail != NULL)
    s->done_tail->next = w;
  else
    s->done = w;
  s->done_tail = w;
}

/* Runs the callbacks of finished writes, then 'drain' if it is due. */
static void deliver_writes(muster_process_stdio_t *s) {
  while (s->done != NULL) {
    struct wreq *w = s->done;
    s->done = w->next;
    if (s->done == NULL)
      s->done_tail = NULL;
    if (w->cb != NULL)
      w->cb(s, w->status, w->arg);
    free(w);
  }
  if (s->need_drain && s->head == NULL && !s->closing) {
    s->need_drain = 0;
    if (s->drain_cb != NULL)
      s->drain_cb(s);
  }
}

static void deliver_read(muster_process_stdio_t *s, ssize_t n,
                         const char *data) {
  if (n < 0)
    s->reading = 0; /* end or error: reading has stopped */
  s->read_cb(s, n, data);
}

/* ---- poll kinds ---------------------------------------------------------- */

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_poll(muster_process_stdio_t *s) {
  int events = 0;
  if (s->closing)
    return;
  if (s->reading)
    events |= UV_READABLE;
  if (s->head != NULL)
    events |= UV_WRITABLE;
  if (events == s->poll_events)
    return;
  s->poll_events = events;
  if (events == 0)
    uv_poll_stop(&s->poll);
  else
    uv_poll_start(&s->poll, events, on_poll);
}

/* write(2) to a pipe whose reader is gone raises SIGPIPE in the writing
 * thread before returning EPIPE. Block it for the call; if the write
 * raised one (and none was pending before, which would be someone else's),
 * take it back with a zero-timeout sigtimedwait. The signal is
 * thread-directed, so other threads' masks do not matter. */
static ssize_t write_no_sigpipe(int fd, const char *buf, size_t len) {
  sigset_t pipe_set, old, pending;
  struct timespec zero = {0, 0};
  int was_pending, err;
  ssize_t n;

  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  was_pending = sigismember(&pending, SIGPIPE);
  n = write(fd, buf, len);
  err = errno;
  if (n < 0 && err == EPIPE && !was_pending)
    sigtimedwait(&pipe_set, NULL, &zero);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return n;
}

static ssize_t write_some(muster_process_stdio_t *s, const char *buf,
                          size_t len) {
  ssize_t n;
  do {
    if (s->kind == MUSTER_PROCESS_STDIO_SOCKET)
      n = send(s->io_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    else if (s->kind == MUSTER_PROCESS_STDIO_PIPE)
      n = write_no_sigpipe(s->io_fd, buf, len);
    else
      n = write_no_sigpipe(s->io_fd, buf, len);
  } while (n < 0 && errno == EINTR);
  return n;
}

/* Fails every queued write with the stream's error. */
static void fail_queue(muster_process_stdio_t *s, int err) {
  while (s->head != NULL) {
    struct wreq *w = s->head;
    s->head = w->next;
    complete(s, w, err);
  }
  s->tail = NULL;
  s->queued = 0;
}

/* Writes what the fd takes now. For a file, "now" is everything (the
 * fd blocks; Node writes files synchronously too). */
static void flush_queue(muster_process_stdio_t *s) {
  while (s->head != NULL && s->write_err == 0) {
    struct wreq *w = s->head;
    if (w->off < w->len) {
      ssize_t n = write_some(s, w->data + w->off, w->len - w->off);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return;
        s->write_err = -errno;
        break;
      }
      w->off += (size_t)n;
      s->queued -= (size_t)n;
      if (w->off < w->len)
        continue;
    }
    s->head = w->next;
    if (s->head == NULL)
      s->tail = NULL;
    complete(s, w, 0);
  }
  if (s->write_err != 0)
    fail_queue(s, s->write_err);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  muster_process_stdio_t *s = handle->data;

  if (status < 0) {
    /* The fd itself failed (EBADF: closed under us): both directions. */
    if (s->write_err == 0)
      s->write_err = status;
    fail_queue(s, s->write_err);
    if (s->reading)
      deliver_read(s, status, NULL);
  } else {
    if (events & (UV_WRITABLE | UV_DISCONNECT))
      flush_queue(s);
    if ((events & (UV_READABLE | UV_DISCONNECT)) && s->reading) {
      ssize_t n;
      do {
        n = s->kind == MUSTER_PROCESS_STDIO_SOCKET
                ? recv(s->io_fd, s->rbuf, READ_SIZE, MSG_DONTWAIT)
                : read(s->io_fd, s->rbuf, READ_SIZE);
      } while (n < 0 && errno == EINTR);
      if (n > 0)
        deliver_read(s, n, s->rbuf);
      else if (n == 0)
        deliver_read(s, MUSTER_EOF, NULL);
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        deliver_read(s, -errno, NULL);
    }
  }
  deliver_writes(s);
  update_poll(s);
}

/* ---- file kind: reads on the thread pool -------------------------------- */

static int start_file_read(muster_process_stdio_t *s);

static void on_file_read(uv_fs_t *req) {
  muster_process_stdio_t *s = req->data;

  ssize_t n = req->result;

  uv_fs_req_cleanup(req);
  s->fs_busy = 0;
  if (s->closing) {
    try_finish_close(s);
    return;
  }
  if (!s->reading) {
    s->stash = n == 0 ? MUSTER_EOF : n; /* for the next read_start */
    return;
  }
  deliver_read(s, n == 0 ? MUSTER_EOF : n, s->rbuf);
  if (s->reading && !s->closing && n > 0 && !s->fs_busy) {
    int r = start_file_read(s);
    if (r != 0)
      deliver_read(s, r, NULL);
  }
}

static int start_file_read(muster_process_stdio_t *s) {
  uv_buf_t buf = uv_buf_init(s->rbuf, READ_SIZE);
  int r;
  /* Offset -1: the fd's own position, shared with whoever else reads it,
   * as `cat <file` would. */
  s->fs.data = s;
  r = uv_fs_read(s->loop, &s->fs, s->io_fd, &buf, 1, -1, on_file_read);
  if (r == 0)
    s->fs_busy = 1;
  return r;
}

/* ---- the tick: completions from inside calls ----------------------------- */

static void on_tick(void *arg) {
  muster_process_stdio_t *s = arg;

  s->tick_pending = 0;
  if (!s->closing && s->reading) {
    if (s->eof_pending) {
      s->eof_pending = 0;
      deliver_read(s, MUSTER_EOF, NULL);
    } else if (s->stash != 0) {
      ssize_t n = s->stash;
      s->stash = 0;
      deliver_read(s, n, s->rbuf);
      if (s->reading && n > 0 && !s->fs_busy && start_file_read(s) != 0)
        deliver_read(s, MUSTER_EIO, NULL);
    }
  }
  deliver_writes(s);
  if (s->closing)
    try_finish_close(s);
  else if (uses_poll(s))
    update_poll(s);
}

/* ---- open ---------------------------------------------------------------- */

/* Our own descriptor for a TTY or pipe: a new open file description
 * through /proc, so O_NONBLOCK on it leaves the caller's fd (and the
 * shell's, which shares it) blocking. O_NONBLOCK on open also keeps a FIFO
 * open from waiting for the other side. */
static int reopen(int fd) {
  char path[64];
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -1;
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static int open_io_fd(muster_process_stdio_t *s) {
  if (s->kind == MUSTER_PROCESS_STDIO_TTY ||
      s->kind == MUSTER_PROCESS_STDIO_PIPE) {
    s->io_fd = reopen(s->fd);
    if (s->io_fd >= 0)
      return 0;
  }
  s->io_fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
  if (s->io_fd < 0)
    return -errno;
  if (uses_poll(s)) {
    /* A dup shares the description: note its flags, to restore them
     * (uv_poll_init makes it non-blocking; a socket is put back at once,
     * pipes and TTYs on close). */
    s->saved_flags = fcntl(s->io_fd, F_GETFL);
    s->restore_flags = s->saved_flags >= 0;
  }
  return 0;
}

int muster_process_stdio_open(uv_loop_t *loop, int fd,
                              muster_process_stdio_t **out) {
  muster_process_stdio_t *s;
  int r;

  if (out != NULL)
    *out = NULL;
  if (loop == NULL || out == NULL || fd < 0)
    return MUSTER_EINVAL;
  s = calloc(1, sizeof *s);
  if (s == NULL)
    return MUSTER_ENOMEM;
  s->loop = loop;
  s->fd = fd;
  s->io_fd = -1;
  s->kind = muster_process_stdio_guess(fd);
  if (s->kind == MUSTER_PROCESS_STDIO_CLOSED) {
    *out = s;
    return 0;
  }
  r = open_io_fd(s);
  if (r != 0)
    goto fail;
  if (uses_poll(s)) {
    r = uv_poll_init(loop, &s->poll, s->io_fd);
    if (r != 0)
      goto fail;
    s->poll.data = s;
    s->handle_open = 1;
    if (s->kind == MUSTER_PROCESS_STDIO_SOCKET && s->restore_flags) {
      fcntl(s->io_fd, F_SETFL, s->saved_flags);
      s->restore_flags = 0;
    }
  }
  *out = s;
  return 0;
fail:
  if (s->io_fd >= 0) {
    if (s->restore_flags)
      fcntl(s->io_fd, F_SETFL, s->saved_flags);
    close(s->io_fd);
  }
  free(s);
  return r;
}

/* ---- reading ------------------------------------------------------------- */

int muster_process_stdio_read_start(muster_process_stdio_t *s,
                                    muster_process_stdio_read_cb cb) {
  if (s == NULL || cb == NULL || s->closing)
    return MUSTER_EINVAL;
  if (s->reading)
    return MUSTER_EALREADY;
  if (s->kind != MUSTER_PROCESS_STDIO_CLOSED && s->rbuf == NULL) {
    s->rbuf = malloc(READ_SIZE);
    if (s->rbuf == NULL)
      return MUSTER_ENOMEM;
  }
  s->read_cb = cb;
  if (s->kind == MUSTER_PROCESS_STDIO_CLOSED || s->stash != 0) {
    int r = schedule(s);
    if (r != 0)
      return r;
    s->eof_pending = s->kind == MUSTER_PROCESS_STDIO_CLOSED;
  } else if (s->kind == MUSTER_PROCESS_STDIO_FILE && !s->fs_busy) {
    int r = start_file_read(s);
    if (r != 0)
      return r;
  }
  s->reading = 1;
  if (uses_poll(s))
    update_poll(s);
  return 0;
}

int muster_process_stdio_read_stop(muster_process_stdio_t *s) {
  if (s == NULL)
    return MUSTER_EINVAL;
  s->reading = 0;
  s->eof_pending = 0;
  if (uses_poll(s))
    update_poll(s);
  return 0;
}

/* ---- writing ------------------------------------------------------------- */

int muster_process_stdio_write(muster_process_stdio_t *s, const void *buf,
                               size_t len, muster_process_stdio_write_cb cb,
                               void *arg) {
  struct wreq *w;
  int r;

  if (s == NULL || (buf == NULL && len > 0) || s->closing)
    return MUSTER_EINVAL;
  if (len > SIZE_MAX - sizeof *w)
    return MUSTER_ENOMEM;
  w = malloc(sizeof *w + len);
  if (w == NULL)
    return MUSTER_ENOMEM;
  if (len > 0)
    memcpy(w->data, buf, len);
  w->next = NULL;
  w->cb = cb;
  w->arg = arg;
  w->len = len;
  w->off = 0;
  if (s->kind == MUSTER_PROCESS_STDIO_CLOSED || s->write_err != 0) {
    r = schedule(s);
    if (r != 0) {
      free(w);
      return r;
    }
    complete(s, w, s->write_err); /* closed: written to nowhere */
    return 1;
  }
  /* Queue it, and write what the fd takes now if nothing was queued
   * before (otherwise the poll is already waiting for room). */
  int was_empty = s->head == NULL;
  if (s->tail != NULL)
    s->tail->next = w;
  else
    s->head = w;
  s->tail = w;
  s->queued += len;
  if (was_empty)
    flush_queue(s);
  if (s->done != NULL && schedule(s) != 0) {
    /* No memory for the tick: the callbacks go out on the next poll
     * event or close, late but not lost. */
  }
  if (uses_poll(s))
    update_poll(s);
  if (s->queued < MUSTER_PROCESS_STDIO_HIGH_WATER)
    return 1;
  s->need_drain = 1;
  return 0;
}

void muster_process_stdio_on_drain(muster_process_stdio_t *s,
                                   muster_process_stdio_drain_cb cb) {
  s->drain_cb = cb;
}

size_t muster_process_stdio_buffered(const muster_process_stdio_t *s) {
  return s->queued;
}

/* ---- facts --------------------------------------------------------------- */

int muster_process_stdio_fd(const muster_process_stdio_t *s) {
  return s->fd;
}

muster_process_stdio_kind_t
muster_process_stdio_kind(const muster_process_stdio_t *s) {
  return s->kind;
}

int muster_process_stdio_is_tty(const muster_process_stdio_t *s) {
  return s->kind == MUSTER_PROCESS_STDIO_TTY;
}

int muster_process_stdio_window_size(const muster_process_stdio_t *s,
                                     int *columns, int *rows) {
  struct winsize ws;

  if (s == NULL || columns == NULL || rows == NULL)
    return MUSTER_EINVAL;
  if (s->kind != MUSTER_PROCESS_STDIO_TTY)
    return MUSTER_ENOTTY;
  if (ioctl(s->io_fd, TIOCGWINSZ, &ws) != 0)
    return -errno;
  *columns = ws.ws_col;
  *rows = ws.ws_row;
  return 0;
}

void *muster_process_stdio_data(const muster_process_stdio_t *s) {
  return s->data;
}

void muster_process_stdio_set_data(muster_process_stdio_t *s, void *data) {
  s->data = data;
}

/* ---- close --------------------------------------------------------------- */

static void on_poll_closed(uv_handle_t *handle) {
  muster_process_stdio_t *s = handle->data;
  s->handle_open = 0;
  try_finish_close(s);
}

/* Frees the stream once nothing refers to it: the poll handle closed, no
 * tick queued, no file read on the pool. */
static void try_finish_close(muster_process_stdio_t *s) {
  if (s->handle_open || s->tick_pending || s->fs_busy)
    return;
  deliver_writes(s);
  if (s->io_fd >= 0) {
    if (s->restore_flags)
      fcntl(s->io_fd, F_SETFL, s->saved_flags);
    close(s->io_fd);
  }
  if (s->close_cb != NULL)
    s->close_cb(s);
  free(s->rbuf);
  free(s);
}

void muster_process_stdio_close(muster_process_stdio_t *s,
                                muster_process_stdio_close_cb cb) {
  if (s == NULL || s->closing)
    return;
  s->closing = 1;
  s->close_cb = cb;
  s->reading = 0;
  fail_queue(s, MUSTER_ECANCELED);
  if (s->fs_busy)
    uv_cancel((uv_req_t *)&s->fs); /* fails if already running: waited */
  if (s->handle_open && !uv_is_closing((uv_handle_t *)&s->poll))
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  else if (schedule(s) != 0)
    try_finish_close(s); /* no tick: finish now (callbacks in this call) */
}
