/* Positions of the values of a JSON text jansson has already accepted:
 * jansson keeps none, and an error in an ecosystem file must point at the
 * line and column of the value it is about. The text is known to be valid,
 * so this walker only tracks structure, never judges it. */
#include <string.h>

#include "appspec_internal.h"
#include "muster/error.h"

typedef struct {
  const char *p, *end;
  int line, col;
  json_t *pos;
  int depth;
  size_t count;
} walk_t;

/* Diagnostics point at most into apps[i].attr[j].key; deeper values and
 * huge arrays get no position of their own (their ancestor's serves), so
 * the map stays small whatever the document. */
#define MAX_DEPTH 5
#define MAX_POSITIONS 65536

static void step(walk_t *w) {
  if (w->p >= w->end)
    return;
  if (*w->p == '\n') {
    w->line++;
    w->col = 1;
  } else if (((unsigned char)*w->p & 0xc0) != 0x80) {
    w->col++; /* columns count characters, not UTF-8 continuation bytes */
  }
  w->p++;
}

static void blanks(walk_t *w) {
  while (w->p < w->end && strchr(" \t\r\n", *w->p) != NULL && *w->p != '\0')
    step(w);
}

/* Steps over a string, copying its raw bytes (escapes as written, enough
 * for a key lookup of plain keys) into key when given. */
static void string(walk_t *w, char *key, size_t size) {
  size_t n = 0;
  step(w); /* the opening quote */
  while (w->p < w->end && *w->p != '"') {
    if (*w->p == '\\')
      step(w);
    if (key != NULL && n + 1 < size && w->p < w->end)
      key[n++] = *w->p;
    step(w);
  }
  step(w);
  if (key != NULL)
    key[n] = '\0';
}

static int value(walk_t *w, const char *path);

static int container(walk_t *w, const char *path, char close) {
  size_t index = 0;
  step(w);
  blanks(w);
  while (w->p < w->end && *w->p != close) {
    char child[512], key[256];
    if (close == '}') {
      string(w, key, sizeof key);
      blanks(w);
      step(w); /* ':' */
      muster__appspec_path_key(child, sizeof child, path, key);
    } else {
      muster__appspec_path_index(child, sizeof child, path, index++);
    }
    int r = value(w, child);
    if (r != 0)
      return r;
    blanks(w);
    if (w->p < w->end && *w->p == ',') {
      step(w);
      blanks(w);
    }
  }
  step(w);
  return 0;
}

static int value(walk_t *w, const char *path) {
  blanks(w);
  if (w->p >= w->end)
    return 0;
  /* Deep documents are valid JSON but no ecosystem file: positions stop
   * being recorded below this depth instead of recursing without bound. */
  if (w->depth > 256) {
    w->p = w->end;
    return 0;
  }
  int r = 0;
  if (w->depth <= MAX_DEPTH && w->count < MAX_POSITIONS) {
    w->count++;
    r = muster__appspec_pos_set(w->pos, path, w->line, w->col);
    if (r != 0)
      return r;
  }
  w->depth++;
  if (*w->p == '{' || *w->p == '[')
    r = container(w, path, *w->p == '{' ? '}' : ']');
  else if (*w->p == '"')
    string(w, NULL, 0);
  else
    while (w->p < w->end && strchr(",]} \t\r\n", *w->p) == NULL)
      step(w);
  w->depth--;
  return r;
}

int muster__appspec_json_positions(const char *text, size_t len, json_t *pos) {
  walk_t w = {text, text + len, 1, 1, pos, 0, 0};
  return value(&w, "");
}
