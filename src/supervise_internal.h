/* Private to src/supervise*.c: what a supervisor made by another file of
 * the library (supervise_child.c) keeps on the row, next to the owner's
 * data pointer, which stays the owner's. */
#ifndef MUSTER_SUPERVISE_INTERNAL_H
#define MUSTER_SUPERVISE_INTERNAL_H

#include "muster/supervise.h"

/* Called once, from muster_supervise_close(), before the row stops. */
typedef void (*muster__supervise_impl_close_fn)(void *impl);

void muster__supervise_set_impl(muster_supervisor_t *sup, void *impl,
                                muster__supervise_impl_close_fn close);
/* NULL for a row made by muster_supervise_create() alone. */
void *muster__supervise_impl(const muster_supervisor_t *sup);

#endif
