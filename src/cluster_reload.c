/* muster_cluster_reload: a rolling reload, one slot at a time. For each old
 * slot, muster_supervise_replace() starts a new slot whose worker must be
 * ready on the old worker's keys; only then is the old slot stopped
 * (gracefully), and the next one begins once it is gone. A new worker that
 * fails is stopped and the old one keeps serving: a reload never declares
 * a worker ready that did not say so. */
#include "cluster_primary.h"

#include <stdlib.h>

struct reload {
  muster_cluster_cb cb;
  void *arg;
  cluster_slot_t **olds;
  unsigned n, i;
  cluster_slot_t *fresh;          /* the new slot being started */
  muster_supervise_replace_t *op; /* fresh replacing olds[i] */
  int status;
  int done;
};

void muster__reload_finish(muster_cluster_t *c, int status) {
  struct reload *r = c->reload;
  if (r == NULL || r->done)
    return;
  r->done = 1;
  r->status = status;
  if (r->op) {
    /* A new worker not yet ready is stopped; the old one stays. */
    muster_supervise_replace_cancel(r->op);
    r->op = NULL;
  }
  if (r->fresh) {
    r->fresh->reload_new = 0;
    r->fresh = NULL;
  }
  c->up->kick(c); /* the callback comes from the loop */
}

void muster__reload_deliver(muster_cluster_t *c) {
  struct reload *r = c->reload;
  if (r == NULL || !r->done)
    return;
  c->reload = NULL;
  free(r->olds);
  if (r->cb)
    r->cb(c, r->status, r->arg);
  free(r);
}

static void reload_step(muster_cluster_t *c);

/* One slot done: its new worker is ready and the old one stopped (status
 * 0), or the new one failed, was stopped, and the old one keeps serving
 * (muster_supervise_replace's status). */
static void on_replaced(muster_supervise_replace_t *op, int status, void *arg) {
  muster_cluster_t *c = arg;
  struct reload *r = c->reload;
  (void)op;
  r->op = NULL;
  if (r->fresh) {
    r->fresh->reload_new = 0;
    r->fresh = NULL;
  }
  if (status < 0) {
    muster__reload_finish(c, status);
    return;
  }
  r->i++;
  reload_step(c);
}

static void reload_step(muster_cluster_t *c) {
  struct reload *r = c->reload;
  if (r == NULL || r->done)
    return;
  while (r->i < r->n && r->olds[r->i] == NULL)
    r->i++;
  if (r->i == r->n) {
    muster__reload_finish(c, 0);
    return;
  }
  cluster_slot_t *o = r->olds[r->i];
  cluster_slot_t *s;
  int err = muster__slot_new(c, (const char *const *)o->env, &s);
  if (err == 0) {
    if (o->worker)
      muster__slot_snapshot_keys(o, o->worker);
    int e2;
    s->expected = muster__strv_copy((const char *const *)o->expected, &e2);
    s->nexpected = s->expected ? o->nexpected : 0;
    s->reload_new = 1;
    /* The new worker must be ready on the old one's keys before the old
     * one is stopped: the step of every rolling reload, public as
     * muster_supervise_replace(). A start that fails closes the slot at
     * once, and the spawn error is what the callback reports. */
    s->closing = 1; /* no user events from inside this start */
    err = muster_supervise_replace(o->sup, s->sup, on_replaced, c, &r->op);
    s->closing = 0;
    if (err == 0 && s->worker == NULL) {
      muster_supervise_replace_cancel(r->op);
      r->op = NULL;
      err = MUSTER_ECHILD;
    }
    if (err == 0) {
      r->fresh = s;
    } else {
      s->reload_new = 0;
      muster__slot_close(s);
    }
  }
  if (err)
    muster__reload_finish(c, err);
}

void muster__reload_slot_closed(muster_cluster_t *c, cluster_slot_t *s) {
  struct reload *r = c->reload;
  if (r == NULL)
    return;
  /* Slots are freed on a later turn: forget them here. An old slot that
   * left by itself has nothing to be replaced (the one being replaced now
   * is the operation's to notice: it hears of the close too). */
  for (unsigned i = 0; i < r->n; i++)
    if (r->olds[i] == s)
      r->olds[i] = NULL;
  if (r->fresh == s)
    r->fresh = NULL; /* a failed new slot: freed before the callback */
}

int muster_cluster_reload(muster_cluster_t *c, muster_cluster_cb cb,
                          void *arg) {
  if (c == NULL)
    return MUSTER_EINVAL;
  if (c->closing)
    return MUSTER_ECANCELED;
  if (c->reload)
    return MUSTER_EBUSY;
  struct reload *r = calloc(1, sizeof *r);
  unsigned n = 0;
  for (cluster_slot_t *s = c->slots; s; s = s->next)
    n++;
  if (r == NULL || (r->olds = calloc(n + 1, sizeof *r->olds)) == NULL) {
    free(r);
    return MUSTER_ENOMEM;
  }
  r->cb = cb;
  r->arg = arg;
  /* Slots are pushed at the head of the list: reverse it, oldest first. */
  for (cluster_slot_t *s = c->slots; s; s = s->next)
    if (s->worker &&
        muster_supervise_state(s->sup) != MUSTER_SUPERVISE_STOPPING)
      r->olds[r->n++] = s;
  for (unsigned i = 0; i < r->n / 2; i++) {
    cluster_slot_t *t = r->olds[i];
    r->olds[i] = r->olds[r->n - 1 - i];
    r->olds[r->n - 1 - i] = t;
  }
  c->reload = r;
  reload_step(c);
  return 0;
}
