/* muster_server_*, and muster_cluster_listen's body below the worker
 * (cluster_server.h says how the two talk): a server in either role. A
 * local server (primary, exclusive, or a plain process) binds its own
 * socket; a worker's server asks the primary (Node's cluster._getServer)
 * and then either receives connections from it (round-robin: no socket
 * here) or accepts on the socket it was given (shared, reuseport). */
#include "cluster_server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void maybe_free(muster_server_t *s);
static void server_part_closed(muster_server_t *s);

/* ---- accepting on a socket of our own -------------------------------------
 */

static void on_accept(muster_acceptor_t *a, int fd) {
  muster_server_t *s = muster_acceptor_data(a);
  s->open++;
  s->o.on_connection(s, fd);
}

static void on_acceptor_closed(muster_acceptor_t *a) {
  server_part_closed(muster_acceptor_data(a));
}

/* Out of descriptors, the acceptor closes pending connections (or pauses
 * for 100 ms): muster/acceptor.h. In shared mode an EAGAIN only means that
 * another worker won the race. */
static int start_accepting(muster_server_t *s) {
  if (s->udp || s->acceptor || s->stopped)
    return 0;
  muster_acceptor_options_t ao = {.on_connection = on_accept, .data = s};
  int r = muster_acceptor_open(s->loop, s->fd, &ao, &s->acceptor);
  if (r == 0)
    s->handles_open++;
  return r;
}

static void stop_accepting(muster_server_t *s) {
  /* Closed, not paused: the socket is closed next, and a poll handle must
   * leave epoll before its fd does. */
  if (s->acceptor)
    muster_acceptor_close(s->acceptor, on_acceptor_closed);
  s->acceptor = NULL;
}

static void server_timer_cb(uv_timer_t *t) {
  muster_server_t *s = t->data;
  if (s->status_pending) {
    s->status_pending = 0;
    if (s->o.on_listening)
      s->o.on_listening(s, s->status);
  }
}

static void deliver_status(muster_server_t *s, int status) {
  s->status = status;
  s->status_pending = 1;
  uv_timer_start(&s->timer, server_timer_cb, 0, 0);
}

/* ---- the index of a listen (child.js _getServer) ---------------------------
 */

static struct index_entry *take_index(muster__server_link_t *link,
                                      const char *ikey, int *index) {
  struct index_entry *e;
  for (e = link->indexes; e; e = e->next)
    if (strcmp(e->key, ikey) == 0)
      break;
  if (e == NULL) {
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->key = strdup(ikey)) == NULL) {
      free(e);
      return NULL;
    }
    e->next = link->indexes;
    link->indexes = e;
  }
  *index = e->next_index++;
  e->live++;
  return e;
}

static void drop_index(muster__server_link_t *link, struct index_entry *e) {
  if (e == NULL || --e->live > 0)
    return;
  for (struct index_entry **p = &link->indexes; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      break;
    }
  free(e->key);
  free(e);
}

/* ---- listen
 * ------------------------------------------------------------------ */

/* The queryServer for this server, as Node's net.js and child.js form it
 * (address, port -1 and addressType -1 for a pipe, "udp4"/"udp6" and fd
 * -1 for UDP), with the index that tells listens on the same address
 * apart. Returns 0 or MUSTER_ENOMEM. */
