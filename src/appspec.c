/* One app spec in, its canonical form out (muster_appspec_normalize): a
 * table of PM2's attribute names, each with the rule that checks and
 * converts its value. The canonical form is described in
 * include/muster/appspec.h. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appspec_internal.h"
#include "muster/error.h"
#include "muster/process.h"

typedef struct {
  const muster__appspec_ctx_t *ctx;
  const muster_appspec_options_t *opts;
  const char *key; /* the attribute as written (maybe an alias) */
  json_t *out;
} rule_ctx_t;

typedef int (*rule_fn)(rule_ctx_t *rc, const char *name, json_t *v);

/* "got ..." for a message: the value in short. */
static const char *got(const json_t *v, char *buf, size_t size) {
  switch (json_typeof(v)) {
  case JSON_STRING: {
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n > 40)
      snprintf(buf, size, "\"%.37s...\"", s);
    else
      snprintf(buf, size, "\"%s\"", s);
    return buf;
  }
  case JSON_INTEGER:
    snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    return buf;
  case JSON_REAL:
    snprintf(buf, size, "%g", json_real_value(v));
    return buf;
  case JSON_TRUE:
    return "true";
  case JSON_FALSE:
    return "false";
  case JSON_NULL:
    return "null";
  case JSON_ARRAY:
    return "an array";
  default:
    return "an object";
  }
}

#define BAD(rc, v, expected) bad((rc), (v), (expected))

static int bad(rule_ctx_t *rc, const json_t *v, const char *expected) {
  char buf[64];
  return muster__appspec_fail(rc->ctx, MUSTER_EINVAL, rc->key,
                              "expected %s, got %s", expected,
                              got(v, buf, sizeof buf));
}

static int put(rule_ctx_t *rc, const char *name, json_t *v) {
  if (v == NULL || json_object_set_new(rc->out, name, v) != 0)
    return MUSTER_ENOMEM;
  return 0;
}

static int r_string(rule_ctx_t *rc, const char *name, json_t *v) {
  if (!json_is_string(v) || json_string_length(v) == 0)
    return BAD(rc, v, "a non-empty string");
  return put(rc, name, json_copy(v));
}

/* PM2's log_file: a path, or true for the default path (false: none). */
static int r_log_file(rule_ctx_t *rc, const char *name, json_t *v) {
  if (json_is_false(v) ||
      (json_is_string(v) && !strcmp(json_string_value(v), "false")))
    return 0;
  if (json_is_true(v) ||
      (json_is_string(v) && !strcmp(json_string_value(v), "true")))
    return put(rc, name, json_true());
  if (!json_is_string(v) || json_string_length(v) == 0)
    return BAD(rc, v, "a path, or true");
  return put(rc, name, json_copy(v));
}

static int r_bool(rule_ctx_t *rc, const char *name, json_t *v) {
  /* YAML 1.1 and hand-written JSON both carry "true"/"false" strings. */
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strcmp(s, "true") == 0)
      return put(rc, name, json_true());
    if (strcmp(s, "false") == 0)
      return put(rc, name, json_false());
  }
  if (!json_is_boolean(v))
    return BAD(rc, v, "true or false");
  return put(rc, name, json_copy(v));
}

/* An integer-valued number, or NULL. JSON has one number type, so 2.0 is
 * as good as 2. */
static int as_int(const json_t *v, long long *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 1;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
      *out = (long long)d;
      return 1;
    }
  }
  return 0;
}

static int r_count(rule_ctx_t *rc, const char *name, json_t *v) {
  long long n;
  if (json_is_string(v)) {
    char *end;
    n = strtoll(json_string_value(v), &end, 10);
    if (*json_string_value(v) == '\0' || *end != '\0' || n < 0)
      return BAD(rc, v, "an integer >= 0");
  } else if (!as_int(v, &n) || n < 0 || n > INT_MAX) {
    return BAD(rc, v, "an integer >= 0");
  }
  return put(rc, name, json_integer(n));
}

typedef int (*unit_fn)(const char *s, uint64_t *out);

