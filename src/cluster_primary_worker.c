/* muster_worker_*: a worker as the primary sees it (the object
 * cluster_primary.c makes for each forked process): queries, messages,
 * disconnect, stop and kill. Above cluster_primary.c, which never calls
 * here. */
#include "cluster_primary.h"

#include <signal.h>

int muster_worker_id(const muster_worker_t *w) {
  return w->id;
}
int muster_worker_pid(const muster_worker_t *w) {
  return w->pid;
}
muster_worker_state_t muster_worker_state(const muster_worker_t *w) {
  return w->state;
}
const char *muster_worker_state_name(muster_worker_state_t s) {
  switch (s) {
  case MUSTER_WORKER_NONE:
    return "none";
  case MUSTER_WORKER_ONLINE:
    return "online";
  case MUSTER_WORKER_LISTENING:
    return "listening";
  case MUSTER_WORKER_DISCONNECTED:
    return "disconnected";
  case MUSTER_WORKER_DEAD:
    return "dead";
  }
  return "unknown";
}
int muster_worker_is_connected(const muster_worker_t *w) {
  return w->channel != NULL && !w->channel_ended &&
         muster_channel_connected(w->channel);
}
int muster_worker_is_dead(const muster_worker_t *w) {
  return w->exited;
}
int muster_worker_exited_after_disconnect(const muster_worker_t *w) {
  return w->exited_after_disconnect;
}
int muster_worker_is_ready(const muster_worker_t *w) {
  return w->ready != 0;
}
unsigned muster_worker_connections(const muster_worker_t *w) {
  return w->open_conns;
}
muster_cluster_t *muster_worker_cluster(const muster_worker_t *w) {
  return w->cluster;
}
void *muster_worker_data(const muster_worker_t *w) {
  return w->data;
}
void muster_worker_set_data(muster_worker_t *w, void *data) {
  w->data = data;
}

int muster_worker_send(muster_worker_t *w, const json_t *message, int handle_fd,
                       const muster_send_options_t *options, muster_send_cb cb,
                       void *arg) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->channel == NULL || w->channel_ended)
    return MUSTER_ENOTCONN;
  return muster_channel_send(w->channel, message, handle_fd, options, cb, arg);
}

int muster_worker_send_text(muster_worker_t *w, const char *json, size_t len,
                            int handle_fd, const muster_send_options_t *options,
                            muster_send_cb cb, void *arg) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->channel == NULL || w->channel_ended)
    return MUSTER_ENOTCONN;
  return muster_channel_send_text(w->channel, json, len, handle_fd, options, cb,
                                  arg);
}

int muster_worker_disconnect(muster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (!muster_worker_is_connected(w))
    return MUSTER_ENOTCONN;
  muster__primary_graceful(w);
  return 0;
}

int muster_worker_stop(muster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->exited)
    return MUSTER_ESRCH;
  if (w->slot == NULL || w->slot->worker != w) {
    /* Not supervised any more: escalate by hand. */
    w->exited_after_disconnect = 1;
    return muster_child_kill(w->child, SIGKILL);
  }
  return muster_supervise_stop(w->slot->sup);
}

int muster_worker_kill(muster_worker_t *w, int signum) {
  if (w == NULL || signum < 0 || signum >= NSIG)
    return MUSTER_EINVAL;
  if (w->exited)
    return MUSTER_ESRCH;
  if (signum == 0)
    signum = SIGTERM;
  w->exited_after_disconnect = 1;
  muster__handle_remove_worker(w);
  if (muster_worker_is_connected(w))
    muster_channel_disconnect(w->channel);
  return muster_child_kill(w->child, signum);
}
