/* dump.json's codec (dump_record.h). */
#include "dump_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dump_record_encode(const json_t *apps, int64_t saved_at, size_t *len) {
  json_t *doc =
      json_pack("{s:i, s:I, s:O}", "muster_dump", DUMP_SCHEMA, "saved_at",
                (json_int_t)saved_at, "apps", (json_t *)apps);
  char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
  json_decref(doc);
  if (text == NULL)
    return NULL;
  size_t n = strlen(text);
  char *withnl = realloc(text, n + 2);
  if (withnl == NULL) {
    free(text);
    return NULL;
  }
  withnl[n++] = '\n';
  withnl[n] = '\0';
  *len = n;
  return withnl;
}

json_t *dump_record_apps(const json_t *doc, const char *file, char *err,
                         size_t errlen) {
  json_t *v = json_object_get(doc, "muster_dump");
  json_t *apps = json_object_get(doc, "apps");
  if (!json_is_integer(v) || json_integer_value(v) != DUMP_SCHEMA ||
      !json_is_array(apps)) {
    snprintf(err, errlen, "%s: not a muster dump of schema %d", file,
             DUMP_SCHEMA);
    return NULL;
  }
  return apps;
}
