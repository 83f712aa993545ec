/* Shared memory with atomics: Node's SharedArrayBuffer and Atomics.
 *
 *   muster_shared_create()      a zero-filled shared buffer (reference 1)
 *   muster_shared_open()        the same memory, mapped from its descriptor
 *                               in another process
 *   muster_shared_ref/unref()   keep / let go (the last unref unmaps)
 *   muster_shared_i32/i64()     an element, for C11 <stdatomic.h> calls
 *   muster_shared_wait()        Atomics.wait: block until notified
 *   muster_shared_notify()      Atomics.notify: wake up to n waiters
 *   muster_shared_wait_async()  Atomics.waitAsync: the result comes to a
 *                               callback on the caller's loop
 *
 * A shared buffer is never copied: sending one to another thread inside a
 * message sends a reference (the receiver gets its own reference and
 * unrefs it when done), so both threads see the same bytes, as with a
 * SharedArrayBuffer posted to a worker. Its bytes are a shared mapping of
 * an anonymous memory file (memfd_create + mmap, MAP_SHARED), and
 * muster_shared_fd() is that file: another process that receives the
 * descriptor (over a channel as a handle, or by inheritance) and opens it
 * with muster_shared_open() maps the very same pages.
 *
 * Atomics. The bytes are plain memory; use C11 atomics on the elements,
 * e.g. atomic_fetch_add(muster_shared_i32(s, 0), 1). Both i32 and i64
 * elements are lock-free on every platform muster builds on, so they are
 * atomic across processes too.
 *
 * Wait and notify are Linux futexes on a 32-bit element, in their shared
 * form (not FUTEX_PRIVATE), so a notify reaches a waiter of another process
 * that maps the same memory file, whatever address each process mapped it
 * at. Node also waits on BigInt64Array elements; a futex is 32 bits, so
 * muster does not.
 *
 * Results of a wait, Node's strings in muster_shared_result_name():
 *   MUSTER_SHARED_OK         "ok"         woken by a notify
 *   MUSTER_SHARED_NOT_EQUAL  "not-equal"  the element did not hold `expected`
 *   MUSTER_SHARED_TIMED_OUT  "timed-out"  the timeout passed
 *
 * Threads: everything here may be called from any thread, except the two
 * calls on a muster_shared_wait_t, which belong to the loop's thread.
 */
#ifndef MUSTER_SHARED_H
#define MUSTER_SHARED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

typedef struct muster_shared_s muster_shared_t;
typedef struct muster_shared_wait_s muster_shared_wait_t;

#define MUSTER_SHARED_OK 0
#define MUSTER_SHARED_NOT_EQUAL 1
#define MUSTER_SHARED_TIMED_OUT 2
/* muster_shared_wait_async() only: the wait is pending, its callback will
 * run (Node's {async: true}). */
#define MUSTER_SHARED_PENDING 3

/* A timeout that never passes (Node's default, Infinity). */
#define MUSTER_SHARED_FOREVER UINT64_MAX
/* A count that wakes every waiter (Node's default, +Infinity). */
#define MUSTER_SHARED_ALL UINT32_MAX

/* Creates a shared buffer of `len` (> 0) zero bytes with one reference, the
 * caller's, into *out. The pages are allocated on first touch.
 * Errors: MUSTER_EINVAL (len 0, out NULL), MUSTER_ENOMEM, MUSTER_EMFILE /
 * MUSTER_ENFILE (no descriptor for the memory file). On error *out is
 * untouched and there is nothing to free. */
MUSTER_EXTERN int muster_shared_create(size_t len, muster_shared_t **out);

/* Maps the memory file `fd` (all of it) as a shared buffer with one
 * reference, the caller's: the other side of muster_shared_fd(). `fd` is
 * borrowed: the buffer keeps its own duplicate, the caller closes `fd`.
 * Errors: MUSTER_EINVAL (out NULL, fd not a regular file or empty),
 * MUSTER_EBADF, MUSTER_EMFILE, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_shared_open(int fd, muster_shared_t **out);

/* Adds a reference and returns `s`. */
MUSTER_EXTERN muster_shared_t *muster_shared_ref(muster_shared_t *s);

/* Drops a reference; the last one unmaps the bytes and closes the memory
 * file (other processes that mapped it keep their mapping). NULL is
 * ignored. Waiters must be done with the memory before the last unref. */
MUSTER_EXTERN void muster_shared_unref(muster_shared_t *s);

/* The bytes (page-aligned) and their length; valid while a reference is
 * held. */
MUSTER_EXTERN void *muster_shared_data(const muster_shared_t *s);
MUSTER_EXTERN size_t muster_shared_length(const muster_shared_t *s);

