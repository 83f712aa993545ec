/* muster_cluster_* and muster_worker_*: the primary. Each worker process
 * runs in a slot, a muster_supervisor_t row that restarts it, backs off and
 * guards against crash loops; the row's hooks fork the process, ask it to
 * disconnect, and signal it. A worker object lives from its fork to the end
 * of its on_exit; a restart is a new worker with a new id, as in Node. */
#include "cluster_primary.h"
#include "muster/fork.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cluster_free_cb(uv_handle_t *h);
static void maybe_done(muster_cluster_t *c);
static int spawn_worker(cluster_slot_t *s, muster_worker_t **out);
static void graceful(muster_worker_t *w);

static void slot_closing(cluster_slot_t *s) {
  muster__reload_slot_closed(s->cluster, s);
}

/* ---- small helpers ------------------------------------------------------ */

static void cluster_error(muster_cluster_t *c, muster_worker_t *w, int err) {
  if (c->o.events.on_error)
    c->o.events.on_error(c, w, err);
}

static void announce(muster_worker_t *w) {
  if (w->announced)
    return;
  w->announced = 1;
  muster_cluster_t *c = w->cluster;
  if (c->o.events.on_fork)
    c->o.events.on_fork(c, w);
}

/* Completions that must come on a later loop turn than the call that
 * caused them go through one zero timer. */
static void async_cb(uv_timer_t *t) {
  muster_cluster_t *c = t->data;
  for (muster_worker_t *w = c->workers; w; w = w->next)
    announce(w);
  if (c->setup_pending) {
    c->setup_pending = 0;
    if (c->o.events.on_setup)
      c->o.events.on_setup(c);
  }
  muster__reload_deliver(c);
  if (c->disc_pending == 2) {
    c->disc_pending = 0;
    if (c->disc_cb)
      c->disc_cb(c, 0, c->disc_arg);
  }
  maybe_done(c);
}

static void cluster_kick(muster_cluster_t *c) {
  if (!c->freed)
    uv_timer_start(&c->async_timer, async_cb, 0, 0);
}

/* What the files below this one call back up (cluster_primary.h). */
static const cluster_up_t up = {
    .error = cluster_error,
    .part_freed = maybe_done,
    .kick = cluster_kick,
    .spawn = spawn_worker,
    .graceful = graceful,
    .slot_closing = slot_closing,
};

/* ---- worker objects ------------------------------------------------------ */

static void worker_timer_closed(uv_handle_t *h) {
  muster_worker_t *w = h->data;
  muster_cluster_t *c = w->cluster;
  free(w);
  c->handles_open--;
  maybe_done(c);
}

static void worker_free(muster_worker_t *w) {
  muster_cluster_t *c = w->cluster;
  for (muster_worker_t **p = &c->workers; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      c->nworkers--;
      break;
    }
  muster__handle_remove_worker(w);
  muster__handle_drop_inflight(w);
  if (w->channel)
    muster_channel_close(w->channel, NULL);
  w->channel = NULL;
  if (w->child)
    muster_child_close(w->child, NULL);
  w->child = NULL;
  uv_close((uv_handle_t *)&w->linger, worker_timer_closed);
}

/* Both the process and the channel have ended: the worker is done. */
static void worker_finish(muster_worker_t *w) {
  muster_cluster_t *c = w->cluster;
  cluster_slot_t *s = w->slot;
  announce(w);
  w->state = MUSTER_WORKER_DEAD;
  if (w->linger_active) {
    uv_timer_stop(&w->linger);
    w->linger_active = 0;
  }
  if (s && s->worker == w) {
    s->worker = NULL;
    s->last = w; /* for on_errored, if this exit ends the slot */
    muster_supervise_state_t st = muster_supervise_state(s->sup);
    if (w->exited_after_disconnect && st != MUSTER_SUPERVISE_STOPPING) {
      /* It left by choice (Node's exitedAfterDisconnect): no restart. */
      muster__slot_close(s);
    } else {
      muster_supervise_exited(s->sup, w->exit_code, w->exit_signal);
    }
    s->last = NULL; /* s lives until its close callback, a later turn */
  }
  w->slot = NULL;
  if (c->o.events.on_exit)
    c->o.events.on_exit(c, w, w->exit_code, w->exit_signal);
  worker_free(w);
  maybe_done(c);
}

