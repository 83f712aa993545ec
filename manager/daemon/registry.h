/* The app registry: every instance by pm_id, the commands that act on
 * them, and their views (PM2's jlist shape). */
#ifndef MANAGER_REGISTRY_H
#define MANAGER_REGISTRY_H

#include "cmdargs.h"
#include "daemon.h"

int registry_create(daemon_t *d, registry_t **out);
/* Frees the registry; every instance must be stopped (registry_stop_all). */
void registry_close(registry_t *r);

/* Runs an app command (start, stop, restart, reload, delete, signal,
 * reset, list, describe, flush, reload-logs, save, resurrect), its
 * arguments read by cmdargs_decode (borrowed for the call). */
void registry_command(registry_t *r, ctl_req_t *req, const cmdargs_t *args);

/* Stops every app; calls done(arg) once all are stopped. Once per process
 * (the daemon's exit): its state is static, not allocated, so running out
 * of memory cannot keep the daemon from stopping them. */
void registry_stop_all(registry_t *r, void (*done)(void *), void *arg);

/* 1 when `pid` is an app's main process, which libmuster reaps itself. */
int registry_owns_pid(const registry_t *r, int pid);
typedef struct inst_s inst_t;
/* The instances `target` names ("all", a pm_id, a name, a namespace) in
 * pm_id order: *out a malloc'd array (free it) of *n. Errors:
 * MUSTER_ESRCH (no such app), MUSTER_EINVAL (no target), MUSTER_ENOMEM. */
int registry_select(registry_t *r, const char *target, inst_t ***out, int *n);
/* Number of instances. */
int registry_count(const registry_t *r);
/* SIGUSR1 / reload-logs. */
void registry_reopen_logs(registry_t *r);

/* ---- for dump.c ------------------------------------------------------- */

/* The declared apps: one spec per app (not per instance), in pm_id order. */
json_t *registry_specs(const registry_t *r);
/* 1 when an app of this name is registered. */
int registry_has_name(const registry_t *r, const char *name);
/* Starts an app from a spec (as `start`); the result is appended to
 * `started`. Returns 0 or an error with err filled. */
int registry_start_spec(registry_t *r, const json_t *spec, json_t *inherited,
                        int force, json_t *started, json_t *warnings, char *err,
                        size_t errlen);

#endif
