/* fork-parent: Node's child_process.fork() example (master.js / sub.js in
 * Node's docs), in C.
 *
 *   const n = fork(`${__dirname}/sub.js`);
 *   n.on('message', (m) => console.log('PARENT got message:', m));
 *   n.send({ hello: 'world' });
 *
 * Here the worker (fork-worker, next to this program) speaks first, the
 * parent answers, and the worker exits after the parent's reply. The worker
 * may also be Node: `fork-parent node sub.js` runs any program instead.
 *
 * Usage: fork-parent [PROGRAM ARGS...] */
#include <muster.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failed;

static void on_message(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *text = muster_message_text(m, &len);
  printf("PARENT got message: %.*s\n", (int)len, text);
  fflush(stdout);
  json_t *reply = json_pack("{s:s}", "hello", "world");
  int err = muster_channel_send(ch, reply, -1, NULL, NULL, NULL);
  json_decref(reply);
  if (err < 0) {
    fprintf(stderr, "send: %s\n", muster_strerror(err));
    failed = 1;
  }
}

static void on_disconnect(muster_channel_t *ch, int reason) {
  if (reason != 0) {
    fprintf(stderr, "channel: %s\n", muster_strerror(reason));
    failed = 1;
  }
  muster_channel_close(ch, NULL);
}

static void on_exit_cb(muster_child_t *child, int64_t status, int sig) {
  printf("worker exited with code %lld\n", (long long)status);
  if (status != 0 || sig != 0)
    failed = 1;
}

static void on_close(muster_child_t *child) {
  muster_child_close(child, NULL);
}

int main(int argc, char **argv) {
  char worker[PATH_MAX];
  const char *default_argv[2] = {worker, NULL};
  const char *const *wargv = default_argv;
  if (argc > 1) {
    wargv = (const char *const *)argv + 1;
  } else {
    /* fork-worker lives next to this program. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
      perror("readlink");
      return 1;
    }
    self[n] = '\0';
    snprintf(worker, sizeof worker, "%s/fork-worker", dirname(self));
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  muster_fork_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.on_exit = on_exit_cb;
  o.spawn.on_close = on_close;
  o.channel.on_message = on_message;
  o.channel.on_disconnect = on_disconnect;
  muster_child_t *child;
  muster_channel_t *ch;
  int err = muster_fork(&loop, wargv[0], wargv, &o, &child, &ch);
  if (err) {
    fprintf(stderr, "fork %s: %s\n", wargv[0], muster_strerror(err));
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return failed;
}
