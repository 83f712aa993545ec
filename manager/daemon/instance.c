/* An instance: supervisor hooks, spawning through the exec trampoline, the
 * process group, log output. See instance.h.
 *
 * The process group is the app: every process is started in its own
 * session (so its group id is its pid), signals go to the whole group,
 * and the row hears of the exit only once the whole group is gone. When
 * the main process ends by itself, what is left of its group is killed
 * before the restart, so an orphaned grandchild can never hold the
 * app's port against its successor. */
#include "instance.h"
#include "../clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

extern char **environ;

/* A string attribute of a canonical spec; "" for one absent when unset. */
static const char *sget(const json_t *spec, const char *key) {
  const char *s = json_string_value(json_object_get(spec, key));
  return s ? s : "";
}

static long long iget(const json_t *spec, const char *key) {
  return json_integer_value(json_object_get(spec, key));
}

/* ---- what to exec --------------------------------------------------------
 * A binary or a script with a shebang runs directly; otherwise the
 * extension says which interpreter (PM2's rule, for any language). */

static const struct {
  const char *ext, *interp;
} by_ext[] = {
    {".js", "node"}, {".mjs", "node"}, {".cjs", "node"}, {".py", "python3"},
    {".rb", "ruby"}, {".sh", "bash"},  {".php", "php"},
};

static const char *interp_for(const char *script) {
  const char *dot = strrchr(script, '.');
  const char *slash = strrchr(script, '/');
  if (dot == NULL || (slash && dot < slash))
    return NULL;
  for (size_t i = 0; i < sizeof by_ext / sizeof *by_ext; i++)
    if (strcmp(dot, by_ext[i].ext) == 0)
      return by_ext[i].interp;
  return NULL;
}

static int runs_directly(const char *path) {
  char head[4] = {0};
  FILE *f = fopen(path, "rbe");
  if (f == NULL)
    return 0;
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  if (access(path, X_OK) < 0)
    return 0;
  return (n >= 2 && head[0] == '#' && head[1] == '!') ||
         (n == 4 && memcmp(head, "\177ELF", 4) == 0);
}

/* The interpreter for spec ("" when the script runs by itself). */
static const char *interpreter(const json_t *spec) {
  const char *i = sget(spec, "interpreter");
  if (strcmp(i, "none") == 0)
    return "";
  if (*i)
    return i;
  const char *script = sget(spec, "script");
  if (runs_directly(script))
    return "";
  const char *by = interp_for(script);
  return by ? by : "";
}

/* Finds `name` on `path` (a PATH value) as execvp would. */
static int on_path(const char *name, const char *path) {
  if (strchr(name, '/'))
    return access(name, X_OK) == 0;
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    char full[4096];
    if (snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? path : ".", name) <
            (int)sizeof full &&
        access(full, X_OK) == 0)
      return 1;
    path += n + (end != NULL);
  }
  return 0;
}

json_t *inst_environment(const inst_t *inst) {
  json_t *env = json_object();
  if (inst->inherited) {
    json_object_update(env, inst->inherited);
  } else {
    for (char **e = environ; *e; e++) {
      const char *eq = strchr(*e, '=');
      if (eq) {
        char *k = strndup(*e, (size_t)(eq - *e));
        json_object_set_new(env, k, json_string(eq + 1));
        free(k);
      }
    }
  }
  json_object_update(env, json_object_get(inst->spec, "env"));
  char num[32];
  snprintf(num, sizeof num, "%d", inst->index);
  json_object_set_new(env, "MUSTER_APP_NAME",
                      json_string(sget(inst->spec, "name")));
  json_object_set_new(env, "MUSTER_INSTANCE", json_string(num));
  json_object_set_new(env, "NODE_APP_INSTANCE", json_string(num));
  json_object_set_new(env, "MUSTER_HOME", json_string(inst->ie->home));
  return env;
}

