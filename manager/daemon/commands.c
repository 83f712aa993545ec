/* Requests to the daemon itself (ping, kill); app commands go to the
 * registry. */
#include "daemon.h"
#include "logstream.h"
#include "registry.h"

#include <muster.h>

#include <unistd.h>

void commands_run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                  json_t *args) {
  if (d->exiting) {
    ctl_reply(req, MUSTER_ECANCELED, "the daemon is exiting", NULL);
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
    logstream_start(d, req, args);
    break;
  default:
    registry_command(d->registry, req, cmd, args);
    break;
  }
}
