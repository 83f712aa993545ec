/* handle-child: the child of handle-parent (Node docs' "sending a server
 * object" child), in C.
 *
 *   process.on('message', (m, server) => {
 *     if (m === 'server')
 *       server.on('connection', (socket) => socket.end('handled by child'));
 *   });
 *
 * It serves connections on the listening socket its parent sent, until
 * the parent's channel ends; then it exits. */
#include <muster.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_poll_t poll_handle;
static int server_fd = -1;

static void on_connection(uv_poll_t *p, int status, int events) {
  int c = accept4(server_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0)
    return;     /* a sibling (or the parent) took it first */
  usleep(5000); /* some work, so that concurrent requests spread out */
  char reply[64];
  int n = snprintf(reply, sizeof reply, "handled by child %d\n", (int)getpid());
  if (write(c, reply, (size_t)n) < 0)
    perror("write");
  close(c);
}

static void on_message(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *text = muster_message_text(m, &len);
  muster_handle_type_t type;
  if (len != 8 || memcmp(text, "\"server\"", 8) != 0 ||
      muster_message_handle(m, &type) < 0 || type != MUSTER_HANDLE_TCP_SERVER)
    return;
  server_fd = muster_message_take_handle(m, NULL);
  uv_poll_init(muster_channel_loop(ch), &poll_handle, server_fd);
  uv_poll_start(&poll_handle, UV_READABLE, on_connection);
  muster_channel_send_text(ch, "{\"ready\":true}", 14, -1, NULL, NULL, NULL);
}

static void poll_closed(uv_handle_t *h) {
  close(server_fd);
}

static void on_disconnect(muster_channel_t *ch, int reason) {
  muster_channel_close(ch, NULL);
  if (server_fd >= 0)
    uv_close((uv_handle_t *)&poll_handle, poll_closed);
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
    fprintf(stderr, "handle-child: no parent channel: %s\n",
            muster_strerror(err));
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
