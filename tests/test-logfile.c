/* Log files: framing, layouts, rotation without losing or cutting a line,
 * retention and gzip, reopen, flush, subscribers, bad input. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "test-logfile.h"

static muster_logsource_t *source(muster_logfile_t *f, const char *app,
                                  int instance, muster_log_stream_t stream) {
  muster_logsource_options_t o = {app, instance, stream};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &o, &s));
  return s;
}

static void ignore_line(muster_logsub_t *sub, const muster_logline_t *l,
                        void *data) {
  (void)sub;
  (void)l;
  (void)data;
}

static void put(muster_logsource_t *s, const char *text) {
  muster_logsource_write(s, text, strlen(text));
}

/* Closes `f`, checks that dir/a.log holds exactly `want`, and removes
 * everything. */
static void end_with(uv_loop_t *loop, const char *dir, muster_logfile_t *f,
                     const char *want) {
  tlog_close(loop, f);
  char path[512];
  snprintf(path, sizeof path, "%s/a.log", dir);
  char *text = tlog_read(path, NULL);
  ASSERT_STR_EQ(text, want);
  free(text);
  tlog_rmdir(dir);
  tlog_loop_close(loop);
}

TEST(logfile_lines) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  muster_logfile_t *f = tlog_open(&loop, dir, "a.log", NULL);
  muster_logsource_t *s = source(f, "a", 0, MUSTER_LOG_OUT);
  put(s, "one\ntw");
  put(s, "o\n\nthree");
  test_run_loop(&loop, 10000); /* the job runs; the partial line stays */
  muster_logsource_close(s);   /* "three" goes out as a line */
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.lines_written, 4);
  end_with(&loop, dir, f, "one\ntwo\n\nthree\n");
}

/* A file of lines of 64 bytes at most, dir/a.log in a fresh dir, and a
 * source writing to it. */
static muster_logfile_t *open_max64(uv_loop_t *loop, const char **dir,
                                    muster_logsource_t **s) {
  ASSERT_OK(uv_loop_init(loop));
  *dir = tlog_dir();
  muster_logfile_options_t o = {.max_line = 64};
  muster_logfile_t *f = tlog_open(loop, *dir, "a.log", &o);
  *s = source(f, "a", 0, MUSTER_LOG_OUT);
  return f;
}

TEST(logfile_long_line) {
  uv_loop_t loop;
  const char *dir;
  muster_logsource_t *s;
  muster_logfile_t *f = open_max64(&loop, &dir, &s);
  char big[201];
  memset(big, 'x', 200);
  big[200] = '\0';
  put(s, big); /* 200 bytes, no end: 3 pieces out, 8 held */
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.lines_written, 3);
  ASSERT_EQ(st.split_lines, 3);
  put(s, "\n");
  /* 62 ASCII bytes then "é" (2 bytes) straddling 64: cut before it */
  char utf[80];
  memset(utf, 'y', 63);
  memcpy(utf + 63, "\xc3\xa9z\n", 5);
  put(s, utf);
  muster_logsource_close(s);
  tlog_close(&loop, f);
  char path[512];
  snprintf(path, sizeof path, "%s/a.log", dir);
  char *text = tlog_read(path, NULL);
  char want[400];
  snprintf(want, sizeof want, "%.64s\n%.64s\n%.64s\n%.8s\n%.63s\n\xc3\xa9z\n",
           big, big, big, big, utf);
  ASSERT_STR_EQ(text, want);
  free(text);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

/* Lines that come many to a read go to the file a run at a time (the raw
 * layout): lines of exactly max_line bytes stay whole, one byte more is
 * split, empty lines count (5,000 in a row: the count stays exact past the
 * 4,080 bytes after which the newline counter adds up its byte counters); the
 * same text cut into reads of any size gives the same file. */
/* The text of logfile_raw_runs and the file it must give (max_line 64):
 * malloc'd, want NUL-terminated. */
