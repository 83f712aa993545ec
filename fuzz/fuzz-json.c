/* Fuzz target for the channel's JSON line check (src/json_check.c), with
 * jansson as the oracle: a line the check accepts must parse (except where
 * jansson cannot represent valid JSON), a line it refuses must not, and its
 * "is this a Node internal message" answer must agree with the parse. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid JSON that jansson refuses, by its error text. */
static int jansson_limit(const json_error_t *e) {
  return strstr(e->text, "real number overflow") != NULL ||
         strstr(e->text, "NUL byte in object key") != NULL;
}

static int is_internal(const json_t *j) {
  json_t *cmd = json_object_get(j, "cmd");
  return json_is_string(cmd) && json_string_length(cmd) > 5 &&
         strncmp(json_string_value(cmd), "NODE_", 5) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  int r = muster__json_check(s, size);
  json_error_t e;
  size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
  json_t *j = json_loadb(s, size, flags, &e);
  if (j == NULL && strstr(e.text, "too big") != NULL)
    j = json_loadb(s, size, flags | JSON_DECODE_INT_AS_REAL, &e);
  if (r == MUSTER__JSON_INVALID) {
    /* jansson takes a NUL byte outside a string for the end of its input
     * ("1\0" parses); JSON.parse and the check refuse it. */
    if (j != NULL && memchr(s, '\0', size) == NULL)
      abort(); /* the check refused what jansson parses */
    json_decref(j);
    return 0;
  }
  if (j == NULL) {
    if (!jansson_limit(&e))
      abort(); /* the check accepted what is not JSON */
    return 0;
  }
  int internal = is_internal(j);
  if (r == MUSTER__JSON_INTERNAL && !internal)
    abort();
  if (r == MUSTER__JSON_USER && internal)
    abort();
  json_decref(j);
  return 0;
}
