/* The NODE_CLUSTER envelope, server keys, and the policy from the
 * environment: the parts of the cluster protocol both roles share. */
#include "cluster_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int muster__cluster_send(muster_channel_t *ch, unsigned *seq, json_t *body,
                         int handle_fd, int keep_open) {
  if (ch == NULL || !muster_channel_connected(ch))
    return MUSTER_ENOTCONN;
  /* Node writes cmd first and seq last (utils.js sendHelper); a Node peer
   * does not care about the order, but transcripts compare easily. */
  json_t *m = json_object();
  if (m == NULL)
    return MUSTER_ENOMEM;
  json_object_set_new(m, "cmd", json_string("NODE_CLUSTER"));
  const char *k;
  json_t *v;
  json_object_foreach(body, k, v) json_object_set(m, k, v);
  json_object_set_new(m, "seq", json_integer(*seq));
  muster_send_options_t so = {.keep_open = keep_open, .native = 1};
  int r = muster_channel_send(ch, m, handle_fd, handle_fd >= 0 ? &so : NULL,
                              NULL, NULL);
  json_decref(m);
  if (r < 0)
    return r;
  (*seq)++;
  return 0;
}

void muster__js_string(json_t *v, char *buf, size_t len) {
  if (v == NULL)
    snprintf(buf, len, "undefined");
  else if (json_is_null(v))
    snprintf(buf, len, "null");
  else if (json_is_string(v))
    snprintf(buf, len, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(buf, len, "%.17g", json_real_value(v));
  else if (json_is_true(v))
    snprintf(buf, len, "true");
  else if (json_is_false(v))
    snprintf(buf, len, "false");
  else
    snprintf(buf, len, "[object Object]");
}

char *muster__cluster_key(json_t *q) {
  static const char *const fields[] = {"address", "port", "addressType", "fd",
                                       "index"};
  size_t cap = 64;
  for (int i = 0; i < 5; i++) {
    json_t *v = json_object_get(q, fields[i]);
    if (json_is_string(v))
      cap += json_string_length(v);
    cap += 32;
  }
  char *key = malloc(cap);
  if (key == NULL)
    return NULL;
  size_t n = 0;
  for (int i = 0; i < 5; i++) {
    json_t *v = json_object_get(q, fields[i]);
    if (i > 0)
      key[n++] = ':';
    muster__js_string(v, key + n, cap - n);
    n += strlen(key + n);
  }
  return key;
}

int muster__json_int(json_t *obj, const char *name, long long min,
                     long long max, long long def, long long *out) {
  json_t *v = json_object_get(obj, name);
  *out = def;
  if (json_is_integer(v)) {
    long long n = (long long)json_integer_value(v);
    if (n < min || n > max)
      return MUSTER_EPROTO;
    *out = n;
  } else if (json_is_real(v)) {
    /* Checked before the cast: converting a double outside the range of
     * long long is undefined behaviour, and on x86 a worker's port 1e300
     * became a negative port, which reads as a Unix-socket listen. NaN
     * fails both comparisons. */
    double d = json_real_value(v);
    if (!(d >= (double)min && d <= (double)max))
      return MUSTER_EPROTO;
    long long n = (long long)d;
    if ((double)n != d)
      return MUSTER_EPROTO; /* 80.5 is no port */
    *out = n;
  }
  return 0;
}

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
