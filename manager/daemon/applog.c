#include "applog.h"

#include <muster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One path of the daemon, shared by every instance writing to it. The
 * daemon has one loop, so the table of open paths is one list. */
typedef struct lf_s lf_t;
struct lf_s {
  muster_logfile_t *file;
  lf_t *next;
  applog_t **users; /* the instances writing to it (each once) */
  int nusers, cap;
  int full;             /* on_pressure(1) was the last word */
  muster_logsub_t *sub; /* while someone follows it */
  applog_follow_t *followers;
  uint64_t follow_dropped_bytes, follow_dropped_lines; /* applog_dropped */
};

static lf_t *open_files;

static applog_open_cb open_hook;
static void *open_hook_data;

void applog_on_open(applog_open_cb cb, void *data) {
  open_hook = cb;
  open_hook_data = data;
}

struct applog_follow_s {
  lf_t *lf;
  char *app; /* whose lines: app, instance and stream */
  int instance;
  muster_log_stream_t stream;
  applog_line_cb on_line;
  applog_gone_cb on_gone;
  void *data;
  applog_follow_t *next;
};

/* lf[0] is the out file, lf[1] the err file, lf[2] the combined one (or
 * NULL); the same lf may stand in several places. The sources are per
 * process (applog_out_t). */
struct applog_s {
  lf_t *lf[3];
  int full[2]; /* how many files stream s feeds are full */
  int index;
  char *app;
  int closing; /* applog_close was called: tell the owner nothing */
  applog_pause_cb on_pause;
  void *data;
};

static const char *str_of(const json_t *spec, const char *key) {
  const char *s = json_string_value(json_object_get(spec, key));
  return s ? s : "";
}

/* The spec's attributes as the writer's options (muster/appspec.h). */
static void options_of(const json_t *spec, muster_logfile_options_t *o) {
  memset(o, 0, sizeof *o);
  if (json_is_true(json_object_get(spec, "time"))) {
    o->flags |= MUSTER_LOGFILE_TIME;
    if (*str_of(spec, "log_date_format"))
      o->date_format = str_of(spec, "log_date_format");
  }
  if (strcmp(str_of(spec, "log_type"), "json") == 0)
    o->flags |= MUSTER_LOGFILE_JSON;
  if (json_is_true(json_object_get(spec, "log_compress")))
    o->flags |= MUSTER_LOGFILE_COMPRESS;
  json_t *v = json_object_get(spec, "log_max_size");
  if (json_is_integer(v) && json_integer_value(v) == 0)
    o->flags |= MUSTER_LOGFILE_NO_SIZE_ROTATION;
  else if (json_is_integer(v) && json_integer_value(v) > 0)
    o->max_size = (uint64_t)json_integer_value(v);
  v = json_object_get(spec, "log_retain");
  if (json_is_integer(v) && json_integer_value(v) >= 0)
    o->retain = json_integer_value(v) == 0 ? MUSTER_LOGFILE_RETAIN_NONE
                                           : (unsigned)json_integer_value(v);
  v = json_object_get(spec, "log_max_total");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    o->max_total = (uint64_t)json_integer_value(v);
  const char *iv = str_of(spec, "log_rotate_interval");
  if (strcmp(iv, "hourly") == 0)
    o->interval = MUSTER_LOGFILE_HOURLY;
  else if (strcmp(iv, "none") == 0)
    o->interval = MUSTER_LOGFILE_NEVER;
}

/* ---- pressure ------------------------------------------------------------ */

/* 1 when stream s of l feeds lf. */
static int feeds(const applog_t *l, int s, const lf_t *lf) {
  return l->lf[s] == lf || l->lf[2] == lf;
}

/* One more (delta 1) or one less (-1) full file for stream s of l. */
static void count_full(applog_t *l, int s, int delta) {
  int was = l->full[s] > 0;
  l->full[s] += delta;
  if (!l->closing && was != (l->full[s] > 0))
    l->on_pause(l->data, s + 1, l->full[s] > 0);
}

/* A file's queue filled or drained: pause or resume the streams feeding
 * it; a stream feeding two files reads again only once both drained. */
static void on_pressure(muster_logfile_t *file, int paused) {
  lf_t *lf = muster_logfile_data(file);
  if (lf->full == paused)
    return;
  lf->full = paused;
  for (int i = 0; i < lf->nusers; i++)
    for (int s = 0; s < 2; s++)
      if (feeds(lf->users[i], s, lf))
        count_full(lf->users[i], s, paused ? 1 : -1);
}

/* ---- the table of paths ---------------------------------------------------
 */