static void raw_text(char **text, size_t *tn, char **want) {
  size_t cap = 1 << 20, n = 0, wn = 0;
  char *t = malloc(cap), *w = malloc(cap);
  ASSERT(t && w);
  for (int i = 0; i < 5000; i++) { /* lengths 0..64 */
    for (int k = 0; k < i % 65; k++)
      t[n++] = w[wn++] = (char)('a' + (i + k) % 26);
    t[n++] = w[wn++] = '\n';
  }
  memset(t + n, 'L', 65); /* one byte over: 64, then 1 */
  n += 65;
  t[n++] = '\n';
  memset(w + wn, 'L', 64);
  wn += 64;
  memcpy(w + wn, "\nL\n", 3);
  wn += 3;
  memset(t + n, '\n', 5000);
  memset(w + wn, '\n', 5000);
  n += 5000;
  wn += 5000;
  memcpy(t + n, "end", 3);
  memcpy(w + wn, "end\n", 4);
  n += 3;
  wn += 4;
  w[wn] = '\0';
  *text = t;
  *tn = n;
  *want = w;
}

/* Closes the file of open_max64 and checks its lines and content. */
static void check_raw_file(uv_loop_t *loop, const char *dir,
                           muster_logfile_t *f, const char *want) {
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.lines_written, 5000 + 2 + 5000 + 1);
  ASSERT_EQ(st.split_lines, 1);
  ASSERT_EQ(st.dropped_bytes, 0);
  end_with(loop, dir, f, want);
}

/* Lines that come many to a read go to the file a run at a time (the raw
 * layout): lines of exactly max_line bytes stay whole, one byte more is
 * split, empty lines count (5,000 in a row: the count stays exact past the
 * 4,080 bytes after which the newline counter adds up its byte counters); the
 * same text cut into reads of any size gives the same file. */
TEST(logfile_raw_runs) {
  char *text, *want;
  size_t n;
  raw_text(&text, &n, &want);
  const size_t pieces[] = {n, 4096, 7, 1};
  for (size_t t = 0; t < sizeof pieces / sizeof *pieces; t++) {
    uv_loop_t loop;
    const char *dir;
    muster_logsource_t *s;
    muster_logfile_t *f = open_max64(&loop, &dir, &s);
    for (size_t off = 0; off < n; off += pieces[t])
      muster_logsource_write(s, text + off,
                             n - off < pieces[t] ? n - off : pieces[t]);
    muster_logsource_close(s);
    check_raw_file(&loop, dir, f, want);
  }
  free(text);
  free(want);
}

/* Reads into muster_logsource_reserve's room give the same file as copies,
 * with reads of any size, a partial line or an over-long one pending at a
 * reservation, reservations left unused (a read that got nothing), reads
 * into the caller's own buffer between them, and the file's job taking the
 * queue between reads. */
TEST(logfile_reserve) {
  char *text, *want;
  size_t n;
  raw_text(&text, &n, &want);
  const size_t pieces[] = {n, 65536, 4096, 100, 7, 1};
  for (size_t t = 0; t < sizeof pieces / sizeof *pieces; t++) {
    uv_loop_t loop;
    const char *dir;
    muster_logsource_t *s;
    muster_logfile_t *f = open_max64(&loop, &dir, &s);
    size_t off = 0, reads = 0, in_place = 0;
    while (off < n) {
      size_t len = n - off < pieces[t] ? n - off : pieces[t];
      char *room;
      size_t got;
      reads++;
      if (reads % 5 == 0) { /* the caller's own buffer */
        muster_logsource_write(s, text + off, len);
        off += len;
        continue;
      }
      ASSERT_OK(muster_logsource_reserve(s, len, &room, &got));
      ASSERT(got >= 1 && got <= len);
      if (reads % 7 == 0) /* nothing came: the room goes unused */
        continue;
      memcpy(room, text + off, got);
      muster_logsource_write(s, room, got);
      off += got;
      in_place++;
      if (reads % 64 == 0)
        uv_run(&loop, UV_RUN_NOWAIT); /* a job takes the queue */
    }
    ASSERT(in_place > 0);
    muster_logsource_close(s);
    check_raw_file(&loop, dir, f, want);
  }
  free(text);
  free(want);
}

/* Two sources of one file (an app's out and err merged) reserve in turn,
 * rooms left unused between: each line comes whole, in the order its end
 * was read; a partial line over 4 KiB gets no room (cheaper copied). */
