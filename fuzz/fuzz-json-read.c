/* Fuzz target for the channel's JSON decoder (src/json_read.c), with
 * jansson's json_loadb under the channel's rule as the oracle
 * (JSON_DECODE_ANY | JSON_ALLOW_NUL, then with JSON_DECODE_INT_AS_REAL when
 * that fails), on the texts muster__json_check accepts (the only ones the
 * channel parses):
 *   - where jansson accepts the input, json_read gives an equal value, with
 *     the same member order and the same bits in every real;
 *   - where jansson refuses it, json_read returns NULL: EBADMSG for a key
 *     holding U+0000 or a scalar inside 2048 containers (jansson's depth
 *     counts scalars), ERANGE for a number beyond a double.
 * What json_check refuses, json_read refuses with EBADMSG.
 * The input is also tried inside a string and as an object key, so raw
 * bytes reach the string decoder with its escapes and UTF-8 checks. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "json_oracle.h"
#include "json_read.h"
#include "muster/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, size_t len) {
  int err = 1;
  json_t *mine = muster__json_read(s, len, &err);
  json_t *theirs = json_oracle(s, len);
  int valid = muster__json_check(s, len) != MUSTER__JSON_INVALID;
  if (!valid) {
    /* Never more than json_check takes. jansson takes more in one case:
     * a NUL byte just after a number or literal vanishes ("[1\0]"), as
     * its stream reader mistakes the pushed-back NUL for an empty
     * buffer. The channel never parses such a line. */
    if (mine != NULL || (err != MUSTER_EBADMSG && err != MUSTER_ENOMEM))
      abort();
    if (theirs != NULL && memchr(s, '\0', len) == NULL)
      abort();
  } else if (theirs != NULL) {
    if (mine == NULL || err != 0 || !json_identical(mine, theirs))
      abort();
  } else if (mine != NULL) {
    abort();
  } else if (err == MUSTER_EBADMSG) {
    /* A NUL key (the text holds the escape that makes one) or a scalar
     * 2048 containers deep (at least 4097 bytes). */
    if (memmem(s, len, "\\u0000", 6) == NULL && len <= 4096)
      abort();
  } else if (err != MUSTER_ERANGE && err != MUSTER_ENOMEM) {
    abort();
  }
  json_decref(mine);
  json_decref(theirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  check(s, size);
  if (size > 65536)
    return 0;
  /* As a string body, and as a key. */
  char *t = malloc(size + 8);
  if (t == NULL)
    return 0;
  t[0] = '"';
  memcpy(t + 1, s, size);
  t[size + 1] = '"';
  check(t, size + 2);
  t[0] = '{';
  t[1] = '"';
  memcpy(t + 2, s, size);
  memcpy(t + size + 2, "\":0}", 4);
  check(t, size + 6);
  free(t);
  return 0;
}
