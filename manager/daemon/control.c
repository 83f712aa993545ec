/* The control socket: accept (through the library's acceptor,
 * muster/acceptor.h, which also copes with running out of descriptors),
 * check the peer's uid, read request lines, answer each through the codec
 * of muster/client.h.
 *
 * A connection carries one request at a time: reading stops while a
 * request is being answered (a `stop` may take seconds) and resumes after
 * its reply is queued, so replies come in order and a client can never
 * queue unbounded work. A line over MUSTER_CLIENT_MAX_REQUEST gets an
 * EMSGSIZE reply and the connection is closed after it; any other bad line
 * gets an error reply and the connection stays usable. */
#include "daemon.h"

#include <muster.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* More connections than this at once are refused (closed at accept). */
#define MAX_CONNS 1024

typedef struct conn_s conn_t;

struct control_s {
  daemon_t *d;
  int fd; /* the listening socket */
  muster_acceptor_t *acceptor;
  conn_t *conns; /* doubly linked */
  int nconns;
  int closing;
  int server_closed;
};

struct conn_s {
  uv_pipe_t pipe;
  control_t *ctl;
  conn_t *prev, *next;
  char *buf;
  size_t len, cap;
  ctl_req_t *pending; /* the request being answered, or NULL */
  int close_after;    /* close once the queued writes are done */
  int closed;
};

struct ctl_req_s {
  conn_t *conn; /* NULL once the connection is gone */
  uint64_t id;
  void (*on_gone)(void *); /* ctl_watch */
  void *gone_data;
};

static void conn_close(conn_t *c);
static void conn_process(conn_t *c);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

/* The control object outlives its last connection and its server. */
static void maybe_free(control_t *ctl) {
  if (ctl->closing && ctl->server_closed && ctl->nconns == 0)
    free(ctl);
}

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  control_t *ctl = c->ctl;
  free(c->buf);
  free(c);
  ctl->nconns--;
  maybe_free(ctl);
}

/* The connection goes: its pending request can no longer be answered, and
 * a watcher of it (ctl_watch) is told. */
static void detach_pending(conn_t *c) {
  ctl_req_t *q = c->pending;
  c->pending = NULL;
  if (q == NULL)
    return;
  q->conn = NULL;
  void (*gone)(void *) = q->on_gone;
  q->on_gone = NULL;
  if (gone)
    gone(q->gone_data);
}

