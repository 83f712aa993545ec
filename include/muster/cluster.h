/* Cluster: Node.js's cluster module in C. A primary process forks workers
 * that share listening sockets; the wire protocol between them is Node's
 * own (NODE_CLUSTER messages over the IPC channel), so a C primary runs
 * unmodified Node cluster workers and a Node primary runs C workers.
 *
 *   muster_cluster_is_primary(), _is_worker()   which role this process has
 *
 * In the primary:
 *   muster_cluster_create()      settings, policies, events
 *   muster_cluster_fork()        a new worker (a numeric id, as Node's)
 *   muster_cluster_reload()      rolling reload, one worker at a time
 *   muster_cluster_disconnect()  graceful stop of every worker
 *   muster_cluster_close()       stop every worker, close every socket, free
 *   muster_worker_*()            one worker seen from the primary: id, pid,
 *                                send, kill, disconnect, state...
 *
 * In a worker:
 *   muster_cluster_worker_open() join the primary (sends "online")
 *   muster_cluster_worker_*()    id, send, disconnect, ready, leaving
 *
 * In both (and in a process that is neither):
 *   muster_cluster_listen()      a server: TCP (IPv4, IPv6), Unix path or
 *                                UDP; in a worker its socket comes from the
 *                                primary (one per key), elsewhere it is local
 *   muster_server_*()            close, fd, address, connection accounting
 *
 * ---- Roles ---------------------------------------------------------------
 * As in Node, the environment decides: a process whose environment holds
 * NODE_UNIQUE_ID (the worker id the primary gave it) is a worker, any other
 * process is a primary. muster_cluster_fork() sets NODE_UNIQUE_ID,
 * NODE_CHANNEL_FD (the channel, on fd 3) and MUSTER_PRIMARY_PID.
 *
 * ---- Scheduling policies (who accepts a connection) ----------------------
 *   MUSTER_SCHED_RR         round-robin, the default (Node's SCHED_RR on
 *                           Linux): the primary accepts and hands each
 *                           connection to the next worker in turn. A Node
 *                           worker has at most one hand-off unanswered (as
 *                           under Node's primary), a muster worker up to 8:
 *                           a worker whose loop stalls stops getting new
 *                           connections, which wait in the primary.
 *   MUSTER_SCHED_SHARED     shared handle (Node's SCHED_NONE): every worker
 *                           gets the same bound socket, listens and accepts
 *                           on it; the kernel decides (often unevenly).
 *   MUSTER_SCHED_REUSEPORT  each worker gets its own SO_REUSEPORT socket on
 *                           the same address and port; the kernel spreads
 *                           connections by a hash. The primary binds these
 *                           sockets (so a worker running as another user, or
 *                           a Node worker, works too) and keeps one bound,
 *                           never listening, to hold the port. Connections
 *                           waiting in a dying worker's own backlog are
 *                           reset: the price of this policy. Unix paths
 *                           cannot be shared this way and fall back to
 *                           SHARED.
 *   MUSTER_SCHED_LEAST_CONN like round-robin, but each connection goes to
 *                           the worker with the fewest open and
 *                           unanswered connections (ties: the longest
 *                           waiting). Node has
 *                           no such policy. muster workers report closed
 *                           connections (see muster_server_connection_
 *                           closed); a Node worker never does, so for it
 *                           only hand-offs in flight count, and it is
 *                           served round-robin among the others' counts.
 * UDP is never round-robin (there is nothing to accept): under every policy
 * the workers share one UDP socket, as SHARED does (a reuseport UDP socket
 * held by the primary would receive datagrams nobody reads).
 * A Node primary speaks only RR and SHARED (NODE_CLUSTER_SCHED_POLICY);
 * muster workers under it follow whichever it chose.
 *
 * ---- Server keys ---------------------------------------------------------
 * The primary owns one socket per key. A worker's listen asks the primary
 * with a queryServer message (address, port, addressType, fd, index: the
 * index counts this worker's listens on the same tuple); the primary forms
 * the key as Node v20 does, "address:port:addressType:fd:index" (absent
 * fields print as in JavaScript: "null", "undefined"), and the worker only
 * echoes it back. A key is thus the same in every worker that makes the
 * same listen call, so listen(port 0) in N workers gives all of them the
 * same port, as in Node. Keys sent by a Node v22 primary (no index for a
 * fixed port) are taken as opaque strings.
 *
 * ---- Readiness, restarts, stop -------------------------------------------
 * Each worker runs in a slot, a supervised child (muster/supervise.h,
 * muster_supervise_child_create(), which forks it): when its
 * process dies, the slot's policy decides on a restart (a new worker, with a
 * new id, as Node's fork() gives), its backoff, and the crash-loop guard
 * (the slot then ends: on_errored). A worker is ready when it has sent
 * "listening" for every key its predecessor in the slot (or, in a reload,
 * the worker it replaces) listened on; when there is no such key, when it
 * sent "online"; and in any case when it calls muster_cluster_worker_ready().
 * With MUSTER_CLUSTER_EXPLICIT_READY only that call counts. A worker that is
 * not ready within ready_timeout_ms has failed to start: it is stopped and
 * its slot ends (on_errored, MUSTER_SUPERVISE_START_FAILED, ETIMEDOUT).
 * A worker that leaves by its own choice (muster_worker_disconnect(),
 * muster_worker_kill(), or its own muster_cluster_worker_disconnect(): Node's
 * exitedAfterDisconnect) is not restarted; its slot ends.
 * Graceful stop of a worker: the primary sends "disconnect" (the worker
 * closes its servers, finishes its open connections, closes the channel and
 * exits), waits kill_timeout_ms, sends stop_signal, waits twice that, then
 * SIGKILL.
 *
 * ---- When the primary dies -----------------------------------------------
 * A muster worker sets PR_SET_PDEATHSIG (options.pdeath_signal, SIGKILL by
 * default) in muster_cluster_worker_open(), then compares getppid() with
 * MUSTER_PRIMARY_PID: if the primary died before that, it raises the signal
 * itself. It also sees the channel end (on_disconnect with unexpected 1).
 * A Node worker exits by itself when its channel ends (Node's cluster calls
 * process.exit(0) on an unexpected disconnect), which the kernel causes when
 * the primary dies, however it dies. A worker must be forked from a thread
 * that lives as long as the cluster: the kernel sends the parent-death
 * signal when the forking *thread* ends.
 *
 * ---- Conventions ---------------------------------------------------------
 * Options, strings and arrays are borrowed for the call; muster copies what
 * it keeps. Every function is called on the loop's thread. A call that
 * takes a callback and fails never calls it. Callbacks come from the loop,
 * never from inside the call that caused them (except where noted).
 * docs/cluster.md has the protocol transcripts and the reasons.
 */
