/* Shared by src/logfile*.c. Not installed.
 *
 * A log file has two halves. The loop half (src/logfile.c) owns the queue,
 * the sources' lines, subscribers, stats and the pressure state. The disk
 * half (muster__logdisk_t, src/logfile_disk.c) owns the fd, the size and
 * the rotation state, and is touched by exactly one threadpool job at a
 * time; the loop reads its counters only in that job's after-work
 * callback. Rotated files are pruned and gzipped by a second kind of job
 * that reads only the disk half's fixed settings, never its mutable state,
 * and touches only rotated files, never <path>. */
#ifndef MUSTER_LOGFILE_INTERNAL_H
#define MUSTER_LOGFILE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "muster/logfile.h"

typedef struct {
  /* fixed after open */
  char *path;
  uint64_t max_size; /* UINT64_MAX: no size rotation */
  muster_logfile_interval_t interval;
  unsigned retain;
  uint64_t max_total;
  int mode;
  /* the writing job's own */
  int fd;
  int regular;   /* a regular file: rotation applies */
  uint64_t size; /* of <path>, as we wrote it */
  long period;   /* the day or hour <path> was started in */
  time_t last_stamp;
  unsigned last_seq;
  /* results, added up by the job, taken (and zeroed) by the loop */
  uint64_t written, failed, rotations, errors;
  int last_error;
} muster__logdisk_t;

/* Opens <path> (O_APPEND, O_CLOEXEC, created with disk->mode) and learns
 * its size and period. Returns 0 or -errno. */
int muster__logdisk_open(muster__logdisk_t *d);

/* Writes `len` bytes of whole lines, rotating before any line that would
 * take the file past max_size and when the period changed. */
void muster__logdisk_write(muster__logdisk_t *d, const char *buf, size_t len);

void muster__logdisk_rotate(muster__logdisk_t *d);
void muster__logdisk_reopen(muster__logdisk_t *d);
void muster__logdisk_truncate(muster__logdisk_t *d);
void muster__logdisk_close(muster__logdisk_t *d);

/* Gzips the rotated files not yet compressed (when `compress`), then
 * deletes the oldest rotated files beyond retain and max_total. Reads only
 * d's fixed settings. Returns 0 or the last error. */
int muster__logdisk_prune(const muster__logdisk_t *d, int compress);

/* The rotated files of <path>, oldest first, as malloc'd full paths in a
 * malloc'd array (free each and the array). Returns the count or -errno. */
int muster__logdisk_rotated(const char *path, char ***names);

/* Period number of a time (a day or an hour, local time); 0 for NEVER. */
long muster__logdisk_period(muster_logfile_interval_t interval, time_t t);

/* ---- line layout (src/logfile_format.c) ---- */

typedef struct {
  char *fmt;   /* strftime form, %L still in it */
  int has_ms;  /* fmt holds %L */
  int64_t key; /* the second or millisecond `text` is for */
  char text[128];
  size_t len;
} muster__logtime_t;

/* Takes a user's date format (strftime with %L, or moment.js tokens) into
 * t. NULL means PM2's default. Returns 0 or MUSTER_ENOMEM. */
int muster__logtime_init(muster__logtime_t *t, const char *format);
void muster__logtime_free(muster__logtime_t *t);

/* The text of `ms` (cached per second, or per ms with %L). */
const char *muster__logtime_text(muster__logtime_t *t, int64_t ms, size_t *len);

/* Upper bound of the JSON layout's size for a line of `len` bytes. */
size_t muster__logjson_bound(size_t app_len, size_t len);

/* What the JSON layout reuses from the line before. Zeroed with key -1
 * (muster__logjson_free does both). The app is compared by pointer: a
 * source's name lives as long as the source. */
typedef struct {
  int64_t key;
  char time[64];
  size_t tlen;
  const char *app;
  int instance;
  muster_log_stream_t stream;
  char *mid;
  size_t midlen;
} muster__logjson_t;

/* Writes the JSON layout of a line into out (room from
 * muster__logjson_bound); returns the bytes written, '\n' included. */
size_t muster__logjson_write(muster__logjson_t *j, char *out,
                             const muster_logline_t *line);
void muster__logjson_free(muster__logjson_t *j);

/* ---- between sources and the file (src/logfile.c) ---- */

/* Queues one line (layout applied), tells subscribers. */
void muster__logfile_line(muster_logfile_t *file, const muster_logline_t *l);
/* Whether lines go to the file byte for byte and nobody subscribes: then
 * a source may queue a run of whole lines at once with muster__logfile_run
 * (n bytes holding `lines` lines, each ending in '\n'). A run that does
 * not fit (DROP policy) is refused whole, with a negative result, for the
 * source to queue line by line. */
int muster__logfile_raw(const muster_logfile_t *file);
int muster__logfile_run(muster_logfile_t *file, const char *p, size_t n,
                        size_t lines);
/* Room at the end of the queue for a source to read into (see
 * muster_logsource_reserve): at most want bytes, *got says how many:
 * what the queue's buffer has free, grown to at least 16 KiB, and no more
 * than the queue still takes below its limit (whatever the policy).
 * NULL when the file is not raw (see above), its queue is full, or on
 * ENOMEM. The room is the queue's until the next line is
 * queued; muster__logfile_commit(file, p, n, lines) then queues n bytes
 * of whole lines read there in place (p the room's start), without a
 * copy. Returns MUSTER_ENOBUFS when p is not the queue's end or n does not
 * fit; the caller then copies. */
char *muster__logfile_room(muster_logfile_t *file, size_t want, size_t *got);
int muster__logfile_commit(muster_logfile_t *file, const char *p, size_t n,
                           size_t lines);
/* Where the next queued byte goes (NULL: no queue buffer yet). */
char *muster__logfile_end(const muster_logfile_t *file);
/* Bytes (and lines) lost for want of memory. */
void muster__logfile_count_dropped(muster_logfile_t *file, size_t bytes,
                                   size_t lines);
/* After a source's write: start a job if none runs. */
void muster__logfile_kick(muster_logfile_t *file);
size_t muster__logfile_max_line(const muster_logfile_t *file);
void muster__logfile_count_split(muster_logfile_t *file);
void muster__logfile_sources(muster_logfile_t *file, int delta);
/* Grows *buf (realloc, doubling from `first`) to hold `want` bytes.
 * Returns 0 or MUSTER_ENOMEM (then *buf and *cap are unchanged). */
int muster__logfile_grow(char **buf, size_t *cap, size_t want, size_t first);
/* Called on both sides of every hand-over to or from the threadpool (see
 * src/logfile_disk.c for why). */
void muster__logfile_hand_over(void);

#endif
