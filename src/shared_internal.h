/* What the synchronous and asynchronous waits share (src/shared.c,
 * src/shared_wait.c). */
#ifndef MUSTER_SHARED_INTERNAL_H
#define MUSTER_SHARED_INTERNAL_H

#include <time.h>

#include "muster/shared.h"

/* 0 for a usable futex address, MUSTER_EINVAL for NULL or misaligned. */
int muster__shared_check_addr(const _Atomic int32_t *addr);

/* Sets *ts to now + timeout_ns on CLOCK_MONOTONIC and returns 1; returns
 * 0 (no deadline) for MUSTER_SHARED_FOREVER or a deadline too far away to
 * represent. */
int muster__shared_deadline(uint64_t timeout_ns, struct timespec *ts);

#endif