#ifndef MUSTER_CLUSTER_H
#define MUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include <jansson.h>

#include "common.h"
#include "channel.h"
#include "child.h"
#include "listen.h"
#include "supervise.h"

/* The primary's cluster. */
typedef struct muster_cluster_s muster_cluster_t;
/* A worker as the primary sees it (Node's Worker in the primary). */
typedef struct muster_worker_s muster_worker_t;
/* This process, when it is a worker (Node's cluster.worker in a worker). */
typedef struct muster_cluster_worker_s muster_cluster_worker_t;
/* A server, in either role. */
typedef struct muster_server_s muster_server_t;

/* 1 in a primary (no NODE_UNIQUE_ID in the environment and no worker opened
 * in this process), else 0. Any thread. */
MUSTER_EXTERN int muster_cluster_is_primary(void);
/* 1 in a worker: NODE_UNIQUE_ID is set, or muster_cluster_worker_open()
 * succeeded in this process (it removes NODE_UNIQUE_ID, as Node does, so
 * that the worker's own children are not workers). Any thread. */
MUSTER_EXTERN int muster_cluster_is_worker(void);

typedef enum {
  MUSTER_SCHED_DEFAULT = 0, /* from the environment, see below */
  MUSTER_SCHED_RR,
  MUSTER_SCHED_SHARED,
  MUSTER_SCHED_REUSEPORT,
  MUSTER_SCHED_LEAST_CONN,
} muster_sched_t;

