/* YAML ecosystem files: libyaml's events → the same jansson values a JSON
 * file gives, with the position of every value recorded for diagnostics.
 * Scalars follow the YAML 1.2 core schema (what PM2's js-yaml reads):
 * plain true/false, null/~/empty, integers and floats; anything quoted is
 * a string. Anchors, aliases and merge keys ("<<: *defaults") work, as
 * ecosystem files use them to share settings between apps. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "appspec_internal.h"
#include "muster/error.h"

#define MAX_DEPTH 64
#define MAX_POS_DEPTH 5
#define MAX_POSITIONS 65536

typedef struct {
  json_t *value;  /* the object or array being filled */
  json_t *key;    /* a mapping's pending key (a string), or NULL */
  json_t *merges; /* values of "<<" keys, applied at the mapping's end */
  char path[256];
  size_t index;
} frame_t;

typedef struct {
  yaml_parser_t parser;
  const muster__appspec_ctx_t *ctx;
  json_t *pos;
  json_t *anchors; /* anchor name → value */
  frame_t stack[MAX_DEPTH];
  int depth;
  size_t positions;
  json_t *root;
} conv_t;

static int fail_at(conv_t *c, yaml_mark_t mark, const char *path,
                   const char *fmt, const char *arg) {
  muster__appspec_ctx_t ctx = *c->ctx;
  ctx.pos = NULL;
  ctx.prefix = "";
  muster__appspec_fail(&ctx, MUSTER_EINVAL, path, fmt, arg);
  muster_appspec_error_t *e = c->ctx->err;
  if (e != NULL) {
    char msg[sizeof e->message];
    e->line = (int)mark.line + 1;
    e->column = (int)mark.column + 1;
    snprintf(msg, sizeof msg, "%s", e->message);
    muster__appspec_path_key(e->attribute, sizeof e->attribute, "", path);
    snprintf(e->text, sizeof e->text, "%s:%d:%d: %s%s%s", e->file, e->line,
             e->column, path && *path ? path : "", path && *path ? ": " : "",
             msg);
  }
  return MUSTER_EINVAL;
}

static int matches(const char *pattern, const char *s) {
  regex_t re;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
    return 0;
  int ok = regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

static json_t *scalar(const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
      (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0) || strlen(s) != len)
    return json_stringn(s, len);
  if (len == 0 || strcmp(s, "~") == 0 || matches("^(null|Null|NULL)$", s))
    return json_null();
  if (matches("^(true|True|TRUE)$", s))
    return json_true();
  if (matches("^(false|False|FALSE)$", s))
    return json_false();
  if (matches("^[-+]?[0-9]+$", s) && len < 16)
    return json_integer(strtoll(s, NULL, 10));
  if (matches("^0x[0-9a-fA-F]+$", s) && len < 15)
    return json_integer(strtoll(s + 2, NULL, 16));
  if (matches("^0o[0-7]+$", s) && len < 18)
    return json_integer(strtoll(s + 2, NULL, 8));
  if (matches("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", s)) {
    double d = strtod(s, NULL);
    if (isfinite(d))
      return json_real(d);
  }
  return json_stringn(s, len);
}

/* Puts a finished value where the frame on top expects it (or makes it the
 * root), recording its position. */
