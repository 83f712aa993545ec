/* `logs` (logstream.h). The new lines come from applog_follow(), in
 * memory as they are written, so a rotation cannot make a follower miss
 * or repeat a line. The history of each file is asked for
 * (applog_history) in the same loop turn as its follower is set up, and
 * the file's writer reads it back between the lines queued before that
 * moment and those after: history and new lines meet exactly, whatever
 * the writer or a rotation is doing. The files are read back at once, in
 * the threadpool, and sent in order, each once the connection drained;
 * the new lines wait until every history is sent. Lines are batched: they
 * wait in `pending` and a uv_check handle sends them once per loop
 * iteration, as one partial reply, while the connection's write queue is
 * under QUEUE_MAX. */
#include "logstream.h"
#include "applog.h"
#include "logline.h"
#include "instance.h"
#include "registry.h"

#include <muster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX (1u << 20)     /* bytes queued on the connection */
#define PENDING_MAX (512u << 10) /* bytes of lines waiting behind it */
#define FRAME_LINES 1000         /* lines in one partial reply at most */
#define HISTORY_BYTES (4u << 20) /* read back from one file at most */
#define HISTORY_TOTAL (16u << 20) /* from all files of a stream, ... */
#define HISTORY_MIN (64u << 10)   /* ... unless each then gets less */
#define LINE_COST 64             /* a line's JSON beyond its message */

typedef struct stream_s stream_t;

/* One file to read back, asked for when its follower was set up. */
typedef struct hist_s hist_t;
struct hist_s {
  stream_t *st;
  json_t *file; /* {path, app, pm_id, instance, stream} */
  int done;     /* its lines are back */
  int status;
  char *buf;
  size_t len;
  hist_t *next;
};

/* One followed (instance, stream). */
typedef struct fol_s fol_t;
struct fol_s {
  stream_t *st;
  applog_follow_t *f; /* NULL once its file closed */
  int pm_id;
  fol_t *next;
};

/* What a follower's target named, for the instances started later. */
enum { MATCH_ALL, MATCH_ID, MATCH_NAME, MATCH_NAMESPACE };

struct stream_s {
  daemon_t *d;
  ctl_req_t *req; /* NULL once answered */
  int follow;
  size_t lines;
  hist_t *hists, **hists_end; /* the files read back, in order */
  hist_t *next_hist;          /* the first not sent yet */
  size_t history_max;         /* bytes read back from one file at most */
  int tailing;                /* reads in flight */
  fol_t *fols;
  int streams; /* 1 out, 2 err */
  int match;   /* MATCH_* */
  char *target;
  json_t *apps;  /* the names of the apps shown */
  int instances; /* of one app at most: the highest index + 1 */
  stream_t *next_following, **prev_following; /* in `following` */
  json_t *pending;                            /* lines not sent yet */
  size_t pending_bytes;
  uint64_t dropped, dropped_total;
  uv_check_t check;
  int checking; /* check is started */
  int busy;     /* in the check callback: teardown waits */
  int gone;     /* the client went (or the stream is over) */
  int closed;   /* check handle closed */
};

/* The streams that follow: an instance started later joins those whose
 * target names it. */
static stream_t *following;

static void st_maybe_free(stream_t *st) {
  if (!st->closed || st->tailing)
    return;
  while (st->hists) {
    hist_t *h = st->hists;
    st->hists = h->next;
    json_decref(h->file);
    free(h->buf);
    free(h);
  }
  free(st->target);
  free(st);
}

static void on_check_closed(uv_handle_t *h) {
  stream_t *st = h->data;
  st->closed = 1;
  st_maybe_free(st);
}

/* Ends the stream: no more lines are taken; the memory goes once the
 * reads in flight (if any) are back. */
