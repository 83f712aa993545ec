/* muster_process_exit, _run, exit and beforeExit hooks, the exit code (see
 * include/muster/process_exit.h).
 *
 * The hooks and the exit code are process-wide state, as they are in Node
 * (one `process` object): two hook lists (src/process_hooks.h), fired
 * without their lock held, so a hook may add or remove hooks or call
 * muster_process_exit(). */
#include "muster/error.h"
#include "muster/process_exit.h"
#include "process_hooks.h"

#include <stdatomic.h>
#include <stdlib.h>

static struct muster__hooks exit_hooks = MUSTER__HOOKS_INIT;
static struct muster__hooks before_exit_hooks = MUSTER__HOOKS_INIT;
static atomic_int exit_code;
static atomic_int exiting;

/* Each hook gets the current exit code (an earlier hook may change it). */
static void call_with_code(const struct muster__hook *hook, void *ctx) {
  (void)ctx;
  ((void (*)(int, void *))hook->fn)(atomic_load(&exit_code), hook->arg);
}

static void fire(struct muster__hooks *h) {
  muster__hooks_each(h, call_with_code, NULL);
}

int muster_process_on_exit(muster_process_exit_cb cb, void *arg) {
  return muster__hooks_add(&exit_hooks, (muster__hook_fn)cb, arg);
}

int muster_process_on_before_exit(muster_process_before_exit_cb cb, void *arg) {
  return muster__hooks_add(&before_exit_hooks, (muster__hook_fn)cb, arg);
}

int muster_process_off_exit(muster_process_exit_cb cb, void *arg) {
  return muster__hooks_remove(&exit_hooks, (muster__hook_fn)cb, arg);
}

int muster_process_off_before_exit(muster_process_before_exit_cb cb,
                                   void *arg) {
  return muster__hooks_remove(&before_exit_hooks, (muster__hook_fn)cb, arg);
}

void muster_process_set_exit_code(int code) {
  atomic_store(&exit_code, code);
}

int muster_process_exit_code(void) {
  return atomic_load(&exit_code);
}

/* The 'exit' event, at most once per process: the first caller fires it,
 * and whoever comes later (an exit hook calling muster_process_exit, or
 * another thread) goes straight on. Returns 1 when this call fired it. */
static int fire_exit_once(void) {
  if (atomic_exchange(&exiting, 1) != 0)
    return 0;
  fire(&exit_hooks);
  return 1;
}

void muster_process_exit(int code) {
  atomic_store(&exit_code, code);
  if (!fire_exit_once())
    exit(code);
  exit(atomic_load(&exit_code));
}

void muster_process_abort(void) {
  abort();
}

int muster_process_run(uv_loop_t *loop) {
  if (loop == NULL)
    return MUSTER_EINVAL;
  /* Node's SpinEventLoop: 'beforeExit' only when the loop has emptied by
   * itself, and the loop goes on if the hooks gave it work. */
  for (;;) {
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_alive(loop))
      continue;
    fire(&before_exit_hooks);
    if (!uv_loop_alive(loop))
      break;
  }
  fire_exit_once();
  return atomic_load(&exit_code);
}
