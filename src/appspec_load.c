/* Ecosystem files: read, parse (JSON, YAML, or a PM2 .js file through
 * node), find the apps, normalize each, apply --only. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appspec_internal.h"
#include "muster/child.h"
#include "muster/error.h"

#define MAX_FILE (16u << 20)

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && strcmp(s + n - t, tail) == 0;
}

static muster_appspec_format_t format_of(const char *file) {
  if (file != NULL && (ends_with(file, ".yaml") || ends_with(file, ".yml")))
    return MUSTER_APPSPEC_YAML;
  return MUSTER_APPSPEC_JSON;
}

static int parse_json(const char *text, size_t len,
                      const muster__appspec_ctx_t *ctx, json_t *pos,
                      json_t **doc) {
  json_error_t e;
  /* Two "name" keys in one app is a mistake PM2 hides; here it is an
   * error with its position. */
  *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
  if (*doc == NULL) {
    muster__appspec_fail(ctx, MUSTER_EINVAL, NULL, "%s", e.text);
    if (ctx->err != NULL && e.line > 0) {
      muster_appspec_error_t *err = ctx->err;
      err->line = e.line;
      err->column = e.column;
      snprintf(err->text, sizeof err->text, "%s:%d:%d: %s", err->file, e.line,
               e.column, e.text);
    }
    return MUSTER_EINVAL;
  }
  int r = muster__appspec_json_positions(text, len, pos);
  if (r != 0)
    json_decref(*doc);
  return r;
}

/* PM2's three shapes: {"apps": [...]}, [...], or one app object. */
static int apps_of(json_t *doc, const muster__appspec_ctx_t *ctx, json_t **apps,
                   const char **prefix) {
  json_t *a = json_is_object(doc) ? json_object_get(doc, "apps") : NULL;
  *prefix = "";
  if (a != NULL) {
    *prefix = "apps";
    if (json_is_object(a)) { /* PM2 takes "apps": {one app} too */
      *apps = json_pack("[O]", a);
      return *apps ? 0 : MUSTER_ENOMEM;
    }
    if (!json_is_array(a))
      return muster__appspec_fail(ctx, MUSTER_EINVAL, "apps",
                                  "expected an array of apps");
    *apps = json_incref(a);
    return 0;
  }
  if (json_is_array(doc)) {
    *apps = json_incref(doc);
    return 0;
  }
  if (json_is_object(doc) && json_object_get(doc, "script") != NULL) {
    *apps = json_pack("[O]", doc);
    return *apps ? 0 : MUSTER_ENOMEM;
  }
  return muster__appspec_fail(ctx, MUSTER_EINVAL, NULL,
                              "expected an object with an \"apps\" array, "
                              "an array of apps, or one app");
}

/* Whether `name` is one of the comma-separated `only`. */
static int listed(const char *only, const char *name) {
  size_t n = strlen(name);
  for (const char *p = only; *p != '\0';) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p += len + (comma != NULL);
  }
  return 0;
}

static int select_only(const char *only, json_t *apps,
                       const muster__appspec_ctx_t *file_ctx) {
  muster__appspec_ctx_t ctx_copy = *file_ctx, *ctx = &ctx_copy;
  ctx_copy.pos = NULL; /* about the command line, not a place in the file */
  /* every listed name must exist: a typo must not start nothing quietly */
  for (const char *p = only; *p != '\0';) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    size_t i;
    json_t *app;
    int found = len == 0;
    json_array_foreach(apps, i, app) {
      const char *name = json_string_value(json_object_get(app, "name"));
      if (strlen(name) == len && strncmp(name, p, len) == 0)
        found = 1;
    }
    if (!found)
      return muster__appspec_fail(ctx, MUSTER_ESRCH, NULL,
                                  "--only: no app named \"%.*s\" here",
                                  (int)(len > 128 ? 128 : len), p);
    p += len + (comma != NULL);
  }
  for (size_t i = json_array_size(apps); i-- > 0;) {
    json_t *app = json_array_get(apps, i);
    if (!listed(only, json_string_value(json_object_get(app, "name"))))
      json_array_remove(apps, i);
  }
  return 0;
}

