/* The NODE_CLUSTER codec: one struct, one encoder, one decoder
 * (cluster_proto.h). */
#include "cluster_proto.h"

#include "muster/error.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decode ---------------------------------------------------------------
 */

static const struct {
  const char *name;
  muster__cluster_act_t act;
} acts[] = {
    {"newconn", MUSTER__CLUSTER_NEWCONN},
    {"online", MUSTER__CLUSTER_ONLINE},
    {"queryServer", MUSTER__CLUSTER_QUERY_SERVER},
    {"listening", MUSTER__CLUSTER_LISTENING},
    {"disconnect", MUSTER__CLUSTER_DISCONNECT},
    {"exitedAfterDisconnect", MUSTER__CLUSTER_EXITED_AFTER_DISCONNECT},
    {"close", MUSTER__CLUSTER_CLOSE},
    {"muster:closed", MUSTER__CLUSTER_CLOSED},
    {"muster:ready", MUSTER__CLUSTER_READY},
    {"muster:leaving", MUSTER__CLUSTER_LEAVING},
};

static const char *act_name(muster__cluster_act_t act) {
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (acts[i].act == act)
      return acts[i].name;
  return NULL;
}

/* The number `name` of `obj` into *out: `def` when absent or not a number.
 * MUSTER_EPROTO when it lies outside [min, max] or is not whole; min and
 * max lie within +-2^53, where every long long is exactly a double. */
