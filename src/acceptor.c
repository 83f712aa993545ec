/* muster_acceptor_*: the accept loop of a listening stream socket, with
 * batching and the spare-descriptor answer to EMFILE (muster/acceptor.h). */
#include "muster/acceptor.h"
#include "muster/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_BATCH 64
#define BACKOFF_MS 100
/* Most pending connections closed in one EMFILE episode: clients that
 * keep connecting must not hold the loop. The rest wait for the next
 * wake-up. */
#define DRAIN_MAX 1024

struct muster_acceptor_s {
  uv_loop_t *loop;
  int fd;
  int spare; /* the reserve descriptor, or -1 */
  muster_acceptor_options_t o;
  uv_poll_t poll;
  uv_timer_t timer; /* the pause after a failure we cannot drain */
  int polling;
  int paused;  /* by the owner */
  int backoff; /* the timer runs */
  int failing; /* an error was reported and no accept succeeded since */
  int closing;
  int handles; /* uv handles still to close */
  unsigned long long count;
  muster_acceptor_close_cb close_cb;
};

static void on_poll(uv_poll_t *p, int status, int events);

static int open_spare(void) {
  return open("/", O_RDONLY | O_CLOEXEC);
}

static void update(muster_acceptor_t *a) {
  int want = !a->closing && !a->paused && !a->backoff;
  if (want && !a->polling) {
    if (uv_poll_start(&a->poll, UV_READABLE, on_poll) == 0)
      a->polling = 1;
  } else if (!want && a->polling) {
    uv_poll_stop(&a->poll);
    a->polling = 0;
  }
}

static void report(muster_acceptor_t *a, int err) {
  if (a->failing)
    return;
  a->failing = 1;
  if (a->o.on_error)
    a->o.on_error(a, err);
}

static void backoff_cb(uv_timer_t *t) {
  muster_acceptor_t *a = t->data;
  a->backoff = 0;
  update(a);
}

static void start_backoff(muster_acceptor_t *a) {
  a->backoff = 1;
  update(a);
  uv_timer_start(&a->timer, backoff_cb, BACKOFF_MS, 0);
}

/* Out of descriptors: free the spare, accept and close what is pending,
 * take the spare back (libuv's uv__emfile_trick). Returns 0 when the
 * backlog is empty, or the error that stopped the draining. Without the
 * spare the pending connection would stay readable and wake the loop at
 * once, over and over, while nothing can be accepted. */
static int drain(muster_acceptor_t *a) {
  if (a->spare < 0 && (a->spare = open_spare()) < 0)
    return MUSTER_EMFILE;
  close(a->spare);
  a->spare = -1;
  int err = 0;
  for (int n = 0; n < DRAIN_MAX; n++) {
    int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    err = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    break;
  }
  a->spare = open_spare();
  return a->spare < 0 && err == 0 ? MUSTER_EMFILE : err;
}

static void on_poll(uv_poll_t *p, int status, int events) {
  muster_acceptor_t *a = p->data;
  (void)events;
  if (status < 0) {
    report(a, status);
    start_backoff(a);
    return;
  }
  unsigned batch = a->o.batch ? a->o.batch : DEFAULT_BATCH;
  for (unsigned i = 0; i < batch && a->polling; i++) {
    int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      /* The client gave up before we took it, or (Linux) an error of the
       * new socket: man accept(2) says to try again. */
      if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == ENETDOWN ||
          e == ENOPROTOOPT || e == EHOSTDOWN || e == ENONET ||
          e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH)
        continue;
      if (e == EAGAIN || e == EWOULDBLOCK)
        return;
      if (e == EMFILE) {
        int r = drain(a);
        report(a, MUSTER_EMFILE);
        if (r < 0)
          start_backoff(a);
        return;
      }
      /* ENFILE, ENOBUFS, ENOMEM, or a socket that is not listening: the
       * spare would not help, and polling again at once would spin. */
      report(a, -e);
      start_backoff(a);
      return;
    }
    a->failing = 0;
    a->count++;
    a->o.on_connection(a, fd);
  }
}

int muster_acceptor_open(uv_loop_t *loop, int fd,
                         const muster_acceptor_options_t *options,
                         muster_acceptor_t **out) {
  if (loop == NULL || options == NULL || out == NULL ||
      options->on_connection == NULL || fd < 0)
    return MUSTER_EINVAL;
  muster_acceptor_t *a = calloc(1, sizeof *a);
  if (a == NULL)
    return MUSTER_ENOMEM;
  a->loop = loop;
  a->fd = fd;
  a->o = *options;
  int r = uv_poll_init(loop, &a->poll, fd); /* also sets O_NONBLOCK */
  if (r < 0) {
    free(a);
    return r;
  }
  uv_timer_init(loop, &a->timer);
  a->poll.data = a;
  a->timer.data = a;
  a->handles = 2;
  /* Made now, while descriptors remain; when this fails the first EMFILE
   * tries again. */
  a->spare = open_spare();
  update(a);
  *out = a;
  return 0;
}

void muster_acceptor_pause(muster_acceptor_t *a) {
  if (a == NULL || a->closing)
    return;
  a->paused = 1;
  update(a);
}

void muster_acceptor_resume(muster_acceptor_t *a) {
  if (a == NULL || a->closing)
    return;
  a->paused = 0;
  if (a->backoff) {
    uv_timer_stop(&a->timer);
    a->backoff = 0;
  }
  update(a);
}

static void on_closed(uv_handle_t *h) {
  muster_acceptor_t *a = h->data;
  if (--a->handles > 0)
    return;
  if (a->close_cb)
    a->close_cb(a);
  free(a);
}

void muster_acceptor_close(muster_acceptor_t *a, muster_acceptor_close_cb cb) {
  if (a == NULL || a->closing)
    return;
  a->closing = 1;
  a->close_cb = cb;
  a->polling = 0;
  /* uv_close() takes the fd out of epoll now: the owner may close it. */
  uv_close((uv_handle_t *)&a->poll, on_closed);
  uv_close((uv_handle_t *)&a->timer, on_closed);
  if (a->spare >= 0)
    close(a->spare);
  a->spare = -1;
}

int muster_acceptor_fd(const muster_acceptor_t *a) {
  return a->fd;
}

unsigned long long muster_acceptor_count(const muster_acceptor_t *a) {
  return a->count;
}

void *muster_acceptor_data(const muster_acceptor_t *a) {
  return a->o.data;
}

void muster_acceptor_set_data(muster_acceptor_t *a, void *data) {
  a->o.data = data;
}