int inst_check(const inst_env_t *ie, json_t *spec, json_t *inherited, char *err,
               size_t errlen) {
  (void)ie;
  const char *script = sget(spec, "script");
  struct stat st;
  json_t *p = json_object_get(json_object_get(spec, "env"), "PATH");
  if (p == NULL && inherited)
    p = json_object_get(inherited, "PATH");
  const char *path = p ? json_string_value(p) : getenv("PATH");
  if (strchr(script, '/') == NULL) {
    /* A bare name ("npm") is looked up on the app's PATH at exec. */
    if (on_path(script, path))
      return 0;
    snprintf(err, errlen, "%s: ENOENT (not found on PATH)", script);
    return MUSTER_ENOENT;
  }
  if (stat(script, &st) < 0) {
    int e = -errno;
    snprintf(err, errlen, "%s: %s (%s)", script, muster_err_name(e),
             muster_strerror(e));
    return e;
  }
  const char *cwd = sget(spec, "cwd");
  if (*cwd && (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode))) {
    snprintf(err, errlen, "cwd %s: ENOENT (no such directory)", cwd);
    return MUSTER_ENOENT;
  }
  const char *interp = interpreter(spec);
  if (*interp && !on_path(interp, path)) {
    snprintf(err, errlen, "interpreter \"%s\" for %s: ENOENT (not found%s)",
             interp, script, strchr(interp, '/') ? "" : " on PATH");
    return MUSTER_ENOENT;
  }
  if (*interp == '\0' && access(script, X_OK) < 0) {
    snprintf(err, errlen,
             "%s: EACCES (not executable, and no interpreter for its "
             "name: give --interpreter)",
             script);
    return MUSTER_EACCES;
  }
  return 0;
}

/* ---- the process -------------------------------------------------------- */

static void on_data_cb(muster_supervisor_t *sup, muster_child_t *child,
                       int slot, const char *buf, size_t len) {
  inst_t *inst = muster_supervise_data(sup);
  (void)child;
  if (len == 0)
    return;
  applog_write(inst->log, slot, buf, len);
}

static void on_child_cb(muster_supervisor_t *sup, muster_child_t *child,
                        muster_channel_t *channel) {
  inst_t *inst = muster_supervise_data(sup);
  (void)channel;
  inst->started_ms = clock_wall_ms();
  inst->starts++;
  inst->cpu_ticks = 0;
  inst->cpu_at_ms = 0;
  inst->error[0] = '\0';
  for (int slot = 1; slot <= 2; slot++)
    if (applog_paused(inst->log, slot))
      muster_child_read_stop(child, slot);
}

static char **env_vector(json_t *env) {
  size_t n = json_object_size(env), i = 0;
  char **v = calloc(n + 1, sizeof *v);
  const char *k;
  json_t *val;
  json_object_foreach(env, k, val) {
    if (asprintf(&v[i], "%s=%s", k, json_string_value(val)) < 0)
      v[i] = NULL;
    else
      i++;
  }
  return v;
}

