/* muster_supervise_replace: start `next`, wait until it is ONLINE, then
 * stop `prev`; if `next` fails first, keep `prev` (muster/supervise.h).
 * The operation follows both rows through a watch (supervise_watch.h):
 * their on_state belongs to their owner. */
#include "muster/error.h"
#include "muster/supervise.h"
#include "supervise_watch.h"

#include <stdlib.h>

enum phase {
  WAIT_NEXT, /* next is starting */
  WAIT_PREV, /* next is ONLINE; prev is being stopped */
  DONE,      /* the callback is due on the timer */
};

struct muster_supervise_replace_s {
  muster_supervisor_t *prev; /* NULL once closed by its owner */
  muster_supervisor_t *next;
  muster_supervise_replace_cb cb;
  void *arg;
  enum phase phase;
  int status;
  int starting;  /* inside muster_supervise_start(next) */
  int cancelled; /* no callback */
  uv_timer_t timer;
};

static void next_state(void *arg, muster_supervisor_t *sup,
                       muster_supervise_state_t st);
static void next_close(void *arg, muster_supervisor_t *sup);
static void prev_state(void *arg, muster_supervisor_t *sup,
                       muster_supervise_state_t st);
static void prev_close(void *arg, muster_supervisor_t *sup);

static const muster__supervise_watch_t next_watch = {next_state, next_close};
static const muster__supervise_watch_t prev_watch = {prev_state, prev_close};

static void detach(muster_supervise_replace_t *op) {
  if (op->next)
    muster__supervise_watch(op->next, NULL, op);
  if (op->prev)
    muster__supervise_watch(op->prev, NULL, op);
}

static void on_timer_closed(uv_handle_t *h) {
  free(h->data);
}

static void deliver(uv_timer_t *t) {
  muster_supervise_replace_t *op = t->data;
  if (!op->cancelled && op->cb)
    op->cb(op, op->status, op->arg);
  uv_close((uv_handle_t *)&op->timer, on_timer_closed);
}

/* The callback comes from the loop, never from inside the transition that
 * ended the operation: the owner's own on_state for it may still be on
 * the stack, and may close the rows. */
static void finish(muster_supervise_replace_t *op, int status) {
  if (op->phase == DONE)
    return;
  detach(op);
  op->phase = DONE;
  op->status = status;
  if (!op->starting)
    uv_timer_start(&op->timer, deliver, 0, 0);
}

/* Why `next` failed, from its row. */
static int next_failure(muster_supervisor_t *next) {
  if (muster_supervise_state(next) != MUSTER_SUPERVISE_ERRORED)
    return MUSTER_ECHILD;
  int err = muster_supervise_error(next, NULL);
  return err != 0 ? err : MUSTER_ECHILD; /* 0: a crash loop */
}

static void stop_prev(muster_supervise_replace_t *op) {
  op->phase = WAIT_PREV;
  muster__supervise_watch(op->next, NULL, op);
  op->next = NULL; /* up and its owner's again */
  if (op->prev == NULL ||
      muster_supervise_state(op->prev) == MUSTER_SUPERVISE_STOPPED) {
    finish(op, 0);
    return;
  }
  int r = muster_supervise_stop(op->prev);
  if (op->phase == WAIT_PREV &&
      (r < 0 || muster_supervise_state(op->prev) == MUSTER_SUPERVISE_STOPPED))
    finish(op, r < 0 ? r : 0);
}

static void next_state(void *arg, muster_supervisor_t *sup,
                       muster_supervise_state_t st) {
  muster_supervise_replace_t *op = arg;
  if (op->phase != WAIT_NEXT)
    return;
  switch (st) {
  case MUSTER_SUPERVISE_ONLINE:
    stop_prev(op);
    break;
  case MUSTER_SUPERVISE_BACKOFF:
    /* It exited before it was ready: no restart; prev stays. */
    finish(op, MUSTER_ECHILD);
    muster_supervise_stop(sup);
    break;
  case MUSTER_SUPERVISE_STOPPED:
  case MUSTER_SUPERVISE_ERRORED:
    finish(op, next_failure(sup));
    break;
  default:
    break;
  }
}

static void next_close(void *arg, muster_supervisor_t *sup) {
  muster_supervise_replace_t *op = arg;
  int st = muster_supervise_state(sup);
  op->next = NULL;
  if (op->phase == WAIT_NEXT)
    finish(op, st == MUSTER_SUPERVISE_ERRORED ? next_failure(sup)
                                              : MUSTER_ECANCELED);
}

static void prev_state(void *arg, muster_supervisor_t *sup,
                       muster_supervise_state_t st) {
  muster_supervise_replace_t *op = arg;
  (void)sup;
  if (op->phase == WAIT_PREV && st == MUSTER_SUPERVISE_STOPPED)
    finish(op, 0);
}

static void prev_close(void *arg, muster_supervisor_t *sup) {
  muster_supervise_replace_t *op = arg;
  (void)sup;
  /* Gone by its owner's choice: nothing left to stop. While next is still
   * starting, next simply has to come up. */
  op->prev = NULL;
  if (op->phase == WAIT_PREV)
    finish(op, 0);
}

int muster_supervise_replace(muster_supervisor_t *prev,
                             muster_supervisor_t *next,
                             muster_supervise_replace_cb cb, void *arg,
                             muster_supervise_replace_t **out) {
  if (prev == NULL || next == NULL || prev == next ||
      muster_supervise_loop(prev) != muster_supervise_loop(next))
    return MUSTER_EINVAL;
  muster_supervise_state_t st = muster_supervise_state(next);
  if (st != MUSTER_SUPERVISE_STOPPED && st != MUSTER_SUPERVISE_ERRORED)
    return MUSTER_EALREADY;
  muster_supervise_replace_t *op = calloc(1, sizeof *op);
  if (op == NULL)
    return MUSTER_ENOMEM;
  op->prev = prev;
  op->next = next;
  op->cb = cb;
  op->arg = arg;
  int r = muster__supervise_watch(prev, &prev_watch, op);
  if (r == 0) {
    r = muster__supervise_watch(next, &next_watch, op);
    if (r < 0)
      muster__supervise_watch(prev, NULL, op);
  }
  if (r < 0) {
    free(op);
    return r;
  }
  uv_timer_init(muster_supervise_loop(next), &op->timer);
  op->timer.data = op;
  op->starting = 1;
  r = muster_supervise_start(next);
  op->starting = 0;
  if (r < 0) {
    /* The start's own transitions may have ended the operation already. */
    op->phase = DONE;
    detach(op);
    uv_close((uv_handle_t *)&op->timer, on_timer_closed);
    return r;
  }
  if (op->phase == DONE) /* ended during the start: no WAIT_READY */
    uv_timer_start(&op->timer, deliver, 0, 0);
  if (out)
    *out = op;
  return 0;
}

void muster_supervise_replace_cancel(muster_supervise_replace_t *op) {
  if (op == NULL || op->cancelled)
    return;
  op->cancelled = 1;
  if (op->phase == DONE)
    return; /* the timer frees it */
  int was_starting = op->phase == WAIT_NEXT && op->next != NULL;
  muster_supervisor_t *next = op->next;
  finish(op, MUSTER_ECANCELED);
  if (was_starting)
    muster_supervise_stop(next);
}