static void worker_channel_ended(muster_worker_t *w) {
  if (w->channel_ended)
    return;
  w->channel_ended = 1;
  muster_cluster_t *c = w->cluster;
  if (w->slot && w->slot->worker == w)
    muster__slot_snapshot_keys(w->slot, w);
  muster__handle_remove_worker(w);
  muster__handle_drop_inflight(w);
  announce(w);
  w->state = MUSTER_WORKER_DISCONNECTED;
  if (c->o.events.on_disconnect)
    c->o.events.on_disconnect(c, w);
  if (w->exited)
    worker_finish(w);
}

static void linger_cb(uv_timer_t *t) {
  muster_worker_t *w = t->data;
  w->linger_active = 0;
  /* The process is gone but its channel never reached end of file: some
   * other process holds the worker's end. Stop waiting for it. */
  if (w->channel) {
    muster_channel_close(w->channel, NULL);
    w->channel = NULL;
  }
  worker_channel_ended(w);
}

static void on_child_exit(muster_child_t *child, int64_t code, int sig) {
  muster_worker_t *w = muster_child_data(child);
  w->exited = 1;
  w->exit_code = code;
  w->exit_signal = sig;
  if (w->channel_ended) {
    worker_finish(w);
  } else {
    w->linger_active = 1;
    uv_timer_start(&w->linger, linger_cb, 1000, 0);
  }
}

static void on_child_data(muster_child_t *child, int slot, const char *buf,
                          size_t len) {
  muster_worker_t *w = muster_child_data(child);
  muster_cluster_t *c = w->cluster;
  if (c->o.events.on_output)
    c->o.events.on_output(c, w, slot, buf, len);
}

static void on_channel_disconnect(muster_channel_t *ch, int reason) {
  (void)reason;
  worker_channel_ended(muster_channel_data(ch));
}

static void on_channel_error(muster_channel_t *ch, int err) {
  muster_worker_t *w = muster_channel_data(ch);
  cluster_error(w->cluster, w, err);
}

static void on_channel_message(muster_channel_t *ch, muster_message_t *m) {
  muster_worker_t *w = muster_channel_data(ch);
  muster_cluster_t *c = w->cluster;
  announce(w);
  if (c->o.events.on_message)
    c->o.events.on_message(c, w, m);
}

static int has_key(muster_worker_t *w, const char *key) {
  for (member_t *m = w->members; m; m = m->next_in_worker)
    if (m->listening && strcmp(m->key, key) == 0)
      return 1;
  return 0;
}

static void check_ready(muster_worker_t *w) {
  cluster_slot_t *s = w->slot;
  if (w->ready || s == NULL || s->worker != w)
    return;
  muster_cluster_t *c = w->cluster;
  int ready = w->ready_explicit;
  if (!ready && !(c->o.flags & MUSTER_CLUSTER_EXPLICIT_READY)) {
    if (s->nexpected == 0) {
      ready = w->state >= MUSTER_WORKER_ONLINE;
    } else {
      ready = 1;
      for (unsigned i = 0; i < s->nexpected; i++)
        if (!has_key(w, s->expected[i]))
          ready = 0;
    }
  }
  if (ready) {
    w->ready = 1;
    muster_supervise_ready(s->sup);
  }
}

static void graceful(muster_worker_t *w) {
  w->exited_after_disconnect = 1;
  muster__handle_remove_worker(w);
  muster__cluster_msg_t m = {.act = MUSTER__CLUSTER_DISCONNECT};
  muster__cluster_send(w->channel, &w->cluster->seq, &m, -1, 0);
}

static void on_leaving(muster_worker_t *w) {
  muster_cluster_t *c = w->cluster;
  cluster_slot_t *s = w->slot;
  if (w->leaving || s == NULL || s->worker != w || c->closing)
    return;
  w->leaving = 1;
  /* No new connections for it; the replacement takes them (or they wait
   * in the primary's queue until it listens). */
  for (member_t *m = w->members; m; m = m->next_in_worker)
    m->is_free = 0;
  muster__slot_snapshot_keys(s, w);
  const char *const *env = (const char *const *)s->env;
  char **expected = NULL;
  int err;
  if (s->expected)
    expected = muster__strv_copy((const char *const *)s->expected, &err);
  unsigned nexp = s->nexpected;
  muster_supervise_leave(s->sup);
  muster_worker_t *nw = NULL;
  if (muster_cluster_fork(c, env, &nw) == 0 && nw && nw->slot) {
    muster__strv_free(nw->slot->expected);
    nw->slot->expected = expected;
    nw->slot->nexpected = nexp;
    expected = NULL;
  }
  muster__strv_free(expected);
}

