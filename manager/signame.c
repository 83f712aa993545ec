#include "signame.h"

#include <muster.h>

#include <stdlib.h>
#include <strings.h>

int signame_parse(const char *s) {
  if (s == NULL || *s == '\0')
    return -1;
  char *end;
  long n = strtol(s, &end, 10);
  if (*end == '\0')
    return n >= 1 && n <= 31 && muster_signal_name((int)n) ? (int)n : -1;
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (int i = 1; i <= 31; i++) {
    const char *name = muster_signal_name(i);
    if (name && strcasecmp(name + 3, s) == 0)
      return i;
  }
  return -1;
}
