/* Captured stdout and stderr of a worker (Node's `stdout: true`), in both
 * modes: every byte before the exit event and in order, the bound on what
 * waits for the creator, output dropped after close, and what is not
 * captured. */
#include "test.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
  char *out, *err;
  size_t nout, nerr, cap_out, cap_err;
  char log[16]; /* 'o' online, 's' stdout, 'e' stderr, 'x' exit, once each */
  int code, exits;
} cap_t;

static void add_once(cap_t *c, char ev) {
  size_t n = strlen(c->log);
  if ((n == 0 || c->log[n - 1] != ev) && n < sizeof c->log - 1)
    c->log[n] = ev;
}

/* Appends to a buffer whose capacity doubles. A realloc to the exact
 * size at each piece copied the whole buffer each time: the bound tests
 * get 4 MiB in 8 KiB pieces, a GiB copied in all, and TSan's allocator
 * moves a large block at every realloc (a fresh mapping, page faults, an
 * unmap), so a few copies of a test run at once outlasted its timeout. */
static void append(char **buf, size_t *n, size_t *cap, const char *data,
                   size_t len) {
  if (*n + len + 1 > *cap) {
    size_t want = *cap ? *cap : 256;
    while (want < *n + len + 1)
      want *= 2;
    *buf = realloc(*buf, want);
    ASSERT(*buf != NULL);
    *cap = want;
  }
  memcpy(*buf + *n, data, len);
  *n += len;
  (*buf)[*n] = '\0';
}

static void c_online(muster_thread_t *t) {
  add_once(muster_thread_data(t), 'o');
}

static void c_stdout(muster_thread_t *t, const char *data, size_t len) {
  cap_t *c = muster_thread_data(t);
  ASSERT(len > 0);
  ASSERT_EQ(c->exits, 0);
  add_once(c, 's');
  append(&c->out, &c->nout, &c->cap_out, data, len);
}

static void c_stderr(muster_thread_t *t, const char *data, size_t len) {
  cap_t *c = muster_thread_data(t);
  ASSERT_EQ(c->exits, 0);
  add_once(c, 'e');
  append(&c->err, &c->nerr, &c->cap_err, data, len);
}

static void c_exit(muster_thread_t *t, int code) {
  cap_t *c = muster_thread_data(t);
  add_once(c, 'x');
  c->code = code;
  c->exits++;
  muster_thread_close(t, NULL);
}

static void c_free(cap_t *c) {
  free(c->out);
  free(c->err);
}

static void c_options(muster_thread_options_t *o, cap_t *c, int isolation) {
  memset(o, 0, sizeof *o);
  memset(c, 0, sizeof *c);
  o->isolation = isolation;
  o->on_online = c_online;
  o->on_stdout = c_stdout;
  o->on_stderr = c_stderr;
  o->on_exit = c_exit;
  o->data = c;
}

/* ---- entries ------------------------------------------------------------- */

#define LINES 2000

/* Many lines to stdout, two to stderr, an unfinished last line (only the
 * final flush sends it), and a line from an at-exit hook: all before the
 * exit event, in order. Then the exit code 3. */
static void hook_line(void *arg) {
  fprintf(muster_thread_stdout(), "from the hook\n");
}

static int lines_entry(uv_loop_t *loop, void *arg) {
  FILE *out = muster_thread_stdout(), *err = muster_thread_stderr();
  fprintf(err, "first error\n");
  for (int i = 0; i < LINES; i++)
    fprintf(out, "line %d of the worker's output\n", i);
  fprintf(err, "second error\n");
  muster_thread_at_exit(hook_line, NULL);
  fprintf(out, "no newline");
  return muster_thread_exit(3);
}

