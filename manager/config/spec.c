#include "spec.h"
#include "../signame.h"

#include <muster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { T_STR, T_STRS, T_INT, T_BOOL, T_ENV, T_INTS, T_SIG } type_t;

typedef struct {
  const char *name;
  type_t type;
  long long def;    /* T_INT, T_BOOL */
  const char *sdef; /* T_STR, T_SIG; NULL: required (script) */
  long long max;
} attr_t;

#define DAY_MS (24LL * 3600 * 1000)

/* Every attribute the daemon reads, with its default. */
static const attr_t attrs[] = {
    {"script", T_STR, 0, NULL, 0},
    {"name", T_STR, 0, "", 0},
    {"namespace", T_STR, 0, "default", 0},
    {"args", T_STRS, 0, NULL, 0},
    {"interpreter", T_STR, 0, "", 0},
    {"interpreter_args", T_STRS, 0, NULL, 0},
    {"cwd", T_STR, 0, "", 0},
    {"instances", T_INT, 1, NULL, 4096},
    {"env", T_ENV, 0, NULL, 0},
    {"autorestart", T_BOOL, 1, NULL, 1},
    {"max_restarts", T_INT, 16, NULL, 1000},
    {"min_uptime", T_INT, 1000, NULL, DAY_MS},
    {"restart_delay", T_INT, 0, NULL, DAY_MS},
    {"exp_backoff_restart_delay", T_INT, 0, NULL, DAY_MS},
    {"stop_exit_codes", T_INTS, 0, NULL, 255},
    {"kill_timeout", T_INT, 1600, NULL, DAY_MS},
    {"kill_signal", T_SIG, 0, "SIGTERM", 0},
    {"out_file", T_STR, 0, "", 0},
    {"error_file", T_STR, 0, "", 0},
    {"time", T_BOOL, 0, NULL, 1},
};

/* Attributes kept as given, for PM2 compatibility of dumps and jlist, but
 * without effect yet: each start names them in a warning. */
static int known(const char *key) {
  for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
    if (strcmp(attrs[i].name, key) == 0)
      return 1;
  return 0;
}

/* A list of strings: an array of strings, or one string split on blanks
 * (PM2 accepts "args": "--port 80"). */
static json_t *strings(const json_t *v) {
  json_t *out = json_array();
  if (json_is_string(v)) {
    char *copy = strdup(json_string_value(v)), *save = NULL;
    for (char *t = strtok_r(copy, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save))
      json_array_append_new(out, json_string(t));
    free(copy);
    return out;
  }
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) {
      json_decref(out);
      return NULL;
    }
    json_array_append(out, e);
  }
  return out;
}

