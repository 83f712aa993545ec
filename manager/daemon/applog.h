/* An app's log files: what its stdout and stderr are written to.
 *
 * This is the daemon's only use of log files, kept behind these few calls
 * so that the rotating, bounded, never-blocking writer of
 * include/muster/logfile.h replaces it in one place. Until then: plain
 * appends (O_APPEND), no rotation, `--time` prefixes each line. */
#ifndef MANAGER_APPLOG_H
#define MANAGER_APPLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct applog_s applog_t;

/* Opens (creating, 0640) the file at `path` for appending. */
int applog_open(const char *path, int timestamps, applog_t **out);
/* Appends bytes of the app's output; with timestamps, each line that
 * starts here gets "YYYY-MM-DDTHH:MM:SS: ". Errors are counted as dropped
 * bytes, never reported to the app. */
void applog_write(applog_t *log, const char *buf, size_t len);
/* Reopens the file by its path (after an outside rotation: SIGUSR1). */
int applog_reopen(applog_t *log);
/* Empties the file (`flush`). */
int applog_truncate(applog_t *log);
uint64_t applog_dropped(const applog_t *log);
const char *applog_path(const applog_t *log);
void applog_close(applog_t *log);

#endif