static int normalize_all(json_t *list, const char *prefix,
                         const muster_appspec_options_t *opts,
                         const muster__appspec_ctx_t *file_ctx, json_t **out) {
  json_t *apps = json_array();
  size_t i;
  json_t *spec;
  if (apps == NULL)
    return MUSTER_ENOMEM;
  json_array_foreach(list, i, spec) {
    char path[64];
    muster__appspec_ctx_t ctx = *file_ctx;
    json_t *app;
    muster__appspec_path_index(path, sizeof path, prefix, i);
    ctx.prefix = path;
    int r = muster__appspec_normalize(spec, opts, &ctx, &app);
    if (r != 0) {
      json_decref(apps);
      return r;
    }
    const char *name = json_string_value(json_object_get(app, "name"));
    size_t j;
    json_t *prev;
    json_array_foreach(apps, j, prev) {
      if (strcmp(json_string_value(json_object_get(prev, "name")), name) == 0) {
        muster__appspec_fail(&ctx, MUSTER_EINVAL, "name",
                             "two apps are named \"%s\" (the other is "
                             "%s[%zu])",
                             name, prefix, j);
        json_decref(app);
        json_decref(apps);
        return MUSTER_EINVAL;
      }
    }
    json_array_append_new(apps, app);
  }
  *out = apps;
  return 0;
}

int muster_appspec_parse(const char *text, size_t len, const char *file,
                         muster_appspec_format_t format,
                         const muster_appspec_options_t *opts, json_t **apps,
                         json_t *warnings, muster_appspec_error_t *err) {
  json_t *pos = json_object(), *doc = NULL, *list = NULL, *result = NULL;
  muster__appspec_ctx_t ctx = {file ? file : "", "", pos, warnings, err};
  const char *prefix;
  static const muster_appspec_options_t none;
  int r;
  if (opts == NULL)
    opts = &none;
  if ((text == NULL && len > 0) || apps == NULL) {
    json_decref(pos);
    return muster__appspec_fail(&ctx, MUSTER_EINVAL, NULL,
                                "no text or no place for the result");
  }
  if (pos == NULL)
    return MUSTER_ENOMEM;
  if (len > MAX_FILE) {
    json_decref(pos);
    return muster__appspec_fail(&ctx, MUSTER_E2BIG, NULL,
                                "over %u MiB: not an ecosystem file",
                                MAX_FILE >> 20);
  }
  if (format == MUSTER_APPSPEC_AUTO)
    format = format_of(file);
  if (format == MUSTER_APPSPEC_YAML)
    r = muster__appspec_yaml(text ? text : "", len, &ctx, pos, &doc);
  else
    r = parse_json(text ? text : "", len, &ctx, pos, &doc);
  if (r == 0)
    r = apps_of(doc, &ctx, &list, &prefix);
  if (r == 0)
    r = normalize_all(list, prefix, opts, &ctx, &result);
  if (r == 0 && opts->only != NULL)
    r = select_only(opts->only, result, &ctx);
  if (r == 0)
    *apps = json_incref(result);
  json_decref(result);
  json_decref(list);
  json_decref(doc);
  json_decref(pos);
  return r;
}

static int read_all(const char *path, char **buf, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (uint64_t)st.st_size > MAX_FILE) {
    int r = !S_ISREG(st.st_mode) ? MUSTER_EINVAL : MUSTER_E2BIG;
    close(fd);
    return r;
  }
  *buf = malloc((size_t)st.st_size + 1);
  size_t n = 0;
  while (*buf != NULL && n < (size_t)st.st_size) {
    ssize_t got = read(fd, *buf + n, (size_t)st.st_size - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    n += (size_t)got;
  }
  close(fd);
  if (*buf == NULL)
    return MUSTER_ENOMEM;
  *len = n;
  return 0;
}

