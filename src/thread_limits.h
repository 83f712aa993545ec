/* resourceLimits for a process-isolated worker (muster_thread_limits_t):
 * kernel limits set in the worker process, and the reason it ended when
 * it ended by passing one (docs/threads.md, "Resource limits").
 *
 * The object holds one shared page (MAP_SHARED, made before the fork, so
 * both processes see it) where the worker writes what the creator must
 * know after the worker is gone: that its memory was full when it ended,
 * or that its limits could not be set. */
#ifndef MUSTER_THREAD_LIMITS_H
#define MUSTER_THREAD_LIMITS_H

#include "muster/thread.h"

typedef struct muster__thread_limits_s muster__thread_limits_t;

/* Creator's side, before the fork: *out NULL when `l` sets no limit.
 * Errors: MUSTER_ENOTSUP (a limit in thread mode: the kernel limits
 * processes, not threads), MUSTER_ENOMEM, mmap's. */
int muster__thread_limits_create(const muster_thread_limits_t *l, int process,
                                 muster__thread_limits_t **out);

/* In the worker process, before its entry: sets the limits. On an error
 * (setrlimit's, e.g. EPERM for more open files than the hard limit) the
 * worker must exit at once; the creator learns it from _reason(). NULL:
 * 0. */
int muster__thread_limits_child(muster__thread_limits_t *l);

/* In the worker process, when it ends with a failure (a non-zero exit
 * code): notes whether its memory is full. NULL: nothing. */
void muster__thread_limits_end(muster__thread_limits_t *l);

/* Creator's side, after the worker ended (killed by signal `sig`, or 0): why,
 * when a limit is the reason: MUSTER_ENOMEM (memory full), MUSTER_ETIMEDOUT
 * (CPU time: SIGXCPU), the error that kept the limits from being set; or
 * 0. NULL: 0. */
int muster__thread_limits_reason(const muster__thread_limits_t *l, int sig);

void muster__thread_limits_free(muster__thread_limits_t *l);

#endif