static void on_listening_msg(muster_worker_t *w,
                             const muster__cluster_msg_t *m) {
  muster_cluster_t *c = w->cluster;
  w->state = MUSTER_WORKER_LISTENING;
  const char *key = muster__handle_listening(w, m);
  if (c->o.events.on_listening) {
    muster_worker_address_t a = {0};
    a.address = m->address;
    a.port = m->port;
    a.udp = m->udp;
    a.address_type = m->udp ? 0 : m->address_type;
    a.key = key;
    c->o.events.on_listening(c, w, &a);
  }
  check_ready(w);
}

static void on_channel_internal(muster_channel_t *ch, muster_message_t *msg) {
  muster_worker_t *w = muster_channel_data(ch);
  muster_cluster_t *c = w->cluster;
  muster__cluster_msg_t m;
  int r = muster__cluster_decode(muster_message_json(msg), &m);
  if (r == 1)
    return;
  announce(w);
  if (r < 0) {
    cluster_error(c, w, r);
    if (m.act == MUSTER__CLUSTER_QUERY_SERVER)
      muster__handle_query(c, w, &m, r); /* answered with the error */
    return;
  }
  switch (m.act) {
  case MUSTER__CLUSTER_REPLY:
    muster__handle_reply(w, &m);
    break;
  case MUSTER__CLUSTER_ONLINE:
    if (w->state < MUSTER_WORKER_ONLINE)
      w->state = MUSTER_WORKER_ONLINE;
    w->muster_peer = (m.fields & MUSTER__CLUSTER_F_MUSTER) != 0;
    if (c->o.events.on_online)
      c->o.events.on_online(c, w);
    check_ready(w);
    break;
  case MUSTER__CLUSTER_QUERY_SERVER:
    muster__handle_query(c, w, &m, 0);
    break;
  case MUSTER__CLUSTER_LISTENING:
    on_listening_msg(w, &m);
    break;
  case MUSTER__CLUSTER_EXITED_AFTER_DISCONNECT: {
    w->exited_after_disconnect = 1;
    muster__cluster_msg_t ack = {.act = MUSTER__CLUSTER_REPLY, .ack = m.seq};
    muster__cluster_send(w->channel, &c->seq, &ack, -1, 0);
    break;
  }
  case MUSTER__CLUSTER_CLOSE:
    if (m.key)
      muster__handle_close_key(c, w, m.key);
    break;
  case MUSTER__CLUSTER_CLOSED:
    if (m.n > 0)
      muster__handle_conn_closed(w, m.key, m.n);
    break;
  case MUSTER__CLUSTER_READY:
    w->ready_explicit = 1;
    check_ready(w);
    break;
  case MUSTER__CLUSTER_LEAVING:
    on_leaving(w);
    break;
  default:
    break; /* anything else is ignored, as Node's primary does */
  }
}

/* ---- spawning a worker (for a slot's start hook) ---------------------------
 */

