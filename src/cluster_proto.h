/* The NODE_CLUSTER protocol, as both roles speak it: one struct for a
 * message, one encoder and one decoder (nginx's ngx_channel.c shape), the
 * server key Node forms from a query, and nothing else. The primary's half
 * (cluster_primary.h) and the worker's half (cluster_worker.h) both stand
 * on this file; it knows neither.
 *
 * The messages (docs/cluster.md has the transcript; field order as Node
 * writes them, so transcripts compare byte for byte):
 *
 *   worker → primary                       primary → worker
 *   online [muster]                        {ack} to queryServer: errno, key,
 *   queryServer index data address port      data, [sockname]
 *     addressType [fd] flags [backlog]     newconn key        (with the fd)
 *   listening (as queryServer)             disconnect
 *   {ack} to newconn: accepted             {ack} to exitedAfterDisconnect
 *   close key
 *   exitedAfterDisconnect
 *   muster:closed key n, muster:ready, muster:leaving   (muster only)
 */
#ifndef MUSTER_CLUSTER_PROTO_H
#define MUSTER_CLUSTER_PROTO_H

#include "muster/channel.h"

#include <jansson.h>

typedef enum {
  MUSTER__CLUSTER_UNKNOWN = 0, /* an act we do not know: ignored */
  MUSTER__CLUSTER_REPLY,       /* {ack: the seq answered, ...} */
  MUSTER__CLUSTER_ONLINE,
  MUSTER__CLUSTER_QUERY_SERVER,
  MUSTER__CLUSTER_LISTENING,
  MUSTER__CLUSTER_NEWCONN,
  MUSTER__CLUSTER_DISCONNECT,
  MUSTER__CLUSTER_EXITED_AFTER_DISCONNECT,
  MUSTER__CLUSTER_CLOSE,
  MUSTER__CLUSTER_CLOSED,  /* muster:closed */
  MUSTER__CLUSTER_READY,   /* muster:ready */
  MUSTER__CLUSTER_LEAVING, /* muster:leaving */
} muster__cluster_act_t;

/* Optional fields present (decode) or to write (encode). */
enum {
  MUSTER__CLUSTER_F_ERRNO = 1 << 0, /* reply: errno (err; 0 with
                                       F_ERRNO_NULL: null) */
  MUSTER__CLUSTER_F_ERRNO_NULL = 1 << 1,
  MUSTER__CLUSTER_F_KEY = 1 << 2,      /* reply */
  MUSTER__CLUSTER_F_DATA = 1 << 3,     /* reply */
  MUSTER__CLUSTER_F_ACCEPTED = 1 << 4, /* reply */
  MUSTER__CLUSTER_F_SOCKNAME = 1 << 5, /* reply */
  MUSTER__CLUSTER_F_FD = 1 << 6,       /* query: fd (-1 for UDP) */
  MUSTER__CLUSTER_F_BACKLOG = 1 << 7,  /* query: streams */
  MUSTER__CLUSTER_F_MUSTER = 1 << 8,   /* online: "muster":true */
};

typedef struct {
  muster__cluster_act_t act;
  unsigned fields; /* MUSTER__CLUSTER_F_* */
  long long seq;   /* decode: -1 when absent or not a sequence number */
  long long ack;   /* reply: the request's seq; -1 when not a number */
  int err;         /* reply: errno (negative) */
  int accepted;    /* reply to newconn */
  const char *key; /* reply, newconn, close, muster:closed */
  json_t *data;    /* reply, query: opaque; NULL writes null */
  const char *sock_address; /* reply: sockname */
  int sock_v6;
  int sock_port;
  /* queryServer, listening */
  const char *address; /* NULL: null */
  int port;            /* -1 (a pipe) .. 65535; 0 when not a number */
  int address_type;    /* 4, 6, -1 (a pipe); 0 for UDP */
  int udp;             /* 0, or 4 / 6: addressType "udp4" / "udp6" */
  int fd;
  int flags;
  int backlog;
  int index;
  unsigned n;   /* muster:closed; 0 when not positive */
  json_t *json; /* decode: the message it came from (borrowed) */
} muster__cluster_msg_t;

/* Reads `json`, a message from the channel, into *m (pointers borrowed from
 * json). Returns 0; 1 when it is not a NODE_CLUSTER message (ignore it);
 * MUSTER_EPROTO when a number lies outside its range (a port outside
 * -1..65535 or not whole, a seq or ack outside 0..2^32-1, errno, flags,
 * backlog outside an int): m->act and m->seq are still filled, so that a
 * query can be answered. Never casts an out-of-range double (that is
 * undefined behaviour). */
int muster__cluster_decode(json_t *json, muster__cluster_msg_t *m);

/* The message as a new JSON object, {"cmd":"NODE_CLUSTER", ..., "seq":seq},
 * or NULL (ENOMEM). m->act must not be UNKNOWN. */
json_t *muster__cluster_encode(const muster__cluster_msg_t *m, unsigned seq);

/* Encodes `m` with seq *seq, sends it and increments *seq. handle_fd < 0:
 * none; otherwise sent as a native handle, keep_open as given.
 * Errors: MUSTER_ENOTCONN, MUSTER_ENOMEM, muster_channel_send()'s. */
int muster__cluster_send(muster_channel_t *ch, unsigned *seq,
                         const muster__cluster_msg_t *m, int handle_fd,
                         int keep_open);

/* The server key of a queryServer or listening message, formed as Node
 * v20 does: `${address}:${port}:${addressType}:${fd}:${index}`, each field
 * as JavaScript's string conversion writes it (absent "undefined", null
 * "null"), from the raw JSON (a port "x" stays "x"). with_index 0 leaves
 * out ":${index}" (the worker's index key); port0 writes port 0 (an
 * ephemeral port's key). Returns a malloc'ed string, or NULL (ENOMEM). */
char *muster__cluster_key(const json_t *msg, int with_index, int port0);

#endif
