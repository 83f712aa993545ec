/* What ports need to move a buffer's bytes between threads or processes.
 *
 * A transfer is two halves: on the sending thread muster__buffer_detach()
 * takes the bytes out of the user's handle (which is left detached) into a
 * plain storage record; the record travels inside the message (through the
 * port's locked queue, which orders the two threads); on the receiving
 * thread muster__buffer_attach() wraps it in a new handle that the
 * receiver owns. A record that is never delivered (port closed, message
 * dropped) is given back with muster__buffer_storage_release().
 *
 * A storage record is plain data with no lock and no thread affinity: it
 * belongs to whoever holds it, and whoever holds it must attach or release
 * it exactly once.
 *
 * Across processes (isolation = process) a mapped record travels as its
 * descriptor plus its length (muster__buffer_storage_fd, then
 * muster__buffer_storage_from_fd on the other side); a heap record's bytes
 * are copied into the message instead.
 */
#ifndef MUSTER_BUFFER_INTERNAL_H
#define MUSTER_BUFFER_INTERNAL_H

#include <stddef.h>

#include "muster/buffer.h"

typedef struct {
  void *data; /* NULL when len is 0 */
  size_t len;
  int fd; /* the memory file behind a mapping, or -1 (heap) */
} muster__buffer_storage_t;

/* 0 if `b` can be transferred now, MUSTER_EINVAL if not (NULL, detached,
 * untransferable). Changes nothing: a port checks its whole transfer list
 * with this before detaching anything, so a bad entry sends nothing. */
int muster__buffer_check(const muster_buffer_t *b);

/* Moves the bytes of `b` into *st and leaves `b` detached. Cannot fail
 * after a successful muster__buffer_check(); errors as that call, with
 * `b` and *st unchanged. Thread owning `b`. */
int muster__buffer_detach(muster_buffer_t *b, muster__buffer_storage_t *st);

/* Wraps *st in a new handle *out (any thread; the caller owns it) and
 * empties *st (data NULL, len 0, fd -1). Errors: MUSTER_ENOMEM, with *st
 * unchanged (release it). */
int muster__buffer_attach(muster__buffer_storage_t *st, muster_buffer_t **out);

/* Frees the bytes of a record that will not be attached, and empties it.
 * An empty record is ignored. */
void muster__buffer_storage_release(muster__buffer_storage_t *st);

/* Maps `len` bytes of the memory file `fd` (ownership moves to the record,
 * also on error, when it is closed) into *st, for a buffer that came from
 * another process. Errors: MUSTER_EINVAL (fd < 0, len 0, or the file
 * shorter than len), mmap's errors. */
int muster__buffer_storage_from_fd(int fd, size_t len,
                                   muster__buffer_storage_t *st);

/* Makes sure *st is backed by a memory file, copying heap bytes into a new
 * one if needed, so it can be sent to another process as a descriptor.
 * Errors: MUSTER_EINVAL (an empty record: send nothing), memfd_create's,
 * ftruncate's and mmap's, with *st unchanged. */
int muster__buffer_storage_map(muster__buffer_storage_t *st);

#endif
