/* The apps' process groups on disk: MUSTER_HOME/groups.json lists every
 * group the daemon has running, so that a daemon started after its
 * predecessor was killed (kill -9, OOM killer) ends whatever that one left
 * behind before it serves a request. See groups.c and docs/manager.md.
 *
 * Daemon-wide state (one record per daemon process), used from the loop
 * thread only. */
#ifndef MANAGER_GROUPS_H
#define MANAGER_GROUPS_H

#include <stdint.h>
#include <uv.h>

#include "../home.h"

/* Reads the record a previous daemon of this home left, ends every group
 * in it that still runs (its stop signal, then SIGKILL after its kill
 * timeout; blocking, since nothing is served yet) and starts an empty
 * record. Returns the number of processes found still running (0 after a
 * clean exit), or MUSTER_ENAMETOOLONG for a home whose path is too long.
 * A missing, unreadable or foreign-boot record is treated as empty; a
 * record that cannot be written (a full disk) is reported on stderr and
 * the daemon runs on. Later changes are written from the end of each loop
 * turn of `loop` on, by the threadpool (groups.c). Call once, holding the
 * home's lock. */
int groups_open(uv_loop_t *loop, const home_t *h);

/* Records that the process group `pgid` (whose leader is the process
 * `pgid`) belongs to `key` (an app's supervisor row), with the stop signal and
 * kill timeout a successor should use. Replaces the key's previous group. Write
 * errors are reported on stderr (daemon.log) and otherwise ignored: the app
 * runs anyway. */
void groups_track(const void *key, int pgid, int signo,
                  uint64_t kill_timeout_ms);
/* The key's group is gone (or never was): forget it. */
void groups_untrack(const void *key);
/* Writes what is pending and closes the loop handle (at the daemon's
 * exit, once every app stopped: the record is then empty). */
void groups_close(void);

#endif
