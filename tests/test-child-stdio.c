/* Stdio slots: pipes in both directions, inherit, ignore, fd, IPC. */
#include "test-child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static rec_t rec;
static muster_spawn_options_t opts;

static void setup(void) {
  rec_setup(&loop, &rec, &opts);
}

static void finish(void) {
  test_run_loop(&loop, 60000);
  ASSERT_EQ(rec.spawned, 1);
  ASSERT_EQ(rec.exited, 1);
  ASSERT_EQ(rec.closed, 1);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- writing stdin ------------------------------------------------------ */

static int write_cbs;
static int write_status[64];
static size_t max_queue;

static void write_cb(muster_child_t *c, int status, void *arg) {
  ASSERT(muster_child_data(c) == &rec);
  write_status[(intptr_t)arg] = status;
  write_cbs++;
}

TEST(child_stdin_echo) {
  setup();
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_cat", NULL), &opts, &c));
  ASSERT_OK(muster_child_write(c, 0, "hello ", 6, write_cb, (void *)0));
  ASSERT_OK(muster_child_write(c, 0, "world\n", 6, write_cb, (void *)1));
  ASSERT_OK(muster_child_write(c, 0, "", 0, write_cb, (void *)2));
  /* Callbacks are never called from inside muster_child_write(). */
  ASSERT_EQ(write_cbs, 0);
  ASSERT_OK(muster_child_end(c, 0));
  ASSERT_OK(muster_child_end(c, 0)); /* twice is fine */
  ASSERT_ERR(muster_child_write(c, 0, "x", 1, NULL, NULL), MUSTER_EPIPE);
  finish();
  ASSERT_EQ(write_cbs, 3);
  ASSERT_EQ(write_status[0], 0);
  ASSERT_EQ(write_status[1], 0);
  ASSERT_EQ(write_status[2], 0);
  ASSERT_STR_EQ(rec.out, "hello world\n");
  ASSERT_EQ(rec.exit_status, 0);
}

/* Large input through cat: the queue fills (backpressure) and drains, and
 * every byte comes back. */
static size_t big_len = 4 * 1024 * 1024;
static size_t echoed;
static unsigned char expect_next;
static int big_bad;

static void big_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  if (buf == NULL) {
    rec_event(&rec, "eof");
    return;
  }
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)buf[i] != expect_next)
      big_bad = 1;
    expect_next = (unsigned char)(expect_next * 7 + 1);
  }
  echoed += len;
}

TEST_T(child_stdin_backpressure, 120) {
  setup();
  opts.on_data = big_data;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_cat", NULL), &opts, &c));
  unsigned char *buf = malloc(big_len);
  unsigned char v = 0;
  for (size_t i = 0; i < big_len; i++) {
    buf[i] = v;
    v = (unsigned char)(v * 7 + 1);
  }
  size_t chunk = big_len / 16;
  for (int i = 0; i < 16; i++) {
    ASSERT_OK(muster_child_write(c, 0, buf + i * chunk, chunk, write_cb,
                                 (void *)(intptr_t)i));
    size_t q = muster_child_write_queue_size(c, 0);
    if (q > max_queue)
      max_queue = q;
  }
  free(buf);             /* the bytes were copied */
  ASSERT(max_queue > 0); /* 4 MiB cannot all fit in a socket buffer */
  ASSERT_OK(muster_child_end(c, 0));
  finish();
  ASSERT_EQ(write_cbs, 16);
  for (int i = 0; i < 16; i++)
    ASSERT_EQ(write_status[i], 0);
  ASSERT_EQ(echoed, big_len);
  ASSERT_EQ(big_bad, 0);
}

/* The child closed stdin: a write fails with EPIPE in its callback, and we
 * are not killed by SIGPIPE (the runner keeps SIGPIPE at its default). Once
 * the failure is known, later writes fail at once. */
static muster_child_t *epipe_child;

static void epipe_cb(muster_child_t *c, int status, void *arg) {
  write_cb(c, status, arg);
  ASSERT_ERR(muster_child_write(c, 0, "x", 1, NULL, NULL), MUSTER_EPIPE);
  ASSERT_OK(muster_child_kill(c, SIGKILL));
}

static void epipe_data(muster_child_t *c, int slot, const char *buf,
                       size_t len) {
  if (slot != 1 || buf == NULL || !test_contains(buf, "closed"))
    return;
  static char big[1 << 20];
  ASSERT_OK(muster_child_write(c, 0, big, sizeof big, epipe_cb, 0));
}

