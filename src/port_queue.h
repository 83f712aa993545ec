/* The queue under every port: a mutex-protected list of messages, and the
 * wake-up (src/wake.h) of the loop the queue's owner runs on.
 *
 * A queue is the inbox of one port end. Posters (any thread) append under
 * the lock; the first append after the owner went to sleep wakes it,
 * later ones add to the same wake-up. The owner takes the whole list at
 * once and delivers it with no lock held; it stays awake (posters do not
 * wake it again) until it finds the queue empty under the lock and
 * releases it, so a stream of posts costs one wake-up, not one per take.
 *
 * The wake pointer is set only while the end is bound to a loop. Posters
 * send the wake-up with the lock held, and the owner clears the pointer
 * under the same lock before it closes the handle: so a poster never
 * wakes a handle that is being closed, and an end travelling inside a
 * message (wake NULL) just collects messages until its new owner binds
 * it and wakes itself.
 *
 * A port end is a pair of queue references: its own inbox and the other
 * end's. A pair of ports is two queues, each referenced by both ends. */
#ifndef MUSTER_PORT_QUEUE_H
#define MUSTER_PORT_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>
#include <jansson.h>

#include "buffer_internal.h"
#include "muster/message.h"
#include "muster/shared.h"
#include "wake.h"

enum {
  MUSTER__PORT_MSG_JSON = 0, /* JSON text written by our encoder */
  MUSTER__PORT_MSG_TEXT,     /* JSON text from the user: check it */
  MUSTER__PORT_MSG_BYTES,    /* raw bytes */
};

/* Events for the owner, beside messages. */
enum {
  MUSTER__PORT_EV_PEER_CLOSED = 1, /* the other end closed */
  MUSTER__PORT_EV_DRAINED = 2,     /* the other end took what we posted */
  /* Taken with messages only: a poster passed its high-water mark, so the
   * owner signals DRAINED to its other end once these are delivered. */
  MUSTER__PORT_EV_DRAIN_WANTED = 4,
};

typedef struct muster__port_queue_s muster__port_queue_t;

/* One end of a pair: its inbox and the other end's (NULL for a broadcast
 * member, which has no other end). Holds one reference to each. */
typedef struct {
  muster__port_queue_t *own, *peer;
} muster__port_end_t;

/* A buffer's bytes travelling in a message; `present` until taken. */
typedef struct {
  muster__buffer_storage_t st;
  int present;
} muster__port_buf_t;

typedef struct muster__port_msg_s muster__port_msg_t;
struct muster__port_msg_s {
  muster__port_msg_t *next;
  int format;
  size_t len;
  size_t nends;
  muster__port_end_t *ends; /* ports travelling with it, or NULL */
  size_t nbufs;
  muster__port_buf_t *bufs; /* buffers travelling with it, or NULL */
  size_t nshared;
  muster_shared_t **shared; /* a reference each (NULL once taken) */
  char data[];
};

/* Called by a push under the queue's lock once the push can no longer
 * fail: what must move only if the message is sent moves here. It may not
 * take any lock. */
typedef void (*muster__port_commit_cb)(muster__port_msg_t *msg, void *arg);

struct muster__port_queue_s {
  pthread_mutex_t lock;
  muster__port_msg_t *head, *tail;
  size_t bytes;         /* payload bytes queued */
  muster__wake_t *wake; /* the owner's wake-up while bound, else NULL */
  int woken;            /* woken, or awake, since the owner last released */
  atomic_int ready;     /* something to take: read without the lock */
  int closed;           /* the owner closed it: appends fail */
  int events;           /* MUSTER__PORT_EV_* not yet taken */
  int drain_wanted;     /* a poster passed its high-water mark */
  atomic_int refs;
};

/* A new queue with one reference, or NULL (ENOMEM). */
muster__port_queue_t *muster__port_queue_new(void);
void muster__port_queue_ref(muster__port_queue_t *q);
/* Drops a reference; the last one frees the queue and its messages. */
void muster__port_queue_unref(muster__port_queue_t *q);

/* Appends `msg` (taken on success), calling commit(msg, arg) first when
 * commit is not NULL. When the queue then holds more bytes than `hwm` the
 * result is 1 and the next take reports MUSTER__PORT_EV_DRAIN_WANTED.
 * Errors: MUSTER_ENOTCONN (the queue is closed; msg is still the caller's,
 * commit was not called). */
int muster__port_queue_push(muster__port_queue_t *q, muster__port_msg_t *msg,
                            size_t hwm, muster__port_commit_cb commit,
                            void *arg);
/* Takes every message and event (or, with `one`, only the oldest message
 * and no event); *events (may be NULL with `one`) gets the events. The
 * owner stays awake until muster__port_queue_release(). */
muster__port_msg_t *muster__port_queue_take(muster__port_queue_t *q, int one,
                                            int *events);
/* The owner goes back to sleep: posts wake it again. Returns 1 instead
 * (and stays awake) when something came in since the last take. */
int muster__port_queue_release(muster__port_queue_t *q);
/* Whether there is something to take, without the lock (for spinning:
 * a take may still find nothing). */
static inline int muster__port_queue_ready(muster__port_queue_t *q) {
  return atomic_load_explicit(&q->ready, memory_order_relaxed);
}
/* Puts `list` (and `events`) back at the front, as if never taken. */
void muster__port_queue_unget(muster__port_queue_t *q, muster__port_msg_t *list,
                              int events);
/* Sets an event and wakes the owner. */
void muster__port_queue_signal(muster__port_queue_t *q, int event);
/* Binds to the owner's wake-up (NULL: unbinds). Binding wakes the owner
 * when something is queued. */
void muster__port_queue_bind(muster__port_queue_t *q, muster__wake_t *wake);
/* Wakes the bound owner now (after start). */
void muster__port_queue_kick(muster__port_queue_t *q);
size_t muster__port_queue_bytes(muster__port_queue_t *q);

/* Closes an end: its inbox refuses appends and drops what it holds, the
 * other end gets MUSTER__PORT_EV_PEER_CLOSED, and both references go. */
void muster__port_end_close(muster__port_end_t *end);

/* Messages. A message is one allocation holding its payload. */
/* JSON text of `value`, written by the library's encoder, at most `limit`
 * bytes. Errors: MUSTER_EMSGSIZE, MUSTER_EINVAL, MUSTER_ENOMEM. */
int muster__port_msg_json(const json_t *value, size_t limit,
                          muster__port_msg_t **out);
/* A copy of `len` bytes in `format`. Errors: MUSTER_EMSGSIZE (len over
 * limit), MUSTER_ENOMEM. */
int muster__port_msg_copy(int format, const void *data, size_t len,
                          size_t limit, muster__port_msg_t **out);
/* A copy of `msg` without its ends, or NULL (ENOMEM). */
muster__port_msg_t *muster__port_msg_dup(const muster__port_msg_t *msg);
/* Frees a message; ends still in it are closed, buffers not taken are
 * released, shared buffers not taken unref'd. */
void muster__port_msg_free(muster__port_msg_t *msg);
void muster__port_msg_free_list(muster__port_msg_t *list);
/* Prepares the muster_message_t for `msg`. MUSTER_EBADMSG when user text
 * is not one JSON value. */
int muster__port_msg_open(muster__port_msg_t *msg, muster_message_t *m);

#endif
