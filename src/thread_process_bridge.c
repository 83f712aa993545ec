/* A port over a channel between two processes
 * (src/thread_process_bridge.h). */
#include "thread_process_bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel_private.h"
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
  muster_port_t *pending_ports[MAX_PENDING];
  size_t npending_ports;
  int disconnect_pending;
  int owns_channel; /* muster__bridge_open's: closed when it ends */
  int kept;         /* muster__bridge_keep: freed by the flush only */
};

static void drop_pending(muster__bridge_t *b) {
  for (size_t i = 0; i < b->npending; i++)
    muster_buffer_free(b->pending[i]);
  b->npending = 0;
  for (size_t i = 0; i < b->npending_shared; i++)
    muster_shared_unref(b->pending_shared[i]);
  b->npending_shared = 0;
  for (size_t i = 0; i < b->npending_ports; i++)
    muster_port_close(b->pending_ports[i], NULL);
  b->npending_ports = 0;
}

static void maybe_free(muster__bridge_t *b) {
  if (b->ch == NULL && b->inner == NULL && !b->kept) {
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

/* A port of a transfer list: one end of a new socketpair bridged to it
 * here, the other sent. On failure the port is closed (its other end
 * hears it), as a port that cannot be delivered. */
static void send_port(muster__bridge_t *b, muster_port_t *port) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    muster_port_close(port, NULL);
    return;
  }
  if (muster__bridge_open(b->loop, sv[0], port, NULL) != 0) {
    close(sv[1]);
    return;
  }
  json_t *frame = json_pack("{s:i}", "p", 1);
  /* The channel owns sv[1] once the send is accepted. */
  if (frame == NULL ||
      muster_channel_send(b->ch, frame, sv[1], NULL, NULL, NULL) < 0)
    close(sv[1]); /* the peer never gets it: our end sees the close */
  json_decref(frame);
}

