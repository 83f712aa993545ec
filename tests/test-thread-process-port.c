/* A message port to a worker process (src/thread_process_bridge.h): the
 * same port calls as between threads, with JSON, bytes and transferred
 * buffers crossing the process boundary, in order, and close reaching the
 * other side. */
#include "test.h"

#include <unistd.h>

#include "../src/thread_process.h"
#include "../src/thread_process_bridge.h"

/* ---- the worker: echo every message back on its port --------------------- */

static muster__bridge_t *child_bridge;

static void child_ch_message(muster_channel_t *ch, muster_message_t *m) {
  muster__bridge_on_message(child_bridge, m);
}

static void child_ch_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(child_bridge);
  muster_channel_close(ch, NULL);
}

static void echo(muster_port_t *port, muster_message_t *m) {
  muster_buffer_t *bufs[4];
  size_t n = muster_message_buffer_count(m);
  for (size_t i = 0; i < n && i < 4; i++) {
    bufs[i] = muster_message_take_buffer(m, i);
    unsigned char *p = muster_buffer_data(bufs[i]);
    for (size_t k = 0; k < muster_buffer_length(bufs[i]); k++)
      p[k] ^= 0xff;
  }
  muster_transfer_t t = {.buffers = bufs, .nbuffers = n};
  size_t len;
  if (muster_message_format(m) == MUSTER_MESSAGE_BYTES) {
    const void *bytes = muster_message_bytes(m, &len);
    muster_port_post_bytes(port, bytes, len, n ? &t : NULL);
  } else {
    muster_port_post(port, muster_message_json(m), n ? &t : NULL);
  }
  for (size_t i = 0; i < n && i < 4; i++)
    muster_buffer_free(bufs[i]);
}

static void child_port_closed(muster_port_t *port) {
  muster_port_close(port, NULL);
}

static int echo_entry(uv_loop_t *loop, int fd, void *arg) {
  muster_channel_options_t o = {0};
  muster_channel_t *ch;
  muster_port_t *port;
  o.on_message = child_ch_message;
  o.on_disconnect = child_ch_end;
  if (muster_channel_open(loop, fd, &o, &ch) != 0)
    return 9;
  if (muster__bridge_create(loop, ch, &port, &child_bridge) != 0)
    return 10;
  muster_port_options_t po = {0};
  po.on_message = echo;
  po.on_close = child_port_closed;
  return muster_port_start(port, &po) == 0 ? 0 : 11;
}

/* ---- the parent -----------------------------------------------------------
 */

typedef struct {
  muster__bridge_t *bridge;
  muster_port_t *port;
  int got;
  char texts[3][64];
  muster_buffer_t *back;
  int64_t code;
  int exits, port_closed;
} parent_t;

static parent_t par;

static void ch_message(muster_channel_t *ch, muster_message_t *m) {
  muster__bridge_on_message(par.bridge, m);
}

static void ch_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(par.bridge);
}

static void on_exit_cb(muster__tproc_t *p, int64_t code, int sig) {
  par.code = sig ? -sig : code;
  par.exits++;
  muster__tproc_close(p, NULL);
}

static void on_reply(muster_port_t *port, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_format(m) == MUSTER_MESSAGE_BYTES
                      ? muster_message_bytes(m, &len)
                      : muster_message_text(m, &len);
  if (par.got < 3 && len < sizeof par.texts[0])
    memcpy(par.texts[par.got], s, len); /* bytes may hold a NUL */
  if (muster_message_buffer_count(m) == 1)
    par.back = muster_message_take_buffer(m, 0);
  if (++par.got == 3)
    muster_port_close(port, NULL);
}

static void on_port_close(muster_port_t *port) {
  par.port_closed++;
}

TEST_T(tproc_port_echo_across_processes, 60) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  memset(&par, 0, sizeof par);
  muster__tproc_options_t o = {0};
  muster__tproc_t *p;
  o.entry = echo_entry;
  o.channel.on_message = ch_message;
  o.channel.on_disconnect = ch_end;
  o.on_exit = on_exit_cb;
  ASSERT_OK(muster__tproc_start(&loop, &o, &p));
  ASSERT_OK(muster__bridge_create(&loop, muster__tproc_channel(p), &par.port,
                                  &par.bridge));
  muster_port_options_t po = {0};
  po.on_message = on_reply;
  po.on_close = on_port_close;
  ASSERT_OK(muster_port_start(par.port, &po));

  json_t *v = json_pack("{s:i, s:s}", "n", 1, "s", "hello");
  ASSERT(muster_port_post(par.port, v, NULL) >= 0);
  json_decref(v);
  ASSERT(muster_port_post_bytes(par.port, "raw\0bytes", 9, NULL) >= 0);
  muster_buffer_t *big;
  size_t len = 1024 * 1024;
  ASSERT_OK(muster_buffer_create(len, &big));
  memset(muster_buffer_data(big), 0x0f, len);
  muster_transfer_t t = {.buffers = &big, .nbuffers = 1};
  v = json_pack("{s:i}", "buffer", 0);
  ASSERT(muster_port_post(par.port, v, &t) >= 0);
  json_decref(v);
  ASSERT(muster_buffer_is_detached(big));
  muster_buffer_free(big);

  test_run_loop(&loop, 30000);
  ASSERT_EQ(par.got, 3);
  ASSERT_STR_EQ(par.texts[0], "{\"n\":1,\"s\":\"hello\"}");
  ASSERT_EQ(memcmp(par.texts[1], "raw\0bytes", 9), 0);
  ASSERT_STR_EQ(par.texts[2], "{\"buffer\":0}");
  ASSERT(par.back != NULL);
  ASSERT_EQ(muster_buffer_length(par.back), len);
  const unsigned char *bytes = muster_buffer_data(par.back);
  ASSERT_EQ(bytes[0], 0xf0);
  ASSERT_EQ(bytes[len - 1], 0xf0);
  muster_buffer_free(par.back);
  /* Closing our end ended the worker's port, its loop, its process. */
  ASSERT_EQ(par.exits, 1);
  ASSERT_EQ(par.code, 0);
  ASSERT_OK(uv_loop_close(&loop));
}