static void on_lf_closed(muster_logfile_t *file) {
  lf_t *lf = muster_logfile_data(file);
  free(lf->users);
  free(lf);
}

/* The lf of `path`, opened with the options of `spec` when new, with l
 * added to its users. */
static int lf_get(uv_loop_t *loop, const char *path, const json_t *spec,
                  applog_t *l, lf_t **out) {
  lf_t *lf = open_files;
  while (lf && strcmp(muster_logfile_path(lf->file), path) != 0)
    lf = lf->next;
  if (lf == NULL) {
    lf = calloc(1, sizeof *lf);
    if (lf == NULL || (lf->users = malloc(2 * sizeof *lf->users)) == NULL) {
      free(lf);
      return MUSTER_ENOMEM;
    }
    lf->cap = 2;
    muster_logfile_options_t o;
    options_of(spec, &o);
    o.on_pressure = on_pressure;
    o.data = lf;
    int r = muster_logfile_open(loop, path, &o, &lf->file);
    if (r < 0) {
      free(lf->users);
      free(lf);
      return r;
    }
    lf->next = open_files;
    open_files = lf;
  }
  *out = lf;
  for (int i = 0; i < lf->nusers; i++)
    if (lf->users[i] == l)
      return 0;
  if (lf->nusers == lf->cap) {
    applog_t **v = realloc(lf->users, (size_t)lf->cap * 2 * sizeof *v);
    if (v == NULL) {
      *out = NULL;
      return MUSTER_ENOMEM; /* nusers > 0: the file stays in use */
    }
    lf->users = v;
    lf->cap *= 2;
  }
  lf->users[lf->nusers++] = l;
  return 0;
}

/* l no longer writes to lf: the last user closes it, and its followers
 * hear that no line will come. */
static void lf_put(lf_t *lf, applog_t *l) {
  for (int i = 0; i < lf->nusers; i++)
    if (lf->users[i] == l) {
      lf->users[i] = lf->users[--lf->nusers];
      break;
    }
  if (lf->nusers > 0)
    return;
  for (lf_t **p = &open_files; *p; p = &(*p)->next)
    if (*p == lf) {
      *p = lf->next;
      break;
    }
  while (lf->followers) {
    applog_follow_t *f = lf->followers;
    lf->followers = f->next;
    f->on_gone(f, f->data);
    free(f->app);
    free(f);
  }
  muster_logfile_unsubscribe(lf->sub);
  lf->sub = NULL;
  muster_logfile_close(lf->file, on_lf_closed);
}

/* ---- paths (PM2's rules) ------------------------------------------------- */

/* `given` (or logs/<name><kind>.log), with "-<id>" before ".log" (or at
 * the end) when id >= 0. */
static int make_path(char *buf, size_t size, const char *given,
                     const char *logs, const char *name, const char *kind,
                     int id) {
  int n = given ? snprintf(buf, size, "%s", given)
                : snprintf(buf, size, "%s/%s%s.log", logs, name, kind);
  if (n < 0 || (size_t)n >= size)
    return MUSTER_ENAMETOOLONG;
  if (id < 0 || strcmp(buf, "/dev/null") == 0)
    return 0;
  size_t len = (size_t)n;
  int ext = len > 4 && strcmp(buf + len - 4, ".log") == 0;
  char tail[8] = "";
  if (ext) {
    len -= 4;
    strcpy(tail, ".log");
  }
  n = snprintf(buf + len, size - len, "-%d%s", id, tail);
  return n < 0 || (size_t)n >= size - len ? MUSTER_ENAMETOOLONG : 0;
}

static int open_paths(uv_loop_t *loop, const json_t *spec, int index,
                      const char *const paths[3], applog_pause_cb on_pause,
                      void *data, applog_t **log);

int applog_open_spec(uv_loop_t *loop, const json_t *spec, const char *logs,
                     int pm_id, int index, applog_pause_cb on_pause, void *data,
                     applog_t **log) {
  if (spec == NULL || logs == NULL)
    return MUSTER_EINVAL;
  char out[4096], err[4096], all[4096];
  const char *name = str_of(spec, "name");
  int id = json_integer_value(json_object_get(spec, "instances")) > 1 &&
                   !json_is_true(json_object_get(spec, "merge_logs"))
               ? pm_id
               : -1;
  const char *o = str_of(spec, "out_file"), *e = str_of(spec, "error_file");
  json_t *lv = json_object_get(spec, "log_file");
  int r = make_path(out, sizeof out, *o ? o : NULL, logs, name, "-out", id);
  if (r == 0)
    r = make_path(err, sizeof err, *e ? e : NULL, logs, name, "-err", id);
  if (r == 0 && (json_is_true(lv) || json_is_string(lv)))
    r = make_path(all, sizeof all, json_string_value(lv), logs, name, "", id);
  else
    all[0] = '\0';
  if (r < 0)
    return r;
  const char *paths[3] = {out, err, all[0] ? all : NULL};
  r = open_paths(loop, spec, index, paths, on_pause, data, log);
  if (r == 0 && open_hook)
    open_hook(*log, spec, pm_id, index, open_hook_data);
  return r;
}

