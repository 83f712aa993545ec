/* The primary's half of the cluster module, shared by cluster_primary.c
 * (the cluster and its workers), cluster_slot.c (a supervisor row per
 * worker), cluster_handle.c (the sockets, one per key) and
 * cluster_reload.c. The worker's half is cluster_worker.h; what both speak
 * is cluster_proto.h. Neither half includes the other. */
#ifndef MUSTER_CLUSTER_PRIMARY_H
#define MUSTER_CLUSTER_PRIMARY_H

#include "muster/acceptor.h"
#include "muster/channel.h"
#include "muster/child.h"
#include "muster/cluster.h"
#include "muster/error.h"
#include "muster/listen.h"
#include "muster/supervise.h"
#include "strv.h"

#include "cluster_proto.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* ---- primary ------------------------------------------------------------ */

typedef struct cluster_handle cluster_handle_t;
typedef struct cluster_slot cluster_slot_t;
typedef struct cluster_up cluster_up_t;

/* One connection handed to a worker, awaiting its {ack, accepted}. */
typedef struct inflight {
  struct inflight *next;
  unsigned seq;
  int fd;
  uint64_t sent;            /* uv_now() when handed over */
  cluster_handle_t *handle; /* NULL once the handle is gone */
} inflight_t;

/* A worker's membership of a handle. */
typedef struct member {
  struct member *next_in_worker; /* the worker's list */
  cluster_handle_t *handle;
  muster_worker_t *worker;
  unsigned inflight; /* newconns handed and not yet answered */
  int is_free;       /* waiting for a connection */
  uint64_t ticket;   /* when it became free: FIFO order */
  unsigned open;     /* connections accepted and not reported closed */
  int listening;     /* it sent "listening" for this key */
  char *key;         /* copy, for readiness after the handle is gone */
} member_t;

struct cluster_handle {
  cluster_handle_t *next;
  muster_cluster_t *cluster;
  char *key;
  int sched; /* MUSTER_SCHED_RR, _LEAST_CONN, _SHARED, _REUSEPORT */
  int udp;   /* 0, 4 or 6 */
  int is_unix;
  muster_listen_options_t lo; /* lo.address points to `address` */
  char *address;
  int fd;   /* the listening (RR) / bound (SHARED) / anchor socket */
  int err;  /* bind error: every add() gets it */
  int port; /* the bound port */
  char sock_addr[128];
  json_t *data;       /* the first worker's data (TLS tickets) */
  member_t **members; /* array */
  unsigned nmembers, cap;
  /* accepted connections waiting for a free worker: ring of fds */
  int *queue;
  unsigned qhead, qlen, qcap;
  muster_acceptor_t *acceptor; /* RR, LEAST_CONN */
  uv_timer_t timer;            /* linger while member-less */
  int full;                    /* accepting paused: the queue is full */
  int closing;
  uint64_t next_ticket;
};

struct muster_worker_s {
  muster_worker_t *next; /* the cluster's list, id order */
  muster_cluster_t *cluster;
  cluster_slot_t *slot;
  int id;
  int pid;
  muster_child_t *child;     /* the slot's row owns it and the channel */
  muster_channel_t *channel; /* (muster_supervise_child_create) */
  muster_worker_state_t state;
  int exited_after_disconnect;
  int muster_peer;    /* it said online with "muster":1: it reports closes */
  int ready;          /* counted as ready (supervise_ready was called) */
  int ready_explicit; /* it sent muster:ready */
  int leaving;
  int exited, channel_ended;
  int64_t exit_code;
  int exit_signal;
  int closed_events; /* on_exit delivered */
  int announced;     /* on_fork delivered */
  int pending_kill;  /* signal to send */
  member_t *members;
  inflight_t *inflight; /* newest first */
  uint64_t last_answer; /* uv_now() at its last {ack, accepted} */
  unsigned open_conns;
  void *data;
};

struct cluster_slot {
  cluster_slot_t *next;
  muster_cluster_t *cluster;
  muster_supervisor_t *sup; /* a supervised child, forking the workers */
  muster_worker_t *worker;  /* current process, or NULL */
  muster_worker_t *last;    /* the worker whose exit is being judged */
  muster_worker_t *spare;   /* the next worker's object, made in advance */
  char **env;               /* per-slot env */
  /* What the next start runs (cluster_primary.c fills them before each
   * start, from the settings of the moment). */
  const char **run_argv, **run_env;
  char run_id[48], run_ppid[48];
  muster_stdio_t run_stdio[4];
  char **expected; /* keys the next worker must listen on */
  unsigned nexpected;
  int closing;
  int dropped;    /* not restarted: leaves by choice */
  int reload_new; /* a reload's new slot, not yet accepted */
};

