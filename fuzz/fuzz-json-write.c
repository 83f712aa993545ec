/* Fuzz target for the channel's JSON encoder (src/json_write.c), with
 * jansson's json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) as the oracle:
 *   - the input parsed as JSON must encode to the same bytes, fit a limit
 *     of exactly its length, fail one byte short with EMSGSIZE leaving the
 *     buffer's length alone, and append after what the buffer holds;
 *   - the input taken as raw string bytes (json_stringn_nocheck) must
 *     encode to jansson's text when jansson takes it, and fail with EINVAL
 *     when jansson refuses it (bytes that are not UTF-8). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "muster/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* jansson 2.14 writes reals with "%.17g", later ones built with dtoa the
 * shortest way; the encoder writes 2.14's text. With a newer jansson, reals
 * are compared by value. */
static int jansson_g17(void) {
  static int known = -1;
  if (known < 0) {
    json_t *r = json_real(0.1);
    char *s = json_dumps(r, JSON_ENCODE_ANY);
    known = s != NULL && strcmp(s, "0.10000000000000001") == 0;
    free(s);
    json_decref(r);
  }
  return known;
}

static int has_real(const json_t *v) {
  if (json_is_real(v))
    return 1;
  for (size_t i = 0; i < json_array_size(v); i++)
    if (has_real(json_array_get(v, i)))
      return 1;
  for (void *it = json_object_iter((json_t *)v); it != NULL;
       it = json_object_iter_next((json_t *)v, it))
    if (has_real(json_object_iter_value(it)))
      return 1;
  return 0;
}

static void check(const json_t *v) {
  char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  struct muster__buf b = {NULL, 0, 0};
  int err = muster__json_write(v, &b, SIZE_MAX);
  if (theirs == NULL) {
    /* jansson fails only on strings that are not UTF-8. */
    if (err != MUSTER_EINVAL || b.len != 0)
      abort();
    free(b.data);
    return;
  }
  if (err != 0)
    abort();
  size_t n = strlen(theirs);
  if (jansson_g17() || !has_real(v)) {
    if (b.len != n || memcmp(b.data, theirs, n) != 0)
      abort();
  } else {
    json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    if (back == NULL || !json_equal(back, v))
      abort();
    json_decref(back);
    n = b.len;
  }
  free(theirs);

  /* The limit: exactly the length fits, one byte less does not and leaves
   * the length as it was. Appended after the first copy. */
  if (muster__json_write(v, &b, n) != 0 || b.len != 2 * n ||
      memcmp(b.data, b.data + n, n) != 0)
    abort();
  if (n > 0 &&
      (muster__json_write(v, &b, n - 1) != MUSTER_EMSGSIZE || b.len != 2 * n))
    abort();
  free(b.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
  json_error_t e;
  json_t *j = json_loadb(s, size, flags, &e);
  if (j == NULL && strstr(e.text, "too big") != NULL)
    j = json_loadb(s, size, flags | JSON_DECODE_INT_AS_REAL, NULL);
  if (j != NULL) {
    check(j);
    json_decref(j);
  }
  json_t *str = json_stringn_nocheck(s, size);
  if (str != NULL) {
    check(str);
    json_decref(str);
  }
  return 0;
}
