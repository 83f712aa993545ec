/* The loop half of a log file: the bounded queue of formatted lines, the
 * jobs that hand batches to the threadpool, pressure (pause/resume),
 * subscribers and stats. See include/muster/logfile.h for the contract and
 * src/logfile_internal.h for how the two halves split the state. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logfile_internal.h"
#include "muster/error.h"

enum {
  OP_REOPEN = 1,
  OP_TRUNCATE = 2,
  OP_ROTATE = 4,
  OP_CLOSE = 8,
  OP_HISTORY = 16
};

/* While batches follow each other, the queue and the batch buffers swap
 * (no malloc, no page faults per batch); once the file has been idle for
 * IDLE_MS, buffers over SPARE_MAX are freed, so an idle file holds little
 * memory. Not at once: during a flood the writer often catches up with
 * the loop for a moment, and freeing then (glibc gives a 512 KiB block
 * back to the kernel) costs a page fault per 4 KiB on the next batch. */
#define SPARE_MAX (16u << 10)
/* The least room muster__logfile_room hands out (less when asked). */
#define ROOM_MIN (16u << 10)
#define IDLE_MS 200

/* A muster_logfile_history() request. It is made against the queue (the
 * next batch) and served by the job that writes that batch: the job writes
 * the `mark` bytes queued before the request, reads the file back, then
 * writes the rest. Nothing else writes the file meanwhile, so the history
 * ends exactly at the request. */
typedef struct history_s history_t;
struct history_s {
  size_t mark;
  size_t lines, max_bytes;
  muster_logfile_tail_cb cb;
  void *data;
  int status; /* set by the job */
  char *buf;
  size_t len;
  history_t *next;
};

struct muster_logsub_s {
  muster_logfile_t *file;
  muster_logline_cb cb;
  void *data;
  muster_logsub_t *next;
};

struct muster_logfile_s {
  uv_loop_t *loop;
  muster__logdisk_t disk;
  unsigned flags;
  size_t max_line, limit;
  muster_logfile_pressure_cb on_pressure;
  void *data;
  muster__logtime_t time;
  muster__logjson_t json;
  /* the queue (loop) and the batch in flight (the job) */
  char *q, *batch;
  size_t qlen, qcap, batch_len, batch_cap;
  char *spare; /* the last batch's buffer, for the next queue */
  size_t spare_cap;
  unsigned ops, job_ops;
  history_t *history, **history_end; /* against the queue, in order */
  history_t *job_history;            /* against the batch in flight */
  uv_work_t job;
  int busy;
  /* Starts the next job one loop turn later, so that what every source
   * read in this turn goes in one batch; then frees the buffers of an
   * idle file. Referenced only while a start waits on it. */
  uv_timer_t timer;
  int timer_closed;

  /* pruning and gzip of rotated files */
  uv_work_t prune_job;
  int pruning, prune_again;
  int prune_result; /* set by the prune job, read in prune_done */
  muster_logfile_stats_t stats;
  muster_logsub_t *subs;
  int sources;
  muster_logfile_close_cb close_cb;
  int closing;
};

static void start(muster_logfile_t *f);
static void on_timer(uv_timer_t *t);

int muster_logfile_open(uv_loop_t *loop, const char *path,
                        const muster_logfile_options_t *o,
                        muster_logfile_t **out) {
  static const muster_logfile_options_t none;
  if (loop == NULL || path == NULL || *path == '\0' || out == NULL)
    return MUSTER_EINVAL;
  if (o == NULL)
    o = &none;
  if ((o->max_line != 0 && o->max_line < 64) ||
      (unsigned)o->interval > MUSTER_LOGFILE_NEVER ||
      (o->flags & MUSTER_LOGFILE_TIME && o->flags & MUSTER_LOGFILE_JSON))
    return MUSTER_EINVAL;
  muster_logfile_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return MUSTER_ENOMEM;
  f->loop = loop;
  f->flags = o->flags;
  f->max_line = o->max_line ? o->max_line : 64u << 10;
  f->limit = o->buffer_limit ? o->buffer_limit : 1024u << 10;
  f->on_pressure = o->on_pressure;
  f->data = o->data;
  muster__logdisk_t *d = &f->disk;
  d->fd = -1;
  d->path = strdup(path);
  d->max_size = o->flags & MUSTER_LOGFILE_NO_SIZE_ROTATION ? UINT64_MAX
                : o->max_size                              ? o->max_size
                                                           : 10u << 20;
  d->interval = o->interval;
  d->retain = o->retain ? o->retain : 5;
  d->max_total = o->max_total;
  d->mode = o->mode ? o->mode : 0640;
  muster__logjson_free(&f->json); /* zeroes it, key -1 */
  int r =
      d->path ? muster__logtime_init(&f->time, o->date_format) : MUSTER_ENOMEM;
  if (r == 0)
    r = muster__logdisk_open(d);
  if (r != 0) {
    muster__logtime_free(&f->time);
    free(d->path);
    free(f);
    return r;
  }
  f->history_end = &f->history;
  uv_timer_init(loop, &f->timer); /* cannot fail */
  f->timer.data = f;
  uv_unref((uv_handle_t *)&f->timer);
  *out = f;
  return 0;
}

