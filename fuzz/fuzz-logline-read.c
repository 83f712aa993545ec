/* Fuzz target for a log line read back from a file by `logs`
 * (manager/daemon/logline.c): an app writes what it likes, and a line
 * that looks like the JSON layout is taken apart. Any bytes give a line
 * with a string message, an integer time when one is given, and that
 * encodes as JSON; the bytes of a line that is not a JSON-layout line are
 * its message when they are UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../manager/daemon/logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  json_t *file = json_pack("{s:s, s:i, s:i, s:s}", "app", "a", "pm_id", 0,
                           "instance", 0, "stream", "out");
  json_t *line = logline_history(file, p, size);
  json_t *m = json_object_get(line, "message");
  json_t *t = json_object_get(line, "time");
  if (!json_is_object(line) || !json_is_string(m) ||
      (t != NULL && !json_is_integer(t)) ||
      !json_is_integer(json_object_get(line, "instance")) ||
      !json_is_string(json_object_get(line, "stream")))
    abort();
  char *enc = json_dumps(line, JSON_COMPACT);
  if (enc == NULL)
    abort();
  free(enc);
  json_t *s = logline_text(p, size);
  json_t *exact = json_stringn(p, size);
  if (!json_is_string(s) || (exact != NULL && !json_equal(s, exact)))
    abort();
  if (exact != NULL && (size == 0 || p[0] != '{') && !json_equal(m, exact))
    abort();
  json_decref(exact);
  json_decref(s);
  json_decref(line);
  json_decref(file);
  return 0;
}