/* The policy MUSTER_SCHED_DEFAULT stands for: MUSTER_SCHED_POLICY = "rr",
 * "shared" (or "none"), "reuseport", "leastconn"; else
 * NODE_CLUSTER_SCHED_POLICY = "rr" or "none" (= SHARED); else RR. Unknown
 * values are ignored. Any thread. */
MUSTER_EXTERN muster_sched_t muster_cluster_sched_from_env(void);
/* "rr", "shared", "reuseport", "leastconn" ("default" for 0). Static. */
MUSTER_EXTERN const char *muster_sched_name(muster_sched_t policy);

/* ==== primary ============================================================ */

/* Node's cluster.settings: how workers are started. */
typedef struct {
  /* The program; NULL: this program (/proc/self/exe, read at create). */
  const char *exec;
  /* Arguments after argv[0] (NULL-terminated; NULL: none). A Node worker is
   * exec "node" (searched on PATH) with args {"app.js", NULL}: Node makes a
   * process a cluster worker only when argv[1] names a script. */
  const char *const *args;
  const char *cwd; /* NULL: the primary's */
  /* "NAME=value" entries added to (or, "NAME" alone, removed from) the
   * primary's environment for every worker; NULL-terminated. */
  const char *const *env;
  /* Workers' stdout and stderr are pipes whose output goes to on_output,
   * and stdin is /dev/null (Node's silent: true); otherwise all three are
   * the primary's. */
  int silent;
  unsigned flags; /* MUSTER_SPAWN_SETUID / _SETGID from muster/child.h */
  uid_t uid;
  gid_t gid;
} muster_cluster_settings_t;

/* Bits of muster_cluster_options_t.flags. */
enum {
  /* A worker is ready only when it calls muster_cluster_worker_ready(). */
  MUSTER_CLUSTER_EXPLICIT_READY = 1 << 0,
};

/* What a worker's "listening" message said (Node's address object). */
typedef struct {
  const char *address; /* "127.0.0.1", "::1", a path, or NULL (any) */
  int port; /* the port it listens on; -1 for a path (as Node sends) */
  /* 4, 6, -1 (Unix path), or 0 for UDP (then udp is 4 or 6). */
  int address_type;
  int udp;
  const char *key; /* the server key, or NULL when not known */
} muster_worker_address_t;

/* The types of the events below: `c` is the cluster, `w` the worker; both
 * valid during the call. */
typedef void (*muster_cluster_event_cb)(muster_cluster_t *c);
typedef void (*muster_cluster_worker_event_cb)(muster_cluster_t *c,
                                               muster_worker_t *w);
typedef void (*muster_cluster_listening_cb)(
    muster_cluster_t *c, muster_worker_t *w,
    const muster_worker_address_t *address);
typedef void (*muster_cluster_message_cb)(muster_cluster_t *c,
                                          muster_worker_t *w,
                                          muster_message_t *message);
typedef void (*muster_cluster_exit_cb)(muster_cluster_t *c, muster_worker_t *w,
                                       int64_t code, int signal);
typedef void (*muster_cluster_error_cb)(muster_cluster_t *c, muster_worker_t *w,
                                        int err);
typedef void (*muster_cluster_errored_cb)(muster_cluster_t *c,
                                          muster_worker_t *last,
                                          muster_supervise_reason_t reason,
                                          int err);
typedef void (*muster_cluster_output_cb)(muster_cluster_t *c,
                                         muster_worker_t *w, int slot,
                                         const char *buf, size_t len);

