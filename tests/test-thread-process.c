/* Process isolation's engine (src/thread_process.h): a forked worker with
 * its own loop and a channel, exit codes and crashes reported to a parent
 * that lives on, buffers and shared buffers mapped by both processes, and
 * a futex round trip across them. */
#include "test.h"

#include <signal.h>
#include <unistd.h>

#include "../src/thread_process.h"

#define MS 1000000ull

/* ---- the worker's side --------------------------------------------------- */

enum { W_HELLO_EXIT3, W_SEGV, W_ABORT, W_STAY, W_ECHO_BUFFER, W_SHARED };

typedef struct {
  int mode;
  muster_channel_t *ch;
} worker_t;

static worker_t worker;

static void exit3_after_send(muster_channel_t *ch, int status, void *arg) {
  _exit(3);
}

static void worker_on_message(muster_channel_t *ch, muster_message_t *m) {
  if (worker.mode == W_ECHO_BUFFER) {
    muster_buffer_t *b;
    if (muster__tproc_take_buffer(m, &b) != 0)
      _exit(10);
    unsigned char *p = muster_buffer_data(b);
    for (size_t i = 0; i < muster_buffer_length(b); i++) {
      if (p[i] != (unsigned char)i)
        _exit(11);
      p[i] = (unsigned char)(i + 1);
    }
    json_t *msg = json_object();
    if (muster__tproc_send_buffer(ch, msg, b) != 0)
      _exit(12);
    json_decref(msg);
    /* The bytes went back: this handle is detached now. */
    if (!muster_buffer_is_detached(b))
      _exit(13);
    muster_buffer_free(b);
  } else if (worker.mode == W_SHARED) {
    muster_shared_t *s;
    if (muster__tproc_take_shared(m, &s) != 0)
      _exit(20);
    /* Blocks until the parent's notify counts this wait. */
    if (muster_shared_wait(muster_shared_i32(s, 0), 0, 20000 * MS) !=
        MUSTER_SHARED_OK)
      _exit(21);
    atomic_store(muster_shared_i32(s, 1), 1);
    muster_shared_notify(muster_shared_i32(s, 1), 1);
    muster_shared_unref(s);
    muster_channel_close(ch, NULL);
  }
}

static int worker_entry(uv_loop_t *loop, int fd, void *arg) {
  muster_channel_options_t o = {0};
  worker.mode = *(int *)arg;
  o.on_message = worker_on_message;
  if (muster_channel_open(loop, fd, &o, &worker.ch) != 0)
    return 9;
  json_t *hello = json_pack("{s:i}", "hello", 1);
  switch (worker.mode) {
  case W_HELLO_EXIT3:
    muster_channel_send(worker.ch, hello, -1, NULL, exit3_after_send, NULL);
    break;
  case W_SEGV:
    raise(SIGSEGV);
    break;
  case W_ABORT:
    abort();
  case W_STAY:
    muster_channel_send(worker.ch, hello, -1, NULL, NULL, NULL);
    break;
  default:
    break;
  }
  json_decref(hello);
  return 0;
}

/* ---- the parent's side --------------------------------------------------- */

typedef struct {
  char log[256];
  int64_t code;
  int signal;
  muster_buffer_t *back;
  muster__tproc_t *p;
  int exits;
} rec_t;

static rec_t rec;

static void logev(const char *ev) {
  strncat(rec.log, ev, sizeof rec.log - strlen(rec.log) - 1);
  strncat(rec.log, " ", sizeof rec.log - strlen(rec.log) - 1);
}

static void parent_on_message(muster_channel_t *ch, muster_message_t *m) {
  if (json_object_get(muster_message_json(m), "byteLength") != NULL) {
    if (muster__tproc_take_buffer(m, &rec.back) != 0)
      TEST_FAIL("take_buffer");
    logev("buffer");
  } else {
    logev("message");
  }
}

static void parent_on_exit(muster__tproc_t *p, int64_t code, int sig) {
  rec.code = code;
  rec.signal = sig;
  rec.exits++;
  logev("exit");
  muster__tproc_close(p, NULL);
}

