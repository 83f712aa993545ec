/* A received message, whoever delivered it (src/message_internal.h). */
#include "message_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "json_read.h"
#include "json_write.h"

muster_message_format_t muster_message_format(const muster_message_t *m) {
  return m->format;
}

/* The text of a message that arrived as a value, made once. The message
 * is never const in fact (deliverers make them writable, on their stack):
 * the cast only lets a const accessor cache what it computed. */
static const char *encode_text(const muster_message_t *cm) {
  muster_message_t *m = (muster_message_t *)cm;
  struct muster__buf b = {NULL, 0, 0};
  if (muster__json_write(m->json, &b, SIZE_MAX) != 0) {
    free(b.data);
    return NULL;
  }
  m->own_text = b.data;
  m->data = b.data;
  m->len = b.len;
  return m->data;
}

const char *muster_message_text(const muster_message_t *m, size_t *len) {
  const char *text = NULL;
  if (m->format == MUSTER_MESSAGE_JSON)
    text = m->data != NULL || m->json == NULL ? m->data : encode_text(m);
  if (len)
    *len = text ? m->len : 0;
  return text;
}

json_t *muster_message_json(muster_message_t *m) {
  if (m->format != MUSTER_MESSAGE_JSON)
    return NULL;
  if (!m->json_asked) {
    m->json_asked = 1;
    if (m->hooks && m->hooks->json_asked)
      m->hooks->json_asked(m->source, m);
  }
  if (m->json == NULL && m->data != NULL)
    m->json = muster__json_read(m->data, m->len, NULL);
  return m->json;
}

const void *muster_message_bytes(const muster_message_t *m, size_t *len) {
  if (m->format == MUSTER_MESSAGE_JSON)
    return muster_message_text(m, len);
  if (len)
    *len = m->len;
  return m->data;
}

int muster_message_handle(const muster_message_t *m,
                          muster_handle_type_t *type) {
  if (type)
    *type = m->fd >= 0 ? muster_handle_type(m->fd) : MUSTER_HANDLE_NONE;
  return m->fd;
}

int muster_message_take_handle(muster_message_t *m,
                               muster_handle_type_t *type) {
  int fd = muster_message_handle(m, type);
  m->fd = -1;
  return fd;
}

const char *muster_message_handle_kind(const muster_message_t *m) {
  return m->kind;
}

void muster__message_done(muster_message_t *m) {
  if (m->hooks && m->hooks->done)
    m->hooks->done(m->source, m);
  if (m->fd >= 0)
    close(m->fd);
  m->fd = -1;
  json_decref(m->json);
  m->json = NULL;
  free(m->own_text);
  m->own_text = NULL;
}
