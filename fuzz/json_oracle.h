/* What the JSON codecs are checked against, shared by the fuzz targets and
 * the tests (header only: both build it in).
 *
 * json_oracle(): the value jansson builds under the channel's rule (see
 * muster_message_json): json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL), and
 * when that fails the same with JSON_DECODE_INT_AS_REAL. A new reference,
 * or NULL.
 *
 * json_identical(): json_equal, and also member order and reals bit for
 * bit (so -0.0 differs from 0.0). */
#ifndef MUSTER_FUZZ_JSON_ORACLE_H
#define MUSTER_FUZZ_JSON_ORACLE_H

#include <jansson.h>
#include <string.h>

static inline json_t *json_oracle(const char *s, size_t len) {
  size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
  json_t *j = json_loadb(s, len, flags, NULL);
  if (j == NULL)
    j = json_loadb(s, len, flags | JSON_DECODE_INT_AS_REAL, NULL);
  return j;
}

static inline int json_identical(const json_t *a, const json_t *b) {
  if (json_typeof(a) != json_typeof(b) || !json_equal(a, b))
    return 0;
  if (json_is_real(a)) {
    double x = json_real_value(a), y = json_real_value(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  for (size_t i = 0; i < json_array_size(a); i++)
    if (!json_identical(json_array_get(a, i), json_array_get(b, i)))
      return 0;
  void *i = json_object_iter((json_t *)a), *k = json_object_iter((json_t *)b);
  for (; i != NULL && k != NULL; i = json_object_iter_next((json_t *)a, i),
                                 k = json_object_iter_next((json_t *)b, k)) {
    size_t n = json_object_iter_key_len(i);
    if (n != json_object_iter_key_len(k) ||
        memcmp(json_object_iter_key(i), json_object_iter_key(k), n) != 0 ||
        !json_identical(json_object_iter_value(i), json_object_iter_value(k)))
      return 0;
  }
  return i == NULL && k == NULL;
}

#endif
