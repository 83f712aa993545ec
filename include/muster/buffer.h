/* Buffers whose ownership moves: Node's ArrayBuffer and its transfer.
 *
 *   muster_buffer_create()     a zero-filled buffer of n bytes
 *   muster_buffer_from()       a buffer holding a copy of n bytes
 *   muster_buffer_transfer()   move the bytes to a new handle; the old one
 *                              is left detached (ArrayBuffer.transfer())
 *   muster_buffer_mark_as_untransferable()   markAsUntransferable()
 *
 * A handle owns its bytes until they are transferred. After a transfer
 * (this call, or a port's transfer list) the sender's handle is *detached*,
 * as a transferred ArrayBuffer is in Node: length 0, data NULL; it stays a
 * valid handle that the caller still frees with muster_buffer_free(). The
 * receiver gets a new handle on the same bytes: nothing is copied.
 *
 * Where the bytes live. A buffer of MUSTER_BUFFER_MAP_MIN bytes or more is
 * a shared mapping of an anonymous memory file (memfd_create + mmap,
 * MAP_SHARED), so that a worker in another process (process isolation) can
 * map the same pages from the file's descriptor instead of receiving a
 * copy. Such a buffer holds that one descriptor (O_CLOEXEC) until it is
 * freed or transferred; if the process is out of descriptors, or the
 * kernel has no memfd, the buffer falls back to the heap, and a transfer
 * to another process copies it. Smaller buffers live on the heap (malloc):
 * a memory file costs three system calls and a descriptor, more than
 * copying a few kilobytes. muster_buffer_is_mapped() says which one a
 * buffer got.
 *
 * Threads. A handle belongs to one thread at a time and has no lock: two
 * threads may not call into the same handle at once (reading its bytes
 * from several threads is the caller's business, as with any memory). The
 * handle a transfer creates may be handed to another thread; the library's
 * ports do that for the buffers of a transfer list, and the receiver owns
 * the new handle. Different handles may be used from different threads
 * freely. Nothing here touches a loop.
 */
#ifndef MUSTER_BUFFER_H
#define MUSTER_BUFFER_H

#include <stddef.h>

#include "common.h"

typedef struct muster_buffer_s muster_buffer_t;

/* Size from which a buffer is backed by a memory file (see above). */
#define MUSTER_BUFFER_MAP_MIN ((size_t)64 * 1024)

/* Creates a buffer of `len` zero bytes (len may be 0) into *out; free it
 * with muster_buffer_free(). Errors: MUSTER_EINVAL (out NULL),
 * MUSTER_ENOMEM (also for len over PTRDIFF_MAX). On error *out is
 * untouched and there is nothing to free. Any thread. */
MUSTER_EXTERN int muster_buffer_create(size_t len, muster_buffer_t **out);

/* As muster_buffer_create(), then copies `len` bytes of `data` (borrowed;
 * NULL only when len is 0) into the buffer. Errors as
 * muster_buffer_create(), and MUSTER_EINVAL for NULL data with len > 0. */
MUSTER_EXTERN int muster_buffer_from(const void *data, size_t len,
                                     muster_buffer_t **out);

/* The bytes, writable, valid until the buffer is transferred or freed;
 * NULL when detached or of length 0. */
MUSTER_EXTERN void *muster_buffer_data(const muster_buffer_t *b);

/* The length in bytes; 0 when detached. */
MUSTER_EXTERN size_t muster_buffer_length(const muster_buffer_t *b);

/* 1 if the buffer's bytes were transferred away, else 0. */
MUSTER_EXTERN int muster_buffer_is_detached(const muster_buffer_t *b);

/* 1 if the bytes are a shared mapping of a memory file (see above). */
MUSTER_EXTERN int muster_buffer_is_mapped(const muster_buffer_t *b);

/* Moves the bytes of `b` to a new handle *out without copying; `b` is left
 * detached (length 0, data NULL) and still has to be freed.
 * Errors: MUSTER_EINVAL (NULL argument; `b` already detached or marked
 * untransferable), MUSTER_ENOMEM (no room for the new handle). On error
 * `b` is unchanged and *out untouched. */
MUSTER_EXTERN int muster_buffer_transfer(muster_buffer_t *b,
                                         muster_buffer_t **out);

/* Marks `b` so that any later transfer of it fails with MUSTER_EINVAL (a
 * port then sends nothing, as Node throws DataCloneError); its bytes can
 * still be copied into a message. The mark is permanent. */
MUSTER_EXTERN void muster_buffer_mark_as_untransferable(muster_buffer_t *b);

/* 1 if muster_buffer_mark_as_untransferable() was called on `b`. */
MUSTER_EXTERN int muster_buffer_is_untransferable(const muster_buffer_t *b);

/* Frees the handle and, unless they were transferred away, its bytes (and
 * the memory file behind them). NULL is ignored. */
MUSTER_EXTERN void muster_buffer_free(muster_buffer_t *b);

#endif
