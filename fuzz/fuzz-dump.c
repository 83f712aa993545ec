/* Fuzz target for dump.json as `resurrect` reads it: the text parsed as
 * dump.c parses the file, its apps taken by manager/daemon/dump_record.c,
 * then each app checked by manager/config/spec.c as the daemon checks any
 * spec before it starts it. Any bytes give apps or a sentence saying why
 * not; each app gives a canonical spec (a fixed point of the check) or a
 * sentence; the apps read encode to a dump that reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../manager/daemon/dump_record.h"
#include "spec_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512] = "";
  json_error_t je;
  json_t *doc =
      json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
  const json_t *apps = dump_record_apps(doc, "dump.json", err, sizeof err);
  if (apps == NULL) {
    if (strncmp(err, "dump.json: ", 11) != 0)
      abort();
    json_decref(doc);
    return 0;
  }
  size_t i, len;
  json_t *app;
  json_array_foreach(apps, i, app) spec_check(app);
  char *text = dump_record_encode(apps, 1, &len);
  json_t *back =
      text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &je) : NULL;
  if (back == NULL || text[len - 1] != '\n' ||
      !json_equal(dump_record_apps(back, "x", err, sizeof err), apps))
    abort();
  json_decref(back);
  free(text);
  json_decref(doc);
  return 0;
}
