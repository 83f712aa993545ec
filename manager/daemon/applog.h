/* An instance's log files: what its stdout and stderr are written to,
 * through the rotating, bounded, never-blocking writer of
 * include/muster/logfile.h.
 *
 * Paths follow PM2 (applog_open_spec): out_file and error_file, by
 * default MUSTER_HOME/logs/<name>-out.log and -err.log; log_file, when
 * set, a third file where both streams are combined (`true`: logs/<name>
 * .log). With several instances and without merge_logs every path gets
 * "-<pm_id>" (before ".log"); with merge_logs the instances share them.
 *
 * A path is one muster_logfile_t in the whole daemon, however many
 * instances and streams write to it (merge_logs, out and err on one path,
 * the combined file), so rotation stays one writer's job and loses
 * nothing. Each process of the instance (applog_out_t) has, per stream,
 * one source per file it feeds, closed when its pipe ends: a process's
 * partial last line is written as a line of its own, never joined to the
 * next process's output. The spec's log
 * attributes (time, log_date_format, log_type, log_max_size, log_retain,
 * log_compress, log_rotate_interval, log_max_total; include/muster/
 * appspec.h) set the layout and rotation; the first instance to open a
 * path sets them. When a file's queue is full every stream feeding it is
 * paused (on_pause), and resumed once no file it feeds is full: the app
 * then waits on its own full pipe and the daemon's memory stays bounded.
 * All on the loop's thread. */
#ifndef MANAGER_APPLOG_H
#define MANAGER_APPLOG_H

#include <jansson.h>
#include <muster/logfile.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct applog_s applog_t;
typedef struct applog_out_s applog_out_t; /* one process's stdout+stderr */

/* paused = 1: stop reading the child's output slot `slot` (1 stdout, 2
 * stderr); 0: read it again. */
typedef void (*applog_pause_cb)(void *data, int slot, int paused);

/* Opens the files of instance `index` (pm_id `pm_id`) of the app in
 * `spec` (borrowed), by the rules above, with default paths in `logs`.
 * Errors: muster_logfile_open()'s (MUSTER_ENOENT, MUSTER_EACCES, ...),
 * MUSTER_EINVAL, MUSTER_ENOMEM. */
int applog_open_spec(uv_loop_t *loop, const json_t *spec, const char *logs,
                     int pm_id, int index, applog_pause_cb on_pause, void *data,
                     applog_t **log);
/* Opens the files `out` and `err` (created 0640) for the instance `index`
 * of the app named in `spec` (borrowed), and no combined file. Errors: as
 * applog_open_spec(). */
int applog_open(uv_loop_t *loop, const json_t *spec, int index, const char *out,
                const char *err, applog_pause_cb on_pause, void *data,
                applog_t **log);
/* The streams of one new process of the instance. Errors: MUSTER_ENOMEM,
 * MUSTER_EINVAL. */
int applog_out_open(applog_t *log, applog_out_t **out);
/* Room in the log's queue to read `slot`'s next bytes into, so that
 * applog_out_write() of them queues them without a copy
 * (muster_logsource_reserve). Returns 0, or an error: read into a buffer
 * of your own then. */
int applog_out_reserve(applog_out_t *out, int slot, size_t want, char **buf,
                       size_t *len);
/* Bytes the process wrote to `slot` (1 or 2). Never blocks, never fails. */
void applog_out_write(applog_out_t *out, int slot, const char *buf,
                      size_t len);
/* The end of `slot`'s pipe: its partial line, if any, is written as a
 * line; later writes to the slot are dropped. */
void applog_out_end(applog_out_t *out, int slot);
/* Ends both streams and frees `out`; every out of a log must be closed
 * before applog_close(). NULL is a no-op. */
void applog_out_close(applog_out_t *out);
/* 1 while the writer asks that `slot` not be read (a new child of the
 * instance starts paused then). */
int applog_paused(const applog_t *log, int slot);
/* Reopens the files by their paths (SIGUSR1, reload-logs). */
void applog_reopen(applog_t *log);
/* Empties the files (`flush`), keeping rotated ones. */
void applog_flush(applog_t *log);
/* The path of slot 1 (out), 2 (err) or 3 (the combined file: NULL when
 * there is none). */
const char *applog_path(const applog_t *log, int slot);
/* Adds the writers' figures to `obj`: log_bytes_written, log_rotations,
 * dropped_log_bytes, log_write_errors, dropped_follow_bytes and
 * dropped_follow_lines (what followers of the files lost: applog_dropped;
 * a file shared by several instances counts in each), and pm_log_path
 * when there is a combined file. */
void applog_stats(const applog_t *log, json_t *obj);
/* Closes the files (every applog_out_t closed before) once
 * what is queued is written and no other instance uses them; the loop
 * must keep running until then. NULL is a no-op. */
void applog_close(applog_t *log);

/* ---- following (logs --follow) ----------------------------------------- */

typedef struct applog_follow_s applog_follow_t;
/* A new line of the followed stream; `line` as muster_logline_cb's. */
typedef void (*applog_line_cb)(applog_follow_t *f, const muster_logline_t *line,
                               void *data);
/* The file closed (the last instance writing to it went): no more lines;
 * `f` is freed after this call. */
typedef void (*applog_gone_cb)(applog_follow_t *f, void *data);

/* Calls on_line for every line this instance writes to `slot` (1 or 2)
 * from now on; on_gone once its file closes. Errors: MUSTER_EINVAL,
 * MUSTER_ENOMEM. */
int applog_follow(applog_t *log, int slot, applog_line_cb on_line,
                  applog_gone_cb on_gone, void *data, applog_follow_t **out);
/* The follower could not take a line of `bytes` bytes ('\n' included)
 * and dropped it: counted for its file (applog_stats). */
void applog_dropped(applog_follow_t *f, size_t bytes);
/* Stops following; not to be called after on_gone. NULL is a no-op. */
void applog_unfollow(applog_follow_t *f);
/* The last `lines` lines (at most max_bytes) of the file of `slot` (1 or
 * 2) and its rotated files, written before this call: with
 * applog_follow() in the same loop turn, the history ends exactly where
 * the followed lines begin (muster_logfile_history). cb as
 * muster_logfile_tail_cb. Errors: MUSTER_EINVAL, MUSTER_ENOMEM. */
int applog_history(applog_t *log, int slot, size_t lines, size_t max_bytes,
                   muster_logfile_tail_cb cb, void *data);

/* Told of each instance's files opened from now on by applog_open_spec()
 * (so a follower of "all" or of a name sees the instances started later):
 * its spec, pm_id and instance index. One hook for the daemon; NULL
 * removes it. */
typedef void (*applog_open_cb)(applog_t *log, const json_t *spec, int pm_id,
                               int index, void *data);
void applog_on_open(applog_open_cb cb, void *data);

#endif