/* ---- jobs ---- */

/* The file a job belongs to, found without reading the request (libuv
 * writes it on another thread; see hand_over_order). */
#define FILE_OF(req, member)                                                   \
  ((muster_logfile_t *)((char *)(req)-offsetof(muster_logfile_t, member)))

static void job_work(uv_work_t *req) {
  muster_logfile_t *f = FILE_OF(req, job);
  muster__logdisk_t *d = &f->disk;
  muster__logfile_hand_over();
  if (f->job_ops & OP_REOPEN)
    muster__logdisk_reopen(d);
  if (f->job_ops & OP_TRUNCATE)
    muster__logdisk_truncate(d);
  if (f->job_ops & OP_ROTATE)
    muster__logdisk_rotate(d);
  size_t done = 0;
  for (history_t *h = f->job_history; h != NULL; h = h->next) {
    if (h->mark > done)
      muster__logdisk_write(d, f->batch + done, h->mark - done);
    done = h->mark;
    h->status = muster_logfile_tail_sync(d->path, h->lines, h->max_bytes,
                                         &h->buf, &h->len);
  }
  if (f->batch_len > done)
    muster__logdisk_write(d, f->batch + done, f->batch_len - done);
  if (f->job_ops & OP_CLOSE)
    muster__logdisk_close(d);
  muster__logfile_hand_over();
}

static void prune_work(uv_work_t *req) {
  muster_logfile_t *f = FILE_OF(req, prune_job);
  muster__logfile_hand_over();
  /* Only the fixed settings of f->disk are read here (see the internal
   * header); the write job may run at the same time. */
  int r = muster__logdisk_prune(&f->disk,
                                (f->flags & MUSTER_LOGFILE_COMPRESS) != 0);
  f->prune_result = r; /* read on the loop in prune_done, after the job */
  muster__logfile_hand_over();
}

static void finish_close(muster_logfile_t *f) {
  if (f->busy || f->pruning || !f->timer_closed)
    return;
  if (f->close_cb != NULL)
    f->close_cb(f);
  muster__logtime_free(&f->time);
  muster__logjson_free(&f->json);
  free(f->disk.path);
  free(f->q);
  free(f->batch);
  free(f->spare);
  free(f);
}

static void prune_done(uv_work_t *req, int status) {
  muster_logfile_t *f = req->data;
  muster__logfile_hand_over();
  f->pruning = 0;
  int r = status ? status : f->prune_result;
  if (r != 0) {
    f->stats.last_error = r;
    f->stats.write_errors++;
  }
  if (f->closing) {
    finish_close(f);
    return;
  }
  if (f->prune_again) {
    f->prune_again = 0;
    f->pruning = 1;
    f->prune_job.data = f;
    muster__logfile_hand_over();
    if (uv_queue_work(f->loop, &f->prune_job, prune_work, prune_done) != 0)
      f->pruning = 0;
  }
}

static void prune(muster_logfile_t *f) {
  if (f->pruning) {
    f->prune_again = 1;
    return;
  }
  f->pruning = 1;
  f->prune_job.data = f;
  muster__logfile_hand_over();
  if (uv_queue_work(f->loop, &f->prune_job, prune_work, prune_done) != 0)
    f->pruning = 0;
}

static void pressure(muster_logfile_t *f, int paused) {
  if (f->stats.paused == paused)
    return;
  f->stats.paused = paused;
  if (f->on_pressure != NULL)
    f->on_pressure(f, paused);
}

