/* Fuzz target for ecosystem files (src/appspec*.c): every input is read as
 * JSON and as YAML. A parse must either succeed with apps that are each a
 * fixed point of normalization, or fail with a filled-in error; never
 * crash, leak or run away in memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "muster/appspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *text, size_t size,
                  muster_appspec_format_t format) {
  muster_appspec_options_t o = {
      .base_dir = "/srv", .cpus = 2, .env_name = "production"};
  muster_appspec_error_t err;
  json_t *apps = NULL, *warnings = json_array();
  int r = muster_appspec_parse(text, size, "fuzz", format, &o, &apps, warnings,
                               &err);
  if (r != 0) {
    if (apps != NULL || err.code != r || err.text[0] == '\0')
      abort();
  } else {
    size_t i;
    json_t *app;
    json_array_foreach(apps, i, app) {
      json_t *again = NULL;
      if (muster_appspec_normalize(app, &o, &again, NULL, NULL) != 0 ||
          !json_equal(app, again))
        abort();
      json_decref(again);
    }
    json_decref(apps);
  }
  json_decref(warnings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check((const char *)data, size, MUSTER_APPSPEC_JSON);
  check((const char *)data, size, MUSTER_APPSPEC_YAML);
  return 0;
}