static void conn_close(conn_t *c) {
  if (c->closed)
    return;
  c->closed = 1;
  detach_pending(c);
  control_t *ctl = c->ctl;
  if (c->prev)
    c->prev->next = c->next;
  else
    ctl->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

typedef struct {
  uv_write_t w;
  conn_t *conn;
  char *line;
} wreq_t;

static void on_written(uv_write_t *w, int status) {
  wreq_t *wr = (wreq_t *)w;
  conn_t *c = wr->conn;
  free(wr->line);
  free(wr);
  if (status == UV_ECANCELED)
    return; /* the connection is being closed */
  if (status < 0 || (c->close_after && uv_stream_get_write_queue_size(
                                           (uv_stream_t *)&c->pipe) == 0))
    conn_close(c);
}

/* Queues one reply line; takes `line`. */
static void conn_write(conn_t *c, char *line, size_t len) {
  wreq_t *wr = malloc(sizeof *wr);
  if (wr == NULL) {
    free(line);
    conn_close(c);
    return;
  }
  wr->conn = c;
  wr->line = line;
  uv_buf_t b = uv_buf_init(line, (unsigned)len);
  if (uv_write(&wr->w, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
    free(line);
    free(wr);
    conn_close(c);
  }
}

/* A reply with result (a tree), or text (a result written as JSON). */
static void conn_send_any(conn_t *c, uint64_t id, int err, const char *message,
                          json_t *result, const char *text, size_t text_len) {
  muster_client_reply_t rep = {.id = id,
                               .error = err,
                               .message = (char *)message,
                               .result = result,
                               .result_text = text,
                               .result_len = text_len};
  char *line;
  size_t len;
  int r = muster_client_reply_encode(&rep, &line, &len);
  if (r < 0) {
    /* A result too large or not encodable: say so instead. */
    rep.error = r;
    rep.message = r == MUSTER_EMSGSIZE ? "reply too large" : NULL;
    rep.result = NULL;
    rep.result_text = NULL;
    if (muster_client_reply_encode(&rep, &line, &len) < 0) {
      conn_close(c);
      return;
    }
  }
  conn_write(c, line, len);
}

static void conn_send(conn_t *c, uint64_t id, int err, const char *message,
                      json_t *result) {
  conn_send_any(c, id, err, message, result, NULL, 0);
}

static void reply(ctl_req_t *req, int err, const char *message,
                  json_t *result, const char *text, size_t text_len) {
  conn_t *c = req->conn;
  if (c != NULL && !c->closed) {
    conn_send_any(c, req->id, err, message, err ? NULL : result, text,
                  text_len);
    c->pending = NULL;
  }
  json_decref(result);
  free(req);
  if (c != NULL)
    daemon_trim_soon(c->ctl->d);
  if (c != NULL && !c->closed && !c->close_after) {
    /* The next request may already be buffered. */
    conn_process(c);
  }
}

void ctl_reply(ctl_req_t *req, int err, const char *message, json_t *result) {
  reply(req, err, message, result, NULL, 0);
}

void ctl_reply_text(ctl_req_t *req, const char *text, size_t len) {
  reply(req, 0, NULL, NULL, text, len);
}

void ctl_replyf(ctl_req_t *req, int err, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ctl_reply(req, err, msg, NULL);
}

int64_t ctl_more(ctl_req_t *req, json_t *result) {
  conn_t *c = req->conn;
  if (result == NULL)
    return c == NULL || c->closed ? MUSTER_ENOTCONN
                                  : (int64_t)uv_stream_get_write_queue_size(
                                        (uv_stream_t *)&c->pipe);
  muster_client_reply_t rep = {.id = req->id, .result = result, .more = 1};
  char *line;
  size_t len;
  int r = c == NULL || c->closed
              ? MUSTER_ENOTCONN
              : muster_client_reply_encode(&rep, &line, &len);
  json_decref(result);
  if (r < 0)
    return r;
  conn_write(c, line, len);
  if (c->closed)
    return MUSTER_ENOTCONN;
  return (int64_t)uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

void ctl_watch(ctl_req_t *req, void (*on_gone)(void *data), void *data) {
  conn_t *c = req->conn;
  req->on_gone = on_gone;
  req->gone_data = data;
  if (c != NULL && !c->closed)
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)hint;
  if (c->cap - c->len < 16384) {
    size_t cap = c->cap ? c->cap * 2 : 16384;
    /* Room for one whole request plus the reads that reveal it is too
     * long; never more. */
    if (cap > MUSTER_CLIENT_MAX_REQUEST + 65536)
      cap = MUSTER_CLIENT_MAX_REQUEST + 65536;
    char *grown = cap > c->cap ? realloc(c->buf, cap) : NULL;
    if (grown != NULL) {
      c->buf = grown;
      c->cap = cap;
    }
  }
  *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
  if (c->buf == NULL)
    *buf = uv_buf_init(NULL, 0);
}

/* Answers the buffered lines, one at a time (see the top of the file). */
static void conn_process(conn_t *c) {
  while (!c->closed && !c->close_after && c->pending == NULL) {
    char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
    if (nl == NULL) {
      if (c->len > MUSTER_CLIENT_MAX_REQUEST) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->close_after = 1;
        conn_send(c, 0, MUSTER_EMSGSIZE, "request line too long", NULL);
      } else {
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
      }
      return;
    }
    size_t n = (size_t)(nl - c->buf) + 1;
    muster_client_request_t req;
    int r = muster_client_request_decode(c->buf, n, &req);
    if (r == 0) {
      ctl_req_t *q = calloc(1, sizeof *q);
      if (q == NULL) {
        r = MUSTER_ENOMEM;
      } else {
        q->conn = c;
        q->id = req.id;
        c->pending = q;
        uv_read_stop((uv_stream_t *)&c->pipe);
        json_t *args = req.args ? json_incref(req.args) : json_object();
        muster_client_cmd_t cmd = req.cmd;
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        muster_client_request_clear(&req);
        commands_run(c->ctl->d, q, cmd, args);
        json_decref(args);
        continue;
      }
    }
    const char *what = r == MUSTER_ENOMEM   ? "out of memory"
                       : r == MUSTER_ENOSYS ? "unknown command"
                       : r == MUSTER_EPROTONOSUPPORT
                           ? "unsupported protocol version"
                           : "malformed request";
    conn_send(c, req.id, r, what, NULL);
    muster_client_request_clear(&req);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
  }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn_t *c = s->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (c->pending && c->pending->on_gone)
    return; /* read only to see the peer go (ctl_watch) */
  c->len += (size_t)n;
  conn_process(c);
}

/* Only our own uid, or root, may drive the daemon: the directory's 0700
 * already keeps others out, unless it was made wider by hand or the socket
 * was passed on. */
static int peer_allowed(uv_pipe_t *p) {
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (uv_fileno((uv_handle_t *)p, &fd) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return 0;
  return cred.uid == geteuid() || cred.uid == 0;
}

static void on_connection(muster_acceptor_t *a, int fd) {
  control_t *ctl = muster_acceptor_data(a);
  if (ctl->nconns >= MAX_CONNS || ctl->closing) {
    close(fd);
    return;
  }
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL || uv_pipe_init(ctl->d->loop, &c->pipe, 0) < 0) {
    free(c);
    close(fd);
    return;
  }
  c->pipe.data = c;
  c->ctl = ctl;
  c->next = ctl->conns;
  if (c->next)
    c->next->prev = c;
  ctl->conns = c;
  ctl->nconns++;
  if (uv_pipe_open(&c->pipe, fd) < 0) {
    close(fd); /* the pipe did not take it */
    conn_close(c);
    return;
  }
  if (!peer_allowed(&c->pipe)) {
    c->close_after = 1;
    conn_send(c, 0, MUSTER_EACCES,
              "this daemon serves only its own user and root", NULL);
    return;
  }
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Out of descriptors: the acceptor closed the waiting connections (their
 * clients see the connection closed) and goes on; the log says why. */
static void on_accept_error(muster_acceptor_t *a, int err) {
  (void)a;
  fprintf(stderr, "muster daemon: accepting on the control socket: %s (%s)\n",
          muster_err_name(err), muster_strerror(err));
}

/* Binds the socket with mode 0600 from the start: umask covers the window
 * between bind() and chmod(). The lock is held, so no other daemon uses
 * the path: a file left there by a dead one is removed. */
static int bind_socket(const char *path, int *out) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  unlink(path);
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 511) < 0) {
    r = -errno;
    close(fd);
    return r;
  }
  *out = fd;
  return 0;
}

