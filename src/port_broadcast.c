/* BroadcastChannel: every open channel of a name, in any thread, is a
 * queue in one process-wide list (the one piece of global state here: a
 * name is process-wide by definition). Posting copies the message into
 * each other member's queue under the list's lock; a member leaves the
 * list before its queue closes, so no poster reaches a closed queue. */
#include "port_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message_internal.h"
#include "muster/error.h"

struct muster_broadcast_s {
  muster__wake_t wake; /* first: the handle's address is the channel's */
  muster__port_queue_t *q;
  char *name;
  muster_broadcast_message_cb on_message;
  void *data;
  int unrefd, closing;
  muster__port_msg_t *batch;
  muster_broadcast_close_cb close_cb;
  muster_broadcast_t *next; /* in the member list */
};

static pthread_mutex_t members_lock = PTHREAD_MUTEX_INITIALIZER;
static muster_broadcast_t *members;

static void update_ref(muster_broadcast_t *b) {
  if (b->on_message && !b->unrefd && !b->closing)
    uv_ref((uv_handle_t *)&b->wake.poll);
  else
    uv_unref((uv_handle_t *)&b->wake.poll);
}

static void deliver(muster_broadcast_t *b) {
  int events;
  b->batch = muster__port_queue_take(b->q, 0, &events, NULL);
  while (b->batch && !b->closing) {
    muster__port_msg_t *msg = b->batch;
    muster_message_t m;
    b->batch = msg->next;
    if (muster__port_msg_open(msg, &m) == 0) {
      if (b->on_message)
        b->on_message(b, &m);
      muster__message_done(&m);
    }
    muster__port_msg_free(msg);
  }
}

static void on_wake(uv_poll_t *h, int status, int events) {
  muster_broadcast_t *b = (muster_broadcast_t *)h;
  muster__wake_clear(&b->wake);
  /* What came while delivering is delivered too; the queue sleeps only
   * once found empty. A bounded number of turns keeps the loop fair. */
  for (int turn = 0; !b->closing; turn++) {
    if (turn == 64) {
      muster__wake_send(&b->wake);
      return;
    }
    deliver(b);
    if (b->closing || !muster__port_queue_release(b->q))
      return;
  }
}

int muster_broadcast_open(uv_loop_t *loop, const char *name,
                          muster_broadcast_message_cb on_message, void *data,
                          muster_broadcast_t **out) {
  muster_broadcast_t *b;
  size_t len = name ? strlen(name) : 0;
  int r = MUSTER_ENOMEM;
  if (loop == NULL || out == NULL || len == 0 || len > 255)
    return MUSTER_EINVAL;
  b = calloc(1, sizeof *b);
  if (b == NULL)
    return MUSTER_ENOMEM;
  b->name = strdup(name);
  if (b->name == NULL)
    goto fail;
  r = muster__port_queue_new(&b->q);
  if (r != 0)
    goto fail;
  r = muster__wake_init(loop, &b->wake, b->q->fd, on_wake);
  if (r != 0)
    goto fail;
  b->on_message = on_message;
  b->data = data;
  update_ref(b);
  muster__port_queue_bind(b->q, &b->wake);
  pthread_mutex_lock(&members_lock);
  b->next = members;
  members = b;
  pthread_mutex_unlock(&members_lock);
  *out = b;
  return 0;
fail:
  muster__port_queue_unref(b->q);
  free(b->name);
  free(b);
  return r;
}

static int post(muster_broadcast_t *b, muster__port_msg_t *msg) {
  int n = 0, r = 0;
  pthread_mutex_lock(&members_lock);
  for (muster_broadcast_t *o = members; o; o = o->next) {
    muster__port_msg_t *copy;
    if (o == b || strcmp(o->name, b->name) != 0)
      continue;
    copy = muster__port_msg_dup(msg);
    if (copy == NULL) {
      r = MUSTER_ENOMEM;
      break;
    }
    if (muster__port_queue_push(o->q, copy, SIZE_MAX, NULL, NULL, NULL) < 0)
      muster__port_msg_free(copy);
    else
      n++;
  }
  pthread_mutex_unlock(&members_lock);
  muster__port_msg_free(msg);
  return r ? r : n;
}

int muster_broadcast_post(muster_broadcast_t *channel, const json_t *value) {
  muster__port_msg_t *msg;
  int r;
  if (channel == NULL || value == NULL)
    return MUSTER_EINVAL;
  if (channel->closing)
    return MUSTER_ENOTCONN;
  r = muster__port_msg_json(value, MUSTER_PORT_MAX_MESSAGE_SIZE, &msg);
  return r != 0 ? r : post(channel, msg);
}

int muster_broadcast_post_bytes(muster_broadcast_t *channel, const void *bytes,
                                size_t len) {
  muster__port_msg_t *msg;
  int r;
  if (channel == NULL || (bytes == NULL && len != 0))
    return MUSTER_EINVAL;
  if (channel->closing)
    return MUSTER_ENOTCONN;
  r = muster__port_msg_copy(MUSTER__PORT_MSG_BYTES, bytes, len,
                            MUSTER_PORT_MAX_MESSAGE_SIZE, &msg);
  return r != 0 ? r : post(channel, msg);
}

static void free_channel(uv_handle_t *h) {
  muster_broadcast_t *b = (muster_broadcast_t *)h;
  if (b->close_cb)
    b->close_cb(b);
  free(b->name);
  free(b);
}

void muster_broadcast_close(muster_broadcast_t *channel,
                            muster_broadcast_close_cb cb) {
  muster__port_end_t end;
  if (channel == NULL || channel->closing)
    return;
  channel->closing = 1;
  channel->close_cb = cb;
  pthread_mutex_lock(&members_lock);
  for (muster_broadcast_t **pp = &members; *pp; pp = &(*pp)->next)
    if (*pp == channel) {
      *pp = channel->next;
      break;
    }
  pthread_mutex_unlock(&members_lock);
  muster__port_msg_free_list(channel->batch);
  channel->batch = NULL;
  end = (muster__port_end_t){channel->q, NULL};
  channel->q = NULL;
  /* The handle before the queue that owns the doorbell it watches. */
  muster__wake_close(&channel->wake, free_channel);
  muster__port_end_close(&end);
}

int muster__broadcast_close_handle(uv_handle_t *h) {
  if (muster__wake_of(h, on_wake) == NULL)
    return 0;
  muster_broadcast_close((muster_broadcast_t *)h, NULL);
  return 1;
}

void muster_broadcast_ref(muster_broadcast_t *channel) {
  channel->unrefd = 0;
  update_ref(channel);
}

void muster_broadcast_unref(muster_broadcast_t *channel) {
  channel->unrefd = 1;
  update_ref(channel);
}

void *muster_broadcast_data(const muster_broadcast_t *channel) {
  return channel->data;
}
