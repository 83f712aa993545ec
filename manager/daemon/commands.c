/* Requests to the daemon itself (ping, kill); app commands go to the
 * registry. Every request's arguments are read here first (cmdargs.h):
 * bad ones get an error before anything acts. */
#include "cmdargs.h"
#include "daemon.h"
#include "logstream.h"
#include "registry.h"

#include "../userdb.h"

#include <muster.h>

#include <stdlib.h>
#include <unistd.h>

/* A request waiting for the user database. */
typedef struct {
  userdb_waiter_t w;
  daemon_t *d;
  ctl_req_t *req;
  muster_client_cmd_t cmd;
  json_t *args;
} again_t;

static void on_answer(void *data) {
  again_t *t = data;
  commands_run(t->d, t->req, t->cmd, t->args);
  json_decref(t->args);
  free(t);
}

void commands_wait(daemon_t *d, ctl_req_t *req, const cmdargs_t *a) {
  again_t *t = malloc(sizeof *t);
  if (t == NULL) {
    ctl_reply(req, MUSTER_ENOMEM, NULL, NULL);
    return;
  }
  t->d = d;
  t->req = req;
  t->cmd = a->cmd;
  t->args = json_incref((json_t *)a->args);
  userdb_wait(&t->w, on_answer, t);
}

void commands_run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                  json_t *args) {
  if (d->exiting) {
    ctl_reply(req, MUSTER_ECANCELED, "the daemon is exiting", NULL);
    return;
  }
  cmdargs_t a;
  char err[256];
  if (cmdargs_decode(cmd, args, &a, err, sizeof err) < 0) {
    ctl_reply(req, MUSTER_EINVAL, err, NULL);
    return;
  }
  switch (cmd) {
  case MUSTER_CMD_PING:
    ctl_reply(req, 0, NULL,
              json_pack("{s:i, s:s, s:s, s:i, s:I}", "pid", (int)getpid(),
                        "version", MUSTER_VERSION_STRING, "home", d->home.dir,
                        "apps", registry_count(d->registry), "started_at",
                        (json_int_t)d->started_ms));
    break;
  case MUSTER_CMD_KILL:
    daemon_exit(d, req);
    break;
  case MUSTER_CMD_LOGS:
    logstream_start(d, req, &a);
    break;
  default:
    registry_command(d->registry, req, &a);
    break;
  }
}