static void expect_lines(const cap_t *c) {
  char *want = NULL, line[64];
  size_t n = 0, cap = 0;
  for (int i = 0; i < LINES; i++) {
    snprintf(line, sizeof line, "line %d of the worker's output\n", i);
    append(&want, &n, &cap, line, strlen(line));
  }
  append(&want, &n, &cap, "no newline", 10);
  append(&want, &n, &cap, "from the hook\n", 14);
  ASSERT_EQ(c->nout, n);
  ASSERT(memcmp(c->out, want, n) == 0);
  ASSERT_STR_EQ(c->err, "first error\nsecond error\n");
  free(want);
}

static void capture_lines(int isolation) {
  uv_loop_t loop;
  muster_thread_options_t o;
  muster_thread_t *t;
  cap_t c;
  int fds = test_fd_count();
  ASSERT_OK(uv_loop_init(&loop));
  c_options(&o, &c, isolation);
  ASSERT_OK(muster_thread_create(&loop, lines_entry, &o, &t));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(c.exits, 1);
  ASSERT_EQ(c.code, 3);
  expect_lines(&c);
  /* Online first, nothing after the exit. */
  ASSERT_EQ(c.log[strlen(c.log) - 1], 'x');
  ASSERT_EQ(c.log[0], 'o');
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
  c_free(&c);
}

TEST(thread_stdio_all_output_before_exit) {
  capture_lines(MUSTER_THREAD_ISOLATION_THREAD);
}

TEST(thread_stdio_all_output_before_exit_process) {
  capture_lines(MUSTER_THREAD_ISOLATION_PROCESS);
}

/* In a process, fds 1 and 2 are the worker's: printf and write(2) are
 * captured too. */
static int printf_entry(uv_loop_t *loop, void *arg) {
  printf("printf %d\n", 1);
  fflush(stdout);
  ASSERT_EQ(write(1, "write\n", 6), 6);
  fprintf(stderr, "stderr\n");
  ASSERT(muster_thread_stdout() == stdout);
  printf("buffered at exit");
  return 0;
}

TEST(thread_stdio_process_captures_fds) {
  uv_loop_t loop;
  muster_thread_options_t o;
  muster_thread_t *t;
  cap_t c;
  ASSERT_OK(uv_loop_init(&loop));
  c_options(&o, &c, MUSTER_THREAD_ISOLATION_PROCESS);
  ASSERT_OK(muster_thread_create(&loop, printf_entry, &o, &t));
  test_run_loop(&loop, 30000);
  ASSERT_EQ(c.code, 0);
  ASSERT_STR_EQ(c.out, "printf 1\nwrite\nbuffered at exit");
  ASSERT_STR_EQ(c.err, "stderr\n");
  ASSERT_OK(uv_loop_close(&loop));
  c_free(&c);
}

/* What a thread does not capture: the process's own stdout (fd 1 is
 * shared), and a stream nobody asked for. The worker reports what it
 * got. */
static int which_entry(uv_loop_t *loop, void *arg) {
  printf("printf from a thread: the process's stdout, not captured\n");
  fflush(stdout);
  json_t *v =
      json_pack("{s:b,s:b}", "out_is_std", muster_thread_stdout() == stdout,
                "err_is_std", muster_thread_stderr() == stderr);
  muster_port_post(muster_thread_parent_port(), v, NULL);
  json_decref(v);
  return 0;
}

static json_t *which_got;

static void which_message(muster_thread_t *t, muster_message_t *m) {
  which_got = json_incref(muster_message_json(m));
}

