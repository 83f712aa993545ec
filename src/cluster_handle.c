/* The primary's sockets, one per server key, and how connections reach the
 * workers: round-robin and least-connections (the primary accepts and hands
 * each connection over), shared (every worker gets the same bound socket)
 * and reuseport (every worker its own SO_REUSEPORT socket).
 *
 * Round-robin follows Node's round_robin_handle.js: a FIFO of idle workers,
 * a FIFO of accepted connections, and at most one hand-off in flight per
 * worker and key. Unlike Node, a connection whose hand-off is still
 * unanswered when the worker's channel ends goes back to the head of the
 * queue (Node leaks it), and a key whose last worker left keeps its socket
 * for a while (ready_timeout_ms), so a restarted worker gets the same socket
 * (and the same port 0) and connections that arrived meanwhile. */
#include "cluster_primary.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 128
#define QUEUE_PAUSE 1024

static void dispatch(cluster_handle_t *h);

/* ---- lookup and life ------------------------------------------------------
 */

static cluster_handle_t *find_handle(muster_cluster_t *c, const char *key) {
  for (cluster_handle_t *h = c->handles; h; h = h->next)
    if (!h->closing && strcmp(h->key, key) == 0)
      return h;
  return NULL;
}

static member_t *find_member(cluster_handle_t *h, muster_worker_t *w) {
  for (unsigned i = 0; i < h->nmembers; i++)
    if (h->members[i]->worker == w)
      return h->members[i];
  return NULL;
}

static void handle_part_closed(cluster_handle_t *h) {
  muster_cluster_t *c = h->cluster;
  if (--h->closing > 1)
    return;
  /* closing counts 1 + the timer and acceptor still open */
  free(h->key);
  free(h->address);
  free(h->members);
  free(h->queue);
  json_decref(h->data);
  free(h);
  c->handles_open--;
  c->up->part_freed(c);
}

static void on_timer_closed(uv_handle_t *uvh) {
  handle_part_closed(uvh->data);
}

static void on_acceptor_closed(muster_acceptor_t *a) {
  handle_part_closed(muster_acceptor_data(a));
}

static void unlink_member(member_t *m) {
  muster_worker_t *w = m->worker;
  for (member_t **p = &w->members; *p; p = &(*p)->next_in_worker)
    if (*p == m) {
      *p = m->next_in_worker;
      break;
    }
  free(m->key);
  free(m);
}

static void close_handle(cluster_handle_t *h) {
  if (h->closing)
    return;
  muster_cluster_t *c = h->cluster;
  for (cluster_handle_t **p = &c->handles; *p; p = &(*p)->next)
    if (*p == h) {
      *p = h->next;
      break;
    }
  for (unsigned i = 0; i < h->nmembers; i++)
    unlink_member(h->members[i]);
  h->nmembers = 0;
  /* Hand-offs in flight keep their fd: the worker's reply (or the end of
   * its channel) closes it, since the handle is gone. */
  for (muster_worker_t *w = c->workers; w; w = w->next)
    for (inflight_t *f = w->inflight; f; f = f->next)
      if (f->handle == h)
        f->handle = NULL;
  while (h->qlen > 0) {
    close(h->queue[h->qhead]);
    h->qhead = (h->qhead + 1) % h->qcap;
    h->qlen--;
  }
  if (h->is_unix && h->fd >= 0 && h->err == 0 && h->address)
    unlink(h->address); /* as libuv does when a bound pipe closes */
  c->handles_open++;
  /* closing = 1 + the timer and the acceptor still to close */
  h->closing = 2 + (h->acceptor ? 1 : 0);
  uv_close((uv_handle_t *)&h->timer, on_timer_closed);
  muster_acceptor_close(h->acceptor, on_acceptor_closed);
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
}

void muster__handles_close_all(muster_cluster_t *c) {
  while (c->handles)
    close_handle(c->handles);
}

static void linger_cb(uv_timer_t *t) {
  cluster_handle_t *h = t->data;
  if (h->nmembers == 0)
    close_handle(h);
}

static void remove_member(cluster_handle_t *h, member_t *m) {
  for (unsigned i = 0; i < h->nmembers; i++)
    if (h->members[i] == m) {
      h->members[i] = h->members[--h->nmembers];
      break;
    }
  unlink_member(m);
  if (h->nmembers == 0 && !h->closing) {
    /* Keep the socket for a restart or a reload's new worker; a closing
     * cluster closes it at once. */
    if (h->cluster->closing)
      close_handle(h);
    else
      uv_timer_start(&h->timer, linger_cb, h->cluster->ready_timeout_ms, 0);
  }
}