/* The histories the job read, to their callbacks (which must not close
 * the file; they may ask for another history). */
static void histories_done(muster_logfile_t *f, int status) {
  history_t *h = f->job_history;
  f->job_history = NULL;
  while (h != NULL) {
    history_t *next = h->next;
    if (status != 0 && h->status == 0)
      h->status = status;
    if (h->status != 0) {
      free(h->buf);
      h->buf = NULL;
      h->len = 0;
    }
    h->cb(h->status, h->buf, h->len, h->data);
    free(h);
    h = next;
  }
}

static void job_done(uv_work_t *req, int status) {
  muster_logfile_t *f = req->data;
  muster__logdisk_t *d = &f->disk;
  muster__logfile_hand_over();
  histories_done(f, status);
  f->busy = 0;
  f->stats.bytes_written += d->written;
  f->stats.dropped_bytes += d->failed;
  f->stats.rotations += d->rotations;
  f->stats.write_errors += d->errors;
  if (d->errors > 0)
    f->stats.last_error = d->last_error;
  if (d->rotations > 0 || (f->job_ops & OP_ROTATE))
    prune(f);
  d->written = d->failed = d->rotations = d->errors = 0;
  f->stats.queued_bytes -= f->batch_len;
  if (f->spare == NULL) {
    f->spare = f->batch;
    f->spare_cap = f->batch_cap;
  } else {
    free(f->batch);
  }
  f->batch = NULL;
  f->batch_len = f->batch_cap = 0;
  if (f->closing && (f->job_ops & OP_CLOSE)) {
    finish_close(f);
    return;
  }
  (void)status;
  start(f);
  if (!f->busy && !f->closing && !uv_is_active((uv_handle_t *)&f->timer))
    uv_timer_start(&f->timer, on_timer, IDLE_MS, 0); /* unreferenced */
  /* The queue is empty again (or small): whoever paused may read again.
   * Only here, never from inside a source's write. */
  if (f->qlen < f->limit)
    pressure(f, 0);
}

/* Hands the queue to a job, with the pending ops, if no job runs. */
static void start(muster_logfile_t *f) {
  if (f->busy || (f->qlen == 0 && f->ops == 0))
    return;
  if (uv_is_active((uv_handle_t *)&f->timer)) {
    uv_timer_stop(&f->timer);
    uv_unref((uv_handle_t *)&f->timer);
  }
  f->batch = f->q;
  f->batch_len = f->qlen;
  f->batch_cap = f->qcap;
  f->q = f->spare;
  f->qcap = f->spare_cap;
  f->qlen = 0;
  f->spare = NULL;
  f->spare_cap = 0;
  f->job_ops = f->ops;
  f->ops = 0;
  f->job_history = f->history;
  f->history = NULL;
  f->history_end = &f->history;
  f->busy = 1;
  f->job.data = f;
  muster__logfile_hand_over();
  if (uv_queue_work(f->loop, &f->job, job_work, job_done) != 0) {
    /* Only a NULL loop or callback fails: not our case. Keep it sane. */
    f->busy = 0;
  }
}

/* Idle since IDLE_MS: give back what a burst took. */
static void trim(muster_logfile_t *f) {
  if (f->spare_cap > SPARE_MAX) {
    free(f->spare);
    f->spare = NULL;
    f->spare_cap = 0;
  }
  if (f->qlen == 0 && f->qcap > SPARE_MAX) {
    free(f->q);
    f->q = NULL;
    f->qcap = 0;
  }
}

static void on_timer(uv_timer_t *t) {
  muster_logfile_t *f = t->data;
  uv_unref((uv_handle_t *)t);
  start(f);
  if (!f->busy)
    trim(f);
}

/* A job per read would cost a hand-over to the threadpool and back (two
 * thread wake-ups) per 64 KiB read. So a small queue waits for the end
 * of the loop turn: the timer, due at once, runs at the start of the next
 * turn, after every source that was readable in this one, and it is
 * referenced meanwhile, so the loop does not block in poll or end with
 * lines queued. A queue of half the limit goes at once. */
void muster__logfile_kick(muster_logfile_t *f) {
  if (f->busy || (f->qlen == 0 && f->ops == 0))
    return;
  if (f->ops != 0 || f->qlen >= f->limit / 2 || f->closing) {
    start(f);
    return;
  }
  uv_ref((uv_handle_t *)&f->timer);
  if (!uv_is_active((uv_handle_t *)&f->timer) ||
      uv_timer_get_due_in(&f->timer) > 0)
    uv_timer_start(&f->timer, on_timer, 0, 0);
}