TEST(child_stdin_epipe_callback) {
  setup();
  opts.on_data = epipe_data;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_close_stdin", "60000", NULL),
                         &opts, &epipe_child));
  /* SIGPIPE at its default: a raw write() to the socket would kill us. */
  ASSERT(signal(SIGPIPE, SIG_DFL) == SIG_DFL);
  finish();
  ASSERT_EQ(write_cbs, 1);
  ASSERT_ERR(write_status[0], MUSTER_EPIPE);
  ASSERT_EQ(rec.term_signal, SIGKILL);
}

/* The same when the bytes are already queued: the child closes stdin with
 * our bytes unread while we wait for room (libuv sees POLLERR). The child
 * waits 1.5 s first: on a loaded machine (load 30 on 2 CPUs) on_spawn came
 * more than 0.2 s after the child started, which found stdin closed. */
static void queued_spawn(muster_child_t *c) {
  static char big[4 << 20];
  rec.spawned++;
  ASSERT_OK(muster_child_write(c, 0, big, sizeof big, epipe_cb, 0));
  ASSERT(muster_child_write_queue_size(c, 0) > 0);
}

TEST(child_stdin_epipe_queued) {
  setup();
  opts.on_spawn = queued_spawn;
  ASSERT_OK(muster_spawn(
      &loop, test_fixture_path(),
      test_fixture_argv("child_close_stdin", "60000", "1500", NULL), &opts,
      &epipe_child));
  finish();
  ASSERT_EQ(write_cbs, 1);
  ASSERT_ERR(write_status[0], MUSTER_EPIPE);
  ASSERT_EQ(rec.term_signal, SIGKILL);
}

/* After the child exited, writing its stdin is EPIPE at once. */
static void dead_exit(muster_child_t *c, int64_t status, int sig) {
  rec.exited++;
  ASSERT_ERR(muster_child_write(c, 0, "late", 4, write_cb, 0), MUSTER_EPIPE);
  ASSERT_OK(muster_child_end(c, 0));
}

TEST(child_stdin_epipe_after_exit) {
  setup();
  opts.on_exit = dead_exit;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  finish();
  ASSERT_EQ(write_cbs, 0);
}

/* Queued writes are cancelled by muster_child_close(). */
static void cancel_spawn(muster_child_t *c) {
  static char big[4 << 20];
  rec.spawned++;
  /* child_sleep never reads stdin: most of this stays queued. */
  ASSERT_OK(muster_child_write(c, 0, big, sizeof big, write_cb, 0));
  ASSERT(muster_child_write_queue_size(c, 0) > 0);
  ASSERT_OK(muster_child_kill(c, SIGKILL));
  muster_child_close(c, rec_freed_cb);
}

static int cancel_pid;
static uv_timer_t cancel_timer;

static void cancel_watch(uv_timer_t *t) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", cancel_pid);
  if (access(path, F_OK) != 0)
    uv_close((uv_handle_t *)t, NULL);
}

