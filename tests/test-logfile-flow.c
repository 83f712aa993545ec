/* Log files under pressure: a sink that does not drain (a FIFO nobody
 * reads), a full disk, the two policies (pause, drop), memory that stays
 * flat under a flood; reopen, flush, subscribers, tail, bad input. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-logfile.h"

/* ---- a slow sink: a FIFO read only when the test decides ---- */

typedef struct {
  uv_loop_t *loop;
  muster_logfile_t *file;
  muster_logsource_t *src;
  uv_idle_t idle;
  uv_timer_t timer;
  uv_poll_t poll;
  int rfd;
  uint64_t sent, target, got;
  int paused, pauses, resumes, paused_at_timer, closed;
} sink_t;

static void sink_write(uv_idle_t *h) {
  sink_t *k = h->data;
  char buf[4096];
  memset(buf, 'z', sizeof buf);
  for (size_t i = 63; i < sizeof buf; i += 64)
    buf[i] = '\n';
  muster_logsource_write(k->src, buf, sizeof buf);
  k->sent += sizeof buf;
  if (k->sent >= k->target)
    uv_idle_stop(h);
}

static void sink_pressure(muster_logfile_t *f, int paused) {
  sink_t *k = muster_logfile_data(f);
  k->paused = paused;
  if (paused) {
    k->pauses++;
    uv_idle_stop(&k->idle);
  } else {
    k->resumes++;
    if (k->sent < k->target)
      uv_idle_start(&k->idle, sink_write);
  }
}

static void sink_closed(muster_logfile_t *f) {
  sink_t *k = muster_logfile_data(f);
  k->closed = 1;
}

static void sink_read(uv_poll_t *p, int status, int events) {
  sink_t *k = p->data;
  char buf[65536];
  ssize_t n;
  while ((n = read(k->rfd, buf, sizeof buf)) > 0)
    k->got += (uint64_t)n;
  if (n == 0) { /* every writer is gone: the file closed its fd */
    uv_poll_stop(p);
    uv_close((uv_handle_t *)p, NULL);
  }
  if (k->sent >= k->target && k->src != NULL && !k->paused) {
    muster_logsource_close(k->src);
    k->src = NULL;
    muster_logfile_close(k->file, sink_closed);
  }
}

/* The loop still runs while the writer thread is stuck in write(2). */
static void sink_timer(uv_timer_t *t) {
  sink_t *k = t->data;
  k->paused_at_timer = k->paused;
  ASSERT_OK(uv_poll_start(&k->poll, UV_READABLE, sink_read));
}

/* A FIFO in a fresh directory, open for reading (so a writer can open
 * it); its path goes to `path`. */
static int fifo(const char **dir, char *path, size_t size) {
  *dir = tlog_dir();
  snprintf(path, size, "%s/fifo", *dir);
  ASSERT_OK(mkfifo(path, 0600));
  int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT(rfd >= 0);
  return rfd;
}

/* A file at a FIFO nobody reads yet (fifo()), with the DROP policy and
 * a queue of `limit` bytes, and a source feeding it. Returns the FIFO's
 * reading end. */
static int fifo_drop(uv_loop_t *loop, const char **dir, size_t limit,
                     muster_logfile_t **f, muster_logsource_t **s) {
  static char path[512];
  ASSERT_OK(uv_loop_init(loop));
  int rfd = fifo(dir, path, sizeof path);
  muster_logfile_options_t o = {.flags = MUSTER_LOGFILE_DROP,
                                .buffer_limit = limit};
  ASSERT_OK(muster_logfile_open(loop, path, &o, f));
  muster_logsource_options_t so = {"d", 0, 0};
  ASSERT_OK(muster_logsource_open(*f, &so, s));
  return rfd;
}

/* Closes the file of fifo_drop() (its sources closed) while reading the
 * FIFO to its end, then removes everything; returns the bytes read. */
static uint64_t drain_close(uv_loop_t *loop, muster_logfile_t *f, int rfd,
                            const char *dir) {
  char buf[65536];
  uint64_t got = 0;
  muster_logfile_close(f, NULL);
  for (;;) {
    ssize_t n = read(rfd, buf, sizeof buf);
    if (n == 0)
      break;
    if (n > 0)
      got += (uint64_t)n;
    uv_run(loop, UV_RUN_NOWAIT);
  }
  close(rfd);
  tlog_rmdir(dir);
  tlog_loop_close(loop);
  return got;
}