static int request(muster_logfile_t *f, unsigned op) {
  if (f == NULL || f->closing)
    return MUSTER_EINVAL;
  f->ops |= op;
  start(f);
  return 0;
}

int muster_logfile_history(muster_logfile_t *f, size_t lines,
                           size_t max_bytes, muster_logfile_tail_cb cb,
                           void *data) {
  if (f == NULL || cb == NULL || f->closing)
    return MUSTER_EINVAL;
  history_t *h = calloc(1, sizeof *h);
  if (h == NULL)
    return MUSTER_ENOMEM;
  h->mark = f->qlen;
  h->lines = lines;
  h->max_bytes = max_bytes;
  h->cb = cb;
  h->data = data;
  *f->history_end = h;
  f->history_end = &h->next;
  return request(f, OP_HISTORY);
}

int muster_logfile_reopen(muster_logfile_t *f) {
  return request(f, OP_REOPEN);
}

int muster_logfile_flush(muster_logfile_t *f) {
  return request(f, OP_TRUNCATE);
}

int muster_logfile_rotate(muster_logfile_t *f) {
  return request(f, OP_ROTATE);
}

static void on_timer_closed(uv_handle_t *h) {
  muster_logfile_t *f = h->data;
  f->timer_closed = 1;
  finish_close(f);
}