struct muster_cluster_s {
  uv_loop_t *loop;
  muster_cluster_options_t o;
  char *exec;
  char **args;
  char *cwd;
  char **env;
  int *codes; /* copy of supervise.no_restart_codes */
  muster_sched_t policy;
  uint64_t ready_timeout_ms;
  int next_id;
  unsigned seq;
  muster_worker_t *workers;
  unsigned nworkers;
  cluster_slot_t *slots;
  cluster_handle_t *handles;
  int setup_pending;
  int closing;
  muster_cluster_close_cb close_cb;
  /* disconnect */
  muster_cluster_cb disc_cb;
  void *disc_arg;
  int disc_pending;
  /* reload */
  struct reload *reload;
  uv_timer_t async_timer; /* defers completions to a later turn */
  const cluster_up_t *up; /* for the files below cluster_primary.c */
  int handles_open;
  int freed;
};

/* ---- the layers --------------------------------------------------------
 *
 * cluster_primary.c is the top. cluster_reload.c calls down into
 * cluster_slot.c; cluster_slot.c and cluster_handle.c call nothing above
 * them: what they must tell the primary goes up through this table, which
 * cluster_primary.c sets at create (libuv style: the higher file hands the
 * lower one its callbacks). */
struct cluster_up {
  /* Something failed that concerned worker `w` (may be NULL): on_error. */
  void (*error)(muster_cluster_t *c, muster_worker_t *w, int err);
  /* A part of the cluster (a handle, a slot) was freed: it may be done. */
  void (*part_freed)(muster_cluster_t *c);
  /* Deferred events (on_fork, a reload's callback) on the next turn. */
  void (*kick)(muster_cluster_t *c);
  /* A slot is closing (freed on a later turn): its workers end now (the
   * row closes their child and channel), and a reload forgets it. */
  void (*slot_closing)(cluster_slot_t *s);
  /* The rest of a slot's row: the primary forks, hears and signals the
   * workers itself (the callbacks find the slot as the row's data, and
   * the channel's). The slot adds the policy, on_state and on_error. */
  muster_supervise_child_options_t row;
};

/* cluster_primary.c, for cluster_primary_worker.c */
/* Sends "disconnect": the worker leaves by choice. */
void muster__primary_graceful(muster_worker_t *w);

/* cluster_handle.c (RR, LEAST_CONN, SHARED, REUSEPORT) */
/* A queryServer; status is the decoder's (MUSTER_EPROTO: refuse it). */
void muster__handle_query(muster_cluster_t *c, muster_worker_t *w,
                          const muster__cluster_msg_t *m, int status);
void muster__handle_close_key(muster_cluster_t *c, muster_worker_t *w,
                              const char *key);
void muster__handle_remove_worker(muster_worker_t *w);
void muster__handle_reply(muster_worker_t *w, const muster__cluster_msg_t *m);
void muster__handle_conn_closed(muster_worker_t *w, const char *key,
                                unsigned n);
/* Marks the worker's key named by a "listening" message; returns it (owned
 * by the membership) or NULL. */
const char *muster__handle_listening(muster_worker_t *w,
                                     const muster__cluster_msg_t *m);
void muster__handles_close_all(muster_cluster_t *c);
void muster__handle_drop_inflight(muster_worker_t *w);

/* cluster_slot.c. Slots: a supervisor row each. new + start make one
 * (start failing closes it); close drops it (its row is freed on a later
 * turn). */
int muster__slot_new(muster_cluster_t *c, const char *const *env,
                     cluster_slot_t **out);
int muster__slot_start(cluster_slot_t *s);
void muster__slot_close(cluster_slot_t *s);
/* 0 when slots can be made with `policy`, else muster_supervise_create()'s
 * error. */
int muster__slot_check_policy(uv_loop_t *loop,
                              const muster_supervise_policy_t *policy);
/* The keys worker `w` listens on become what the slot's next worker must
 * listen on to be ready. */
void muster__slot_snapshot_keys(cluster_slot_t *s, muster_worker_t *w);

/* cluster_reload.c */
void muster__reload_finish(muster_cluster_t *c, int status);
void muster__reload_deliver(muster_cluster_t *c); /* from the kick timer */
void muster__reload_slot_closed(muster_cluster_t *c, cluster_slot_t *s);

#endif