/* Events. Any may be NULL. */
typedef struct {
  /* settings took effect (after create, and after muster_cluster_setup()),
   * on a later loop turn. */
  muster_cluster_event_cb on_setup;
  /* A worker process was started (by muster_cluster_fork() or a restart);
   * on a later loop turn than the fork call. */
  muster_cluster_worker_event_cb on_fork;
  /* The worker said "online". */
  muster_cluster_worker_event_cb on_online;
  /* The worker listens; `address` is valid during the call. */
  muster_cluster_listening_cb on_listening;
  /* The worker sent a user message (muster/channel.h: valid during the
   * call; a handle that came with it is closed after it unless taken). */
  muster_cluster_message_cb on_message;
  /* The worker's channel ended. Always before on_exit. */
  muster_cluster_worker_event_cb on_disconnect;
  /* The worker's process ended: code, or signal (the other is 0). The last
   * event of a worker: it is freed when this returns. */
  muster_cluster_exit_cb on_exit;
  /* Something failed that concerned worker `w` (may be NULL): a socket
   * that could not be made for a key (e.g. MUSTER_EADDRINUSE; the worker got
   * that errno), a channel error (MUSTER_EBADMSG, MUSTER_EPROTO), a number
   * out of range in a worker's message (MUSTER_EPROTO: a port outside
   * -1..65535 or not whole, a sequence number outside 0..2^32-1; the
   * message is refused, a queryServer answered with that errno), accept()
   * failing (MUSTER_EMFILE: the pending connections are closed;
   * MUSTER_ENFILE, MUSTER_ENOBUFS: accepting pauses for 100 ms; see
   * muster/acceptor.h). */
  muster_cluster_error_cb on_error;
  /* A slot ended in error: a crash loop (reason
   * MUSTER_SUPERVISE_CRASH_LOOP, err 0) or a start that failed (reason
   * MUSTER_SUPERVISE_START_FAILED; err MUSTER_ETIMEDOUT when not ready in
   * time, else the spawn error). `last` is the last worker of the slot, or
   * NULL when it is already gone. The slot is given up: fork again to
   * replace it. */
  muster_cluster_errored_cb on_errored;
  /* Output of a silent worker: slot 1 stdout, 2 stderr; len 0 at EOF. */
  muster_cluster_output_cb on_output;
} muster_cluster_events_t;

/* Options for muster_cluster_create(); all zero means the defaults. */
typedef struct {
  muster_cluster_settings_t settings;
  muster_sched_t policy; /* 0: muster_cluster_sched_from_env() */
  /* Restart, backoff, crash loop and stop schedule of every worker slot
   * (muster/supervise.h; zero fields are its defaults: restart always,
   * 100 ms backoff doubling to 15 s, 10 crashes per minute, kill timeout
   * 1600 ms, SIGTERM). flags and ready_timeout_ms are ignored: use the
   * fields below. MUSTER_RESTART_NEVER gives Node's behaviour. */
  muster_supervise_policy_t supervise;
  /* How long a new worker may take to be ready. 0: 30000 ms. */
  uint64_t ready_timeout_ms;
  unsigned flags; /* MUSTER_CLUSTER_* */
  muster_cluster_events_t events;
  void *data; /* muster_cluster_data() */
} muster_cluster_options_t;

/* Creates the primary's cluster object on `loop`; no worker yet. Free it
 * with muster_cluster_close().
 * Errors: MUSTER_EINVAL (NULL loop/out, an invalid supervise policy or
 * policy value), MUSTER_ENOENT (exec NULL and /proc/self/exe unreadable),
 * MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_cluster_create(uv_loop_t *loop,
                                        const muster_cluster_options_t *options,
                                        muster_cluster_t **out);

/* Node's cluster.setupPrimary(): replaces the settings used by later forks
 * and restarts (workers already running keep theirs); on_setup follows.
 * Errors: MUSTER_EINVAL, MUSTER_ENOMEM (the old settings stay). */
MUSTER_EXTERN int muster_cluster_setup(muster_cluster_t *c,
                                       const muster_cluster_settings_t *s);

/* Node's cluster.fork(env): starts a worker in a new slot. `env` (may be
 * NULL) adds "NAME=value" entries for this slot only, on top of the
 * settings' env. *out (may be NULL) is the worker, valid until its on_exit
 * returns. Ids start at 1 and are never reused.
 * Errors: MUSTER_EINVAL, MUSTER_ECANCELED (the cluster is closing),
 * muster_spawn()'s errors (MUSTER_ENOENT, MUSTER_EACCES, MUSTER_EAGAIN...);
 * on error there is no slot and no worker. */
MUSTER_EXTERN int muster_cluster_fork(muster_cluster_t *c,
                                      const char *const *env,
                                      muster_worker_t **out);

/* The worker with this id, or NULL (not started, or already exited). */
MUSTER_EXTERN muster_worker_t *muster_cluster_worker(muster_cluster_t *c,
                                                     int id);
