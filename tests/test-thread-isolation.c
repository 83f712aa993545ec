/* Worker threads with isolation = process, the cases only a process has:
 * a crash (SIGSEGV, abort) that ends only the worker, the signal it
 * reports, many workers in a row with nothing left behind. The cases both
 * modes share run in tests/test-thread.c and tests/test-port.c as
 * NAME_process. */
#include "test-thread.h"

#include <signal.h>
#include <unistd.h>

static void i_start(uv_loop_t *loop, muster_thread_entry_cb entry, seen_t *s,
                    const json_t *data, muster_thread_t **out) {
  muster_thread_options_t o = {0};
  muster_thread_t *t;
  o.isolation = MUSTER_THREAD_ISOLATION_PROCESS;
  o.on_online = seen_online;
  o.on_message = seen_message;
  o.on_exit = seen_exit;
  o.worker_data = data;
  o.data = s;
  memset(s, 0, sizeof *s);
  ASSERT_OK(muster_thread_create(loop, entry, &o, &t));
  if (out)
    *out = t;
}

static void i_finish(uv_loop_t *loop, seen_t *s) {
  test_run_loop(loop, 30000);
  json_decref(s->last);
  s->last = NULL;
}

/* ---- entries (run in the worker process) -------------------------------- */

static int hello_entry(uv_loop_t *loop, void *arg) {
  json_t *v =
      json_pack("{s:b, s:b, s:O?, s:i}", "main", muster_thread_is_main(), "id",
                muster_thread_id() > 0, "data", muster_thread_worker_data(),
                "pid", (int)getpid());
  muster_port_post(muster_thread_parent_port(), v, NULL);
  json_decref(v);
  return 0;
}

static int exit7_entry(uv_loop_t *loop, void *arg) {
  return muster_thread_exit(7) == 0 ? 0 : 1;
}

static int segv_entry(uv_loop_t *loop, void *arg) {
  raise(SIGSEGV);
  return 0;
}

static int abort_entry(uv_loop_t *loop, void *arg) {
  abort();
}

static void stay(muster_port_t *p, muster_message_t *m) {}

static int stay_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = stay;
  muster_port_start(muster_thread_parent_port(), &o);
  muster_port_post(muster_thread_parent_port(), json_true(), NULL);
  return 0;
}

static void echo(muster_port_t *p, muster_message_t *m) {
  muster_buffer_t *b = muster_message_take_buffer(m, 0);
  unsigned char *bytes = muster_buffer_data(b);
  bytes[0] = 42;
  muster_transfer_t t = {.buffers = &b, .nbuffers = 1};
  muster_port_post(p, json_true(), &t);
  muster_buffer_free(b);
  /* Done: the worker's loop ends, the process exits 0. */
  muster_port_close(p, NULL);
}

/* Starts the parent port with `cb`: the worker's loop runs until the
 * port closes. */
