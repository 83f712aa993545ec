/* The worker's half of the cluster module, shared by cluster_worker.c (this
 * process as a worker) and cluster_server.c (muster_cluster_listen in
 * either role). The primary's half is cluster_primary.h; what both speak is
 * cluster_proto.h. Neither half includes the other. */
#ifndef MUSTER_CLUSTER_WORKER_H
#define MUSTER_CLUSTER_WORKER_H

#include "muster/acceptor.h"
#include "muster/channel.h"
#include "muster/cluster.h"
#include "muster/error.h"
#include "muster/listen.h"

#include "cluster_proto.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* ---- worker side -------------------------------------------------------- */

struct index_entry {
  struct index_entry *next;
  char *key; /* address:port:addressType:fd */
  int next_index;
  unsigned live;
};

struct muster_cluster_worker_s {
  uv_loop_t *loop;
  muster_cluster_worker_options_t o;
  muster_channel_t *channel;
  int id;
  unsigned seq;
  int disconnecting;
  int primary_initiated;
  int drained;
  long long wait_ack; /* seq of exitedAfterDisconnect awaiting ack, or -1 */
  int ended;
  int closing;
  muster_server_t *servers;
  struct index_entry *indexes;
  uv_timer_t timer; /* only to defer the close callback */
  uv_idle_t report; /* sends muster:closed reports, batched */
  int report_armed;
  int handles_open;
  muster_cluster_worker_cb close_cb;
};

struct muster_server_s {
  muster_server_t *next; /* the worker's list */
  uv_loop_t *loop;
  muster_cluster_worker_t *worker; /* NULL for a local server */
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

/* cluster_server.c, for cluster_worker.c */
/* The primary's reply to our query; status is the decoder's. */
void muster__server_reply(muster_server_t *s, const muster__cluster_msg_t *m,
                          int status, int fd);
void muster__server_newconn(muster_cluster_worker_t *w,
                            const muster__cluster_msg_t *m,
                            muster_message_t *message);
void muster__server_stop(muster_server_t *s);
void muster__server_channel_ended(muster_cluster_worker_t *w);
void muster__server_free_now(muster_server_t *s, int call_cb);
/* cluster_worker.c, for cluster_server.c */
void muster__worker_check_drained(muster_cluster_worker_t *w);
int muster__worker_send_close(muster_cluster_worker_t *w, const char *key);
void muster__worker_arm_report(muster_cluster_worker_t *w);
/* cluster_server.c */
void muster__server_flush_report(muster_server_t *s);

#endif