static void on_acceptor_closed(muster_acceptor_t *a) {
  control_t *ctl = muster_acceptor_data(a);
  ctl->server_closed = 1;
  maybe_free(ctl);
}

int control_listen(daemon_t *d, control_t **out) {
  control_t *ctl = calloc(1, sizeof *ctl);
  if (ctl == NULL)
    return MUSTER_ENOMEM;
  ctl->d = d;
  int r = bind_socket(d->home.sock, &ctl->fd);
  if (r < 0) {
    free(ctl);
    return r;
  }
  muster_acceptor_options_t o = {
      .on_connection = on_connection, .on_error = on_accept_error, .data = ctl};
  if ((r = muster_acceptor_open(d->loop, ctl->fd, &o, &ctl->acceptor)) < 0) {
    close(ctl->fd);
    free(ctl);
    return r;
  }
  *out = ctl;
  return 0;
}

void control_close(control_t *ctl) {
  if (ctl == NULL || ctl->closing)
    return;
  ctl->closing = 1;
  unlink(ctl->d->home.sock);
  /* Replies still queued (the answer to `kill`) go out first. */
  conn_t *next;
  for (conn_t *c = ctl->conns; c; c = next) {
    next = c->next;
    detach_pending(c);
    uv_read_stop((uv_stream_t *)&c->pipe);
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > 0)
      c->close_after = 1;
    else
      conn_close(c);
  }
  muster_acceptor_close(ctl->acceptor, on_acceptor_closed);
  close(ctl->fd);
}
