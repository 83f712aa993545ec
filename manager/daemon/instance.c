/* An instance: its supervisor rows (the serving one, and during a rolling
 * reload the one coming up), their hooks, the process group, log output,
 * reload through muster_supervise_replace. What it runs is in
 * instance_launch.c. See instance.h.
 *
 * The process group is the app: every process is started in its own
 * session (so its group id is its pid), signals go to the whole group,
 * and the row hears of the exit only once the whole group is gone. When
 * the main process ends by itself, what is left of its group is killed
 * before the restart, so an orphaned grandchild can never hold the
 * app's port against its successor. */
#include "instance.h"
#include "instance_launch.h"
#include "groups.h"
#include "../clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* A string attribute of a canonical spec; "" for one absent when unset. */
static const char *sget(const json_t *spec, const char *key) {
  const char *s = json_string_value(json_object_get(spec, key));
  return s ? s : "";
}

static long long iget(const json_t *spec, const char *key) {
  return json_integer_value(json_object_get(spec, key));
}

/* ---- the process -------------------------------------------------------- */

/* A supervisor row of the instance. Usually one: the serving row
 * (inst->sup). During a reload a second one comes up (inst->next); a row
 * replaced or given up "retires": it is stopped, then closed. */
struct inst_row_s {
  inst_t *inst;
  muster_supervisor_t *sup;
  inst_row_t *next_row;
  uint64_t started_ms; /* its current process's start */
  int wait_ready;      /* online on the "ready" message (else at once) */
  uint64_t min_uptime, listen_timeout; /* of its spec */
  int retiring;        /* close once it has no process nor output */
  int closed;          /* muster_supervise_close was called */
  gid_t *groups;       /* the app user's groups, for the current start */
};

/* The output of one process of the instance (any row, a stopped one still
 * draining included): its own log streams, and the child to pause. Freed
 * when both pipes ended, or with its row. */
struct inst_out_s {
  inst_out_t *next;
  inst_row_t *row;
  muster_child_t *child;
  applog_out_t *log; /* NULL if it could not be opened: output dropped */
  int ended;         /* bit `slot` once that pipe ended */
};

static inst_row_t *row_of(const muster_supervisor_t *sup) {
  return muster_supervise_data(sup);
}

static void close_row(inst_row_t *row);
static int row_done(const inst_row_t *row);

static void out_free(inst_t *inst, inst_out_t *out) {
  for (inst_out_t **p = &inst->outs; *p; p = &(*p)->next)
    if (*p == out) {
      *p = out->next;
      break;
    }
  applog_out_close(out->log);
  free(out);
}

/* Drops the outputs of `row` (all rows: NULL), writing their partial
 * lines: their child objects go with the row. */
static void outs_drop(inst_t *inst, const inst_row_t *row) {
  inst_out_t **p = &inst->outs;
  while (*p) {
    inst_out_t *out = *p;
    if (row == NULL || out->row == row)
      out_free(inst, out);
    else
      p = &out->next;
  }
}

static void on_data_cb(muster_supervisor_t *sup, muster_child_t *child,
                       int slot, const char *buf, size_t len) {
  inst_row_t *row = row_of(sup);
  inst_t *inst = row->inst;
  inst_out_t *out = inst->outs;
  while (out && out->child != child)
    out = out->next;
  if (out == NULL || out->log == NULL)
    return;
  if (len > 0) {
    applog_out_write(out->log, slot, buf, len);
    return;
  }
  /* End of file: the partial line is written as its own line. */
  applog_out_end(out->log, slot);
  out->ended |= 1 << slot;
  if (out->ended == ((1 << 1) | (1 << 2))) {
    out_free(inst, out);
    if (row->retiring && row_done(row))
      close_row(row);
  }
}

/* The next read of the child's output goes straight into its log file's
 * queue when the file takes it (raw lines, nobody following). */
static void on_alloc_cb(muster_supervisor_t *sup, muster_child_t *child,
                        int slot, size_t suggested, char **buf, size_t *len) {
  inst_row_t *row = row_of(sup);
  inst_out_t *out = row->inst->outs;
  while (out && out->child != child)
    out = out->next;
  if (out != NULL && out->log != NULL && !(out->ended & (1 << slot)))
    (void)applog_out_reserve(out->log, slot, suggested, buf, len);
}