static void run_sink(sink_t *k, unsigned flags, uint64_t target) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir;
  char path[512];
  k->rfd = fifo(&dir, path, sizeof path);
  k->loop = &loop;
  k->target = target;
  muster_logfile_options_t o = {.flags = flags,
                                .buffer_limit = 64 << 10,
                                .on_pressure = sink_pressure,
                                .data = k};
  ASSERT_OK(muster_logfile_open(&loop, path, &o, &k->file));
  muster_logsource_options_t so = {"sink", 0, MUSTER_LOG_OUT};
  ASSERT_OK(muster_logsource_open(k->file, &so, &k->src));
  ASSERT_OK(uv_idle_init(&loop, &k->idle));
  ASSERT_OK(uv_timer_init(&loop, &k->timer));
  ASSERT_OK(uv_poll_init(&loop, &k->poll, k->rfd));
  k->idle.data = k->timer.data = k->poll.data = k;
  ASSERT_OK(uv_idle_start(&k->idle, sink_write));
  ASSERT_OK(uv_timer_start(&k->timer, sink_timer, 500, 0));
  test_run_loop(&loop, 60000);
  ASSERT(k->closed);
  uv_close((uv_handle_t *)&k->idle, NULL);
  uv_close((uv_handle_t *)&k->timer, NULL);
  close(k->rfd);
  unlink(path);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

TEST_T(logfile_pause_slow_sink, 60) {
  sink_t k = {0};
  run_sink(&k, 0, 4 << 20);
  /* paused while nobody read, resumed after, and nothing was lost */
  ASSERT_GE(k.pauses, 1);
  ASSERT_GE(k.resumes, 1);
  ASSERT(k.paused_at_timer);
  ASSERT_EQ(k.got, k.sent);
}

TEST_T(logfile_drop_slow_sink, 60) {
  sink_t k = {0};
  run_sink(&k, MUSTER_LOGFILE_DROP, 8 << 20);
  ASSERT_EQ(k.pauses, 0);
  ASSERT(k.got < k.sent);
  ASSERT_GE(k.got, 64 << 10);
}

/* The same, looking at the file's own accounting while it happens. */
TEST_T(logfile_drop_accounting, 60) {
  uv_loop_t loop;
  const char *dir;
  muster_logfile_t *f;
  muster_logsource_t *s;
  int rfd = fifo_drop(&loop, &dir, 64 << 10, &f, &s);
  char line[100];
  memset(line, 'd', 99);
  line[99] = '\n';
  uint64_t sent = 0;
  for (int i = 0; i < 100000; i++) { /* 10 MB without reading */
    muster_logsource_write(s, line, sizeof line);
    sent += sizeof line;
    if (i % 1000 == 0)
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_GE(st.dropped_lines, 1);
  ASSERT_EQ(st.dropped_bytes, st.dropped_lines * 100);
  ASSERT_EQ(st.lines_written + st.dropped_lines, 100000);
  /* queue plus the batch stuck in write(2): two limits and a line */
  ASSERT_LE(st.queued_peak, 2 * (64 << 10) + 100);
  /* drain, then close */
  muster_logsource_close(s);
  ASSERT_EQ(drain_close(&loop, f, rfd, dir) + st.dropped_bytes, sent);
}

/* Under the DROP policy a full queue has no room to read into: the file's
 * job is busy (writing to a FIFO nobody reads), the queue fills, and then
 * muster_logsource_reserve() says ENOBUFS; nothing read into a room was
 * dropped. */
TEST_T(logfile_reserve_full, 60) {
  uv_loop_t loop;
  const char *dir;
  muster_logfile_t *f;
  muster_logsource_t *s;
  int rfd = fifo_drop(&loop, &dir, 4096, &f, &s);
  char *room;
  size_t got;
  uint64_t sent = 0;
  int written = 0;
  while (muster_logsource_reserve(s, 100000, &room, &got) == 0) {
    /* the first goes to the job, the second fills the queue (the loop
     * does not run, so the job is never seen done) */
    ASSERT(written < 2);
    ASSERT_EQ(got, 4096);
    memset(room, 'x', got);
    room[got - 1] = '\n';
    muster_logsource_write(s, room, got);
    sent += got;
    written++;
  }
  ASSERT_EQ(written, 2);
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.lines_written, written);
  ASSERT_EQ(st.dropped_bytes, 0);
  muster_logsource_close(s);
  ASSERT_EQ(drain_close(&loop, f, rfd, dir), sent);
}