/* ---- the queue of accepted connections ----------------------------------- */

static int queue_push(cluster_handle_t *h, int fd, int front) {
  if (h->qlen == h->qcap) {
    unsigned ncap = h->qcap ? h->qcap * 2 : 16;
    int *q = malloc(ncap * sizeof *q);
    if (q == NULL)
      return MUSTER_ENOMEM;
    for (unsigned i = 0; i < h->qlen; i++)
      q[i] = h->queue[(h->qhead + i) % h->qcap];
    free(h->queue);
    h->queue = q;
    h->qhead = 0;
    h->qcap = ncap;
  }
  if (front) {
    h->qhead = (h->qhead + h->qcap - 1) % h->qcap;
    h->queue[h->qhead] = fd;
  } else {
    h->queue[(h->qhead + h->qlen) % h->qcap] = fd;
  }
  h->qlen++;
  return 0;
}

static int queue_pop(cluster_handle_t *h) {
  int fd = h->queue[h->qhead];
  h->qhead = (h->qhead + 1) % h->qcap;
  h->qlen--;
  return fd;
}

static void requeue(cluster_handle_t *h, int fd) {
  if (h == NULL || h->closing || queue_push(h, fd, 1) != 0)
    close(fd);
}

/* ---- accepting (RR, LEAST_CONN) -------------------------------------------
 */

static void on_accept(muster_acceptor_t *a, int fd) {
  cluster_handle_t *h = muster_acceptor_data(a);
  if (queue_push(h, fd, 0) != 0) {
    close(fd);
    return;
  }
  if (h->qlen >= QUEUE_PAUSE) {
    /* The kernel's backlog holds the rest. */
    muster_acceptor_pause(a);
    h->full = 1;
  }
  dispatch(h);
}

static void on_accept_error(muster_acceptor_t *a, int err) {
  cluster_handle_t *h = muster_acceptor_data(a);
  h->cluster->up->error(h->cluster, NULL, err);
}

/* How many hand-offs a worker may have unanswered. A Node worker gets one,
 * as Node's primary gives it: a worker whose loop is busy then stops being
 * handed connections, and they wait here. A muster worker (it said so in
 * "online") gets several: each hand-off otherwise costs a sleep and a
 * wake-up in both processes, the larger part of what round-robin costs per
 * connection, and the channel pipelines handles between muster ends. */
#define MUSTER_PEER_INFLIGHT 8

static unsigned inflight_limit(const member_t *m) {
  return m->worker->muster_peer ? MUSTER_PEER_INFLIGHT : 1;
}

/* The window above is earned by answering: a worker gets a second hand-off
 * while it has one unanswered only if it answered one within the last
 * HANDOFF_DEADLINE_MS and its oldest unanswered one is younger than that.
 * Without this rule a worker stopped by SIGSTOP (or stuck in a long
 * computation) was handed up to 8 connections that no one would serve,
 * while the other workers idled. With it a worker idle for a while, then
 * stopped, gets one (as from Node's primary), and a worker stopped under
 * load stops getting new ones once its oldest is that late; the queued
 * connections go to the others. A hand-off already written to the stopped
 * worker stays its own: it may be serving it already, so the primary's
 * copy cannot go to a second worker. */
#define HANDOFF_DEADLINE_MS 100

static int answering(const muster_worker_t *w, uint64_t now) {
  if (now - w->last_answer > HANDOFF_DEADLINE_MS)
    return 0;
  const inflight_t *oldest = w->inflight;
  while (oldest && oldest->next)
    oldest = oldest->next; /* the list is newest first */
  return oldest == NULL || now - oldest->sent <= HANDOFF_DEADLINE_MS;
}

/* The worker that gets the next connection, among those with room for a
 * hand-off: round-robin takes the one waiting the longest (a worker with
 * room left goes to the back of the line after each hand-off, so workers
 * take turns); least-connections the one with the fewest open and
 * unanswered connections, then the one waiting the longest. A Node worker
 * never reports closes, so its count would only grow: it counts as 0. */