TEST(thread_stdio_what_is_not_captured) {
  uv_loop_t loop;
  muster_thread_options_t o;
  muster_thread_t *t;
  cap_t c;
  ASSERT_OK(uv_loop_init(&loop));
  c_options(&o, &c, MUSTER_THREAD_ISOLATION_THREAD);
  o.on_stderr = NULL;
  o.on_message = which_message;
  ASSERT_OK(muster_thread_create(&loop, which_entry, &o, &t));
  test_run_loop(&loop, 30000);
  ASSERT(json_is_false(json_object_get(which_got, "out_is_std")));
  ASSERT(json_is_true(json_object_get(which_got, "err_is_std")));
  json_decref(which_got);
  ASSERT(c.out == NULL); /* the printf went to fd 1 */
  /* No capture at all: the process's streams. */
  c_options(&o, &c, MUSTER_THREAD_ISOLATION_THREAD);
  o.on_stdout = o.on_stderr = NULL;
  o.on_message = which_message;
  ASSERT_OK(muster_thread_create(&loop, which_entry, &o, &t));
  test_run_loop(&loop, 30000);
  ASSERT(json_is_true(json_object_get(which_got, "out_is_std")));
  ASSERT(json_is_true(json_object_get(which_got, "err_is_std")));
  json_decref(which_got);
  ASSERT(c.out == NULL);
  ASSERT_OK(uv_loop_close(&loop));
  /* The main thread's are the process's. */
  ASSERT(muster_thread_stdout() == stdout);
  ASSERT(muster_thread_stderr() == stderr);
}

/* ---- the bound ------------------------------------------------------------
 * The worker writes 4 MiB while the creator's loop is held up: what it
 * got written meanwhile stays near the bound. Shared memory made before
 * the worker starts counts in both modes (a forked worker inherits the
 * mapping). */

#define FLOOD (4u << 20)
#define PIECE 4096u

static _Atomic size_t *written;

static int flood_entry(uv_loop_t *loop, void *arg) {
  static char piece[PIECE];
  FILE *out = muster_thread_stdout();
  memset(piece, 'x', sizeof piece);
  for (size_t n = 0; n < FLOOD; n += PIECE) {
    if (fwrite(piece, 1, PIECE, out) != PIECE)
      return 1;
    atomic_store(written, n + PIECE);
  }
  return 0;
}

/* Holds the loop until the worker has stopped making progress. */
static void hold(muster_thread_t *t) {
  size_t last = (size_t)-1;
  uint64_t still = test_now_ms(), end = test_now_ms() + 10000;
  while (test_now_ms() < end && test_now_ms() - still < 300) {
    size_t now = atomic_load(written);
    if (now != last) {
      last = now;
      still = test_now_ms();
    }
    usleep(10000);
  }
  /* Without the bound the worker would be done. */
  ASSERT(atomic_load(written) < FLOOD);
  ASSERT_LE(atomic_load(written), 4 * MUSTER_THREAD_OUTPUT_BUFFER);
  c_online(t);
}

/* Runs flood_entry with `online` as the online callback, to its end. */
static void flood(int isolation, muster_thread_online_cb online, cap_t *c) {
  uv_loop_t loop;
  muster_thread_options_t o;
  muster_thread_t *t;
  written = mmap(NULL, sizeof *written, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT(written != MAP_FAILED);
  ASSERT_OK(uv_loop_init(&loop));
  c_options(&o, c, isolation);
  o.on_online = online;
  ASSERT_OK(muster_thread_create(&loop, flood_entry, &o, &t));
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
  munmap((void *)written, sizeof *written);
}

static void flood_held(int isolation) {
  cap_t c;
  flood(isolation, hold, &c);
  ASSERT_EQ(c.code, 0);
  ASSERT_EQ(c.nout, FLOOD);
  c_free(&c);
}

TEST_T(thread_stdio_bounded, 90) {
  flood_held(MUSTER_THREAD_ISOLATION_THREAD);
}

TEST_T(thread_stdio_bounded_process, 90) {
  flood_held(MUSTER_THREAD_ISOLATION_PROCESS);
}

/* Closing a worker that is waiting for room: the output is dropped, the
 * writer goes on, the worker exits and is joined. */
static void close_when_full(muster_thread_t *t) {
  while (atomic_load(written) < MUSTER_THREAD_OUTPUT_BUFFER / 2)
    usleep(1000);
  muster_thread_close(t, NULL);
}

TEST_T(thread_stdio_close_while_writing, 60) {
  cap_t c;
  flood(MUSTER_THREAD_ISOLATION_THREAD, close_when_full, &c);
  ASSERT_EQ(c.exits, 0); /* closed: no exit event */
  c_free(&c);
}