/* The memory file behind the buffer, to send to another process; owned by
 * the buffer (do not close it), valid while a reference is held. */
MUSTER_EXTERN int muster_shared_fd(const muster_shared_t *s);

/* Element `index` of the buffer seen as an Int32Array (an
 * BigInt64Array), or NULL when it is out of bounds. */
MUSTER_EXTERN _Atomic int32_t *muster_shared_i32(muster_shared_t *s,
                                                 size_t index);
MUSTER_EXTERN _Atomic int64_t *muster_shared_i64(muster_shared_t *s,
                                                 size_t index);

/* Atomics.wait(): if *addr holds `expected`, blocks the calling thread
 * until a notify on `addr` wakes it or `timeout_ns` nanoseconds pass
 * (MUSTER_SHARED_FOREVER: no timeout; 0: only compare). The compare and
 * the sleep are one atomic step (a futex), so a notify that follows a
 * store of another value can never be missed. A signal does not end the
 * wait. `addr` is normally an element of a shared buffer, but any 4-byte
 * aligned memory works (MAP_SHARED for other processes to reach it).
 * Result: MUSTER_SHARED_OK, _NOT_EQUAL or _TIMED_OUT; errors:
 * MUSTER_EINVAL (addr NULL, not 4-byte aligned, or not mapped). */
MUSTER_EXTERN int muster_shared_wait(_Atomic int32_t *addr, int32_t expected,
                                     uint64_t timeout_ns);

/* Atomics.notify(): wakes up to `count` threads (of any process) waiting
 * on `addr`, synchronous and asynchronous waiters alike, in the order they
 * started to wait (MUSTER_SHARED_ALL: all of them). Result: how many were
 * woken (0 when none waited); errors: MUSTER_EINVAL as muster_shared_wait.
 */
MUSTER_EXTERN int muster_shared_notify(_Atomic int32_t *addr, uint32_t count);

/* "ok", "not-equal", "timed-out" for the three results above; "pending"
 * for MUSTER_SHARED_PENDING; muster_err_name() of anything else. */
MUSTER_EXTERN const char *muster_shared_result_name(int result);

/* The result of an asynchronous wait, on the loop's thread: MUSTER_SHARED_OK,
 * MUSTER_SHARED_TIMED_OUT or MUSTER_ECANCELED (muster_shared_wait_cancel).
 * The wait is freed when the callback returns. */
typedef void (*muster_shared_wait_cb)(muster_shared_wait_t *w, int result,
                                      void *data);

/* Atomics.waitAsync(): waits as muster_shared_wait() does, without
 * blocking the caller; the result is delivered to `cb` on `loop`.
 *
 * As in Node, the compare happens now: if *addr does not hold `expected`
 * the call returns MUSTER_SHARED_NOT_EQUAL, and with a timeout of 0
 * MUSTER_SHARED_TIMED_OUT; `cb` is then never called and *out untouched.
 * Otherwise it returns MUSTER_SHARED_PENDING, *out (may be NULL) is the
 * pending wait, and `cb` runs exactly once, later.
 *
 * The wait blocks on the futex in a helper thread of its own (docs/
 * threads.md says why), which joins the kernel's queue a few microseconds
 * after this call returns. A notify inside that window does not count it;
 * the wait then resolves MUSTER_SHARED_OK as soon as its thread finds that
 * *addr no longer holds `expected` (where Node would keep waiting if the
 * value changed without a notify). A pending wait keeps the loop alive.
 * The memory at `addr` must stay mapped until `cb` has run.
 *
 * A pending wait also holds one descriptor (the eventfd its thread rings).
 *
 * Errors: MUSTER_EINVAL (loop, cb or addr NULL; addr not 4-byte aligned),
 * MUSTER_ENOMEM, MUSTER_EAGAIN (no thread could be started), MUSTER_EMFILE /
 * MUSTER_ENFILE (no descriptor). Loop's thread.
 */
MUSTER_EXTERN int muster_shared_wait_async(uv_loop_t *loop,
                                           _Atomic int32_t *addr,
                                           int32_t expected,
                                           uint64_t timeout_ns,
                                           muster_shared_wait_cb cb, void *data,
                                           muster_shared_wait_t **out);

/* Ends a pending wait early: its callback runs on the next loop turns with
 * MUSTER_ECANCELED, or with the result it had already got if it finished
 * first. Cancel every pending wait before closing its loop (as with any
 * handle); a loop with a pending wait does not end. Valid only until the
 * callback has run. Loop's thread. */
MUSTER_EXTERN void muster_shared_wait_cancel(muster_shared_wait_t *w);

#endif
