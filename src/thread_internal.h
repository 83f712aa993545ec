/* What a thread's cleanup needs to know about handles of its own kind. */
#ifndef MUSTER_THREAD_INTERNAL_H
#define MUSTER_THREAD_INTERNAL_H

#include <uv.h>

/* When `h` is a thread object's control handle, closes that thread object
 * (as muster_thread_close with no callback) and returns 1; else 0. */
int muster__thread_close_handle(uv_handle_t *h);

#endif