static void free_vector(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

/* argv of the trampoline: muster __run <daemon pid> <file> <argv0> args */
static char **run_vector(const inst_t *inst) {
  const json_t *spec = inst->spec;
  const char *interp = interpreter(spec);
  json_t *args = json_object_get(spec, "args");
  json_t *iargs = json_object_get(spec, "interpreter_args");
  size_t n = 6 + json_array_size(args) + json_array_size(iargs) + 1;
  char **v = calloc(n + 1, sizeof *v);
  size_t k = 0;
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  v[k++] = strdup(inst->ie->self_exe);
  v[k++] = strdup("__run");
  v[k++] = strdup(pid);
  const char *script = sget(spec, "script");
  v[k++] = strdup(*interp ? interp : script);
  v[k++] = strdup(*interp ? interp : script);
  size_t i;
  json_t *e;
  if (*interp) {
    json_array_foreach(iargs, i, e) v[k++] = strdup(json_string_value(e));
    v[k++] = strdup(script);
  }
  json_array_foreach(args, i, e) v[k++] = strdup(json_string_value(e));
  return v;
}

static void on_state_cb(muster_supervisor_t *sup, muster_supervise_state_t old,
                        muster_supervise_state_t state);

static void policy_of(const json_t *spec, muster_supervise_policy_t *p,
                      int *codes, size_t ncodes) {
  memset(p, 0, sizeof *p);
  p->restart = json_is_true(json_object_get(spec, "autorestart"))
                   ? MUSTER_RESTART_ALWAYS
                   : MUSTER_RESTART_NEVER;
  json_t *list = json_object_get(spec, "stop_exit_codes");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) if (i < ncodes) codes[i] =
      (int)json_integer_value(e);
  p->no_restart_codes = codes;
  p->no_restart_count =
      json_array_size(list) < ncodes ? json_array_size(list) : ncodes;
  long long delay = iget(spec, "restart_delay");
  long long exp = iget(spec, "exp_backoff_restart_delay");
  if (exp > 0) {
    /* PM2: d, then x1.5 each time, at most 15 s. */
    p->backoff_base_ms = (uint64_t)exp;
    p->backoff_factor = 1.5;
    p->backoff_max_ms = (uint64_t)(exp > 15000 ? exp : 15000);
  } else if (delay > 0) {
    p->backoff_base_ms = (uint64_t)delay;
    p->backoff_factor = 1;
    p->backoff_max_ms = (uint64_t)delay;
  } else {
    /* PM2 restarts at once; the supervisor's smallest base is 1 ms, and
     * the crash-loop guard (not the delay) is what stops a crash loop. */
    p->backoff_base_ms = 1;
    p->backoff_factor = 2;
    p->backoff_max_ms = 15000;
  }
  p->min_uptime_ms = (uint64_t)iget(spec, "min_uptime");
  if (p->min_uptime_ms == 0)
    p->min_uptime_ms = 1;
  /* PM2 judges max_restarts unstable restarts within min_uptime x
   * max_restarts; here the window slides over the app's whole life. */
  long long mr = iget(spec, "max_restarts");
  p->crash_limit = mr > 0 ? (unsigned)mr : 1;
  p->crash_window_ms = p->min_uptime_ms * (uint64_t)(mr + 1);
  if (p->crash_window_ms < 1000)
    p->crash_window_ms = 1000;
  p->kill_timeout_ms = (uint64_t)iget(spec, "kill_timeout");
  if (p->kill_timeout_ms == 0)
    p->kill_timeout_ms = 1;
  p->stop_signal = muster_appspec_parse_signal(sget(spec, "kill_signal"));
}

static void on_error_cb(muster_supervisor_t *sup,
                        muster_supervise_reason_t reason, int err) {
  inst_t *inst = muster_supervise_data(sup);
  if (reason == MUSTER_SUPERVISE_CRASH_LOOP) {
    int codes[MUSTER_SUPERVISE_MAX_EXIT_CODES];
    muster_supervise_policy_t p;
    policy_of(inst->spec, &p, codes, MUSTER_SUPERVISE_MAX_EXIT_CODES);
    snprintf(inst->error, sizeof inst->error,
             "crash loop: %u restarts within %llu ms", p.crash_limit,
             (unsigned long long)p.crash_window_ms);
  } else if (inst->error[0] == '\0') {
    snprintf(inst->error, sizeof inst->error, "%s: %s",
             muster_supervise_reason_name(reason), muster_err_name(err));
  }
}

/* The log writer is behind: hold the app back on its own pipe. */
static void on_log_pause(void *data, int slot, int paused) {
  inst_t *inst = data;
  muster_child_t *child = muster_supervise_child(inst->sup);
  if (child == NULL)
    return;
  if (paused)
    muster_child_read_stop(child, slot);
  else
    muster_child_read_start(child, slot);
}

static int open_logs(uv_loop_t *loop, inst_t *inst) {
  char out[4096], err[4096];
  const char *name = sget(inst->spec, "name");
  const char *o = sget(inst->spec, "out_file");
  const char *e = sget(inst->spec, "error_file");
  long long n = iget(inst->spec, "instances");
  char suffix[32] = "";
  if (n > 1)
    snprintf(suffix, sizeof suffix, "-%d", inst->pm_id);
  if (*o)
    snprintf(out, sizeof out, "%s", o);
  else
    snprintf(out, sizeof out, "%s/%s-out%s.log", inst->ie->logs, name, suffix);
  if (*e)
    snprintf(err, sizeof err, "%s", e);
  else
    snprintf(err, sizeof err, "%s/%s-err%s.log", inst->ie->logs, name, suffix);
  return applog_open(loop, inst->spec, inst->index, out, err, on_log_pause,
                     inst, &inst->log);
}

/* The row: a supervised child (muster_supervise_child_create) running the
 * trampoline in its own session, so the app is a whole process group: the
 * stop schedule reaches every member and STOPPED means none is left. The
 * command and environment are fixed at creation: --update-env makes a new
 * row (inst_update). */
