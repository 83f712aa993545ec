/* A log line as `logs` sends it (logline.h): the text made a JSON string,
 * a line read back from a file taken apart. */
#include "logline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  size_t len = p[0] < 0x80   ? 1
               : p[0] < 0xc2 ? 0
               : p[0] < 0xe0 ? 2
               : p[0] < 0xf0 ? 3
               : p[0] < 0xf5 ? 4
                             : 0;
  if (len == 0 || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
      (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
    return 0; /* overlong, surrogate, past U+10FFFF */
  return len;
}

json_t *logline_text(const char *p, size_t n) {
  json_t *s = json_stringn(p, n);
  if (s != NULL)
    return s;
  char *buf = malloc(n * 3 + 1);
  size_t o = 0;
  if (buf == NULL)
    return NULL;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_len((const unsigned char *)p + i, n - i);
    if (k == 0) {
      memcpy(buf + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    } else {
      memcpy(buf + o, p + i, k);
      o += k;
      i += k;
    }
  }
  s = json_stringn(buf, o);
  free(buf);
  return s;
}

/* Milliseconds of "2026-12-02T04:50:12.123Z" (the JSON layout), or -1.
 * The line may come from anywhere: each field is read with a width and
 * checked, so no number overflows on its way to timegm() (a year of
 * -2147483648 made `tm_year - 1900` overflow). */
static int64_t iso_ms(const char *s) {
  struct tm tm = {0};
  int ms = 0, end = 0;
  if (s == NULL ||
      sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms,
             &end) != 7 ||
      s[end] != '\0' || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
      tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
      tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60 ||
      ms < 0)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm) * 1000 + ms;
}

json_t *logline_history(const json_t *file, const char *p, size_t n) {
  json_t *o =
      json_pack("{s:O, s:O, s:O, s:O}", "app", json_object_get(file, "app"),
                "pm_id", json_object_get(file, "pm_id"), "instance",
                json_object_get(file, "instance"), "stream",
                json_object_get(file, "stream"));
  json_t *j = n > 0 && p[0] == '{' ? json_loadb(p, n, 0, NULL) : NULL;
  json_t *m = json_object_get(j, "message");
  if (o != NULL && json_is_string(m)) {
    int64_t t = iso_ms(json_string_value(json_object_get(j, "time")));
    json_t *inst = json_object_get(j, "instance");
    json_t *s = json_object_get(j, "stream");
    json_object_set(o, "message", m);
    if (t >= 0)
      json_object_set_new(o, "time", json_integer(t));
    if (json_is_integer(inst))
      json_object_set(o, "instance", inst);
    if (json_is_string(s))
      json_object_set(o, "stream", s);
  } else if (o != NULL) {
    json_object_set_new(o, "message", logline_text(p, n));
  }
  json_decref(j);
  return o;
}
