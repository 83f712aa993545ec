/* The worker side of the pool: run the handler on each task that arrives
 * on the parent port, and post its reply (src/pool_internal.h). */
#include "pool_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "message_internal.h"
#include "muster/error.h"
#include "muster/port.h"
#include "muster/thread.h"
#include "port_internal.h"

struct muster_pool_reply_s {
  muster_port_t *port;
  int given;
};

/* [VALUE]: the encoder's text between the brackets. */
static int post_value(muster_port_t *port, const json_t *value) {
  struct muster__buf b = {malloc(64), 1, 64};
  int r = b.data ? 0 : MUSTER_ENOMEM;
  if (r == 0) {
    b.data[0] = '[';
    r = muster__json_write(value, &b, MUSTER_PORT_MAX_MESSAGE_SIZE - 2);
  }
  if (r == 0)
    r = muster__buf_put1(&b, ']');
  if (r == 0)
    r = muster__port_post_raw(port, MUSTER__PORT_MSG_JSON, b.data, b.len);
  free(b.data);
  return r < 0 ? r : 0;
}

static int post_error(muster_port_t *port, int32_t err) {
  char text[16];
  int n = snprintf(text, sizeof text, "%d", (int)err);
  int r = muster__port_post_raw(port, MUSTER__PORT_MSG_JSON, text, (size_t)n);
  return r < 0 ? r : 0;
}

int muster_pool_reply_json(muster_pool_reply_t *reply, const json_t *value) {
  int r;
  if (reply == NULL || value == NULL || reply->given)
    return MUSTER_EINVAL;
  r = post_value(reply->port, value);
  if (r == 0)
    reply->given = 1;
  return r;
}

int muster_pool_reply_bytes(muster_pool_reply_t *reply, const void *bytes,
                            size_t len) {
  int r;
  if (reply == NULL || (bytes == NULL && len) || reply->given)
    return MUSTER_EINVAL;
  if (len > MUSTER_PORT_MAX_MESSAGE_SIZE)
    return MUSTER_EMSGSIZE;
  r = muster_port_post_bytes(reply->port, bytes, len, NULL);
  if (r < 0)
    return r;
  reply->given = 1;
  return 0;
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
  post_error(port, err);
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
  const char *p;
  char *end;
  long err;
  *status = 0;
  if (muster_message_format(in) == MUSTER_MESSAGE_BYTES) {
    p = muster_message_bytes(in, &len);
    muster__message_init_bytes(out, p, len);
    return 0;
  }
  p = muster_message_text(in, &len);
  if (p == NULL || len == 0)
    return MUSTER_EBADMSG;
  if (p[0] == '[') {
    if (len < 3 || p[len - 1] != ']')
      return MUSTER_EBADMSG;
    muster__message_init_text(out, p + 1, len - 2, NULL);
    return 0;
  }
  /* An error: the whole text is one int (and not NUL-terminated). */
  char num[16];
  if (len >= sizeof num)
    return MUSTER_EBADMSG;
  memcpy(num, p, len);
  num[len] = '\0';
  err = strtol(num, &end, 10);
  if (*end != '\0' || end == num || err == 0 || err < INT32_MIN ||
      err > INT32_MAX)
    return MUSTER_EBADMSG;
  *status = (int)err;
  return 0;
}
