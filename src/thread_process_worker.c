/* A worker process's two ends for the thread module: the fork and exit
 * from src/thread_process.c, the port from src/thread_process_bridge.c,
 * and the one frame of their own, {"o":1}: the worker's loop is running
 * (Node's 'online'). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "muster/error.h"
#include "muster/thread.h"
#include "thread_process.h"
#include "thread_process_bridge.h"

struct muster__tproc_worker_s {
  muster__tproc_t *proc;
  muster__bridge_t *bridge;
  muster__tproc_worker_hooks_t hooks;
  int (*child)(int fd, void *arg);
  void *child_arg;
};

static int is_online_frame(muster_message_t *m) {
  return json_object_get(muster_message_json(m), "o") != NULL;
}

/* ---- the parent's side --------------------------------------------------- */

static muster__tproc_worker_t *worker_of(muster_channel_t *ch) {
  return muster__tproc_data(muster_channel_data(ch));
}

static void parent_on_frame(muster_channel_t *ch, muster_message_t *m) {
  muster__tproc_worker_t *w = worker_of(ch);
  if (is_online_frame(m)) {
    if (w->hooks.on_online)
      w->hooks.on_online(w->hooks.arg);
    return;
  }
  muster__bridge_on_message(w->bridge, m);
}

static void parent_on_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(worker_of(ch)->bridge);
}

static void parent_on_exit(muster__tproc_t *p, int64_t code, int sig) {
  muster__tproc_worker_t *w = muster__tproc_data(p);
  if (w->hooks.on_exit)
    w->hooks.on_exit(w->hooks.arg, code, sig);
}

static int child_entry(uv_loop_t *loop, int fd, void *arg) {
  muster__tproc_worker_t *w = arg;
  return w->child(fd, w->child_arg);
}

int muster__tproc_worker_start(uv_loop_t *loop, int (*child)(int, void *),
                               void *child_arg,
                               const muster__tproc_worker_hooks_t *hooks,
                               muster_port_t **port,
                               muster__tproc_worker_t **out) {
  muster__tproc_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL)
    return MUSTER_ENOMEM;
  w->hooks = *hooks;
  w->child = child;
  w->child_arg = child_arg;
  muster__tproc_options_t o = {0};
  o.entry = child_entry;
  o.arg = w;
  o.channel.on_message = parent_on_frame;
  o.channel.on_disconnect = parent_on_end;
  o.on_exit = parent_on_exit;
  o.data = w;
  int err = muster__tproc_start(loop, &o, &w->proc);
  if (err == 0) {
    err = muster__bridge_create(loop, muster__tproc_channel(w->proc), port,
                                &w->bridge);
    if (err != 0)
      muster__tproc_close(w->proc, NULL);
  }
  if (err != 0) {
    free(w);
    return err;
  }
  *out = w;
  return 0;
}

int muster__tproc_worker_kill(muster__tproc_worker_t *w, int signum) {
  return muster__tproc_kill(w->proc, signum);
}

void muster__tproc_worker_close(muster__tproc_worker_t *w) {
  /* Closing the channel ends the bridge (its inner port closes). */
  muster__tproc_close(w->proc, NULL);
  free(w);
}

/* ---- the worker's side --------------------------------------------------- */

static void child_on_frame(muster_channel_t *ch, muster_message_t *m) {
  muster__bridge_on_message(muster_channel_data(ch), m);
}

static void child_on_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(muster_channel_data(ch));
  muster_channel_close(ch, NULL);
}

static void flush_at_exit(void *arg) {
  muster__bridge_flush(arg);
}

/* The online frame, written before the entry runs (a channel's sends wait
 * for its loop, and an entry that crashes at once would take it along):
 * one JSON line, the channel's wire format, into an empty socket. */
static int send_online(int fd) {
  static const char frame[] = "{\"o\":1}\n";
  ssize_t n;
  do
    n = write(fd, frame, sizeof frame - 1);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof frame - 1 ? 0 : n < 0 ? -errno : MUSTER_EIO;
}

int muster__tproc_worker_port(uv_loop_t *loop, int fd,
                              muster__tproc_at_exit_fn at_exit,
                              muster_port_t **port) {
  muster_channel_options_t o = {0};
  muster_channel_t *ch;
  muster__bridge_t *b;
  o.on_message = child_on_frame;
  o.on_disconnect = child_on_end;
  int err = muster_channel_open(loop, fd, &o, &ch);
  if (err != 0)
    return err;
  err = muster__bridge_create(loop, ch, port, &b);
  if (err != 0) {
    muster_channel_close(ch, NULL);
    return err;
  }
  muster_channel_set_data(ch, b);
  /* The worker's cleanup runs this last (hooks run last registered
   * first): what it posted at the end still reaches the parent. */
  err = at_exit(flush_at_exit, b);
  if (err == 0)
    err = send_online(fd);
  if (err != 0) {
    muster_port_close(*port, NULL);
    muster_channel_close(ch, NULL);
    return err;
  }
  /* The channel must not keep the worker's loop alive: the parent port
   * does, as a thread's does. */
  muster_channel_unref(ch);
  return 0;
}
