/* Pausing a child's output: muster_child_read_stop() / read_start(). A
 * paused child blocks on its full pipe; resumed, it goes on and nothing is
 * lost (the fixture's bytes carry their offset, byte i being i % 251). */
#include "test-child.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

/* What arrived on stdout, checked as it comes. */
static size_t got;
static size_t wrong; /* bytes that were not the fixture's byte there */
static int data_while_paused;
static int paused;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
  got = wrong = 0;
  data_while_paused = paused = 0;
}

static void check_pattern(const char *buf, size_t len) {
  if (paused)
    data_while_paused++;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)buf[i] != (got + i) % 251)
      wrong++;
  got += len;
}

static char proc_state(int pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* ---- a paused child blocks, and resumes losing nothing ------------------ */

#define BIG (4 << 20)

static muster_child_t *child;
static uv_timer_t watch;
static int blocked;

static void watch_cb(uv_timer_t *t) {
  if (rec.exited || test_contains(rec.err, "wrote"))
    TEST_FAIL("the paused child wrote all its output: it never blocked");
  /* The child said "writing" and sleeps: in write(), on a full socket. */
  if (proc_state(muster_child_pid(child)) != 'S')
    return;
  blocked = 1;
  ASSERT_EQ(got, 0);
  ASSERT(!test_contains(rec.err, "wrote"));
  ASSERT_EQ(rec.exited, 0);
  paused = 0;
  ASSERT_OK(muster_child_read_start(child, 1));
  uv_close((uv_handle_t *)t, NULL);
}

static void big_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  if (slot == 1 && buf != NULL) {
    check_pattern(buf, len);
    return;
  }
  if (slot == 2 && buf != NULL) {
    size_t n = strlen(rec.err);
    ASSERT(n + len < sizeof rec.err);
    memcpy(rec.err + n, buf, len);
    rec.err[n + len] = '\0';
    if (test_contains(rec.err, "writing") &&
        !uv_is_active((uv_handle_t *)&watch) &&
        !uv_is_closing((uv_handle_t *)&watch))
      ASSERT_OK(uv_timer_start(&watch, watch_cb, 20, 20));
  }
}

TEST_T(child_pause_blocks_and_resumes, 60) {
  setup();
  opts.on_data = big_data;
  ASSERT_OK(uv_timer_init(&loop, &watch));
  char n[32];
  snprintf(n, sizeof n, "%d", BIG);
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_pattern", n, NULL), &opts,
                         &child));
  /* Before the loop runs: no byte can have been read yet. */
  ASSERT_OK(muster_child_read_stop(child, 1));
  paused = 1;
  test_run_loop(&loop, 50000);
  ASSERT_EQ(blocked, 1);
  ASSERT_EQ(data_while_paused, 0);
  ASSERT_EQ(got, BIG);
  ASSERT_EQ(wrong, 0);
  ASSERT_STR_EQ(rec.err, "writing\nwrote\n");
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- paused and resumed from inside on_data, chunk after chunk ---------- */

static uv_timer_t resume_timer;
static int pauses;

static void resume_cb(uv_timer_t *t) {
  paused = 0;
  ASSERT_OK(muster_child_read_start(child, 1));
}

static void pausing_data(muster_child_t *c, int slot, const char *buf,
                         size_t len) {
  if (slot != 1 || buf == NULL)
    return;
  check_pattern(buf, len);
  ASSERT_OK(muster_child_read_stop(c, 1));
  ASSERT_OK(muster_child_read_stop(c, 1)); /* twice is fine */
  paused = 1;
  pauses++;
  ASSERT_OK(uv_timer_start(&resume_timer, resume_cb, 1, 0));
}

static void pausing_close(muster_child_t *c) {
  rec.closed++;
  uv_close((uv_handle_t *)&resume_timer, NULL);
  muster_child_close(c, rec_freed_cb);
}