static muster__tproc_t *start(uv_loop_t *loop, int *mode) {
  muster__tproc_options_t o = {0};
  o.entry = worker_entry;
  o.arg = mode;
  o.channel.on_message = parent_on_message;
  o.on_exit = parent_on_exit;
  muster__tproc_t *p;
  memset(&rec, 0, sizeof rec);
  ASSERT_OK(muster__tproc_start(loop, &o, &p));
  ASSERT(muster__tproc_pid(p) > 0);
  rec.p = p;
  return p;
}

static void run_worker(int mode) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  start(&loop, &mode);
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(rec.exits, 1);
}

TEST(tproc_message_then_exit_code) {
  run_worker(W_HELLO_EXIT3);
  ASSERT_STR_EQ(rec.log, "message exit ");
  ASSERT_EQ(rec.code, 3);
  ASSERT_EQ(rec.signal, 0);
}

/* A worker that crashes reports the signal; the parent lives on and
 * starts another one. */
TEST(tproc_crash_reports_signal_parent_lives) {
  run_worker(W_SEGV);
  ASSERT_EQ(rec.code, -1);
  ASSERT_EQ(rec.signal, SIGSEGV);
  run_worker(W_ABORT);
  ASSERT_EQ(rec.signal, SIGABRT);
  run_worker(W_HELLO_EXIT3);
  ASSERT_STR_EQ(rec.log, "message exit ");
  ASSERT_EQ(rec.code, 3);
}

static void kill_on_message(muster_channel_t *ch, muster_message_t *m) {
  ASSERT_OK(muster__tproc_kill(rec.p, SIGTERM));
}

TEST(tproc_terminate_by_signal) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int mode = W_STAY;
  muster__tproc_options_t o = {0};
  o.entry = worker_entry;
  o.arg = &mode;
  o.channel.on_message = kill_on_message;
  o.on_exit = parent_on_exit;
  memset(&rec, 0, sizeof rec);
  ASSERT_OK(muster__tproc_start(&loop, &o, &rec.p));
  test_run_loop(&loop, 20000);
  ASSERT_EQ(rec.exits, 1);
  ASSERT_EQ(rec.signal, SIGTERM);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Closing a running worker kills and reaps it: the runner fails the test
 * on a zombie or a leaked fd. */
TEST(tproc_close_running_worker) {
  int fds = test_fd_count();
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int mode = W_STAY;
  muster__tproc_t *p = start(&loop, &mode);
  uv_run(&loop, UV_RUN_NOWAIT);
  muster__tproc_close(p, NULL);
  test_run_loop(&loop, 20000);
  ASSERT_EQ(rec.exits, 0);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}

TEST(tproc_bad_arguments) {
  uv_loop_t loop;
  muster__tproc_options_t o = {0};
  muster__tproc_t *p = NULL;
  ASSERT_ERR(muster__tproc_start(NULL, &o, &p), MUSTER_EINVAL);
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster__tproc_start(&loop, &o, &p), MUSTER_EINVAL);
  ASSERT_ERR(muster__tproc_start(&loop, NULL, &p), MUSTER_EINVAL);
  ASSERT(p == NULL);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A transferred buffer goes to the worker as its memory file, is changed
 * there and transferred back: both processes mapped the same pages. */