static void teardown(stream_t *st) {
  while (st->fols) {
    fol_t *fol = st->fols;
    st->fols = fol->next;
    applog_unfollow(fol->f);
    free(fol);
  }
  if (st->prev_following) {
    *st->prev_following = st->next_following;
    if (st->next_following)
      st->next_following->prev_following = st->prev_following;
    st->prev_following = NULL;
  }
  json_decref(st->apps);
  st->apps = NULL;
  json_decref(st->pending);
  st->pending = NULL;
  if (st->req) /* the client went: the answer is dropped */
    ctl_reply(st->req, MUSTER_ECANCELED, NULL, NULL);
  st->req = NULL;
  uv_close((uv_handle_t *)&st->check, on_check_closed);
}

static void on_client_gone(void *data) {
  stream_t *st = data;
  if (st->gone)
    return;
  st->gone = 1;
  if (!st->busy)
    teardown(st);
}

static void on_check(uv_check_t *h);

static void wake(stream_t *st) {
  if (!st->checking && !st->gone) {
    st->checking = 1;
    uv_check_start(&st->check, on_check);
  }
}

static const char *stream_name(muster_log_stream_t s) {
  return s == MUSTER_LOG_ERR ? "err" : "out";
}

/* ---- sending --------------------------------------------------------------
 */

/* Sends `lines` (taken) as one partial reply, with the count of lines
 * dropped since the last one. Returns the bytes now queued on the
 * connection, or < 0 (the client is gone: the stream then ends). */
static int64_t send_lines(stream_t *st, json_t *lines) {
  json_t *r = json_pack("{s:o}", "lines", lines);
  if (r == NULL)
    return 0; /* out of memory: these lines are lost, the stream goes on */
  if (st->dropped) {
    json_object_set_new(r, "dropped", json_integer((json_int_t)st->dropped));
    st->dropped = 0;
  }
  int64_t q = ctl_more(st->req, r);
  if (q < 0)
    on_client_gone(st);
  return q;
}

/* The new lines, in one frame, when the connection has room. */
static void flush_pending(stream_t *st) {
  if (json_array_size(st->pending) == 0 || ctl_more(st->req, NULL) >= QUEUE_MAX)
    return;
  json_t *lines = st->pending;
  st->pending = json_array();
  st->pending_bytes = 0;
  send_lines(st, lines);
}

static void finish(stream_t *st) {
  json_t *r = json_pack("{s:I}", "dropped", (json_int_t)st->dropped_total);
  ctl_reply(st->req, 0, NULL, r);
  st->req = NULL;
  st->gone = 1;
}

/* A file read back. */
static void on_history(int status, char *buf, size_t len, void *data) {
  hist_t *h = data;
  stream_t *st = h->st;
  st->tailing--;
  h->done = 1;
  if (st->gone) { /* torn down already: the memory may go now */
    free(buf);
    st_maybe_free(st);
    return;
  }
  h->status = status;
  h->buf = buf;
  h->len = len;
  wake(st);
}

/* A file's lines, in frames of FRAME_LINES. */
static void send_history(stream_t *st, hist_t *h) {
  json_t *lines = json_array();
  for (size_t i = 0; i < h->len && !st->gone;) {
    char *nl = memchr(h->buf + i, '\n', h->len - i);
    size_t n = nl ? (size_t)(nl - (h->buf + i)) : h->len - i;
    json_array_append_new(lines, logline_history(h->file, h->buf + i, n));
    i += n + 1;
    if (json_array_size(lines) == FRAME_LINES || i >= h->len) {
      send_lines(st, lines);
      lines = json_array();
    }
  }
  json_decref(lines);
  free(h->buf);
  h->buf = NULL;
}

/* Once per loop iteration while there is work: the history file by file,
 * each once the connection drained, then the new lines. */
