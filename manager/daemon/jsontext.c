/* JSON text into a buffer. See jsontext.h. */
#include "jsontext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *room(jsontext_t *t, size_t n) {
  if (t->failed)
    return NULL;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (t->len + n + 1 > cap)
      cap *= 2;
    char *grown = realloc(t->data, cap);
    if (grown == NULL) {
      t->failed = 1;
      return NULL;
    }
    t->data = grown;
    t->cap = cap;
  }
  return t->data + t->len;
}

static void put(jsontext_t *t, const char *s, size_t n) {
  char *p = room(t, n);
  if (p == NULL)
    return;
  memcpy(p, s, n);
  t->len += n;
  t->data[t->len] = '\0';
}

void jsontext_raw(jsontext_t *t, const char *s) { put(t, s, strlen(s)); }

/* The length of the UTF-8 sequence at s (1-4), or 0 when it is not one
 * (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return n;
}

/* s escaped for a JSON string's body; with `tsv`, a backslash, a tab and
 * a newline of s first become two characters each, a backslash and
 * then a backslash, a 't' or an 'n' (jsontext_field). */
static void put_escaped(jsontext_t *t, const char *str, int tsv) {
  const unsigned char *s = (const unsigned char *)str;
  while (*s) {
    size_t plain = 0;
    while (s[plain] >= 0x20 && s[plain] < 0x80 && s[plain] != '"' &&
           s[plain] != '\\')
      plain++;
    put(t, (const char *)s, plain);
    s += plain;
    if (*s == '\0')
      break;
    char esc[8];
    if (tsv && (*s == '\\' || *s == '\t' || *s == '\n')) {
      /* The field's backslash, then the letter, each as JSON. */
      put(t, "\\\\", 2);
      if (*s == '\\')
        put(t, "\\\\", 2);
      else
        put(t, *s == '\t' ? "t" : "n", 1);
      s++;
    } else if (*s == '"' || *s == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*s;
      put(t, esc, 2);
      s++;
    } else if (*s < 0x20) {
      static const char short_form[] = "btn\0fr"; /* \b \t \n, \f \r */
      if (*s >= 8 && *s <= 13 && *s != 11) {
        esc[0] = '\\';
        esc[1] = short_form[*s - 8];
        put(t, esc, 2);
      } else {
        snprintf(esc, sizeof esc, "\\u%04X", *s);
        put(t, esc, 6);
      }
      s++;
    } else {
      size_t n = utf8_len(s);
      if (n == 0) {
        put(t, "\xEF\xBF\xBD", 3); /* U+FFFD */
        s++;
      } else {
        put(t, (const char *)s, n);
        s += n;
      }
    }
  }
}

void jsontext_str(jsontext_t *t, const char *s) {
  put(t, "\"", 1);
  put_escaped(t, s, 0);
  put(t, "\"", 1);
}

void jsontext_field(jsontext_t *t, const char *s) { put_escaped(t, s, 1); }

void jsontext_int(jsontext_t *t, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", v);
  put(t, buf, (size_t)n);
}

void jsontext_real1(jsontext_t *t, double v) {
  char buf[64];
  /* A finite value, '.' whatever the locale (the daemon sets none). */
  if (!(v > -1e15 && v < 1e15))
    v = 0;
  int n = snprintf(buf, sizeof buf, "%.1f", v);
  put(t, buf, (size_t)n);
}

void jsontext_free(jsontext_t *t) {
  free(t->data);
  *t = (jsontext_t){0};
}
