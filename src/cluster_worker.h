/* The worker's half of the cluster module: this process as a worker
 * (cluster_worker.c), above its servers (cluster_server.h, which never
 * names the worker). The primary's half is cluster_primary.h; what both
 * speak is cluster_proto.h. Neither half includes the other. */
#ifndef MUSTER_CLUSTER_WORKER_H
#define MUSTER_CLUSTER_WORKER_H

#include "muster/acceptor.h"
#include "muster/channel.h"
#include "muster/cluster.h"
#include "muster/error.h"
#include "muster/listen.h"

#include "cluster_proto.h"
#include "cluster_server.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* ---- worker side -------------------------------------------------------- */

/* The worker above its servers (cluster_server.h): it hands each server the
 * link it embeds, and calls down; the servers call back up only through the
 * link's two function pointers. */
struct muster_cluster_worker_s {
  muster__server_link_t link; /* channel, seq, servers, indexes, ended */
  uv_loop_t *loop;
  muster_cluster_worker_options_t o;
  int id;
  int primary_initiated;
  int drained;
  long long wait_ack; /* seq of exitedAfterDisconnect awaiting ack, or -1 */
  int closing;
  uv_timer_t timer; /* only to defer the close callback */
  uv_idle_t report; /* sends muster:closed reports, batched */
  int report_armed;
  int handles_open;
  muster_cluster_worker_cb close_cb;
};

#endif
