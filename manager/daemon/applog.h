/* An instance's log files: what its stdout and stderr are written to,
 * through the rotating, bounded, never-blocking writer of
 * include/muster/logfile.h.
 *
 * One muster_logfile_t per path (out and err; one when both name the same
 * file) and one source per stream. The spec's log attributes (time,
 * log_date_format, log_type, log_max_size, log_retain, log_compress,
 * log_rotate_interval, log_max_total; include/muster/appspec.h) set the
 * layout and rotation. When a file's queue is full the owner is told to
 * stop reading the streams that feed it (on_pause), and told again once
 * it may read them (resume): the app then waits on its own full pipe, the
 * daemon's memory stays bounded. All on the loop's thread. */
#ifndef MANAGER_APPLOG_H
#define MANAGER_APPLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct applog_s applog_t;

/* paused = 1: stop reading the child's output slot `slot` (1 stdout, 2
 * stderr); 0: read it again. */
typedef void (*applog_pause_cb)(void *data, int slot, int paused);

/* Opens the files `out` and `err` (created 0640) for the instance `index`
 * of the app named in `spec` (borrowed). Errors: muster_logfile_open()'s
 * (MUSTER_ENOENT, MUSTER_EACCES, ...), MUSTER_EINVAL, MUSTER_ENOMEM. */
int applog_open(uv_loop_t *loop, const json_t *spec, int index,
                const char *out, const char *err, applog_pause_cb on_pause,
                void *data, applog_t **log);
/* Bytes the child wrote to `slot` (1 or 2). Never blocks, never fails. */
void applog_write(applog_t *log, int slot, const char *buf, size_t len);
/* 1 while the writer asks that `slot` not be read (a new child of the
 * instance starts paused then). */
int applog_paused(const applog_t *log, int slot);
/* Reopens the files by their paths (SIGUSR1, reload-logs). */
void applog_reopen(applog_t *log);
/* Empties the files (`flush`), keeping rotated ones. */
void applog_flush(applog_t *log);
const char *applog_path(const applog_t *log, int slot);
/* Adds the writers' figures to `obj`: log_bytes_written, log_rotations,
 * dropped_log_bytes, log_write_errors. */
void applog_stats(const applog_t *log, json_t *obj);
/* Closes the streams (their partial lines are written) and the files once
 * what is queued is written; the loop must keep running until then. NULL
 * is a no-op. */
void applog_close(applog_t *log);

#endif
