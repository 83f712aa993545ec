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

/* A table or a jlist asked while the daemon's own name is still being
 * asked of the user database (the first call after a cold start: the
 * idle daemon asks nothing) waits for the answer, at most NAME_WAIT_MS;
 * past that it shows the uid in decimal, as before. The wait ends with
 * the answer or the timer, whichever comes first; the other is then
 * ignored, and the record goes when both have run. */
#define NAME_WAIT_MS 250

static void run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                json_t *args, int may_wait);

typedef struct {
  userdb_waiter_t w;
  uv_timer_t timer;
  daemon_t *d;
  ctl_req_t *req;
  muster_client_cmd_t cmd;
  json_t *args;
  int answered, waiter_done, timer_closed;
} name_wait_t;

static void name_wait_free(name_wait_t *t) {
  if (!t->waiter_done || !t->timer_closed)
    return;
  json_decref(t->args);
  free(t);
}

static void name_wait_timer_closed(uv_handle_t *h) {
  name_wait_t *t = h->data;
  t->timer_closed = 1;
  name_wait_free(t);
}

/* Runs the request (once), then lets the timer go. */
static void name_wait_answer(name_wait_t *t) {
  if (t->answered)
    return;
  t->answered = 1;
  uv_close((uv_handle_t *)&t->timer, name_wait_timer_closed);
  run(t->d, t->req, t->cmd, t->args, 0);
}

static void on_name(void *data) {
  name_wait_t *t = data;
  const char *name;
  if (!t->answered && userdb_me(&name) == MUSTER_EAGAIN) {
    userdb_wait(&t->w, on_name, t); /* another key's answer: wait on */
    return;
  }
  t->waiter_done = 1;
  name_wait_answer(t);
  name_wait_free(t);
}

static void on_name_timeout(uv_timer_t *h) {
  name_wait_answer(h->data);
}

/* 1 when the request now waits for the daemon's name (and is answered
 * later), 0 when it can be answered now. */
static int wait_for_name(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                         json_t *args) {
  const char *name;
  if (cmd != MUSTER_CMD_LIST || userdb_me(&name) != MUSTER_EAGAIN)
    return 0;
  name_wait_t *t = calloc(1, sizeof *t);
  if (t == NULL || uv_timer_init(d->loop, &t->timer) != 0) {
    free(t);
    return 0; /* the number, then */
  }
  t->d = d;
  t->req = req;
  t->cmd = cmd;
  t->args = json_incref(args);
  t->timer.data = t;
  uv_timer_start(&t->timer, on_name_timeout, NAME_WAIT_MS, 0);
  userdb_wait(&t->w, on_name, t);
  return 1;
}

void commands_run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                  json_t *args) {
  run(d, req, cmd, args, 1);
}

/* `may_wait`: 0 once the request has waited for the daemon's name. */
static void run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                json_t *args, int may_wait) {
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
  if (may_wait && wait_for_name(d, req, cmd, args))
    return;
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
