/* The scheduling policy: from the environment, and its name. */
#include "muster/cluster.h"

#include <stdlib.h>
#include <string.h>

muster_sched_t muster_cluster_sched_from_env(void) {
  const char *s = getenv("MUSTER_SCHED_POLICY");
  if (s != NULL) {
    if (strcmp(s, "rr") == 0)
      return MUSTER_SCHED_RR;
    if (strcmp(s, "shared") == 0 || strcmp(s, "none") == 0)
      return MUSTER_SCHED_SHARED;
    if (strcmp(s, "reuseport") == 0)
      return MUSTER_SCHED_REUSEPORT;
    if (strcmp(s, "leastconn") == 0)
      return MUSTER_SCHED_LEAST_CONN;
  }
  s = getenv("NODE_CLUSTER_SCHED_POLICY");
  if (s != NULL) {
    if (strcmp(s, "rr") == 0)
      return MUSTER_SCHED_RR;
    if (strcmp(s, "none") == 0)
      return MUSTER_SCHED_SHARED;
  }
  return MUSTER_SCHED_RR;
}

const char *muster_sched_name(muster_sched_t policy) {
  switch (policy) {
  case MUSTER_SCHED_DEFAULT:
    return "default";
  case MUSTER_SCHED_RR:
    return "rr";
  case MUSTER_SCHED_SHARED:
    return "shared";
  case MUSTER_SCHED_REUSEPORT:
    return "reuseport";
  case MUSTER_SCHED_LEAST_CONN:
    return "leastconn";
  }
  return "unknown";
}