static int spawn_worker(cluster_slot_t *s, muster_worker_t **out) {
  muster_cluster_t *c = s->cluster;
  muster_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL)
    return MUSTER_ENOMEM;
  size_t nargs = muster__strv_len((const char *const *)c->args);
  size_t nenv = muster__strv_len((const char *const *)c->env) +
                muster__strv_len((const char *const *)s->env) + 3;
  const char **argv = calloc(nargs + 2, sizeof *argv);
  const char **envp = calloc(nenv, sizeof *envp);
  char idbuf[48], ppbuf[48];
  int err = MUSTER_ENOMEM;
  if (argv == NULL || envp == NULL)
    goto fail;
  argv[0] = c->exec;
  for (size_t i = 0; i < nargs; i++)
    argv[i + 1] = c->args[i];
  size_t n = 0;
  for (size_t i = 0; c->env && c->env[i]; i++)
    envp[n++] = c->env[i];
  for (size_t i = 0; s->env && s->env[i]; i++)
    envp[n++] = s->env[i];
  int id = c->next_id + 1;
  snprintf(idbuf, sizeof idbuf, "NODE_UNIQUE_ID=%d", id);
  snprintf(ppbuf, sizeof ppbuf, "MUSTER_PRIMARY_PID=%d", (int)getpid());
  envp[n++] = idbuf;
  envp[n++] = ppbuf;
  envp[n] = NULL;
  muster_stdio_kind_t k =
      c->o.settings.silent ? MUSTER_STDIO_PIPE : MUSTER_STDIO_INHERIT;
  muster_stdio_t stdio[4] = {{k, -1}, {k, -1}, {k, -1}, {MUSTER_STDIO_IPC, -1}};
  if (c->o.settings.silent)
    stdio[0].kind = MUSTER_STDIO_IGNORE;
  muster_fork_options_t fo = {0};
  muster_spawn_options_t *so = &fo.spawn;
  so->env = envp;
  so->cwd = c->cwd;
  so->stdio = stdio;
  so->stdio_count = 4;
  so->flags = c->o.settings.flags & (MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID);
  so->uid = c->o.settings.uid;
  so->gid = c->o.settings.gid;
  so->on_exit = on_child_exit;
  so->on_data = on_child_data;
  so->data = w;
  muster_channel_options_t *co = &fo.channel;
  co->on_message = on_channel_message;
  co->on_internal = on_channel_internal;
  co->on_error = on_channel_error;
  co->on_disconnect = on_channel_disconnect;
  co->data = w;
  muster_child_t *child = NULL;
  err = muster_fork(c->loop, c->exec, argv, &fo, &child, &w->channel);
  if (err < 0)
    goto fail;
  free(argv);
  free(envp);
  c->next_id = id;
  w->id = id;
  w->cluster = c;
  w->slot = s;
  w->child = child;
  w->pid = muster_child_pid(child);
  uv_timer_init(c->loop, &w->linger);
  w->linger.data = w;
  c->handles_open++;
  muster_worker_t **p = &c->workers;
  while (*p)
    p = &(*p)->next;
  *p = w;
  c->nworkers++;
  *out = w;
  cluster_kick(c); /* on_fork on the next turn */
  return 0;
fail:
  free(argv);
  free(envp);
  free(w);
  return err;
}

/* ---- the cluster ------------------------------------------------------------
 */

static void maybe_done(muster_cluster_t *c) {
  if (c->freed)
    return;
  if (c->disc_pending == 1 && c->nworkers == 0 && c->slots == NULL) {
    c->disc_pending = 2;
    cluster_kick(c);
  }
  if (!c->closing || c->nworkers || c->slots)
    return;
  if (c->handles)
    muster__handles_close_all(c);
  if (c->reload) {
    muster__reload_finish(c, MUSTER_ECANCELED);
    return; /* delivered by async_cb, which calls us again */
  }
  if (c->disc_pending || c->setup_pending)
    return;
  if (c->handles_open > 0)
    return;
  c->freed = 1;
  uv_close((uv_handle_t *)&c->async_timer, cluster_free_cb);
}

static void cluster_free_cb(uv_handle_t *h) {
  muster_cluster_t *c = h->data;
  muster_cluster_close_cb cb = c->close_cb;
  if (cb)
    cb(c);
  free(c->exec);
  muster__strv_free(c->args);
  free(c->cwd);
  muster__strv_free(c->env);
  free(c->codes);
  free(c);
}

static int set_settings(muster_cluster_t *c,
                        const muster_cluster_settings_t *s) {
  char *exec = NULL, *cwd = NULL;
  char **args = NULL, **env = NULL;
  int err = 0;
  if (s->exec) {
    exec = strdup(s->exec);
  } else {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0)
      return MUSTER_ENOENT;
    buf[n] = '\0';
    exec = strdup(buf);
  }
  if (exec == NULL)
    return MUSTER_ENOMEM;
  if (s->cwd && (cwd = strdup(s->cwd)) == NULL)
    err = MUSTER_ENOMEM;
  if (!err)
    args = muster__strv_copy(s->args, &err);
  if (!err)
    env = muster__strv_copy(s->env, &err);
  if (err) {
    free(exec);
    free(cwd);
    muster__strv_free(args);
    return err;
  }
  free(c->exec);
  free(c->cwd);
  muster__strv_free(c->args);
  muster__strv_free(c->env);
  c->exec = exec;
  c->cwd = cwd;
  c->args = args;
  c->env = env;
  c->o.settings = *s;
  c->o.settings.exec = c->exec;
  c->o.settings.cwd = c->cwd;
  c->o.settings.args = (const char *const *)c->args;
  c->o.settings.env = (const char *const *)c->env;
  return 0;
}