static int unit(rule_ctx_t *rc, const char *name, json_t *v, unit_fn parse,
                const char *expected) {
  uint64_t n;
  long long i;
  if (json_is_string(v)) {
    if (parse(json_string_value(v), &n) != 0)
      return BAD(rc, v, expected);
  } else if (as_int(v, &i) && i >= 0) {
    n = (uint64_t)i;
  } else {
    return BAD(rc, v, expected);
  }
  return put(rc, name, json_integer((json_int_t)n));
}

static int r_duration(rule_ctx_t *rc, const char *name, json_t *v) {
  return unit(rc, name, v, muster_appspec_parse_duration,
              "a duration (milliseconds, or \"500ms\", \"1s\", \"2m\")");
}

static int r_size(rule_ctx_t *rc, const char *name, json_t *v) {
  return unit(rc, name, v, muster_appspec_parse_size,
              "a size (bytes, or \"512K\", \"10M\", \"1G\")");
}

static int r_signal(rule_ctx_t *rc, const char *name, json_t *v) {
  char buf[16];
  int sig = MUSTER_EINVAL;
  long long n;
  if (json_is_string(v)) {
    sig = muster_appspec_parse_signal(json_string_value(v));
  } else if (as_int(v, &n) && n > 0 && n < 32) {
    snprintf(buf, sizeof buf, "%lld", n);
    sig = muster_appspec_parse_signal(buf);
  }
  if (sig < 0)
    return BAD(rc, v, "a signal name like \"SIGINT\"");
  return put(rc, name, json_string(muster_signal_name(sig)));
}

static int r_strings(rule_ctx_t *rc, const char *name, json_t *v) {
  json_t *arr;
  if (json_is_string(v)) {
    int r = muster_appspec_parse_args(json_string_value(v), &arr);
    if (r == MUSTER_EINVAL)
      return BAD(rc, v, "a string with closed quotes, or an array");
    if (r != 0)
      return r;
    return put(rc, name, arr);
  }
  if (!json_is_array(v))
    return BAD(rc, v, "a string or an array of strings");
  arr = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    char idx[32];
    char buf[64];
    if (json_is_string(e)) {
      json_array_append(arr, e);
      continue;
    }
    long long n;
    if (as_int(e, &n)) { /* args: [3000] is a PM2 habit */
      snprintf(buf, sizeof buf, "%lld", n);
      json_array_append_new(arr, json_string(buf));
      continue;
    }
    json_decref(arr);
    snprintf(idx, sizeof idx, "%s[%zu]", rc->key, i);
    return muster__appspec_fail(rc->ctx, MUSTER_EINVAL, idx,
                                "expected a string, got %s",
                                got(e, buf, sizeof buf));
  }
  return put(rc, name, arr);
}

/* env: values become strings; objects and arrays are refused. */
static int env_merge(rule_ctx_t *rc, json_t *dst, const char *key, json_t *v) {
  if (!json_is_object(v))
    return BAD(rc, v, "an object of variables");
  const char *k;
  json_t *e;
  json_object_foreach(v, k, e) {
    char buf[64], path[160];
    json_t *s = NULL;
    if (json_is_string(e))
      s = json_copy(e);
    else if (json_is_integer(e) || json_is_real(e) || json_is_boolean(e))
      s = json_string(got(e, buf, sizeof buf));
    if (s == NULL || *k == '\0' || strchr(k, '=') != NULL) {
      json_decref(s);
      muster__appspec_path_key(path, sizeof path, key, k);
      if (*k == '\0' || strchr(k, '=') != NULL)
        return muster__appspec_fail(rc->ctx, MUSTER_EINVAL, path,
                                    "a variable name cannot be empty or "
                                    "hold '='");
      return muster__appspec_fail(rc->ctx, MUSTER_EINVAL, path,
                                  "expected a string, number or boolean, "
                                  "got %s",
                                  got(e, buf, sizeof buf));
    }
    if (json_object_set_new(dst, k, s) != 0)
      return MUSTER_ENOMEM;
  }
  return 0;
}

static int r_env(rule_ctx_t *rc, const char *name, json_t *v) {
  json_t *env = json_object_get(rc->out, "env");
  if (env == NULL) {
    env = json_object();
    if (put(rc, "env", env) != 0)
      return MUSTER_ENOMEM;
  }
  return env_merge(rc, env, rc->key, v);
}

