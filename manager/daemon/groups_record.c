/* groups.json's codec (groups_record.h). */
#include "groups_record.h"

#include <muster.h>

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

char *groups_record_encode(const groups_entry_t *v, size_t n,
                           const char *boot_id) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++)
    if (json_array_append_new(
            list, json_pack("{s:i, s:I, s:i, s:I}", "pgid", v[i].pgid, "start",
                            (json_int_t)v[i].start, "signal", v[i].signo,
                            "kill_timeout", (json_int_t)v[i].kill_timeout_ms)) <
        0) {
      json_decref(list);
      return NULL;
    }
  json_t *doc = json_pack("{s:i, s:s, s:o}", "muster_groups", GROUPS_SCHEMA,
                          "boot_id", boot_id, "groups", list);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  return text;
}

/* One entry, or 0 when it does not name a group exactly. */
static int entry(const json_t *e, groups_entry_t *g) {
  json_t *p = json_object_get(e, "pgid"), *s = json_object_get(e, "start");
  json_t *sig = json_object_get(e, "signal");
  json_t *kt = json_object_get(e, "kill_timeout");
  if (!json_is_integer(p) || !json_is_integer(s) ||
      json_integer_value(p) <= 1 || json_integer_value(p) > INT32_MAX ||
      json_integer_value(s) < 0)
    return 0; /* never signal a group we cannot name exactly */
  *g = (groups_entry_t){
      .pgid = (int)json_integer_value(p),
      .start = (unsigned long long)json_integer_value(s),
      .signo = SIGTERM,
      .kill_timeout_ms = 1600,
  };
  if (json_is_integer(sig) && json_integer_value(sig) > 0 &&
      json_integer_value(sig) < 32)
    g->signo = (int)json_integer_value(sig);
  if (json_is_integer(kt) && json_integer_value(kt) >= 0 &&
      json_integer_value(kt) <= GROUPS_MAX_RECORD_TIMEOUT_MS)
    g->kill_timeout_ms = (uint64_t)json_integer_value(kt);
  return 1;
}

int groups_record_decode(const json_t *doc, const char *boot_id,
                         groups_entry_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  json_t *v = json_object_get(doc, "muster_groups");
  const char *b = json_string_value(json_object_get(doc, "boot_id"));
  json_t *list = json_object_get(doc, "groups");
  size_t size = json_array_size(list);
  if (!json_is_integer(v) || json_integer_value(v) != GROUPS_SCHEMA ||
      b == NULL || boot_id == NULL || strcmp(b, boot_id) != 0 || size == 0)
    return 0;
  groups_entry_t *g = malloc(size * sizeof *g);
  if (g == NULL)
    return MUSTER_ENOMEM;
  size_t i, k = 0;
  json_t *e;
  json_array_foreach(list, i, e) k += entry(e, &g[k]);
  if (k == 0) {
    free(g);
    return 0;
  }
  *out = g;
  *n = k;
  return 0;
}
