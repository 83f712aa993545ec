/* What an instance runs: the command (a binary or shebang script runs
 * directly, otherwise the interpreter by extension), the user and groups
 * it runs as, its environment, the check before anything starts, and the
 * supervisor policy from PM2's attributes. See instance_launch.h. */
#include "instance.h"
#include "instance_launch.h"
#include "../config/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

char **inst_env_vector(json_t *env) {
  size_t n = json_object_size(env), i = 0;
  char **v = calloc(n + 1, sizeof *v);
  const char *k;
  json_t *val;
  if (v == NULL)
    return NULL;
  json_object_foreach(env, k, val) {
    if (asprintf(&v[i], "%s=%s", k, json_string_value(val)) < 0)
      v[i] = NULL;
    else
      i++;
  }
  return v;
}

void inst_free_vector(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

/* The app's argv: the script, or the interpreter, its arguments and the
 * script; then the app's arguments. argv[0] is the file to run. */
char **inst_argv(const inst_t *inst) {
  const json_t *spec = inst->spec;
  const char *interp = interpreter(spec);
  json_t *args = json_object_get(spec, "args");
  json_t *iargs = json_object_get(spec, "interpreter_args");
  size_t n = 2 + json_array_size(args) + json_array_size(iargs);
  char **v = calloc(n + 1, sizeof *v);
  size_t k = 0;
  const char *script = sget(spec, "script");
  if (v == NULL)
    return NULL;
  v[k++] = strdup(*interp ? interp : script);
  size_t i;
  json_t *e;
  if (*interp) {
    json_array_foreach(iargs, i, e) v[k++] = strdup(json_string_value(e));
    v[k++] = strdup(script);
  }
  json_array_foreach(args, i, e) v[k++] = strdup(json_string_value(e));
  for (i = 0; i < k; i++)
    if (v[i] == NULL) {
      inst_free_vector(v);
      return NULL;
    }
  return v;
}

/* The user's supplementary groups (initgroups' list, asked of the user
 * database: userdb.h), or just `gid` for a uid without a user entry. */
static int user_groups(const spec_cred_t *c, gid_t **out, size_t *count,
                       char *why, size_t whylen) {
  int r = c->has_user ? userdb_groups(c->user.name, c->gid, out, count, why,
                                      whylen)
                      : MUSTER_ENOENT;
  if (r == MUSTER_ENOENT) {
    *out = malloc(sizeof **out);
    r = *out == NULL ? MUSTER_ENOMEM : 0;
    if (r == 0) {
      **out = c->gid;
      *count = 1;
    }
  }
  if (r == 0 && *count > MUSTER_SPAWN_MAX_GROUPS) {
    free(*out);
    *out = NULL;
    r = MUSTER_E2BIG;
  }
  if (r == MUSTER_ENOMEM || r == MUSTER_E2BIG)
    snprintf(why, whylen, "supplementary groups of uid %u: %s",
             (unsigned)c->uid, muster_err_name(r));
  return r;
}

int inst_credentials(const json_t *spec, muster_spawn_options_t *so,
                     gid_t **groups, char *why, size_t whylen) {
  spec_cred_t c;
  size_t n = 0;
  free(*groups);
  *groups = NULL;
  so->flags &= ~(unsigned)(MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID |
                           MUSTER_SPAWN_SETGROUPS);
  int r = spec_credentials(spec, &c, why, whylen);
  if (r < 0 || !c.set_gid)
    return r;
  /* Only root may set groups; a daemon that is not root keeps its own
   * (spec_credentials allowed only its own ids then). */
  if (geteuid() == 0) {
    r = user_groups(&c, groups, &n, why, whylen);
    if (r < 0)
      return r;
    so->flags |= MUSTER_SPAWN_SETGROUPS;
    so->groups = *groups;
    so->ngroups = n;
  }
  so->flags |= MUSTER_SPAWN_SETGID | (c.set_uid ? MUSTER_SPAWN_SETUID : 0);
  so->gid = c.gid;
  so->uid = c.uid;
  return 0;
}

int inst_wants_ready(const json_t *spec) {
  return json_is_true(json_object_get(spec, "wait_ready"));
}

void inst_policy(const json_t *spec, muster_supervise_policy_t *p, int *codes,
                 size_t ncodes) {
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
    /* PM2 restarts at once. So does the row, inside the exit's report
     * (no timer, no loop turn), for the first crash of a series; quick
     * crashes after it wait 1, 2, 4 ... ms, and the crash-loop guard (not
     * the delay) is what stops a crash loop. */
    p->flags |= MUSTER_SUPERVISE_RESTART_AT_ONCE;
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
  /* Every row awaits readiness: a wait_ready app says it ("ready" on its
   * channel, within listen_timeout); any other is made ready by
   * on_state_cb, at once, or after min_uptime for a reload. The timeout
   * is then only a safety net. */
  p->flags |= MUSTER_SUPERVISE_WAIT_READY;
  p->ready_timeout_ms = inst_wants_ready(spec)
                            ? (uint64_t)iget(spec, "listen_timeout")
                            : p->min_uptime_ms + 10000;
  if (p->ready_timeout_ms == 0)
    p->ready_timeout_ms = 1;
}