int muster_cluster_create(uv_loop_t *loop, const muster_cluster_options_t *o,
                          muster_cluster_t **out) {
  if (loop == NULL || out == NULL)
    return MUSTER_EINVAL;
  muster_cluster_options_t zero = {0};
  if (o == NULL)
    o = &zero;
  if ((int)o->policy < 0 || o->policy > MUSTER_SCHED_LEAST_CONN)
    return MUSTER_EINVAL;
  muster_cluster_t *c = calloc(1, sizeof *c);
  if (c == NULL)
    return MUSTER_ENOMEM;
  c->o = *o;
  int err = set_settings(c, &o->settings);
  if (err) {
    free(c);
    return err;
  }
  err = muster__slot_check_policy(loop, &o->supervise);
  if (err) {
    free(c->exec);
    muster__strv_free(c->args);
    free(c->cwd);
    muster__strv_free(c->env);
    free(c);
    return err;
  }
  /* Every slot's row copies the policy when it is made, long after this
   * call: keep our own copy of the borrowed exit codes. */
  if (o->supervise.no_restart_count > 0 && o->supervise.no_restart_codes) {
    size_t n = o->supervise.no_restart_count;
    c->codes = malloc(n * sizeof *c->codes);
    if (c->codes == NULL) {
      free(c->exec);
      muster__strv_free(c->args);
      free(c->cwd);
      muster__strv_free(c->env);
      free(c);
      return MUSTER_ENOMEM;
    }
    memcpy(c->codes, o->supervise.no_restart_codes, n * sizeof *c->codes);
    c->o.supervise.no_restart_codes = c->codes;
  }
  c->loop = loop;
  c->up = &up;
  c->policy = o->policy ? o->policy : muster_cluster_sched_from_env();
  c->ready_timeout_ms = o->ready_timeout_ms ? o->ready_timeout_ms : 30000;
  uv_timer_init(loop, &c->async_timer);
  c->async_timer.data = c;
  c->setup_pending = 1;
  cluster_kick(c);
  *out = c;
  return 0;
}

int muster_cluster_setup(muster_cluster_t *c,
                         const muster_cluster_settings_t *s) {
  if (c == NULL || s == NULL)
    return MUSTER_EINVAL;
  int err = set_settings(c, s);
  if (err)
    return err;
  c->setup_pending = 1;
  cluster_kick(c);
  return 0;
}

int muster_cluster_fork(muster_cluster_t *c, const char *const *env,
                        muster_worker_t **out) {
  if (c == NULL)
    return MUSTER_EINVAL;
  if (c->closing)
    return MUSTER_ECANCELED;
  cluster_slot_t *s;
  int err = muster__slot_new(c, env, &s);
  if (err)
    return err;
  muster_worker_t *w;
  err = muster__slot_start(s);
  if (err)
    return err;
  w = s->worker;
  if (out)
    *out = w;
  return 0;
}

muster_worker_t *muster_cluster_worker(muster_cluster_t *c, int id) {
  for (muster_worker_t *w = c ? c->workers : NULL; w; w = w->next)
    if (w->id == id)
      return w;
  return NULL;
}

muster_worker_t *muster_cluster_next_worker(muster_cluster_t *c,
                                            muster_worker_t *prev) {
  if (c == NULL)
    return NULL;
  return prev ? prev->next : c->workers;
}

unsigned muster_cluster_worker_count(const muster_cluster_t *c) {
  return c ? c->nworkers : 0;
}

int muster_cluster_disconnect(muster_cluster_t *c, muster_cluster_cb cb,
                              void *arg) {
  if (c == NULL)
    return MUSTER_EINVAL;
  if (c->closing)
    return MUSTER_ECANCELED;
  c->disc_cb = cb;
  c->disc_arg = arg;
  c->disc_pending = 1;
  if (c->reload)
    muster__reload_finish(c, MUSTER_ECANCELED);
  for (cluster_slot_t *s = c->slots; s; s = s->next)
    muster_supervise_stop(s->sup);
  maybe_done(c);
  return 0;
}

