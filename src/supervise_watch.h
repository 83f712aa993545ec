/* One observer of a supervisor row besides its owner: what a replace
 * operation (src/supervise_replace.c) needs to follow two rows whose
 * on_state belongs to their owner. src/supervise.c calls it; it never
 * knows who watches. */
#ifndef MUSTER_SUPERVISE_WATCH_H
#define MUSTER_SUPERVISE_WATCH_H

#include "muster/supervise.h"

typedef struct {
  /* After the owner's on_state, unless that callback moved the row on
   * (then the newer transition is reported instead) or closed it. */
  void (*on_state)(void *arg, muster_supervisor_t *sup,
                   muster_supervise_state_t state);
  /* muster_supervise_close() was called: the watch is gone with it. */
  void (*on_close)(void *arg, muster_supervisor_t *sup);
} muster__supervise_watch_t;

/* Attaches `watch` (borrowed) with `arg`. MUSTER_EBUSY when another watch
 * is attached, MUSTER_ECANCELED when the row is closing. A NULL watch
 * detaches the one attached with `arg`, if it still is. */
int muster__supervise_watch(muster_supervisor_t *sup,
                            const muster__supervise_watch_t *watch, void *arg);

#endif