static member_t *pick(cluster_handle_t *h) {
  member_t *best = NULL;
  unsigned best_open = 0;
  uint64_t now = uv_now(h->cluster->loop);
  for (unsigned i = 0; i < h->nmembers; i++) {
    member_t *m = h->members[i];
    if (!m->is_free || m->worker->leaving)
      continue;
    if (m->worker->muster_peer && m->worker->inflight != NULL &&
        !answering(m->worker, now))
      continue;
    unsigned open = 0;
    if (h->sched == MUSTER_SCHED_LEAST_CONN && m->worker->muster_peer)
      open = m->open + m->inflight;
    if (best == NULL || open < best_open ||
        (open == best_open && m->ticket < best->ticket)) {
      best = m;
      best_open = open;
    }
  }
  return best;
}

static void make_free(member_t *m) {
  m->is_free = 1;
  m->ticket = m->handle->next_ticket++;
}

static int handoff(member_t *m, int fd) {
  cluster_handle_t *h = m->handle;
  muster_worker_t *w = m->worker;
  muster_cluster_t *c = h->cluster;
  inflight_t *f = malloc(sizeof *f);
  if (f == NULL)
    return MUSTER_ENOMEM;
  muster__cluster_msg_t msg = {.act = MUSTER__CLUSTER_NEWCONN, .key = h->key};
  unsigned seq = c->seq;
  /* keep_open: the primary keeps its copy until the worker says
   * accepted:true; with accepted:false it goes to another worker. */
  int r = muster__cluster_send(w->channel, &c->seq, &msg, fd, 1);
  if (r < 0) {
    free(f);
    return r;
  }
  f->seq = seq;
  f->fd = fd;
  f->handle = h;
  f->sent = uv_now(c->loop);
  f->next = w->inflight;
  w->inflight = f;
  m->inflight++;
  if (m->inflight < inflight_limit(m))
    make_free(m); /* room for more: to the back of the line */
  else
    m->is_free = 0;
  return 0;
}

static void dispatch(cluster_handle_t *h) {
  if (h->closing ||
      (h->sched != MUSTER_SCHED_RR && h->sched != MUSTER_SCHED_LEAST_CONN))
    return;
  while (h->qlen > 0) {
    member_t *m = pick(h);
    if (m == NULL)
      break;
    int fd = queue_pop(h);
    if (handoff(m, fd) != 0) {
      queue_push(h, fd, 1);
      m->is_free = 0; /* its channel is gone: removal follows */
    }
  }
  if (h->full && h->qlen < QUEUE_PAUSE / 2) {
    h->full = 0;
    muster_acceptor_resume(h->acceptor);
  }
}

/* ---- replies from workers --------------------------------------------------
 */

void muster__handle_reply(muster_worker_t *w,
                          const muster__cluster_msg_t *msg) {
  long long ack = msg->ack;
  inflight_t **p = &w->inflight;
  while (*p && (long long)(*p)->seq != ack)
    p = &(*p)->next;
  inflight_t *f = *p;
  if (f == NULL)
    return; /* an ack nobody waits for: ignore it, never crash */
  *p = f->next;
  w->last_answer = uv_now(w->cluster->loop);
  cluster_handle_t *h = f->handle;
  member_t *m = h ? find_member(h, w) : NULL;
  if (msg->accepted) {
    close(f->fd);
    w->open_conns++;
    if (m)
      m->open++;
  } else {
    requeue(h, f->fd);
  }
  free(f);
  if (m) {
    m->inflight--;
    if (!m->is_free)
      make_free(m);
  }
  if (h)
    dispatch(h);
}

void muster__handle_drop_inflight(muster_worker_t *w) {
  while (w->inflight) {
    inflight_t *f = w->inflight;
    w->inflight = f->next;
    /* The worker never answered: whether it got the fd or not, it can no
     * longer serve it through this channel. Another worker takes it. */
    requeue(f->handle, f->fd);
    cluster_handle_t *h = f->handle;
    free(f);
    if (h)
      dispatch(h);
  }
}

void muster__handle_remove_worker(muster_worker_t *w) {
  while (w->members) {
    member_t *m = w->members;
    remove_member(m->handle, m);
  }
}

void muster__handle_close_key(muster_cluster_t *c, muster_worker_t *w,
                              const char *key) {
  (void)c;
  for (member_t *m = w->members; m; m = m->next_in_worker)
    if (strcmp(m->handle->key, key) == 0) {
      remove_member(m->handle, m);
      return;
    }
}