TEST(logfile_reserve_two_sources) {
  uv_loop_t loop;
  const char *dir;
  muster_logsource_t *a;
  muster_logfile_t *f = open_max64(&loop, &dir, &a);
  muster_logsource_t *b = source(f, "a", 0, MUSTER_LOG_ERR);
  char *room;
  size_t got;
  const char *reads[][2] = {{"a", "a1\na2-"}, {"b", NULL}, {"b", "b1\nb2"},
                            {"a", NULL},      {"a", "end\n"}, {"b", "-end\n"}};
  for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
    muster_logsource_t *s = reads[i][0][0] == 'a' ? a : b;
    ASSERT_OK(muster_logsource_reserve(s, 100, &room, &got));
    if (reads[i][1] == NULL)
      continue; /* nothing came */
    size_t n = strlen(reads[i][1]);
    ASSERT(got >= n);
    memcpy(room, reads[i][1], n);
    muster_logsource_write(s, room, n);
  }
  /* 5,000 bytes of one line held: no room for that source */
  muster_logfile_options_t wide = {.max_line = 8192};
  muster_logfile_t *fw = tlog_open(&loop, dir, "w.log", &wide);
  muster_logsource_t *w = source(fw, "w", 0, MUSTER_LOG_OUT);
  char big[5000];
  memset(big, 'x', sizeof big);
  muster_logsource_write(w, big, sizeof big);
  ASSERT_EQ(muster_logsource_reserve(w, 100, &room, &got), MUSTER_ENOBUFS);
  muster_logsource_write(w, "\n", 1);
  ASSERT_OK(muster_logsource_reserve(w, 100, &room, &got));
  muster_logsource_close(w);
  tlog_close(&loop, fw);
  char path[512];
  snprintf(path, sizeof path, "%s/w.log", dir);
  size_t wlen;
  char *wtext = tlog_read(path, &wlen);
  ASSERT_EQ(wlen, sizeof big + 1);
  free(wtext);
  /* a misuse: b queues a line between a's read into its room and a's
   * write of it. b's line went over the room: a's bytes are counted as
   * lost, not queued as whatever the room then held */
  ASSERT_OK(muster_logsource_reserve(a, 100, &room, &got));
  memcpy(room, "lost\n", 5);
  muster_logsource_write(b, "b3\n", 3);
  muster_logsource_write(a, room, 5);
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.dropped_bytes, 5);
  ASSERT_EQ(st.lines_written, 5);
  muster_logsource_close(a);
  muster_logsource_close(b);
  end_with(&loop, dir, f, "a1\nb1\na2-end\nb2-end\nb3\n");
}

/* No room where every line is formatted anyway, nor past a full queue
 * under the DROP policy; bad arguments. */
TEST(logfile_reserve_refused) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  muster_logfile_options_t o = {.flags = MUSTER_LOGFILE_TIME};
  muster_logfile_t *timed = tlog_open(&loop, dir, "t.log", &o);
  muster_logfile_t *plain = tlog_open(&loop, dir, "p.log", NULL);
  o = (muster_logfile_options_t){.flags = MUSTER_LOGFILE_DROP,
                                 .buffer_limit = 4096};
  muster_logfile_t *drop = tlog_open(&loop, dir, "d.log", &o);
  muster_logsource_t *st = source(timed, "t", 0, MUSTER_LOG_OUT);
  muster_logsource_t *sp = source(plain, "p", 0, MUSTER_LOG_OUT);
  muster_logsource_t *sd = source(drop, "d", 0, MUSTER_LOG_OUT);
  char *room;
  size_t got;
  ASSERT_EQ(muster_logsource_reserve(st, 100, &room, &got), MUSTER_ENOBUFS);
  ASSERT_EQ(muster_logsource_reserve(sp, 0, &room, &got), MUSTER_EINVAL);
  ASSERT_EQ(muster_logsource_reserve(NULL, 1, &room, &got), MUSTER_EINVAL);
  ASSERT_EQ(muster_logsource_reserve(sp, 1, NULL, &got), MUSTER_EINVAL);
  /* a subscriber sees every line: no room while it follows */
  muster_logsub_t *sub;
  ASSERT_OK(muster_logfile_subscribe(plain, ignore_line, NULL, &sub));
  ASSERT_EQ(muster_logsource_reserve(sp, 100, &room, &got), MUSTER_ENOBUFS);
  muster_logfile_unsubscribe(sub);
  ASSERT_OK(muster_logsource_reserve(sp, 100, &room, &got));
  ASSERT_EQ(got, 100);
  /* DROP: the room stops at what the queue still takes (1,000 bytes are
   * queued, too few to start a job; a full queue: logfile_reserve_full) */
  char line[1000];
  memset(line, 'x', sizeof line - 1);
  line[sizeof line - 1] = '\n';
  muster_logsource_write(sd, line, sizeof line);
  ASSERT_OK(muster_logsource_reserve(sd, 100000, &room, &got));
  ASSERT_EQ(got, 4096 - sizeof line);
  muster_logsource_close(st);
  muster_logsource_close(sp);
  muster_logsource_close(sd);
  tlog_close(&loop, timed);
  tlog_close(&loop, plain);
  tlog_close(&loop, drop);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

