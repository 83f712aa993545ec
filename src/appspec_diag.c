/* Diagnostics of app specs: one place writes "file:line:col: path: message"
 * for errors and warnings alike. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "appspec_internal.h"
#include "muster/error.h"

void muster__appspec_path_index(char *out, size_t size, const char *base,
                                size_t index) {
  snprintf(out, size, "%s[%zu]", base, index);
}

void muster__appspec_path_key(char *out, size_t size, const char *base,
                              const char *key) {
  if (key == NULL || *key == '\0')
    snprintf(out, size, "%s", base ? base : "");
  else if (base == NULL || *base == '\0')
    snprintf(out, size, "%s", key);
  else if (key[0] == '[')
    snprintf(out, size, "%s%s", base, key);
  else
    snprintf(out, size, "%s.%s", base, key);
}

int muster__appspec_pos_set(json_t *pos, const char *path, int line,
                            int column) {
  json_t *v = json_pack("[ii]", line, column);
  if (v == NULL || json_object_set_new(pos, path, v) != 0)
    return MUSTER_ENOMEM;
  return 0;
}

/* The position of `path` or of its nearest ancestor that has one. */
static void locate(const json_t *pos, const char *path, int *line, int *col) {
  char buf[512];
  *line = *col = 0;
  if (pos == NULL)
    return;
  snprintf(buf, sizeof buf, "%s", path);
  for (;;) {
    json_t *v = json_object_get(pos, buf);
    if (v != NULL) {
      *line = (int)json_integer_value(json_array_get(v, 0));
      *col = (int)json_integer_value(json_array_get(v, 1));
      return;
    }
    char *dot = strrchr(buf, '.');
    char *br = strrchr(buf, '[');
    char *cut = dot > br ? dot : br;
    if (cut == NULL) {
      if (buf[0] == '\0')
        return;
      buf[0] = '\0';
    } else {
      *cut = '\0';
    }
  }
}

/* "file:line:col: path: message", leaving out what is unknown. */
static void compose(char *out, size_t size, const char *file, int line, int col,
                    const char *path, const char *msg) {
  size_t n = 0;
  if (file != NULL && *file != '\0') {
    if (line > 0)
      n = (size_t)snprintf(out, size, "%s:%d:%d: ", file, line, col);
    else
      n = (size_t)snprintf(out, size, "%s: ", file);
  }
  if (n >= size)
    return;
  if (path != NULL && *path != '\0')
    snprintf(out + n, size - n, "%s: %s", path, msg);
  else
    snprintf(out + n, size - n, "%s", msg);
}

int muster__appspec_fail(const muster__appspec_ctx_t *ctx, int code,
                         const char *attr, const char *fmt, ...) {
  muster_appspec_error_t *e = ctx->err;
  if (e == NULL)
    return code;
  memset(e, 0, sizeof *e);
  e->code = code;
  snprintf(e->file, sizeof e->file, "%s", ctx->file ? ctx->file : "");
  muster__appspec_path_key(e->attribute, sizeof e->attribute, ctx->prefix,
                           attr);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  locate(ctx->pos, e->attribute, &e->line, &e->column);
  compose(e->text, sizeof e->text, e->file, e->line, e->column, e->attribute,
          e->message);
  return code;
}

void muster__appspec_warn(const muster__appspec_ctx_t *ctx, const char *attr,
                          const char *fmt, ...) {
  if (ctx->warnings == NULL)
    return;
  char path[256], msg[256], text[768];
  int line, col;
  muster__appspec_path_key(path, sizeof path, ctx->prefix, attr);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  locate(ctx->pos, path, &line, &col);
  compose(text, sizeof text, ctx->file, line, col, path, msg);
  json_t *line_str = json_string(text);
  if (line_str == NULL) { /* snprintf cut a UTF-8 sequence in two */
    for (char *c = text; *c != '\0'; c++)
      if ((unsigned char)*c >= 0x80)
        *c = '?';
    line_str = json_string(text);
  }
  json_array_append_new(ctx->warnings, line_str);
}
