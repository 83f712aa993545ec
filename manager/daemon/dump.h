/* save / resurrect: MUSTER_HOME/dump.json, written atomically. */
#ifndef MANAGER_DUMP_H
#define MANAGER_DUMP_H

#include "daemon.h"

/* Writes the declared apps to the dump (see dump.c); answers req. An
 * empty list needs force. */
void dump_save(registry_t *r, const home_t *h, ctl_req_t *req, int force);
/* Starts each app of the dump that is not registered under its name, and
 * answers req (returns 0). When a user or group of one is not known yet
 * (userdb.h), none starts, req is not answered and MUSTER_EAGAIN is
 * returned: each lookup is under way (the caller waits: commands_wait). */
int dump_resurrect(registry_t *r, const home_t *h, ctl_req_t *req);

/* Writes `text` (len bytes) to `path` atomically and durably: a temporary
 * file in the same directory, fsync, the older generations moved to
 * path.1 and path.2, rename over path, fsync of the directory. On error
 * `path` is untouched and the temporary file removed. */
int dump_write_file(const char *path, const char *text, size_t len);

#endif
