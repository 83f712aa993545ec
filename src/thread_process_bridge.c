/* A port over a channel between two processes
 * (src/thread_process_bridge.h). */
#include "thread_process_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "muster/error.h"
#include "port_internal.h"
#include "thread_process.h"

/* The most buffers one message may carry across. */
#define MAX_PENDING 64

struct muster__bridge_s {
  uv_loop_t *loop;
  muster_channel_t *ch; /* NULL once ended */
  muster_port_t *inner; /* NULL once closed */
  muster_buffer_t *pending[MAX_PENDING];
  size_t npending;
  muster_shared_t *pending_shared[MAX_PENDING];
  size_t npending_shared;
  int disconnect_pending;
};

static void drop_pending(muster__bridge_t *b) {
  for (size_t i = 0; i < b->npending; i++)
    muster_buffer_free(b->pending[i]);
  b->npending = 0;
  for (size_t i = 0; i < b->npending_shared; i++)
    muster_shared_unref(b->pending_shared[i]);
  b->npending_shared = 0;
}

static void maybe_free(muster__bridge_t *b) {
  if (b->ch == NULL && b->inner == NULL) {
    drop_pending(b);
    free(b);
  }
}

/* ---- user → channel ------------------------------------------------------ */

static int send_json_text(muster_channel_t *ch, const char *text, size_t len) {
  static const char head[] = "{\"m\":";
  char *env = malloc(sizeof head + len + 1);
  if (env == NULL)
    return MUSTER_ENOMEM;
  memcpy(env, head, sizeof head - 1);
  memcpy(env + sizeof head - 1, text, len);
  env[sizeof head - 1 + len] = '}';
  int err = muster_channel_send_text(ch, env, sizeof head + len, -1, NULL, NULL,
                                     NULL);
  free(env);
  return err < 0 ? err : 0;
}

static int send_frame_with_buffer(muster_channel_t *ch, const char *key,
                                  muster_buffer_t *buf) {
  json_t *frame = json_pack("{s:i}", key, 1);
  int err = frame ? muster__tproc_send_buffer(ch, frame, buf) : MUSTER_ENOMEM;
  json_decref(frame);
  muster_buffer_free(buf);
  return err;
}

static void inner_on_message(muster_port_t *port, muster_message_t *m) {
  muster__bridge_t *b = muster_port_data(port);
  if (b->ch == NULL)
    return;
  size_t n = muster_message_buffer_count(m);
  for (size_t i = 0; i < n; i++) {
    muster_buffer_t *buf = muster_message_take_buffer(m, i);
    if (buf != NULL)
      send_frame_with_buffer(b->ch, "x", buf);
  }
  n = muster_message_shared_count(m);
  for (size_t i = 0; i < n; i++) {
    muster_shared_t *sh = muster_message_take_shared(m, i);
    json_t *frame = json_pack("{s:i}", "s", 1);
    if (sh != NULL && frame != NULL)
      muster__tproc_send_shared(b->ch, frame, sh);
    json_decref(frame);
    muster_shared_unref(sh);
  }
  size_t len;
  if (muster_message_format(m) == MUSTER_MESSAGE_BYTES) {
    const void *bytes = muster_message_bytes(m, &len);
    muster_buffer_t *buf;
    if (muster_buffer_from(bytes, len, &buf) == 0)
      send_frame_with_buffer(b->ch, "b", buf);
    return;
  }
  const char *text = muster_message_text(m, &len);
  send_json_text(b->ch, text, len);
}

static void inner_closed(muster_port_t *port) {
  muster__bridge_t *b = muster_port_data(port);
  b->inner = NULL;
  maybe_free(b);
}

/* The user closed its end: the peer process learns it from the channel's
 * end. Not while a handle waits for its ACK: a disconnected channel reads
 * no more, so the ACK would never come and the queue never drain; the
 * flush (or the process's exit) ends the channel then. */
static void inner_on_close(muster_port_t *port) {
  muster__bridge_t *b = muster_port_data(port);
  if (b->ch != NULL && muster_channel_queue_size(b->ch) == 0)
    muster_channel_disconnect(b->ch);
  else if (b->ch != NULL)
    b->disconnect_pending = 1;
}

/* ---- channel → user ------------------------------------------------------ */

void muster__bridge_on_message(muster__bridge_t *b, muster_message_t *m) {
  json_t *frame = muster_message_json(m);
  muster_buffer_t *buf;
  if (b->inner == NULL || !json_is_object(frame))
    return;
  if (json_object_get(frame, "x") != NULL) {
    if (b->npending < MAX_PENDING && muster__tproc_take_buffer(m, &buf) == 0)
      b->pending[b->npending++] = buf;
    return;
  }
  if (json_object_get(frame, "s") != NULL) {
    muster_shared_t *sh;
    if (b->npending_shared < MAX_PENDING &&
        muster__tproc_take_shared(m, &sh) == 0)
      b->pending_shared[b->npending_shared++] = sh;
    return;
  }
  if (json_object_get(frame, "b") != NULL) {
    if (muster__tproc_take_buffer(m, &buf) == 0) {
      muster_port_post_bytes(b->inner, muster_buffer_data(buf),
                             muster_buffer_length(buf), NULL);
      muster_buffer_free(buf);
    }
    return;
  }
  json_t *value = json_object_get(frame, "m");
  if (value == NULL)
    return;
  muster_transfer_t t = {.buffers = b->pending,
                         .nbuffers = b->npending,
                         .shared = b->pending_shared,
                         .nshared = b->npending_shared};
  muster_port_post(b->inner, value, &t);
  drop_pending(b);
}

void muster__bridge_on_end(muster__bridge_t *b) {
  b->ch = NULL;
  if (b->inner != NULL)
    muster_port_close(b->inner, inner_closed);
  else
    maybe_free(b);
}

void muster__bridge_flush(muster__bridge_t *b) {
  if (b->inner != NULL)
    muster__port_deliver(b->inner);
  /* The worker's channel is unref'd (its port decides the loop's life):
   * ref it, or uv_run would return at once without reading the ACK the
   * queue waits for. */
  if (b->ch != NULL)
    muster_channel_ref(b->ch);
  while (b->ch != NULL && muster_channel_queue_size(b->ch) > 0)
    uv_run(b->loop, UV_RUN_ONCE);
  if (b->ch != NULL && b->disconnect_pending)
    muster_channel_disconnect(b->ch);
}

int muster__bridge_create(uv_loop_t *loop, muster_channel_t *ch,
                          muster_port_t **port, muster__bridge_t **out) {
  muster__bridge_t *b = calloc(1, sizeof *b);
  muster_port_t *user;
  if (b == NULL)
    return MUSTER_ENOMEM;
  int err = muster_port_pair(loop, &b->inner, &user);
  if (err != 0) {
    free(b);
    return err;
  }
  b->ch = ch;
  b->loop = loop;
  muster_port_options_t o = {0};
  o.on_message = inner_on_message;
  o.on_close = inner_on_close;
  o.data = b;
  muster_port_start(b->inner, &o);
  /* The inner end must not keep the loop alive: the user's end and the
   * channel decide that. */
  muster_port_unref(b->inner);
  *port = user;
  *out = b;
  return 0;
}
