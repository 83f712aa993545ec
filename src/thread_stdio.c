/* A worker's captured stdout and stderr (src/thread_stdio.h). */
#include "thread_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "muster/error.h"
#include "muster/thread.h"

struct chunk {
  struct chunk *next;
  int fd;
  size_t len;
  char data[];
};

struct cookie {
  muster__thread_stdio_t *s;
  int fd;
};

struct muster__thread_stdio_s {
  muster__thread_stdio_cb cb;
  void *arg;
  int process;
  int want[3]; /* want[1], want[2]: fd captured */
  int handles; /* open handles; freed when the last closes */
  int freeing; /* close() was called */
  int synced;  /* lock and room are initialized */
  /* Thread mode. The queue is shared with the worker under `lock`. */
  uv_async_t async;
  pthread_mutex_t lock;
  pthread_cond_t room;
  struct chunk *head, **tail;
  size_t queued;
  int woken, gone;
  FILE *files[3]; /* the worker's own */
  struct cookie cookies[3];
  /* Process mode: pipe[fd] = {read end, write end}. */
  int pipe[3][2];
  uv_pipe_t reader[3];
  int reading[3]; /* 1 while reading, -1 after end/error */
  char buf[16384];
};

static void deliver(muster__thread_stdio_t *s, int fd, const char *p,
                    size_t n) {
  if (!s->gone && !s->freeing && s->cb)
    s->cb(s->arg, fd, p, n);
}

/* ---- thread mode --------------------------------------------------------- */

/* Takes the whole queue (waking writers that wait for room), then
 * delivers it with no lock held: the callback may take as long as it
 * likes while the worker refills the queue up to the bound. */
static void take(muster__thread_stdio_t *s) {
  struct chunk *c;
  pthread_mutex_lock(&s->lock);
  c = s->head;
  s->head = NULL;
  s->tail = &s->head;
  s->queued = 0;
  s->woken = 0;
  pthread_cond_broadcast(&s->room);
  pthread_mutex_unlock(&s->lock);
  while (c) {
    struct chunk *next = c->next;
    deliver(s, c->fd, c->data, c->len);
    free(c);
    c = next;
  }
}

static void on_async(uv_async_t *a) {
  take(a->data);
}

/* Appends one piece (at most the bound), waiting for room first. A piece
 * always fits an empty queue, so a writer never waits for nothing. */
static int push(muster__thread_stdio_t *s, int fd, const char *p, size_t n) {
  struct chunk *c = malloc(sizeof *c + n);
  int wake;
  if (c == NULL)
    return -1;
  c->next = NULL;
  c->fd = fd;
  c->len = n;
  memcpy(c->data, p, n);
  pthread_mutex_lock(&s->lock);
  while (!s->gone && s->queued > 0 &&
         s->queued + n > MUSTER_THREAD_OUTPUT_BUFFER)
    pthread_cond_wait(&s->room, &s->lock);
  if (s->gone) { /* nobody listens: dropped, as on a closed stdout */
    pthread_mutex_unlock(&s->lock);
    free(c);
    return 0;
  }
  *s->tail = c;
  s->tail = &c->next;
  s->queued += n;
  wake = !s->woken;
  s->woken = 1;
  pthread_mutex_unlock(&s->lock);
  /* The handle stays open until the worker is joined. */
  if (wake)
    uv_async_send(&s->async);
  return 0;
}

static ssize_t cookie_write(void *arg, const char *p, size_t n) {
  struct cookie *k = arg;
  size_t done = 0;
  while (done < n) {
    size_t piece = n - done;
    if (piece > MUSTER_THREAD_OUTPUT_BUFFER)
      piece = MUSTER_THREAD_OUTPUT_BUFFER;
    if (push(k->s, k->fd, p + done, piece) != 0) {
      errno = ENOMEM;
      return done > 0 ? (ssize_t)done : -1;
    }
    done += piece;
  }
  return (ssize_t)n;
}

FILE *muster__thread_stdio_file(muster__thread_stdio_t *s, int fd) {
  FILE *std = fd == 2 ? stderr : stdout;
  cookie_io_functions_t io = {NULL, cookie_write, NULL, NULL};
  if (s == NULL || s->process || (fd != 1 && fd != 2) || !s->want[fd])
    return std;
  if (s->files[fd] == NULL) {
    s->cookies[fd] = (struct cookie){s, fd};
    s->files[fd] = fopencookie(&s->cookies[fd], "w", io);
    if (s->files[fd] == NULL)
      return std;
    /* As on a terminal: stdout by line, stderr at once. */
    setvbuf(s->files[fd], NULL, fd == 1 ? _IOLBF : _IONBF, BUFSIZ);
  }
  return s->files[fd];
}

void muster__thread_stdio_worker_end(muster__thread_stdio_t *s) {
  if (s == NULL)
    return;
  for (int fd = 1; fd <= 2; fd++)
    if (s->files[fd]) {
      fclose(s->files[fd]); /* flushes into the queue */
      s->files[fd] = NULL;
    }
}

