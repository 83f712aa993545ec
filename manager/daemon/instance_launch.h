/* What an instance runs (instance_launch.c), for instance.c: the argv of
 * the exec trampoline, the environment as a vector, the supervisor policy
 * of a spec. inst_check and inst_environment are in instance.h. */
#ifndef MANAGER_INSTANCE_LAUNCH_H
#define MANAGER_INSTANCE_LAUNCH_H

#include <jansson.h>
#include <muster.h>
#include <stddef.h>

#include "instance.h"

/* argv of the trampoline: muster __run <daemon pid>[:uid:gid] <file>
 * <argv0> args (NULL-terminated; free with inst_free_vector). */
char **inst_run_vector(const inst_t *inst);
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