void muster_cluster_close(muster_cluster_t *c, muster_cluster_close_cb cb) {
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  c->async_timer.data = c;
  if (c->reload)
    muster__reload_finish(c, MUSTER_ECANCELED);
  cluster_slot_t *next;
  for (cluster_slot_t *s = c->slots; s; s = next) {
    next = s->next;
    muster_supervise_stop(s->sup);
  }
  /* Workers without a slot (dropped ones) are already on their way out. */
  muster__handles_close_all(c);
  cluster_kick(c);
}

muster_sched_t muster_cluster_policy(const muster_cluster_t *c) {
  return c->policy;
}
uv_loop_t *muster_cluster_loop(const muster_cluster_t *c) {
  return c->loop;
}
void *muster_cluster_data(const muster_cluster_t *c) {
  return c->o.data;
}
void muster_cluster_set_data(muster_cluster_t *c, void *data) {
  c->o.data = data;
}

/* ---- muster_worker_* --------------------------------------------------------
 */

int muster_worker_id(const muster_worker_t *w) {
  return w->id;
}
int muster_worker_pid(const muster_worker_t *w) {
  return w->pid;
}
muster_worker_state_t muster_worker_state(const muster_worker_t *w) {
  return w->state;
}
const char *muster_worker_state_name(muster_worker_state_t s) {
  switch (s) {
  case MUSTER_WORKER_NONE:
    return "none";
  case MUSTER_WORKER_ONLINE:
    return "online";
  case MUSTER_WORKER_LISTENING:
    return "listening";
  case MUSTER_WORKER_DISCONNECTED:
    return "disconnected";
  case MUSTER_WORKER_DEAD:
    return "dead";
  }
  return "unknown";
}
int muster_worker_is_connected(const muster_worker_t *w) {
  return w->channel != NULL && !w->channel_ended &&
         muster_channel_connected(w->channel);
}
int muster_worker_is_dead(const muster_worker_t *w) {
  return w->exited;
}
int muster_worker_exited_after_disconnect(const muster_worker_t *w) {
  return w->exited_after_disconnect;
}
int muster_worker_is_ready(const muster_worker_t *w) {
  return w->ready != 0;
}
unsigned muster_worker_connections(const muster_worker_t *w) {
  return w->open_conns;
}
muster_cluster_t *muster_worker_cluster(const muster_worker_t *w) {
  return w->cluster;
}
void *muster_worker_data(const muster_worker_t *w) {
  return w->data;
}
void muster_worker_set_data(muster_worker_t *w, void *data) {
  w->data = data;
}

int muster_worker_send(muster_worker_t *w, const json_t *message, int handle_fd,
                       const muster_send_options_t *options, muster_send_cb cb,
                       void *arg) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->channel == NULL || w->channel_ended)
    return MUSTER_ENOTCONN;
  return muster_channel_send(w->channel, message, handle_fd, options, cb, arg);
}

int muster_worker_send_text(muster_worker_t *w, const char *json, size_t len,
                            int handle_fd, const muster_send_options_t *options,
                            muster_send_cb cb, void *arg) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->channel == NULL || w->channel_ended)
    return MUSTER_ENOTCONN;
  return muster_channel_send_text(w->channel, json, len, handle_fd, options, cb,
                                  arg);
}

int muster_worker_disconnect(muster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (!muster_worker_is_connected(w))
    return MUSTER_ENOTCONN;
  graceful(w);
  return 0;
}

int muster_worker_stop(muster_worker_t *w) {
  if (w == NULL)
    return MUSTER_EINVAL;
  if (w->exited)
    return MUSTER_ESRCH;
  if (w->slot == NULL || w->slot->worker != w) {
    /* Not supervised any more: escalate by hand. */
    w->exited_after_disconnect = 1;
    return muster_child_kill(w->child, SIGKILL);
  }
  return muster_supervise_stop(w->slot->sup);
}

int muster_worker_kill(muster_worker_t *w, int signum) {
  if (w == NULL || signum < 0 || signum >= NSIG)
    return MUSTER_EINVAL;
  if (w->exited)
    return MUSTER_ESRCH;
  if (signum == 0)
    signum = SIGTERM;
  w->exited_after_disconnect = 1;
  muster__handle_remove_worker(w);
  if (muster_worker_is_connected(w))
    muster_channel_disconnect(w->channel);
  return muster_child_kill(w->child, signum);
}