TEST(logfile_layouts) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  muster_logfile_options_t t1 = {.flags = MUSTER_LOGFILE_TIME,
                                 .date_format = "%Y|%L"};
  muster_logfile_options_t t2 = {.flags = MUSTER_LOGFILE_TIME,
                                 .date_format = "YYYY-MM"};
  muster_logfile_options_t js = {.flags = MUSTER_LOGFILE_JSON};
  muster_logfile_t *f1 = tlog_open(&loop, dir, "t1.log", &t1);
  muster_logfile_t *f2 = tlog_open(&loop, dir, "t2.log", &t2);
  muster_logfile_t *f3 = tlog_open(&loop, dir, "j.log", &js);
  muster_logsource_t *s1 = source(f1, "a", 0, 0);
  muster_logsource_t *s2 = source(f2, "a", 0, 0);
  muster_logsource_t *s3 = source(f3, "api \"x\"", 3, MUSTER_LOG_ERR);
  time_t now = time(NULL);
  put(s1, "hello\n");
  put(s2, "hello\n");
  const char msg[] = "q\"b\\s\tc\x01 \xc3\xa9 bad:\xff\xc3 end\n";
  muster_logsource_write(s3, msg, sizeof msg - 1);
  muster_logsource_close(s1);
  muster_logsource_close(s2);
  muster_logsource_close(s3);
  tlog_close(&loop, f1);
  tlog_close(&loop, f2);
  tlog_close(&loop, f3);
  char path[512], want[64];
  struct tm tm;
  localtime_r(&now, &tm);
  snprintf(path, sizeof path, "%s/t1.log", dir);
  char *text = tlog_read(path, NULL);
  snprintf(want, sizeof want, "%04d|", tm.tm_year + 1900);
  ASSERT(strncmp(text, want, 5) == 0);
  ASSERT_EQ(strlen(text), strlen("2026|123: hello\n"));
  ASSERT_STR_EQ(text + 8, ": hello\n");
  free(text);
  snprintf(path, sizeof path, "%s/t2.log", dir);
  text = tlog_read(path, NULL);
  snprintf(want, sizeof want, "%04d-%02d: hello\n", tm.tm_year + 1900,
           tm.tm_mon + 1);
  ASSERT_STR_EQ(text, want);
  free(text);
  snprintf(path, sizeof path, "%s/j.log", dir);
  size_t len;
  text = tlog_read(path, &len);
  ASSERT_EQ(text[len - 1], '\n');
  json_error_t e;
  json_t *j = json_loadb(text, len, 0, &e);
  if (j == NULL)
    TEST_FAIL("JSON line does not parse: %s: %s", e.text, text);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "app")), "api \"x\"");
  ASSERT_EQ(json_integer_value(json_object_get(j, "instance")), 3);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "stream")), "err");
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "message")),
                "q\"b\\s\tc\x01 \xc3\xa9 bad:\xef\xbf\xbd\xef\xbf\xbd end");
  const char *time_s = json_string_value(json_object_get(j, "time"));
  ASSERT(time_s != NULL && strlen(time_s) == 24 && time_s[23] == 'Z');
  json_decref(j);
  free(text);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

/* ---- a flood: every line numbered, all present once after rotations ---- */

typedef struct {
  muster_logfile_t *file;
  muster_logsource_t *src;
  uv_idle_t idle;
  unsigned next, total;
  size_t chunk;
  int paused_seen, resumed_seen;
} flood_t;

