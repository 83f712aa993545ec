/* A server in either role (cluster_server.c), below the worker that owns
 * it. A worker's servers talk to the primary through the link the worker
 * embeds and hands them: its channel, its message numbers, its list of
 * servers, and two calls back up. So the server never names the worker
 * (libuv's stream.c never knows a process exists); cluster_worker.c calls
 * down into the functions at the end of this file. */
#ifndef MUSTER_CLUSTER_SERVER_H
#define MUSTER_CLUSTER_SERVER_H

#include "muster/acceptor.h"
#include "muster/channel.h"
#include "muster/cluster.h"
#include "muster/error.h"
#include "muster/listen.h"

#include "cluster_proto.h"

#include <uv.h>

/* How many listens on the same address:port:addressType:fd a worker made:
 * the index of a server key (child.js's `indexes`). */
struct index_entry {
  struct index_entry *next;
  char *key; /* address:port:addressType:fd */
  int next_index;
  unsigned live;
};

typedef struct muster__server_link_s muster__server_link_t;
typedef void (*muster__server_link_cb)(muster__server_link_t *link);

/* A worker as its servers see it. The worker owns it and sets every field;
 * servers read them, send on the channel (numbering with `seq`) and keep
 * their place in `servers` and `indexes`. */
struct muster__server_link_s {
  muster_channel_t *channel;
  unsigned seq;      /* the number of the worker's next message */
  int ended;         /* the channel ended: nothing more is sent */
  int disconnecting; /* the worker leaves: no new connections */
  muster_server_t *servers;
  struct index_entry *indexes;
  /* A round-robin server has closes to report: call
   * muster__server_flush_report() for each server on a later turn. */
  muster__server_link_cb arm_report;
  /* A connection closed: the worker checks whether its disconnect can go
   * on (every server's count of open connections is 0). */
  muster__server_link_cb check_drained;
};

struct muster_server_s {
  muster_server_t *next; /* the link's list */
  uv_loop_t *loop;
  muster__server_link_t *link; /* NULL for a local server */
  muster_server_options_t o;
  char *address;
  muster__cluster_msg_t query; /* re-sent as "listening" */
  struct index_entry *index;
  unsigned query_seq;
  int querying;
  char *key;
  muster_sched_t mode;
  int fd;
  int udp;
  int local;
  int listening;
  int stopped;
  int closed; /* muster_server_close called */
  int freeing;
  int status_pending; /* on_listening to deliver from the timer */
  int status;
  unsigned open;
  unsigned unreported; /* closes not yet reported to the primary */
  char sock_addr[128];
  int sock_port;
  muster_acceptor_t *acceptor; /* local, shared, reuseport (streams) */
  uv_timer_t timer;            /* defers on_listening and the close callback */
  int handles_open;
  muster_server_close_cb close_cb;
};

/* muster_cluster_listen() below the worker: `link` is the worker's, or
 * NULL for a local server (which binds its own socket). Same arguments
 * and errors as the public call. */
int muster__server_open(uv_loop_t *loop, muster__server_link_t *link,
                        const muster_server_options_t *options,
                        muster_server_t **out);
/* The primary's reply to our query; status is the decoder's. */
void muster__server_reply(muster_server_t *s, const muster__cluster_msg_t *m,
                          int status, int fd);
/* A connection handed over by a round-robin primary: the link's server
 * with that key takes it (or it is refused). */
void muster__server_newconn(muster__server_link_t *link,
                            const muster__cluster_msg_t *m,
                            muster_message_t *message);
/* Stop accepting and give the key back; the object stays the user's. */
void muster__server_stop(muster_server_t *s);
/* The link's channel ended: queries fail, closed servers are freed. */
void muster__server_link_ended(muster__server_link_t *link);
/* Frees `s` now (its user callback only with call_cb). */
void muster__server_free_now(muster_server_t *s, int call_cb);
/* Sends the closes counted since the last report (muster:closed). */
void muster__server_flush_report(muster_server_t *s);

#endif