TEST(child_write_cancelled_by_close) {
  setup();
  opts.on_spawn = cancel_spawn;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_sleep", "60000", NULL), &opts,
                         &c));
  cancel_pid = muster_child_pid(c);
  /* The closed child is reaped by its kept (unreferenced) process handle:
   * keep the loop running with a timer until its pid is gone. */
  ASSERT_OK(uv_timer_init(&loop, &cancel_timer));
  ASSERT_OK(uv_timer_start(&cancel_timer, cancel_watch, 10, 10));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rec.freed, 1);
  ASSERT_EQ(write_cbs, 1);
  ASSERT_ERR(write_status[0], MUSTER_ECANCELED);
  ASSERT_EQ(rec.closed, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(child_write_not_a_pipe) {
  setup();
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_IGNORE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 4;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  ASSERT_ERR(muster_child_write(c, 0, "x", 1, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_write(c, 3, "x", 1, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_write(c, 4, "x", 1, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_write(c, -1, "x", 1, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_end(c, 0), MUSTER_EINVAL);
  ASSERT_ERR(muster_child_end(c, 16), MUSTER_EINVAL);
  ASSERT_EQ(muster_child_write_queue_size(c, 0), 0);
  finish();
}

/* ---- slot kinds --------------------------------------------------------- */

static void read_all(int fd, char *buf, size_t cap) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
}

TEST(child_stdio_kinds) {
  setup();
  int p[2];
  ASSERT_OK(pipe2(p, O_CLOEXEC));
  /* 0 ignore, 1 pipe, 2 ignore, 3 the report fd, 4 ignore, 5 not a slot */
  muster_stdio_t stdio[5] = {{MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_FD, p[1]},
                             {MUSTER_STDIO_IGNORE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 5;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_stdio_kinds", "3", NULL),
                         &opts, &c));
  close(p[1]); /* the caller keeps MUSTER_STDIO_FD fds; we are done with it */
  finish();
  char buf[512];
  read_all(p[0], buf, sizeof buf);
  close(p[0]);
  ASSERT_STR_EQ(buf, "0 devnull\n1 socket\n2 devnull\n3 pipe\n4 closed\n"
                     "5 closed\n");
}

TEST(child_stdio_inherit) {
  setup();
  int p[2], saved;
  ASSERT_OK(pipe2(p, O_CLOEXEC));
  saved = dup(2);
  ASSERT(saved >= 0);
  ASSERT(dup2(p[1], 2) == 2);
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_INHERIT, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 3;
  muster_child_t *c = NULL;
  int r = muster_spawn(&loop, test_fixture_path(),
                       test_fixture_argv("child_out", "o", "via inherit", NULL),
                       &opts, &c);
  dup2(saved, 2);
  close(saved);
  close(p[1]);
  ASSERT_OK(r);
  finish();
  char buf[256];
  read_all(p[0], buf, sizeof buf);
  close(p[0]);
  ASSERT_STR_EQ(buf, "via inherit");
  ASSERT_STR_EQ(rec.out, "o");
  ASSERT_EQ(rec.err_len, 0);
}

/* stdout and stderr to one fd, given twice (2>&1): libuv must not clobber. */
TEST(child_stdio_fd_shared) {
  setup();
  int p[2];
  ASSERT_OK(pipe2(p, O_CLOEXEC));
  muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_FD, p[1]},
                             {MUSTER_STDIO_FD, p[1]}};
  opts.stdio = stdio;
  opts.stdio_count = 3;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_out", "out;", "err;", NULL),
                         &opts, &c));
  close(p[1]);
  finish();
  char buf[256];
  read_all(p[0], buf, sizeof buf);
  close(p[0]);
  ASSERT_STR_EQ(buf, "out;err;");
}

/* A pipe on slot 3: output arrives with slot 3, and close waits for it. */
TEST(child_stdio_extra_pipe) {
  setup();
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 4;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(
      &loop, test_fixture_path(),
      test_fixture_argv("child_write_fd", "3", "on three", NULL), &opts, &c));
  finish();
  ASSERT_STR_EQ(rec.other, "on three");
  ASSERT_EQ(rec.eof[3], 1);
  ASSERT(strstr(rec.log, "eof3") < strstr(rec.log, "close"));
}

/* A pipe slot above 2 is duplex: we write it, end it, and read the answer
 * on the same slot. */
TEST(child_stdio_duplex) {
  setup();
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 4;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_echo_fd", "3", NULL), &opts,
                         &c));
  ASSERT_OK(muster_child_write(c, 3, "there and ", 10, write_cb, (void *)0));
  ASSERT_OK(muster_child_write(c, 3, "back", 4, write_cb, (void *)1));
  ASSERT_OK(muster_child_end(c, 3)); /* half-close: still read */
  finish();
  ASSERT_EQ(write_cbs, 2);
  ASSERT_OK(write_status[0]);
  ASSERT_OK(write_status[1]);
  ASSERT_STR_EQ(rec.other, "there and back");
  ASSERT_EQ(rec.eof[3], 1);
}

/* ---- the IPC slot ------------------------------------------------------- */

static int ipc_fd = -1;
static uv_timer_t ipc_timer;
static void ipc_timer_cb(uv_timer_t *t);

static void ipc_exit(muster_child_t *c, int64_t status, int sig) {
  rec.exited++;
  rec.exit_status = status;
  rec_event(&rec, "exit");
  /* The channel is still open from close's point of view: report it
   * closed a while later, and check close waited. */
  ipc_timer.data = c;
  ASSERT_OK(uv_timer_start(&ipc_timer, ipc_timer_cb, 200, 0));
}

