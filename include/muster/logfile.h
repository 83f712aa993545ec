/* Log files: an app's output framed into lines and written to rotating
 * files without ever blocking the loop.
 *
 *   muster_logfile_open()      one log file (a path), with its rotation
 *   muster_logsource_open()    one stream feeding it (app, instance, out/err)
 *   muster_logsource_write()   bytes read from the child's pipe
 *   muster_logsource_reserve() room to read them into, in place
 *   muster_logfile_subscribe() every new line, in process (`logs --follow`)
 *   muster_logfile_reopen(), _flush(), _stats(), _close()
 *   muster_logfile_tail()      the last N lines of a file and its rotations
 *   muster_logfile_history()   the same, ending exactly at the subscription
 *
 * A daemon holds one muster_logfile_t per file it writes (an app's out file
 * and err file, or one merged file; with merge_logs, the instances of an
 * app share them), and one muster_logsource_t per (instance, stream) that
 * feeds a file. It passes what it reads from a child's stdout or stderr to
 * muster_logsource_write(); a source that feeds two files (an err file and
 * PM2's combined log_file) is two sources.
 *
 * Lines. A source cuts its bytes into lines at '\n'. A partial line is held
 * until its end arrives, but never more than max_line bytes (64 KiB): a
 * longer line is written in pieces of max_line bytes, each a line of its
 * own. The partial line left when the source closes is written as a line.
 * Each line is written whole, with one of three layouts:
 *   raw (default)   the line as it came
 *   MUSTER_LOGFILE_TIME   "<time>: <line>", time formatted by date_format
 *   MUSTER_LOGFILE_JSON   {"time":"2026-12-02T04:50:12.123Z","app":"api",
 *                   "instance":0,"stream":"out","message":"..."}: one JSON
 *                   object a line, the message escaped (bytes that are not
 *                   UTF-8 become U+FFFD), time in UTC with milliseconds
 * date_format is strftime's, plus %L for milliseconds; a format without any
 * '%' is read as PM2's (moment.js) tokens: YYYY MM DD HH mm ss SSS Z.
 * The default is PM2's "YYYY-MM-DDTHH:mm:ss" in local time.
 *
 * Never blocking. Lines are appended to a memory queue on the loop's
 * thread; the libuv threadpool writes each batch with write(2) (one batch
 * in flight per file; a small queue waits for the end of the loop turn, so
 * that what one turn reads goes in one batch), rotates, and compresses
 * rotated files. The queue is
 * bounded by buffer_limit (1 MiB). When a line would take it over:
 *   - by default the file asks its sources' owner to pause (on_pressure
 *     with paused = 1): stop reading the pipes that feed it, so the app
 *     waits on its own full pipe. The line is kept (it was already read),
 *     so the queue can exceed the limit by what one write call passes in.
 *     Once the writer has caught up, on_pressure(paused = 0) says resume.
 *   - with MUSTER_LOGFILE_DROP the line is dropped and its bytes counted
 *     (stats.dropped_bytes); the app is never slowed down.
 * Memory per file is thus at most two batches (the queue and the one being
 * written), each about buffer_limit, plus max_line per source.
 * A write that fails (ENOSPC, EIO) loses that batch: its bytes count as
 * dropped and the error is kept in stats.last_error; writing goes on with
 * the next batch, so a full disk never stops the loop or grows memory.
 *
 * Rotation, on by default. Before a batch is written the writer rotates the
 * file when the batch would take it past max_size (10 MiB), or when the day
 * (or hour) changed since the file was started (local time). Rotation
 * renames the file to "<path>.<YYYYmmdd-HHMMSS>-<NNN>" (UTC, NNN a counter
 * that keeps names in order) and opens a new <path>; it never copies and
 * truncates. Rotation happens only between lines, so no line is cut in two
 * or lost; a single line longer than max_size is written whole. Then, with
 * MUSTER_LOGFILE_COMPRESS, rotated files are gzipped (to "<name>.gz") in the
 * threadpool, and the oldest rotated files are deleted so that at most
 * `retain` (5) stay, and, with max_total, so that the current file and the
 * rotated ones together stay under max_total bytes. A path that is not a
 * regular file (/dev/null, a FIFO) is never rotated.
 *
 * Following. muster_logfile_subscribe() calls back, on the loop, for every
 * line written to the file from then on (with its app, instance, stream
 * and time, before layout), so a daemon streams `logs --follow` from memory
 * and rotation cannot make a reader miss or repeat a line. Lines written
 * before subscribing come from muster_logfile_history(), which ends exactly
 * where the subscription begins.
 *
 * Threads: every function takes its objects on the loop's thread, except
 * muster_logfile_tail_sync(), which blocks and may be called anywhere.
 * Options and strings are borrowed for the call.
 */
