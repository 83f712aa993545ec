/* The unit rules of app specs: sizes, durations, signal names and argument
 * strings (muster_appspec_parse_*). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "muster/appspec.h"
#include "muster/error.h"
#include "muster/process.h"

#define MAX_EXACT ((uint64_t)1 << 53) /* what a JSON number holds exactly */

/* Reads "<digits>[.<digits>]<unit>" with leading and trailing blanks. A
 * fraction is allowed ("1.5G", "0.5s"), as PM2's parsers allow it; the unit
 * is looked up in `units` (NULL-terminated names with their multipliers);
 * an empty unit uses units' first entry when its name is "". */
typedef struct {
  const char *name;
  uint64_t mult;
} unit_t;

static int parse_unit(const char *s, const unit_t *units, uint64_t *out) {
  if (s == NULL || out == NULL)
    return MUSTER_EINVAL;
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s))
    return MUSTER_EINVAL;
  uint64_t whole = 0;
  while (isdigit((unsigned char)*s)) {
    if (whole > MAX_EXACT)
      return MUSTER_ERANGE;
    whole = whole * 10 + (uint64_t)(*s++ - '0');
  }
  double frac = 0, scale = 1;
  if (*s == '.') {
    s++;
    if (!isdigit((unsigned char)*s))
      return MUSTER_EINVAL;
    while (isdigit((unsigned char)*s)) {
      if (scale < 1e15) {
        scale *= 10;
        frac += (*s - '0') / scale;
      }
      s++;
    }
  }
  while (*s == ' ')
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  for (const unit_t *u = units; u->name != NULL; u++) {
    if (strlen(u->name) != n || strncasecmp(s, u->name, n) != 0)
      continue;
    if (whole > MAX_EXACT / u->mult)
      return MUSTER_ERANGE;
    uint64_t v = whole * u->mult + (uint64_t)(frac * (double)u->mult);
    if (v > MAX_EXACT)
      return MUSTER_ERANGE;
    *out = v;
    return 0;
  }
  return MUSTER_EINVAL;
}

int muster_appspec_parse_size(const char *s, uint64_t *bytes) {
  static const unit_t units[] = {
      {"", 1},           {"b", 1},           {"k", 1024},    {"kb", 1024},
      {"m", 1 << 20},    {"mb", 1 << 20},    {"g", 1 << 30}, {"gb", 1 << 30},
      {"t", 1ull << 40}, {"tb", 1ull << 40}, {NULL, 0}};
  return parse_unit(s, units, bytes);
}

int muster_appspec_parse_duration(const char *s, uint64_t *ms) {
  static const unit_t units[] = {
      {"", 1},        {"ms", 1},       {"s", 1000},
      {"sec", 1000},  {"m", 60000},    {"min", 60000},
      {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
  return parse_unit(s, units, ms);
}

int muster_appspec_parse_signal(const char *s) {
  if (s == NULL || *s == '\0')
    return MUSTER_EINVAL;
  if (isdigit((unsigned char)*s)) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || muster_signal_name((int)n) == NULL || n > 31)
      return MUSTER_EINVAL;
    return (int)n;
  }
  const char *bare = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (int i = 1; i <= 31; i++) {
    const char *name = muster_signal_name(i);
    if (name != NULL && strcasecmp(name + 3, bare) == 0)
      return i;
  }
  return MUSTER_EINVAL;
}

/* A growing word; the words of a command line are short, so one buffer
 * reused per word is enough. */
typedef struct {
  char *p;
  size_t len, cap;
} word_t;

static int word_put(word_t *w, char c) {
  if (w->len + 1 >= w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    char *p = realloc(w->p, cap);
    if (p == NULL)
      return MUSTER_ENOMEM;
    w->p = p;
    w->cap = cap;
  }
  w->p[w->len++] = c;
  w->p[w->len] = '\0';
  return 0;
}

static int word_end(word_t *w, json_t *arr) {
  json_t *str = json_stringn(w->p != NULL ? w->p : "", w->len);
  if (str == NULL || json_array_append_new(arr, str) != 0)
    return MUSTER_ENOMEM;
  w->len = 0;
  return 0;
}

int muster_appspec_parse_args(const char *s, json_t **words) {
  if (s == NULL || words == NULL)
    return MUSTER_EINVAL;
  json_t *arr = json_array();
  word_t w = {0};
  int r = arr ? 0 : MUSTER_ENOMEM;
  int in_word = 0;
  char quote = 0;
  for (const char *c = s; r == 0 && *c != '\0'; c++) {
    if (quote == '\'') {
      if (*c == '\'')
        quote = 0;
      else
        r = word_put(&w, *c);
    } else if (quote == '"') {
      if (*c == '"')
        quote = 0;
      else if (*c == '\\' && strchr("\"\\$`", c[1]) != NULL && c[1] != '\0')
        r = word_put(&w, *++c);
      else
        r = word_put(&w, *c);
    } else if (*c == ' ' || *c == '\t' || *c == '\n') {
      if (in_word)
        r = word_end(&w, arr);
      in_word = 0;
    } else {
      in_word = 1;
      if (*c == '\'' || *c == '"')
        quote = *c;
      else if (*c == '\\' && c[1] != '\0')
        r = word_put(&w, *++c);
      else
        r = word_put(&w, *c);
    }
  }
  if (r == 0 && quote != 0)
    r = MUSTER_EINVAL;
  if (r == 0 && in_word)
    r = word_end(&w, arr);
  free(w.p);
  if (r != 0) {
    json_decref(arr);
    return r;
  }
  *words = arr;
  return 0;
}