/* Iterates live workers (forked, not yet exited) in id order: pass NULL to
 * get the first, then the previous result. Do not free or fork while
 * iterating. */
MUSTER_EXTERN muster_worker_t *
muster_cluster_next_worker(muster_cluster_t *c, muster_worker_t *prev);
/* Number of live workers. */
MUSTER_EXTERN unsigned muster_cluster_worker_count(const muster_cluster_t *c);

typedef void (*muster_cluster_cb)(muster_cluster_t *c, int status, void *arg);

/* Rolling reload: for each slot that has a worker when called, one at a
 * time: start a new worker, wait until it is ready (see the top of this
 * file), then stop the old one gracefully and wait for it to exit. If a new
 * worker fails (exits, cannot spawn, or is not ready within
 * ready_timeout_ms), it is stopped, the old one stays and keeps serving, and
 * the reload ends there: cb(status) with MUSTER_ETIMEDOUT (not ready in
 * time), MUSTER_ECHILD (it exited before it was ready), or the spawn error.
 * Slots reloaded before the failure keep their new workers. cb(0) when
 * every slot was replaced; cb(MUSTER_ECANCELED) when the cluster is closed
 * or disconnected meanwhile. The callback always comes on a later loop
 * turn. Errors: MUSTER_EBUSY (a reload is running), MUSTER_ECANCELED
 * (closing). */
MUSTER_EXTERN int muster_cluster_reload(muster_cluster_t *c,
                                        muster_cluster_cb cb, void *arg);

/* Node's cluster.disconnect(cb), with the stop schedule: every worker is
 * disconnected gracefully, signalled and killed as the policy says; no
 * restarts. cb(0) (may be NULL) once every worker has exited. New forks are
 * allowed afterwards. Errors: MUSTER_ECANCELED (closing). */
MUSTER_EXTERN int muster_cluster_disconnect(muster_cluster_t *c,
                                            muster_cluster_cb cb, void *arg);

/* Stops every worker as muster_cluster_disconnect() does, closes every
 * listening socket and queued connection, and frees the cluster: cb (may be
 * NULL) is called once all of that is done, on a later loop turn; a
 * reload running gets cb(MUSTER_ECANCELED). A primary wiring SIGINT and
 * SIGTERM to this, then leaving its loop, exits leaving no worker behind. */
typedef void (*muster_cluster_close_cb)(muster_cluster_t *c);
MUSTER_EXTERN void muster_cluster_close(muster_cluster_t *c,
                                        muster_cluster_close_cb cb);

MUSTER_EXTERN muster_sched_t muster_cluster_policy(const muster_cluster_t *c);
MUSTER_EXTERN uv_loop_t *muster_cluster_loop(const muster_cluster_t *c);
MUSTER_EXTERN void *muster_cluster_data(const muster_cluster_t *c);
MUSTER_EXTERN void muster_cluster_set_data(muster_cluster_t *c, void *data);

/* ---- a worker, seen from the primary (Node's Worker) -------------------- */

typedef enum {
  MUSTER_WORKER_NONE = 0,     /* forked, not yet online */
  MUSTER_WORKER_ONLINE,       /* said "online" */
  MUSTER_WORKER_LISTENING,    /* said "listening" at least once */
  MUSTER_WORKER_DISCONNECTED, /* channel ended */
  MUSTER_WORKER_DEAD,         /* process ended (during on_exit) */
} muster_worker_state_t;

MUSTER_EXTERN int muster_worker_id(const muster_worker_t *w);
MUSTER_EXTERN int muster_worker_pid(const muster_worker_t *w);
MUSTER_EXTERN muster_worker_state_t
muster_worker_state(const muster_worker_t *w);
/* "none", "online", "listening", "disconnected", "dead". Static. */
MUSTER_EXTERN const char *muster_worker_state_name(muster_worker_state_t s);
/* 1 while the channel is open (Node's isConnected()). */
MUSTER_EXTERN int muster_worker_is_connected(const muster_worker_t *w);
/* 1 once the process has exited (Node's isDead()). */
MUSTER_EXTERN int muster_worker_is_dead(const muster_worker_t *w);
/* 1 when the worker left by choice (Node's exitedAfterDisconnect): it was
 * disconnected or killed through this API, stopped, or it disconnected
 * itself. */