int applog_open(uv_loop_t *loop, const json_t *spec, int index, const char *out,
                const char *err, applog_pause_cb on_pause, void *data,
                applog_t **log) {
  const char *paths[3] = {out, err, NULL};
  return open_paths(loop, spec, index, paths, on_pause, data, log);
}

static int open_paths(uv_loop_t *loop, const json_t *spec, int index,
                      const char *const paths[3], applog_pause_cb on_pause,
                      void *data, applog_t **log) {
  if (loop == NULL || spec == NULL || paths[0] == NULL || paths[1] == NULL ||
      on_pause == NULL || log == NULL)
    return MUSTER_EINVAL;
  applog_t *l = calloc(1, sizeof *l);
  if (l == NULL || (l->app = strdup(str_of(spec, "name"))) == NULL) {
    free(l);
    return MUSTER_ENOMEM;
  }
  l->on_pause = on_pause;
  l->data = data;
  l->index = index;
  int r = 0;
  for (int i = 0; i < 3 && r == 0; i++)
    if (paths[i])
      r = lf_get(loop, paths[i], spec, l, &l->lf[i]);
  /* A stream joining a file that is full now starts paused. */
  for (int s = 0; s < 2 && r == 0; s++)
    l->full[s] =
        l->lf[s]->full + (l->lf[2] && l->lf[2] != l->lf[s] && l->lf[2]->full);
  if (r < 0) {
    applog_close(l);
    return r;
  }
  *log = l;
  return 0;
}

/* One process's two streams. srcs[s][0] feeds stream s into its own
 * file, srcs[s][1] into the combined file when that is another one. A
 * source per process, so a partial last line is its own line, never the
 * start of the next process's first one. */
struct applog_out_s {
  muster_logsource_t *srcs[2][2];
};

int applog_out_open(applog_t *l, applog_out_t **out) {
  applog_out_t *o = calloc(1, sizeof *o);
  if (o == NULL)
    return MUSTER_ENOMEM;
  int r = 0;
  for (int s = 0; s < 2 && r == 0; s++) {
    muster_logsource_options_t so = {.app = l->app,
                                     .instance = l->index,
                                     .stream =
                                         s ? MUSTER_LOG_ERR : MUSTER_LOG_OUT};
    r = muster_logsource_open(l->lf[s]->file, &so, &o->srcs[s][0]);
    if (r == 0 && l->lf[2] && l->lf[2] != l->lf[s])
      r = muster_logsource_open(l->lf[2]->file, &so, &o->srcs[s][1]);
  }
  if (r < 0) {
    applog_out_close(o);
    return r;
  }
  *out = o;
  return 0;
}

int applog_out_reserve(applog_out_t *o, int slot, size_t want, char **buf,
                       size_t *len) {
  muster_logsource_t *src = o->srcs[slot == 2][0];
  return src ? muster_logsource_reserve(src, want, buf, len) : MUSTER_EINVAL;
}

void applog_out_write(applog_out_t *o, int slot, const char *buf, size_t len) {
  int s = slot == 2;
  /* The combined file first: the bytes may sit in the first file's queue
   * (applog_out_reserve), which its write takes over. */
  for (int k = 1; k >= 0; k--)
    if (o->srcs[s][k])
      muster_logsource_write(o->srcs[s][k], buf, len);
}

void applog_out_end(applog_out_t *o, int slot) {
  int s = slot == 2;
  for (int k = 0; k < 2; k++) {
    if (o->srcs[s][k])
      muster_logsource_close(o->srcs[s][k]);
    o->srcs[s][k] = NULL;
  }
}

void applog_out_close(applog_out_t *o) {
  if (o == NULL)
    return;
  applog_out_end(o, 1);
  applog_out_end(o, 2);
  free(o);
}

int applog_paused(const applog_t *l, int slot) {
  return l->full[slot == 2] > 0;
}

/* 1 when l->lf[i] is a file not seen at a lower index. */
static int distinct(const applog_t *l, int i) {
  return l->lf[i] && (i == 0 || l->lf[i] != l->lf[0]) &&
         (i < 2 || l->lf[2] != l->lf[1]);
}