TEST(logfile_full_disk) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_logfile_t *f;
  ASSERT_OK(muster_logfile_open(&loop, "/dev/full", NULL, &f));
  muster_logsource_options_t so = {"full", 0, 0};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  for (int i = 0; i < 100; i++)
    muster_logsource_write(s, "0123456789\n", 11);
  muster_logsource_close(s);
  test_run_loop(&loop, 10000);
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.bytes_written, 0);
  ASSERT_EQ(st.dropped_bytes, 1100);
  ASSERT_GE(st.write_errors, 1);
  ASSERT_ERR(st.last_error, MUSTER_ENOSPC);
  ASSERT_EQ(st.queued_bytes, 0);
  ASSERT_EQ(st.rotations, 0);
  tlog_close(&loop, f);
  tlog_loop_close(&loop);
}

TEST(logfile_reopen_flush) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  char path[512], moved[512];
  snprintf(path, sizeof path, "%s/r.log", dir);
  snprintf(moved, sizeof moved, "%s/moved.log", dir);
  muster_logfile_t *f = tlog_open(&loop, dir, "r.log", NULL);
  muster_logsource_options_t so = {"r", 0, 0};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  muster_logsource_write(s, "before\n", 7);
  test_run_loop(&loop, 10000);
  ASSERT_OK(rename(path, moved)); /* logrotate's way */
  muster_logsource_write(s, "still old fd\n", 13);
  test_run_loop(&loop, 10000);
  ASSERT_OK(muster_logfile_reopen(f));
  muster_logsource_write(s, "after\n", 6);
  test_run_loop(&loop, 10000);
  char *text = tlog_read(moved, NULL);
  ASSERT_STR_EQ(text, "before\nstill old fd\n");
  free(text);
  text = tlog_read(path, NULL);
  ASSERT_STR_EQ(text, "after\n");
  free(text);
  ASSERT_OK(muster_logfile_flush(f));
  test_run_loop(&loop, 10000);
  text = tlog_read(path, NULL);
  ASSERT_STR_EQ(text, "");
  free(text);
  muster_logsource_write(s, "fresh\n", 6);
  test_run_loop(&loop, 10000);
  muster_logsource_write(s, "newest\n", 7);
  ASSERT_OK(muster_logfile_rotate(f));
  muster_logsource_close(s);
  tlog_close(&loop, f);
  /* "fresh" was on the disk when rotate was asked for; "newest" was
   * still queued (a small queue waits for the end of the loop turn) and
   * goes to the new file. */
  text = tlog_read(path, NULL);
  ASSERT_STR_EQ(text, "newest\n");
  free(text);
  ASSERT_EQ(tlog_count(dir, "r.log.", ""), 1);
  size_t len;
  ASSERT_OK(muster_logfile_tail_sync(path, 5, 0, &text, &len));
  ASSERT_STR_EQ(text, "fresh\nnewest\n");
  free(text);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

typedef struct {
  int count;
  char last[64];
  int instance;
  muster_log_stream_t stream;
  muster_logsub_t *sub;
} subs_t;

static void on_line(muster_logsub_t *sub, const muster_logline_t *l,
                    void *data) {
  subs_t *st = data;
  ASSERT(sub == st->sub);
  snprintf(st->last, sizeof st->last, "%s:%.*s", l->app, (int)l->len, l->line);
  st->instance = l->instance;
  st->stream = l->stream;
  ASSERT(l->time_ms > 1700000000000LL);
  if (++st->count == 3)
    muster_logfile_unsubscribe(sub); /* from inside its own callback */
}

