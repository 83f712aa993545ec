/* The worker side of the pool: run the handler on each task that arrives
 * on the parent port, and post its reply (src/pool_internal.h). */
#include "pool_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "message_internal.h"
#include "muster/error.h"
#include "muster/port.h"
#include "muster/thread.h"

struct muster_pool_reply_s {
  muster_port_t *port;
  int given;
};

static int post_tagged(muster_port_t *port, char tag, const void *data,
                       size_t len) {
  char small[256];
  char *buf = len < sizeof small ? small : malloc(len + 1);
  int r;
  if (buf == NULL)
    return MUSTER_ENOMEM;
  buf[0] = tag;
  if (len)
    memcpy(buf + 1, data, len);
  r = muster_port_post_bytes(port, buf, len + 1, NULL);
  if (buf != small)
    free(buf);
  return r < 0 ? r : 0;
}

int muster_pool_reply_json(muster_pool_reply_t *reply, const json_t *value) {
  struct muster__buf b = {NULL, 0, 0};
  int r;
  if (reply == NULL || value == NULL || reply->given)
    return MUSTER_EINVAL;
  r = muster__json_write(value, &b, MUSTER_PORT_MAX_MESSAGE_SIZE - 1);
  if (r == 0)
    r = post_tagged(reply->port, 'J', b.data, b.len);
  free(b.data);
  if (r == 0)
    reply->given = 1;
  return r;
}

int muster_pool_reply_bytes(muster_pool_reply_t *reply, const void *bytes,
                            size_t len) {
  int r;
  if (reply == NULL || (bytes == NULL && len) || reply->given)
    return MUSTER_EINVAL;
  if (len >= MUSTER_PORT_MAX_MESSAGE_SIZE)
    return MUSTER_EMSGSIZE;
  r = post_tagged(reply->port, 'B', bytes, len);
  if (r == 0)
    reply->given = 1;
  return r;
}

static void on_task(muster_port_t *port, muster_message_t *task) {
  const muster__pool_conf_t *conf = muster_port_data(port);
  muster_pool_reply_t reply = {port, 0};
  int32_t err;
  /* A worker being stopped (timed out, or the pool closing) or exiting
   * runs nothing more: the scheduler gave its tasks to others. */
  if (muster_thread_should_stop())
    return;
  err = conf->handler(task, &reply, conf->arg);
  /* Exactly one answer per task, or the scheduler's count goes wrong: an
   * error after a reply is dropped; a reply that could not be posted
   * (ENOMEM) becomes an error. A handler that exited the thread gets no
   * answer: its worker died under the task. */
  if (reply.given || muster_thread_should_stop())
    return;
  if (err == 0 && muster_pool_reply_json(&reply, json_null()) == 0)
    return;
  if (err == 0)
    err = MUSTER_ENOMEM;
  post_tagged(port, 'E', &err, sizeof err);
}

int muster__pool_worker_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = on_task;
  o.data = arg;
  return muster_port_start(muster_thread_parent_port(), &o);
}

int muster__pool_reply_decode(muster_message_t *in, muster_message_t *out,
                              int *status) {
  size_t len;
  const char *p = muster_message_bytes(in, &len);
  int32_t err;
  if (muster_message_format(in) != MUSTER_MESSAGE_BYTES || len == 0)
    return MUSTER_EBADMSG;
  *status = 0;
  switch (p[0]) {
  case 'J':
    muster__message_init_text(out, p + 1, len - 1, NULL);
    return 0;
  case 'B':
    muster__message_init_bytes(out, p + 1, len - 1);
    return 0;
  case 'E':
    if (len != 1 + sizeof err)
      return MUSTER_EBADMSG;
    memcpy(&err, p + 1, sizeof err);
    *status = err ? err : MUSTER_EBADMSG;
    return 0;
  }
  return MUSTER_EBADMSG;
}