#ifndef MUSTER_LOGFILE_H
#define MUSTER_LOGFILE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

typedef struct muster_logfile_s muster_logfile_t;
typedef struct muster_logsource_s muster_logsource_t;
typedef struct muster_logsub_s muster_logsub_t;

enum {
  MUSTER_LOGFILE_TIME = 1 << 0,     /* "<time>: " before each line */
  MUSTER_LOGFILE_JSON = 1 << 1,     /* one JSON object a line */
  MUSTER_LOGFILE_DROP = 1 << 2,     /* drop (and count) instead of pausing */
  MUSTER_LOGFILE_COMPRESS = 1 << 3, /* gzip rotated files */
  MUSTER_LOGFILE_NO_SIZE_ROTATION = 1 << 4 /* ignore max_size */
};

typedef enum {
  MUSTER_LOGFILE_DAILY = 0, /* the default */
  MUSTER_LOGFILE_HOURLY,
  MUSTER_LOGFILE_NEVER
} muster_logfile_interval_t;

/* The queue went over buffer_limit (paused = 1: stop reading the sources)
 * or was written out (paused = 0: read again). Called on the loop, only on
 * a change, never from inside muster_logsource_write()'s caller's stack
 * for the resume. */
typedef void (*muster_logfile_pressure_cb)(muster_logfile_t *file, int paused);
typedef void (*muster_logfile_close_cb)(muster_logfile_t *file);

/* Zero means the default for every field. */
typedef struct {
  unsigned flags;          /* MUSTER_LOGFILE_* */
  const char *date_format; /* with MUSTER_LOGFILE_TIME; see above */
  size_t max_line;         /* default 64 KiB; at least 64 */
  size_t buffer_limit;     /* default 1 MiB */
  uint64_t max_size;       /* default 10 MiB */
  muster_logfile_interval_t interval;
  /* Rotated files kept; 0: 5. MUSTER_LOGFILE_RETAIN_NONE keeps none (a
   * rotation then only starts the file afresh). */
  unsigned retain;
  uint64_t max_total;                     /* 0: no cap beyond retain */
  int mode;                               /* of a created file; 0: 0640 */
  muster_logfile_pressure_cb on_pressure; /* optional */
  void *data; /* returned by muster_logfile_data() */
} muster_logfile_options_t;

#define MUSTER_LOGFILE_RETAIN_NONE ((unsigned)-1)

typedef struct {
  uint64_t bytes_written; /* into files, layout included */
  uint64_t lines_written;
  uint64_t dropped_bytes; /* by MUSTER_LOGFILE_DROP or failed writes */
  uint64_t dropped_lines;
  uint64_t rotations;
  uint64_t split_lines; /* lines cut at max_line */
  uint64_t write_errors;
  int last_error;      /* the last failed write, rotation or gzip */
  size_t queued_bytes; /* in memory now: queue + batch in flight */
  size_t queued_peak;  /* the most queued_bytes has been */
  int paused;          /* on_pressure(1) was the last call */
} muster_logfile_stats_t;

