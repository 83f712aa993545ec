/* muster_cluster_worker_*: this process as a cluster worker. It speaks
 * Node's worker side (lib/internal/cluster/child.js): "online" first,
 * queryServer/listening per server, {ack, accepted} for every "newconn",
 * and the disconnect sequence (close per key, exitedAfterDisconnect when
 * the worker itself leaves, then the channel ends). */
#include "cluster_worker.h"

#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The one cluster worker a process can be: the OS makes the channel fd
 * (NODE_CHANNEL_FD) a process-wide thing. Atomic: muster_cluster_is_worker()
 * may be asked from any thread (a worker thread deciding its role) while
 * the loop's thread opens the worker. */
static _Atomic int opened_id;

int muster_cluster_is_worker(void) {
  const char *s = getenv("NODE_UNIQUE_ID");
  return opened_id != 0 || (s != NULL && *s != '\0');
}

int muster_cluster_is_primary(void) {
  return !muster_cluster_is_worker();
}

static int send_act(muster_cluster_worker_t *w, muster__cluster_act_t act) {
  muster__cluster_msg_t m = {.act = act};
  return muster__cluster_send(w->link.channel, &w->link.seq, &m, -1, 0);
}

static muster_cluster_worker_t *worker_of(muster__server_link_t *link) {
  return (muster_cluster_worker_t *)((char *)link -
                                     offsetof(muster_cluster_worker_t, link));
}

/* Closes are batched: many connections closed in one loop turn make one
 * report per server. An idle handle, not a check: a close usually happens in
 * a close callback, after the check phase, and an active check handle does
 * not stop the next poll from blocking, so the report would wait for some
 * unrelated wake-up while the primary kept counting the connection. */
static void report_cb(uv_idle_t *h) {
  muster_cluster_worker_t *w = h->data;
  uv_idle_stop(h);
  w->report_armed = 0;
  for (muster_server_t *s = w->link.servers; s; s = s->next)
    muster__server_flush_report(s);
}

static void arm_report(muster__server_link_t *link) {
  muster_cluster_worker_t *w = worker_of(link);
  if (!w->report_armed && !w->closing) {
    uv_idle_start(&w->report, report_cb);
    w->report_armed = 1;
  }
}

/* Every server stopped and every connection reported closed: the disconnect
 * can go on. */
static void check_drained(muster__server_link_t *link) {
  muster_cluster_worker_t *w = worker_of(link);
  if (!w->link.disconnecting || w->drained || w->link.ended)
    return;
  for (muster_server_t *s = w->link.servers; s; s = s->next)
    if (s->open > 0)
      return;
  w->drained = 1;
  for (muster_server_t *s = w->link.servers; s; s = s->next)
    muster__server_flush_report(s);
  if (w->primary_initiated) {
    muster_channel_disconnect(w->link.channel);
    return;
  }
  w->wait_ack = (long long)w->link.seq;
  if (send_act(w, MUSTER__CLUSTER_EXITED_AFTER_DISCONNECT) < 0)
    muster_channel_disconnect(w->link.channel);
}

static void begin_disconnect(muster_cluster_worker_t *w, int primary) {
  w->link.disconnecting = 1;
  w->primary_initiated = primary;
  for (muster_server_t *s = w->link.servers; s; s = s->next)
    muster__server_stop(s);
  if (w->o.on_disconnecting)
    w->o.on_disconnecting(w);
  check_drained(&w->link);
}

static void on_internal(muster_channel_t *ch, muster_message_t *message) {
  muster_cluster_worker_t *w = muster_channel_data(ch);
  muster__cluster_msg_t m;
  int r = muster__cluster_decode(muster_message_json(message), &m);
  if (r == 1)
    return;
  switch (m.act) {
  case MUSTER__CLUSTER_REPLY:
    if (m.ack < 0)
      return; /* no request of ours has that number */
    if (m.ack == w->wait_ack) {
      w->wait_ack = -1;
      muster_channel_disconnect(w->link.channel);
      return;
    }
    for (muster_server_t *s = w->link.servers; s; s = s->next)
      if (s->querying && (long long)s->query_seq == m.ack) {
        muster__server_reply(s, &m, r,
                             muster_message_take_handle(message, NULL));
        return;
      }
    break;
  case MUSTER__CLUSTER_NEWCONN:
    muster__server_newconn(&w->link, &m, message);
    break;
  case MUSTER__CLUSTER_DISCONNECT:
    if (!w->link.disconnecting)
      begin_disconnect(w, 1);
    break;
  default:
    break;
  }
}

static void on_message(muster_channel_t *ch, muster_message_t *m) {
  muster_cluster_worker_t *w = muster_channel_data(ch);
  if (w->o.on_message)
    w->o.on_message(w, m);
}

static void on_disconnect(muster_channel_t *ch, int reason) {
  muster_cluster_worker_t *w = muster_channel_data(ch);
  (void)reason;
  if (w->link.ended)
    return;
  w->link.ended = 1;
  muster__server_link_ended(&w->link);
  if (w->o.on_disconnect)
    w->o.on_disconnect(w, !w->link.disconnecting);
}

/* The primary may die at any time, and the kernel only sends the
 * parent-death signal for deaths after the prctl: a primary that died
 * between our fork and this call left us re-parented already, which the
 * getppid() check catches. */