static int build_query(muster_server_t *s, muster__server_link_t *link) {
  const muster_listen_options_t *lo = &s->o.listen;
  muster__cluster_msg_t *q = &s->query;
  int v6 = s->address && strchr(s->address, ':');
  memset(q, 0, sizeof *q);
  q->act = MUSTER__CLUSTER_QUERY_SERVER;
  q->address = s->address;
  q->port = lo->port;
  q->flags = lo->flags & MUSTER_LISTEN_IPV6ONLY ? 1 : 0;
  q->backlog = lo->backlog;
  q->fields = MUSTER__CLUSTER_F_BACKLOG;
  if (lo->kind == MUSTER_LISTEN_UNIX) {
    q->address_type = -1;
    q->port = -1;
  } else if (lo->kind == MUSTER_LISTEN_UDP) {
    q->udp = v6 ? 6 : 4;
    q->fd = -1;
    q->fields = MUSTER__CLUSTER_F_FD;
  } else {
    q->address_type = v6 ? 6 : 4;
  }
  /* The index key: the server key without its index. */
  json_t *j = muster__cluster_encode(q, 0);
  char *ikey = j ? muster__cluster_key(j, 0, 0) : NULL;
  json_decref(j);
  if (ikey == NULL)
    return MUSTER_ENOMEM;
  s->index = take_index(link, ikey, &q->index);
  free(ikey);
  return s->index ? 0 : MUSTER_ENOMEM;
}

static int resolve_path(const char *path, char **out) {
  if (path == NULL)
    return MUSTER_EINVAL;
  if (path[0] == '/') {
    *out = strdup(path);
  } else {
    /* Node resolves a relative path against the cwd (path.resolve). */
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
      return -errno;
    size_t n = strlen(cwd) + strlen(path) + 2;
    *out = malloc(n);
    if (*out)
      snprintf(*out, n, "%s/%s", cwd, path);
  }
  return *out ? 0 : MUSTER_ENOMEM;
}

static int send_close(muster__server_link_t *link, const char *key) {
  if (link->ended)
    return MUSTER_ENOTCONN;
  muster__cluster_msg_t m = {.act = MUSTER__CLUSTER_CLOSE, .key = key};
  return muster__cluster_send(link->channel, &link->seq, &m, -1, 0);
}