static void flood_step(uv_idle_t *h) {
  flood_t *fl = h->data;
  char buf[8192];
  size_t n = 0;
  /* odd-sized chunks, so lines straddle writes */
  while (fl->next < fl->total && n + 64 < fl->chunk)
    n += (size_t)snprintf(buf + n, sizeof buf - n,
                          "line %08u of the flood, some text to fill it\n",
                          fl->next++);
  size_t cut = n / 3;
  muster_logsource_write(fl->src, buf, cut);
  muster_logsource_write(fl->src, buf + cut, n - cut);
  if (fl->next == fl->total)
    uv_idle_stop(h);
}

static void flood_pressure(muster_logfile_t *f, int paused) {
  flood_t *fl = muster_logfile_data(f);
  if (paused) {
    fl->paused_seen++;
    uv_idle_stop(&fl->idle);
  } else {
    fl->resumed_seen++;
    if (fl->next < fl->total)
      uv_idle_start(&fl->idle, flood_step);
  }
}

static void flood(uv_loop_t *loop, flood_t *fl, muster_logfile_t *f,
                  unsigned total) {
  fl->file = f;
  fl->src = source(f, "flood", 0, MUSTER_LOG_OUT);
  fl->total = total;
  fl->chunk = 4000 + (rand() % 3000);
  ASSERT_OK(uv_idle_init(loop, &fl->idle));
  fl->idle.data = fl;
  ASSERT_OK(uv_idle_start(&fl->idle, flood_step));
  test_run_loop(loop, 120000);
  muster_logsource_close(fl->src);
  uv_close((uv_handle_t *)&fl->idle, NULL);
}

/* Checks that dir holds every line 0..total-1 exactly once, whole. */
static void check_all_lines(const char *dir, const char *name, unsigned total,
                            uint64_t max_size, int *files_out) {
  unsigned char *seen = calloc(total, 1);
  DIR *d = opendir(dir);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, name, strlen(name)) != 0)
      continue;
    char file[600];
    snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
    size_t len;
    char *text = tlog_read(file, &len);
    files++;
    if (max_size > 0 && strcmp(e->d_name, name) != 0)
      ASSERT_LE(len, max_size);
    for (char *p = text; *p != '\0';) {
      char *nl = strchr(p, '\n');
      ASSERT(nl != NULL);
      unsigned n;
      char tail[64];
      if (sscanf(p, "line %08u of the flood, %40[^\n]", &n, tail) != 2 ||
          strcmp(tail, "some text to fill it") != 0 || n >= total)
        TEST_FAIL("%s: a damaged line: %.*s", e->d_name, (int)(nl - p), p);
      if (seen[n]++)
        TEST_FAIL("line %u twice", n);
      p = nl + 1;
    }
    free(text);
  }
  closedir(d);
  for (unsigned i = 0; i < total; i++)
    if (!seen[i])
      TEST_FAIL("line %u is missing", i);
  free(seen);
  *files_out = files;
}

/* muster_logfile_format_time: the layouts' time, for `logs --timestamp`. */
TEST(logfile_format_time) {
  char buf[64];
  int64_t ms = (int64_t)time(NULL) * 1000 + 42;
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  char want[64];
  localtime_r(&sec, &tm);
  strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S.042", &tm);
  ASSERT_EQ(muster_logfile_format_time("YYYY-MM-DD HH:mm:ss.SSS", ms, buf,
                                       sizeof buf),
            (int)strlen(want));
  ASSERT_STR_EQ(buf, want);
  ASSERT_EQ(
      muster_logfile_format_time("%Y-%m-%d %H:%M:%S.%L", ms, buf, sizeof buf),
      (int)strlen(want));
  ASSERT_STR_EQ(buf, want);
  strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm); /* the default */
  ASSERT_EQ(muster_logfile_format_time(NULL, ms, buf, sizeof buf),
            (int)strlen(want));
  ASSERT_STR_EQ(buf, want);
  ASSERT_ERR(muster_logfile_format_time("%Y", ms, buf, 4), MUSTER_ENOBUFS);
  ASSERT_ERR(muster_logfile_format_time("%Y", ms, NULL, 8), MUSTER_EINVAL);
  ASSERT_ERR(muster_logfile_format_time("%Y", ms, buf, 0), MUSTER_EINVAL);
}

