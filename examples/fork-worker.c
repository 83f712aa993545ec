/* fork-worker: the child of fork-parent (Node docs' sub.js), in C.
 *
 *   process.on('message', (m) => console.log('CHILD got message:', m));
 *   process.send({ foo: 'bar', baz: NaN });
 *
 * JSON has no NaN: Node's JSON.stringify writes null, and so do we. After
 * the parent's reply the worker disconnects, which ends its loop: it exits.
 * It works the same under a Node parent (child_process.fork(path,
 * {execPath: path})). */
#include <muster.h>

#include <stdio.h>
#include <string.h>

static void on_message(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *text = muster_message_text(m, &len);
  printf("CHILD got message: %.*s\n", (int)len, text);
  fflush(stdout);
  muster_channel_disconnect(ch); /* done: exit after the parent's reply */
}

static void on_disconnect(muster_channel_t *ch, int reason) {
  /* The parent went away or we disconnected: either way, done. */
  muster_channel_close(ch, NULL);
}

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  muster_channel_options_t o;
  memset(&o, 0, sizeof o);
  o.on_message = on_message;
  o.on_disconnect = on_disconnect;
  muster_channel_t *ch;
  int err = muster_channel_from_parent(&loop, &o, &ch);
  if (err) {
    fprintf(stderr, "fork-worker: no parent channel: %s\n",
            muster_strerror(err));
    return 1;
  }
  json_t *msg = json_pack("{s:s, s:n}", "foo", "bar", "baz");
  muster_channel_send(ch, msg, -1, NULL, NULL, NULL);
  json_decref(msg);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
