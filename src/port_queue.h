/* The queue under every port: a mutex-protected list of messages, and the
 * wake-up (src/wake.h) of the loop the queue's owner runs on.
 *
 * A queue is the inbox of one port end. Posters (any thread) append under
 * the lock; the first append after the owner went to sleep wakes it,
 * later ones add to the same wake-up. The owner takes the whole list at
 * once and delivers it with no lock held. A port's owner stays awake
 * through its whole delivery loop (MUSTER__PORT_TAKE_AWAKE), batches and
 * waits for more with the CPU included (src/port.c, deliver), so posters
 * do not wake it meanwhile; it releases the queue before it sleeps.
 *
 * A queue has its own doorbell (an eventfd) that the owner's handle
 * watches; posters ring it after they drop the lock (wake_locked in
 * port_queue.c says why). The wake pointer is set only while the end is
 * bound to a loop, and posters decide to ring under the lock: so an end
 * travelling inside a message (wake NULL) just collects messages until
 * its new owner binds it and wakes itself.
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
#include "json_write.h"
#include "muster/message.h"
#include "muster/shared.h"
#include "port_slab.h"
#include "wake.h"

enum {
  MUSTER__PORT_MSG_JSON = 0, /* JSON text written by our encoder */
  MUSTER__PORT_MSG_TEXT,     /* JSON text from the user: check it */
  MUSTER__PORT_MSG_BYTES,    /* raw bytes */
  MUSTER__PORT_MSG_BAD,      /* one that failed to decode upstream (no data) */
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

/* What travels with a message besides its bytes (most carry nothing). */
typedef struct {
  size_t nends;
  muster__port_end_t *ends; /* ports travelling with it, or NULL */
  size_t nbufs;
  muster__port_buf_t *bufs; /* buffers travelling with it, or NULL */
  size_t nshared;
  muster_shared_t **shared; /* a reference each (NULL once taken) */
} muster__port_extra_t;

/* A short header (a small message and its header fill one block of a
 * slab, src/port_slab.h). */
typedef struct muster__port_msg_s muster__port_msg_t;
struct muster__port_msg_s {
  muster__port_msg_t *next;
  muster__port_extra_t *x;   /* NULL when nothing travels with it */
  muster__port_slab_t *slab; /* a block of this slab, or NULL: malloc'd */
  size_t len;
  unsigned cap; /* bytes allocated for data */
  int format;
  char data[];
};

/* Small messages (MUSTER__PORT_MSG_SMALL bytes of data: with the header,
 * one MUSTER__PORT_BLOCK) live in blocks a poster carves from slabs of its
 * own (src/port_slab.h), and blocks are used again rather than given
 * back: the receiving port keeps the blocks of what it delivered and
 * hands them to its own queue at its next take; a poster to that queue
 * takes them over in its push and writes its next messages in them. So a
 * steady exchange of small messages allocates nothing and touches no
 * slab's count, and a stream one way (whose batches outgrow what is kept)
 * costs one atomic give-back per message and a malloc per slab. A port
 * keeps at most MUSTER__PORT_SPARE_MAX of the blocks it delivered; a queue
 * takes a port's blocks in one splice while it holds fewer than that. */
#define MUSTER__PORT_MSG_SMALL 88
#define MUSTER__PORT_SPARE_MAX 128
typedef struct {
  muster__port_msg_t *head, *tail;
  size_t n;
} muster__port_spare_t;

/* Where a poster's messages get their memory: blocks given back by the
 * receiver, the slab it carves, and the encoder's buffer (kept between
 * posts, so a small JSON message is encoded without an allocation).
 * Zero-initialized is empty. Only the posting thread touches it. */
typedef struct {
  muster__port_spare_t spare;
  muster__port_carver_t carver;
  struct muster__buf scratch;
} muster__port_blocks_t;

/* Gives every block of `s` back. */
void muster__port_spare_free(muster__port_spare_t *s);
/* Gives back everything `b` holds; b is then empty. */
void muster__port_blocks_free(muster__port_blocks_t *b);
/* Frees what `msg` carries (as muster__port_msg_free) and keeps its block
 * in `s` when it is a small one and `s` has room; else frees it. */
void muster__port_msg_recycle(muster__port_msg_t *msg, muster__port_spare_t *s);

/* Called by a push under the queue's lock once the push can no longer
 * fail: what must move only if the message is sent moves here. It may not
 * take any lock. */
typedef void (*muster__port_commit_cb)(muster__port_msg_t *msg, void *arg);

struct muster__port_queue_s {
  pthread_mutex_t lock;
  muster__port_msg_t *head, *tail;
  size_t bytes;         /* payload bytes queued */
  int fd;               /* the doorbell (src/wake.h) the owner watches */
  muster__wake_t *wake; /* the owner's handle while bound, else NULL */
  int woken;            /* woken, or awake, since the owner last released */
  atomic_int ready;     /* something to take: read without the lock */
  muster__port_spare_t spare; /* blocks the owner gave back, for posters */
  int closed;                 /* the owner closed it: appends fail */
  int events;                 /* MUSTER__PORT_EV_* not yet taken */
  int drain_wanted;           /* a poster passed its high-water mark */
  atomic_int refs;
  /* A queue whose owner takes on its posters' thread (set_direct). */
  pthread_t direct_thread;
  _Atomic(void *) direct;
};

/* A new queue with one reference and its doorbell. Errors: MUSTER_ENOMEM,
 * MUSTER_EMFILE / MUSTER_ENFILE (no descriptor for the eventfd). */
