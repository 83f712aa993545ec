/* The locked message queue under ports (src/port_queue.h). */
#include "port_queue.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_check.h"
#include "json_write.h"
#include "message_internal.h"
#include "muster/error.h"

int muster__port_queue_new(muster__port_queue_t **out) {
  muster__port_queue_t *q = calloc(1, sizeof *q);
  pthread_mutexattr_t attr;
  int r;
  if (q == NULL)
    return MUSTER_ENOMEM;
  q->fd = muster__wake_fd_new();
  if (q->fd < 0) {
    r = q->fd;
    free(q);
    return r;
  }
  /* Held for a few stores only (a push, a take). The owner takes batch
   * after batch while a poster streams, so the two meet at the lock often:
   * a plain mutex would put the loser to sleep in the kernel each time (a
   * futex call and a context switch on both sides); an adaptive one spins
   * a little first. */
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  r = pthread_mutex_init(&q->lock, &attr);
  pthread_mutexattr_destroy(&attr);
  if (r != 0) {
    close(q->fd);
    free(q);
    return MUSTER_ENOMEM;
  }
  atomic_init(&q->refs, 1);
  atomic_init(&q->ready, 0);
  atomic_init(&q->direct, NULL);
  *out = q;
  return 0;
}

void muster__port_queue_ref(muster__port_queue_t *q) {
  atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed);
}