static int make_supervisor(uv_loop_t *loop, inst_t *inst) {
  json_t *env = inst_environment(inst);
  char **envp = env_vector(env);
  char **argv = run_vector(inst);
  json_decref(env);
  const char *cwd = sget(inst->spec, "cwd");
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                             {MUSTER_STDIO_PIPE, -1},
                             {MUSTER_STDIO_PIPE, -1}};
  int codes[MUSTER_SUPERVISE_MAX_EXIT_CODES];
  muster_supervise_child_options_t o = {
      .process.spawn =
          {
              .env = (const char *const *)envp,
              .env_mode = MUSTER_ENV_EXACT,
              .cwd = *cwd ? cwd : NULL,
              .stdio = stdio,
              .stdio_count = 3,
              .flags = MUSTER_SPAWN_DETACHED,
          },
      .on_child = on_child_cb,
      .on_data = on_data_cb,
      .on_state = on_state_cb,
      .on_error = on_error_cb,
      .data = inst,
  };
  policy_of(inst->spec, &o.policy, codes, MUSTER_SUPERVISE_MAX_EXIT_CODES);
  int r = muster_supervise_child_create(
      loop, argv[0], (const char *const *)argv, &o, &inst->sup);
  free_vector(envp);
  free_vector(argv);
  return r;
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
  int r = open_logs(loop, inst);
  if (r < 0) {
    snprintf(err, errlen, "log file in %s: %s (%s)", ie->logs,
             muster_err_name(r), muster_strerror(r));
    goto fail;
  }
  r = make_supervisor(loop, inst);
  if (r < 0) {
    snprintf(err, errlen, "cannot make its supervisor: %s", muster_strerror(r));
    goto fail;
  }
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

static void on_sup_closed(muster_supervisor_t *sup);

/* Once: the STOPPED report and inst_destroy may both ask. */
static void close_supervisor(inst_t *inst) {
  if (inst->closed)
    return;
  inst->closed = 1;
  muster_supervise_close(inst->sup, on_sup_closed);
}

static void on_sup_closed(muster_supervisor_t *sup) {
  inst_t *inst = muster_supervise_data(sup);
  if (!inst->destroying)
    return; /* an old row replaced by inst_update */
  inst->ie->on_gone(inst);
  applog_close(inst->log);
  json_decref(inst->spec);
  json_decref(inst->inherited);
  free(inst);
}

/* A row replaced after --update-env: the old one is closed once stopped,
 * its restart count carried over, and the new one started. */
static void replace_supervisor(inst_t *inst) {
  muster_supervisor_t *old = inst->sup;
  unsigned total = inst_restarts(inst) + 1; /* this restart counts */
  inst->recreate = 0;
  if (make_supervisor(muster_supervise_loop(old), inst) < 0) {
    inst->sup = old;
    snprintf(inst->error, sizeof inst->error,
             "--update-env: cannot make a new supervisor");
    return;
  }
  inst->restart_carry = total;
  inst->restart_base = 0;
  muster_supervise_close(old, on_sup_closed);
  muster_supervise_start(inst->sup);
}

static void on_state_cb(muster_supervisor_t *sup, muster_supervise_state_t old,
                        muster_supervise_state_t state) {
  inst_t *inst = muster_supervise_data(sup);
  (void)old;
  if (sup != inst->sup)
    return;
  if (state == MUSTER_SUPERVISE_STOPPED && inst->recreate &&
      !inst->destroying) {
    replace_supervisor(inst);
    return;
  }
  inst->ie->on_state(inst);
  if (state == MUSTER_SUPERVISE_STOPPED && inst->destroying)
    close_supervisor(inst);
}

void inst_restart(inst_t *inst) {
  if (!inst->recreate) {
    muster_supervise_restart(inst->sup);
    return;
  }
  muster_supervise_state_t s = muster_supervise_state(inst->sup);
  if (s == MUSTER_SUPERVISE_STOPPED || s == MUSTER_SUPERVISE_ERRORED)
    replace_supervisor(inst);
  else
    muster_supervise_stop(inst->sup);
}

void inst_destroy(inst_t *inst) {
  if (inst->destroying)
    return;
  inst->destroying = 1;
  muster_supervise_stop(inst->sup);
  if (muster_supervise_state(inst->sup) == MUSTER_SUPERVISE_STOPPED)
    close_supervisor(inst);
}
