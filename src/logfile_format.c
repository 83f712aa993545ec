/* Line layouts: the timestamp prefix and JSON lines. Runs on the loop for
 * every line, so the time text is cached for as long as it stays the same
 * (a second, or a millisecond with %L) and JSON escaping works on spans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logfile_internal.h"
#include "muster/error.h"

/* PM2's date formats are moment.js tokens ("YYYY-MM-DD HH:mm:ss Z"); a
 * format with no '%' in it is read that way. */
static char *from_moment(const char *m) {
  static const struct {
    const char *token, *strf;
  } map[] = {{"YYYY", "%Y"}, {"YY", "%y"}, {"MM", "%m"}, {"DD", "%d"},
             {"HH", "%H"},   {"hh", "%I"}, {"mm", "%M"}, {"ss", "%S"},
             {"SSS", "%L"},  {"ZZ", "%z"}, {"Z", "%z"},  {"A", "%p"},
             {"ddd", "%a"},  {"MMM", "%b"}};
  size_t cap = strlen(m) * 2 + 1;
  char *out = malloc(cap), *o = out;
  if (out == NULL)
    return NULL;
  while (*m != '\0') {
    size_t best = 0, pick = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
      size_t n = strlen(map[i].token);
      if (n > best && strncmp(m, map[i].token, n) == 0) {
        best = n;
        pick = i;
      }
    }
    if (best > 0) {
      memcpy(o, map[pick].strf, 2);
      o += 2;
      m += best;
    } else {
      *o++ = *m++;
    }
  }
  *o = '\0';
  return out;
}

int muster__logtime_init(muster__logtime_t *t, const char *format) {
  memset(t, 0, sizeof *t);
  t->key = -1;
  if (format == NULL || *format == '\0')
    format = "%Y-%m-%dT%H:%M:%S";
  t->fmt = strchr(format, '%') ? strdup(format) : from_moment(format);
  if (t->fmt == NULL)
    return MUSTER_ENOMEM;
  t->has_ms = strstr(t->fmt, "%L") != NULL;
  return 0;
}

void muster__logtime_free(muster__logtime_t *t) {
  free(t->fmt);
  t->fmt = NULL;
}

const char *muster__logtime_text(muster__logtime_t *t, int64_t ms,
                                 size_t *len) {
  int64_t key = t->has_ms ? ms : ms / 1000;
  if (key != t->key) {
    char fmt[256];
    const char *f = t->fmt;
    if (t->has_ms) { /* %L is ours: put the digits in before strftime */
      char *o = fmt;
      for (; *f != '\0' && o < fmt + sizeof fmt - 4; f++) {
        if (f[0] == '%' && f[1] == 'L') {
          o += snprintf(o, 4, "%03d", (int)(ms % 1000));
          f++;
        } else {
          *o++ = *f;
        }
      }
      *o = '\0';
      f = fmt;
    }
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&sec, &tm);
    t->len = strftime(t->text, sizeof t->text, f, &tm);
    t->key = key;
  }
  *len = t->len;
  return t->text;
}

int muster_logfile_format_time(const char *format, int64_t ms, char *buf,
                               size_t size) {
  muster__logtime_t t;
  size_t len;
  if (buf == NULL || size == 0)
    return MUSTER_EINVAL;
  if (muster__logtime_init(&t, format) != 0)
    return MUSTER_ENOMEM;
  const char *text = muster__logtime_text(&t, ms, &len);
  int r = len == 0 || len >= size ? MUSTER_ENOBUFS : (int)len;
  if (r > 0)
    memcpy(buf, text, len + 1);
  muster__logtime_free(&t);
  return r;
}

/* {"time":"2026-12-02T04:50:12.123Z","app":,"instance":,"stream":"out",
 *  "message":""}\n: the fixed part, a number, and escaped strings that
 * grow at most sixfold (a control byte becomes \u00XX; a bad UTF-8 byte
 * becomes U+FFFD, three bytes). */
size_t muster__logjson_bound(size_t app_len, size_t len) {
  return 128 + 6 * (app_len + len);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, min = 0x10000;
  else
    return 0;
  if ((size_t)(end - p) < n)
    return 0;
  unsigned cp = c & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but
 * '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
    R16(0), R16(0), 1, 1, 0, 1, 1, 1, 1,
    1,      1,      1, 1, 1, 1, 1, 1, 1, /* '"' at 0x22 */
    R16(1), R16(1), 1, 1, 1, 1, 1, 1, 1,
    1,      1,      1, 1, 1, 0, 1, 1, 1, /* '\\' at 0x5c */
    R16(1), R16(1),
#undef R16
};

static char *escape(char *o, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  *o++ = '"';
  while (p < end) {
    /* copy the plain run at once */
    const unsigned char *run = p;
    while (p < end && plain[*p])
      p++;
    memcpy(o, run, (size_t)(p - run));
    o += p - run;
    if (p == end)
      break;
    unsigned c = *p;
    if (c >= 0x80) {
      size_t n = utf8_len(p, end);
      if (n == 0) {
        memcpy(o, "\xef\xbf\xbd", 3);
        o += 3;
        p++;
      } else {
        memcpy(o, p, n);
        o += n;
        p += n;
      }
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"':
    case '\\':
      *o++ = (char)c;
      break;
    case '\n':
      *o++ = 'n';
      break;
    case '\r':
      *o++ = 'r';
      break;
    case '\t':
      *o++ = 't';
      break;
    default:
      memcpy(o, "u00", 3);
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    }
    p++;
  }
  *o++ = '"';
  return o;
}

size_t muster__logjson_write(muster__logjson_t *j, char *out,
                             const muster_logline_t *l) {
  /* The time and the app/instance/stream part repeat from line to line:
   * both are formatted once and copied after. */
  if (l->time_ms != j->key) {
    time_t sec = (time_t)(l->time_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    j->tlen = (size_t)snprintf(
        j->time, sizeof j->time,
        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"app\":",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, (int)(l->time_ms % 1000));
    j->key = l->time_ms;
  }
  if (l->app != j->app || l->instance != j->instance ||
      l->stream != j->stream) {
    size_t n = strlen(l->app);
    char *mid = realloc(j->mid, 6 * n + 80);
    if (mid != NULL) {
      char *o = escape(mid, l->app, n);
      o += sprintf(o, ",\"instance\":%d,\"stream\":\"%s\",\"message\":",
                   l->instance, l->stream == MUSTER_LOG_ERR ? "err" : "out");
      j->mid = mid;
      j->midlen = (size_t)(o - mid);
      j->app = l->app;
      j->instance = l->instance;
      j->stream = l->stream;
    }
  }
  char *o = out;
  memcpy(o, j->time, j->tlen);
  o += j->tlen;
  memcpy(o, j->mid, j->midlen);
  o += j->midlen;
  o = escape(o, l->line, l->len);
  memcpy(o, "}\n", 2);
  return (size_t)(o + 2 - out);
}

void muster__logjson_free(muster__logjson_t *j) {
  free(j->mid);
  memset(j, 0, sizeof *j);
  j->key = -1;
}
