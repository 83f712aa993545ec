/* Slots: one supervised child per worker (muster_supervise_child_create,
 * muster/supervise.h), the row that forks it, feeds its exit to the policy
 * and signals it; and the slot's end. A restart is a new worker with a new
 * id in the same slot. The row's callbacks are the primary's (cluster_up_t):
 * this file only makes, starts and ends slots. */
#include "cluster_primary.h"

#include <stdlib.h>
#include <string.h>

void muster__slot_snapshot_keys(cluster_slot_t *s, muster_worker_t *w) {
  unsigned n = 0;
  for (member_t *m = w->members; m; m = m->next_in_worker)
    n += m->listening;
  if (n == 0 && !w->ready)
    return; /* it never got going: keep what the slot expected before */
  char **keys = calloc(n + 1, sizeof *keys);
  if (keys == NULL)
    return;
  n = 0;
  for (member_t *m = w->members; m; m = m->next_in_worker)
    if (m->listening && (keys[n] = strdup(m->key)) != NULL)
      n++;
  muster__strv_free(s->expected);
  s->expected = keys;
  s->nexpected = n;
}

static void slot_state(muster_supervisor_t *sup, muster_supervise_state_t old,
                       muster_supervise_state_t st) {
  cluster_slot_t *s = muster_supervise_data(sup);
  (void)old;
  if (s->closing)
    return;
  /* A reload's new slot that fails is stopped by the replace operation,
   * and closed here once STOPPED like any other. */
  if (st == MUSTER_SUPERVISE_STOPPED)
    muster__slot_close(s);
}

static void slot_error(muster_supervisor_t *sup,
                       muster_supervise_reason_t reason, int err) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_cluster_t *c = s->cluster;
  if (s->closing)
    return;
  /* A reload's new slot: the reload reports it (the replace operation
   * hears of the error when the slot closes). */
  if (!s->reload_new && c->o.events.on_errored)
    c->o.events.on_errored(c, s->worker ? s->worker : s->last, reason, err);
  muster__slot_close(s);
}

static void slot_closed(muster_supervisor_t *sup) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_cluster_t *c = s->cluster;
  free(s->spare); /* never started: nothing in it to free */
  free(s->run_argv);
  free(s->run_env);
  muster__strv_free(s->env);
  muster__strv_free(s->expected);
  free(s);
  c->handles_open--;
  c->up->part_freed(c);
}

void muster__slot_close(cluster_slot_t *s) {
  if (s->closing)
    return;
  s->closing = 1;
  muster_cluster_t *c = s->cluster;
  for (cluster_slot_t **p = &c->slots; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  c->up->slot_closing(s);
  muster_supervise_close(s->sup, slot_closed);
  c->up->kick(c);
}

int muster__slot_new(muster_cluster_t *c, const char *const *env,
                     cluster_slot_t **out) {
  cluster_slot_t *s = calloc(1, sizeof *s);
  if (s == NULL)
    return MUSTER_ENOMEM;
  int err;
  s->cluster = c;
  s->env = muster__strv_copy(env, &err);
  if (err) {
    free(s);
    return err;
  }
  muster_supervise_child_options_t so = c->up->row;
  so.process.channel.data = s;
  so.on_state = slot_state;
  so.on_error = slot_error;
  so.policy = c->o.supervise;
  so.policy.flags |= MUSTER_SUPERVISE_WAIT_READY;
  so.policy.ready_timeout_ms = c->ready_timeout_ms;
  so.data = s;
  /* The file and argv here are placeholders: the primary's on_prepare
   * gives each start the settings of the moment. */
  err = muster_supervise_child_create(c->loop, c->exec, NULL, &so, &s->sup);
  if (err) {
    muster__strv_free(s->env);
    free(s);
    return err;
  }
  c->handles_open++;
  s->next = c->slots;
  c->slots = s;
  *out = s;
  return 0;
}

/* Starts a new slot; on failure the slot is gone and the error returned. */
int muster__slot_start(cluster_slot_t *s) {
  s->closing = 1; /* no user events from inside this start */
  int r = muster_supervise_start(s->sup);
  s->closing = 0;
  if (r < 0 || s->worker == NULL) {
    muster__slot_close(s);
    return r < 0 ? r : MUSTER_ECHILD;
  }
  return 0;
}

/* The supervise policy is checked by the module that owns it: a trial
 * row, never started. */
int muster__slot_check_policy(uv_loop_t *loop,
                              const muster_supervise_policy_t *policy) {
  muster_supervise_child_options_t so = {0};
  so.policy = *policy;
  muster_supervisor_t *trial;
  int err = muster_supervise_child_create(loop, "-", NULL, &so, &trial);
  if (err == 0)
    muster_supervise_close(trial, NULL);
  return err;
}