MUSTER_EXTERN int
muster_worker_exited_after_disconnect(const muster_worker_t *w);
/* 1 once the worker reported ready (see the top of this file). */
MUSTER_EXTERN int muster_worker_is_ready(const muster_worker_t *w);
/* Open connections the primary counts for this worker: handed and accepted,
 * minus those the worker reported closed (LEAST_CONN bookkeeping; also kept
 * under RR). */
MUSTER_EXTERN unsigned muster_worker_connections(const muster_worker_t *w);
MUSTER_EXTERN muster_cluster_t *muster_worker_cluster(const muster_worker_t *w);
MUSTER_EXTERN void *muster_worker_data(const muster_worker_t *w);
MUSTER_EXTERN void muster_worker_set_data(muster_worker_t *w, void *data);

/* Sends a user message to the worker, as muster_channel_send() (JSON value,
 * optional handle_fd, options, cb). Errors: as muster_channel_send();
 * MUSTER_ENOTCONN once the channel ended. */
MUSTER_EXTERN int muster_worker_send(muster_worker_t *w, const json_t *message,
                                     int handle_fd,
                                     const muster_send_options_t *options,
                                     muster_send_cb cb, void *arg);
/* As muster_worker_send() with JSON text (muster_channel_send_text()). */
MUSTER_EXTERN int muster_worker_send_text(muster_worker_t *w, const char *json,
                                          size_t len, int handle_fd,
                                          const muster_send_options_t *options,
                                          muster_send_cb cb, void *arg);

/* Node's worker.disconnect() in the primary: no new connections go to the
 * worker, it is sent "disconnect" (it closes its servers, finishes its
 * connections and closes the channel), and it is not restarted. No signal
 * follows: use muster_worker_stop() for the escalating form.
 * Errors: MUSTER_ENOTCONN (channel already ended). */
MUSTER_EXTERN int muster_worker_disconnect(muster_worker_t *w);

/* Graceful stop with escalation (the policy's schedule: disconnect, wait,
 * stop signal, wait, SIGKILL); not restarted. 0 when already stopping.
 * Errors: MUSTER_ESRCH (already exited). */
MUSTER_EXTERN int muster_worker_stop(muster_worker_t *w);

/* Kills the worker with `signum` (0: SIGTERM), disconnecting its channel
 * first; it is not restarted (exitedAfterDisconnect).
 * Errors: MUSTER_EINVAL (bad signal), MUSTER_ESRCH (already exited). */
MUSTER_EXTERN int muster_worker_kill(muster_worker_t *w, int signum);

/* ==== worker ============================================================= */

typedef void (*muster_cluster_worker_message_cb)(muster_cluster_worker_t *w,
                                                 muster_message_t *message);
typedef void (*muster_cluster_worker_cb)(muster_cluster_worker_t *w);
typedef void (*muster_cluster_worker_disconnect_cb)(muster_cluster_worker_t *w,
                                                    int unexpected);

typedef struct {
  /* A user message from the primary (valid during the call). */
  muster_cluster_worker_message_cb on_message;
  /* The primary asked this worker to leave ("disconnect"), or
   * muster_cluster_worker_disconnect() was called: every server has been
   * closed (no new connections). Close idle connections and finish the
   * others, reporting each with muster_server_connection_closed(): the
   * channel is closed once every server's count is 0. */
  muster_cluster_worker_cb on_disconnecting;
  /* The channel ended. unexpected 0: after a disconnect (this worker should
   * now end its loop and exit). unexpected 1: the primary went away (Node's
   * worker calls process.exit(0) here; a muster worker is also sent its
   * parent-death signal when the primary dies). */
  muster_cluster_worker_disconnect_cb on_disconnect;
  /* Parent-death signal for this process; 0: SIGKILL; -1: none. */
  int pdeath_signal;
  void *data;
} muster_cluster_worker_options_t;

