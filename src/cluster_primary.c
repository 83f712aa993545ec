/* muster_cluster_*: the primary. Each worker process runs in a slot, a
 * supervised child (muster/supervise.h) that forks it, restarts it, backs
 * off and guards against crash loops; the row's callbacks, here, make the
 * worker objects, hear their exits and ask them to disconnect. A worker
 * object lives from its fork to the end of its on_exit; a restart is a new
 * worker with a new id, as in Node. Its own calls, muster_worker_*, are in
 * cluster_primary_worker.c. */
#include "cluster_primary.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cluster_free_cb(uv_handle_t *h);
static void maybe_done(muster_cluster_t *c);

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

/* ---- worker objects ------------------------------------------------------ */

/* The worker's child and channel are its slot's row's, which closes them
 * (muster_supervise_child_create): only our own part goes here. */
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
  free(w);
  c->handles_open--;
}

/* The row has judged the worker's exit (or its slot is closing): the
 * worker's last event, then it is gone. */
static void worker_finish(muster_worker_t *w) {
  muster_cluster_t *c = w->cluster;
  cluster_slot_t *s = w->slot;
  if (s && s->last == w)
    s->last = NULL;
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
}

/* The slot's current worker, if `ch` is its channel: a channel that
 * outlived its worker (a grandchild held it open past the row's
 * close_wait_ms) speaks for nobody. */
static muster_worker_t *channel_worker(muster_channel_t *ch) {
  cluster_slot_t *s = muster_channel_data(ch);
  muster_worker_t *w = s->worker;
  return w != NULL && w->channel == ch && !w->channel_ended ? w : NULL;
}

static void on_channel_disconnect(muster_channel_t *ch, int reason) {
  (void)reason;
  muster_worker_t *w = channel_worker(ch);
  if (w)
    worker_channel_ended(w);
}

static void on_channel_error(muster_channel_t *ch, int err) {
  muster_worker_t *w = channel_worker(ch);
  if (w)
    cluster_error(w->cluster, w, err);
}

static void on_channel_message(muster_channel_t *ch, muster_message_t *m) {
  muster_worker_t *w = channel_worker(ch);
  if (w == NULL)
    return;
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

void muster__primary_graceful(muster_worker_t *w) {
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
  muster_worker_t *w = channel_worker(ch);
  if (w == NULL)
    return;
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

/* ---- a slot's row: forks, hears and signals its workers ------------------
 */

/* What the slot's next worker runs: the settings of the moment (a
 * restart after muster_cluster_setup() takes the new ones), the slot's
 * env, its id and our pid. The object is made here too, where a failure
 * can still fail the start. */
static int row_prepare(muster_supervisor_t *sup, muster_supervise_run_t *run) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_cluster_t *c = s->cluster;
  size_t nargs = muster__strv_len((const char *const *)c->args);
  size_t nenv = muster__strv_len((const char *const *)c->env) +
                muster__strv_len((const char *const *)s->env) + 3;
  free(s->run_argv);
  free(s->run_env);
  s->run_argv = calloc(nargs + 2, sizeof *s->run_argv);
  s->run_env = calloc(nenv, sizeof *s->run_env);
  if (s->spare == NULL)
    s->spare = calloc(1, sizeof *s->spare);
  if (s->run_argv == NULL || s->run_env == NULL || s->spare == NULL)
    return MUSTER_ENOMEM;
  s->run_argv[0] = c->exec;
  for (size_t i = 0; i < nargs; i++)
    s->run_argv[i + 1] = c->args[i];
  size_t n = 0;
  for (size_t i = 0; c->env && c->env[i]; i++)
    s->run_env[n++] = c->env[i];
  for (size_t i = 0; s->env && s->env[i]; i++)
    s->run_env[n++] = s->env[i];
  snprintf(s->run_id, sizeof s->run_id, "NODE_UNIQUE_ID=%d", c->next_id + 1);
  snprintf(s->run_ppid, sizeof s->run_ppid, "MUSTER_PRIMARY_PID=%d",
           (int)getpid());
  s->run_env[n++] = s->run_id;
  s->run_env[n++] = s->run_ppid;
  muster_stdio_kind_t k =
      c->o.settings.silent ? MUSTER_STDIO_PIPE : MUSTER_STDIO_INHERIT;
  for (int i = 0; i < 3; i++)
    s->run_stdio[i] = (muster_stdio_t){k, -1};
  s->run_stdio[3] = (muster_stdio_t){MUSTER_STDIO_IPC, -1};
  if (c->o.settings.silent)
    s->run_stdio[0].kind = MUSTER_STDIO_IGNORE;
  muster_spawn_options_t *so = &run->process.spawn;
  run->file = c->exec;
  run->argv = s->run_argv;
  so->env = s->run_env;
  so->cwd = c->cwd;
  so->stdio = s->run_stdio;
  so->stdio_count = 4;
  so->flags = c->o.settings.flags & (MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID);
  so->uid = c->o.settings.uid;
  so->gid = c->o.settings.gid;
  return 0;
}

static void row_child(muster_supervisor_t *sup, muster_child_t *child,
                      muster_channel_t *channel) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_cluster_t *c = s->cluster;
  muster_worker_t *w = s->spare;
  s->spare = NULL;
  w->id = ++c->next_id;
  w->cluster = c;
  w->slot = s;
  w->child = child;
  w->channel = channel;
  w->pid = muster_child_pid(child);
  c->handles_open++;
  muster_worker_t **p = &c->workers;
  while (*p)
    p = &(*p)->next;
  *p = w;
  c->nworkers++;
  s->worker = w;
  cluster_kick(c); /* on_fork on the next turn */
}

