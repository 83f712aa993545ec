/* Atomics.waitAsync: a futex wait whose result comes to a loop
 * (muster_shared_wait_async in muster/shared.h).
 *
 * Each pending wait has a helper thread blocked in futex_waitv(2) on two
 * words: the user's (shared, so a notify from another process reaches it)
 * and a private cancel word of its own. Why a thread per wait and not one
 * thread parking many waits: futex_waitv reports only one woken entry per
 * return, so when two entries of one thread are woken before it runs, the
 * second wake, already counted by the notifier, would be lost. With one
 * user entry per thread every counted wake resolves its wait. docs/
 * threads.md has the whole argument.
 *
 * Ownership: the loop side owns the struct. The helper thread only reads
 * its inputs, stores `result` and rings the wait's doorbell as its last
 * act; the loop side joins it in the doorbell's callback, so the struct
 * (and the doorbell) is never freed under a running thread. The doorbell
 * is an eventfd of the wait's own (src/wake.h), not a uv_async_t: libuv
 * 1.44's woken loop spins while the sender is still inside
 * uv_async_send(), which the helper thread, about to exit, usually is.
 */
#include "muster/shared.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "muster/error.h"
#include "shared_internal.h"
#include "wake.h"

/* The helper only sits in one system call; a small stack keeps a pending
 * wait at a few pages of memory. Sanitizers need room for their frames. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WAIT_STACK (1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WAIT_STACK (1024 * 1024)
#endif
#endif
#ifndef WAIT_STACK
#define WAIT_STACK (64 * 1024)
#endif

struct muster_shared_wait_s {
  muster__wake_t done; /* first */
  uv_thread_t thread;
  _Atomic int32_t *addr;
  int32_t expected;
  int timed;
  struct timespec deadline;
  atomic_uint cancel; /* private futex word: 1 = cancel asked */
  atomic_int result;
  muster_shared_wait_cb cb;
  void *data;
};

static int futex_wait_pair(muster_shared_wait_t *w) {
  struct futex_waitv v[2] = {
      {.val = (uint32_t)w->expected,
       .uaddr = (uintptr_t)w->addr,
       .flags = FUTEX_32},
      {.val = 0,
       .uaddr = (uintptr_t)&w->cancel,
       .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
  };
  for (;;) {
    long r = syscall(SYS_futex_waitv, v, 2, 0, w->timed ? &w->deadline : NULL,
                     CLOCK_MONOTONIC);
    if (atomic_load(&w->cancel) != 0 && r != 0)
      return MUSTER_ECANCELED;
    if (r == 0)
      return MUSTER_SHARED_OK;
    if (r < 0 && errno == EAGAIN)
      /* The user's word changed before this thread was queued: the
       * notify that usually follows such a store may already have come
       * and gone (see the header), so this counts as woken. */
      return MUSTER_SHARED_OK;
    if (r < 0 && errno == ETIMEDOUT)
      return MUSTER_SHARED_TIMED_OUT;
    if (r < 0 && errno != EINTR)
      return -errno;
    /* EINTR, or the cancel word woken without a cancel: wait again. */
  }
}

static void wait_thread(void *arg) {
  muster_shared_wait_t *w = arg;
  pthread_setname_np(pthread_self(), "muster-wait");
  atomic_store(&w->result, futex_wait_pair(w));
  muster__wake_ring(w->done.fd);
}

static void on_closed(uv_handle_t *h) {
  muster_shared_wait_t *w = (muster_shared_wait_t *)h;
  int result = atomic_load(&w->result);
  close(w->done.fd);
  w->cb(w, result, w->data);
  free(w);
}

static void free_wait(uv_handle_t *h) {
  muster_shared_wait_t *w = (muster_shared_wait_t *)h;
  close(w->done.fd);
  free(w);
}

static void on_done(uv_poll_t *h, int status, int events) {
  muster_shared_wait_t *w = (muster_shared_wait_t *)h;
  uv_thread_join(&w->thread);
  muster__wake_close(&w->done, on_closed);
}

int muster_shared_wait_async(uv_loop_t *loop, _Atomic int32_t *addr,
                             int32_t expected, uint64_t timeout_ns,
                             muster_shared_wait_cb cb, void *data,
                             muster_shared_wait_t **out) {
  if (loop == NULL || cb == NULL || muster__shared_check_addr(addr) != 0)
    return MUSTER_EINVAL;
  if (atomic_load(addr) != expected)
    return MUSTER_SHARED_NOT_EQUAL;
  if (timeout_ns == 0)
    return MUSTER_SHARED_TIMED_OUT;
  muster_shared_wait_t *w = calloc(1, sizeof *w);
  if (w == NULL)
    return MUSTER_ENOMEM;
  w->addr = addr;
  w->expected = expected;
  w->timed = muster__shared_deadline(timeout_ns, &w->deadline);
  w->cb = cb;
  w->data = data;
  int fd = muster__wake_fd_new();
  int err = fd < 0 ? fd : muster__wake_init(loop, &w->done, fd, on_done);
  if (err != 0) {
    if (fd >= 0)
      close(fd);
    free(w);
    return err;
  }
  uv_thread_options_t opt = {UV_THREAD_HAS_STACK_SIZE, WAIT_STACK};
  err = uv_thread_create_ex(&w->thread, &opt, wait_thread, w);
  if (err != 0) {
    /* The callback must not run for a failed call: close the handle
     * with a callback that only frees. */
    muster__wake_close(&w->done, free_wait);
    return err;
  }
  if (out != NULL)
    *out = w;
  return MUSTER_SHARED_PENDING;
}

void muster_shared_wait_cancel(muster_shared_wait_t *w) {
  atomic_store(&w->cancel, 1);
  syscall(SYS_futex, &w->cancel, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