static unsigned cpus(const muster_appspec_options_t *opts) {
  if (opts->cpus > 0)
    return opts->cpus;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

static int r_instances(rule_ctx_t *rc, const char *name, json_t *v) {
  long long n;
  const char *expected = "an integer or \"max\"";
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    if (strcmp(s, "max") == 0) {
      n = 0;
    } else {
      n = strtoll(s, &end, 10);
      if (*s == '\0' || *end != '\0')
        return BAD(rc, v, expected);
    }
  } else if (!as_int(v, &n)) {
    return BAD(rc, v, expected);
  }
  if (n > 4096 || n < -4096)
    return BAD(rc, v, "an integer between -4096 and 4096, or \"max\"");
  if (n <= 0) { /* "max", or that many fewer: the only case that asks */
    long long c = cpus(rc->opts);
    n = c + n > 1 ? c + n : 1;
  }
  return put(rc, name, json_integer(n));
}

static int r_choice(rule_ctx_t *rc, const char *name, json_t *v,
                    const char *const *words, const char *expected) {
  if (json_is_string(v)) {
    /* words is pairs: what is written, what it means */
    for (size_t i = 0; words[i] != NULL; i += 2)
      if (strcmp(json_string_value(v), words[i]) == 0)
        return put(rc, name, json_string(words[i + 1]));
  }
  return BAD(rc, v, expected);
}

static int r_exec_mode(rule_ctx_t *rc, const char *name, json_t *v) {
  static const char *const w[] = {"fork",         "fork",    "fork_mode",
                                  "fork",         "cluster", "cluster",
                                  "cluster_mode", "cluster", NULL};
  return r_choice(rc, name, v, w, "\"fork\" or \"cluster\"");
}

static int r_log_type(rule_ctx_t *rc, const char *name, json_t *v) {
  static const char *const w[] = {"json", "json", "raw", "raw",
                                  "text", "raw",  NULL};
  return r_choice(rc, name, v, w, "\"json\" or \"raw\"");
}

static int r_interval(rule_ctx_t *rc, const char *name, json_t *v) {
  static const char *const w[] = {"daily", "daily", "hourly", "hourly", "none",
                                  "none",  "never", "none",   NULL};
  return r_choice(rc, name, v, w, "\"daily\", \"hourly\" or \"none\"");
}

static int r_id(rule_ctx_t *rc, const char *name, json_t *v) {
  long long n;
  if (as_int(v, &n) && n >= 0 && n < UINT32_MAX)
    return put(rc, name, json_integer(n));
  if (json_is_string(v) && json_string_length(v) > 0) {
    char *end;
    n = strtoll(json_string_value(v), &end, 10);
    if (*end == '\0' && n >= 0 && n < UINT32_MAX)
      return put(rc, name, json_integer(n));
    return put(rc, name, json_copy(v));
  }
  return BAD(rc, v, "a numeric id or a name");
}

static int r_exit_codes(rule_ctx_t *rc, const char *name, json_t *v) {
  json_t *arr = json_array();
  long long n;
  if (as_int(v, &n)) { /* PM2 takes one code as well as a list */
    if (n < 0 || n > 255) {
      json_decref(arr);
      return BAD(rc, v, "exit codes 0..255");
    }
    json_array_append_new(arr, json_integer(n));
    return put(rc, name, arr);
  }
  if (!json_is_array(v)) {
    json_decref(arr);
    return BAD(rc, v, "an array of exit codes 0..255");
  }
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!as_int(e, &n) || n < 0 || n > 255) {
      char idx[64], buf[64];
      json_decref(arr);
      snprintf(idx, sizeof idx, "%s[%zu]", rc->key, i);
      return muster__appspec_fail(rc->ctx, MUSTER_EINVAL, idx,
                                  "expected an exit code 0..255, got %s",
                                  got(e, buf, sizeof buf));
    }
    json_array_append_new(arr, json_integer(n));
  }
  return put(rc, name, arr);
}

typedef struct {
  const char *key;  /* as written in a file */
  const char *name; /* canonical name */
  rule_fn rule;
} attr_t;