static void set_pdeath(int sig) {
  const char *s = getenv("MUSTER_PRIMARY_PID");
  long expected = s ? strtol(s, NULL, 10) : 0;
  unsetenv("MUSTER_PRIMARY_PID");
  if (sig <= 0)
    return;
  prctl(PR_SET_PDEATHSIG, sig);
  if (expected > 0 && getppid() != (pid_t)expected)
    raise(sig);
}

int muster_cluster_worker_open(uv_loop_t *loop,
                               const muster_cluster_worker_options_t *options,
                               muster_cluster_worker_t **out) {
  if (loop == NULL || out == NULL)
    return MUSTER_EINVAL;
  if (opened_id)
    return MUSTER_EALREADY;
  const char *ids = getenv("NODE_UNIQUE_ID");
  if (ids == NULL || *ids == '\0')
    return MUSTER_ENOTCONN;
  muster_cluster_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL)
    return MUSTER_ENOMEM;
  if (options)
    w->o = *options;
  w->loop = loop;
  w->id = atoi(ids); /* Node: +NODE_UNIQUE_ID | 0 */
  w->wait_ack = -1;
  w->link.arm_report = arm_report;
  w->link.check_drained = check_drained;
  muster_channel_options_t co = {0};
  co.on_message = on_message;
  co.on_internal = on_internal;
  co.on_disconnect = on_disconnect;
  co.data = w;
  int r = muster_channel_from_parent(loop, &co, &w->link.channel);
  if (r < 0) {
    free(w);
    return r;
  }
  uv_timer_init(loop, &w->timer);
  uv_idle_init(loop, &w->report);
  w->timer.data = w;
  w->report.data = w;
  unsetenv("NODE_UNIQUE_ID");
  opened_id = w->id ? w->id : -1;
  int sig = w->o.pdeath_signal == 0 ? SIGKILL : w->o.pdeath_signal;
  set_pdeath(sig);
  /* "muster": a Node primary ignores the extra field; a muster primary
   * learns that this worker reports closed connections. */
  muster__cluster_msg_t online = {.act = MUSTER__CLUSTER_ONLINE,
                                  .fields = MUSTER__CLUSTER_F_MUSTER};
  muster__cluster_send(w->link.channel, &w->link.seq, &online, -1, 0);
  *out = w;
  return 0;
}

int muster_cluster_listen(uv_loop_t *loop, muster_cluster_worker_t *worker,
                          const muster_server_options_t *options,
                          muster_server_t **out) {
  if (worker && worker->loop != loop)
    return MUSTER_EINVAL;
  return muster__server_open(loop, worker ? &worker->link : NULL, options, out);
}

int muster_cluster_worker_id(const muster_cluster_worker_t *w) {
  return w->id;
}

int muster_cluster_worker_is_connected(const muster_cluster_worker_t *w) {
  return !w->link.ended && muster_channel_connected(w->link.channel);
}

/* Whether the user may send: 0, or why not. */
static int send_check(const muster_cluster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  return w->link.ended ? MUSTER_ENOTCONN : 0;
}

int muster_cluster_worker_send(muster_cluster_worker_t *w,
                               const json_t *message, int handle_fd,
                               const muster_send_options_t *options,
                               muster_send_cb cb, void *arg) {
  int r = send_check(w);
  if (r != 0)
    return r;
  return muster_channel_send(w->link.channel, message, handle_fd, options, cb,
                             arg);
}

int muster_cluster_worker_send_text(muster_cluster_worker_t *w,
                                    const char *json, size_t len, int handle_fd,
                                    const muster_send_options_t *options,
                                    muster_send_cb cb, void *arg) {
  int r = send_check(w);
  if (r != 0)
    return r;
  return muster_channel_send_text(w->link.channel, json, len, handle_fd,
                                  options, cb, arg);
}

int muster_cluster_worker_disconnect(muster_cluster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (!muster_cluster_worker_is_connected(w))
    return MUSTER_ENOTCONN;
  if (w->link.disconnecting)
    return MUSTER_EALREADY;
  begin_disconnect(w, 0);
  return 0;
}

int muster_cluster_worker_ready(muster_cluster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  return send_act(w, MUSTER__CLUSTER_READY);
}

int muster_cluster_worker_leaving(muster_cluster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  return send_act(w, MUSTER__CLUSTER_LEAVING);
}

static void worker_closed(uv_handle_t *h) {
  muster_cluster_worker_t *w = h->data;
  if (--w->handles_open > 0)
    return;
  if (w->close_cb)
    w->close_cb(w);
  free(w);
}

void muster_cluster_worker_close(muster_cluster_worker_t *w,
                                 muster_cluster_worker_cb cb) {
  if (w == NULL || w->closing)
    return;
  w->closing = 1;
  w->close_cb = cb;
  w->link.ended = 1;
  while (w->link.servers)
    muster__server_free_now(w->link.servers, 0);
  muster_channel_close(w->link.channel, NULL);
  w->link.channel = NULL;
  w->handles_open = 2;
  uv_close((uv_handle_t *)&w->timer, worker_closed);
  uv_close((uv_handle_t *)&w->report, worker_closed);
}

void *muster_cluster_worker_data(const muster_cluster_worker_t *w) {
  return w->o.data;
}

uv_loop_t *muster_cluster_worker_loop(const muster_cluster_worker_t *w) {
  return w->loop;
}