static json_t *env_object(const json_t *v) {
  json_t *out = json_object();
  const char *k;
  json_t *e;
  json_object_foreach((json_t *)v, k, e) {
    char num[64];
    if (*k == '\0' || strchr(k, '=') != NULL) {
      json_decref(out);
      return NULL;
    }
    if (json_is_string(e))
      json_object_set(out, k, e);
    else if (json_is_integer(e))
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(e)),
          json_object_set_new(out, k, json_string(num));
    else if (json_is_real(e))
      snprintf(num, sizeof num, "%g", json_real_value(e)),
          json_object_set_new(out, k, json_string(num));
    else if (json_is_boolean(e))
      json_object_set_new(out, k,
                          json_string(json_is_true(e) ? "true" : "false"));
    else {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

/* The value of `a` in `v` (absent: the default), or NULL with err set. */
static json_t *convert(const attr_t *a, const json_t *v, char *err,
                       size_t errlen) {
  const char *want = NULL;
  json_t *out = NULL;
  switch (a->type) {
  case T_STR:
    if (v == NULL && a->sdef)
      return json_string(a->sdef);
    if (json_is_string(v) && (a->sdef || json_string_length(v) > 0) &&
        strlen(json_string_value(v)) == json_string_length(v))
      return json_incref((json_t *)v);
    want = a->sdef ? "a string" : "a non-empty string";
    break;
  case T_STRS:
    if (v == NULL)
      return json_array();
    if ((json_is_string(v) || json_is_array(v)) && (out = strings(v)))
      return out;
    want = "a string or an array of strings";
    break;
  case T_INT:
    if (v == NULL)
      return json_integer(a->def);
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= a->max)
      return json_incref((json_t *)v);
    if (json_is_string(v) && strcmp(a->name, "instances") == 0 &&
        (strcmp(json_string_value(v), "max") == 0 ||
         strcmp(json_string_value(v), "-1") == 0)) {
      int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
      return json_integer(n > 0 ? n : 1);
    }
    snprintf(err, errlen, "\"%s\": expected an integer from 0 to %lld", a->name,
             a->max);
    return NULL;
  case T_BOOL:
    if (v == NULL)
      return json_boolean(a->def);
    if (json_is_boolean(v))
      return json_incref((json_t *)v);
    want = "true or false";
    break;
  case T_ENV:
    if (v == NULL)
      return json_object();
    if (json_is_object(v) && (out = env_object(v)))
      return out;
    want = "an object of NAME: value (strings, numbers or booleans)";
    break;
  case T_INTS:
    if (v == NULL)
      return json_array();
    if (json_is_integer(v))
      v = out = json_pack("[O]", v);
    if (json_is_array(v)) {
      size_t i;
      json_t *e;
      int ok = 1;
      json_array_foreach(v, i, e) ok &= json_is_integer(e) &&
                                        json_integer_value(e) >= 0 &&
                                        json_integer_value(e) <= a->max;
      if (ok)
        return out ? out : json_incref((json_t *)v);
    }
    json_decref(out);
    want = "an exit code or an array of exit codes (0-255)";
    break;
  case T_SIG: {
    if (v == NULL)
      return json_string(a->sdef);
    int s = json_is_string(v) ? signame_parse(json_string_value(v))
            : json_is_integer(v) && json_integer_value(v) > 0 &&
                    json_integer_value(v) < 32
                ? (int)json_integer_value(v)
                : -1;
    if (s > 0 && muster_signal_name(s))
      return json_string(muster_signal_name(s));
    want = "a signal name such as \"SIGINT\"";
    break;
  }
  }
  snprintf(err, errlen, "\"%s\": expected %s", a->name, want);
  return NULL;
}

/* PM2's default name: the script's base name without its extension. */
static json_t *default_name(const char *script) {
  const char *base = strrchr(script, '/');
  base = base ? base + 1 : script;
  const char *dot = strrchr(base, '.');
  size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
  return json_stringn(base, len);
}

int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen) {
  *out = NULL;
  *warnings = NULL;
  if (!json_is_object(in)) {
    snprintf(err, errlen, "an app must be an object");
    return MUSTER_EINVAL;
  }
  json_t *spec = json_object(), *warn = json_array();
  for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
    json_t *v =
        convert(&attrs[i], json_object_get(in, attrs[i].name), err, errlen);
    if (v == NULL) {
      json_decref(spec);
      json_decref(warn);
      return MUSTER_EINVAL;
    }
    json_object_set_new(spec, attrs[i].name, v);
  }
  if (json_string_length(json_object_get(spec, "name")) == 0)
    json_object_set_new(
        spec, "name",
        default_name(json_string_value(json_object_get(spec, "script"))));
  if (json_integer_value(json_object_get(spec, "instances")) == 0)
    json_object_set_new(spec, "instances", json_integer(1));
  const char *name = json_string_value(json_object_get(spec, "name"));
  if (strchr(name, '/') || strcmp(name, "all") == 0 ||
      strspn(name, "0123456789") == strlen(name)) {
    snprintf(err, errlen,
             "\"name\": \"%s\" cannot be used: a name is not \"all\", a "
             "number, or a path",
             name);
    json_decref(spec);
    json_decref(warn);
    return MUSTER_EINVAL;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)in, k, v) {
    if (known(k))
      continue;
    char w[256];
    snprintf(w, sizeof w, "attribute \"%s\" is not supported yet: ignored", k);
    json_array_append_new(warn, json_string(w));
  }
  *out = spec;
  *warnings = warn;
  return 0;
}
