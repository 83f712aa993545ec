/* One instance of an app: a supervised child (muster/supervise.h) running
 * in its own session and process group, its output in log files. */
#ifndef MANAGER_INSTANCE_H
#define MANAGER_INSTANCE_H

#include <jansson.h>
#include <muster.h>
#include <stdint.h>

#include "applog.h"
#include "procstat.h"

typedef struct inst_s inst_t;
typedef struct inst_row_s inst_row_t; /* a supervisor row (instance.c) */
typedef struct inst_out_s inst_out_t; /* a process's output (instance.c) */

/* Told when the row changes state (registry.c answers pending commands). */
typedef void (*inst_state_cb)(inst_t *inst);
/* Told once the instance may be freed (inst_destroy was called and every
 * process and child object of it is gone). */
typedef void (*inst_gone_cb)(inst_t *inst);

typedef struct {
  const char *home; /* MUSTER_HOME, for the apps' env */
  const char *logs; /* MUSTER_HOME/logs */
  void *owner;      /* the registry */
  inst_state_cb on_state;
  inst_gone_cb on_gone;
} inst_env_t;

struct inst_s {
  const inst_env_t *ie;
  void *op;         /* the registry's: the command waiting on this one */
  unsigned op_mark; /* the registry's: `starts` when that began */
  unsigned starts;  /* processes started so far */
  int pm_id;
  int index;               /* 0 .. instances-1 */
  json_t *spec;            /* normalized declared spec */
  json_t *inherited;       /* environment the CLI gave at start (or NULL) */
  uint64_t env_updated_ms; /* wall clock of the last --update-env, or 0 */
  muster_supervisor_t *sup; /* the serving row's supervisor */
  inst_row_t *rows;         /* every row not closed yet, sup's included */
  inst_row_t *next;         /* reload: the row coming up, or NULL */
  inst_out_t *outs;         /* output of every process still read */
  muster_supervise_replace_t *replace; /* reload: the operation */
  uv_timer_t ready_timer;   /* reload: min_uptime of the new process */
  json_t *next_spec, *next_inherited; /* reload --update-env: for next */
  int reload_err;           /* the last reload's result (0: replaced) */
  uint64_t reload_ms;       /* wall clock of its end, or 0 */
  char reload_why[224];     /* why it failed, or "" */
  unsigned holds;           /* rows and the timer not closed yet */
  applog_t *log;
  uint64_t created_ms, started_ms;
  unsigned restart_base;  /* `reset` */
  unsigned restart_carry; /* restarts of rows replaced by --update-env */
  int recreate;           /* a new row is due once this one stopped */
  int destroying;
  procstat_sample_t usage;       /* cpu and memory, for ls */
  char error[256];               /* why it is errored, for ls and describe */
};

/* Makes an instance from a normalized spec (borrowed; a reference is
 * kept) and its inherited env (may be NULL). Not started. Errors:
 * MUSTER_EINVAL with `err` filled (no such script, no interpreter),
 * MUSTER_ENOMEM, log file errors. */
int inst_create(uv_loop_t *loop, const inst_env_t *ie, int pm_id, int index,
                json_t *spec, json_t *inherited, inst_t **out, char *err,
                size_t errlen);
/* Checks that the spec can run (script, interpreter); err says why not. */
int inst_check(const inst_env_t *ie, json_t *spec, json_t *inherited, char *err,
               size_t errlen);
/* Replaces the spec and the inherited env (restart --update-env); the
 * supervisor is remade with them once the row next reaches STOPPED, which
 * a restart does on its way. */
void inst_update(inst_t *inst, json_t *spec, json_t *inherited);
/* PM2's status word: online, launching, stopping, stopped, errored,
 * "waiting restart". */
const char *inst_status(const inst_t *inst);
/* Restarts counted since the last reset. */
unsigned inst_restarts(const inst_t *inst);
/* Restarts the process (stop, then start: not a reload); after
 * inst_update, on a new row. */
void inst_restart(inst_t *inst);
/* Rolling reload of this instance (muster_supervise_replace): a new row
 * starts, with `spec` and `inherited` when spec is not NULL (--update-env;
 * borrowed, references kept), else with the instance's; once it is online (it sent "ready" with
 * wait_ready, else it ran for min_uptime) the old process is stopped. If
 * the new one fails first (exits, crash loop, no "ready" within
 * listen_timeout, cannot start), it is stopped, the old one keeps running
 * with its spec and env, reload_err and error say why. ie->on_state is told when it ended.
 * Returns 0 when under way, or the synchronous failure (also in
 * reload_err). A reload under way is given up by another reload, a
 * restart, a stop or inst_destroy. */
int inst_reload(inst_t *inst, json_t *spec, json_t *inherited);
/* Why the last reload failed ("" after one that did not). */
const char *inst_reload_error(const inst_t *inst);
/* 1 while a reload is under way. */
int inst_reloading(const inst_t *inst);
/* Stops the process (giving up a reload under way). */
void inst_stop(inst_t *inst);
/* The main process's pid, or 0. */
int inst_pid(const inst_t *inst);
/* 1 when `pid` is a process of one of the instance's rows (a reload's new
 * one, or one still being stopped, included): the reaper leaves it. */
int inst_owns_pid(const inst_t *inst, int pid);
/* Sends `signo` to the main process. */
int inst_kill(inst_t *inst, int signo);
/* The environment the process gets (a new object). */
json_t *inst_environment(const inst_t *inst);
/* Reopens / empties the log files. */
void inst_reopen_logs(inst_t *inst);
void inst_flush_logs(inst_t *inst);
/* Stops what is left and frees the instance once its processes are gone
 * (ie->on_gone, then the memory). Only after the row is STOPPED. */
void inst_destroy(inst_t *inst);

#endif