void muster_logfile_close(muster_logfile_t *f, muster_logfile_close_cb cb) {
  if (f == NULL || f->closing)
    return;
  f->close_cb = cb;
  f->closing = 1;
  /* muster_logfile_subscribe's handles die with the file */
  while (f->subs != NULL) {
    muster_logsub_t *s = f->subs;
    f->subs = s->next;
    free(s);
  }
  f->ops |= OP_CLOSE;
  start(f);
  uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

/* ---- lines ---- */

int muster__logfile_grow(char **buf, size_t *cap, size_t want, size_t first) {
  if (want <= *cap)
    return 0;
  size_t n = *cap ? *cap : first;
  while (n < want)
    n *= 2;
  char *grown = realloc(*buf, n);
  if (grown == NULL)
    return MUSTER_ENOMEM;
  *buf = grown;
  *cap = n;
  return 0;
}

static int reserve(muster_logfile_t *f, size_t n) {
  return muster__logfile_grow(&f->q, &f->qcap, f->qlen + n, 4096);
}

int muster__logfile_raw(const muster_logfile_t *f) {
  return f->subs == NULL &&
         (f->flags & (MUSTER_LOGFILE_TIME | MUSTER_LOGFILE_JSON)) == 0;
}

/* Room for n more queued bytes: 0, or the line(s) must be dropped (the
 * DROP policy, or no memory); asks for a pause when over the limit. */
static int admit(muster_logfile_t *f, size_t n) {
  /* The queue alone is bounded: the batch in flight is the other half of
   * the double buffer, so the app keeps writing while the disk does. */
  if (f->qlen + n > f->limit) {
    if (f->flags & MUSTER_LOGFILE_DROP)
      return MUSTER_ENOBUFS;
    pressure(f, 1);
  }
  return reserve(f, n);
}

static void queued(muster_logfile_t *f, size_t n, size_t lines) {
  f->qlen += n;
  f->stats.lines_written += lines;
  f->stats.queued_bytes += n;
  if (f->stats.queued_bytes > f->stats.queued_peak)
    f->stats.queued_peak = f->stats.queued_bytes;
}

int muster__logfile_run(muster_logfile_t *f, const char *p, size_t n,
                        size_t lines) {
  int r = admit(f, n);
  if (r != 0)
    return r; /* line by line then: those that fit still go */
  memcpy(f->q + f->qlen, p, n);
  queued(f, n, lines);
  return 0;
}

char *muster__logfile_room(muster_logfile_t *f, size_t want, size_t *got) {
  if (!muster__logfile_raw(f) || f->qlen >= f->limit)
    return NULL;
  /* What the queue's buffer has free, or ROOM_MIN more: a quiet app's
   * file keeps a small queue, and in a flood the buffer doubles with each
   * read that fills it, as the batches it swaps with grew before. But no
   * more than the queue takes: what is read there is then queued without
   * passing the limit, so neither dropped (DROP) nor a cause to pause. A
   * full queue has no room: the caller reads into its own buffer, and
   * that write drops or pauses as usual. */
  size_t room = f->qcap - f->qlen > ROOM_MIN ? f->qcap - f->qlen : ROOM_MIN;
  if (room > want)
    room = want;
  if (room > f->limit - f->qlen)
    room = f->limit - f->qlen;
  if (reserve(f, room) != 0)
    return NULL;
  *got = room;
  return f->q + f->qlen;
}

int muster__logfile_commit(muster_logfile_t *f, const char *p, size_t n,
                           size_t lines) {
  /* Within the room handed out: admit grows nothing and finds the queue
   * under its limit. Checked all the same. */
  if (p != f->q + f->qlen || f->qlen + n > f->qcap || admit(f, n) != 0)
    return MUSTER_ENOBUFS;
  queued(f, n, lines);
  return 0;
}

char *muster__logfile_end(const muster_logfile_t *f) {
  return f->q ? f->q + f->qlen : NULL;
}

void muster__logfile_count_dropped(muster_logfile_t *f, size_t bytes,
                                   size_t lines) {
  f->stats.dropped_bytes += bytes;
  f->stats.dropped_lines += lines;
}

void muster__logfile_line(muster_logfile_t *f, const muster_logline_t *l) {
  for (muster_logsub_t *s = f->subs, *next; s != NULL; s = next) {
    next = s->next; /* the callback may unsubscribe itself */
    s->cb(s, l, s->data);
  }
  size_t tlen = 0, need;
  const char *stamp = NULL;
  if (f->flags & MUSTER_LOGFILE_JSON) {
    need = muster__logjson_bound(strlen(l->app), l->len);
  } else {
    if (f->flags & MUSTER_LOGFILE_TIME)
      stamp = muster__logtime_text(&f->time, l->time_ms, &tlen);
    need = tlen + (stamp ? 2 : 0) + l->len + 1;
  }
  if (admit(f, need) != 0) {
    f->stats.dropped_bytes += l->len + 1;
    f->stats.dropped_lines++;
    return;
  }
  char *o = f->q + f->qlen;
  if (f->flags & MUSTER_LOGFILE_JSON) {
    o += muster__logjson_write(&f->json, o, l);
  } else {
    if (stamp != NULL) {
      memcpy(o, stamp, tlen);
      memcpy(o + tlen, ": ", 2);
      o += tlen + 2;
    }
    memcpy(o, l->line, l->len);
    o[l->len] = '\n';
    o += l->len + 1;
  }
  queued(f, (size_t)(o - (f->q + f->qlen)), 1);
}

size_t muster__logfile_max_line(const muster_logfile_t *f) {
  return f->max_line;
}

void muster__logfile_count_split(muster_logfile_t *f) {
  f->stats.split_lines++;
}

void muster__logfile_sources(muster_logfile_t *f, int delta) {
  f->sources += delta;
  /* The JSON layout caches by the app string's address; a closed source's
   * address may come back for another app. */
  if (delta < 0)
    f->json.app = NULL;
}

/* ---- subscribers, stats ---- */

int muster_logfile_subscribe(muster_logfile_t *f, muster_logline_cb cb,
                             void *data, muster_logsub_t **out) {
  if (f == NULL || cb == NULL || out == NULL || f->closing)
    return MUSTER_EINVAL;
  muster_logsub_t *s = calloc(1, sizeof *s);
  if (s == NULL)
    return MUSTER_ENOMEM;
  s->file = f;
  s->cb = cb;
  s->data = data;
  s->next = f->subs;
  f->subs = s;
  *out = s;
  return 0;
}

void muster_logfile_unsubscribe(muster_logsub_t *s) {
  if (s == NULL)
    return;
  for (muster_logsub_t **p = &s->file->subs; *p != NULL; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  free(s);
}

void muster_logfile_stats(const muster_logfile_t *f,
                          muster_logfile_stats_t *out) {
  if (f != NULL && out != NULL)
    *out = f->stats;
}

const char *muster_logfile_path(const muster_logfile_t *f) {
  return f ? f->disk.path : NULL;
}

void *muster_logfile_data(const muster_logfile_t *f) {
  return f ? f->data : NULL;
}
