/* muster_cluster_reload: a rolling reload, one slot at a time. For each old
 * slot: a new slot is started whose worker must be ready on the old
 * worker's keys; only then is the old slot stopped (gracefully), and the
 * next one begins once it is gone. A new worker that fails is stopped and
 * the old one keeps serving: a reload never declares a worker ready that
 * did not say so. */
#include "cluster_internal.h"

#include <stdlib.h>

struct reload {
  muster_cluster_cb cb;
  void *arg;
  cluster_slot_t **olds;
  unsigned n, i;
  cluster_slot_t *fresh; /* the new slot being started */
  cluster_slot_t *old;   /* the slot being stopped, once fresh is ready */
  int status;
  int done;
};

void muster__reload_finish(muster_cluster_t *c, int status) {
  struct reload *r = c->reload;
  if (r == NULL || r->done)
    return;
  r->done = 1;
  r->status = status;
  if (r->fresh) {
    cluster_slot_t *f = r->fresh;
    r->fresh = NULL;
    f->reload_new = 0;
    muster_supervise_stop(f->sup);
  }
  muster__cluster_kick(c); /* the callback comes from the loop */
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
    /* A start that fails closes the slot at once: it only becomes the
     * reload's fresh slot once it runs, so the spawn error is what the
     * callback reports. */
    err = muster__slot_start(s);
    if (err == 0)
      r->fresh = s;
  }
  if (err)
    muster__reload_finish(c, err);
}

void muster__reload_slot_failed(muster_cluster_t *c, cluster_slot_t *s,
                                int status) {
  struct reload *r = c->reload;
  if (r == NULL || r->fresh != s)
    return;
  r->fresh = NULL;
  s->reload_new = 0;
  muster__reload_finish(c, status);
}

int muster__reload_on_state(cluster_slot_t *s, muster_supervise_state_t st) {
  muster_cluster_t *c = s->cluster;
  struct reload *r = c->reload;
  if (st == MUSTER_SUPERVISE_ONLINE && r && r->fresh == s) {
    /* The new worker is ready: now the old one may go. */
    r->fresh = NULL;
    s->reload_new = 0;
    cluster_slot_t *o = r->olds[r->i];
    if (o == NULL) {
      r->i++;
      reload_step(c);
    } else {
      r->old = o;
      muster_supervise_stop(o->sup);
    }
    return 1;
  }
  if (s->reload_new &&
      (st == MUSTER_SUPERVISE_BACKOFF || st == MUSTER_SUPERVISE_STOPPED)) {
    /* It exited before it was ready: the old worker stays. */
    muster__reload_slot_failed(c, s, MUSTER_ECHILD);
    if (st == MUSTER_SUPERVISE_BACKOFF) {
      muster_supervise_stop(s->sup); /* -> STOPPED, which closes it */
      return 1;
    }
  }
  return 0;
}

void muster__reload_slot_closed(muster_cluster_t *c, cluster_slot_t *s) {
  struct reload *r = c->reload;
  if (r == NULL)
    return;
  for (unsigned i = 0; i < r->n; i++)
    if (r->olds[i] == s)
      r->olds[i] = NULL;
  if (r->fresh == s)
    muster__reload_slot_failed(c, s, MUSTER_ECHILD);
  if (r->old == s) {
    /* The old worker is gone: on to the next slot. */
    r->old = NULL;
    r->i++;
    reload_step(c);
  }
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
