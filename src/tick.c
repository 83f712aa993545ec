/* muster_next_tick: Node's process.nextTick on a libuv loop (see
 * include/muster/process.h and docs/process.md).
 *
 * One queue per loop, drained by one uv_idle_t. One handle per tick would
 * be simpler and wrong: libuv runs idle (and prepare, check) handles in the
 * reverse of the order they were started, so ticks would run last in, first
 * out. An idle handle rather than a prepare handle, because an active idle
 * handle also makes the poll not wait: a tick queued too late in a turn to
 * be drained in it (from another idle or prepare callback) still runs on
 * the next turn, instead of waiting for unrelated I/O to wake the loop.
 *
 * The queue exists only while ticks are pending: when a drain empties it,
 * its handle is closed and the queue freed in the close callback, so a
 * program never has to close anything and uv_loop_close() returns 0.
 *
 * Finding a loop's queue: the loop's `data` field belongs to the user, and
 * walking the loop's handles on every call would cost O(handles). So
 * queues are kept in a small registry keyed by loop, behind a mutex: the
 * one piece of process-wide mutable state in the library that the OS did
 * not force on us. The mutex guards only the list links; a queue's contents
 * are touched only on its loop's thread, which is the API's rule. */
#include "muster/error.h"
#include "muster/process.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tick {
  muster_tick_cb cb;
  void *arg;
};

struct tick_queue {
  uv_idle_t idle;
  uv_loop_t *loop;
  struct tick *items; /* a ring of `cap` slots, cap a power of two */
  size_t cap;
  size_t head;
  size_t count;
  struct tick_queue *next; /* registry link, under registry_lock */
};

#define TICK_QUEUE_MIN 16

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tick_queue *registry;

static void registry_unlink_locked(struct tick_queue *q) {
  for (struct tick_queue **p = &registry; *p != NULL; p = &(*p)->next) {
    if (*p == q) {
      *p = q->next;
      q->next = NULL;
      return;
    }
  }
}

/* The open queue of `loop`, or NULL. Called on the loop's thread, so
 * reading the handle of that loop's queue is safe. */
static struct tick_queue *registry_find(uv_loop_t *loop) {
  struct tick_queue *q;

  pthread_mutex_lock(&registry_lock);
  for (q = registry; q != NULL; q = q->next)
    if (q->loop == loop)
      break;
  if (q != NULL && uv_is_closing((uv_handle_t *)&q->idle)) {
    /* Someone else closed our handle (uv_walk closing every handle). We
     * never learn when libuv is done with it, so the queue cannot be freed:
     * drop it from the registry, so a new queue is made and a later loop at
     * the same address does not find it, and let it leak. */
    registry_unlink_locked(q);
    q = NULL;
  }
  pthread_mutex_unlock(&registry_lock);
  return q;
}

static void on_queue_closed(uv_handle_t *handle) {
  struct tick_queue *q = handle->data;
  free(q->items);
  free(q);
}

static void on_idle(uv_idle_t *idle) {
  struct tick_queue *q = idle->data;

  /* Node drains the whole queue, ticks queued by ticks included, before
   * going back to the loop. Copy each entry out before calling it: the
   * callback may queue more and make the ring grow (move). */
  while (q->count > 0) {
    struct tick t = q->items[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    t.cb(t.arg);
  }
  /* Unlink first: a tick queued from here on (a close or check callback
   * later in this turn) must start a new queue, not land in one whose
   * handle is closing and would never run it. */
  pthread_mutex_lock(&registry_lock);
  registry_unlink_locked(q);
  pthread_mutex_unlock(&registry_lock);
  if (!uv_is_closing((uv_handle_t *)idle))
    uv_close((uv_handle_t *)idle, on_queue_closed);
}

static int queue_new(uv_loop_t *loop, struct tick_queue **out) {
  struct tick_queue *q;
  int r;

  q = calloc(1, sizeof *q);
  if (q == NULL)
    return MUSTER_ENOMEM;
  q->items = malloc(TICK_QUEUE_MIN * sizeof *q->items);
  if (q->items == NULL) {
    free(q);
    return MUSTER_ENOMEM;
  }
  q->cap = TICK_QUEUE_MIN;
  q->loop = loop;
  r = uv_idle_init(loop, &q->idle);
  if (r != 0) {
    free(q->items);
    free(q);
    return r;
  }
  q->idle.data = q;
  r = uv_idle_start(&q->idle, on_idle);
  if (r != 0) {
    uv_close((uv_handle_t *)&q->idle, on_queue_closed);
    return r;
  }
  pthread_mutex_lock(&registry_lock);
  q->next = registry;
  registry = q;
  pthread_mutex_unlock(&registry_lock);
  *out = q;
  return 0;
}

static int queue_grow(struct tick_queue *q) {
  size_t cap = q->cap * 2;
  struct tick *items;

  if (cap < q->cap || cap > SIZE_MAX / sizeof *items)
    return MUSTER_ENOMEM;
  items = malloc(cap * sizeof *items);
  if (items == NULL)
    return MUSTER_ENOMEM;
  for (size_t i = 0; i < q->count; i++)
    items[i] = q->items[(q->head + i) & (q->cap - 1)];
  free(q->items);
  q->items = items;
  q->cap = cap;
  q->head = 0;
  return 0;
}

int muster_next_tick(uv_loop_t *loop, muster_tick_cb cb, void *arg) {
  struct tick_queue *q;
  int r;

  if (loop == NULL || cb == NULL)
    return MUSTER_EINVAL;
  q = registry_find(loop);
  if (q == NULL) {
    /* A new queue has room for TICK_QUEUE_MIN: the push below cannot fail,
     * so there is no empty queue to undo. */
    r = queue_new(loop, &q);
    if (r != 0)
      return r;
  } else if (q->count == q->cap) {
    r = queue_grow(q);
    if (r != 0)
      return r;
  }
  q->items[(q->head + q->count) & (q->cap - 1)] = (struct tick){cb, arg};
  q->count++;
  return 0;
}