static int get_int(const json_t *obj, const char *name, long long min,
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
     * became a negative port, which read as a Unix-socket listen. NaN
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

static const char *get_str(const json_t *obj, const char *name) {
  return json_string_value(json_object_get(obj, name));
}

/* Each int field: its name, range, default, and where it goes. */
typedef struct {
  const char *name;
  long long min, max, def;
  size_t offset;
} int_field_t;

#define INT_FIELD(name, min, max, def, member)                                 \
  { name, min, max, def, offsetof(muster__cluster_msg_t, member) }

static const int_field_t query_ints[] = {
    INT_FIELD("port", -1, 65535, 0, port),
    INT_FIELD("addressType", INT_MIN, INT_MAX, 4, address_type),
    INT_FIELD("fd", INT_MIN, INT_MAX, -1, fd),
    INT_FIELD("flags", INT_MIN, INT_MAX, 0, flags),
    INT_FIELD("backlog", INT_MIN, INT_MAX, 0, backlog),
    INT_FIELD("index", INT_MIN, INT_MAX, 0, index),
};

static int decode_query(json_t *j, muster__cluster_msg_t *m) {
  int r = 0;
  for (size_t i = 0; i < sizeof query_ints / sizeof query_ints[0]; i++) {
    const int_field_t *f = &query_ints[i];
    long long v;
    if (get_int(j, f->name, f->min, f->max, f->def, &v) < 0)
      r = MUSTER_EPROTO;
    *(int *)((char *)m + f->offset) = (int)v;
  }
  m->address = get_str(j, "address");
  const char *t = get_str(j, "addressType");
  if (t != NULL) {
    m->udp = strcmp(t, "udp4") == 0 ? 4 : strcmp(t, "udp6") == 0 ? 6 : 0;
    m->address_type = 0;
  }
  if (json_object_get(j, "fd") != NULL)
    m->fields |= MUSTER__CLUSTER_F_FD;
  if (json_object_get(j, "backlog") != NULL)
    m->fields |= MUSTER__CLUSTER_F_BACKLOG;
  m->data = json_object_get(j, "data");
  return r;
}

static int decode_reply(json_t *j, muster__cluster_msg_t *m) {
  long long v;
  int r = 0;
  m->act = MUSTER__CLUSTER_REPLY;
  if (get_int(j, "ack", 0, UINT_MAX, -1, &m->ack) < 0)
    r = MUSTER_EPROTO;
  json_t *e = json_object_get(j, "errno");
  if (e != NULL) {
    m->fields |= MUSTER__CLUSTER_F_ERRNO;
    if (json_is_null(e))
      m->fields |= MUSTER__CLUSTER_F_ERRNO_NULL;
    if (get_int(j, "errno", INT_MIN, INT_MAX, 0, &v) < 0)
      r = MUSTER_EPROTO;
    m->err = (int)v;
  }
  if ((m->key = get_str(j, "key")) != NULL)
    m->fields |= MUSTER__CLUSTER_F_KEY;
  if ((m->data = json_object_get(j, "data")) != NULL)
    m->fields |= MUSTER__CLUSTER_F_DATA;
  json_t *acc = json_object_get(j, "accepted");
  if (acc != NULL) {
    m->fields |= MUSTER__CLUSTER_F_ACCEPTED;
    m->accepted = json_is_true(acc);
  }
  json_t *sn = json_object_get(j, "sockname");
  if (json_is_object(sn)) {
    m->fields |= MUSTER__CLUSTER_F_SOCKNAME;
    m->sock_address = get_str(sn, "address");
    const char *fam = get_str(sn, "family");
    m->sock_v6 = fam != NULL && strcmp(fam, "IPv6") == 0;
    if (get_int(sn, "port", 0, 65535, 0, &v) < 0)
      r = MUSTER_EPROTO;
    m->sock_port = (int)v;
  }
  return r;
}

int muster__cluster_decode(json_t *j, muster__cluster_msg_t *m) {
  memset(m, 0, sizeof *m);
  m->json = j;
  m->seq = -1;
  m->ack = -1;
  const char *cmd = get_str(j, "cmd");
  if (cmd == NULL || strcmp(cmd, "NODE_CLUSTER") != 0)
    return 1;
  int r = 0;
  if (get_int(j, "seq", 0, UINT_MAX, -1, &m->seq) < 0) {
    m->seq = -1;
    r = MUSTER_EPROTO;
  }
  if (json_object_get(j, "ack") != NULL) {
    int e = decode_reply(j, m);
    return r < 0 ? r : e;
  }
  const char *act = get_str(j, "act");
  for (size_t i = 0; act != NULL && i < sizeof acts / sizeof acts[0]; i++)
    if (strcmp(act, acts[i].name) == 0) {
      m->act = acts[i].act;
      break;
    }
  long long n;
  int e = 0;
  switch (m->act) {
  case MUSTER__CLUSTER_ONLINE:
    if (json_is_true(json_object_get(j, "muster")))
      m->fields |= MUSTER__CLUSTER_F_MUSTER;
    break;
  case MUSTER__CLUSTER_QUERY_SERVER:
  case MUSTER__CLUSTER_LISTENING:
    e = decode_query(j, m);
    break;
  case MUSTER__CLUSTER_CLOSED:
    e = get_int(j, "n", INT_MIN, UINT_MAX, 1, &n);
    m->n = n > 0 ? (unsigned)n : 0;
    m->key = get_str(j, "key");
    break;
  case MUSTER__CLUSTER_NEWCONN:
  case MUSTER__CLUSTER_CLOSE:
    m->key = get_str(j, "key");
    break;
  default:
    break;
  }
  return r < 0 ? r : e;
}

/* ---- encode ---------------------------------------------------------------
 */

/* Adds name: value (a new reference); a NULL value fails the whole
 * message: *ok becomes 0. */
static void put(json_t *o, const char *name, json_t *v, int *ok) {
  if (v == NULL || json_object_set_new(o, name, v) != 0)
    *ok = 0;
}

static json_t *str_or_null(const char *s) {
  return s != NULL ? json_string(s) : json_null();
}

static void encode_query(json_t *o, const muster__cluster_msg_t *m, int *ok) {
  put(o, "index", json_integer(m->index), ok);
  put(o, "data", m->data ? json_incref(m->data) : json_null(), ok);
  put(o, "address", str_or_null(m->address), ok);
  put(o, "port", json_integer(m->port), ok);
  if (m->udp)
    put(o, "addressType", json_string(m->udp == 6 ? "udp6" : "udp4"), ok);
  else
    put(o, "addressType", json_integer(m->address_type), ok);
  if (m->fields & MUSTER__CLUSTER_F_FD)
    put(o, "fd", json_integer(m->fd), ok);
  put(o, "flags", json_integer(m->flags), ok);
  if (m->fields & MUSTER__CLUSTER_F_BACKLOG)
    put(o, "backlog", json_integer(m->backlog), ok);
}

static void encode_reply(json_t *o, const muster__cluster_msg_t *m, int *ok) {
  if (m->fields & MUSTER__CLUSTER_F_ERRNO)
    put(o, "errno",
        m->fields & MUSTER__CLUSTER_F_ERRNO_NULL ? json_null()
                                                 : json_integer(m->err),
        ok);
  if (m->fields & MUSTER__CLUSTER_F_KEY)
    put(o, "key", str_or_null(m->key), ok);
  put(o, "ack", m->ack >= 0 ? json_integer(m->ack) : json_null(), ok);
  if (m->fields & MUSTER__CLUSTER_F_DATA)
    put(o, "data", m->data ? json_incref(m->data) : json_null(), ok);
  if (m->fields & MUSTER__CLUSTER_F_ACCEPTED)
    put(o, "accepted", json_boolean(m->accepted), ok);
  if (m->fields & MUSTER__CLUSTER_F_SOCKNAME) {
    json_t *sn = json_object();
    if (sn != NULL) {
      put(sn, "address", str_or_null(m->sock_address), ok);
      put(sn, "family", json_string(m->sock_v6 ? "IPv6" : "IPv4"), ok);
      put(sn, "port", json_integer(m->sock_port), ok);
    }
    put(o, "sockname", sn, ok);
  }
}

json_t *muster__cluster_encode(const muster__cluster_msg_t *m, unsigned seq) {
  json_t *o = json_object();
  int ok = o != NULL;
  if (!ok)
    return NULL;
  /* Node writes cmd first and seq last (utils.js sendHelper). */
  put(o, "cmd", json_string("NODE_CLUSTER"), &ok);
  if (m->act == MUSTER__CLUSTER_REPLY) {
    encode_reply(o, m, &ok);
  } else {
    const char *act = act_name(m->act);
    put(o, "act", act ? json_string(act) : NULL, &ok);
  }
  switch (m->act) {
  case MUSTER__CLUSTER_ONLINE:
    if (m->fields & MUSTER__CLUSTER_F_MUSTER)
      put(o, "muster", json_true(), &ok);
    break;
  case MUSTER__CLUSTER_QUERY_SERVER:
  case MUSTER__CLUSTER_LISTENING:
    encode_query(o, m, &ok);
    break;
  case MUSTER__CLUSTER_NEWCONN:
  case MUSTER__CLUSTER_CLOSE:
  case MUSTER__CLUSTER_CLOSED:
    put(o, "key", str_or_null(m->key), &ok);
    if (m->act == MUSTER__CLUSTER_CLOSED)
      put(o, "n", json_integer(m->n), &ok);
    break;
  default:
    break;
  }
  put(o, "seq", json_integer(seq), &ok);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int muster__cluster_send(muster_channel_t *ch, unsigned *seq,
                         const muster__cluster_msg_t *m, int handle_fd,
                         int keep_open) {
  if (ch == NULL || !muster_channel_connected(ch))
    return MUSTER_ENOTCONN;
  json_t *o = muster__cluster_encode(m, *seq);
  if (o == NULL)
    return MUSTER_ENOMEM;
  muster_send_options_t so = {.keep_open = keep_open, .native = 1};
  int r = muster_channel_send(ch, o, handle_fd, handle_fd >= 0 ? &so : NULL,
                              NULL, NULL);
  json_decref(o);
  if (r < 0)
    return r;
  (*seq)++;
  return 0;
}

/* ---- server keys ----------------------------------------------------------
 */

/* JavaScript's `${v}` of a JSON value, appended at key[*n] (cap bytes). */
static void js_string(const json_t *v, char *key, size_t cap, size_t *n) {
  char *at = key + *n;
  size_t room = cap - *n;
  if (v == NULL)
    snprintf(at, room, "undefined");
  else if (json_is_null(v))
    snprintf(at, room, "null");
  else if (json_is_string(v))
    snprintf(at, room, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(at, room, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(at, room, "%.17g", json_real_value(v));
  else if (json_is_true(v))
    snprintf(at, room, "true");
  else if (json_is_false(v))
    snprintf(at, room, "false");
  else
    snprintf(at, room, "[object Object]");
  *n += strlen(at);
}

char *muster__cluster_key(const json_t *q, int with_index, int port0) {
  static const char *const fields[] = {"address", "port", "addressType", "fd",
                                       "index"};
  int nf = with_index ? 5 : 4;
  size_t cap = 64;
  for (int i = 0; i < nf; i++) {
    json_t *v = json_object_get(q, fields[i]);
    if (json_is_string(v))
      cap += json_string_length(v);
    cap += 32;
  }
  char *key = malloc(cap);
  if (key == NULL)
    return NULL;
  size_t n = 0;
  for (int i = 0; i < nf; i++) {
    if (i > 0)
      key[n++] = ':';
    if (i == 1 && port0)
      n += (size_t)snprintf(key + n, cap - n, "0");
    else
      js_string(json_object_get(q, fields[i]), key, cap, &n);
  }
  return key;
}