/* Joins the primary: opens the channel the primary gave this process
 * (muster_channel_from_parent: call before starting threads), removes
 * NODE_UNIQUE_ID from the environment, sets the parent-death signal, and
 * sends "online". Free with muster_cluster_worker_close().
 * Errors: MUSTER_ENOTCONN (not a worker: no NODE_UNIQUE_ID or no channel),
 * MUSTER_EALREADY (already opened in this process), MUSTER_EINVAL,
 * muster_channel_from_parent()'s errors, MUSTER_ENOMEM. */
MUSTER_EXTERN int
muster_cluster_worker_open(uv_loop_t *loop,
                           const muster_cluster_worker_options_t *options,
                           muster_cluster_worker_t **out);

/* This worker's id (Node's cluster.worker.id). */
MUSTER_EXTERN int muster_cluster_worker_id(const muster_cluster_worker_t *w);
/* 1 while the channel to the primary is open. */
MUSTER_EXTERN int
muster_cluster_worker_is_connected(const muster_cluster_worker_t *w);

/* Sends a user message to the primary (process.send()); as
 * muster_channel_send(). Errors: as muster_channel_send(). */
MUSTER_EXTERN int
muster_cluster_worker_send(muster_cluster_worker_t *w, const json_t *message,
                           int handle_fd, const muster_send_options_t *options,
                           muster_send_cb cb, void *arg);
MUSTER_EXTERN int muster_cluster_worker_send_text(
    muster_cluster_worker_t *w, const char *json, size_t len, int handle_fd,
    const muster_send_options_t *options, muster_send_cb cb, void *arg);

/* Node's worker.disconnect() in a worker: closes every server (each sends
 * "close" for its key), calls on_disconnecting, waits until every server's
 * open connections are reported closed, tells the primary it leaves by
 * choice (exitedAfterDisconnect, waiting for the ack), then closes the
 * channel: on_disconnect(w, 0). Errors: MUSTER_ENOTCONN (not connected),
 * MUSTER_EALREADY (already disconnecting). */
MUSTER_EXTERN int muster_cluster_worker_disconnect(muster_cluster_worker_t *w);

/* Tells the primary this worker is ready (for workers that do not listen,
 * or that must warm up first; see MUSTER_CLUSTER_EXPLICIT_READY). A Node
 * primary ignores it. Errors: MUSTER_ENOTCONN. */
MUSTER_EXTERN int muster_cluster_worker_ready(muster_cluster_worker_t *w);

/* Announces that this worker is about to leave (say, it hit a memory
 * limit): a muster primary starts its replacement at once, stops handing it
 * new connections, and lets it drain: after kill_timeout_ms it sends the
 * stop signal (then SIGKILL, per the schedule). A Node primary ignores it.
 * Errors: MUSTER_ENOTCONN. */
MUSTER_EXTERN int muster_cluster_worker_leaving(muster_cluster_worker_t *w);

/* Frees the worker object: closes the channel at once if still open (the
 * primary sees an unexpected disconnect) and its servers; cb (may be NULL)
 * on a later loop turn. Servers made with this worker must be closed first
 * or are closed here (their close callbacks are then not called). */
MUSTER_EXTERN void muster_cluster_worker_close(muster_cluster_worker_t *w,
                                               muster_cluster_worker_cb cb);

MUSTER_EXTERN void *
muster_cluster_worker_data(const muster_cluster_worker_t *w);
MUSTER_EXTERN uv_loop_t *
muster_cluster_worker_loop(const muster_cluster_worker_t *w);

/* ==== servers (both roles) =============================================== */

/* Bits of muster_server_options_t.flags. */
enum {
  /* Node's exclusive: listen locally, never through the primary. */
  MUSTER_SERVER_EXCLUSIVE = 1 << 0,
};

/* A connection was accepted: `fd` (O_NONBLOCK, O_CLOEXEC) now belongs to
 * the callee, which typically wraps it with uv_tcp_open() or uv_pipe_open().
 * When it is closed, call muster_server_connection_closed(server). */
typedef void (*muster_connection_cb)(muster_server_t *server, int fd);
/* The server listens (status 0; for UDP the socket is bound: take it with
 * muster_server_fd), or could not (status < 0: the primary's bind error,
 * e.g. MUSTER_EADDRINUSE, or MUSTER_ENOTCONN when the channel ended first;
 * close the server). */
