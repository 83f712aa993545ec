/* The locked message queue under ports (src/port_queue.h). */
#include "port_queue.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "json_write.h"
#include "message_internal.h"
#include "muster/error.h"

muster__port_queue_t *muster__port_queue_new(void) {
  muster__port_queue_t *q = calloc(1, sizeof *q);
  if (q == NULL)
    return NULL;
  if (pthread_mutex_init(&q->lock, NULL) != 0) {
    free(q);
    return NULL;
  }
  atomic_init(&q->refs, 1);
  atomic_init(&q->ready, 0);
  return q;
}

void muster__port_queue_ref(muster__port_queue_t *q) {
  atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed);
}

void muster__port_queue_unref(muster__port_queue_t *q) {
  if (q == NULL ||
      atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
    return;
  muster__port_msg_free_list(q->head);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* Called with the lock held. The owner takes everything queued until it
 * releases the queue, so one wake-up per release is enough however many
 * posts came. */
static void wake_locked(muster__port_queue_t *q) {
  if (q->wake != NULL && !q->woken) {
    q->woken = 1;
    muster__wake_send(q->wake);
  }
}

/* Called with the lock held, after any change of what is queued. */
static void set_ready(muster__port_queue_t *q) {
  atomic_store_explicit(&q->ready,
                        q->head != NULL || q->events || q->drain_wanted,
                        memory_order_relaxed);
}

int muster__port_queue_push(muster__port_queue_t *q, muster__port_msg_t *msg,
                            size_t hwm, muster__port_commit_cb commit,
                            void *arg) {
  int over;
  pthread_mutex_lock(&q->lock);
  if (q->closed) {
    pthread_mutex_unlock(&q->lock);
    return MUSTER_ENOTCONN;
  }
  if (commit)
    commit(msg, arg);
  msg->next = NULL;
  if (q->tail)
    q->tail->next = msg;
  else
    q->head = msg;
  q->tail = msg;
  q->bytes += msg->len;
  over = q->bytes > hwm;
  if (over)
    q->drain_wanted = 1;
  set_ready(q);
  wake_locked(q);
  pthread_mutex_unlock(&q->lock);
  return over;
}

muster__port_msg_t *muster__port_queue_take(muster__port_queue_t *q, int one,
                                            int *events) {
  muster__port_msg_t *list;
  pthread_mutex_lock(&q->lock);
  list = q->head;
  if (one) {
    if (list) {
      q->head = list->next;
      if (q->head == NULL)
        q->tail = NULL;
      list->next = NULL;
      q->bytes -= list->len;
    }
  } else {
    q->head = q->tail = NULL;
    q->bytes = 0;
    *events = q->events | (q->drain_wanted ? MUSTER__PORT_EV_DRAIN_WANTED : 0);
    q->events = 0;
    q->drain_wanted = 0;
  }
  set_ready(q);
  pthread_mutex_unlock(&q->lock);
  return list;
}

int muster__port_queue_release(muster__port_queue_t *q) {
  int more;
  pthread_mutex_lock(&q->lock);
  more = q->head != NULL || q->events || q->drain_wanted;
  if (!more)
    q->woken = 0;
  pthread_mutex_unlock(&q->lock);
  return more;
}

void muster__port_queue_unget(muster__port_queue_t *q, muster__port_msg_t *list,
                              int events) {
  muster__port_msg_t *last = list;
  size_t bytes = 0;
  for (muster__port_msg_t *m = list; m; m = m->next) {
    bytes += m->len;
    last = m;
  }
  pthread_mutex_lock(&q->lock);
  if (list) {
    last->next = q->head;
    q->head = list;
    if (q->tail == NULL)
      q->tail = last;
    q->bytes += bytes;
  }
  q->events |= events & ~MUSTER__PORT_EV_DRAIN_WANTED;
  if (events & MUSTER__PORT_EV_DRAIN_WANTED)
    q->drain_wanted = 1;
  set_ready(q);
  pthread_mutex_unlock(&q->lock);
}

void muster__port_queue_signal(muster__port_queue_t *q, int event) {
  pthread_mutex_lock(&q->lock);
  q->events |= event;
  set_ready(q);
  wake_locked(q);
  pthread_mutex_unlock(&q->lock);
}

void muster__port_queue_bind(muster__port_queue_t *q, muster__wake_t *wake) {
  pthread_mutex_lock(&q->lock);
  q->wake = wake;
  q->woken = 0;
  if (wake && (q->head || q->events))
    wake_locked(q);
  pthread_mutex_unlock(&q->lock);
}

void muster__port_queue_kick(muster__port_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  q->woken = 0;
  wake_locked(q);
  pthread_mutex_unlock(&q->lock);
}

size_t muster__port_queue_bytes(muster__port_queue_t *q) {
  size_t n;
  pthread_mutex_lock(&q->lock);
  n = q->bytes;
  pthread_mutex_unlock(&q->lock);
  return n;
}

void muster__port_end_close(muster__port_end_t *end) {
  muster__port_msg_t *dropped;
  muster__port_queue_t *own = end->own, *peer = end->peer;
  end->own = end->peer = NULL;
  if (own == NULL)
    return;
  pthread_mutex_lock(&own->lock);
  own->closed = 1;
  own->wake = NULL;
  dropped = own->head;
  own->head = own->tail = NULL;
  own->bytes = 0;
  set_ready(own);
  pthread_mutex_unlock(&own->lock);
  /* Freeing may close ends the dropped messages carried, which locks
   * their queues: never with ours held, so no lock order to keep. */
  muster__port_msg_free_list(dropped);
  if (peer) {
    muster__port_queue_signal(peer, MUSTER__PORT_EV_PEER_CLOSED);
    muster__port_queue_unref(peer);
  }
  muster__port_queue_unref(own);
}

/* ---- messages ------------------------------------------------------------ */

#define MSG_HEADER offsetof(muster__port_msg_t, data)

static muster__port_msg_t *msg_init(char *block, int format, size_t len) {
  muster__port_msg_t *m = (muster__port_msg_t *)block;
  m->next = NULL;
  m->format = format;
  m->len = len;
  m->nends = 0;
  m->ends = NULL;
  m->nbufs = 0;
  m->bufs = NULL;
  m->nshared = 0;
  m->shared = NULL;
  return m;
}

int muster__port_msg_json(const json_t *value, size_t limit,
                          muster__port_msg_t **out) {
  /* The text is written straight after the header: one allocation, no
   * copy. Small messages fit the first block. */
  struct muster__buf b = {malloc(MSG_HEADER + 120), MSG_HEADER,
                          MSG_HEADER + 120};
  int r;
  if (b.data == NULL)
    return MUSTER_ENOMEM;
  r = muster__json_write(value, &b, limit);
  if (r != 0) {
    free(b.data);
    return r;
  }
  *out = msg_init(b.data, MUSTER__PORT_MSG_JSON, b.len - MSG_HEADER);
  return 0;
}

int muster__port_msg_copy(int format, const void *data, size_t len,
                          size_t limit, muster__port_msg_t **out) {
  char *block;
  if (len > limit)
    return MUSTER_EMSGSIZE;
  block = malloc(MSG_HEADER + (len ? len : 1));
  if (block == NULL)
    return MUSTER_ENOMEM;
  if (len)
    memcpy(block + MSG_HEADER, data, len);
  *out = msg_init(block, format, len);
  return 0;
}

muster__port_msg_t *muster__port_msg_dup(const muster__port_msg_t *msg) {
  muster__port_msg_t *m;
  if (muster__port_msg_copy(msg->format, msg->data, msg->len, SIZE_MAX, &m))
    return NULL;
  return m;
}

void muster__port_msg_free(muster__port_msg_t *msg) {
  for (size_t i = 0; i < msg->nends; i++)
    muster__port_end_close(&msg->ends[i]);
  for (size_t i = 0; i < msg->nbufs; i++)
    if (msg->bufs[i].present)
      muster__buffer_storage_release(&msg->bufs[i].st);
  for (size_t i = 0; i < msg->nshared; i++)
    muster_shared_unref(msg->shared[i]);
  free(msg->ends);
  free(msg->bufs);
  free(msg->shared);
  free(msg);
}

void muster__port_msg_free_list(muster__port_msg_t *list) {
  while (list) {
    muster__port_msg_t *next = list->next;
    muster__port_msg_free(list);
    list = next;
  }
}

int muster__port_msg_open(muster__port_msg_t *msg, muster_message_t *m) {
  if (msg->format == MUSTER__PORT_MSG_BYTES) {
    muster__message_init_bytes(m, msg->data, msg->len);
    return 0;
  }
  if (msg->format == MUSTER__PORT_MSG_TEXT &&
      muster__json_check(msg->data, msg->len) == MUSTER__JSON_INVALID)
    return MUSTER_EBADMSG;
  muster__message_init_text(m, msg->data, msg->len, NULL);
  return 0;
}
