/* What an instance runs (instance_launch.c), for instance.c: the app's
 * argv, its user and groups, the environment as a vector, the supervisor
 * policy of a spec. inst_check and inst_environment are in instance.h. */
#ifndef MANAGER_INSTANCE_LAUNCH_H
#define MANAGER_INSTANCE_LAUNCH_H

#include <jansson.h>
#include <muster.h>
#include <stddef.h>

#include "instance.h"

/* The app's argv, argv[0] being the file to run (the script, or its
 * interpreter); NULL-terminated, free with inst_free_vector; NULL when out
 * of memory. */
char **inst_argv(const inst_t *inst);
/* Sets the ids of `so` (flags SETUID, SETGID, SETGROUPS; uid, gid,
 * groups) for the spec's uid/gid, resolved now in the user database: the
 * user's supplementary groups as initgroups() would set them (only the
 * gid for a uid without a user entry), when the daemon is root. *groups
 * is the list so->groups points to: freed and replaced here, the
 * caller's to free in the end. Returns 0, or a negative error with a
 * sentence in `why` (spec_credentials' errors, MUSTER_ENOMEM, MUSTER_E2BIG
 * for too many groups); so's ids are then cleared. */
int inst_credentials(const json_t *spec, muster_spawn_options_t *so,
                     gid_t **groups, char *why, size_t whylen);
/* "K=V" strings of `env` (NULL-terminated; free with inst_free_vector). */
char **inst_env_vector(json_t *env);
void inst_free_vector(char **v);
/* 1 when the spec asks for wait_ready. */
int inst_wants_ready(const json_t *spec);
/* The supervisor policy of `spec`; `codes` (ncodes entries) holds its
 * stop_exit_codes and must outlive `p`. */
void inst_policy(const json_t *spec, muster_supervise_policy_t *p, int *codes,
                 size_t ncodes);

#endif
