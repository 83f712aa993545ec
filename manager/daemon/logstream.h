/* `logs`: an app's last lines from its files, then (follow) every new
 * line, streamed to the client as partial replies (muster/client.h,
 * MUSTER_CMD_LOGS). */
#ifndef MANAGER_LOGSTREAM_H
#define MANAGER_LOGSTREAM_H

#include "cmdargs.h"
#include "daemon.h"

/* Answers a `logs` request (its args read by cmdargs_decode). The stream ends
 * with its last reply (no follow), or when the client goes, or when the
 * daemon closes its connections. A client that reads too slowly never
 * holds the daemon: past 1 MiB waiting to be written to it and 512 KiB of
 * lines waiting behind that, new lines for it are dropped and counted. */
void logstream_start(daemon_t *d, ctl_req_t *req, const cmdargs_t *args);

#endif