TEST(logfile_subscribe) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  muster_logfile_options_t o = {.flags = MUSTER_LOGFILE_JSON};
  muster_logfile_t *f = tlog_open(&loop, dir, "s.log", &o);
  subs_t a = {0}, b = {0};
  ASSERT_OK(muster_logfile_subscribe(f, on_line, &a, &a.sub));
  ASSERT_OK(muster_logfile_subscribe(f, on_line, &b, &b.sub));
  muster_logsource_options_t so = {"web", 2, MUSTER_LOG_ERR};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  muster_logsource_write(s, "x\ny\n", 4);
  ASSERT_EQ(a.count, 2);
  ASSERT_STR_EQ(a.last, "web:y"); /* the line, not its JSON layout */
  ASSERT_EQ(a.instance, 2);
  ASSERT_EQ(a.stream, MUSTER_LOG_ERR);
  muster_logfile_unsubscribe(b.sub);
  muster_logsource_write(s, "z\nw\n", 4);
  ASSERT_EQ(a.count, 3); /* unsubscribed itself at the third */
  ASSERT_EQ(b.count, 2);
  ASSERT_ERR(muster_logfile_subscribe(f, NULL, NULL, &a.sub), MUSTER_EINVAL);
  /* a subscription left open ends with the file */
  ASSERT_OK(muster_logfile_subscribe(f, on_line, &b, &b.sub));
  muster_logsource_close(s);
  tlog_close(&loop, f);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

static int tail_calls;

static void on_tail(int status, char *buf, size_t len, void *data) {
  ASSERT_OK(status);
  ASSERT_STR_EQ(buf, (const char *)data);
  ASSERT_EQ(len, strlen(data));
  free(buf);
  tail_calls++;
}

static void on_tail_missing(int status, char *buf, size_t len, void *data) {
  ASSERT_ERR(status, MUSTER_ENOENT);
  ASSERT(buf == NULL);
  tail_calls++;
}

TEST(logfile_tail) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  char path[512];
  snprintf(path, sizeof path, "%s/t.log", dir);
  /* 64-byte max_size with 10-byte lines: 6 lines a file */
  muster_logfile_options_t o = {.max_size = 64, .retain = 100};
  muster_logfile_t *f = tlog_open(&loop, dir, "t.log", &o);
  muster_logsource_options_t so = {"t", 0, 0};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  for (int i = 0; i < 20; i++) {
    char line[16];
    snprintf(line, sizeof line, "line %04d\n", i);
    muster_logsource_write(s, line, 10);
    test_run_loop(&loop, 10000); /* one batch a line: rotation by lines */
  }
  muster_logsource_write(s, "partial", 7); /* held, not in the file */
  char *buf;
  size_t len;
  ASSERT_OK(muster_logfile_tail_sync(path, 8, 0, &buf, &len));
  ASSERT_STR_EQ(buf, "line 0012\nline 0013\nline 0014\nline 0015\n"
                     "line 0016\nline 0017\nline 0018\nline 0019\n");
  free(buf);
  ASSERT_OK(muster_logfile_tail_sync(path, 1000, 0, &buf, &len));
  ASSERT_EQ(len, 200);
  ASSERT(strncmp(buf, "line 0000\n", 10) == 0);
  free(buf);
  /* max_bytes leaves older lines out, never half a line */
  ASSERT_OK(muster_logfile_tail_sync(path, 1000, 35, &buf, &len));
  ASSERT_STR_EQ(buf, "line 0017\nline 0018\nline 0019\n");
  free(buf);
  ASSERT_OK(muster_logfile_tail_sync(path, 0, 0, &buf, &len));
  ASSERT_EQ(len, 0);
  free(buf);
  ASSERT_OK(muster_logfile_tail(&loop, path, 2, 0, on_tail,
                                "line 0018\nline 0019\n"));
  char missing[600];
  snprintf(missing, sizeof missing, "%s/none.log", dir);
  ASSERT_OK(muster_logfile_tail(&loop, missing, 2, 0, on_tail_missing, NULL));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(tail_calls, 2);
  ASSERT_ERR(muster_logfile_tail_sync(missing, 2, 0, &buf, &len),
             MUSTER_ENOENT);
  muster_logsource_close(s);
  tlog_close(&loop, f);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

/* muster_logfile_history: the lines queued before the call, none after,
 * whether a batch is being written or not, across rotations. */
typedef struct {
  const char *want;
  int calls;
} history_want_t;