int muster__server_open(uv_loop_t *loop, muster__server_link_t *link,
                        const muster_server_options_t *options,
                        muster_server_t **out) {
  if (loop == NULL || options == NULL || out == NULL)
    return MUSTER_EINVAL;
  const muster_listen_options_t *lo = &options->listen;
  if (lo->kind != MUSTER_LISTEN_UDP && options->on_connection == NULL)
    return MUSTER_EINVAL;
  if (lo->kind > MUSTER_LISTEN_UDP || lo->port < 0 || lo->port > 65535)
    return MUSTER_EINVAL;
  int local = link == NULL || (options->flags & MUSTER_SERVER_EXCLUSIVE);
  if (!local && (link->ended || link->disconnecting))
    return MUSTER_ENOTCONN;
  muster_server_t *s = calloc(1, sizeof *s);
  if (s == NULL)
    return MUSTER_ENOMEM;
  s->o = *options;
  s->loop = loop;
  s->fd = -1;
  s->udp = lo->kind == MUSTER_LISTEN_UDP;
  s->local = local;
  int err = 0;
  if (lo->kind == MUSTER_LISTEN_UNIX && !local)
    err = resolve_path(lo->address, &s->address);
  else if (lo->address && *lo->address &&
           (s->address = strdup(lo->address)) == NULL)
    err = MUSTER_ENOMEM;
  if (err)
    goto fail;
  s->o.listen.address = s->address;
  if (local) {
    err = muster_listen(&s->o.listen, &s->fd);
    if (err)
      goto fail;
    s->mode = MUSTER_SCHED_SHARED;
    muster_listen_address(s->fd, s->sock_addr, sizeof s->sock_addr,
                          &s->sock_port);
    err = start_accepting(s);
    if (err) {
      close(s->fd);
      goto fail;
    }
    s->listening = 1;
  } else {
    err = build_query(s, link);
    if (err)
      goto fail;
    s->query_seq = link->seq;
    err = muster__cluster_send(link->channel, &link->seq, &s->query, -1, 0);
    if (err) {
      drop_index(link, s->index);
      goto fail;
    }
    s->querying = 1;
    s->link = link;
    s->next = link->servers;
    link->servers = s;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  s->handles_open++;
  if (local)
    deliver_status(s, 0);
  *out = s;
  return 0;
fail:
  free(s->address);
  free(s);
  return err;
}

/* The primary's answer to our queryServer. */
void muster__server_reply(muster_server_t *s, const muster__cluster_msg_t *msg,
                          int status, int fd) {
  muster__server_link_t *link = s->link;
  s->querying = 0;
  const char *key = msg->key;
  int err = status < 0 ? status : msg->err;
  if (key && !err)
    s->key = strdup(key);
  if (s->stopped || s->closed) {
    /* Closed while asking: give the key straight back. */
    if (fd >= 0)
      close(fd);
    if (s->key)
      send_close(link, s->key);
    if (!s->closed)
      deliver_status(s, MUSTER_ECANCELED);
    maybe_free(s);
    return;
  }
  if (err) {
    if (fd >= 0)
      close(fd);
    deliver_status(s, err);
    return;
  }
  if (fd >= 0) {
    /* SCHED_NONE / reuseport: a bound socket; listen() is ours to call.
     * O_NONBLOCK is shared with the primary's copy: leave it set. */
    s->fd = fd;
    s->mode = MUSTER_SCHED_SHARED;
    int r = 0;
    if (!s->udp &&
        listen(fd, s->o.listen.backlog > 0 ? s->o.listen.backlog : 511) != 0)
      r = -errno;
    if (r == 0)
      r = start_accepting(s);
    if (r < 0) {
      deliver_status(s, r);
      return;
    }
    muster_listen_address(fd, s->sock_addr, sizeof s->sock_addr, &s->sock_port);
  } else {
    s->mode = MUSTER_SCHED_RR;
    const char *a = msg->sock_address;
    if (a)
      snprintf(s->sock_addr, sizeof s->sock_addr, "%s", a);
    else if (s->address)
      snprintf(s->sock_addr, sizeof s->sock_addr, "%s", s->address);
    s->sock_port = msg->sock_port;
  }
  s->listening = 1;
  muster__cluster_msg_t l = s->query;
  l.act = MUSTER__CLUSTER_LISTENING;
  if (s->o.listen.kind != MUSTER_LISTEN_UNIX && s->sock_port)
    l.port = s->sock_port;
  muster__cluster_send(link->channel, &link->seq, &l, -1, 0);
  deliver_status(s, 0);
}

void muster__server_newconn(muster__server_link_t *link,
                            const muster__cluster_msg_t *msg,
                            muster_message_t *m) {
  const char *key = msg->key;
  muster_server_t *s = NULL;
  for (muster_server_t *p = link->servers; p && key; p = p->next)
    if (p->key && p->listening && !p->stopped && strcmp(p->key, key) == 0)
      s = p;
  int accepted = s != NULL && !link->disconnecting &&
                 (s->o.max_connections == 0 || s->open < s->o.max_connections);
  int fd = muster_message_take_handle(m, NULL);
  if (fd < 0)
    accepted = 0;
  muster__cluster_msg_t r = {.act = MUSTER__CLUSTER_REPLY,
                             .fields = MUSTER__CLUSTER_F_ACCEPTED,
                             .ack = msg->seq,
                             .accepted = accepted};
  muster__cluster_send(link->channel, &link->seq, &r, -1, 0);
  if (!accepted) {
    if (fd >= 0)
      close(fd);
    return;
  }
  s->open++;
  s->o.on_connection(s, fd);
}

void muster__server_stop(muster_server_t *s) {
  if (s->stopped)
    return;
  s->stopped = 1;
  stop_accepting(s);
  if (s->fd >= 0 && !s->udp) {
    /* A local Unix server owns its path, as libuv's pipe server does. */
    if (s->local && s->o.listen.kind == MUSTER_LISTEN_UNIX && s->address)
      unlink(s->address);
    close(s->fd);
    s->fd = -1;
  }
  s->listening = 0;
  if (s->link && s->key && !s->link->ended)
    send_close(s->link, s->key);
}

void muster__server_link_ended(muster__server_link_t *link) {
  for (muster_server_t *s = link->servers; s; s = s->next)
    if (s->querying) {
      s->querying = 0;
      if (!s->closed)
        deliver_status(s, MUSTER_ENOTCONN);
    }
  muster_server_t *next;
  for (muster_server_t *s = link->servers; s; s = next) {
    next = s->next;
    maybe_free(s);
  }
}

static void server_part_closed(muster_server_t *s) {
  if (--s->handles_open > 0)
    return;
  if (s->close_cb && !s->freeing)
    s->close_cb(s);
  free(s->address);
  free(s->key);
  free(s);
}

static void server_timer_closed(uv_handle_t *h) {
  server_part_closed(h->data);
}

void muster__server_flush_report(muster_server_t *s) {
  muster__server_link_t *link = s->link;
  if (s->unreported == 0 || link == NULL || link->ended || s->key == NULL)
    return;
  muster__cluster_msg_t m = {
      .act = MUSTER__CLUSTER_CLOSED, .key = s->key, .n = s->unreported};
  muster__cluster_send(link->channel, &link->seq, &m, -1, 0);
  s->unreported = 0;
}

void muster__server_free_now(muster_server_t *s, int call_cb) {
  muster__server_link_t *link = s->link;
  muster__server_flush_report(s);
  muster__server_stop(s);
  if (link) {
    for (muster_server_t **p = &link->servers; *p; p = &(*p)->next)
      if (*p == s) {
        *p = s->next;
        break;
      }
    drop_index(link, s->index);
    s->link = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  s->freeing = !call_cb; /* the worker's close: no user callback */
  s->closed = 1;
  stop_accepting(s);
  uv_close((uv_handle_t *)&s->timer, server_timer_closed);
}

static void maybe_free(muster_server_t *s) {
  if (s->closed && s->open == 0 && !s->querying &&
      !uv_is_closing((uv_handle_t *)&s->timer))
    muster__server_free_now(s, 1);
}

void muster_server_close(muster_server_t *s, muster_server_close_cb cb) {
  if (s == NULL || s->closed)
    return;
  s->closed = 1;
  s->close_cb = cb;
  s->status_pending = 0;
  uv_timer_stop(&s->timer);
  muster__server_stop(s);
  maybe_free(s);
}

void muster_server_connection_closed(muster_server_t *s) {
  if (s == NULL || s->open == 0)
    return;
  s->open--;
  muster__server_link_t *link = s->link;
  if (link && s->mode == MUSTER_SCHED_RR && s->key && !link->ended) {
    /* One report per server and loop turn, however many closed. */
    s->unreported++;
    link->arm_report(link);
  }
  if (link)
    link->check_drained(link);
  maybe_free(s);
}

unsigned muster_server_connections(const muster_server_t *s) {
  return s->open;
}

int muster_server_fd(const muster_server_t *s) {
  return s->listening ? s->fd : -1;
}

int muster_server_address(const muster_server_t *s, char *addr, size_t len,
                          int *port) {
  if (!s->listening)
    return MUSTER_ENOTCONN;
  if (addr) {
    if (strlen(s->sock_addr) + 1 > len)
      return MUSTER_ENOBUFS;
    strcpy(addr, s->sock_addr);
  }
  if (port)
    *port = s->sock_port;
  return 0;
}

const char *muster_server_key(const muster_server_t *s) {
  return s->key;
}
muster_sched_t muster_server_mode(const muster_server_t *s) {
  return s->listening ? s->mode : MUSTER_SCHED_DEFAULT;
}
void *muster_server_data(const muster_server_t *s) {
  return s->o.data;
}
void muster_server_set_data(muster_server_t *s, void *data) {
  s->o.data = data;
}