/* ---- process mode -------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  muster__thread_stdio_t *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf) {
  muster__thread_stdio_t *s = h->data;
  int fd = (uv_pipe_t *)h == &s->reader[1] ? 1 : 2;
  if (n > 0)
    deliver(s, fd, buf->base, (size_t)n);
  else if (n < 0) {
    uv_read_stop(h);
    s->reading[fd] = -1;
  }
}

void muster__thread_stdio_child(muster__thread_stdio_t *s) {
  if (s == NULL || !s->process)
    return;
  for (int fd = 1; fd <= 2; fd++) {
    if (!s->want[fd])
      continue;
    close(s->pipe[fd][0]);
    dup2(s->pipe[fd][1], fd); /* the new fd 1/2 is not close-on-exec */
    close(s->pipe[fd][1]);
  }
  /* A pipe makes stdout fully buffered; lines should arrive as printed.
   * It was flushed before the fork, so its buffer is empty. */
  if (s->want[1])
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
}

int muster__thread_stdio_parent(muster__thread_stdio_t *s) {
  int r = 0;
  for (int fd = 1; fd <= 2; fd++) {
    if (!s->want[fd])
      continue;
    close(s->pipe[fd][1]);
    s->pipe[fd][1] = -1;
    if (r == 0 && (r = uv_pipe_open(&s->reader[fd], s->pipe[fd][0])) == 0) {
      s->pipe[fd][0] = -1; /* the handle's now */
      r = uv_read_start((uv_stream_t *)&s->reader[fd], on_alloc, on_read);
      s->reading[fd] = r == 0;
    }
  }
  return r;
}

/* The worker is gone, so whatever it wrote is in the pipe: read to the
 * end of what is there. Not to EOF: a process the worker started may hold
 * the write end for long. */
static void drain_pipe(muster__thread_stdio_t *s, int fd) {
  uv_os_fd_t rfd;
  if (s->reading[fd] != 1 || uv_fileno((uv_handle_t *)&s->reader[fd], &rfd))
    return;
  for (;;) {
    ssize_t n = read(rfd, s->buf, sizeof s->buf);
    if (n > 0)
      deliver(s, fd, s->buf, (size_t)n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;
  }
}

/* ---- both ---------------------------------------------------------------- */

static void free_all(muster__thread_stdio_t *s) {
  struct chunk *c = s->head;
  while (c) {
    struct chunk *next = c->next;
    free(c);
    c = next;
  }
  for (int fd = 1; fd <= 2; fd++)
    for (int i = 0; i < 2; i++)
      if (s->pipe[fd][i] >= 0)
        close(s->pipe[fd][i]);
  if (s->synced) {
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->lock);
  }
  free(s);
}

static void on_closed(uv_handle_t *h) {
  muster__thread_stdio_t *s = h->data;
  if (--s->handles == 0)
    free_all(s);
}

static int create_thread_mode(uv_loop_t *loop, muster__thread_stdio_t *s) {
  int r;
  if (pthread_mutex_init(&s->lock, NULL) != 0)
    return MUSTER_ENOMEM;
  if (pthread_cond_init(&s->room, NULL) != 0) {
    pthread_mutex_destroy(&s->lock);
    return MUSTER_ENOMEM;
  }
  s->synced = 1;
  r = uv_async_init(loop, &s->async, on_async);
  if (r != 0)
    return r;
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async); /* the thread keeps the loop alive */
  s->handles = 1;
  return 0;
}

static int create_process_mode(uv_loop_t *loop, muster__thread_stdio_t *s) {
  for (int fd = 1; fd <= 2; fd++) {
    if (!s->want[fd])
      continue;
    if (pipe2(s->pipe[fd], O_CLOEXEC) != 0)
      return -errno;
    uv_pipe_init(loop, &s->reader[fd], 0);
    s->reader[fd].data = s;
    uv_unref((uv_handle_t *)&s->reader[fd]);
    s->handles++;
  }
  return 0;
}

int muster__thread_stdio_create(uv_loop_t *loop, int process, int out, int err,
                                muster__thread_stdio_cb cb, void *arg,
                                muster__thread_stdio_t **res) {
  muster__thread_stdio_t *s = calloc(1, sizeof *s);
  int r;
  if (s == NULL)
    return MUSTER_ENOMEM;
  memset(s->pipe, -1, sizeof s->pipe);
  s->cb = cb;
  s->arg = arg;
  s->process = process;
  s->want[1] = out;
  s->want[2] = err;
  s->tail = &s->head;
  r = process ? create_process_mode(loop, s) : create_thread_mode(loop, s);
  if (r != 0) {
    muster__thread_stdio_close(s);
    return r;
  }
  *res = s;
  return 0;
}

void muster__thread_stdio_drain(muster__thread_stdio_t *s) {
  if (s == NULL)
    return;
  if (!s->process) {
    take(s);
    return;
  }
  for (int fd = 1; fd <= 2; fd++)
    if (s->want[fd])
      drain_pipe(s, fd);
}

void muster__thread_stdio_detach(muster__thread_stdio_t *s) {
  if (s == NULL)
    return;
  if (s->process) {
    s->gone = 1; /* the pipes are read on, and the bytes dropped */
    return;
  }
  pthread_mutex_lock(&s->lock);
  s->gone = 1;
  pthread_cond_broadcast(&s->room);
  pthread_mutex_unlock(&s->lock);
}

void muster__thread_stdio_close(muster__thread_stdio_t *s) {
  int handles;
  if (s == NULL)
    return;
  s->freeing = 1;
  handles = s->handles;
  if (handles == 0) {
    free_all(s);
    return;
  }
  if (!s->process)
    uv_close((uv_handle_t *)&s->async, on_closed);
  for (int fd = 1; fd <= 2 && s->process; fd++)
    if (s->want[fd] && s->reader[fd].loop)
      uv_close((uv_handle_t *)&s->reader[fd], on_closed);
}