static void on_check(uv_check_t *h) {
  stream_t *st = h->data;
  st->busy = 1;
  while (!st->gone && st->next_hist && st->next_hist->done &&
         ctl_more(st->req, NULL) < QUEUE_MAX) {
    hist_t *next = st->next_hist;
    st->next_hist = next->next;
    send_history(st, next);
  }
  int history = st->next_hist != NULL;
  if (!st->gone && !history)
    flush_pending(st);
  if (!st->gone && !history && !st->follow)
    finish(st);
  /* Nothing to do until a file is back or a line comes; else (the
   * connection is full) try again after the next loop iteration. */
  if (!st->gone &&
      (history ? !st->next_hist->done : json_array_size(st->pending) == 0)) {
    st->checking = 0;
    uv_check_stop(h);
  }
  st->busy = 0;
  if (st->gone && !st->closed && !uv_is_closing((uv_handle_t *)h))
    teardown(st);
}

/* ---- following -------------------------------------------------------------
 */

static void on_line(applog_follow_t *f, const muster_logline_t *line,
                    void *data) {
  fol_t *fol = data;
  stream_t *st = fol->st;
  (void)f;
  if (st->gone)
    return;
  json_t *o =
      st->pending_bytes + line->len + LINE_COST > PENDING_MAX
          ? NULL
          : json_pack("{s:s, s:i, s:i, s:s, s:o, s:I}", "app", line->app,
                      "pm_id", fol->pm_id, "instance", line->instance,
                      "stream", stream_name(line->stream), "message",
                      logline_text(line->line, line->len), "time",
                      (json_int_t)line->time_ms);
  if (o == NULL || json_array_append_new(st->pending, o) != 0) {
    st->dropped++;
    st->dropped_total++;
    applog_dropped(f, line->len + 1); /* describe shows it */
    return;
  }
  st->pending_bytes += line->len + LINE_COST;
  wake(st);
}

static void on_gone(applog_follow_t *f, void *data) {
  fol_t *fol = data;
  (void)f;
  fol->f = NULL;
}

/* ---- the request ------------------------------------------------------------
 */

/* Says which apps the stream shows (the first partial reply, and again
 * when an instance joins), so that a client knows whether to say which
 * app each line is from. */
static void send_apps(stream_t *st) {
  ctl_more(st->req, json_pack("{s:O, s:i, s:[]}", "apps", st->apps, "instances",
                              st->instances, "lines"));
}

/* Asks for the history of `slot`'s file of `log`; a file that cannot be
 * read back is left out. */
static void read_back(stream_t *st, applog_t *log, int slot, const char *app,
                      int pm_id, int index) {
  hist_t *h = calloc(1, sizeof *h);
  if (h == NULL ||
      (h->file = json_pack("{s:s, s:s, s:i, s:i, s:s}", "path",
                           applog_path(log, slot), "app", app, "pm_id", pm_id,
                           "instance", index, "stream",
                           slot == 2 ? "err" : "out")) == NULL ||
      applog_history(log, slot, st->lines, st->history_max, on_history, h) <
          0) {
    if (h)
      json_decref(h->file);
    free(h);
    return;
  }
  h->st = st;
  st->tailing++;
  *st->hists_end = h;
  st->hists_end = &h->next;
  if (st->next_hist == NULL)
    st->next_hist = h;
}

/* Adds one instance: its files to read back (once each), its streams to
 * follow, both at once (the history ends where the followed lines
 * begin). */
static void add_instance(stream_t *st, applog_t *log, const char *app,
                         int pm_id, int index) {
  int known = 0;
  for (size_t k = 0; k < json_array_size(st->apps); k++)
    known |= strcmp(json_string_value(json_array_get(st->apps, k)), app) == 0;
  if (!known)
    json_array_append_new(st->apps, json_string(app));
  if (index + 1 > st->instances)
    st->instances = index + 1;
  for (int slot = 1; slot <= 2; slot++) {
    if (!(st->streams & slot))
      continue;
    const char *path = applog_path(log, slot);
    int seen = 0;
    for (hist_t *h = st->hists; h; h = h->next)
      seen |= strcmp(json_string_value(json_object_get(h->file, "path")),
                     path) == 0;
    if (!seen && st->lines > 0)
      read_back(st, log, slot, app, pm_id, index);
    fol_t *fol = st->follow ? calloc(1, sizeof *fol) : NULL;
    if (fol == NULL)
      continue;
    fol->st = st;
    fol->pm_id = pm_id;
    if (applog_follow(log, slot, on_line, on_gone, fol, &fol->f) < 0) {
      free(fol);
      continue;
    }
    fol->next = st->fols;
    st->fols = fol;
  }
}