static void on_child_cb(muster_supervisor_t *sup, muster_child_t *child,
                        muster_channel_t *channel) {
  inst_row_t *row = row_of(sup);
  inst_t *inst = row->inst;
  (void)channel;
  /* Its own session: the pid names the group (groups.c). Keyed by the
   * row: an instance has two while a reload replaces one. */
  groups_track(sup, muster_child_pid(child),
               muster_appspec_parse_signal(sget(inst->spec, "kill_signal")),
               (uint64_t)json_integer_value(
                   json_object_get(inst->spec, "kill_timeout")));
  row->started_ms = clock_wall_ms();
  if (sup == inst->sup) {
    inst->started_ms = row->started_ms;
    inst->starts++;
    procstat_reset(&inst->usage);
    inst->error[0] = '\0';
  }
  inst_out_t *out = calloc(1, sizeof *out);
  if (out == NULL)
    return; /* its output is not read: it waits on its full pipe */
  out->row = row;
  out->child = child;
  if (applog_out_open(inst->log, &out->log) < 0)
    out->log = NULL;
  out->next = inst->outs;
  inst->outs = out;
  for (int slot = 1; slot <= 2; slot++)
    if (applog_paused(inst->log, slot))
      muster_child_read_stop(child, slot);
}

/* wait_ready: Node's process.send('ready') on the IPC channel. */
static void on_message_cb(muster_channel_t *channel, muster_message_t *msg) {
  inst_row_t *row = muster_channel_data(channel);
  json_t *v = muster_message_json(msg);
  if (row->closed || !json_is_string(v) ||
      strcmp(json_string_value(v), "ready") != 0 ||
      muster_supervise_channel(row->sup) != channel)
    return;
  muster_supervise_ready(row->sup);
}
static void on_state_cb(muster_supervisor_t *sup, muster_supervise_state_t old,
                        muster_supervise_state_t state);

static void on_error_cb(muster_supervisor_t *sup,
                        muster_supervise_reason_t reason, int err) {
  inst_t *inst = row_of(sup)->inst;
  if (sup != inst->sup)
    return; /* a reload's new row: the reload says why it failed */
  if (reason == MUSTER_SUPERVISE_CRASH_LOOP) {
    int codes[MUSTER_SUPERVISE_MAX_EXIT_CODES];
    muster_supervise_policy_t p;
    inst_policy(inst->spec, &p, codes, MUSTER_SUPERVISE_MAX_EXIT_CODES);
    snprintf(inst->error, sizeof inst->error,
             "crash loop: %u restarts within %llu ms", p.crash_limit,
             (unsigned long long)p.crash_window_ms);
  } else if (inst->error[0] == '\0') {
    snprintf(inst->error, sizeof inst->error, "%s: %s",
             muster_supervise_reason_name(reason), muster_err_name(err));
  }
}

/* The log writer is behind: hold the app back on its own pipe. Every
 * process of the instance whose output is still read: during a reload the
 * old and the new, after a restart one still draining. */
static void on_log_pause(void *data, int slot, int paused) {
  inst_t *inst = data;
  for (inst_out_t *out = inst->outs; out; out = out->next) {
    if (out->ended & (1 << slot))
      continue;
    if (paused)
      muster_child_read_stop(out->child, slot);
    else
      muster_child_read_start(out->child, slot);
  }
}

static int open_logs(uv_loop_t *loop, inst_t *inst) {
  return applog_open_spec(loop, inst->spec, inst->ie->logs, inst->pm_id,
                          inst->index, on_log_pause, inst, &inst->log);
}

/* Before each start: the user and groups the app runs as, looked up
 * again (a user removed since is refused rather than run as the daemon's
 * user; a group joined since counts). */
static int on_prepare_cb(muster_supervisor_t *sup,
                         muster_supervise_run_t *run) {
  inst_row_t *row = row_of(sup);
  inst_t *inst = row->inst;
  char why[256];
  int r = inst_credentials(inst->spec, &run->process.spawn, &row->groups, why,
                           sizeof why);
  if (r < 0 && sup == inst->sup)
    snprintf(inst->error, sizeof inst->error, "start failed: %s", why);
  return r;
}

