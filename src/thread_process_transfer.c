/* Buffers and shared buffers between a worker process and its parent, as
 * the descriptors of their memory files (src/thread_process.h). */
#include "thread_process.h"

#include <sys/mman.h>
#include <unistd.h>

#include "buffer_internal.h"
#include "muster/error.h"

#define LENGTH_KEY "byteLength"

int muster__tproc_send_buffer(muster_channel_t *ch, json_t *msg,
                              muster_buffer_t *b) {
  if (ch == NULL || !json_is_object(msg))
    return MUSTER_EINVAL;
  muster__buffer_storage_t st;
  int err = muster__buffer_detach(b, &st);
  if (err != 0)
    return err; /* detached or untransferable: nothing moved */
  if (st.len > 0 && (err = muster__buffer_storage_map(&st)) != 0) {
    muster__buffer_storage_release(&st);
    return err;
  }
  json_object_set_new(msg, LENGTH_KEY, json_integer((json_int_t)st.len));
  /* The channel owns the fd once the send is accepted and closes it after
   * the peer's ACK; this process's mapping goes now: the bytes belong to
   * the peer from here on. */
  err = muster_channel_send(ch, msg, st.fd, NULL, NULL, NULL);
  json_object_del(msg, LENGTH_KEY);
  if (err < 0) {
    muster__buffer_storage_release(&st);
    return err;
  }
  if (st.len > 0)
    munmap(st.data, st.len);
  return 0;
}

int muster__tproc_take_buffer(muster_message_t *m, muster_buffer_t **out) {
  json_t *len = json_object_get(muster_message_json(m), LENGTH_KEY);
  if (!json_is_integer(len) || json_integer_value(len) < 0)
    return MUSTER_EINVAL;
  int fd = muster_message_take_handle(m, NULL);
  if (json_integer_value(len) == 0) {
    if (fd >= 0)
      close(fd);
    return muster_buffer_create(0, out);
  }
  muster__buffer_storage_t st;
  int err =
      muster__buffer_storage_from_fd(fd, (size_t)json_integer_value(len), &st);
  if (err != 0)
    return err;
  err = muster__buffer_attach(&st, out);
  if (err != 0)
    muster__buffer_storage_release(&st);
  return err;
}

int muster__tproc_send_shared(muster_channel_t *ch, const json_t *msg,
                              muster_shared_t *s) {
  muster_send_options_t keep = {.keep_open = 1};
  int err =
      muster_channel_send(ch, msg, muster_shared_fd(s), &keep, NULL, NULL);
  return err < 0 ? err : 0;
}

int muster__tproc_take_shared(muster_message_t *m, muster_shared_t **out) {
  int fd = muster_message_handle(m, NULL);
  if (fd < 0)
    return MUSTER_EINVAL;
  return muster_shared_open(fd, out);
}