void muster__handle_conn_closed(muster_worker_t *w, const char *key,
                                unsigned n) {
  w->open_conns = w->open_conns > n ? w->open_conns - n : 0;
  for (member_t *m = w->members; m; m = m->next_in_worker)
    if (key == NULL || strcmp(m->handle->key, key) == 0) {
      m->open = m->open > n ? m->open - n : 0;
      break;
    }
}

const char *muster__handle_listening(muster_worker_t *w,
                                     const muster__cluster_msg_t *msg) {
  /* "listening" repeats the queryServer message with the actual port: the
   * key is found with that port, or with port 0 for an ephemeral one. */
  char *key = muster__cluster_key(msg->json, 1, 0);
  char *key0 = muster__cluster_key(msg->json, 1, 1);
  const char *found = NULL;
  for (member_t *m = w->members; m && !found; m = m->next_in_worker)
    if ((key && strcmp(m->key, key) == 0) ||
        (key0 && strcmp(m->key, key0) == 0)) {
      m->listening = 1;
      found = m->key;
    }
  free(key);
  free(key0);
  return found;
}

/* ---- queryServer -----------------------------------------------------------
 */

static cluster_handle_t *create_handle(muster_cluster_t *c, const char *key,
                                       const muster__cluster_msg_t *q) {
  cluster_handle_t *h = calloc(1, sizeof *h);
  if (h == NULL)
    return NULL;
  h->cluster = c;
  h->fd = -1;
  h->key = strdup(key);
  if (q->address)
    h->address = strdup(q->address);
  if (h->key == NULL || (q->address && h->address == NULL)) {
    free(h->key);
    free(h->address);
    free(h);
    return NULL;
  }
  h->udp = q->udp;
  h->is_unix = q->address_type == -1 || q->port < 0;
  h->lo.kind = h->udp       ? MUSTER_LISTEN_UDP
               : h->is_unix ? MUSTER_LISTEN_UNIX
                            : MUSTER_LISTEN_TCP;
  h->lo.address = h->address;
  h->lo.port = h->is_unix ? 0 : q->port;
  h->lo.backlog = q->backlog;
  if (h->lo.backlog <= 0)
    h->lo.backlog = 511;
  /* UV_TCP_IPV6ONLY and UV_UDP_IPV6ONLY are both 1. */
  if (q->flags & 1)
    h->lo.flags |= MUSTER_LISTEN_IPV6ONLY;
  h->sched = c->policy;
  if (h->udp)
    h->sched = MUSTER_SCHED_SHARED; /* nothing to accept; see cluster.h */
  else if (h->is_unix && h->sched == MUSTER_SCHED_REUSEPORT)
    h->sched = MUSTER_SCHED_SHARED;
  uv_timer_init(c->loop, &h->timer);
  h->timer.data = h;
  muster_listen_options_t lo = h->lo;
  if (h->sched == MUSTER_SCHED_SHARED && !h->udp)
    lo.flags |= MUSTER_LISTEN_BIND_ONLY;
  if (h->sched == MUSTER_SCHED_REUSEPORT)
    lo.flags |= MUSTER_LISTEN_BIND_ONLY | MUSTER_LISTEN_REUSEPORT;
  h->err = muster_listen(&lo, &h->fd);
  if (h->err == 0) {
    muster_listen_address(h->fd, h->sock_addr, sizeof h->sock_addr, &h->port);
    if (h->sched == MUSTER_SCHED_RR || h->sched == MUSTER_SCHED_LEAST_CONN) {
      muster_acceptor_options_t ao = {.on_connection = on_accept,
                                      .on_error = on_accept_error,
                                      .batch = ACCEPT_BATCH,
                                      .data = h};
      int r = muster_acceptor_open(c->loop, h->fd, &ao, &h->acceptor);
      if (r < 0)
        h->err = r;
    }
  }
  h->next = c->handles;
  c->handles = h;
  return h;
}

/* The answer to a queryServer (Node's primary.js): errno null when
 * connections will come from the primary, 0 with a socket, or the error. */