static int place(conv_t *c, json_t *v, yaml_mark_t mark, const char *path) {
  if (v == NULL)
    return MUSTER_ENOMEM;
  if (c->depth == 0) {
    c->root = v;
    return 0;
  }
  frame_t *f = &c->stack[c->depth - 1];
  if (json_is_array(f->value)) {
    f->index++;
    return json_array_append_new(f->value, v) ? MUSTER_ENOMEM : 0;
  }
  if (f->key == NULL) { /* v is a key */
    if (!json_is_string(v)) {
      if (json_is_object(v) || json_is_array(v)) {
        json_decref(v);
        return fail_at(c, mark, f->path, "%s",
                       "a mapping key must be a plain value");
      }
      /* "8080: x" or "true: x": keys are names, so take their text */
      char buf[64];
      if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
      else
        snprintf(buf, sizeof buf, "%s",
                 json_is_true(v)    ? "true"
                 : json_is_false(v) ? "false"
                                    : "");
      json_decref(v);
      v = json_string(buf);
    }
    f->key = v;
    return 0;
  }
  const char *key = json_string_value(f->key);
  int r = 0;
  if (strcmp(key, "<<") == 0) {
    r = json_array_append_new(f->merges, v) ? MUSTER_ENOMEM : 0;
  } else if (json_object_get(f->value, key) != NULL) {
    json_decref(v);
    r = fail_at(c, mark, path, "duplicate key \"%s\"", key);
  } else {
    r = json_object_set_new(f->value, key, v) ? MUSTER_ENOMEM : 0;
  }
  json_decref(f->key);
  f->key = NULL;
  return r;
}

/* The path the next value will have. */
static void next_path(conv_t *c, char *out, size_t size) {
  if (c->depth == 0) {
    out[0] = '\0';
    return;
  }
  frame_t *f = &c->stack[c->depth - 1];
  if (json_is_array(f->value))
    muster__appspec_path_index(out, size, f->path, f->index);
  else
    muster__appspec_path_key(out, size, f->path,
                             f->key ? json_string_value(f->key) : "");
}

static int note(conv_t *c, const char *path, yaml_mark_t mark) {
  frame_t *f = c->depth ? &c->stack[c->depth - 1] : NULL;
  if (f != NULL && json_is_object(f->value) && f->key == NULL)
    return 0; /* a key, not a value */
  if (c->depth > MAX_POS_DEPTH || c->positions >= MAX_POSITIONS)
    return 0;
  c->positions++;
  return muster__appspec_pos_set(c->pos, path, (int)mark.line + 1,
                                 (int)mark.column + 1);
}

static int anchor(conv_t *c, const yaml_char_t *name, json_t *v) {
  if (name == NULL)
    return 0;
  return json_object_set(c->anchors, (const char *)name, v) ? MUSTER_ENOMEM : 0;
}

static int open_frame(conv_t *c, json_t *v, const char *path, yaml_mark_t mark,
                      const yaml_char_t *anchor_name) {
  if (v == NULL)
    return MUSTER_ENOMEM;
  if (c->depth == MAX_DEPTH) {
    json_decref(v);
    return fail_at(c, mark, path, "%s", "nested too deep");
  }
  frame_t *f = &c->stack[c->depth++];
  memset(f, 0, sizeof *f);
  f->value = v;
  f->merges = json_array();
  snprintf(f->path, sizeof f->path, "%s", path);
  /* Anchored before it is complete: an alias inside it (a cycle) is
   * refused as unknown, below. Registered at the end instead. */
  (void)anchor_name;
  return f->merges ? 0 : MUSTER_ENOMEM;
}

static int merge_into(conv_t *c, json_t *obj, json_t *src, yaml_mark_t mark,
                      const char *path) {
  if (json_is_array(src)) {
    size_t i;
    json_t *e;
    json_array_foreach(src, i, e) {
      int r = merge_into(c, obj, e, mark, path);
      if (r != 0)
        return r;
    }
    return 0;
  }
  if (!json_is_object(src))
    return fail_at(c, mark, path, "%s", "\"<<\" must merge a mapping");
  const char *k;
  json_t *v;
  json_object_foreach(src, k, v) {
    if (json_object_get(obj, k) == NULL && json_object_set(obj, k, v) != 0)
      return MUSTER_ENOMEM;
  }
  return 0;
}

