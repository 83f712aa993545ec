/* A worker process's two ends for the thread module
 * (src/thread_process_worker.h). */
#include "thread_process_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "muster/error.h"
#include "thread_process.h"
#include "thread_process_bridge.h"

struct muster__tproc_worker_s {
  muster__tproc_t *proc;
  muster__bridge_t *bridge;
  muster__tproc_worker_hooks_t hooks;
  int (*child)(int fd, void *arg);
  void *child_arg;
  uv_timer_t grace; /* terminate's SIGKILL */
  int online, terminating, reported, error;
  int64_t code;
};

static int is_frame(muster_message_t *m, const char *key) {
  return json_object_get(muster_message_json(m), key) != NULL;
}

/* ---- the parent's side --------------------------------------------------- */

static muster__tproc_worker_t *worker_of(muster_channel_t *ch) {
  return muster__tproc_data(muster_channel_data(ch));
}

static void parent_on_frame(muster_channel_t *ch, muster_message_t *m) {
  muster__tproc_worker_t *w = worker_of(ch);
  json_t *frame = muster_message_json(m);
  if (is_frame(m, "o")) {
    w->online = 1;
    /* A terminate that came before: the worker handles SIGTERM now. */
    if (w->terminating)
      muster__tproc_kill(w->proc, SIGTERM);
    if (w->hooks.on_online)
      w->hooks.on_online(w->hooks.arg);
    return;
  }
  if (is_frame(m, "exit")) {
    w->reported = 1;
    w->code = json_integer_value(json_object_get(frame, "exit"));
    w->error = (int)json_integer_value(json_object_get(frame, "error"));
    return;
  }
  muster__bridge_on_message(w->bridge, m);
}

static void parent_on_end(muster_channel_t *ch, int reason) {
  muster__bridge_on_end(worker_of(ch)->bridge);
}

/* The status says how the process ended; the report, when it came and the
 * process exited normally, says with which code in full. */
static void parent_on_exit(muster__tproc_t *p, int64_t code, int sig) {
  muster__tproc_worker_t *w = muster__tproc_data(p);
  int error = 0;
  uv_timer_stop(&w->grace);
  if (sig == 0 && w->reported) {
    code = w->code;
    error = w->error;
  }
  if (w->hooks.on_exit)
    w->hooks.on_exit(w->hooks.arg, code, sig, error);
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
  int err = uv_timer_init(loop, &w->grace);
  if (err != 0) {
    free(w);
    return err;
  }
  w->grace.data = w;
  /* The worker's exit keeps the loop alive; the timer only cuts it short. */
  uv_unref((uv_handle_t *)&w->grace);
  muster__tproc_options_t o = {0};
  o.entry = child_entry;
  o.arg = w;
  o.channel.on_message = parent_on_frame;
  o.channel.on_disconnect = parent_on_end;
  o.on_exit = parent_on_exit;
  o.data = w;
  err = muster__tproc_start(loop, &o, &w->proc);
  if (err == 0) {
    err = muster__bridge_create(loop, muster__tproc_channel(w->proc), port,
                                &w->bridge);
    if (err != 0)
      muster__tproc_close(w->proc, NULL);
  }
  if (err != 0) {
    w->proc = NULL;
    muster__tproc_worker_close(w);
    return err;
  }
  *out = w;
  return 0;
}

static void on_grace(uv_timer_t *timer) {
  muster__tproc_worker_t *w = timer->data;
  muster__tproc_kill(w->proc, SIGKILL); /* ESRCH: it just ended */
}

void muster__tproc_worker_terminate(muster__tproc_worker_t *w,
                                    uint64_t grace_ms) {
  if (w->terminating)
    return;
  w->terminating = 1;
  if (w->online)
    muster__tproc_kill(w->proc, SIGTERM);
  uv_timer_start(&w->grace, on_grace, grace_ms, 0);
}

static void free_worker(uv_handle_t *h) {
  free(h->data);
}

void muster__tproc_worker_close(muster__tproc_worker_t *w) {
  /* Closing the channel ends the bridge (its inner port closes). */
  if (w->proc != NULL)
    muster__tproc_close(w->proc, NULL);
  uv_close((uv_handle_t *)&w->grace, free_worker);
}

/* ---- the worker's side ---------------------------------------------------
 * The process's one worker: what its SIGTERM handler and its report need.
 * A signal handler can reach nothing else. */
static struct {
  atomic_int *stop;
  int efd; /* the handler's wake-up: never closed before the process ends,
            * so a handler running late never writes to a reused number */
  uv_poll_t poll;
  muster_channel_t *ch; /* NULL once the channel ended */
} self = {NULL, -1, {0}, NULL};

static void on_sigterm(int sig) {
  int saved = errno;
  uint64_t one = 1;
  atomic_store(self.stop, 1);
  if (write(self.efd, &one, sizeof one) < 0) {
    /* Full (it holds 2^64 - 2): a wake-up is pending anyway. */
  }
  errno = saved;
}

static void on_stop_wake(uv_poll_t *h, int status, int events) {
  uint64_t n;
  if (read(self.efd, &n, sizeof n) < 0) {
    /* EAGAIN: another turn read it; the loop stops either way. */
  }
  uv_stop(h->loop);
}

/* SIGTERM = terminate, from here on: the flag for a computation that
 * checks muster_thread_should_stop(), a wake-up for a loop that waits. */
static int watch_sigterm(uv_loop_t *loop, atomic_int *stop) {
  if (self.efd < 0)
    self.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self.efd < 0)
    return -errno;
  self.stop = stop;
  int err = uv_poll_init(loop, &self.poll, self.efd);
  if (err != 0)
    return err;
  uv_poll_start(&self.poll, UV_READABLE, on_stop_wake);
  uv_unref((uv_handle_t *)&self.poll);
  struct sigaction sa = {0};
  sa.sa_handler = on_sigterm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  return 0;
}

static void child_on_frame(muster_channel_t *ch, muster_message_t *m) {
  muster__bridge_on_message(muster_channel_data(ch), m);
}

static void child_on_end(muster_channel_t *ch, int reason) {
  self.ch = NULL;
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
                              atomic_int *stop, muster_port_t **port) {
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
   * first): what it posted at the end still reaches the parent. The
   * bridge waits for it, even if its port and channel ended before. */
  err = at_exit(flush_at_exit, b);
  if (err == 0)
    muster__bridge_keep(b);
  /* SIGTERM is handled before the parent hears online: it sends its
   * terminate only then. */
  if (err == 0)
    err = watch_sigterm(loop, stop);
  if (err == 0)
    err = send_online(fd);
  if (err != 0) {
    muster_port_close(*port, NULL);
    muster_channel_close(ch, NULL);
    return err;
  }
  self.ch = ch;
  /* The channel must not keep the worker's loop alive: the parent port
   * does, as a thread's does. */
  muster_channel_unref(ch);
  return 0;
}

void muster__tproc_worker_report(int code, int error) {
  json_t *frame = json_pack("{s:i, s:i}", "exit", code, "error", error);
  if (frame != NULL && self.ch != NULL)
    muster_channel_send(self.ch, frame, -1, NULL, NULL, NULL);
  json_decref(frame);
}
