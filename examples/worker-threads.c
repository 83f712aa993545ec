/* Node's MessageChannel example (worker_threads docs), in C:
 *
 *   const worker = new Worker(__filename);
 *   const subChannel = new MessageChannel();
 *   worker.postMessage({ hereIsYourPort: subChannel.port1 },
 *                      [subChannel.port1]);
 *   subChannel.port2.on('message', (value) => {
 *     console.log('received:', value);
 *   });
 *   // in the worker:
 *   parentPort.once('message', (value) => {
 *     value.hereIsYourPort.postMessage('the worker is sending this');
 *     value.hereIsYourPort.close();
 *   });
 *
 * Prints "received: the worker is sending this", as Node does. A port sent
 * inside a message travels with it; the value names it by its index in
 * the transfer list. */
#include <muster.h>
#include <stdio.h>

/* ---- the worker ---------------------------------------------------------- */

static void worker_message(muster_port_t *parent, muster_message_t *m) {
  json_t *v = muster_message_json(m);
  size_t i = (size_t)json_integer_value(json_object_get(v, "hereIsYourPort"));
  muster_port_t *port = muster_message_take_port(m, i);
  json_t *text = json_string("the worker is sending this");
  if (port) {
    muster_port_post(port, text, NULL);
    muster_port_close(port, NULL);
  }
  json_decref(text);
  /* once(): done with the parent port; the thread's loop then ends. */
  muster_port_close(parent, NULL);
}

static int worker(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = worker_message;
  return muster_port_start(muster_thread_parent_port(), &o);
}

/* ---- the main thread ----------------------------------------------------- */

static void received(muster_port_t *port, muster_message_t *m) {
  printf("received: %s\n", json_string_value(muster_message_json(m)));
}

static void port_closed(muster_port_t *port) {
  muster_port_close(port, NULL);
}

static void worker_exit(muster_thread_t *t, int code) {
  if (code != 0)
    fprintf(stderr, "worker exited with code %d\n", code);
  muster_thread_close(t, NULL);
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  muster_thread_t *w;
  muster_port_t *port1, *port2;
  muster_thread_options_t to = {0};
  muster_port_options_t po = {0};
  int r;
  to.on_exit = worker_exit;
  if ((r = muster_thread_create(loop, worker, &to, &w)) != 0 ||
      (r = muster_port_pair(loop, &port1, &port2)) != 0) {
    fprintf(stderr, "worker-threads: %s\n", muster_strerror(r));
    return 1;
  }
  muster_port_t *list[] = {port1};
  muster_transfer_t transfer = {.ports = list, .nports = 1};
  json_t *msg = json_pack("{s:i}", "hereIsYourPort", 0);
  r = muster_port_post(muster_thread_port(w), msg, &transfer);
  json_decref(msg);
  po.on_message = received;
  po.on_close = port_closed;
  if (r < 0 || (r = muster_port_start(port2, &po)) != 0) {
    fprintf(stderr, "worker-threads: %s\n", muster_strerror(r));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