TEST_T(child_pause_in_data_cb, 60) {
  setup();
  opts.on_data = pausing_data;
  opts.on_close = pausing_close;
  ASSERT_OK(uv_timer_init(&loop, &resume_timer));
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_pattern", "1048576", NULL),
                         &opts, &child));
  test_run_loop(&loop, 50000);
  ASSERT_EQ(data_while_paused, 0);
  ASSERT_GE(pauses, 2);
  ASSERT_EQ(got, 1048576);
  ASSERT_EQ(wrong, 0);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- exit while paused: on_exit comes, on_close waits for the output ---- */

static void exit_resume(muster_child_t *c, int64_t status, int sig) {
  rec.exited++;
  ASSERT_EQ(status, 0);
  ASSERT_EQ(got, 0); /* not even the drain at exit reads a paused slot */
  ASSERT_EQ(rec.closed, 0);
  paused = 0;
  ASSERT_OK(muster_child_read_start(c, 1));
}

static size_t biggest; /* the longest single read */

static void count_data(muster_child_t *c, int slot, const char *buf,
                       size_t len) {
  if (slot == 1 && buf != NULL) {
    check_pattern(buf, len);
    if (len > biggest)
      biggest = len;
  }
}

/* The child writes n bytes, all fitting in the socket, and exits while its
 * stdout is paused; exit_resume() resumes it. */
static void exit_while_paused(const char *n, size_t want) {
  setup();
  biggest = 0;
  opts.on_exit = exit_resume;
  opts.on_data = count_data;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_pattern", n, NULL), &opts,
                         &child));
  ASSERT_OK(muster_child_read_stop(child, 1));
  paused = 1;
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(data_while_paused, 0);
  ASSERT_EQ(got, want);
  ASSERT_EQ(wrong, 0);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_pause_exit_then_resume) {
  /* Small enough for the socket: the child exits while we do not read. */
  exit_while_paused("30000", 30000);
}

/* ---- one read takes all the socket holds, beyond 64 KiB ---------------- */

TEST(child_read_whole_socket) {
  /* 150,000 bytes fit in a socket buffer of Linux's default size: the
   * child writes them all and exits while we do not read. */
  FILE *f = fopen("/proc/sys/net/core/wmem_default", "re");
  long wmem = 0;
  if (f == NULL || fscanf(f, "%ld", &wmem) != 1)
    wmem = 0;
  if (f != NULL)
    fclose(f);
  if (wmem < 212992)
    TEST_SKIP("net.core.wmem_default is %ld, under Linux's default 212992: "
              "150,000 bytes would not fit in the socket", wmem);
  exit_while_paused("150000", 150000);
  ASSERT_EQ(biggest, 150000); /* one read, not 64 KiB pieces */
}

/* ---- bad slots ---------------------------------------------------------- */

TEST(child_pause_einval) {
  setup();
  muster_stdio_t st[4] = {{MUSTER_STDIO_PIPE, 0},
                          {MUSTER_STDIO_PIPE, 0},
                          {MUSTER_STDIO_INHERIT, 0},
                          {MUSTER_STDIO_IGNORE, 0}};
  opts.stdio = st;
  opts.stdio_count = 4;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_out", "hi", "", "0", NULL),
                         &opts, &child));
  ASSERT_ERR(muster_child_read_stop(NULL, 1), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_read_stop(child, 0), MUSTER_EINVAL); /* stdin */
  ASSERT_ERR(muster_child_read_stop(child, 2), MUSTER_EINVAL); /* inherit */
  ASSERT_ERR(muster_child_read_stop(child, 3), MUSTER_EINVAL); /* ignore */
  ASSERT_ERR(muster_child_read_stop(child, 4), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_read_stop(child, -1), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_read_start(child, 0), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_read_start(NULL, 1), MUSTER_EINVAL);
  ASSERT_OK(muster_child_read_start(child, 1)); /* not paused: 0 */
  test_run_loop(&loop, 30000);
  ASSERT_STR_EQ(rec.out, "hi");
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}