static const attr_t attrs[] = {
    {"name", "name", r_string},
    {"script", "script", r_string},
    {"args", "args", r_strings},
    {"interpreter", "interpreter", r_string},
    {"exec_interpreter", "interpreter", r_string},
    {"interpreter_args", "interpreter_args", r_strings},
    {"node_args", "interpreter_args", r_strings},
    {"cwd", "cwd", r_string},
    {"instances", "instances", r_instances},
    {"exec_mode", "exec_mode", r_exec_mode},
    {"env", "env", r_env},
    {"namespace", "namespace", r_string},
    {"autorestart", "autorestart", r_bool},
    {"max_restarts", "max_restarts", r_count},
    {"min_uptime", "min_uptime", r_duration},
    {"restart_delay", "restart_delay", r_duration},
    {"exp_backoff_restart_delay", "exp_backoff_restart_delay", r_duration},
    {"stop_exit_codes", "stop_exit_codes", r_exit_codes},
    {"kill_timeout", "kill_timeout", r_duration},
    {"kill_signal", "kill_signal", r_signal},
    {"wait_ready", "wait_ready", r_bool},
    {"listen_timeout", "listen_timeout", r_duration},
    {"out_file", "out_file", r_string},
    {"output", "out_file", r_string},
    {"error_file", "error_file", r_string},
    {"error", "error_file", r_string},
    {"err_file", "error_file", r_string},
    {"log_file", "log_file", r_log_file},
    {"log", "log_file", r_log_file},
    {"merge_logs", "merge_logs", r_bool},
    {"combine_logs", "merge_logs", r_bool},
    {"time", "time", r_bool},
    {"log_date_format", "log_date_format", r_string},
    {"log_type", "log_type", r_log_type},
    {"uid", "uid", r_id},
    {"user", "uid", r_id},
    {"gid", "gid", r_id},
    {"log_max_size", "log_max_size", r_size},
    {"log_retain", "log_retain", r_count},
    {"log_compress", "log_compress", r_bool},
    {"log_rotate_interval", "log_rotate_interval", r_interval},
    {"log_max_total", "log_max_total", r_size},
};

/* PM2 attributes muster knows but does not act on yet: each gets a
 * warning saying so. Anything in neither table is "unknown". */
static const char *const later[] = {"watch",
                                    "ignore_watch",
                                    "watch_options",
                                    "watch_delay",
                                    "max_memory_restart",
                                    "cron_restart",
                                    "cron",
                                    "shutdown_with_message",
                                    "source_map_support",
                                    "disable_source_map_support",
                                    "instance_var",
                                    "increment_var",
                                    "pid_file",
                                    "vizion",
                                    "post_update",
                                    "force",
                                    "append_env_to_name",
                                    "treekill",
                                    "filter_env",
                                    "disable_logs",
                                    "autostart",
                                    "port",
                                    "max_memory",
                                    "node_version",
                                    "automation",
                                    "pmx",
                                    "trace",
                                    "disable_trace",
                                    "deep_monitoring",
                                    "kill_retry_time",
                                    "windowsHide",
                                    "broadcast_logs",
                                    "exec_watch",
                                    "stop_signal_delay",
                                    NULL};

static int set_default(json_t *out, const char *name, json_t *v) {
  if (json_object_get(out, name) != NULL) {
    json_decref(v);
    return 0;
  }
  if (v == NULL || json_object_set_new(out, name, v) != 0)
    return MUSTER_ENOMEM;
  return 0;
}