static void inner_on_message(muster_port_t *port, muster_message_t *m) {
  muster__bridge_t *b = muster_port_data(port);
  if (b->ch == NULL)
    return;
  size_t n = muster_message_port_count(m);
  for (size_t i = 0; i < n; i++) {
    muster_port_t *p = muster_message_take_port(m, i);
    if (p != NULL)
      send_port(b, p);
  }
  n = muster_message_buffer_count(m);
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

/* A message the user posted that cannot be decoded (post_text of text
 * that is not JSON): the receiving process's port reports it, as a port
 * between threads does. */
static void inner_on_messageerror(muster_port_t *port, int err) {
  muster__bridge_t *b = muster_port_data(port);
  json_t *frame = json_pack("{s:i}", "e", 1);
  if (b->ch != NULL && frame != NULL)
    muster_channel_send(b->ch, frame, -1, NULL, NULL, NULL);
  json_decref(frame);
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
  if (b->ch == NULL)
    return;
  /* A bridge of its own channel has nothing else to send and disconnects
   * now (the channel writes what is queued first, ACKs included), and
   * keeps the loop alive until the peer has heard it. */
  if (b->owns_channel) {
    muster_channel_ref(b->ch);
    muster_channel_disconnect(b->ch);
  } else if (muster_channel_queue_size(b->ch) == 0) {
    muster_channel_disconnect(b->ch);
  } else {
    b->disconnect_pending = 1;
  }
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
  if (json_object_get(frame, "p") != NULL) {
    int fd = muster_message_take_handle(m, NULL);
    muster_port_t *port;
    if (fd < 0)
      return;
    if (b->npending_ports == MAX_PENDING) {
      close(fd); /* the peer's end sees the close */
      return;
    }
    if (muster__bridge_open(b->loop, fd, NULL, &port) != 0)
      return; /* fd closed: the peer's end sees it */
    b->pending_ports[b->npending_ports++] = port;
    return;
  }
  if (json_object_get(frame, "e") != NULL) {
    muster__port_post_raw(b->inner, MUSTER__PORT_MSG_BAD, NULL, 0);
    drop_pending(b);
    return;
  }
  /* A message: it carries what came before it. Ports it moved are gone
   * from the list; what a failed post left is dropped. */
  muster_transfer_t t = {.buffers = b->pending,
                         .nbuffers = b->npending,
                         .shared = b->pending_shared,
                         .nshared = b->npending_shared,
                         .ports = b->pending_ports,
                         .nports = b->npending_ports};
  json_t *value = json_object_get(frame, "m");
  int r = -1;
  if (json_object_get(frame, "b") != NULL) {
    if (muster__tproc_take_buffer(m, &buf) == 0) {
      r = muster_port_post_bytes(b->inner, muster_buffer_data(buf),
                                 muster_buffer_length(buf), &t);
      muster_buffer_free(buf);
    }
  } else if (value != NULL) {
    r = muster_port_post(b->inner, value, &t);
  } else {
    return;
  }
  if (r >= 0)
    b->npending_ports = 0;
  drop_pending(b);
}

void muster__bridge_on_end(muster__bridge_t *b) {
  if (b->owns_channel)
    muster_channel_close(b->ch, NULL);
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
  b->kept = 0;
  maybe_free(b);
}

void muster__bridge_keep(muster__bridge_t *b) {
  b->kept = 1;
}

/* After the user's post was handed to the channel within the post: the
 * channel writes it now, not after the loop's current phase. */
static void write_now(muster_port_t *inner) {
  muster__bridge_t *b = muster_port_data(inner);
  if (b->ch != NULL)
    muster__channel_flush(b->ch);
}

/* Bridges `ch` to `inner` (taken): its callbacks start it, unref'd. */
static muster__bridge_t *bridge_new(uv_loop_t *loop, muster_channel_t *ch,
                                    muster_port_t *inner) {
  muster__bridge_t *b = calloc(1, sizeof *b);
  if (b == NULL)
    return NULL;
  b->ch = ch;
  b->loop = loop;
  b->inner = inner;
  muster_port_options_t o = {0};
  o.on_message = inner_on_message;
  o.on_messageerror = inner_on_messageerror;
  o.on_close = inner_on_close;
  o.data = b;
  muster_port_start(inner, &o);
  /* The inner end must not keep the loop alive: the user's end and the
   * channel decide that. */
  muster_port_unref(inner);
  /* What the user posts goes to the channel within the post, as a post
   * between threads wakes its reader at once: a worker process busy in
   * its entry, or in a long callback, would else hold its messages until
   * its loop turned. */
  muster__port_deliver_on_post(inner, write_now);
  return b;
}

int muster__bridge_create(uv_loop_t *loop, muster_channel_t *ch,
                          muster_port_t **port, muster__bridge_t **out) {
  muster_port_t *inner, *user;
  int err = muster_port_pair(loop, &inner, &user);
  if (err != 0)
    return err;
  muster__bridge_t *b = bridge_new(loop, ch, inner);
  if (b == NULL) {
    muster_port_close(inner, NULL);
    muster_port_close(user, NULL);
    return MUSTER_ENOMEM;
  }
  *port = user;
  *out = b;
  return 0;
}

static void own_on_frame(muster_channel_t *ch, muster_message_t *m) {
  muster__bridge_on_message(muster_channel_data(ch), m);
}

static void own_on_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(muster_channel_data(ch));
}

int muster__bridge_open(uv_loop_t *loop, int fd, muster_port_t *inner,
                        muster_port_t **port) {
  muster_channel_options_t o = {0};
  muster_channel_t *ch = NULL;
  muster_port_t *user = NULL;
  muster__bridge_t *b = NULL;
  int err = 0;
  o.on_message = own_on_frame;
  o.on_disconnect = own_on_end;
  if (inner == NULL)
    err = muster_port_pair(loop, &inner, &user);
  if (err != 0) {
    close(fd);
    return err;
  }
  err = muster_channel_open(loop, fd, &o, &ch);
  if (err != 0)
    close(fd);
  else if ((b = bridge_new(loop, ch, inner)) == NULL)
    err = MUSTER_ENOMEM;
  if (err != 0) {
    if (ch != NULL)
      muster_channel_close(ch, NULL); /* it owns fd */
    muster_port_close(inner, NULL);
    if (user != NULL)
      muster_port_close(user, NULL);
    return err;
  }
  b->owns_channel = 1;
  muster_channel_set_data(ch, b);
  muster_channel_unref(ch);
  if (port != NULL)
    *port = user;
  return 0;
}