/* An instance started after the follow began. */
static void on_applog_open(applog_t *log, const json_t *spec, int pm_id,
                           int index, void *data) {
  const char *app = json_string_value(json_object_get(spec, "name"));
  const char *ns = json_string_value(json_object_get(spec, "namespace"));
  (void)data;
  for (stream_t *st = following; st; st = st->next_following) {
    if (st->gone ||
        !(st->match == MATCH_ALL ||
          (st->match == MATCH_NAME && app && strcmp(app, st->target) == 0) ||
          (st->match == MATCH_NAMESPACE && ns && strcmp(ns, st->target) == 0)))
      continue;
    add_instance(st, log, app ? app : "?", pm_id, index);
    send_apps(st);
  }
}

/* What to read back and what to follow, instance by instance; and what
 * the target named (registry_select: "all", an id, else a name when some
 * app has it, else a namespace). */
static int plan(stream_t *st, const cmdargs_target_t *t, inst_t **v, int n) {
  if ((st->apps = json_array()) == NULL)
    return MUSTER_ENOMEM;
  /* The files are read back at once: HISTORY_TOTAL shared among them. */
  size_t files = (size_t)n * (st->streams == 3 ? 2 : 1);
  st->history_max = files ? HISTORY_TOTAL / files : HISTORY_BYTES;
  if (st->history_max > HISTORY_BYTES)
    st->history_max = HISTORY_BYTES;
  if (st->history_max < HISTORY_MIN)
    st->history_max = HISTORY_MIN;
  st->match = t->all ? MATCH_ALL : t->id >= 0 ? MATCH_ID : MATCH_NAMESPACE;
  for (int i = 0; i < n; i++) {
    const char *app = json_string_value(json_object_get(v[i]->spec, "name"));
    if (st->match == MATCH_NAMESPACE && strcmp(app, st->target) == 0)
      st->match = MATCH_NAME;
    add_instance(st, v[i]->log, app, v[i]->pm_id, v[i]->index);
  }
  send_apps(st);
  if (st->follow) {
    static int hooked;
    if (!hooked)
      applog_on_open(on_applog_open, NULL);
    hooked = 1;
    st->next_following = following;
    if (following)
      following->prev_following = &st->next_following;
    st->prev_following = &following;
    following = st;
  }
  return 0;
}

void logstream_start(daemon_t *d, ctl_req_t *req, const cmdargs_t *args) {
  const char *target = args->target.text;
  inst_t **v;
  int n;
  int e = registry_select(d->registry, target, &v, &n);
  if (e < 0) {
    ctl_replyf(req, e, "logs \"%s\": %s", target,
               e == MUSTER_ESRCH ? "no such app" : muster_strerror(e));
    return;
  }
  stream_t *st = calloc(1, sizeof *st);
  if (st == NULL || (st->pending = json_array()) == NULL ||
      (st->target = strdup(target)) == NULL) {
    if (st)
      json_decref(st->pending);
    free(st);
    free(v);
    ctl_reply(req, MUSTER_ENOMEM, NULL, NULL);
    return;
  }
  st->d = d;
  st->hists_end = &st->hists;
  st->req = req;
  st->follow = args->follow;
  st->lines = (size_t)args->lines;
  st->streams = args->streams;
  uv_check_init(d->loop, &st->check);
  st->check.data = st;
  e = plan(st, &args->target, v, n);
  free(v);
  ctl_watch(req, on_client_gone, st);
  if (e < 0) {
    ctl_reply(req, e, NULL, NULL);
    st->req = NULL;
    st->gone = 1;
    teardown(st);
    return;
  }
  wake(st);
}