int muster__port_queue_new(muster__port_queue_t **out);
void muster__port_queue_ref(muster__port_queue_t *q);
/* Drops a reference; the last one frees the queue and its messages. */
void muster__port_queue_unref(muster__port_queue_t *q);

/* Appends `msg` (taken on success), calling commit(msg, arg) first when
 * commit is not NULL. When the queue then holds more bytes than `hwm` the
 * result is 1 and the next take reports MUSTER__PORT_EV_DRAIN_WANTED.
 * When `refill` (the poster's spare blocks; may be NULL) is empty, it gets
 * the blocks the owner gave back.
 * Errors: MUSTER_ENOTCONN (the queue is closed; msg is still the caller's,
 * commit was not called). */
int muster__port_queue_push(muster__port_queue_t *q, muster__port_msg_t *msg,
                            size_t hwm, muster__port_commit_cb commit,
                            void *arg, muster__port_spare_t *refill);
/* What muster__port_queue_take takes, and whether the owner sleeps. */
enum {
  /* Only the oldest message, no event; the wake-up state stays. */
  MUSTER__PORT_TAKE_ONE = 1,
  /* Every message and event, and the owner is awake: posts do not wake
   * it (no eventfd write for each batch of a stream) until it calls
   * muster__port_queue_release(), which it must do before it sleeps
   * (and, when that reports something queued, take again or kick). */
  MUSTER__PORT_TAKE_AWAKE = 2,
};

/* Takes every message and event (or as `flags` say); *events (may be NULL
 * with MUSTER__PORT_TAKE_ONE) gets the events; without flags the next post
 * wakes the owner again. `give` (may be NULL) is emptied: its blocks go
 * to the queue's spare list for posters (or are freed when that list is
 * full). */
muster__port_msg_t *muster__port_queue_take(muster__port_queue_t *q, int flags,
                                            int *events,
                                            muster__port_spare_t *give);
/* The owner stays awake (posts do not wake it) until release(). Returns
 * 1 instead, changing nothing, when something came since the last take. */
int muster__port_queue_hold(muster__port_queue_t *q);
/* Ends a hold: posts wake the owner again. Returns 1 instead (still held)
 * when something came meanwhile. */
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
/* Binds to the owner's handle, which watches q->fd (NULL: unbinds).
 * Binding wakes the owner when something is queued. */
void muster__port_queue_bind(muster__port_queue_t *q, muster__wake_t *wake);
/* Wakes the bound owner now (after start). */
void muster__port_queue_kick(muster__port_queue_t *q);
size_t muster__port_queue_bytes(muster__port_queue_t *q);
/* Asks posters on the calling thread to hand `owner` what they posted at
 * once (muster__port_queue_direct); NULL ends it. Called by the owner on
 * its thread, at most once with an owner for a queue. */
void muster__port_queue_set_direct(muster__port_queue_t *q, void *owner);
/* The owner to hand a post to now, or NULL: only on the thread that set
 * it (there the owner cannot be freed meanwhile; another thread never
 * touches it, so it may be freed under that thread without harm). */
static inline void *muster__port_queue_direct(muster__port_queue_t *q) {
  void *owner = atomic_load_explicit(&q->direct, memory_order_acquire);
  return owner && pthread_equal(q->direct_thread, pthread_self()) ? owner
                                                                  : NULL;
}

/* Closes an end: its inbox refuses appends and drops what it holds, the
 * other end gets MUSTER__PORT_EV_PEER_CLOSED, and both references go. */
void muster__port_end_close(muster__port_end_t *end);

/* Messages. A message is one allocation holding its payload. */
/* JSON text of `value`, written by the library's encoder, at most `limit`
 * bytes, with memory from `src` (NULL: malloc). A small text is encoded
 * into src's buffer and copied into a block; a longer one becomes the
 * message in that buffer (no copy). Errors: MUSTER_EMSGSIZE,
 * MUSTER_EINVAL, MUSTER_ENOMEM. */
int muster__port_msg_json_in(muster__port_blocks_t *src, const json_t *value,
                             size_t limit, muster__port_msg_t **out);
/* A copy of `len` bytes in `format`, in a block from `src` when it fits
 * one (src may be NULL: malloc). Errors: MUSTER_EMSGSIZE (len over
 * limit), MUSTER_ENOMEM. */
int muster__port_msg_copy_in(muster__port_blocks_t *src, int format,
                             const void *data, size_t len, size_t limit,
                             muster__port_msg_t **out);
/* The same, always in a new allocation. */
int muster__port_msg_json(const json_t *value, size_t limit,
                          muster__port_msg_t **out);
int muster__port_msg_copy(int format, const void *data, size_t len,
                          size_t limit, muster__port_msg_t **out);
/* A copy of `msg` without its ends, or NULL (ENOMEM). */
muster__port_msg_t *muster__port_msg_dup(const muster__port_msg_t *msg);
/* Frees a message; ends still in it are closed, buffers not taken are
 * released, shared buffers not taken unref'd. */
void muster__port_msg_free(muster__port_msg_t *msg);
void muster__port_msg_free_list(muster__port_msg_t *list);
/* Prepares the muster_message_t for `msg`. MUSTER_EBADMSG when user text
 * is not one JSON value, and for MUSTER__PORT_MSG_BAD. */
int muster__port_msg_open(muster__port_msg_t *msg, muster_message_t *m);

#endif
