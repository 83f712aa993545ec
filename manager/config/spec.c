#include "spec.h"

#include <muster.h>

#include <stdio.h>
#include <string.h>

int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen) {
  *out = NULL;
  *warnings = json_array();
  if (*warnings == NULL)
    return MUSTER_ENOMEM;
  /* A spec from the CLI or a dump is canonical already, with an absolute
   * cwd; a relative one from another client resolves against "/", never
   * against the daemon's own working directory. */
  muster_appspec_options_t o = {.base_dir = "/"};
  muster_appspec_error_t e;
  json_t *spec;
  int r = muster_appspec_normalize(in, &o, &spec, *warnings, &e);
  if (r < 0) {
    snprintf(err, errlen, "%s", e.text);
    json_decref(*warnings);
    *warnings = NULL;
    return r;
  }
  const char *name = json_string_value(json_object_get(spec, "name"));
  if (strcmp(name, "all") == 0 || strspn(name, "0123456789") == strlen(name)) {
    snprintf(err, errlen,
             "name: \"%s\" cannot be used: it would read as \"all\" or an "
             "id in commands",
             name);
    json_decref(spec);
    json_decref(*warnings);
    *warnings = NULL;
    return MUSTER_EINVAL;
  }
  const char *mode = json_string_value(json_object_get(spec, "exec_mode"));
  if (mode && strcmp(mode, "cluster") == 0)
    json_array_append_new(*warnings,
                          json_string("exec_mode: \"cluster\" is not "
                                      "supported yet: the app runs in fork "
                                      "mode"));
  *out = spec;
  return 0;
}