static void reply(muster_worker_t *w, const char *key, json_t *data,
                  const muster__cluster_msg_t *q, int err, int fd,
                  int keep_open, const cluster_handle_t *h) {
  muster_cluster_t *c = w->cluster;
  muster__cluster_msg_t m = {.act = MUSTER__CLUSTER_REPLY,
                             .fields = MUSTER__CLUSTER_F_ERRNO |
                                       MUSTER__CLUSTER_F_KEY |
                                       MUSTER__CLUSTER_F_DATA,
                             .ack = q->seq,
                             .err = err,
                             .key = key,
                             .data = data};
  if (!err && fd < 0)
    m.fields |= MUSTER__CLUSTER_F_ERRNO_NULL;
  if (!err && fd < 0 && h != NULL && !h->is_unix) {
    m.fields |= MUSTER__CLUSTER_F_SOCKNAME;
    m.sock_address = h->sock_addr;
    m.sock_v6 = strchr(h->sock_addr, ':') != NULL;
    m.sock_port = h->port;
  }
  int r =
      muster__cluster_send(w->channel, &c->seq, &m, err ? -1 : fd, keep_open);
  if (r < 0 && fd >= 0 && !keep_open)
    close(fd);
}

static void reply_handle(muster_worker_t *w, cluster_handle_t *h,
                         const muster__cluster_msg_t *q, int err, int fd,
                         int keep_open) {
  reply(w, h->key, h->data, q, err, fd, keep_open, h);
}

void muster__handle_query(muster_cluster_t *c, muster_worker_t *w,
                          const muster__cluster_msg_t *msg, int status) {
  if (w->exited_after_disconnect || c->closing)
    return; /* Node: no reply at all */
  char *key = muster__cluster_key(msg->json, 1, 0);
  if (key == NULL)
    return;
  if (status < 0) {
    /* Refused before any handle exists (the caller reported it). */
    reply(w, key, NULL, msg, status, -1, 0, NULL);
    free(key);
    return;
  }
  cluster_handle_t *h = find_handle(c, key);
  if (h == NULL)
    h = create_handle(c, key, msg);
  free(key);
  if (h == NULL) {
    c->up->error(c, w, MUSTER_ENOMEM);
    return;
  }
  if (h->data == NULL || json_is_null(h->data)) {
    json_t *d = msg->data;
    if (d && !json_is_null(d)) {
      json_decref(h->data);
      h->data = json_incref(d);
    }
  }
  if (h->err) {
    /* Node v20 forgets the key so another worker may retry the bind. */
    reply_handle(w, h, msg, h->err, -1, 0);
    c->up->error(c, w, h->err);
    close_handle(h);
    return;
  }
  member_t *m = find_member(h, w);
  if (m == NULL) {
    m = calloc(1, sizeof *m);
    member_t **arr =
        m && h->nmembers == h->cap
            ? realloc(h->members, (h->cap ? h->cap * 2 : 4) * sizeof *arr)
            : h->members;
    if (m == NULL || arr == NULL || (m->key = strdup(h->key)) == NULL) {
      free(m);
      c->up->error(c, w, MUSTER_ENOMEM);
      return;
    }
    if (arr != h->members) {
      h->members = arr;
      h->cap = h->cap ? h->cap * 2 : 4;
    }
    m->handle = h;
    m->worker = w;
    h->members[h->nmembers++] = m;
    m->next_in_worker = w->members;
    w->members = m;
  }
  uv_timer_stop(&h->timer); /* no longer member-less */
  switch (h->sched) {
  case MUSTER_SCHED_RR:
  case MUSTER_SCHED_LEAST_CONN:
    reply_handle(w, h, msg, 0, -1, 0);
    if (!m->is_free && m->inflight < inflight_limit(m)) {
      make_free(m);
      dispatch(h);
    }
    break;
  case MUSTER_SCHED_SHARED:
    reply_handle(w, h, msg, 0, h->fd, 1);
    break;
  default: { /* REUSEPORT: a socket of its own, on the same port */
    muster_listen_options_t lo = h->lo;
    lo.port = h->port;
    lo.flags |= MUSTER_LISTEN_BIND_ONLY | MUSTER_LISTEN_REUSEPORT;
    int fd = -1;
    int r = muster_listen(&lo, &fd);
    if (r < 0) {
      reply_handle(w, h, msg, r, -1, 0);
      remove_member(h, m);
      c->up->error(c, w, r);
    } else {
      reply_handle(w, h, msg, 0, fd,
                   0); /* the channel closes it after the ACK */
    }
  }
  }
}