/* A PM2 ecosystem.config.js exports its object (module.exports = {...});
 * only node can evaluate it. The file runs with its own directory as cwd,
 * as under PM2, and prints JSON we parse like any JSON file (without
 * positions worth showing: they would point into node's output). */
static int run_node(const char *path, const muster_appspec_options_t *opts,
                    const muster__appspec_ctx_t *ctx, char **out, size_t *len) {
  static const char prog[] =
      "const p=require('path').resolve(process.argv[1]);"
      "let m=require(p);if(m&&m.default)m=m.default;"
      "process.stdout.write(JSON.stringify(m===undefined?null:m));";
  const char *node = opts->node ? opts->node : "node";
  const char *argv[] = {node, "-e", prog, path, NULL};
  muster_exec_options_t eo = {0};
  muster_exec_result_t res;
  eo.max_buffer = MAX_FILE;
  eo.spawn.timeout_ms = 30000;
  int r = muster_exec_file_sync(node, argv, &eo, &res);
  if (r == MUSTER_ENOENT || r == MUSTER_EACCES) {
    muster_exec_result_free(&res);
    return muster__appspec_fail(ctx, MUSTER_ENOSYS, NULL,
                                "reading a .js ecosystem file needs node "
                                "(%s: %s); install node or convert the file "
                                "to JSON or YAML",
                                node, muster_err_name(r));
  }
  if (r == 0 && (res.exit_status != 0 || res.term_signal != 0))
    r = MUSTER_EINVAL;
  if (r != 0) {
    /* node's first line says what is wrong with the file */
    const char *msg = res.stderr_buf ? res.stderr_buf : "";
    int n = (int)strcspn(msg, "\n");
    muster__appspec_fail(ctx, r, NULL, "node could not evaluate it: %.*s",
                         n > 200 ? 200 : n, msg);
    muster_exec_result_free(&res);
    return r;
  }
  *out = res.stdout_buf;
  *len = res.stdout_len;
  res.stdout_buf = NULL;
  muster_exec_result_free(&res);
  return 0;
}

int muster_appspec_load(const char *path, const muster_appspec_options_t *opts,
                        json_t **apps, json_t *warnings,
                        muster_appspec_error_t *err) {
  muster__appspec_ctx_t ctx = {path ? path : "", "", NULL, warnings, err};
  static const muster_appspec_options_t none;
  if (path == NULL || apps == NULL)
    return muster__appspec_fail(&ctx, MUSTER_EINVAL, NULL,
                                "no file or no place for the result");
  if (opts == NULL)
    opts = &none;
  /* Relative paths in the file are relative to the file's directory. */
  char dir[PATH_MAX];
  muster_appspec_options_t o = *opts;
  if (o.base_dir == NULL) {
    if (realpath(path, dir) == NULL) {
      int e = -errno;
      return muster__appspec_fail(&ctx, e, NULL, "%s", muster_strerror(e));
    }
    char *slash = strrchr(dir, '/');
    slash[slash == dir] = '\0'; /* "/srv/a.json" → "/srv"; "/a.json" → "/" */
    o.base_dir = dir;
  }
  char *text = NULL;
  size_t len = 0;
  int r;
  int js = ends_with(path, ".js") || ends_with(path, ".cjs");
  if (js)
    r = run_node(path, &o, &ctx, &text, &len);
  else if ((r = read_all(path, &text, &len)) != 0)
    muster__appspec_fail(&ctx, r, NULL, "%s", muster_strerror(r));
  if (r == 0)
    r = muster_appspec_parse(text, len, path,
                             js ? MUSTER_APPSPEC_JSON : MUSTER_APPSPEC_AUTO, &o,
                             apps, warnings, err);
  free(text);
  return r;
}