void muster__port_queue_unref(muster__port_queue_t *q) {
  if (q == NULL ||
      atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
    return;
  muster__port_msg_free_list(q->head);
  muster__port_spare_free(&q->spare);
  pthread_mutex_destroy(&q->lock);
  close(q->fd);
  free(q);
}

/* Called with the lock held: whether to ring the owner's doorbell once
 * the lock is dropped. The owner takes everything queued, so one ring
 * per take is enough however many posts came.
 *
 * The ring itself comes after the unlock. Under the lock, the write woke
 * the owner while its poster still held the lock (or was preempted
 * holding it, the woken owner taking its CPU): the owner went straight
 * for the lock and slept on it, and the poster's unlock had to wake it
 * again (perf: most context switches of a one-way stream were that). The
 * doorbell belongs to the queue, and a poster holds a reference to the
 * queue, so a late ring reaches an open eventfd; at worst it wakes an
 * owner that already took the message, for an empty take. */
static int wake_locked(muster__port_queue_t *q) {
  if (q->wake == NULL || q->woken)
    return 0;
  q->woken = 1;
  return 1;
}

/* Called with the lock held, after any change of what is queued. Stored
 * only when it changes: an owner spinning on it (src/port.c) then keeps
 * the cache line shared, and the posts of a stream write nothing there. */
static void set_ready(muster__port_queue_t *q) {
  int ready = q->head != NULL || q->events || q->drain_wanted;
  if (atomic_load_explicit(&q->ready, memory_order_relaxed) != ready)
    atomic_store_explicit(&q->ready, ready, memory_order_relaxed);
}

int muster__port_queue_push(muster__port_queue_t *q, muster__port_msg_t *msg,
                            size_t hwm, muster__port_commit_cb commit,
                            void *arg, muster__port_spare_t *refill) {
  int over, ring;
  pthread_mutex_lock(&q->lock);
  if (q->closed) {
    pthread_mutex_unlock(&q->lock);
    return MUSTER_ENOTCONN;
  }
  if (refill && refill->head == NULL) {
    *refill = q->spare;
    q->spare = (muster__port_spare_t){NULL, NULL, 0};
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
  ring = wake_locked(q);
  pthread_mutex_unlock(&q->lock);
  if (ring)
    muster__wake_ring(q->fd);
  return over;
}

/* Hands `give` to the queue's spare list in one splice while that list has
 * room; else leaves it in `give`. Called with the lock held. */
static void give_spare_locked(muster__port_queue_t *q,
                              muster__port_spare_t *give) {
  if (give->head == NULL || q->spare.n >= MUSTER__PORT_SPARE_MAX)
    return;
  give->tail->next = q->spare.head;
  if (q->spare.head == NULL)
    q->spare.tail = give->tail;
  q->spare.head = give->head;
  q->spare.n += give->n;
  *give = (muster__port_spare_t){NULL, NULL, 0};
}

muster__port_msg_t *muster__port_queue_take(muster__port_queue_t *q, int flags,
                                            int *events,
                                            muster__port_spare_t *give) {
  muster__port_msg_t *list;
  pthread_mutex_lock(&q->lock);
  if (give)
    give_spare_locked(q, give);
  list = q->head;
  if (flags & MUSTER__PORT_TAKE_ONE) {
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
    /* Awake: from here posts ring nothing until the owner releases. */
    q->woken = (flags & MUSTER__PORT_TAKE_AWAKE) && q->wake != NULL;
    *events = q->events | (q->drain_wanted ? MUSTER__PORT_EV_DRAIN_WANTED : 0);
    q->events = 0;
    q->drain_wanted = 0;
  }
  set_ready(q);
  pthread_mutex_unlock(&q->lock);
  if (give)
    muster__port_spare_free(give);
  return list;
}

/* Sets `woken` to `awake` when nothing is queued; 1 (nothing set) when
 * something is. */
static int set_awake(muster__port_queue_t *q, int awake) {
  int more;
  pthread_mutex_lock(&q->lock);
  more = q->head != NULL || q->events || q->drain_wanted;
  if (!more)
    q->woken = awake;
  pthread_mutex_unlock(&q->lock);
  return more;
}

int muster__port_queue_hold(muster__port_queue_t *q) {
  return set_awake(q, 1);
}

int muster__port_queue_release(muster__port_queue_t *q) {
  return set_awake(q, 0);
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
  int ring;
  pthread_mutex_lock(&q->lock);
  q->events |= event;
  set_ready(q);
  ring = wake_locked(q);
  pthread_mutex_unlock(&q->lock);
  if (ring)
    muster__wake_ring(q->fd);
}

void muster__port_queue_bind(muster__port_queue_t *q, muster__wake_t *wake) {
  int ring;
  pthread_mutex_lock(&q->lock);
  q->wake = wake;
  q->woken = 0;
  ring = wake && (q->head || q->events) && wake_locked(q);
  pthread_mutex_unlock(&q->lock);
  if (ring)
    muster__wake_ring(q->fd);
}

void muster__port_queue_kick(muster__port_queue_t *q) {
  int ring;
  pthread_mutex_lock(&q->lock);
  q->woken = 0;
  ring = wake_locked(q);
  pthread_mutex_unlock(&q->lock);
  if (ring)
    muster__wake_ring(q->fd);
}

void muster__port_queue_set_direct(muster__port_queue_t *q, void *owner) {
  /* Set once per queue: the thread is written before the owner is
   * published, and read only after an owner is seen (acquire). */
  if (owner)
    q->direct_thread = pthread_self();
  atomic_store_explicit(&q->direct, owner, memory_order_release);
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
_Static_assert(MSG_HEADER + MUSTER__PORT_MSG_SMALL == MUSTER__PORT_BLOCK,
               "a small message fills one slab block");

static muster__port_msg_t *msg_init(char *block, muster__port_slab_t *slab,
                                    int format, size_t len, size_t cap) {
  muster__port_msg_t *m = (muster__port_msg_t *)block;
  m->next = NULL;
  m->format = format;
  m->len = len;
  m->cap = (unsigned)cap;
  m->x = NULL;
  m->slab = slab;
  return m;
}

/* Gives a message's memory back: to its slab, or to malloc. */
static void block_free(muster__port_msg_t *m) {
  if (m->slab)
    muster__port_slab_release(m->slab);
  else
    free(m);
}

/* A small block: one given back when `src` has one, else one carved from
 * its slab (src NULL: malloc'd). *slab gets the block's slab. */
static char *small_block(muster__port_blocks_t *src,
                         muster__port_slab_t **slab) {
  muster__port_msg_t *m = src ? src->spare.head : NULL;
  *slab = NULL;
  if (m == NULL)
    return src ? muster__port_carve(&src->carver, slab)
               : malloc(MSG_HEADER + MUSTER__PORT_MSG_SMALL);
  src->spare.head = m->next;
  if (src->spare.head == NULL)
    src->spare.tail = NULL;
  src->spare.n--;
  *slab = m->slab;
  return (char *)m;
}

/* A small message: a copy of data[0..len) in a small block. */
static int small_msg(muster__port_blocks_t *src, int format, const void *data,
                     size_t len, muster__port_msg_t **out) {
  muster__port_slab_t *slab;
  char *block = small_block(src, &slab);
  if (block == NULL)
    return MUSTER_ENOMEM;
  if (len)
    memcpy(block + MSG_HEADER, data, len);
  *out = msg_init(block, slab, format, len, MUSTER__PORT_MSG_SMALL);
  return 0;
}

int muster__port_msg_json_in(muster__port_blocks_t *src, const json_t *value,
                             size_t limit, muster__port_msg_t **out) {
  /* The text is written after room for a header, in src's buffer (kept
   * between posts) or a new one. A short text is then copied into a
   * block (at most MUSTER__PORT_MSG_SMALL bytes); a longer one keeps the
   * buffer as its message, written in place. */
  struct muster__buf b = {NULL, MSG_HEADER, 0};
  int r;
  if (src && src->scratch.data) {
    b.data = src->scratch.data;
    b.cap = src->scratch.cap;
  } else {
    b.cap = MSG_HEADER + MUSTER__PORT_MSG_SMALL;
    if ((b.data = malloc(b.cap)) == NULL)
      return MUSTER_ENOMEM;
  }
  if (src)
    src->scratch = (struct muster__buf){NULL, 0, 0};
  r = muster__json_write(value, &b, limit);
  if (r == 0 && src && b.len - MSG_HEADER <= MUSTER__PORT_MSG_SMALL) {
    r = small_msg(src, MUSTER__PORT_MSG_JSON, b.data + MSG_HEADER,
                  b.len - MSG_HEADER, out);
    src->scratch = b; /* kept for the next post */
    return r;
  }
  if (r != 0) {
    free(b.data); /* an error may have grown it: not kept */
    return r;
  }
  *out = msg_init(b.data, NULL, MUSTER__PORT_MSG_JSON, b.len - MSG_HEADER,
                  b.cap - MSG_HEADER);
  return 0;
}

int muster__port_msg_copy_in(muster__port_blocks_t *src, int format,
                             const void *data, size_t len, size_t limit,
                             muster__port_msg_t **out) {
  char *block;
  if (len > limit)
    return MUSTER_EMSGSIZE;
  if (len <= MUSTER__PORT_MSG_SMALL)
    return small_msg(src, format, data, len, out);
  block = malloc(MSG_HEADER + len);
  if (block == NULL)
    return MUSTER_ENOMEM;
  memcpy(block + MSG_HEADER, data, len);
  *out = msg_init(block, NULL, format, len, len);
  return 0;
}

int muster__port_msg_json(const json_t *value, size_t limit,
                          muster__port_msg_t **out) {
  return muster__port_msg_json_in(NULL, value, limit, out);
}

int muster__port_msg_copy(int format, const void *data, size_t len,
                          size_t limit, muster__port_msg_t **out) {
  return muster__port_msg_copy_in(NULL, format, data, len, limit, out);
}

muster__port_msg_t *muster__port_msg_dup(const muster__port_msg_t *msg) {
  muster__port_msg_t *m;
  if (muster__port_msg_copy(msg->format, msg->data, msg->len, SIZE_MAX, &m))
    return NULL;
  return m;
}

/* Frees what `msg` carries, not its block. */
static void msg_drop_contents(muster__port_msg_t *msg) {
  muster__port_extra_t *x = msg->x;
  if (x == NULL)
    return;
  for (size_t i = 0; i < x->nends; i++)
    muster__port_end_close(&x->ends[i]);
  for (size_t i = 0; i < x->nbufs; i++)
    if (x->bufs[i].present)
      muster__buffer_storage_release(&x->bufs[i].st);
  for (size_t i = 0; i < x->nshared; i++)
    muster_shared_unref(x->shared[i]);
  free(x->ends);
  free(x->bufs);
  free(x->shared);
  free(x);
  msg->x = NULL;
}

void muster__port_msg_free(muster__port_msg_t *msg) {
  msg_drop_contents(msg);
  block_free(msg);
}

void muster__port_msg_recycle(muster__port_msg_t *msg,
                              muster__port_spare_t *s) {
  if (msg->cap != MUSTER__PORT_MSG_SMALL || s->n >= MUSTER__PORT_SPARE_MAX) {
    muster__port_msg_free(msg);
    return;
  }
  msg_drop_contents(msg);
  msg->next = s->head;
  if (s->head == NULL)
    s->tail = msg;
  s->head = msg;
  s->n++;
}

void muster__port_spare_free(muster__port_spare_t *s) {
  while (s->head) {
    muster__port_msg_t *next = s->head->next;
    block_free(s->head);
    s->head = next;
  }
  s->tail = NULL;
  s->n = 0;
}

void muster__port_blocks_free(muster__port_blocks_t *b) {
  muster__port_spare_free(&b->spare);
  muster__port_carver_end(&b->carver);
  free(b->scratch.data);
  b->scratch = (struct muster__buf){NULL, 0, 0};
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
  if (msg->format == MUSTER__PORT_MSG_BAD ||
      (msg->format == MUSTER__PORT_MSG_TEXT &&
       muster__json_check(msg->data, msg->len) == MUSTER__JSON_INVALID))
    return MUSTER_EBADMSG;
  muster__message_init_text(m, msg->data, msg->len, NULL);
  return 0;
}
