/* Buffers whose ownership moves (muster/buffer.h). */
#include "buffer_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memfd.h"
#include "muster/error.h"

struct muster_buffer_s {
  muster__buffer_storage_t st;
  unsigned detached : 1;
  unsigned untransferable : 1;
};

static const muster__buffer_storage_t empty = {NULL, 0, -1};

/* A memory file for large buffers. Falls back to the heap when the file
 * cannot be had for a reason that says nothing about memory (no
 * descriptors left, no memfd in this kernel, a sandbox refusing it): the
 * buffer still works, only a transfer to another process will copy it. */
static int storage_alloc(size_t len, muster__buffer_storage_t *st) {
  *st = empty;
  if (len == 0)
    return 0;
  if (len > PTRDIFF_MAX)
    return MUSTER_ENOMEM;
  if (len >= MUSTER_BUFFER_MAP_MIN) {
    int err = muster__memfd_create("muster-buffer", len, &st->fd, &st->data);
    if (err == 0) {
      st->len = len;
      return 0;
    }
    if (err == MUSTER_ENOMEM || err == MUSTER_ENOSPC)
      return MUSTER_ENOMEM;
    st->fd = -1;
  }
  st->data = calloc(1, len);
  if (st->data == NULL)
    return MUSTER_ENOMEM;
  st->len = len;
  return 0;
}

void muster__buffer_storage_release(muster__buffer_storage_t *st) {
  if (st->fd >= 0) {
    munmap(st->data, st->len);
    close(st->fd);
  } else {
    free(st->data);
  }
  *st = empty;
}

static int wrap(const muster__buffer_storage_t *st, muster_buffer_t **out) {
  muster_buffer_t *b = calloc(1, sizeof *b);
  if (b == NULL)
    return MUSTER_ENOMEM;
  b->st = *st;
  *out = b;
  return 0;
}

int muster_buffer_create(size_t len, muster_buffer_t **out) {
  if (out == NULL)
    return MUSTER_EINVAL;
  muster__buffer_storage_t st;
  int err = storage_alloc(len, &st);
  if (err != 0)
    return err;
  err = wrap(&st, out);
  if (err != 0)
    muster__buffer_storage_release(&st);
  return err;
}

int muster_buffer_from(const void *data, size_t len, muster_buffer_t **out) {
  if (data == NULL && len > 0)
    return MUSTER_EINVAL;
  int err = muster_buffer_create(len, out);
  if (err == 0 && len > 0)
    memcpy((*out)->st.data, data, len);
  return err;
}

void *muster_buffer_data(const muster_buffer_t *b) {
  return b ? b->st.data : NULL;
}

size_t muster_buffer_length(const muster_buffer_t *b) {
  return b ? b->st.len : 0;
}

int muster_buffer_is_detached(const muster_buffer_t *b) {
  return b != NULL && b->detached;
}

int muster_buffer_is_mapped(const muster_buffer_t *b) {
  return b != NULL && b->st.fd >= 0;
}

void muster_buffer_mark_as_untransferable(muster_buffer_t *b) {
  if (b != NULL)
    b->untransferable = 1;
}

int muster_buffer_is_untransferable(const muster_buffer_t *b) {
  return b != NULL && b->untransferable;
}

int muster__buffer_check(const muster_buffer_t *b) {
  if (b == NULL || b->detached || b->untransferable)
    return MUSTER_EINVAL;
  return 0;
}

/* Leaves `b` as Node leaves a transferred ArrayBuffer. */
static void take(muster_buffer_t *b) {
  b->st = empty;
  b->detached = 1;
}

int muster__buffer_detach(muster_buffer_t *b, muster__buffer_storage_t *st) {
  int err = muster__buffer_check(b);
  if (err != 0 || st == NULL)
    return err != 0 ? err : MUSTER_EINVAL;
  *st = b->st;
  take(b);
  return 0;
}

int muster__buffer_attach(muster__buffer_storage_t *st, muster_buffer_t **out) {
  if (st == NULL || out == NULL)
    return MUSTER_EINVAL;
  int err = wrap(st, out);
  if (err == 0)
    *st = empty;
  return err;
}

int muster_buffer_transfer(muster_buffer_t *b, muster_buffer_t **out) {
  int err = muster__buffer_check(b);
  if (err != 0 || out == NULL)
    return err != 0 ? err : MUSTER_EINVAL;
  /* The new handle first: if it cannot be had, `b` must stay whole. */
  err = wrap(&b->st, out);
  if (err == 0)
    take(b);
  return err;
}

void muster_buffer_free(muster_buffer_t *b) {
  if (b == NULL)
    return;
  muster__buffer_storage_release(&b->st);
  free(b);
}

int muster__buffer_storage_from_fd(int fd, size_t len,
                                   muster__buffer_storage_t *st) {
  if (fd < 0 || len == 0 || st == NULL) {
    if (fd >= 0)
      close(fd);
    return MUSTER_EINVAL;
  }
  void *data;
  int err = muster__memfd_map(fd, len, &data);
  if (err != 0) {
    close(fd);
    return err;
  }
  st->data = data;
  st->len = len;
  st->fd = fd;
  return 0;
}

int muster__buffer_storage_map(muster__buffer_storage_t *st) {
  if (st->fd >= 0 || st->len == 0)
    return st->fd >= 0 ? 0 : MUSTER_EINVAL;
  muster__buffer_storage_t m = empty;
  int err = muster__memfd_create("muster-buffer", st->len, &m.fd, &m.data);
  if (err != 0)
    return err;
  m.len = st->len;
  memcpy(m.data, st->data, st->len);
  free(st->data);
  *st = m;
  return 0;
}
