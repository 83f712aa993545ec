/* The blocking forms: a buffered run on a private loop.
 *
 * A private loop, not the caller's: the caller may be inside one of its
 * loop's callbacks (uv_run() is not reentrant) or on a thread with no loop
 * at all. libuv delivers SIGCHLD to every loop that has children, and each
 * loop waitpid()s only its own, so the caller's other children are
 * unaffected.
 */
#include "child_internal.h"

#include <stdlib.h>
#include <string.h>

static void sync_cb(muster_exec_result_t *r, void *data) {
  muster_exec_result_t *out = data;
  *out = *r;
  r->stdout_buf = NULL; /* taken */
  r->stderr_buf = NULL;
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int run_sync(int shell, const char *file, const char *const argv[],
                    const muster_exec_options_t *options,
                    muster_exec_result_t *result) {
  uv_loop_t loop;
  int r;

  if (result == NULL)
    return MUSTER_EINVAL;
  memset(result, 0, sizeof *result);
  r = uv_loop_init(&loop);
  if (r < 0) {
    result->error = r;
    return r;
  }
  r = muster__child_exec_start(&loop, shell, file, argv, options, sync_cb, NULL,
                               result);
  /* Also lets a failed spawn release its handles. */
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    /* Not expected: every handle of the run closes itself. */
    uv_walk(&loop, close_walk_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  if (r < 0) {
    result->error = r;
    return r;
  }
  return result->error;
}

int muster_spawn_sync(const char *file, const char *const argv[],
                      const muster_exec_options_t *options,
                      muster_exec_result_t *result) {
  return run_sync(0, file, argv, options, result);
}

int muster_exec_sync(const char *command, const muster_exec_options_t *options,
                     muster_exec_result_t *result) {
  return run_sync(1, command, NULL, options, result);
}

int muster_exec_file_sync(const char *file, const char *const argv[],
                          const muster_exec_options_t *options,
                          muster_exec_result_t *result) {
  return run_sync(0, file, argv, options, result);
}

void muster_exec_result_free(muster_exec_result_t *result) {
  if (result == NULL)
    return;
  free(result->stdout_buf);
  free(result->stderr_buf);
  memset(result, 0, sizeof *result);
}
