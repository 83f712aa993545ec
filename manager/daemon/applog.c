#include "applog.h"

#include <muster.h>

#include <stdlib.h>
#include <string.h>

/* files[0] feeds stdout, files[1] stderr; the same file twice when both
 * streams go to one path (it is then closed once). */
struct applog_s {
  muster_logfile_t *files[2];
  muster_logsource_t *srcs[2];
  int paused[2];
  int closing;    /* applog_close was called: tell the owner nothing */
  int open_files; /* files not closed yet; freed at 0 */
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

/* A file's queue filled or drained: pause or resume the streams feeding
 * it. */
static void on_pressure(muster_logfile_t *file, int paused) {
  applog_t *l = muster_logfile_data(file);
  if (l->closing)
    return;
  for (int i = 0; i < 2; i++) {
    if (l->files[i] != file || l->paused[i] == paused)
      continue;
    l->paused[i] = paused;
    l->on_pause(l->data, i + 1, paused);
  }
}

int applog_open(uv_loop_t *loop, const json_t *spec, int index,
                const char *out, const char *err, applog_pause_cb on_pause,
                void *data, applog_t **log) {
  if (loop == NULL || spec == NULL || out == NULL || err == NULL ||
      on_pause == NULL || log == NULL)
    return MUSTER_EINVAL;
  applog_t *l = calloc(1, sizeof *l);
  if (l == NULL)
    return MUSTER_ENOMEM;
  l->on_pause = on_pause;
  l->data = data;
  muster_logfile_options_t o;
  options_of(spec, &o);
  o.on_pressure = on_pressure;
  o.data = l;
  const char *paths[2] = {out, err};
  int r = 0;
  for (int i = 0; i < 2 && r == 0; i++) {
    if (i == 1 && strcmp(out, err) == 0)
      l->files[1] = l->files[0];
    else if ((r = muster_logfile_open(loop, paths[i], &o, &l->files[i])) == 0)
      l->open_files++;
    muster_logsource_options_t so = {.app = str_of(spec, "name"),
                                     .instance = index,
                                     .stream = i ? MUSTER_LOG_ERR
                                                 : MUSTER_LOG_OUT};
    if (r == 0)
      r = muster_logsource_open(l->files[i], &so, &l->srcs[i]);
  }
  if (r < 0) {
    applog_close(l);
    return r;
  }
  *log = l;
  return 0;
}

void applog_write(applog_t *l, int slot, const char *buf, size_t len) {
  muster_logsource_write(l->srcs[slot == 2], buf, len);
}

int applog_paused(const applog_t *l, int slot) {
  return l->paused[slot == 2];
}

/* Calls fn once for each distinct file. */
static void each_file(applog_t *l, int (*fn)(muster_logfile_t *)) {
  fn(l->files[0]);
  if (l->files[1] != l->files[0])
    fn(l->files[1]);
}

void applog_reopen(applog_t *l) {
  each_file(l, muster_logfile_reopen);
}

void applog_flush(applog_t *l) {
  each_file(l, muster_logfile_flush);
}

const char *applog_path(const applog_t *l, int slot) {
  return muster_logfile_path(l->files[slot == 2]);
}

void applog_stats(const applog_t *l, json_t *obj) {
  static const char *const keys[] = {"log_bytes_written", "log_rotations",
                                     "dropped_log_bytes", "log_write_errors"};
  uint64_t sum[4] = {0};
  int n = l->files[1] != l->files[0] ? 2 : 1;
  for (int i = 0; i < n; i++) {
    muster_logfile_stats_t s;
    muster_logfile_stats(l->files[i], &s);
    sum[0] += s.bytes_written;
    sum[1] += s.rotations;
    sum[2] += s.dropped_bytes;
    sum[3] += s.write_errors;
  }
  for (int i = 0; i < 4; i++)
    json_object_set_new(obj, keys[i], json_integer((json_int_t)sum[i]));
}

static void on_file_closed(muster_logfile_t *file) {
  applog_t *l = muster_logfile_data(file);
  if (--l->open_files == 0)
    free(l);
}

void applog_close(applog_t *l) {
  if (l == NULL)
    return;
  l->closing = 1;
  for (int i = 0; i < 2; i++)
    if (l->srcs[i])
      muster_logsource_close(l->srcs[i]);
  if (l->open_files == 0) {
    free(l);
    return;
  }
  muster_logfile_close(l->files[0], on_file_closed);
  if (l->files[1] && l->files[1] != l->files[0])
    muster_logfile_close(l->files[1], on_file_closed);
}
