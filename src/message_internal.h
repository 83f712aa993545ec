/* How a deliverer (the channel, a worker thread's port) builds the
 * muster_message_t it hands to a message callback, and ends it after.
 *
 * A message lives for one callback, usually on the deliverer's stack:
 *
 *   muster_message_t m;
 *   muster__message_init_text(&m, line, len, NULL);
 *   muster__message_set_handle(&m, fd, "net.Socket");   (optional)
 *   muster__message_set_source(&m, port, &PORT_HOOKS);  (optional)
 *   cb(owner, &m);
 *   muster__message_done(&m);
 *
 * The payload is one of: JSON text (borrowed, and its value when the
 * deliverer parsed it already), a jansson value alone (its text is encoded
 * when asked for), or raw bytes (borrowed). The source and its hooks are
 * how a deliverer learns what the user asked for (the channel: "does this
 * user read values?") and how it attaches payloads of its own (a port's
 * transferred buffers or ports) without this file knowing them: the
 * deliverer's accessors find them through muster__message_source(), and
 * hooks->done releases whatever the user did not take. */
#ifndef MUSTER_MESSAGE_INTERNAL_H
#define MUSTER_MESSAGE_INTERNAL_H

#include <stddef.h>

#include "muster/message.h"

typedef struct {
  /* The first muster_message_json() call on a message of this source,
   * before the value is parsed. May be NULL. */
  void (*json_asked)(void *source, muster_message_t *message);
  /* From muster__message_done(), first: release the deliverer's own
   * payloads. May be NULL. */
  void (*done)(void *source, muster_message_t *message);
} muster__message_hooks_t;

struct muster_message_s {
  const char *data; /* JSON text or raw bytes (borrowed), or NULL */
  size_t len;
  json_t *json;   /* the value: one reference owned, or NULL */
  char *own_text; /* text encoded from json: owned */
  int json_asked;
  muster_message_format_t format;
  int fd;           /* owned, or -1 */
  const char *kind; /* Node's handle type (static), or NULL */
  void *source;
  const muster__message_hooks_t *hooks;
};

/* JSON text[0..len) (borrowed until muster__message_done), and its value
 * when already parsed (`json` taken, may be NULL). */
static inline void muster__message_init_text(muster_message_t *m,
                                             const char *text, size_t len,
                                             json_t *json) {
  m->data = text;
  m->len = len;
  m->json = json;
  m->own_text = NULL;
  m->json_asked = 0;
  m->format = MUSTER_MESSAGE_JSON;
  m->fd = -1;
  m->kind = NULL;
  m->source = NULL;
  m->hooks = NULL;
}

/* A value with no text (`json` taken, not NULL): the text is encoded on
 * the first muster_message_text() call. */
static inline void muster__message_init_value(muster_message_t *m,
                                              json_t *json) {
  muster__message_init_text(m, NULL, 0, json);
}

/* Raw bytes[0..len) (borrowed until muster__message_done). */
static inline void muster__message_init_bytes(muster_message_t *m,
                                              const void *bytes, size_t len) {
  muster__message_init_text(m, bytes, len, NULL);
  m->format = MUSTER_MESSAGE_BYTES;
}

/* An fd (taken: closed by muster__message_done unless the user takes it)
 * and the Node type its sender named (a static string, or NULL). */
static inline void muster__message_set_handle(muster_message_t *m, int fd,
                                              const char *kind) {
  m->fd = fd;
  m->kind = kind;
}

static inline void
muster__message_set_source(muster_message_t *m, void *source,
                           const muster__message_hooks_t *hooks) {
  m->source = source;
  m->hooks = hooks;
}

static inline void *muster__message_source(const muster_message_t *m) {
  return m->source;
}

/* After the callback: hooks->done, then close the fd unless taken, drop
 * the value and any text encoded from it. The message is then garbage. */
void muster__message_done(muster_message_t *m);

#endif