/* The worker's process ended, and its pipes and channel (or the row's
 * close_wait_ms passed): the row is told next, unless it left by choice
 * (Node's exitedAfterDisconnect), which is no reason to restart: then its
 * slot is closed instead. Its on_exit comes once the row has judged
 * (on_errored first, when the exit ends the slot). */
static void row_exit(muster_supervisor_t *sup, muster_child_t *child,
                     int64_t code, int sig) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_worker_t *w = s->worker;
  if (w == NULL || w->child != child)
    return;
  w->exited = 1;
  w->exit_code = code;
  w->exit_signal = sig;
  /* Some other process holds the worker's end of the channel: stop
   * waiting for it. */
  worker_channel_ended(w);
  announce(w);
  w->state = MUSTER_WORKER_DEAD;
  s->worker = NULL;
  s->last = w; /* for on_errored, if this exit ends the slot */
  if (w->exited_after_disconnect &&
      muster_supervise_state(sup) != MUSTER_SUPERVISE_STOPPING)
    muster__slot_close(s);
}

static void row_exited(muster_supervisor_t *sup, muster_child_t *child,
                       int64_t code, int sig) {
  cluster_slot_t *s = muster_supervise_data(sup);
  (void)child;
  (void)code;
  (void)sig;
  if (s->last)
    worker_finish(s->last);
}

static void row_data(muster_supervisor_t *sup, muster_child_t *child, int slot,
                     const char *buf, size_t len) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_worker_t *w = s->worker;
  muster_cluster_t *c = s->cluster;
  if (w && w->child == child && c->o.events.on_output)
    c->o.events.on_output(c, w, slot, buf, len);
}

static int row_graceful(muster_supervisor_t *sup) {
  cluster_slot_t *s = muster_supervise_data(sup);
  muster_worker_t *w = s->worker;
  if (w == NULL || w->channel_ended || !muster_channel_connected(w->channel))
    return MUSTER_ENOTCONN;
  if (!w->leaving)
    muster__primary_graceful(w);
  w->exited_after_disconnect = 1;
  return 0;
}

/* The row signals the worker (the stop schedule): it leaves by choice. */
static void row_signal(muster_supervisor_t *sup, int signo) {
  cluster_slot_t *s = muster_supervise_data(sup);
  (void)signo;
  if (s->worker)
    s->worker->exited_after_disconnect = 1;
}

/* The slot is closing, and its row with it (which closes the workers'
 * child objects and channels): the worker whose exit was being judged
 * ends now, and so does one still running (a failed start being dropped;
 * SIGKILL, as the row will not stop it). */
static void slot_closing(cluster_slot_t *s) {
  muster_worker_t *w = s->worker;
  if (w) {
    s->worker = NULL;
    w->exited_after_disconnect = 1;
    if (!w->exited) {
      muster_child_kill(w->child, SIGKILL);
      w->exited = 1;
      w->exit_signal = SIGKILL;
    }
    worker_channel_ended(w);
    w->state = MUSTER_WORKER_DEAD;
    worker_finish(w);
  }
  if (s->last)
    worker_finish(s->last);
  muster__reload_slot_closed(s->cluster, s);
}

/* What the files below this one call back up (cluster_primary.h). */
static const cluster_up_t up = {
    .error = cluster_error,
    .part_freed = maybe_done,
    .kick = cluster_kick,
    .slot_closing = slot_closing,
    .row =
        {
            .fork = 1,
            /* A worker's exit waits for its channel's end, so on_disconnect
             * comes first, for at most a second (a grandchild may hold the
             * channel open). */
            .close_wait_ms = 1000,
            .process.channel = {.on_message = on_channel_message,
                                .on_internal = on_channel_internal,
                                .on_error = on_channel_error,
                                .on_disconnect = on_channel_disconnect},
            .on_prepare = row_prepare,
            .on_child = row_child,
            .on_exit = row_exit,
            .on_exited = row_exited,
            .on_data = row_data,
            .on_signal = row_signal,
            .graceful = row_graceful,
        },
};

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