static int close_frame(conv_t *c, yaml_mark_t mark,
                       const yaml_char_t *anchor_name) {
  frame_t f = c->stack[--c->depth];
  json_t *merges = f.merges;
  int r = 0;
  if (json_array_size(merges) > 0)
    r = merge_into(c, f.value, merges, mark, f.path);
  json_decref(merges);
  json_decref(f.key);
  if (r == 0)
    r = anchor(c, anchor_name, f.value);
  if (r != 0) {
    json_decref(f.value);
    return r;
  }
  return place(c, f.value, mark, f.path);
}

static int event(conv_t *c, yaml_event_t *ev, yaml_char_t **anchors) {
  char path[256];
  next_path(c, path, sizeof path);
  switch (ev->type) {
  case YAML_SCALAR_EVENT: {
    int r = note(c, path, ev->start_mark);
    json_t *v = r == 0 ? scalar(ev) : NULL;
    if (r == 0 &&
        (r = anchor(c, ev->data.scalar.anchor ? ev->data.scalar.anchor : NULL,
                    v)) == 0)
      return place(c, v, ev->start_mark, path);
    json_decref(v);
    return r ? r : MUSTER_ENOMEM;
  }
  case YAML_ALIAS_EVENT: {
    const char *name = (const char *)ev->data.alias.anchor;
    json_t *v = json_object_get(c->anchors, name);
    if (v == NULL)
      return fail_at(c, ev->start_mark, path, "unknown alias \"*%s\"", name);
    int r = note(c, path, ev->start_mark);
    return r ? r : place(c, json_incref(v), ev->start_mark, path);
  }
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    int seq = ev->type == YAML_SEQUENCE_START_EVENT;
    int r = note(c, path, ev->start_mark);
    if (r == 0)
      r = open_frame(c, seq ? json_array() : json_object(), path,
                     ev->start_mark, NULL);
    /* The anchor name is kept until the matching end event. */
    yaml_char_t *a =
        seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    if (r == 0 && a != NULL) {
      anchors[c->depth - 1] = (yaml_char_t *)strdup((const char *)a);
      if (anchors[c->depth - 1] == NULL)
        return MUSTER_ENOMEM;
    }
    return r;
  }
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT: {
    yaml_char_t *a = anchors[c->depth - 1];
    anchors[c->depth - 1] = NULL;
    int r = close_frame(c, ev->start_mark, a);
    free(a);
    return r;
  }
  case YAML_DOCUMENT_START_EVENT:
    if (c->root != NULL)
      return fail_at(c, ev->start_mark, "", "%s",
                     "only one YAML document is allowed");
    return 0;
  default:
    return 0;
  }
}

int muster__appspec_yaml(const char *text, size_t len,
                         const muster__appspec_ctx_t *ctx, json_t *pos,
                         json_t **out) {
  conv_t *c = calloc(1, sizeof *c);
  yaml_char_t *anchors[MAX_DEPTH] = {0};
  int r = 0, done = 0;
  if (c == NULL || !yaml_parser_initialize(&c->parser)) {
    free(c);
    return MUSTER_ENOMEM;
  }
  c->ctx = ctx;
  c->pos = pos;
  c->anchors = json_object();
  yaml_parser_set_input_string(&c->parser, (const unsigned char *)text, len);
  while (r == 0 && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&c->parser, &ev)) {
      r = fail_at(c, c->parser.problem_mark, "", "%s",
                  c->parser.problem ? c->parser.problem : "YAML error");
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    r = event(c, &ev, anchors);
    yaml_event_delete(&ev);
  }
  while (c->depth > 0) { /* after an error: unwind what was open */
    frame_t *f = &c->stack[--c->depth];
    json_decref(f->value);
    json_decref(f->key);
    json_decref(f->merges);
    free(anchors[c->depth]);
  }
  if (r == 0 && c->root == NULL)
    c->root = json_null();
  if (r == 0)
    *out = c->root;
  else
    json_decref(c->root);
  json_decref(c->anchors);
  yaml_parser_delete(&c->parser);
  free(c);
  return r;
}