static void ipc_timer_cb(uv_timer_t *t) {
  muster_child_t *c = t->data;
  ASSERT_EQ(rec.closed, 0); /* waits for muster_child_ipc_closed() */
  ASSERT_EQ(rec.exited, 1);
  close(ipc_fd);
  ipc_fd = -1;
  muster_child_ipc_closed(c);
  muster_child_ipc_closed(c); /* once only: harmless again */
  uv_close((uv_handle_t *)t, NULL);
}

TEST(child_ipc_slot) {
  setup();
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_PIPE, 0},
                             {MUSTER_STDIO_IPC, 0}};
  const char *env[] = {"NODE_CHANNEL_FD=9", NULL};
  opts.stdio = stdio;
  opts.stdio_count = 4;
  opts.env = env; /* overridden by the IPC slot */
  opts.on_exit = ipc_exit;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_ipc", NULL), &opts, &c));
  ipc_fd = muster_child_take_ipc_fd(c);
  ASSERT(ipc_fd >= 0);
  ASSERT_ERR(muster_child_take_ipc_fd(c), MUSTER_ENOTCONN);
  ASSERT(fcntl(ipc_fd, F_GETFD) & FD_CLOEXEC);
  ASSERT_EQ(fcntl(ipc_fd, F_GETFL) & O_NONBLOCK, 0);
  char line[256];
  ssize_t n = read(ipc_fd, line, sizeof line - 1);
  ASSERT(n > 0);
  line[n] = '\0';
  ASSERT_STR_EQ(line, "hello fd=3 mode=json\n");
  ASSERT_EQ(write(ipc_fd, "ping\n", 5), 5);
  n = read(ipc_fd, line, sizeof line - 1);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(memcmp(line, "ping\n", 5), 0);

  ASSERT_OK(uv_timer_init(&loop, &ipc_timer));
  finish();
  ASSERT_EQ(ipc_fd, -1);
  ASSERT_EQ(rec.exit_status, 0);
}

/* Never taken: the object owns the fd, and close does not wait for it. */
TEST(child_ipc_untaken) {
  setup();
  muster_stdio_t stdio[4] = {{MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_IGNORE, 0},
                             {MUSTER_STDIO_IPC, 0}};
  opts.stdio = stdio;
  opts.stdio_count = 4;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, test_fixture_path(),
                         test_fixture_argv("child_ipc", "noread", NULL), &opts,
                         &c));
  finish(); /* the runner checks the fd was closed */
}

TEST(child_ipc_none) {
  setup();
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(&loop, "true", NULL, &opts, &c));
  ASSERT_ERR(muster_child_take_ipc_fd(c), MUSTER_ENOTCONN);
  muster_child_ipc_closed(c); /* nothing taken: no effect */
  finish();
}

/* ---- reading into the owner's memory (on_alloc) -------------------------- */

static char alloc_room[5];
static int alloc_calls, alloc_outside;
static muster_data_cb rec_data;

/* stdout reads go into a room of 5 bytes; stderr's into the child's own
 * buffer (the callback leaves *buf NULL). */
static void room_alloc(muster_child_t *c, int slot, size_t suggested,
                       char **buf, size_t *len) {
  ASSERT(muster_child_data(c) == &rec);
  ASSERT(suggested > 0);
  alloc_calls++;
  if (slot == 1) {
    *buf = alloc_room;
    *len = sizeof alloc_room;
  }
}

static void room_data(muster_child_t *c, int slot, const char *buf,
                      size_t len) {
  if (buf != NULL && (slot == 1) != (buf == alloc_room))
    alloc_outside++;
  if (slot == 1 && len > sizeof alloc_room)
    alloc_outside++;
  rec_data(c, slot, buf, len);
}

TEST(child_output_alloc) {
  setup();
  rec_data = opts.on_data;
  opts.on_data = room_data;
  opts.on_alloc = room_alloc;
  muster_child_t *c = NULL;
  ASSERT_OK(muster_spawn(
      &loop, "sh",
      (const char *const[]){"sh", "-c",
                            "printf 'read five bytes at a time\\n'; "
                            "printf 'and this one as it comes\\n' >&2",
                            NULL},
      &opts, &c));
  finish();
  ASSERT_STR_EQ(rec.out, "read five bytes at a time\n");
  ASSERT_STR_EQ(rec.err, "and this one as it comes\n");
  ASSERT_EQ(alloc_outside, 0);
  ASSERT(alloc_calls >= 26 / 5 + 2); /* 6 reads of stdout, 1+ of stderr */
}
