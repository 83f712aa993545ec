/* The app registry. Instances live in a table indexed by pm_id (PM2's ids:
 * never reused while the daemon lives). A command that acts on several
 * instances is an "op": it counts the instances it waits for and answers
 * once the last one reached the state asked (stopped, or running again).
 *
 * The registry is the daemon's state; the later work this shape is for
 * (docs/manager.md): cluster mode adds listeners per app next to the
 * instances; re-adoption and binary upgrade serialize this table (specs,
 * inherited env, pid, start time, log fds) into a state file. */
#include "registry.h"
#include "dump.h"
#include "instance.h"
#include "jsontext.h"
#include "procstat.h"
#include "../config/spec.h"
#include "../clock.h"
#include "../userdb.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct registry_s {
  daemon_t *d;
  inst_env_t ie;
  inst_t **by_id;
  int cap;     /* size of by_id */
  int next_id; /* next pm_id */
  int count;
  int live; /* instances not yet freed */
  int closing;
  json_t *last_env; /* the inherited env of the last start (see share_env) */
};

typedef struct {
  registry_t *r;
  ctl_req_t *req;
  muster_client_cmd_t cmd;
  int pending;
  json_t *result;
  void (*done)(void *);
  void *arg;
  /* reload: instances one at a time (pm_ids), stopping at a failure */
  int *queue, qlen, qpos;
  int update_env; /* reload --update-env: with these (references) */
  json_t *env, *set_env;
  int err;
  char msg[512];
  int is_static; /* the daemon's exit: not freed (registry_stop_all) */
} op_t;