/* A row: a supervised child (muster_supervise_child_create) running the
 * app in its own session, so the app is a whole process group: the stop
 * schedule reaches every member and STOPPED means none is left. The app
 * gets SIGKILL when the daemon dies (the parent-death signal; what it
 * forked itself is ended by the next daemon, groups.c). The command and
 * environment are fixed at creation: --update-env and reload make a new
 * row. A wait_ready app is forked with Node's IPC channel (fd 3,
 * NODE_CHANNEL_FD) to say "ready" on. */
static int make_row(uv_loop_t *loop, inst_t *inst, inst_row_t **out) {
  inst_row_t *row = calloc(1, sizeof *row);
  if (row == NULL)
    return MUSTER_ENOMEM;
  row->inst = inst;
  row->wait_ready = inst_wants_ready(inst->spec);
  row->min_uptime = (uint64_t)iget(inst->spec, "min_uptime");
  row->listen_timeout = (uint64_t)iget(inst->spec, "listen_timeout");
  json_t *env = inst_environment(inst);
  char **envp = inst_env_vector(env);
  char **argv = inst_argv(inst);
  json_decref(env);
  const char *cwd = sget(inst->spec, "cwd");
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_IPC, -1}};
  int codes[MUSTER_SUPERVISE_MAX_EXIT_CODES];
  muster_supervise_child_options_t o = {
      .process.spawn =
          {
              .env = (const char *const *)envp,
              .env_mode = MUSTER_ENV_EXACT,
              .cwd = *cwd ? cwd : NULL,
              .stdio = stdio,
              .stdio_count = row->wait_ready ? 4 : 3,
              .flags = MUSTER_SPAWN_DETACHED,
              .death_signal = SIGKILL,
          },
      .process.channel = {.on_message = on_message_cb, .data = row},
      .fork = row->wait_ready,
      .on_prepare = on_prepare_cb,
      .on_child = on_child_cb,
      .on_data = on_data_cb,
      .on_alloc = on_alloc_cb,
      .on_state = on_state_cb,
      .on_error = on_error_cb,
      .data = row,
  };
  inst_policy(inst->spec, &o.policy, codes, MUSTER_SUPERVISE_MAX_EXIT_CODES);
  int r = envp != NULL && argv != NULL
              ? muster_supervise_child_create(loop, argv[0],
                                              (const char *const *)argv, &o,
                                              &row->sup)
              : MUSTER_ENOMEM;
  inst_free_vector(envp);
  inst_free_vector(argv);
  if (r < 0) {
    free(row);
    return r;
  }
  row->next_row = inst->rows;
  inst->rows = row;
  inst->holds++;
  *out = row;
  return 0;
}

static void release(inst_t *inst) {
  if (--inst->holds > 0 || !inst->destroying)
    return;
  inst->ie->on_gone(inst);
  outs_drop(inst, NULL);
  applog_close(inst->log);
  procstat_reset(&inst->usage);
  json_decref(inst->spec);
  json_decref(inst->inherited);
  free(inst);
}

static void on_row_closed(muster_supervisor_t *sup) {
  inst_row_t *row = row_of(sup);
  inst_t *inst = row->inst;
  groups_untrack(sup);
  for (inst_row_t **p = &inst->rows; *p; p = &(*p)->next_row)
    if (*p == row) {
      *p = row->next_row;
      break;
    }
  free(row->groups);
  free(row);
  release(inst);
}

static void close_row(inst_row_t *row) {
  if (row->closed)
    return;
  row->closed = 1;
  outs_drop(row->inst, row);
  muster_supervise_close(row->sup, on_row_closed);
}

static int has_process(muster_supervisor_t *sup) {
  muster_supervise_state_t s = muster_supervise_state(sup);
  return s != MUSTER_SUPERVISE_STOPPED && s != MUSTER_SUPERVISE_ERRORED;
}

/* A retiring row may close: no process, and its output read to the end
 * (unless the instance goes: then what is left of it is dropped). */