static int listen_with(muster_port_message_cb cb) {
  muster_port_options_t o = {0};
  o.on_message = cb;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static int echo_entry(uv_loop_t *loop, void *arg) {
  return listen_with(echo);
}

/* ---- tests --------------------------------------------------------------- */

TEST(isolation_events_in_order) {
  uv_loop_t loop;
  seen_t s;
  ASSERT_OK(uv_loop_init(&loop));
  json_t *data = json_pack("{s:s}", "k", "v");
  i_start(&loop, hello_entry, &s, data, NULL);
  json_decref(data);
  test_run_loop(&loop, 30000);
  ASSERT_STR_EQ(s.log, "omx");
  ASSERT_EQ(s.code, 0);
  ASSERT(json_is_false(json_object_get(s.last, "main")));
  ASSERT(json_is_true(json_object_get(s.last, "id")));
  ASSERT_STR_EQ(
      json_string_value(json_object_get(json_object_get(s.last, "data"), "k")),
      "v");
  /* Another process: the worker's pid is not ours. */
  ASSERT_NE(json_integer_value(json_object_get(s.last, "pid")), getpid());
  i_finish(&loop, &s);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(isolation_exit_code) {
  uv_loop_t loop;
  seen_t s;
  ASSERT_OK(uv_loop_init(&loop));
  i_start(&loop, exit7_entry, &s, NULL, NULL);
  i_finish(&loop, &s);
  ASSERT_EQ(s.exits, 1);
  ASSERT_EQ(s.code, 7);
  ASSERT_EQ(s.sig, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A crash ends the worker only: on_online (it came before the entry
 * ran), then on_exit with 128 + the signal; the parent goes on to run
 * another worker. */
static void crash_then_next(muster_thread_entry_cb entry, int sig) {
  uv_loop_t loop;
  seen_t s;
  ASSERT_OK(uv_loop_init(&loop));
  i_start(&loop, entry, &s, NULL, NULL);
  i_finish(&loop, &s);
  ASSERT_STR_EQ(s.log, "ox");
  ASSERT_EQ(s.sig, sig);
  ASSERT_EQ(s.code, 128 + sig);
  i_start(&loop, exit7_entry, &s, NULL, NULL);
  i_finish(&loop, &s);
  ASSERT_EQ(s.code, 7);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(isolation_crash_parent_lives) {
  crash_then_next(segv_entry, SIGSEGV);
}

TEST(isolation_abort_parent_lives) {
  crash_then_next(abort_entry, SIGABRT);
}

/* Workers one after the other: each is reaped (the runner fails the test
 * on a zombie) and leaves no descriptor behind. */
static int quick_entry(uv_loop_t *loop, void *arg) {
  return 0;
}

TEST_T(isolation_many_in_sequence, 120) {
  uv_loop_t loop;
  seen_t s;
  int fds = 0;
  ASSERT_OK(uv_loop_init(&loop));
  for (int i = 0; i < 200; i++) {
    i_start(&loop, quick_entry, &s, NULL, NULL);
    i_finish(&loop, &s);
    ASSERT_STR_EQ(s.log, "ox");
    ASSERT_EQ(s.code, 0);
    /* The loop's own descriptors are made on its first run. */
    if (i == 0)
      fds = test_fd_count();
    ASSERT_EQ(test_fd_count(), fds);
  }
  ASSERT_OK(uv_loop_close(&loop));
}

static void terminate_on_message(muster_thread_t *t, muster_message_t *m) {
  seen_message(t, m);
  ASSERT_OK(muster_thread_terminate(t));
}

/* terminate() of a worker waiting in its loop: its SIGTERM handler stops
 * the loop, the worker's cleanup runs and it exits 1 by itself (no signal
 * ends it). */
TEST(isolation_terminate) {
  uv_loop_t loop;
  seen_t s;
  muster_thread_options_t o = {0};
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  memset(&s, 0, sizeof s);
  o.isolation = MUSTER_THREAD_ISOLATION_PROCESS;
  o.on_online = seen_online;
  o.on_message = terminate_on_message;
  o.on_exit = seen_exit;
  o.data = &s;
  ASSERT_OK(muster_thread_create(&loop, stay_entry, &o, &t));
  i_finish(&loop, &s);
  ASSERT_STR_EQ(s.log, "omx");
  ASSERT_EQ(s.code, 1);
  ASSERT_EQ(s.sig, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* terminate() before the worker is online: its SIGTERM waits for the
 * worker's handler, so the worker still ends by itself, through its
 * cleanup, with 1. */
static int listen_entry(uv_loop_t *loop, void *arg) {
  return listen_with(stay);
}

TEST(isolation_terminate_before_online) {
  uv_loop_t loop;
  seen_t s;
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  for (int i = 0; i < 20; i++) {
    i_start(&loop, listen_entry, &s, NULL, &t);
    ASSERT_OK(muster_thread_terminate(t));
    i_finish(&loop, &s);
    ASSERT_STR_EQ(s.log, "ox");
    ASSERT_EQ(s.code, 1);
    ASSERT_EQ(s.sig, 0);
  }
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(isolation_buffer_transfer_echo) {
  uv_loop_t loop;
  seen_t s;
  muster_thread_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  i_start(&loop, echo_entry, &s, NULL, &t);
  muster_buffer_t *b;
  size_t len = 1024 * 1024;
  ASSERT_OK(muster_buffer_create(len, &b));
  ((unsigned char *)muster_buffer_data(b))[len - 1] = 7;
  muster_transfer_t tr = {.buffers = &b, .nbuffers = 1};
  ASSERT(muster_port_post(muster_thread_port(t), json_true(), &tr) >= 0);
  ASSERT(muster_buffer_is_detached(b));
  muster_buffer_free(b);
  i_finish(&loop, &s);
  ASSERT_EQ(s.exits, 1);
  ASSERT_EQ(s.code, 0);
  ASSERT(s.back != NULL);
  const unsigned char *got = muster_buffer_data(s.back);
  ASSERT_EQ(muster_buffer_length(s.back), len);
  ASSERT_EQ(got[0], 42);
  ASSERT_EQ(got[len - 1], 7);
  muster_buffer_free(s.back);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A shared buffer in the transfer list reaches the worker process by
 * reference: its store is seen here, its notify wakes our wait. */
static void take_shared(muster_port_t *p, muster_message_t *m) {
  muster_shared_t *s = muster_message_take_shared(m, 0);
  atomic_store(muster_shared_i32(s, 1), 5);
  muster_shared_notify(muster_shared_i32(s, 1), MUSTER_SHARED_ALL);
  muster_shared_unref(s);
  muster_port_close(p, NULL);
}

static int shared_entry(uv_loop_t *loop, void *arg) {
  return listen_with(take_shared);
}

static int woken;

static void on_woken(muster_shared_wait_t *w, int result, void *data) {
  woken = result == MUSTER_SHARED_OK ? 1 : -1;
}

TEST(isolation_shared_in_transfer) {
  uv_loop_t loop;
  seen_t s;
  muster_thread_t *t;
  muster_shared_t *sh;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_shared_create(4096, &sh));
  woken = 0;
  ASSERT_EQ(muster_shared_wait_async(&loop, muster_shared_i32(sh, 1), 0,
                                     MUSTER_SHARED_FOREVER, on_woken, NULL,
                                     NULL),
            MUSTER_SHARED_PENDING);
  i_start(&loop, shared_entry, &s, NULL, &t);
  muster_transfer_t tr = {.shared = &sh, .nshared = 1};
  ASSERT(muster_port_post(muster_thread_port(t), json_true(), &tr) >= 0);
  i_finish(&loop, &s);
  ASSERT_EQ(s.exits, 1);
  ASSERT_EQ(s.code, 0);
  ASSERT_EQ(woken, 1);
  ASSERT_EQ(atomic_load(muster_shared_i32(sh, 1)), 5);
  muster_shared_unref(sh);
  ASSERT_OK(uv_loop_close(&loop));
}