/* A string attribute of a canonical spec; "" for one absent when unset. */
static const char *sget(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* ---- ops ---------------------------------------------------------------- */

static void op_step(op_t *op) {
  if (--op->pending > 0)
    return;
  if (op->req && op->err)
    ctl_reply(op->req, op->err, op->msg, NULL);
  else if (op->req)
    ctl_reply(op->req, 0, NULL, op->result);
  if (op->req == NULL || op->err)
    json_decref(op->result);
  free(op->queue);
  json_decref(op->env);
  json_decref(op->set_env);
  if (op->done)
    op->done(op->arg);
  if (!op->is_static)
    free(op);
}

static int op_reached(const op_t *op, const inst_t *inst) {
  muster_supervise_state_t s = muster_supervise_state(inst->sup);
  switch (op->cmd) {
  case MUSTER_CMD_RELOAD:
    return !inst_reloading(inst);
  case MUSTER_CMD_RESTART:
    return s == MUSTER_SUPERVISE_ERRORED ||
           (s != MUSTER_SUPERVISE_STOPPING && inst->starts != inst->op_mark);
  default:
    return s == MUSTER_SUPERVISE_STOPPED;
  }
}

static void remove_inst(registry_t *r, inst_t *inst) {
  if (inst->pm_id < r->cap && r->by_id[inst->pm_id] == inst) {
    r->by_id[inst->pm_id] = NULL;
    r->count--;
  }
  inst_destroy(inst);
}

static void reload_result(op_t *op, inst_t *inst);
static void reload_next(op_t *op);

static void op_check(inst_t *inst) {
  op_t *op = inst->op;
  if (op == NULL || !op_reached(op, inst))
    return;
  inst->op = NULL;
  if (op->cmd == MUSTER_CMD_DELETE)
    remove_inst(op->r, inst);
  if (op->cmd == MUSTER_CMD_RELOAD) {
    reload_result(op, inst);
    reload_next(op);
  }
  op_step(op);
}

/* A newer command on an instance supersedes the older one's wait. */
static void op_attach(op_t *op, inst_t *inst) {
  if (inst->op) {
    op_t *old = inst->op;
    inst->op = NULL;
    op_step(old);
  }
  inst->op = op;
  inst->op_mark = inst->starts;
  op->pending++;
}

static void on_inst_state(inst_t *inst) {
  op_check(inst);
}

/* Instances are freed after their last close callback: the registry (whose
 * inst_env_t they point to) goes only after the last of them. */
static void on_inst_gone(inst_t *inst) {
  registry_t *r = inst->ie->owner;
  daemon_trim_soon(r->d);
  if (--r->live == 0 && r->closing) {
    json_decref(r->last_env);
    free(r->by_id);
    free(r);
  }
}

/* ---- selection ---------------------------------------------------------- */

/* The instances `target` names: "all", a pm_id, a name, or a namespace. */
static int select_insts(registry_t *r, const char *target, inst_t ***out,
                        int *n) {
  *out = NULL;
  *n = 0;
  if (target == NULL || *target == '\0')
    return MUSTER_EINVAL;
  inst_t **v = calloc((size_t)r->count + 1, sizeof *v);
  if (v == NULL)
    return MUSTER_ENOMEM;
  cmdargs_target_t t;
  cmdargs_target(target, &t);
  int k = 0, all = t.all, id = t.id;
  for (int pass = 0; pass < 2 && k == 0; pass++) {
    for (int i = 0; i < r->cap; i++) {
      inst_t *inst = r->by_id[i];
      if (inst == NULL)
        continue;
      int hit =
          all || inst->pm_id == id ||
          (pass == 0 && strcmp(sget(inst->spec, "name"), target) == 0) ||
          (pass == 1 && strcmp(sget(inst->spec, "namespace"), target) == 0);
      if (hit)
        v[k++] = inst;
    }
    if (all || id >= 0)
      break;
  }
  if (k == 0 && !all) {
    free(v);
    return MUSTER_ESRCH;
  }
  *out = v;
  *n = k;
  return 0;
}

int registry_select(registry_t *r, const char *target, inst_t ***out, int *n) {
  return select_insts(r, target, out, n);
}

static json_t *brief(const inst_t *inst) {
  return json_pack("{s:i, s:s, s:s}", "pm_id", inst->pm_id, "name",
                   sget(inst->spec, "name"), "namespace",
                   sget(inst->spec, "namespace"));
}

/* ---- views (PM2's jlist shape) ----------------------------------------- */

/* The user an app runs as (its spec's uid, else the daemon's): a number
 * is shown by its name, asked of the user database (userdb.h keeps the
 * answer for a second; one not known yet shows the number). */
static const char *app_user(const json_t *spec, char *buf, size_t len) {
  json_t *u = json_object_get(spec, "uid");
  if (u == NULL || json_is_string(u))
    return u ? json_string_value(u) : userdb_self();
  char key[32], why[256];
  userdb_user_t pw;
  snprintf(key, sizeof key, "%lld", (long long)json_integer_value(u));
  int e = userdb_user(key, &pw, why, sizeof why);
  /* Not known yet (asked now, off the loop): the number meanwhile. */
  snprintf(buf, len, "%s", e == 0 ? pw.name : e == MUSTER_EAGAIN ? key : "?");
  return buf;
}

/* The fields a table shows (`ls`), in the jlist shape: a third of the
 * bytes of the full view, which is what `ls` with 1,000 apps spent its
 * time encoding and decoding. */
static json_t *view_table(registry_t *r, inst_t *inst, uint64_t now) {
  char ub[256];
  int pid = inst_pid(inst);
  procstat_sample(&inst->usage, pid, inst->started_ms, now);
  return json_pack("{s:i, s:s, s:i, s:{s:I, s:f}, s:{s:s, s:s, s:i, s:I, "
                   "s:s, s:s}}",
                   "pid", pid, "name", sget(inst->spec, "name"), "pm_id",
                   inst->pm_id, "monit", "memory", (json_int_t)inst->usage.rss,
                   "cpu", inst->usage.cpu, "pm2_env", "namespace",
                   sget(inst->spec, "namespace"), "status", inst_status(inst),
                   "restart_time", (int)inst_restarts(inst), "pm_uptime",
                   (json_int_t)inst->started_ms, "username",
                   app_user(inst->spec, ub, sizeof ub), "error", inst->error);
}

/* The columns of a row view ({"fields": "rows"}): what `muster ls` and
 * `start` print, with no key repeated per app. */
static const char *const row_columns[] = {
    "pm_id",     "name", "namespace", "pid",      "status", "restart_time",
    "pm_uptime", "cpu",  "memory",    "username", "error"};

/* One row: the values of row_columns, tab-separated, then a newline. */
static void view_row(registry_t *r, jsontext_t *t, inst_t *inst,
                     uint64_t now) {
  char ub[256];
  int pid = inst_pid(inst);
  procstat_sample(&inst->usage, pid, inst->started_ms, now);
  jsontext_int(t, inst->pm_id);
  jsontext_raw(t, "\\t");
  jsontext_field(t, sget(inst->spec, "name"));
  jsontext_raw(t, "\\t");
  jsontext_field(t, sget(inst->spec, "namespace"));
  jsontext_raw(t, "\\t");
  jsontext_int(t, pid);
  jsontext_raw(t, "\\t");
  jsontext_field(t, inst_status(inst));
  jsontext_raw(t, "\\t");
  jsontext_int(t, (long long)inst_restarts(inst));
  jsontext_raw(t, "\\t");
  jsontext_int(t, (long long)inst->started_ms);
  jsontext_raw(t, "\\t");
  jsontext_real1(t, inst->usage.cpu);
  jsontext_raw(t, "\\t");
  jsontext_int(t, (long long)inst->usage.rss);
  jsontext_raw(t, "\\t");
  jsontext_field(t, app_user(inst->spec, ub, sizeof ub));
  jsontext_raw(t, "\\t");
  jsontext_field(t, inst->error);
  jsontext_raw(t, "\\n");
}

/* {"columns": [...], "lines": "..."}: one line per app, of tab-separated
 * fields (docs/manager.md, "The row view"), written straight as text.
 * With 1,000 apps, values in arrays (~20 jansson values per app) cost
 * the daemon most of its time to build and free, and the CLI ~200
 * fresh heap pages to read: a page fault costs 6-25 us on this kind of
 * virtual machine. One string is one value. */
static void view_rows(registry_t *r, jsontext_t *t, inst_t **v, int n) {
  uint64_t now = clock_wall_ms();
  jsontext_raw(t, "{\"columns\":[");
  for (size_t i = 0; i < sizeof row_columns / sizeof *row_columns; i++) {
    jsontext_raw(t, i ? "," : "");
    jsontext_str(t, row_columns[i]);
  }
  jsontext_raw(t, "],\"lines\":\"");
  for (int i = 0; i < n; i++)
    view_row(r, t, v[i], now);
  jsontext_raw(t, "\"}");
}

static json_t *view(registry_t *r, inst_t *inst, int detail) {
  const json_t *spec = inst->spec;
  char ub[256];
  int pid = inst_pid(inst);
  procstat_sample(&inst->usage, pid, inst->started_ms, clock_wall_ms());
  int64_t code = 0;
  int sig = 0;
  int exited = muster_supervise_last_exit(inst->sup, &code, &sig);
  json_t *env = json_pack(
      "{s:s, s:s, s:i, s:s, s:i, s:i, s:I, s:I, s:s, s:i, s:s, s:s, s:s, "
      "s:O, s:O, s:b, s:O, s:O, s:O, s:O, s:s, s:s, s:s, s:s, s:i, s:s}",
      "name", sget(spec, "name"), "namespace", sget(spec, "namespace"), "pm_id",
      inst->pm_id, "status", inst_status(inst), "restart_time",
      (int)inst_restarts(inst), "unstable_restarts", 0, "pm_uptime",
      (json_int_t)inst->started_ms, "created_at", (json_int_t)inst->created_ms,
      "exec_mode", "fork_mode", "instances",
      (int)json_integer_value(json_object_get(spec, "instances")),
      "pm_exec_path", sget(spec, "script"), "pm_cwd", sget(spec, "cwd"),
      "exec_interpreter",
      *sget(spec, "interpreter") ? sget(spec, "interpreter") : "auto", "args",
      json_object_get(spec, "args"), "node_args",
      json_object_get(spec, "interpreter_args"), "autorestart",
      json_is_true(json_object_get(spec, "autorestart")), "max_restarts",
      json_object_get(spec, "max_restarts"), "min_uptime",
      json_object_get(spec, "min_uptime"), "kill_timeout",
      json_object_get(spec, "kill_timeout"), "restart_delay",
      json_object_get(spec, "restart_delay"), "kill_signal",
      sget(spec, "kill_signal"), "pm_out_log_path", applog_path(inst->log, 1),
      "pm_err_log_path", applog_path(inst->log, 2), "username",
      app_user(spec, ub, sizeof ub), "NODE_APP_INSTANCE", inst->index, "error",
      inst->error);
  if (env && exited)
    json_object_set_new(env, "exit_code",
                        sig ? json_string(muster_signal_name(sig))
                            : json_integer(code));
  if (env && detail) {
    json_object_set_new(env, "env", inst_environment(inst));
    json_object_set(env, "declared_env", json_object_get(spec, "env"));
    json_object_set_new(env, "env_source",
                        inst->env_updated_ms
                            ? json_pack("{s:s, s:I}", "from", "update-env",
                                        "at", (json_int_t)inst->env_updated_ms)
                            : json_pack("{s:s}", "from", "start"));
    applog_stats(inst->log, env);
    if (inst->reload_ms)
      json_object_set_new(env, "last_reload",
                          json_pack("{s:s, s:I}", "result",
                                    inst->reload_err ? "failed" : "ok", "at",
                                    (json_int_t)inst->reload_ms));
  }
  return json_pack("{s:i, s:s, s:i, s:{s:I, s:f}, s:o}", "pid", pid, "name",
                   sget(spec, "name"), "pm_id", inst->pm_id, "monit", "memory",
                   (json_int_t)inst->usage.rss, "cpu", inst->usage.cpu,
                   "pm2_env", env);
}

/* ---- start -------------------------------------------------------------- */

int registry_has_name(const registry_t *r, const char *name) {
  for (int i = 0; i < r->cap; i++)
    if (r->by_id[i] && strcmp(sget(r->by_id[i]->spec, "name"), name) == 0)
      return 1;
  return 0;
}

static int grow(registry_t *r, int need) {
  if (need <= r->cap)
    return 0;
  int cap = r->cap ? r->cap : 16;
  while (cap < need)
    cap *= 2;
  inst_t **v = realloc(r->by_id, (size_t)cap * sizeof *v);
  if (v == NULL)
    return MUSTER_ENOMEM;
  memset(v + r->cap, 0, (size_t)(cap - r->cap) * sizeof *v);
  r->by_id = v;
  r->cap = cap;
  return 0;
}

/* Each `start` carries the CLI's whole environment (~5 kB of JSON values
 * for 40 variables), and the apps of one ecosystem file, or of one shell,
 * carry the same one: they share one copy instead of one each. */
static json_t *share_env(registry_t *r, json_t *inherited) {
  if (inherited == NULL || r->last_env == inherited)
    return inherited;
  if (r->last_env && json_equal(r->last_env, inherited))
    return r->last_env;
  json_decref(r->last_env);
  r->last_env = json_incref(inherited);
  return inherited;
}

/* Checks `in` as start does (normalized, its name free unless `force`,
 * script and interpreter found): *out is then the normalized spec. */
static int prepare(registry_t *r, const json_t *in, json_t *inherited,
                   int force, json_t **out, json_t *warnings, char *err,
                   size_t errlen) {
  json_t *spec, *warn;
  int e = spec_normalize(in, &spec, &warn, err, errlen);
  if (e < 0)
    return e;
  json_array_extend(warnings, warn);
  json_decref(warn);
  const char *name = sget(spec, "name");
  if (!force && registry_has_name(r, name)) {
    snprintf(err, errlen,
             "an app named \"%s\" exists already (restart it, delete it "
             "first, or start with --force to add instances)",
             name);
    json_decref(spec);
    return MUSTER_EEXIST;
  }
  if ((e = inst_check(&r->ie, spec, inherited, err, errlen)) < 0) {
    json_decref(spec);
    return e;
  }
  *out = spec;
  return 0;
}

/* Makes and starts the instances of a prepared spec (a reference is
 * taken). */
static int launch(registry_t *r, json_t *spec, json_t *inherited,
                  json_t *started, char *err, size_t errlen) {
  int n = (int)json_integer_value(json_object_get(spec, "instances"));
  int e = grow(r, r->next_id + n);
  if (e < 0) {
    snprintf(err, errlen, "out of memory");
    return e;
  }
  int first = r->next_id;
  for (int i = 0; i < n; i++) {
    inst_t *inst;
    e = inst_create(r->d->loop, &r->ie, first + i, i, spec, inherited, &inst,
                    err, errlen);
    if (e < 0) {
      for (int j = first; j < first + i; j++)
        remove_inst(r, r->by_id[j]);
      return e;
    }
    r->by_id[first + i] = inst;
    r->count++;
    r->live++;
  }
  r->next_id = first + n;
  for (int i = first; i < first + n; i++) {
    inst_t *inst = r->by_id[i];
    muster_supervise_start(inst->sup);
    json_array_append_new(started, brief(inst));
  }
  return 0;
}

int registry_start_spec(registry_t *r, const json_t *in, json_t *inherited,
                        int force, json_t *started, json_t *warnings, char *err,
                        size_t errlen) {
  json_t *spec;
  inherited = share_env(r, inherited);
  int e = prepare(r, in, inherited, force, &spec, warnings, err, errlen);
  if (e < 0)
    return e;
  e = launch(r, spec, inherited, started, err, errlen);
  json_decref(spec);
  return e;
}

/* An ecosystem file's apps in one request ({"apps": [spec...]}): every
 * spec is checked first (and the names among themselves), so a bad one
 * starts none of them; then all start on this loop turn, sharing one
 * inherited environment (share_env). MUSTER_EAGAIN (a user or group not
 * known yet, userdb.h) when nothing was started: each spec's lookups are
 * under way. */
static int start_many(registry_t *r, json_t *apps, json_t *inherited, int force,
                      json_t *started, json_t *warnings, char *name,
                      size_t namelen, char *err, size_t errlen) {
  size_t n = json_array_size(apps), i, j;
  json_t **specs = calloc(n ? n : 1, sizeof *specs);
  inherited = share_env(r, inherited);
  int e = specs ? 0 : MUSTER_ENOMEM, asking = 0;
  for (i = 0; i < n && e == 0; i++) {
    json_t *in = json_array_get(apps, i);
    snprintf(name, namelen, "%s",
             *sget(in, "name") ? sget(in, "name") : sget(in, "script"));
    e = prepare(r, in, inherited, force, &specs[i], warnings, err, errlen);
    if (e == MUSTER_EAGAIN) { /* the others' lookups are asked meanwhile */
      asking = 1;
      e = 0;
      continue;
    }
    for (j = 0; j < i && e == 0 && !force; j++)
      if (specs[j] &&
          strcmp(sget(specs[i], "name"), sget(specs[j], "name")) == 0) {
        snprintf(err, errlen, "the name is given to two apps");
        e = MUSTER_EEXIST;
      }
  }
  if (e == 0 && asking)
    e = MUSTER_EAGAIN;
  for (i = 0; i < n && e == 0; i++) {
    snprintf(name, namelen, "%s", sget(specs[i], "name"));
    e = launch(r, specs[i], inherited, started, err, errlen);
  }
  for (i = 0; specs && i < n; i++)
    json_decref(specs[i]);
  free(specs);
  return e;
}

static void cmd_start(registry_t *r, ctl_req_t *req, const cmdargs_t *a) {
  char err[1024];
  json_t *started = json_array(), *warnings = json_array();
  char name[256];
  snprintf(name, sizeof name, "%s",
           *sget(a->app, "name") ? sget(a->app, "name")
                                 : sget(a->app, "script"));
  int e;
  if (a->apps != NULL)
    e = start_many(r, a->apps, a->env, a->force, started, warnings, name,
                   sizeof name, err, sizeof err);
  else
    e = registry_start_spec(r, a->app, a->env, a->force, started, warnings,
                            err, sizeof err);
  if (e == MUSTER_EAGAIN) /* nothing started: run again on the answer */
    commands_wait(r->d, req, a);
  else if (e < 0)
    ctl_replyf(req, e, "start \"%s\": %s", *name ? name : "?", err);
  else
    ctl_reply(
        req, 0, NULL,
        json_pack("{s:O, s:O}", "started", started, "warnings", warnings));
  json_decref(started);
  json_decref(warnings);
}

/* ---- commands on selected instances ------------------------------------ */

static const char *verb(muster_client_cmd_t cmd) {
  return muster_client_cmd_name(cmd);
}

/* restart/reload --update-env: the spec with --env K=V (set_env, may be
 * NULL) merged, a new reference; NULL without update_env. */
static json_t *updated_spec(const inst_t *inst, int update_env,
                            json_t *set_env) {
  if (!update_env)
    return NULL;
  json_t *spec = json_deep_copy(inst->spec);
  if (set_env != NULL)
    json_object_update(json_object_get(spec, "env"), set_env);
  return spec;
}

static void reload_result(op_t *op, inst_t *inst) {
  if (inst->reload_err == 0 || op->err)
    return;
  op->err = inst->reload_err;
  snprintf(op->msg, sizeof op->msg, "reload \"%s\" (id %d) failed: %s%s",
           sget(inst->spec, "name"), inst->pm_id, inst_reload_error(inst),
           op->qpos < op->qlen ? "; the instances after it were not reloaded"
                               : "");
}

/* A rolling reload: the next instance of the queue, once the one before
 * is replaced; none after a failure. */
static void reload_next(op_t *op) {
  while (op->err == 0 && op->qpos < op->qlen) {
    int id = op->queue[op->qpos++];
    inst_t *inst = id < op->r->cap ? op->r->by_id[id] : NULL;
    if (inst == NULL)
      continue; /* deleted meanwhile */
    json_t *spec = updated_spec(inst, op->update_env, op->set_env);
    op_attach(op, inst);
    inst_reload(inst, spec, op->update_env ? op->env : NULL);
    json_decref(spec);
    if (inst_reloading(inst))
      return; /* op_check goes on once it is replaced or failed */
    inst->op = NULL;
    op->pending--;
    reload_result(op, inst);
  }
}

static void act(op_t *op, inst_t *inst, const cmdargs_t *a) {
  switch (op->cmd) {
  case MUSTER_CMD_STOP:
  case MUSTER_CMD_DELETE:
    op_attach(op, inst);
    inst_stop(inst);
    op_check(inst);
    break;
  case MUSTER_CMD_RESTART: {
    json_t *spec = updated_spec(inst, a->update_env, a->set_env);
    if (spec)
      inst_update(inst, spec, a->env);
    json_decref(spec);
    op_attach(op, inst);
    inst_restart(inst);
    op_check(inst);
    break;
  }
  case MUSTER_CMD_RESET:
    inst->restart_base =
        inst->restart_carry + muster_supervise_restarts(inst->sup);
    break;
  case MUSTER_CMD_FLUSH:
    inst_flush_logs(inst);
    break;
  default:
    break;
  }
}

static void cmd_targets(registry_t *r, ctl_req_t *req, const cmdargs_t *a) {
  muster_client_cmd_t cmd = a->cmd;
  const char *target = a->target.text;
  inst_t **v;
  int n;
  int e = select_insts(r, target, &v, &n);
  if (e < 0) {
    ctl_replyf(req, e, "%s \"%s\": %s", verb(cmd), target,
               e == MUSTER_ESRCH ? "no such app" : muster_strerror(e));
    return;
  }
  op_t *op = calloc(1, sizeof *op);
  json_t *result = op ? json_array() : NULL;
  if (result == NULL) { /* nothing was done */
    free(op);
    free(v);
    ctl_replyf(req, MUSTER_ENOMEM, "%s \"%s\": out of memory", verb(cmd),
               target);
    return;
  }
  op->r = r;
  op->req = req;
  op->cmd = cmd;
  op->pending = 1; /* held until every instance is asked */
  op->result = result;
  if (cmd == MUSTER_CMD_RELOAD) {
    op->queue = calloc((size_t)n + 1, sizeof *op->queue);
    op->update_env = a->update_env;
    op->env = json_incref(a->env);
    op->set_env = json_incref(a->set_env);
  }
  for (int i = 0; i < n; i++) {
    json_array_append_new(op->result, brief(v[i]));
    if (cmd == MUSTER_CMD_RELOAD && op->queue)
      op->queue[op->qlen++] = v[i]->pm_id;
    else if (cmd == MUSTER_CMD_RELOAD)
      snprintf(op->msg, sizeof op->msg, "reload: %s",
               muster_strerror(op->err = MUSTER_ENOMEM));
    else if (cmd == MUSTER_CMD_SIGNAL)
      inst_kill(v[i], a->signo);
    else
      act(op, v[i], a);
  }
  free(v);
  if (cmd == MUSTER_CMD_RELOAD)
    reload_next(op);
  op_step(op);
}

static void cmd_list(registry_t *r, ctl_req_t *req, const cmdargs_t *a,
                     int detail) {
  inst_t **v;
  int n;
  int e = select_insts(r, detail ? a->target.text : "all", &v, &n);
  if (e < 0) {
    ctl_replyf(req, e, "describe \"%s\": %s", a->target.text,
               e == MUSTER_ESRCH ? "no such app" : muster_strerror(e));
    return;
  }
  if (!detail && a->fields == CMDARGS_ROWS) {
    jsontext_t t = {0};
    view_rows(r, &t, v, n);
    free(v);
    if (t.failed)
      ctl_reply(req, MUSTER_ENOMEM, NULL, NULL);
    else
      ctl_reply_text(req, t.data, t.len);
    jsontext_free(&t);
    return;
  }
  json_t *list = json_array();
  uint64_t now = clock_wall_ms();
  for (int i = 0; i < n; i++)
    json_array_append_new(list, !detail && a->fields == CMDARGS_TABLE
                                    ? view_table(r, v[i], now)
                                    : view(r, v[i], detail));
  free(v);
  ctl_reply(req, 0, NULL, list);
}

void registry_command(registry_t *r, ctl_req_t *req, const cmdargs_t *a) {
  switch (a->cmd) {
  case MUSTER_CMD_START:
    cmd_start(r, req, a);
    break;
  case MUSTER_CMD_LIST:
    cmd_list(r, req, a, 0);
    break;
  case MUSTER_CMD_DESCRIBE:
    cmd_list(r, req, a, 1);
    break;
  case MUSTER_CMD_RELOAD_LOGS:
    registry_reopen_logs(r);
    ctl_reply(req, 0, NULL, json_object());
    break;
  case MUSTER_CMD_SAVE:
    dump_save(r, &r->d->home, req, a->force);
    break;
  case MUSTER_CMD_RESURRECT:
    if (dump_resurrect(r, &r->d->home, req) == MUSTER_EAGAIN)
      commands_wait(r->d, req, a);
    break;
  default:
    cmd_targets(r, req, a);
    break;
  }
}

void registry_stop_all(registry_t *r, void (*done)(void *), void *arg) {
  /* The daemon stops its apps once, on its way out: the op is not
   * allocated, so that running out of memory cannot leave them running
   * unseen or the daemon unable to exit. */
  static op_t exit_op;
  op_t *op = &exit_op;
  *op = (op_t){.r = r,
               .cmd = MUSTER_CMD_DELETE,
               .pending = 1,
               .done = done,
               .arg = arg,
               .is_static = 1};
  for (int i = 0; i < r->cap; i++)
    if (r->by_id[i])
      act(op, r->by_id[i], NULL);
  op_step(op);
}

int registry_owns_pid(const registry_t *r, int pid) {
  for (int i = 0; i < r->cap; i++)
    if (r->by_id[i] && inst_owns_pid(r->by_id[i], pid))
      return 1;
  return 0;
}

int registry_count(const registry_t *r) {
  return r ? r->count : 0;
}

void registry_reopen_logs(registry_t *r) {
  for (int i = 0; i < r->cap; i++)
    if (r->by_id[i])
      inst_reopen_logs(r->by_id[i]);
}

json_t *registry_specs(const registry_t *r) {
  json_t *out = json_array();
  for (int i = 0; i < r->cap; i++) {
    inst_t *inst = r->by_id[i];
    if (inst == NULL || inst->index != 0)
      continue;
    json_array_append(out, inst->spec);
  }
  return out;
}

int registry_create(daemon_t *d, registry_t **out) {
  registry_t *r = calloc(1, sizeof *r);
  if (r == NULL)
    return MUSTER_ENOMEM;
  r->d = d;
  r->ie.home = d->home.dir;
  r->ie.logs = d->home.logs;
  r->ie.on_state = on_inst_state;
  r->ie.on_gone = on_inst_gone;
  r->ie.owner = r;
  *out = r;
  return 0;
}

void registry_close(registry_t *r) {
  if (r == NULL)
    return;
  r->closing = 1;
  if (r->live == 0) {
    json_decref(r->last_env);
    free(r->by_id);
    free(r);
  }
}