TEST_T(logfile_rotation_flood, 120) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  flood_t fl = {0};
  muster_logfile_options_t o = {.max_size = 64 << 10,
                                .retain = 1000,
                                .buffer_limit = 32 << 10,
                                .on_pressure = flood_pressure,
                                .data = &fl};
  muster_logfile_t *f = tlog_open(&loop, dir, "app-out.log", &o);
  unsigned total = 200000; /* about 10 MiB: some 150 rotations */
  flood(&loop, &fl, f, total);
  muster_logfile_stats_t st;
  tlog_close(&loop, f);
  (void)st;
  int files;
  check_all_lines(dir, "app-out.log", total, 64 << 10, &files);
  ASSERT_GE(files, 100);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

static void stats_after_flood(const char *dir, muster_logfile_options_t *o,
                              unsigned total, muster_logfile_stats_t *st,
                              flood_t *fl) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  o->on_pressure = flood_pressure;
  o->data = fl;
  muster_logfile_t *f = tlog_open(&loop, dir, "app-out.log", o);
  flood(&loop, fl, f, total);
  test_run_loop(&loop, 60000);
  muster_logfile_stats(f, st);
  tlog_close(&loop, f);
  tlog_loop_close(&loop);
}

TEST_T(logfile_retain_compress, 120) {
  const char *dir = tlog_dir();
  flood_t fl = {0};
  muster_logfile_options_t o = {
      .max_size = 32 << 10, .retain = 3, .flags = MUSTER_LOGFILE_COMPRESS};
  muster_logfile_stats_t st;
  stats_after_flood(dir, &o, 20000, &st, &fl);
  ASSERT_GE(st.rotations, 20);
  ASSERT_EQ(st.write_errors, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/app-out.log", dir);
  /* tail reads across the current file and the gzipped ones */
  char *buf;
  size_t len;
  ASSERT_OK(muster_logfile_tail_sync(path, 1000, 0, &buf, &len));
  unsigned first, n = 0;
  ASSERT_EQ(sscanf(buf, "line %08u", &first), 1);
  ASSERT_EQ(first, 20000 - 1000);
  for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
    n++;
  ASSERT_EQ(n, 1000);
  free(buf);
  /* three rotated files are kept, all gzipped, and the current one */
  ASSERT_EQ(tlog_count(dir, "app-out.log.", ".gz"), 3);
  ASSERT_EQ(tlog_count(dir, "app-out.log", ""), 4);
  tlog_rmdir(dir);
}

TEST_T(logfile_max_total, 120) {
  const char *dir = tlog_dir();
  flood_t fl = {0};
  muster_logfile_options_t o = {
      .max_size = 16 << 10, .retain = 100, .max_total = 100 << 10};
  muster_logfile_stats_t st;
  stats_after_flood(dir, &o, 10000, &st, &fl);
  ASSERT_GE(st.rotations, 20);
  DIR *d = opendir(dir);
  struct dirent *e;
  uint64_t total = 0;
  while ((e = readdir(d)) != NULL) {
    struct stat sb;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (e->d_name[0] != '.' && stat(p, &sb) == 0)
      total += (uint64_t)sb.st_size;
  }
  closedir(d);
  ASSERT_LE(total, 100 << 10);
  ASSERT_GE(total, 50 << 10);
  tlog_rmdir(dir);
}

/* A file last written yesterday is rotated by the first write of today. */
TEST(logfile_daily) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  char path[512];
  snprintf(path, sizeof path, "%s/d.log", dir);
  FILE *old = fopen(path, "w");
  fputs("yesterday\n", old);
  fclose(old);
  struct timeval tv[2] = {{time(NULL) - 86400 * 2, 0},
                          {time(NULL) - 86400 * 2, 0}};
  ASSERT_OK(utimes(path, tv));
  muster_logfile_t *f = tlog_open(&loop, dir, "d.log", NULL);
  muster_logsource_t *s = source(f, "d", 0, 0);
  put(s, "today\n");
  muster_logsource_close(s);
  tlog_close(&loop, f);
  char *text = tlog_read(path, NULL);
  ASSERT_STR_EQ(text, "today\n");
  free(text);
  ASSERT_EQ(tlog_count(dir, "d.log.", ""), 1);
  char *all;
  size_t len;
  ASSERT_OK(muster_logfile_tail_sync(path, 10, 0, &all, &len));
  ASSERT_STR_EQ(all, "yesterday\ntoday\n");
  free(all);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}
