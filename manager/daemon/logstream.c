/* `logs` (logstream.h). The history comes from muster_logfile_tail(), one
 * file at a time in the threadpool; the new lines from applog_follow(), in
 * memory as they are written, so a rotation cannot make a follower miss
 * or repeat a line. Lines are batched: they wait in `pending` and a
 * uv_check handle sends them once per loop iteration, as one partial
 * reply, while the connection's write queue is under QUEUE_MAX.
 *
 * The order at the start: followers are set up first and their lines wait
 * until the history is sent. A line written while its file was being read
 * back can thus show twice (in the history and as new); none is lost. */
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
#define LINE_COST 64             /* a line's JSON beyond its message */

typedef struct stream_s stream_t;

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
  json_t *files; /* history to read: [{path, app, pm_id, instance, stream}] */
  size_t next_file;
  int tailing; /* a muster_logfile_tail() in flight */
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
  if (st->closed && !st->tailing) {
    free(st->target);
    free(st);
  }
}

static void on_check_closed(uv_handle_t *h) {
  stream_t *st = h->data;
  st->closed = 1;
  st_maybe_free(st);
}

/* Ends the stream: no more lines are taken; the memory goes once the tail
 * in flight (if any) is back. */
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
  json_decref(st->files);
  st->files = NULL;
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

static void next_tail(stream_t *st);

/* A file read back: its lines go out in frames of FRAME_LINES. */
static void on_tail(int status, char *buf, size_t len, void *data) {
  stream_t *st = data;
  st->tailing = 0;
  json_t *file = json_array_get(st->files, st->next_file++);
  if (!st->gone && status == 0) {
    json_t *lines = json_array();
    for (size_t i = 0; i < len && !st->gone;) {
      char *nl = memchr(buf + i, '\n', len - i);
      size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
      json_array_append_new(lines, logline_history(file, buf + i, n));
      i += n + 1;
      if (json_array_size(lines) == FRAME_LINES || i >= len) {
        send_lines(st, lines);
        lines = json_array();
      }
    }
    json_decref(lines);
  }
  free(buf);
  if (st->gone) { /* torn down already: the memory may go now */
    st_maybe_free(st);
    return;
  }
  wake(st); /* the next file once the connection drained */
}

static void next_tail(stream_t *st) {
  json_t *file = json_array_get(st->files, st->next_file);
  int r = muster_logfile_tail(st->d->loop,
                              json_string_value(json_object_get(file, "path")),
                              st->lines, HISTORY_BYTES, on_tail, st);
  if (r < 0)
    st->next_file++; /* this one is skipped */
  else
    st->tailing = 1;
}

/* Once per loop iteration while there is work: the history file by file,
 * then the new lines. */
static void on_check(uv_check_t *h) {
  stream_t *st = h->data;
  st->busy = 1;
  while (!st->gone && !st->tailing &&
         st->next_file < json_array_size(st->files) &&
         ctl_more(st->req, NULL) < QUEUE_MAX)
    next_tail(st);
  int history = st->tailing || st->next_file < json_array_size(st->files);
  if (!st->gone && !history)
    flush_pending(st);
  if (!st->gone && !history && !st->follow)
    finish(st);
  /* Nothing to do until a tail is back or a line comes; else (the
   * connection is full) try again after the next loop iteration. */
  if (!st->gone &&
      (history ? st->tailing : json_array_size(st->pending) == 0)) {
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

static int parse(json_t *args, const char **target, long long *lines,
                 int *streams, int *follow) {
  json_t *t = json_object_get(args, "target");
  json_t *n = json_object_get(args, "lines");
  json_t *s = json_object_get(args, "stream");
  json_t *f = json_object_get(args, "follow");
  *target = t ? json_string_value(t) : "all";
  *lines = n ? json_integer_value(n) : 15;
  const char *sv = s ? json_string_value(s) : "all";
  *streams = !sv                      ? 0
             : strcmp(sv, "out") == 0 ? 1
             : strcmp(sv, "err") == 0 ? 2
             : strcmp(sv, "all") == 0 ? 3
                                      : 0;
  *follow = json_is_true(f);
  if (*target == NULL || (n && !json_is_integer(n)) || *lines < 0 ||
      *lines > 10000000 || *streams == 0 || (f && !json_is_boolean(f)))
    return MUSTER_EINVAL;
  return 0;
}

/* Says which apps the stream shows (the first partial reply, and again
 * when an instance joins), so that a client knows whether to say which
 * app each line is from. */
static void send_apps(stream_t *st) {
  ctl_more(st->req, json_pack("{s:O, s:i, s:[]}", "apps", st->apps, "instances",
                              st->instances, "lines"));
}

/* Adds one instance: its files to read back (once each), its streams to
 * follow. */
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
    for (size_t k = 0; k < json_array_size(st->files); k++)
      seen |= strcmp(json_string_value(
                         json_object_get(json_array_get(st->files, k), "path")),
                     path) == 0;
    if (!seen && st->lines > 0)
      json_array_append_new(
          st->files, json_pack("{s:s, s:s, s:i, s:i, s:s}", "path", path, "app",
                               app, "pm_id", pm_id, "instance", index, "stream",
                               slot == 2 ? "err" : "out"));
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
static int plan(stream_t *st, inst_t **v, int n) {
  if ((st->apps = json_array()) == NULL)
    return MUSTER_ENOMEM;
  st->match = strcmp(st->target, "all") == 0 ? MATCH_ALL
              : strspn(st->target, "0123456789") == strlen(st->target)
                  ? MATCH_ID
                  : MATCH_NAMESPACE;
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

void logstream_start(daemon_t *d, ctl_req_t *req, json_t *args) {
  const char *target;
  long long lines;
  int streams, follow;
  if (parse(args, &target, &lines, &streams, &follow) < 0) {
    ctl_reply(req, MUSTER_EINVAL,
              "logs: expected {target, lines >= 0, stream: out|err|all, "
              "follow: bool}",
              NULL);
    return;
  }
  inst_t **v;
  int n;
  int e = registry_select(d->registry, target, &v, &n);
  if (e < 0) {
    ctl_replyf(req, e, "logs \"%s\": %s", target,
               e == MUSTER_ESRCH ? "no such app" : muster_strerror(e));
    return;
  }
  stream_t *st = calloc(1, sizeof *st);
  if (st == NULL || (st->files = json_array()) == NULL ||
      (st->pending = json_array()) == NULL ||
      (st->target = strdup(target)) == NULL) {
    if (st) {
      json_decref(st->files);
      json_decref(st->pending);
    }
    free(st);
    free(v);
    ctl_reply(req, MUSTER_ENOMEM, NULL, NULL);
    return;
  }
  st->d = d;
  st->req = req;
  st->follow = follow;
  st->lines = (size_t)lines;
  st->streams = streams;
  uv_check_init(d->loop, &st->check);
  st->check.data = st;
  e = plan(st, v, n);
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