static int defaults(json_t *out) {
  int r = 0;
  r |= set_default(out, "args", json_array());
  r |= set_default(out, "interpreter_args", json_array());
  r |= set_default(out, "instances", json_integer(1));
  r |= set_default(out, "exec_mode", json_string("fork"));
  r |= set_default(out, "env", json_object());
  r |= set_default(out, "namespace", json_string("default"));
  r |= set_default(out, "autorestart", json_true());
  r |= set_default(out, "max_restarts", json_integer(16));
  r |= set_default(out, "min_uptime", json_integer(1000));
  r |= set_default(out, "restart_delay", json_integer(0));
  r |= set_default(out, "exp_backoff_restart_delay", json_integer(0));
  r |= set_default(out, "stop_exit_codes", json_array());
  r |= set_default(out, "kill_timeout", json_integer(1600));
  r |= set_default(out, "kill_signal", json_string("SIGTERM"));
  r |= set_default(out, "wait_ready", json_false());
  r |= set_default(out, "listen_timeout", json_integer(3000));
  r |= set_default(out, "merge_logs", json_false());
  r |= set_default(out, "time", json_false());
  r |= set_default(out, "log_type", json_string("raw"));
  r |= set_default(out, "log_max_size", json_integer(10 << 20));
  r |= set_default(out, "log_retain", json_integer(5));
  r |= set_default(out, "log_compress", json_false());
  r |= set_default(out, "log_rotate_interval", json_string("daily"));
  r |= set_default(out, "log_max_total", json_integer(0));
  return r ? MUSTER_ENOMEM : 0;
}

/* `rel` against `base` (already absolute), with "./" steps dropped. */
static json_t *resolve(const char *base, const char *rel) {
  if (rel[0] == '/')
    return json_string(rel);
  while (rel[0] == '.' && rel[1] == '/')
    rel += 2;
  if (strcmp(rel, ".") == 0 || *rel == '\0')
    return json_string(base);
  size_t n = strlen(base);
  char *buf = malloc(n + strlen(rel) + 2);
  if (buf == NULL)
    return NULL;
  sprintf(buf, "%s%s%s", base, n > 0 && base[n - 1] == '/' ? "" : "/", rel);
  json_t *s = json_string(buf);
  free(buf);
  return s;
}

static int on_path(const char *prog) {
  const char *path = getenv("PATH");
  char buf[PATH_MAX];
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path; *p != '\0';) {
    size_t n = strcspn(p, ":");
    if (n > 0 &&
        (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, prog) <
            sizeof buf &&
        access(buf, X_OK) == 0)
      return 1;
    p += n + (p[n] == ':');
  }
  return 0;
}

static int resolve_paths(json_t *out, const muster_appspec_options_t *opts) {
  char here[PATH_MAX];
  const char *base = opts->base_dir;
  if (base == NULL || base[0] != '/') {
    if (getcwd(here, sizeof here) == NULL)
      return -errno;
    if (base != NULL && *base != '\0') {
      json_t *b = resolve(here, base);
      if (b == NULL)
        return MUSTER_ENOMEM;
      snprintf(here, sizeof here, "%s", json_string_value(b));
      json_decref(b);
    }
    base = here;
  }
  json_t *cwd = json_object_get(out, "cwd");
  json_t *abs = resolve(base, cwd ? json_string_value(cwd) : ".");
  if (abs == NULL || json_object_set_new(out, "cwd", abs) != 0)
    return MUSTER_ENOMEM;
  const char *dir = json_string_value(abs);
  static const char *const files[] = {"out_file", "error_file", "log_file"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    json_t *f = json_object_get(out, files[i]);
    if (json_is_string(f) &&
        json_object_set_new(out, files[i],
                            resolve(dir, json_string_value(f))) != 0)
      return MUSTER_ENOMEM;
  }
  /* A bare word that is no file in cwd but a program on PATH ("python3")
   * stays a bare word; anything else becomes a path in cwd, so a missing
   * script is reported with the path it was looked for at. */
  const char *script = json_string_value(json_object_get(out, "script"));
  json_t *s = resolve(dir, script);
  if (s == NULL)
    return MUSTER_ENOMEM;
  if (strchr(script, '/') == NULL && access(json_string_value(s), F_OK) != 0 &&
      on_path(script)) {
    json_decref(s);
    return 0;
  }
  return json_object_set_new(out, "script", s) != 0 ? MUSTER_ENOMEM : 0;
}