static void on_history(int status, char *buf, size_t len, void *data) {
  history_want_t *w = data;
  ASSERT_OK(status);
  ASSERT_STR_EQ(buf, w->want);
  ASSERT_EQ(len, strlen(w->want));
  free(buf);
  w->calls++;
}

static void write_numbered(muster_logsource_t *s, int from, int to) {
  for (int i = from; i < to; i++) {
    char line[16];
    snprintf(line, sizeof line, "line %04d\n", i);
    muster_logsource_write(s, line, 10);
  }
}

TEST(logfile_history) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  /* 64-byte max_size with 10-byte lines: 6 lines a file */
  muster_logfile_options_t o = {.max_size = 64, .retain = 100};
  muster_logfile_t *f = tlog_open(&loop, dir, "h.log", &o);
  muster_logsource_options_t so = {"h", 0, 0};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  write_numbered(s, 0, 10); /* queued, nothing written yet */
  history_want_t a = {"line 0007\nline 0008\nline 0009\n", 0};
  ASSERT_OK(muster_logfile_history(f, 3, 0, on_history, &a)); /* job starts */
  write_numbered(s, 10, 15); /* queued behind the batch in flight */
  history_want_t b = {"line 0007\nline 0008\nline 0009\nline 0010\n"
                      "line 0011\nline 0012\nline 0013\nline 0014\n",
                      0};
  ASSERT_OK(muster_logfile_history(f, 8, 0, on_history, &b));
  write_numbered(s, 15, 20); /* after it: not in it */
  history_want_t c = {"line 0019\n", 0};
  ASSERT_OK(muster_logfile_history(f, 1, 0, on_history, &c));
  write_numbered(s, 20, 22);
  test_run_loop(&loop, 10000);
  ASSERT_EQ(a.calls, 1);
  ASSERT_EQ(b.calls, 1);
  ASSERT_EQ(c.calls, 1);
  ASSERT(tlog_count(dir, "h.log.", "") >= 3); /* it did rotate */
  ASSERT_ERR(muster_logfile_history(NULL, 1, 0, on_history, &c),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_logfile_history(f, 1, 0, NULL, &c), MUSTER_EINVAL);
  muster_logsource_close(s);
  muster_logfile_close(f, NULL);
  ASSERT_ERR(muster_logfile_history(f, 1, 0, on_history, &c), MUSTER_EINVAL);
  test_run_loop(&loop, 10000);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}

TEST(logfile_bad_input) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_logfile_t *f = NULL;
  int fds = test_fd_count();
  ASSERT_ERR(muster_logfile_open(&loop, "/nonexistent/dir/a.log", NULL, &f),
             MUSTER_ENOENT);
  ASSERT_ERR(muster_logfile_open(&loop, "/", NULL, &f), -EISDIR);
  ASSERT_ERR(muster_logfile_open(NULL, "/tmp/x", NULL, &f), MUSTER_EINVAL);
  ASSERT_ERR(muster_logfile_open(&loop, "", NULL, &f), MUSTER_EINVAL);
  muster_logfile_options_t both = {.flags = MUSTER_LOGFILE_TIME |
                                            MUSTER_LOGFILE_JSON};
  ASSERT_ERR(muster_logfile_open(&loop, "/dev/null", &both, &f), MUSTER_EINVAL);
  muster_logfile_options_t tiny = {.max_line = 10};
  ASSERT_ERR(muster_logfile_open(&loop, "/dev/null", &tiny, &f), MUSTER_EINVAL);
  ASSERT(f == NULL);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_ERR(muster_logfile_reopen(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_logsource_open(NULL, NULL, NULL), MUSTER_EINVAL);
  char *buf;
  size_t len;
  ASSERT_ERR(muster_logfile_tail_sync(NULL, 1, 0, &buf, &len), MUSTER_EINVAL);
  /* /dev/null: not a regular file, never rotated */
  muster_logfile_options_t o = {.max_size = 10};
  ASSERT_OK(muster_logfile_open(&loop, "/dev/null", &o, &f));
  muster_logsource_options_t so = {"n", 0, 0};
  muster_logsource_t *s;
  ASSERT_OK(muster_logsource_open(f, &so, &s));
  muster_logsource_write(s, "0123456789012345\n0123456789\n", 28);
  ASSERT_EQ(muster_logfile_reopen(f), 0);
  muster_logsource_close(s);
  test_run_loop(&loop, 10000);
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  ASSERT_EQ(st.bytes_written, 28);
  ASSERT_EQ(st.rotations, 0);
  tlog_close(&loop, f);
  tlog_loop_close(&loop);
}