static int row_done(const inst_row_t *row) {
  if (has_process(row->sup))
    return 0;
  if (row->inst->destroying)
    return 1;
  for (const inst_out_t *out = row->inst->outs; out; out = out->next)
    if (out->row == row)
      return 0;
  return 1;
}

/* A row no longer wanted: stopped, then closed (on_state_cb, on_data_cb). */
static void retire_row(inst_row_t *row) {
  row->retiring = 1;
  if (row->closed)
    return;
  if (has_process(row->sup))
    muster_supervise_stop(row->sup);
  if (!row->closed && row_done(row))
    close_row(row);
}

static void on_timer_closed(uv_handle_t *h) {
  release(h->data);
}

int inst_create(uv_loop_t *loop, const inst_env_t *ie, int pm_id, int index,
                json_t *spec, json_t *inherited, inst_t **out, char *err,
                size_t errlen) {
  inst_t *inst = calloc(1, sizeof *inst);
  if (inst == NULL)
    return MUSTER_ENOMEM;
  inst->ie = ie;
  inst->pm_id = pm_id;
  inst->index = index;
  inst->spec = json_incref(spec);
  inst->inherited = json_incref(inherited);
  inst->created_ms = clock_wall_ms();
  inst_row_t *row;
  int r = open_logs(loop, inst);
  if (r < 0) {
    snprintf(err, errlen, "log file in %s: %s (%s)", ie->logs,
             muster_err_name(r), muster_strerror(r));
    goto fail;
  }
  r = make_row(loop, inst, &row);
  if (r < 0) {
    snprintf(err, errlen, "cannot make its supervisor: %s", muster_strerror(r));
    goto fail;
  }
  inst->sup = row->sup;
  uv_timer_init(loop, &inst->ready_timer);
  inst->ready_timer.data = inst;
  inst->holds++;
  *out = inst;
  return 0;
fail:
  applog_close(inst->log);
  json_decref(inst->spec);
  json_decref(inst->inherited);
  free(inst);
  return r;
}

void inst_update(inst_t *inst, json_t *spec, json_t *inherited) {
  json_incref(spec);
  json_decref(inst->spec);
  inst->spec = spec;
  json_incref(inherited);
  json_decref(inst->inherited);
  inst->inherited = inherited;
  inst->env_updated_ms = clock_wall_ms();
  inst->recreate = 1;
}

const char *inst_status(const inst_t *inst) {
  switch (muster_supervise_state(inst->sup)) {
  case MUSTER_SUPERVISE_STARTING:
    return "launching";
  case MUSTER_SUPERVISE_ONLINE:
    return "online";
  case MUSTER_SUPERVISE_STOPPING:
    return "stopping";
  case MUSTER_SUPERVISE_BACKOFF:
    return "waiting restart";
  case MUSTER_SUPERVISE_ERRORED:
    return "errored";
  default:
    return "stopped";
  }
}

unsigned inst_restarts(const inst_t *inst) {
  unsigned r = inst->restart_carry + muster_supervise_restarts(inst->sup);
  return r >= inst->restart_base ? r - inst->restart_base : 0;
}

int inst_pid(const inst_t *inst) {
  return muster_supervise_pid(inst->sup);
}

int inst_owns_pid(const inst_t *inst, int pid) {
  for (const inst_row_t *row = inst->rows; row; row = row->next_row)
    if (!row->closed && muster_supervise_pid(row->sup) == pid)
      return 1;
  return 0;
}

int inst_kill(inst_t *inst, int signo) {
  int pid = inst_pid(inst);
  if (pid <= 0)
    return MUSTER_ESRCH;
  return kill(pid, signo) < 0 ? -errno : 0;
}

void inst_reopen_logs(inst_t *inst) {
  applog_reopen(inst->log);
}

void inst_flush_logs(inst_t *inst) {
  applog_flush(inst->log);
}

/* Drops the spec a reload --update-env would have brought. */
static void drop_next_spec(inst_t *inst) {
  json_decref(inst->next_spec);
  json_decref(inst->next_inherited);
  inst->next_spec = inst->next_inherited = NULL;
}

/* The serving row becomes `row`; the old one retires. Restarts carry
 * over, the replacement counting as one (PM2 counts a reload). */