void applog_reopen(applog_t *l) {
  for (int i = 0; i < 3; i++)
    if (distinct(l, i))
      muster_logfile_reopen(l->lf[i]->file);
}

void applog_flush(applog_t *l) {
  for (int i = 0; i < 3; i++)
    if (distinct(l, i))
      muster_logfile_flush(l->lf[i]->file);
}

const char *applog_path(const applog_t *l, int slot) {
  lf_t *lf = l->lf[slot == 3 ? 2 : slot == 2];
  return lf ? muster_logfile_path(lf->file) : NULL;
}

void applog_stats(const applog_t *l, json_t *obj) {
  static const char *const keys[] = {
      "log_bytes_written",    "log_rotations",       "dropped_log_bytes",
      "log_write_errors",     "dropped_follow_bytes", "dropped_follow_lines"};
  uint64_t sum[6] = {0};
  for (int i = 0; i < 3; i++) {
    if (!distinct(l, i))
      continue;
    muster_logfile_stats_t s;
    muster_logfile_stats(l->lf[i]->file, &s);
    sum[0] += s.bytes_written;
    sum[1] += s.rotations;
    sum[2] += s.dropped_bytes;
    sum[3] += s.write_errors;
    sum[4] += l->lf[i]->follow_dropped_bytes;
    sum[5] += l->lf[i]->follow_dropped_lines;
  }
  for (int i = 0; i < 6; i++)
    json_object_set_new(obj, keys[i], json_integer((json_int_t)sum[i]));
  if (l->lf[2])
    json_object_set_new(obj, "pm_log_path", json_string(applog_path(l, 3)));
}

void applog_close(applog_t *l) {
  if (l == NULL)
    return;
  l->closing = 1;
  for (int i = 0; i < 3; i++)
    if (distinct(l, i))
      lf_put(l->lf[i], l);
  free(l->app);
  free(l);
}

/* ---- following ----------------------------------------------------------- */

/* A line of the file, for the followers of its (app, instance, stream). */
static void on_line(muster_logsub_t *sub, const muster_logline_t *line,
                    void *data) {
  lf_t *lf = data;
  (void)sub;
  for (applog_follow_t *f = lf->followers, *next; f; f = next) {
    next = f->next;
    if (f->stream == line->stream && f->instance == line->instance &&
        strcmp(f->app, line->app) == 0)
      f->on_line(f, line, f->data);
  }
}

int applog_follow(applog_t *l, int slot, applog_line_cb line_cb,
                  applog_gone_cb on_gone, void *data, applog_follow_t **out) {
  if (l == NULL || (slot != 1 && slot != 2) || line_cb == NULL ||
      on_gone == NULL || out == NULL)
    return MUSTER_EINVAL;
  lf_t *lf = l->lf[slot == 2];
  applog_follow_t *f = calloc(1, sizeof *f);
  if (f == NULL || (f->app = strdup(l->app)) == NULL) {
    free(f);
    return MUSTER_ENOMEM;
  }
  if (lf->sub == NULL) {
    int r = muster_logfile_subscribe(lf->file, on_line, lf, &lf->sub);
    if (r < 0) {
      free(f->app);
      free(f);
      return r;
    }
  }
  f->lf = lf;
  f->instance = l->index;
  f->stream = slot == 2 ? MUSTER_LOG_ERR : MUSTER_LOG_OUT;
  f->on_line = line_cb;
  f->on_gone = on_gone;
  f->data = data;
  f->next = lf->followers;
  lf->followers = f;
  *out = f;
  return 0;
}

void applog_dropped(applog_follow_t *f, size_t bytes) {
  f->lf->follow_dropped_bytes += bytes;
  f->lf->follow_dropped_lines++;
}

void applog_unfollow(applog_follow_t *f) {
  if (f == NULL)
    return;
  lf_t *lf = f->lf;
  for (applog_follow_t **p = &lf->followers; *p; p = &(*p)->next)
    if (*p == f) {
      *p = f->next;
      break;
    }
  free(f->app);
  free(f);
  if (lf->followers == NULL) {
    muster_logfile_unsubscribe(lf->sub);
    lf->sub = NULL;
  }
}

int applog_history(applog_t *l, int slot, size_t lines, size_t max_bytes,
                   muster_logfile_tail_cb cb, void *data) {
  if (l == NULL || (slot != 1 && slot != 2))
    return MUSTER_EINVAL;
  return muster_logfile_history(l->lf[slot == 2]->file, lines, max_bytes, cb,
                                data);
}