/* ---- memory under a flood ---- */

/* ASan's quarantine and TSan's shadow memory grow the RSS by themselves:
 * there only the writer's own accounting is checked. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  ASSERT(f != NULL);
  ASSERT_EQ(fscanf(f, "%ld %ld", &pages, &resident), 2);
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct {
  muster_logsource_t *src;
  uv_idle_t idle;
  uv_timer_t warm, stop;
  long rss_warm, rss_end;
  uint64_t sent;
  int done;
} burst_t;

static void burst_write(uv_idle_t *h) {
  burst_t *b = h->data;
  static char buf[65536];
  if (buf[0] == '\0')
    for (size_t i = 0; i < sizeof buf; i++)
      buf[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
  muster_logsource_write(b->src, buf, sizeof buf);
  b->sent += sizeof buf;
}

static void burst_pressure(muster_logfile_t *f, int paused) {
  burst_t *b = muster_logfile_data(f);
  if (paused)
    uv_idle_stop(&b->idle);
  else if (!b->done)
    uv_idle_start(&b->idle, burst_write);
}

static void burst_warm(uv_timer_t *t) {
  burst_t *b = t->data;
  b->rss_warm = rss_kib();
}

static void burst_stop(uv_timer_t *t) {
  burst_t *b = t->data;
  b->done = 1;
  b->rss_end = rss_kib();
  uv_idle_stop(&b->idle);
}

TEST_T(logfile_memory_flat, 120) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  const char *dir = tlog_dir();
  burst_t b = {0};
  muster_logfile_options_t o = {.max_size = 4 << 20,
                                .retain = 2,
                                .flags = MUSTER_LOGFILE_TIME,
                                .on_pressure = burst_pressure,
                                .data = &b};
  muster_logfile_t *f = tlog_open(&loop, dir, "flood.log", &o);
  muster_logsource_options_t so = {"flood", 0, 0};
  ASSERT_OK(muster_logsource_open(f, &so, &b.src));
  ASSERT_OK(uv_idle_init(&loop, &b.idle));
  ASSERT_OK(uv_timer_init(&loop, &b.warm));
  ASSERT_OK(uv_timer_init(&loop, &b.stop));
  b.idle.data = b.warm.data = b.stop.data = &b;
  ASSERT_OK(uv_idle_start(&b.idle, burst_write));
  ASSERT_OK(uv_timer_start(&b.warm, burst_warm, 1000, 0));
  ASSERT_OK(uv_timer_start(&b.stop, burst_stop, 10000, 0));
  uint64_t t0 = test_now_ms();
  test_run_loop(&loop, 60000);
  uint64_t ms = test_now_ms() - t0;
  muster_logfile_stats_t st;
  muster_logfile_stats(f, &st);
  fprintf(stderr,
          "flood: %.1f MB in %.1f s, %" PRIu64 " rotations, "
          "queued peak %zu KiB, RSS %ld -> %ld KiB\n",
          st.bytes_written / 1e6, ms / 1e3, st.rotations, st.queued_peak >> 10,
          b.rss_warm, b.rss_end);
  /* The file's own accounting: the queue, the batch, one write's worth. */
  ASSERT_LE(st.queued_peak, 2 * (1024 << 10) + 2 * 65536);
  ASSERT_EQ(st.dropped_bytes, 0);
  ASSERT_GE(st.rotations, 2);
  /* And the process's: flat after the first second. */
  if (!SANITIZED)
    ASSERT_LE(b.rss_end - b.rss_warm, 2048);
  muster_logsource_close(b.src);
  tlog_close(&loop, f);
  ASSERT_LE(tlog_count(dir, "flood.log", ""), 3);
  uv_close((uv_handle_t *)&b.idle, NULL);
  uv_close((uv_handle_t *)&b.warm, NULL);
  uv_close((uv_handle_t *)&b.stop, NULL);
  tlog_rmdir(dir);
  tlog_loop_close(&loop);
}
