/* Small message blocks carved from slabs (src/port_queue.h's messages).
 *
 * A stream of small messages between two threads used to cost a malloc
 * on the posting thread and a free on the receiving one per message, and
 * a free of a block that another thread's malloc arena gave goes back to
 * that arena (an atomic operation at best, its lock at worst): in the
 * one-way bench that was a third of the instructions. A poster now carves
 * blocks one after the other from a slab of its own (no atomic, no
 * call), and whoever is done with a block — the receiver, usually —
 * gives it back with one atomic subtraction on the slab's count; the
 * last block given back frees the slab, into a process-wide pool of
 * full-size slabs that posters take their next ones from (port_slab.c).
 * So a stream costs a pool's push and pop per slab (up to
 * MUSTER__PORT_SLAB_MAX blocks), or a malloc and a free.
 *
 * Memory ordering: the count starts at the slab's number of blocks, set
 * before the slab is published (the poster carves, then hands the block to
 * another thread through a queue whose lock orders the two). Each give-back
 * is a fetch_sub with acq_rel: release, so that everything its thread did
 * with the block happens before the count drops; acquire, so that the
 * thread that brings it to zero sees every other thread's use of every
 * block before it frees the slab. That is a reference count's usual
 * pattern, and no lock is taken. A slab in the pool passes to its next
 * poster under the pool's mutex, which orders the last give-back before
 * the new poster's writes; the count is set again before any block of
 * it is published. */
#ifndef MUSTER_PORT_SLAB_H
#define MUSTER_PORT_SLAB_H

/* A block's size; a multiple of the cache line, and blocks start on one,
 * so two threads writing neighbouring blocks never share a line. */
#define MUSTER__PORT_BLOCK 128
/* A poster's first slab has MUSTER__PORT_SLAB_MIN blocks and each next one
 * twice as many, up to MUSTER__PORT_SLAB_MAX: a port that posts now and
 * then holds a small slab, a stream quickly gets large ones. */
#define MUSTER__PORT_SLAB_MIN 8
#define MUSTER__PORT_SLAB_MAX 128

typedef struct muster__port_slab_s muster__port_slab_t;

/* One poster's slab being carved. Zero-initialized is empty. Not shared:
 * only the thread that posts through it touches it. */
typedef struct {
  muster__port_slab_t *slab; /* NULL when empty */
  unsigned carved, size;     /* blocks carved from it, blocks it has */
  unsigned next_size;        /* blocks of the next slab */
} muster__port_carver_t;

/* A block of MUSTER__PORT_BLOCK bytes, its slab in *slab; NULL when out
 * of memory. */
void *muster__port_carve(muster__port_carver_t *c, muster__port_slab_t **slab);
/* Gives one block of `s` back; any thread. The last one frees the slab. */
void muster__port_slab_release(muster__port_slab_t *s);
/* Gives back what `c` never carved; c is then empty. */
void muster__port_carver_end(muster__port_carver_t *c);

#endif
