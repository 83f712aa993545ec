/* Fuzz target for the NODE_CLUSTER codec (src/cluster_proto.c): the input
 * is one message as a peer would send it (the seed corpus holds real Node
 * transcripts, captured with fuzz/capture/cluster.js, and the hostile
 * numbers of issue 9: a port of 1e300, an ack of 1e300...).
 *
 * Properties checked: decoding never crashes and never casts an
 * out-of-range double (UBSan's float-cast-overflow in the fuzz and ASan
 * builds); it returns 0, 1 or MUSTER_EPROTO; every field it fills is in
 * range; a decoded message encodes, and decoding that again gives the same
 * struct (the encoder writes what the decoder reads); encoding is stable;
 * server keys form for any message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_proto.h"
#include "muster/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_json(json_t *a, json_t *b) {
  if (a == NULL || json_is_null(a))
    return b == NULL || json_is_null(b);
  return b != NULL && json_equal(a, b);
}

static void check_ranges(const muster__cluster_msg_t *m) {
  if (m->seq < -1 || m->seq > (long long)UINT32_MAX || m->ack < -1 ||
      m->ack > (long long)UINT32_MAX || m->port < -1 || m->port > 65535 ||
      m->sock_port < 0 || m->sock_port > 65535 ||
      (m->udp != 0 && m->udp != 4 && m->udp != 6))
    abort();
}

static void check_same(const muster__cluster_msg_t *a,
                       const muster__cluster_msg_t *b) {
  if (a->act != b->act || a->fields != b->fields || a->ack != b->ack ||
      a->err != b->err || a->accepted != b->accepted ||
      !same_str(a->key, b->key) || !same_json(a->data, b->data) ||
      !same_str(a->sock_address, b->sock_address) || a->sock_v6 != b->sock_v6 ||
      a->sock_port != b->sock_port || !same_str(a->address, b->address) ||
      a->port != b->port || a->address_type != b->address_type ||
      a->udp != b->udp || a->fd != b->fd || a->flags != b->flags ||
      a->backlog != b->backlog || a->index != b->index || a->n != b->n)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (j == NULL)
    return 0;
  muster__cluster_msg_t m;
  int r = muster__cluster_decode(j, &m);
  if (r != 0 && r != 1 && r != MUSTER_EPROTO)
    abort();
  if (r != 1) {
    check_ranges(&m);
    for (int i = 0; i < 4; i++)
      free(muster__cluster_key(j, i & 1, i >> 1));
  }
  if (r != 1 && m.act != MUSTER__CLUSTER_UNKNOWN) {
    json_t *e = muster__cluster_encode(&m, 7);
    if (e == NULL)
      abort();
    muster__cluster_msg_t m2;
    if (muster__cluster_decode(e, &m2) != 0 || m2.seq != 7)
      abort();
    check_same(&m, &m2);
    json_t *e2 = muster__cluster_encode(&m2, 7);
    if (e2 == NULL || !json_equal(e, e2))
      abort();
    json_decref(e2);
    json_decref(e);
  }
  json_decref(j);
  return 0;
}
