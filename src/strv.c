/* String vectors: see strv.h. */
#include "strv.h"

#include "muster/error.h"

#include <stdlib.h>
#include <string.h>

void muster__strv_free(char **v) {
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

size_t muster__strv_len(const char *const *v) {
  size_t n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  return n;
}

char **muster__strv_copy(const char *const *v, int *err) {
  *err = 0;
  if (v == NULL)
    return NULL;
  size_t n = muster__strv_len(v);
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL) {
    *err = MUSTER_ENOMEM;
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if ((out[i] = strdup(v[i])) == NULL) {
      muster__strv_free(out);
      *err = MUSTER_ENOMEM;
      return NULL;
    }
  return out;
}