/* Opens (creating, O_APPEND) `path` for writing and returns its writer in
 * *out. The open itself is done here, synchronously, so that a bad path is
 * reported at once: open(2)'s errors (MUSTER_ENOENT for a missing
 * directory, MUSTER_EACCES, ...), MUSTER_EINVAL (NULL arguments, bad
 * options), MUSTER_ENOMEM. Afterwards the file only ever blocks threadpool
 * threads. End it with muster_logfile_close(). */
MUSTER_EXTERN int muster_logfile_open(uv_loop_t *loop, const char *path,
                                      const muster_logfile_options_t *options,
                                      muster_logfile_t **out);

/* Writes out everything queued, closes the file and frees it; cb (may be
 * NULL) runs on the loop once that is done. Every source of the file must
 * have been closed before. */
MUSTER_EXTERN void muster_logfile_close(muster_logfile_t *file,
                                        muster_logfile_close_cb cb);

/* Closes and opens <path> again (SIGUSR1, `reload-logs`: someone else
 * moved the file), once the batch being written now is done: lines still
 * in memory go to the new file. Errors: MUSTER_EINVAL. A failure to reopen
 * shows in stats.last_error, and the next batch retries. */
MUSTER_EXTERN int muster_logfile_reopen(muster_logfile_t *file);

/* Empties the file (PM2's flush), keeping the rotated files, once the
 * batch being written now is done; lines still in memory are written after
 * it. Errors: MUSTER_EINVAL. */
MUSTER_EXTERN int muster_logfile_flush(muster_logfile_t *file);

/* Rotates once the batch being written now is done, whatever the size and
 * time. Errors: MUSTER_EINVAL. */
MUSTER_EXTERN int muster_logfile_rotate(muster_logfile_t *file);

MUSTER_EXTERN void muster_logfile_stats(const muster_logfile_t *file,
                                        muster_logfile_stats_t *out);
MUSTER_EXTERN const char *muster_logfile_path(const muster_logfile_t *file);
MUSTER_EXTERN void *muster_logfile_data(const muster_logfile_t *file);

/* ---- sources ------------------------------------------------------------ */

typedef enum { MUSTER_LOG_OUT = 1, MUSTER_LOG_ERR = 2 } muster_log_stream_t;

typedef struct {
  const char *app; /* for JSON lines and subscribers; copied */
  int instance;
  muster_log_stream_t stream; /* 0 means MUSTER_LOG_OUT */
} muster_logsource_options_t;

/* A stream feeding `file`. Errors: MUSTER_EINVAL, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_logsource_open(muster_logfile_t *file,
                                        const muster_logsource_options_t *o,
                                        muster_logsource_t **out);

/* Frames `len` bytes into lines and queues them; never blocks, never
 * fails: what cannot be queued is dropped and counted (with
 * MUSTER_LOGFILE_DROP) or queued past the limit while on_pressure asks for
 * a pause. */
MUSTER_EXTERN void muster_logsource_write(muster_logsource_t *src,
                                          const void *buf, size_t len);

/* Room to read the source's next bytes into, inside the file's queue, so
 * that they are queued without a copy (a daemon's on_alloc for the pipe,
 * muster_spawn_options_t). *buf and *len (at most `want`, at least 1) get
 * the room; read at most *len bytes there, then pass exactly (*buf, n) to
 * muster_logsource_write(). The room is valid until that write or any
 * other call on a source or on the file, which may queue lines over it
 * (a read that got nothing needs no call: the room is simply not used);
 * a write of the room after such a call counts its bytes as dropped. A write of other bytes is a copy as
 * always. Only for a raw file nobody follows; the room never takes the
 * queue past buffer_limit, so what is read there is never dropped and
 * never makes the file ask for a pause.
 * Errors: MUSTER_EINVAL (NULL arguments, want 0 or near SIZE_MAX),
 * MUSTER_ENOBUFS (no room here: the file applies a layout or has
 * subscribers, its queue is full, the source holds a partial line over 4
 * KiB (cheaper copied), or no memory; read into your own buffer). */
