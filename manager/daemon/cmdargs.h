/* A request's arguments, checked before the daemon acts on them: the one
 * reader of what a client sends as "args" (muster/client.h lists them per
 * command). Pure: no daemon state, no I/O, so the whole way from a request
 * line to what the daemon acts on (the request codec, this, and the spec
 * check of `start`) has a fuzz target (fuzz/fuzz-command.c). Members not
 * used by a command are left out of the check and stay zero; unknown
 * members are ignored (a newer client may send more). */
#ifndef MANAGER_CMDARGS_H
#define MANAGER_CMDARGS_H

#include <jansson.h>
#include <muster/client.h>
#include <stddef.h>

/* What a target names: "all", a pm_id (digits, at most 9), else a name,
 * or a namespace when no app has that name. */
typedef struct {
  const char *text; /* borrowed from the args */
  int all;
  int id; /* the pm_id, or -1 */
} cmdargs_target_t;

enum { CMDARGS_FULL, CMDARGS_TABLE, CMDARGS_ROWS }; /* list's "fields" */

typedef struct cmdargs_s {
  muster_client_cmd_t cmd;
  const json_t *args; /* what was read (borrowed) */
  /* stop, restart, reload, delete, signal, reset, describe: required;
   * flush, logs: "all" when absent */
  cmdargs_target_t target;
  int force;          /* start, save */
  json_t *app;  /* start: one app, or */
  json_t *apps; /* start: several (an ecosystem file); each a spec
                       * still to be checked (config/spec.h) */
  /* start; restart and reload with update_env: the client's environment
   * (an object of strings), or NULL */
  json_t *env;
  int update_env;        /* restart, reload */
  json_t *set_env; /* restart, reload: --env K=V, or NULL */
  int signo;             /* signal: 1..31 */
  int fields;            /* list: CMDARGS_* */
  long long lines;       /* logs: 0..10,000,000 (15) */
  int streams;           /* logs: 1 out, 2 err, 3 both */
  int follow;            /* logs */
} cmdargs_t;

/* Reads `args` (borrowed: *out points into it) of command `cmd`. Returns 0,
 * or MUSTER_EINVAL with a sentence naming the command and the argument
 * in err. */
int cmdargs_decode(muster_client_cmd_t cmd, const json_t *args, cmdargs_t *out,
                   char *err, size_t errlen);

/* What `text` names (a target); text must not be NULL. */
void cmdargs_target(const char *text, cmdargs_target_t *out);

#endif
