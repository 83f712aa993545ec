/* A request's arguments (cmdargs.h). */
#include "cmdargs.h"

#include <muster.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINES_MAX 10000000LL

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return MUSTER_EINVAL;
}

void cmdargs_target(const char *text, cmdargs_target_t *t) {
  size_t n = strlen(text);
  t->text = text;
  t->all = strcmp(text, "all") == 0;
  t->id = n > 0 && n < 10 && strspn(text, "0123456789") == n ? atoi(text) : -1;
}

/* An optional boolean member: 0 when absent. */
static int get_bool(const json_t *args, const char *key, int *out) {
  json_t *v = json_object_get(args, key);
  *out = json_is_true(v);
  return v == NULL || json_is_boolean(v) ? 0 : MUSTER_EINVAL;
}

/* An environment: an object of strings whose names are not empty and hold
 * no '=' (each becomes "name=value" in an app's environment). */
static int env_ok(const json_t *env) {
  const char *k;
  json_t *v;
  if (!json_is_object(env))
    return 0;
  json_object_foreach((json_t *)env, k, v) {
    if (*k == '\0' || strchr(k, '=') != NULL || !json_is_string(v))
      return 0;
  }
  return 1;
}

static int get_env(const json_t *args, const char *key, json_t **out,
                   const char *verb, char *err, size_t errlen) {
  json_t *v = json_object_get(args, key);
  *out = v;
  if (v == NULL || env_ok(v))
    return 0;
  return bad(err, errlen,
             "%s: \"%s\" must be an object of strings, each name without '='",
             verb, key);
}

/* "target": required, or `fallback` when absent. */
static int get_target(const json_t *args, const char *fallback,
                      cmdargs_target_t *t, const char *verb, char *err,
                      size_t errlen) {
  json_t *v = json_object_get(args, "target");
  const char *s = v ? json_string_value(v) : fallback;
  if (s == NULL || *s == '\0')
    return bad(err, errlen,
               "%s: \"target\" must be an app: an id, a name, a namespace "
               "or all",
               verb);
  cmdargs_target(s, t);
  return 0;
}

static int start_args(const json_t *args, cmdargs_t *a, char *err,
                      size_t errlen) {
  a->app = json_object_get(args, "app");
  a->apps = json_object_get(args, "apps");
  if (get_bool(args, "force", &a->force) < 0)
    return bad(err, errlen, "start: \"force\" must be true or false");
  if (a->apps != NULL) {
    size_t i;
    json_t *app;
    if (!json_is_array(a->apps) || a->app != NULL)
      return bad(err, errlen,
                 "start: \"apps\" must be an array, without \"app\"");
    json_array_foreach(a->apps, i, app) {
      if (!json_is_object(app))
        return bad(err, errlen, "start: \"apps\"[%zu] must be an object", i);
    }
  } else if (!json_is_object(a->app)) {
    return bad(err, errlen,
               "start: \"app\" (an object) or \"apps\" (an array) is "
               "needed");
  }
  return get_env(args, "env", &a->env, "start", err, errlen);
}

static int signal_args(const json_t *args, cmdargs_t *a, char *err,
                       size_t errlen) {
  json_t *s = json_object_get(args, "signal");
  json_int_t n = json_is_integer(s) ? json_integer_value(s)
                 : json_is_string(s)
                     ? muster_appspec_parse_signal(json_string_value(s))
                     : -1;
  if (n < 1 || n > 31 || muster_signal_name((int)n) == NULL)
    return bad(err, errlen, "signal: not a signal");
  a->signo = (int)n;
  return 0;
}

static int logs_args(const json_t *args, cmdargs_t *a, char *err,
                     size_t errlen) {
  json_t *n = json_object_get(args, "lines");
  json_t *s = json_object_get(args, "stream");
  const char *sv = s ? json_string_value(s) : "all";
  a->lines = n ? json_integer_value(n) : 15;
  a->streams = !sv                      ? 0
               : strcmp(sv, "out") == 0 ? 1
               : strcmp(sv, "err") == 0 ? 2
               : strcmp(sv, "all") == 0 ? 3
                                        : 0;
  if ((n && !json_is_integer(n)) || a->lines < 0 || a->lines > LINES_MAX ||
      a->streams == 0 || get_bool(args, "follow", &a->follow) < 0 ||
      get_target(args, "all", &a->target, "logs", err, errlen) < 0)
    return bad(err, errlen,
               "logs: expected {target, lines >= 0, stream: out|err|all, "
               "follow: bool}");
  return 0;
}

static int list_args(const json_t *args, cmdargs_t *a, char *err,
                     size_t errlen) {
  json_t *f = json_object_get(args, "fields");
  const char *s = json_string_value(f);
  a->fields = f == NULL                       ? CMDARGS_FULL
              : s && strcmp(s, "table") == 0 ? CMDARGS_TABLE
              : s && strcmp(s, "rows") == 0  ? CMDARGS_ROWS
                                             : -1;
  if (a->fields < 0)
    return bad(err, errlen, "list: \"fields\" must be \"table\" or \"rows\"");
  return 0;
}

int cmdargs_decode(muster_client_cmd_t cmd, const json_t *args, cmdargs_t *a,
                   char *err, size_t errlen) {
  const char *verb = muster_client_cmd_name(cmd);
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->args = args;
  a->target.id = -1;
  if (verb == NULL)
    return bad(err, errlen, "unknown command");
  if (!json_is_object(args))
    return bad(err, errlen, "%s: the arguments must be an object", verb);
  switch (cmd) {
  case MUSTER_CMD_START:
    return start_args(args, a, err, errlen);
  case MUSTER_CMD_RESTART:
  case MUSTER_CMD_RELOAD:
    if (get_bool(args, "update_env", &a->update_env) < 0)
      return bad(err, errlen, "%s: \"update_env\" must be true or false",
                 verb);
    if (get_env(args, "env", &a->env, verb, err, errlen) < 0 ||
        get_env(args, "set_env", &a->set_env, verb, err, errlen) < 0)
      return MUSTER_EINVAL;
    return get_target(args, NULL, &a->target, verb, err, errlen);
  case MUSTER_CMD_SIGNAL:
    if (signal_args(args, a, err, errlen) < 0)
      return MUSTER_EINVAL;
    return get_target(args, NULL, &a->target, verb, err, errlen);
  case MUSTER_CMD_STOP:
  case MUSTER_CMD_DELETE:
  case MUSTER_CMD_RESET:
  case MUSTER_CMD_DESCRIBE:
    return get_target(args, NULL, &a->target, verb, err, errlen);
  case MUSTER_CMD_FLUSH:
    return get_target(args, "all", &a->target, verb, err, errlen);
  case MUSTER_CMD_SAVE:
    if (get_bool(args, "force", &a->force) < 0)
      return bad(err, errlen, "save: \"force\" must be true or false");
    return 0;
  case MUSTER_CMD_LIST:
    return list_args(args, a, err, errlen);
  case MUSTER_CMD_LOGS:
    return logs_args(args, a, err, errlen);
  default: /* ping, kill, resurrect, reload-logs: nothing to read */
    return 0;
  }
}