typedef void (*muster_listening_cb)(muster_server_t *server, int status);

typedef struct {
  /* What to listen on: kind, address, port, backlog, flags
   * (MUSTER_LISTEN_IPV6ONLY; BIND_ONLY and REUSEPORT are the primary's
   * business and are ignored in a worker). */
  muster_listen_options_t listen;
  unsigned flags; /* MUSTER_SERVER_* */
  /* Refuse a handed connection (accepted:false: the primary gives it to
   * another worker) while this many are open; 0: no limit (Node's
   * server.maxConnections, round-robin only). */
  unsigned max_connections;
  muster_connection_cb on_connection; /* streams: required */
  muster_listening_cb on_listening;   /* may be NULL */
  void *data;                         /* muster_server_data() */
} muster_server_options_t;

/* Creates a server. With `worker` NULL, or MUSTER_SERVER_EXCLUSIVE, it binds
 * and listens in this process (muster_listen()) and on_listening(0) comes on
 * a later loop turn; in a worker it asks the primary (queryServer) and
 * on_listening comes with the reply: a round-robin key then receives its
 * connections from the primary, a shared key gets the primary's bound
 * socket and accepts on it itself, a reuseport key its own socket.
 * Connections go to on_connection. Free with muster_server_close().
 * Errors (nothing to free): MUSTER_EINVAL (NULL loop/options/out, a stream
 * without on_connection, `worker` on another loop), MUSTER_ENOTCONN (the
 * worker's channel ended), muster_listen()'s errors for a local server,
 * MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_cluster_listen(uv_loop_t *loop,
                                        muster_cluster_worker_t *worker,
                                        const muster_server_options_t *options,
                                        muster_server_t **out);

/* Stops accepting at once, closes the socket and tells the primary
 * ("close" for the key). Like Node's server.close(cb), the server is freed
 * and cb (may be NULL) called once every connection it handed out has been
 * reported closed with muster_server_connection_closed() (on a later loop
 * turn; at once when there are none). Connections stay the user's. */
typedef void (*muster_server_close_cb)(muster_server_t *server);
MUSTER_EXTERN void muster_server_close(muster_server_t *server,
                                       muster_server_close_cb cb);

/* One connection handed to on_connection was closed: keeps the open count
 * that least-connections scheduling, max_connections and a graceful
 * disconnect rely on. In a worker, closes of round-robin connections are
 * reported to the primary on the next loop turn, one message per server
 * for all of that turn's closes:
 * {"cmd":"NODE_CLUSTER","act":"muster:closed","key":K,"n":N,"seq":S},
 * which a Node primary ignores. Valid until the server's close callback. */
MUSTER_EXTERN void muster_server_connection_closed(muster_server_t *server);
/* Connections handed to on_connection and not yet reported closed. */
MUSTER_EXTERN unsigned muster_server_connections(const muster_server_t *s);

/* The server's socket: the listening socket (local and shared), the UDP
 * socket, or -1 (round-robin: there is none in this process; or not yet
 * listening). The server owns it: dup() it before wrapping it with
 * uv_udp_open(), which takes ownership. */
MUSTER_EXTERN int muster_server_fd(const muster_server_t *server);
/* The address the server listens on (as muster_listen_address()): for a
 * round-robin key, the primary's socket's (its reply's sockname).
 * Errors: MUSTER_ENOTCONN (not listening), MUSTER_ENOBUFS. */
MUSTER_EXTERN int muster_server_address(const muster_server_t *server,
                                        char *addr, size_t len, int *port);
/* The key the primary gave (NULL for a local server or before the reply). */
MUSTER_EXTERN const char *muster_server_key(const muster_server_t *server);
/* How connections reach this server: MUSTER_SCHED_RR for hand-offs from the
 * primary (RR or LEAST_CONN there), MUSTER_SCHED_SHARED for a socket it
 * accepts on (shared, reuseport, local), 0 before listening. */
MUSTER_EXTERN muster_sched_t muster_server_mode(const muster_server_t *s);
MUSTER_EXTERN void *muster_server_data(const muster_server_t *server);
MUSTER_EXTERN void muster_server_set_data(muster_server_t *server, void *data);

#endif