static void promote(inst_t *inst, inst_row_t *row) {
  inst_row_t *old = row_of(inst->sup);
  unsigned total = inst_restarts(inst) + 1;
  if (row == inst->next && inst->next_spec) {
    /* reload --update-env: the new spec is the instance's from now on. */
    inst_update(inst, inst->next_spec, inst->next_inherited);
    inst->recreate = 0;
    drop_next_spec(inst);
  }
  inst->sup = row->sup;
  inst->restart_carry = total;
  inst->restart_base = 0;
  inst->started_ms = row->started_ms;
  inst->starts++;
  procstat_reset(&inst->usage);
  inst->error[0] = '\0';
  retire_row(old);
}

/* A row replaced after restart --update-env: the old one is stopped
 * already; the new one starts. */
static void replace_supervisor(inst_t *inst) {
  inst_row_t *row;
  inst->recreate = 0;
  if (make_row(muster_supervise_loop(inst->sup), inst, &row) < 0) {
    snprintf(inst->error, sizeof inst->error,
             "--update-env: cannot make a new supervisor");
    return;
  }
  promote(inst, row);
  muster_supervise_start(inst->sup);
}

/* ---- reload: muster_supervise_replace, one instance --------------------- */

static void on_ready_timer(uv_timer_t *t) {
  inst_t *inst = t->data;
  if (inst->next &&
      muster_supervise_state(inst->next->sup) == MUSTER_SUPERVISE_STARTING)
    muster_supervise_ready(inst->next->sup);
}

/* Why the new process of a reload failed, for the reply and describe. */
static void reload_failed(inst_t *inst, inst_row_t *row, int status) {
  char *why = inst->reload_why;
  size_t size = sizeof inst->reload_why;
  int64_t code = 0;
  int sig = 0;
  if (status == MUSTER_ECHILD &&
      muster_supervise_last_exit(row->sup, &code, &sig)) {
    char how[48];
    if (sig)
      snprintf(how, sizeof how, "%s", muster_signal_name(sig));
    else
      snprintf(how, sizeof how, "code %lld", (long long)code);
    snprintf(why, size,
             "the new process exited (%s) before it was online", how);
  } else if (status == MUSTER_ECHILD) {
    snprintf(why, size, "the new process exited before it was online");
  } else if (status == MUSTER_ETIMEDOUT) {
    snprintf(why, size,
             "the new process did not send \"ready\" within %lld ms "
             "(listen_timeout)",
             (long long)row->listen_timeout);
  } else {
    snprintf(why, size, "the new process could not start: %s (%s)",
             muster_err_name(status), muster_strerror(status));
  }
  int pid = inst_pid(inst);
  size_t n = strlen(why);
  if (pid > 0)
    snprintf(why + n, size - n, "; the old process (pid %d) keeps running",
             pid);
  snprintf(inst->error, sizeof inst->error, "reload failed: %s", why);
  inst->reload_err = status;
}

static void on_replaced(muster_supervise_replace_t *op, int status,
                        void *arg) {
  inst_t *inst = arg;
  inst_row_t *row = inst->next;
  (void)op;
  inst->replace = NULL;
  uv_timer_stop(&inst->ready_timer);
  if (inst->sup == row->sup) {
    /* Promoted when it came online; the old one is stopped now. */
  } else if (status == 0) {
    promote(inst, row);
  } else {
    reload_failed(inst, row, status);
    retire_row(row);
  }
  inst->next = NULL;
  drop_next_spec(inst);
  inst->reload_ms = clock_wall_ms();
  inst->ie->on_state(inst);
}

/* Gives up a reload under way: its new row retires; the old one serves. */
static void cancel_reload(inst_t *inst) {
  inst_row_t *row = inst->next;
  if (row == NULL)
    return;
  inst->next = NULL;
  uv_timer_stop(&inst->ready_timer);
  muster_supervise_replace_cancel(inst->replace);
  inst->replace = NULL;
  if (inst->sup == row->sup)
    return; /* it serves already; the old one goes on stopping */
  inst->reload_err = MUSTER_ECANCELED;
  snprintf(inst->reload_why, sizeof inst->reload_why,
           "given up for a later command");
  drop_next_spec(inst);
  retire_row(row);
}