static void buffer_round_trip(size_t len) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int mode = W_ECHO_BUFFER;
  muster__tproc_t *p = start(&loop, &mode);
  muster_buffer_t *b;
  ASSERT_OK(muster_buffer_create(len, &b));
  unsigned char *bytes = muster_buffer_data(b);
  for (size_t i = 0; i < len; i++)
    bytes[i] = (unsigned char)i;
  json_t *msg = json_object();
  ASSERT_OK(muster__tproc_send_buffer(muster__tproc_channel(p), msg, b));
  ASSERT(muster_buffer_is_detached(b));
  ASSERT_EQ(muster_buffer_length(b), 0);
  /* Sent once: a second transfer of the same handle fails. */
  ASSERT_ERR(muster__tproc_send_buffer(muster__tproc_channel(p), msg, b),
             MUSTER_EINVAL);
  json_decref(msg);
  muster_buffer_free(b);
  uint64_t t0 = test_now_ms();
  while (rec.back == NULL) {
    uv_run(&loop, UV_RUN_ONCE);
    ASSERT(test_now_ms() - t0 < 20000);
  }
  ASSERT_EQ(muster_buffer_length(rec.back), len);
  ASSERT(muster_buffer_is_mapped(rec.back));
  const unsigned char *got = muster_buffer_data(rec.back);
  for (size_t i = 0; i < len; i++)
    ASSERT_EQ(got[i], (unsigned char)(i + 1));
  muster_buffer_free(rec.back);
  muster__tproc_close(p, NULL);
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(tproc_buffer_transfer_round_trip) {
  buffer_round_trip(1024 * 1024);
  buffer_round_trip(100); /* a heap buffer goes into a memory file */
}

TEST(tproc_untransferable_buffer_sends_nothing) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int mode = W_STAY;
  muster__tproc_t *p = start(&loop, &mode);
  muster_buffer_t *b;
  ASSERT_OK(muster_buffer_from("abc", 3, &b));
  muster_buffer_mark_as_untransferable(b);
  json_t *msg = json_object();
  ASSERT_ERR(muster__tproc_send_buffer(muster__tproc_channel(p), msg, b),
             MUSTER_EINVAL);
  ASSERT_EQ(muster_channel_queue_size(muster__tproc_channel(p)), 0);
  ASSERT_EQ(json_object_size(msg), 0);
  ASSERT_EQ(memcmp(muster_buffer_data(b), "abc", 3), 0);
  json_decref(msg);
  muster_buffer_free(b);
  muster__tproc_close(p, NULL);
  test_run_loop(&loop, 20000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Futex wait/notify across the two processes on a shared buffer sent as
 * its memory file: the parent's notify counts the worker's wait, the
 * worker's notify resolves the parent's waitAsync on its loop. */
typedef struct {
  muster_shared_t *s;
  uv_timer_t timer;
  int notified, resolved, result;
} shared_game_t;

static shared_game_t game;

static void poke(uv_timer_t *t) {
  if (muster_shared_notify(muster_shared_i32(game.s, 0), 1) == 1) {
    game.notified = 1;
    uv_timer_stop(t);
  }
}

static void on_flag(muster_shared_wait_t *w, int result, void *data) {
  game.resolved = 1;
  game.result = result;
}

TEST_T(tproc_shared_futex_round_trip, 60) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int mode = W_SHARED;
  start(&loop, &mode);
  memset(&game, 0, sizeof game);
  ASSERT_OK(muster_shared_create(4096, &game.s));
  json_t *msg = json_object();
  ASSERT_OK(
      muster__tproc_send_shared(muster__tproc_channel(rec.p), msg, game.s));
  json_decref(msg);
  ASSERT_EQ(muster_shared_wait_async(&loop, muster_shared_i32(game.s, 1), 0,
                                     MUSTER_SHARED_FOREVER, on_flag, NULL,
                                     NULL),
            MUSTER_SHARED_PENDING);
  ASSERT_OK(uv_timer_init(&loop, &game.timer));
  ASSERT_OK(uv_timer_start(&game.timer, poke, 1, 1));
  test_run_loop(&loop, 30000);
  uv_close((uv_handle_t *)&game.timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT(game.notified);
  ASSERT(game.resolved);
  ASSERT_EQ(game.result, MUSTER_SHARED_OK);
  ASSERT_EQ(atomic_load(muster_shared_i32(game.s, 1)), 1);
  ASSERT_EQ(rec.exits, 1);
  ASSERT_EQ(rec.code, 0);
  ASSERT_OK(uv_loop_close(&loop));
  muster_shared_unref(game.s);
}
