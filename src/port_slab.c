/* Slabs of small message blocks (src/port_slab.h). */
#include "port_slab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The count sits alone in the slab's first cache line: the receiver
 * writes it, the poster writes only blocks. */
#define SLAB_HEADER 64

struct muster__port_slab_s {
  atomic_uint live;          /* blocks not given back yet, carved or not */
  unsigned size;             /* blocks */
  muster__port_slab_t *next; /* in the pool */
};

/* Slabs of MUSTER__PORT_SLAB_MAX blocks whose blocks all came back, for
 * the next poster that needs one: the process's one list, at most
 * POOL_MAX long (about 4 MiB); a slab beyond that is freed.
 *
 * Freed to malloc instead, a stream's slabs came back in runs (the
 * receiver takes thousands of messages at once), merged at the top of
 * the poster's malloc arena, and glibc gave the memory back to the
 * kernel (its trim: madvise, then page faults and mprotect when the
 * poster allocated again): the one-way bench took twice the CPU time of
 * malloc'd blocks. Kept here, a slab costs a locked push and pop per
 * MUSTER__PORT_SLAB_MAX messages.
 *
 * The lock is only ever tried: when another thread holds it, the slab
 * comes from (or goes to) malloc instead. So nobody waits for it, and a
 * process forked while another thread held it (a worker process: fork
 * without exec) never touches the pool, where a plain lock would hang. */
#define POOL_MAX 256
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static muster__port_slab_t *pool;
static unsigned pool_n;

static void slab_done(muster__port_slab_t *s) {
  if (s->size == MUSTER__PORT_SLAB_MAX &&
      pthread_mutex_trylock(&pool_lock) == 0) {
    if (pool_n < POOL_MAX) {
      s->next = pool;
      pool = s;
      pool_n++;
      s = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
  }
  free(s);
}

static muster__port_slab_t *slab_new(unsigned size) {
  muster__port_slab_t *s = NULL;
  if (size == MUSTER__PORT_SLAB_MAX &&
      pthread_mutex_trylock(&pool_lock) == 0) {
    if ((s = pool) != NULL) {
      pool = s->next;
      pool_n--;
    }
    pthread_mutex_unlock(&pool_lock);
  }
  if (s == NULL &&
      (s = aligned_alloc(SLAB_HEADER,
                         SLAB_HEADER + (size_t)size * MUSTER__PORT_BLOCK)) ==
          NULL)
    return NULL;
  /* Not yet shared: the block that makes it so reaches other threads
   * through a queue's lock, after this store. */
  atomic_store_explicit(&s->live, size, memory_order_relaxed);
  s->size = size;
  return s;
}

static void release_n(muster__port_slab_t *s, unsigned n) {
  if (atomic_fetch_sub_explicit(&s->live, n, memory_order_acq_rel) == n)
    slab_done(s);
}

void *muster__port_carve(muster__port_carver_t *c,
                         muster__port_slab_t **slab) {
  if (c->slab == NULL || c->carved == c->size) {
    unsigned size = c->next_size ? c->next_size : MUSTER__PORT_SLAB_MIN;
    muster__port_slab_t *s = slab_new(size);
    if (s == NULL)
      return NULL;
    muster__port_carver_end(c); /* all of its blocks were carved: no-op */
    c->slab = s;
    c->carved = 0;
    c->size = size;
    c->next_size = size < MUSTER__PORT_SLAB_MAX ? 2 * size : size;
  }
  *slab = c->slab;
  return (char *)c->slab + SLAB_HEADER +
         (size_t)c->carved++ * MUSTER__PORT_BLOCK;
}

void muster__port_slab_release(muster__port_slab_t *s) {
  release_n(s, 1);
}

void muster__port_carver_end(muster__port_carver_t *c) {
  if (c->slab && c->carved < c->size)
    release_n(c->slab, c->size - c->carved);
  c->slab = NULL;
  c->carved = c->size = 0;
}
