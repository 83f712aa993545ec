/* Shared by src/appspec*.c: where a diagnostic points, and how it is
 * written. Not installed. */
#ifndef MUSTER_APPSPEC_INTERNAL_H
#define MUSTER_APPSPEC_INTERNAL_H

#include "muster/appspec.h"

/* Where the spec being checked came from. `pos` maps a document path
 * ("apps[1].env.PORT") to [line, column]; the loaders fill it, and a
 * diagnostic looks up its path there, then each shorter path, so an
 * attribute without a position of its own points at its app. */
typedef struct {
  const char *file;            /* "" for a spec built in memory */
  const char *prefix;          /* the spec's own document path: "apps[1]", "" */
  const json_t *pos;           /* may be NULL */
  json_t *warnings;            /* may be NULL */
  muster_appspec_error_t *err; /* may be NULL */
} muster__appspec_ctx_t;

/* Fills ctx->err (code, position, path prefix + attr, message from fmt)
 * and returns `code`. `attr` may be NULL or "". */
int muster__appspec_fail(const muster__appspec_ctx_t *ctx, int code,
                         const char *attr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends one warning line, in the error text's shape, to ctx->warnings. */
void muster__appspec_warn(const muster__appspec_ctx_t *ctx, const char *attr,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the position of the value at `path` in `pos`. */
int muster__appspec_pos_set(json_t *pos, const char *path, int line,
                            int column);

/* Joins a document path and one step: ("apps", 1) → "apps[1]",
 * ("apps[1]", "name") → "apps[1].name". Writes at most `size` bytes. */
void muster__appspec_path_index(char *out, size_t size, const char *base,
                                size_t index);
void muster__appspec_path_key(char *out, size_t size, const char *base,
                              const char *key);

/* Normalizes one spec with diagnostics through ctx (the public
 * muster_appspec_normalize is this with an empty ctx). */
int muster__appspec_normalize(const json_t *spec,
                              const muster_appspec_options_t *opts,
                              const muster__appspec_ctx_t *ctx, json_t **out);

/* Parse a YAML document into a jansson value, recording positions in
 * `pos`. On a syntax error fills ctx->err and returns MUSTER_EINVAL. */
int muster__appspec_yaml(const char *text, size_t len,
                         const muster__appspec_ctx_t *ctx, json_t *pos,
                         json_t **out);

/* Walk JSON text jansson has already accepted and record the position of
 * every value in `pos`. */
int muster__appspec_json_positions(const char *text, size_t len, json_t *pos);

#endif
