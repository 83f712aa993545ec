/* muster_exec() and muster_exec_file(): a spawned child whose stdout and
 * stderr are buffered up to max_buffer, reported once it has closed.
 *
 * The child leads a process group of its own, and over max_buffer, or at
 * the timeout, the whole group is sent the kill signal. Node signals only
 * the child: with exec('sleep 60 | cat', {timeout: 500}) the shell dies
 * and sleep and cat run on for a minute with parent 1. Its output pipes
 * are also closed at once, as Node's exec does: a grandchild that ignores
 * the signal (or left the group) and still holds stdout would otherwise
 * keep the run open forever (closing our end makes it die of
 * EPIPE/SIGPIPE on its next write). The output up to the limit is kept.
 * The first of ENOBUFS and the timeout is the result's error.
 */
#include "child_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define EXEC_DEFAULT_MAX_BUFFER (1024 * 1024)

typedef struct {
  muster__child_exec_cb icb;
  muster_exec_cb cb;
  void *data;
  size_t max;
  int kill_signal;
  int error;
  char *buf[2];
  size_t len[2];
  size_t cap[2];
} exec_t;

/* Appends and keeps the buffer NUL-terminated. */
static int append(exec_t *e, int i, const char *b, size_t n) {
  if (e->len[i] + n + 1 > e->cap[i]) {
    size_t cap = e->cap[i] ? e->cap[i] : 4096;
    while (cap < e->len[i] + n + 1)
      cap *= 2;
    char *nb = realloc(e->buf[i], cap);
    if (nb == NULL)
      return MUSTER_ENOMEM;
    e->buf[i] = nb;
    e->cap[i] = cap;
  }
  memcpy(e->buf[i] + e->len[i], b, n);
  e->len[i] += n;
  e->buf[i][e->len[i]] = '\0';
  return 0;
}

static void fail(exec_t *e, muster_child_t *child, int err) {
  if (e->error == 0)
    e->error = err;
  muster__child_kill_and_drop(child, e->kill_signal);
}

static void on_data(muster_child_t *child, int slot, const char *buf,
                    size_t len) {
  exec_t *e = muster_child_data(child);
  if ((slot != 1 && slot != 2) || buf == NULL || e->error != 0)
    return;
  int i = slot - 1;
  size_t room = e->max - e->len[i];
  size_t n = len > room ? room : len;
  if (append(e, i, buf, n) < 0) {
    fail(e, child, MUSTER_ENOMEM);
    return;
  }
  if (len > room)
    fail(e, child, MUSTER_ENOBUFS);
}

static void exec_freed(muster_child_t *child) {
  exec_t *e = muster_child_data(child);
  free(e->buf[0]);
  free(e->buf[1]);
  free(e);
}

static void on_close(muster_child_t *child) {
  exec_t *e = muster_child_data(child);
  muster_exec_result_t r;
  memset(&r, 0, sizeof r);
  r.error = e->error;
  if (r.error == 0 && muster_child_timed_out(child))
    r.error = MUSTER_ETIMEDOUT;
  r.pid = muster_child_pid(child);
  muster_child_exited(child, &r.exit_status, &r.term_signal);
  for (int i = 0; i < 2; i++)
    if (e->buf[i] == NULL && append(e, i, "", 0) < 0 && r.error == 0)
      r.error = MUSTER_ENOMEM;
  r.stdout_buf = e->buf[0]; /* NULL only after ENOMEM */
  r.stdout_len = e->len[0];
  r.stderr_buf = e->buf[1];
  r.stderr_len = e->len[1];
  if (e->icb != NULL) {
    e->icb(&r, e->data);
    /* The callback took the buffers it set to NULL. */
    if (r.stdout_buf == NULL)
      e->buf[0] = NULL;
    if (r.stderr_buf == NULL)
      e->buf[1] = NULL;
  } else {
    if (r.stdout_buf == NULL)
      r.stdout_buf = (char *)"";
    if (r.stderr_buf == NULL)
      r.stderr_buf = (char *)"";
    e->cb(&r, e->data);
  }
  muster_child_close(child, exec_freed);
}

int muster__child_exec_start(uv_loop_t *loop, int shell, const char *file,
                             const char *const argv[],
                             const muster_exec_options_t *options,
                             muster__child_exec_cb icb, muster_exec_cb cb,
                             void *data) {
  static const muster_exec_options_t defaults;
  const muster_exec_options_t *o = options != NULL ? options : &defaults;
  muster_spawn_options_t so = o->spawn;
  muster_child_t *child;
  exec_t *e;
  int r;

  if (loop == NULL || file == NULL || (icb == NULL && cb == NULL))
    return MUSTER_EINVAL;
  if (o->input == NULL && o->input_len > 0)
    return MUSTER_EINVAL;
  e = calloc(1, sizeof *e);
  if (e == NULL)
    return MUSTER_ENOMEM;
  e->icb = icb;
  e->cb = cb;
  e->data = data;
  e->max = o->max_buffer != 0 ? o->max_buffer : EXEC_DEFAULT_MAX_BUFFER;
  e->kill_signal = so.kill_signal != 0 ? so.kill_signal : SIGTERM;

  so.stdio = NULL;
  so.stdio_count = 0;
  so.flags &= MUSTER_SPAWN_DETACHED | MUSTER_SPAWN_SETUID |
              MUSTER_SPAWN_SETGID | MUSTER_SPAWN_SETGROUPS;
  so.flags |= MUSTER_SPAWN_PROCESS_GROUP;
  if (shell)
    so.flags |= MUSTER_SPAWN_SHELL;
  so.on_spawn = NULL;
  so.on_exit = NULL;
  so.on_data = on_data;
  so.on_alloc = NULL; /* the output is ours to collect */
  so.on_close = on_close;
  so.data = e;
  r = muster_spawn(loop, file, argv, &so, &child);
  if (r < 0) {
    free(e);
    return r;
  }
  child->drop_on_timeout = 1;
  /* A child that never reads its stdin makes this write fail with EPIPE,
   * which is not an error of the run (Node ignores it too). */
  if (o->input_len > 0)
    muster_child_write(child, 0, o->input, o->input_len, NULL, NULL);
  muster_child_end(child, 0);
  return 0;
}

int muster_exec(uv_loop_t *loop, const char *command,
                const muster_exec_options_t *options, muster_exec_cb cb,
                void *data) {
  if (cb == NULL)
    return MUSTER_EINVAL;
  return muster__child_exec_start(loop, 1, command, NULL, options, NULL, cb,
                                  data);
}

int muster_exec_file(uv_loop_t *loop, const char *file,
                     const char *const argv[],
                     const muster_exec_options_t *options, muster_exec_cb cb,
                     void *data) {
  if (cb == NULL)
    return MUSTER_EINVAL;
  return muster__child_exec_start(loop, 0, file, argv, options, NULL, cb, data);
}
