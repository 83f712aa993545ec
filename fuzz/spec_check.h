/* The check of one app spec as the daemon makes it before a start
 * (manager/config/spec.c), shared by the fuzz targets whose input carries
 * specs (fuzz-dump: dump.json; fuzz-command: a start request). Header
 * only. spec_check(): any object gives a canonical spec (a fixed point of
 * the check) and an array of warnings, or an error with a sentence and
 * nothing else; anything else aborts. */
#ifndef MUSTER_FUZZ_SPEC_CHECK_H
#define MUSTER_FUZZ_SPEC_CHECK_H

#include <jansson.h>
#include <stdlib.h>

#include "../manager/config/spec.h"

int LLVMFuzzerInitialize(int *argc, char **argv[]);

/* A uid or gid by name is asked of `getent` on PATH (manager/userdb.c):
 * a fuzzer must not start a process per input, so none is found, and such
 * an app takes the path of a user database that cannot answer. The
 * targets that include this header get this initializer (fuzz/replay.c
 * calls it too). */
int LLVMFuzzerInitialize(int *argc, char **argv[]) {
  (void)argc;
  (void)argv;
  setenv("PATH", "/nonexistent/muster-fuzz", 1);
  return 0;
}

static inline void spec_check(const json_t *app) {
  char err[1024] = "";
  json_t *spec, *warnings, *again, *w2;
  int r = spec_normalize(app, &spec, &warnings, err, sizeof err);
  if (r < 0) {
    if (spec != NULL || warnings != NULL || err[0] == '\0')
      abort();
    return;
  }
  if (spec == NULL || !json_is_array(warnings))
    abort();
  if (spec_normalize(spec, &again, &w2, err, sizeof err) != 0 ||
      !json_equal(spec, again))
    abort();
  json_decref(again);
  json_decref(w2);
  json_decref(spec);
  json_decref(warnings);
}

#endif