static int check_name(const muster__appspec_ctx_t *ctx, json_t *out) {
  json_t *name = json_object_get(out, "name");
  if (name == NULL) {
    const char *script = json_string_value(json_object_get(out, "script"));
    const char *base = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n == 0)
      return muster__appspec_fail(ctx, MUSTER_EINVAL, "name",
                                  "no name given, and none can be made "
                                  "from the script");
    name = json_stringn(base, n);
    if (name == NULL || json_object_set_new(out, "name", name) != 0)
      return MUSTER_ENOMEM;
  }
  const char *s = json_string_value(name);
  size_t digits = strspn(s, "0123456789");
  if (strlen(s) > 128)
    return muster__appspec_fail(ctx, MUSTER_EINVAL, "name",
                                "a name has at most 128 bytes");
  if (digits == strlen(s))
    return muster__appspec_fail(ctx, MUSTER_EINVAL, "name",
                                "a name cannot be all digits (it would "
                                "read as an app id), got \"%s\"",
                                s);
  for (const char *c = s; *c != '\0'; c++)
    if (*c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f)
      return muster__appspec_fail(ctx, MUSTER_EINVAL, "name",
                                  "a name cannot hold '/' or control "
                                  "characters");
  return 0;
}

static int is_in(const char *key, const char *const *list) {
  for (size_t i = 0; list[i] != NULL; i++)
    if (strcmp(key, list[i]) == 0)
      return 1;
  return 0;
}

static int apply(rule_ctx_t *rc, const json_t *spec) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)spec, key, v) {
    size_t i;
    for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
      if (strcmp(key, attrs[i].key) == 0)
        break;
    rc->key = key;
    if (i < sizeof attrs / sizeof attrs[0]) {
      int r = attrs[i].rule(rc, attrs[i].name, v);
      if (r != 0)
        return r;
    } else if (strncmp(key, "env_", 4) == 0) {
      continue; /* merged after env, when selected */
    } else if (is_in(key, later)) {
      muster__appspec_warn(rc->ctx, key,
                           "not supported by muster yet; ignored");
    } else {
      muster__appspec_warn(rc->ctx, key, "unknown attribute; ignored");
    }
  }
  return 0;
}

int muster__appspec_normalize(const json_t *spec,
                              const muster_appspec_options_t *opts,
                              const muster__appspec_ctx_t *ctx, json_t **out) {
  static const muster_appspec_options_t none;
  if (opts == NULL)
    opts = &none;
  if (!json_is_object(spec)) {
    char buf[64];
    return muster__appspec_fail(ctx, MUSTER_EINVAL, NULL,
                                "expected an app object, got %s",
                                got(spec, buf, sizeof buf));
  }
  rule_ctx_t rc = {ctx, opts, NULL, json_object()};
  if (rc.out == NULL)
    return MUSTER_ENOMEM;
  int r = apply(&rc, spec);
  if (r == 0 && opts->env_name != NULL) {
    char key[160];
    snprintf(key, sizeof key, "env_%s", opts->env_name);
    json_t *sel = json_object_get(spec, key);
    rc.key = key;
    if (sel != NULL)
      r = r_env(&rc, "env", sel);
  }
  if (r == 0 && json_object_get(rc.out, "script") == NULL)
    r = muster__appspec_fail(ctx, MUSTER_EINVAL, "script",
                             "every app needs a script (the program to "
                             "run)");
  if (r == 0)
    r = check_name(ctx, rc.out);
  if (r == 0)
    r = defaults(rc.out);
  if (r == 0)
    r = resolve_paths(rc.out, opts);
  if (r == 0 && strcmp(json_string_value(json_object_get(rc.out, "exec_mode")),
                       "cluster") == 0)
    muster__appspec_warn(ctx, "exec_mode",
                         "cluster mode is not supported by muster yet; "
                         "the app runs in fork mode");
  if (r != 0) {
    if (r == MUSTER_ENOMEM)
      muster__appspec_fail(ctx, r, NULL, "out of memory");
    json_decref(rc.out);
    return r;
  }
  *out = rc.out;
  return 0;
}

int muster_appspec_normalize(const json_t *spec,
                             const muster_appspec_options_t *opts, json_t **out,
                             json_t *warnings, muster_appspec_error_t *err) {
  muster__appspec_ctx_t ctx = {"", "", NULL, warnings, err};
  if (spec == NULL || out == NULL)
    return muster__appspec_fail(&ctx, MUSTER_EINVAL, NULL,
                                "no spec or no place for the result");
  return muster__appspec_normalize(spec, opts, &ctx, out);
}