int inst_reload(inst_t *inst, json_t *spec, json_t *inherited) {
  inst_row_t *row;
  cancel_reload(inst);
  inst->reload_err = 0;
  inst->reload_why[0] = '\0';
  /* The new row is made with the new spec; the instance keeps the old one
   * (its process runs with it) until the new process is online. */
  json_t *cur_spec = inst->spec, *cur_inherited = inst->inherited;
  if (spec) {
    inst->next_spec = json_incref(spec);
    inst->next_inherited = json_incref(inherited);
    inst->spec = spec;
    inst->inherited = inherited;
  }
  int r = make_row(muster_supervise_loop(inst->sup), inst, &row);
  inst->spec = cur_spec;
  inst->inherited = cur_inherited;
  if (r < 0) {
    drop_next_spec(inst);
    reload_failed(inst, NULL, r);
    return r;
  }
  inst->next = row;
  r = muster_supervise_replace(inst->sup, row->sup, on_replaced, inst,
                               &inst->replace);
  if (r < 0) {
    inst->next = NULL;
    inst->replace = NULL;
    drop_next_spec(inst);
    reload_failed(inst, row, r);
    retire_row(row);
    return r;
  }
  return 0;
}

const char *inst_reload_error(const inst_t *inst) {
  return inst->reload_why;
}

int inst_reloading(const inst_t *inst) {
  return inst->next != NULL;
}

/* ---- states ------------------------------------------------------------- */

static void on_state_cb(muster_supervisor_t *sup, muster_supervise_state_t old,
                        muster_supervise_state_t state) {
  inst_row_t *row = row_of(sup);
  inst_t *inst = row->inst;
  (void)old;
  /* These states are reported once no member of the group is left. */
  if (state == MUSTER_SUPERVISE_STOPPED || state == MUSTER_SUPERVISE_BACKOFF ||
      state == MUSTER_SUPERVISE_ERRORED)
    groups_untrack(sup);
  if (row == inst->next && sup != inst->sup) {
    /* Online once it has run for min_uptime (or said "ready"); then it
     * serves (ls, describe show it) while the old one is being stopped,
     * and the reload ends once that one is gone (on_replaced). */
    if (state == MUSTER_SUPERVISE_STARTING && !row->wait_ready)
      uv_timer_start(&inst->ready_timer, on_ready_timer, row->min_uptime, 0);
    if (state == MUSTER_SUPERVISE_ONLINE) {
      uv_timer_stop(&inst->ready_timer);
      promote(inst, row);
    }
    return;
  }
  if (sup != inst->sup) {
    if (row->retiring && row_done(row))
      close_row(row);
    return;
  }
  if (state == MUSTER_SUPERVISE_STARTING && !row->wait_ready) {
    muster_supervise_ready(sup); /* reported as ONLINE next */
    return;
  }
  if (state == MUSTER_SUPERVISE_STOPPED && inst->recreate &&
      !inst->destroying) {
    replace_supervisor(inst);
    return;
  }
  inst->ie->on_state(inst);
  if (state == MUSTER_SUPERVISE_STOPPED && inst->destroying)
    close_row(row);
}

void inst_restart(inst_t *inst) {
  cancel_reload(inst);
  if (!inst->recreate) {
    muster_supervise_restart(inst->sup);
    return;
  }
  if (!has_process(inst->sup))
    replace_supervisor(inst);
  else
    muster_supervise_stop(inst->sup);
}

void inst_stop(inst_t *inst) {
  cancel_reload(inst);
  muster_supervise_stop(inst->sup);
}

void inst_destroy(inst_t *inst) {
  if (inst->destroying)
    return;
  inst->destroying = 1;
  cancel_reload(inst);
  /* Retired rows still waiting for their output to end go now. */
  for (inst_row_t *row = inst->rows, *next; row; row = next) {
    next = row->next_row;
    if (row->retiring && row_done(row))
      close_row(row);
  }
  uv_close((uv_handle_t *)&inst->ready_timer, on_timer_closed);
  muster_supervise_stop(inst->sup);
  if (muster_supervise_state(inst->sup) == MUSTER_SUPERVISE_STOPPED)
    close_row(row_of(inst->sup));
}