MUSTER_EXTERN int muster_logsource_reserve(muster_logsource_t *src,
                                           size_t want, char **buf,
                                           size_t *len);

/* Queues the partial line left, if any, and frees the source. */
MUSTER_EXTERN void muster_logsource_close(muster_logsource_t *src);

/* ---- following ---------------------------------------------------------- */

typedef struct {
  const char *app;
  int instance;
  muster_log_stream_t stream;
  int64_t time_ms;  /* wall clock, ms since the epoch */
  const char *line; /* without the '\n'; not NUL-terminated */
  size_t len;
} muster_logline_t;

/* Called on the loop for each line queued for the file; `line` is valid
 * during the call only. The callback must not close the file; it may
 * unsubscribe itself. */
typedef void (*muster_logline_cb)(muster_logsub_t *sub,
                                  const muster_logline_t *line, void *data);

MUSTER_EXTERN int muster_logfile_subscribe(muster_logfile_t *file,
                                           muster_logline_cb cb, void *data,
                                           muster_logsub_t **out);
MUSTER_EXTERN void muster_logfile_unsubscribe(muster_logsub_t *sub);

/* ---- times --------------------------------------------------------------- */

/* Writes the local time `ms` (ms since the epoch) as `format` says, read
 * as date_format above (strftime's with %L, or PM2's moment.js tokens when
 * it holds no '%'; NULL or "": PM2's "YYYY-MM-DDTHH:mm:ss"), into buf
 * (size bytes, NUL included). Returns the length, or MUSTER_EINVAL (NULL
 * buf, size 0), MUSTER_ENOMEM, MUSTER_ENOBUFS (the text does not fit, or
 * is empty). Any thread. */
MUSTER_EXTERN int muster_logfile_format_time(const char *format, int64_t ms,
                                             char *buf, size_t size);

/* ---- reading ------------------------------------------------------------ */

/* The last `lines` lines of <path> and, when it holds fewer, of its rotated
 * files (newest first, gzipped ones too), oldest line first, each ending in
 * '\n', in a malloc'd buffer (*out, *len; free() it). At most `max_bytes`
 * (0: 16 MiB) are returned: older lines are left out first. Blocks: the
 * daemon calls it from a threadpool thread (muster_logfile_tail below).
 * Errors: MUSTER_ENOENT (no such file and no rotated one), read errors,
 * MUSTER_EINVAL, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_logfile_tail_sync(const char *path, size_t lines,
                                           size_t max_bytes, char **out,
                                           size_t *len);

/* The result of muster_logfile_tail(): `buf` is the caller's to free(). */
typedef void (*muster_logfile_tail_cb)(int status, char *buf, size_t len,
                                       void *data);

/* muster_logfile_tail_sync() in the threadpool; cb runs on the loop.
 * Errors (cb is then not called): MUSTER_EINVAL, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_logfile_tail(uv_loop_t *loop, const char *path,
                                      size_t lines, size_t max_bytes,
                                      muster_logfile_tail_cb cb, void *data);

/* The last `lines` lines written to `file` (and its rotated files) before
 * this call, as muster_logfile_tail_sync() gives them, with no line queued
 * after it: a subscriber added in the same turn of the loop (before or
 * after this call, with no source written between) gets exactly the lines
 * that follow, so history and new lines meet with no line missing or
 * twice, whatever rotation or writing is under way (`logs --follow`).
 * Served by the file's own write job, which writes the lines queued before
 * the call, reads the file back, then goes on; cb runs on the loop, must
 * not close the file, and owns `buf` (NULL when status < 0: the errors of
 * muster_logfile_tail_sync()). Errors (cb is then not called):
 * MUSTER_EINVAL (NULL arguments, a file being closed), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_logfile_history(muster_logfile_t *file, size_t lines,
                                         size_t max_bytes,
                                         muster_logfile_tail_cb cb, void *data);

#endif
