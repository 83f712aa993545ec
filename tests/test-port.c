/* Message ports on one loop and across threads (muster/port.h), and
 * BroadcastChannel.
 *
 * The cases between a creator and its worker are functions of the
 * isolation mode, registered as NAME (a thread) and NAME_process (a
 * forked worker process). The cases on one loop have no worker, so no
 * mode; BroadcastChannel is by name within one process (muster/port.h),
 * so a worker process is not on it by definition. */
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

/* A receiver that records what it got. */
typedef struct {
  int count, closes, errors, last_err, drains;
  long long sum, next; /* values must come 0, 1, 2... */
  int out_of_order;
  size_t bytes;
  int close_at; /* close the port after this many messages (0: never) */
} rx_t;

static void rx_message(muster_port_t *port, muster_message_t *m) {
  rx_t *rx = muster_port_data(port);
  if (muster_message_format(m) == MUSTER_MESSAGE_BYTES) {
    size_t len;
    muster_message_bytes(m, &len);
    rx->bytes += len;
  } else {
    json_t *v = muster_message_json(m);
    ASSERT(v != NULL);
    if (json_integer_value(v) != rx->next)
      rx->out_of_order = 1;
    rx->next++;
    rx->sum += json_integer_value(v);
  }
  rx->count++;
  if (rx->close_at && rx->count == rx->close_at)
    muster_port_close(port, NULL);
}

static void rx_close(muster_port_t *port) {
  rx_t *rx = muster_port_data(port);
  rx->closes++;
  muster_port_close(port, NULL);
}

static void rx_error(muster_port_t *port, int err) {
  rx_t *rx = muster_port_data(port);
  rx->errors++;
  rx->last_err = err;
}

static void rx_drain(muster_port_t *port) {
  rx_t *rx = muster_port_data(port);
  rx->drains++;
}

static muster_port_options_t rx_options(rx_t *rx) {
  muster_port_options_t o = {0};
  o.on_message = rx_message;
  o.on_close = rx_close;
  o.on_messageerror = rx_error;
  o.on_drain = rx_drain;
  o.data = rx;
  return o;
}

static int post_int(muster_port_t *p, long long v) {
  json_t *j = json_integer(v);
  int r = muster_port_post(p, j, NULL);
  json_decref(j);
  return r;
}

/* Messages arrive in order, all of them before the other end's close; a
 * port that is not started delivers nothing and does not keep the loop
 * alive. */
TEST(port_order_and_close) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  rx_t rx = {0}, rxa = {0};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  for (int i = 0; i < 1000; i++)
    ASSERT_OK(post_int(a, i));
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0); /* not started: not alive */
  ASSERT_EQ(rx.count, 0);
  muster_port_options_t o = rx_options(&rx);
  ASSERT_OK(muster_port_start(b, &o));
  o = rx_options(&rxa);
  ASSERT_OK(muster_port_start(a, &o));
  muster_port_close(a, NULL);
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rx.count, 1000);
  ASSERT_EQ(rx.out_of_order, 0);
  ASSERT_EQ(rx.sum, 999LL * 1000 / 2);
  ASSERT_EQ(rx.closes, 1);
  ASSERT_EQ(rxa.closes, 0); /* the end that closed hears nothing */
  ASSERT_OK(uv_loop_close(&loop));
}

/* Bytes and text messages; text that is not JSON is a messageerror. */
TEST(port_bytes_text_messageerror) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  rx_t rx = {0};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  muster_port_options_t o = rx_options(&rx);
  ASSERT_OK(muster_port_start(b, &o));
  char raw[300];
  memset(raw, 0, sizeof raw);
  ASSERT_OK(muster_port_post_bytes(a, raw, sizeof raw, NULL));
  ASSERT_OK(muster_port_post_bytes(a, NULL, 0, NULL));
  ASSERT_ERR(muster_port_post_bytes(a, NULL, 1, NULL), MUSTER_EINVAL);
  ASSERT_OK(muster_port_post_text(a, "0", 1, NULL));
  ASSERT_OK(muster_port_post_text(a, "{nope", 5, NULL));
  ASSERT_OK(muster_port_post_text(a, "1", 1, NULL));
  ASSERT_ERR(muster_port_post_text(a, "", 0, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_port_post(a, NULL, NULL), MUSTER_EINVAL);
  muster_port_close(a, NULL);
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rx.count, 4);
  ASSERT_EQ(rx.bytes, sizeof raw);
  ASSERT_EQ(rx.next, 2);
  ASSERT_EQ(rx.out_of_order, 0);
  ASSERT_EQ(rx.errors, 1);
  ASSERT_ERR(rx.last_err, MUSTER_EBADMSG);
  ASSERT_EQ(rx.closes, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

static int got_sync;
static void sync_cb(muster_port_t *port, muster_message_t *m) {
  got_sync = (int)json_integer_value(muster_message_json(m));
}

/* receiveMessageOnPort: one message at a time, started or not. */
TEST(port_receive_sync) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  ASSERT_EQ(muster_port_receive(b, sync_cb), 0);
  ASSERT_OK(post_int(a, 7));
  ASSERT_OK(post_int(a, 8));
  ASSERT_EQ(muster_port_receive(b, sync_cb), 1);
  ASSERT_EQ(got_sync, 7);
  ASSERT_EQ(muster_port_receive(b, sync_cb), 1);
  ASSERT_EQ(got_sync, 8);
  ASSERT_EQ(muster_port_receive(b, sync_cb), 0);
  ASSERT_ERR(muster_port_receive(b, NULL), MUSTER_EINVAL);
  muster_port_close(a, NULL);
  muster_port_close(b, NULL);
  test_run_loop(&loop, 10000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Posting to a closed port, or on one: ENOTCONN. */
TEST(port_post_closed) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  muster_port_close(b, NULL);
  ASSERT_ERR(post_int(a, 1), MUSTER_ENOTCONN);
  ASSERT_ERR(muster_port_post_bytes(a, "x", 1, NULL), MUSTER_ENOTCONN);
  muster_port_close(a, NULL);
  ASSERT_ERR(post_int(a, 1), MUSTER_ENOTCONN); /* until the close cb */
  ASSERT_ERR(muster_port_start(a, NULL), MUSTER_ENOTCONN);
  ASSERT_ERR(muster_port_receive(a, sync_cb), MUSTER_ENOTCONN);
  test_run_loop(&loop, 10000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A callback posts its own port to a port whose other end is closed: the
 * post fails, the port stays (bound again), and what it had taken with
 * the message goes back to its queue, the other end's close included.
 * That close is reported once, after the message. */
typedef struct {
  muster_port_t *via; /* the port whose other end is closed */
  muster_port_t *port; /* the one posted */
  int messages, closes, post_result;
  uv_timer_t later;
} refused_t;

static void refused_message(muster_port_t *port, muster_message_t *m) {
  refused_t *r = muster_port_data(port);
  (void)m;
  r->messages++;
  json_t *v = json_true();
  muster_transfer_t tr = {.ports = &port, .nports = 1};
  r->post_result = muster_port_post(r->via, v, &tr);
  json_decref(v);
}

static void refused_done(uv_timer_t *h) {
  refused_t *r = h->data;
  uv_close((uv_handle_t *)h, NULL);
  muster_port_close(r->via, NULL);
  muster_port_close(r->port, NULL);
}

static void refused_close(muster_port_t *port) {
  refused_t *r = muster_port_data(port);
  if (r->closes++ == 0) {
    /* Close the rest a little later: a second report would come first. */
    r->later.data = r;
    uv_timer_start(&r->later, refused_done, 50, 0);
  }
}

TEST(port_transfer_refused_events_once) {
  uv_loop_t loop;
  muster_port_t *a, *b, *x, *y;
  refused_t r = {0};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_timer_init(&loop, &r.later));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  ASSERT_OK(muster_port_pair(&loop, &x, &y));
  muster_port_close(y, NULL);
  r.via = x;
  r.port = a;
  ASSERT(post_int(b, 1) >= 0);
  muster_port_close(b, NULL); /* a: the message, then b's close */
  muster_port_options_t o = {0};
  o.on_message = refused_message;
  o.on_close = refused_close;
  o.data = &r;
  ASSERT_OK(muster_port_start(a, &o));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(r.messages, 1);
  ASSERT_ERR(r.post_result, MUSTER_ENOTCONN);
  ASSERT_EQ(r.closes, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* A bad transfer list sends nothing and moves nothing. */
TEST(port_transfer_bad) {
  uv_loop_t loop;
  muster_port_t *a, *b, *c, *d;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  ASSERT_OK(muster_port_pair(&loop, &c, &d));
  json_t *v = json_integer(1);
  muster_port_t *self[] = {a};
  muster_port_t *peer[] = {b};
  muster_port_t *twice[] = {c, c};
  muster_port_t *nul[] = {NULL};
  muster_transfer_t t = {.ports = self, .nports = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  t = (muster_transfer_t){.ports = peer, .nports = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  t = (muster_transfer_t){.ports = twice, .nports = 2};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  t = (muster_transfer_t){.ports = nul, .nports = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  t = (muster_transfer_t){.nports = 1};
  ASSERT_ERR(muster_port_post_bytes(a, "x", 1, &t), MUSTER_EINVAL);
  /* A port on another loop. */
  uv_loop_t other;
  muster_port_t *e, *f;
  ASSERT_OK(uv_loop_init(&other));
  ASSERT_OK(muster_port_pair(&other, &e, &f));
  muster_port_t *foreign[] = {e};
  t = (muster_transfer_t){.ports = foreign, .nports = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  /* To a closed port: ENOTCONN, and the port stays usable. */
  muster_port_t *good[] = {c};
  muster_port_close(b, NULL);
  t = (muster_transfer_t){.ports = good, .nports = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_ENOTCONN);
  ASSERT_OK(post_int(d, 5));
  ASSERT_EQ(muster_port_receive(c, sync_cb), 1);
  ASSERT_EQ(got_sync, 5);
  ASSERT_OK(post_int(c, 6));
  json_decref(v);
  muster_port_close(a, NULL);
  muster_port_close(c, NULL);
  muster_port_close(d, NULL);
  muster_port_close(e, NULL);
  muster_port_close(f, NULL);
  test_run_loop(&loop, 10000);
  test_run_loop(&other, 10000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_OK(uv_loop_close(&other));
}

static void *taken_data;
static size_t taken_len;
static void take_buffers(muster_port_t *port, muster_message_t *m) {
  ASSERT_EQ(muster_message_buffer_count(m), 2);
  ASSERT_EQ(muster_message_port_count(m), 0);
  muster_buffer_t *b = muster_message_take_buffer(m, 0);
  ASSERT(b != NULL);
  ASSERT(muster_message_take_buffer(m, 0) == NULL); /* taken */
  ASSERT(muster_message_take_buffer(m, 2) == NULL); /* out of range */
  taken_data = muster_buffer_data(b);
  taken_len = muster_buffer_length(b);
  muster_buffer_free(b);
  /* Buffer 1 is not taken: freed after the callback (ASan checks). */
}

/* Buffers in a transfer list move without a copy; a detached,
 * untransferable or repeated buffer, or a closed receiver, sends nothing
 * and moves nothing. */
TEST(port_transfer_buffers) {
  uv_loop_t loop;
  muster_port_t *a, *b, *c, *d;
  muster_buffer_t *big, *small, *un;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  ASSERT_OK(muster_port_pair(&loop, &c, &d));
  ASSERT_OK(muster_buffer_create(1 << 20, &big));
  void *bytes = muster_buffer_data(big);
  memset(bytes, 'x', 1 << 20);
  ASSERT_OK(muster_buffer_from("abc", 3, &small));
  ASSERT_OK(muster_buffer_from("u", 1, &un));
  muster_buffer_mark_as_untransferable(un);
  json_t *v = json_string("buffers");

  muster_buffer_t *with_un[] = {big, un};
  muster_transfer_t t = {.buffers = with_un, .nbuffers = 2};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  muster_buffer_t *twice[] = {big, big};
  t = (muster_transfer_t){.buffers = twice, .nbuffers = 2};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  muster_buffer_t *nul[] = {NULL};
  t = (muster_transfer_t){.buffers = nul, .nbuffers = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL);
  ASSERT(!muster_buffer_is_detached(big));
  ASSERT_EQ(muster_buffer_length(big), 1 << 20);
  muster_port_close(d, NULL);
  muster_buffer_t *one[] = {small};
  t = (muster_transfer_t){.buffers = one, .nbuffers = 1};
  ASSERT_ERR(muster_port_post(c, v, &t), MUSTER_ENOTCONN);
  ASSERT(!muster_buffer_is_detached(small));
  ASSERT_EQ(muster_port_receive(b, sync_cb), 0); /* nothing was sent */

  muster_buffer_t *good[] = {big, small};
  t = (muster_transfer_t){.buffers = good, .nbuffers = 2};
  ASSERT_OK(muster_port_post(a, v, &t));
  ASSERT(muster_buffer_is_detached(big));
  ASSERT(muster_buffer_is_detached(small));
  ASSERT_EQ(muster_buffer_length(big), 0);
  ASSERT(muster_buffer_data(big) == NULL);
  t = (muster_transfer_t){.buffers = one, .nbuffers = 1};
  ASSERT_ERR(muster_port_post(a, v, &t), MUSTER_EINVAL); /* detached */
  ASSERT_EQ(muster_port_receive(b, take_buffers), 1);
  ASSERT(taken_data == bytes); /* the same bytes: no copy */
  ASSERT_EQ(taken_len, 1 << 20);

  /* A message dropped with its buffers (receiver closed): freed. */
  muster_buffer_free(small); /* a detached handle is still freed */
  ASSERT_OK(muster_buffer_from("z", 1, &small));
  ASSERT_OK(muster_port_post(
      a, v, &(muster_transfer_t){.buffers = &small, .nbuffers = 1}));
  json_decref(v);
  muster_buffer_free(big);
  muster_buffer_free(small);
  muster_buffer_free(un);
  muster_port_close(a, NULL);
  muster_port_close(b, NULL);
  muster_port_close(c, NULL);
  test_run_loop(&loop, 10000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Over max_message_size: EMSGSIZE, and the port stays usable. */
TEST(port_emsgsize) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  rx_t rx = {0};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  muster_port_options_t o = {0};
  o.max_message_size = 16;
  ASSERT_OK(muster_port_start(a, &o));
  char big[17] = {0};
  ASSERT_ERR(muster_port_post_bytes(a, big, 17, NULL), MUSTER_EMSGSIZE);
  ASSERT_OK(muster_port_post_bytes(a, big, 16, NULL));
  json_t *s = json_string("0123456789abcdef"); /* 18 bytes of JSON */
  ASSERT_ERR(muster_port_post(a, s, NULL), MUSTER_EMSGSIZE);
  json_decref(s);
  o = rx_options(&rx);
  ASSERT_OK(muster_port_start(b, &o));
  muster_port_close(a, NULL);
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rx.count, 1);
  ASSERT_EQ(rx.bytes, 16);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Past the high-water mark post returns 1; on_drain follows delivery. */
TEST(port_high_water_mark) {
  uv_loop_t loop;
  muster_port_t *a, *b;
  rx_t rx = {0}, rxa = {0};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_port_pair(&loop, &a, &b));
  muster_port_options_t o = rx_options(&rxa);
  o.high_water_mark = 100;
  ASSERT_OK(muster_port_start(a, &o));
  char buf[60] = {0};
  ASSERT_EQ(muster_port_post_bytes(a, buf, 60, NULL), 0);
  ASSERT_EQ(muster_port_queue_size(a), 60);
  ASSERT_EQ(muster_port_post_bytes(a, buf, 60, NULL), 1);
  ASSERT_EQ(muster_port_post_bytes(a, buf, 60, NULL), 1);
  o = rx_options(&rx);
  rx.close_at = 3;
  ASSERT_OK(muster_port_start(b, &o));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(rx.count, 3);
  ASSERT_EQ(rxa.drains, 1);
  ASSERT_EQ(rxa.closes, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- across threads ------------------------------------------------------ */

static void close_on_close(muster_port_t *port) {
  muster_port_close(port, NULL);
}

/* The thread's side: echo every message back on the port it came on;
 * adopt every port that comes inside one and echo on it too. */
static void echo_message(muster_port_t *port, muster_message_t *m) {
  size_t n = muster_message_port_count(m);
  for (size_t i = 0; i < n; i++) {
    muster_port_t *p = muster_message_take_port(m, i);
    ASSERT(p != NULL);
    ASSERT(muster_message_take_port(m, i) == NULL);
    ASSERT(muster_port_loop(p) == muster_port_loop(port));
    muster_port_options_t o = {0};
    o.on_message = echo_message;
    o.on_close = close_on_close;
    ASSERT_OK(muster_port_start(p, &o));
  }
  /* Ports came: the parent port's work is done; the thread lives on as
   * long as the ports it adopted. */
  if (n > 0 && port == muster_thread_parent_port())
    muster_port_close(port, NULL);
  if (n == 0) {
    size_t len;
    const void *b = muster_message_bytes(m, &len);
    if (muster_message_format(m) == MUSTER_MESSAGE_BYTES)
      ASSERT(muster_port_post_bytes(port, b, len, NULL) >= 0);
    else
      ASSERT(muster_port_post_text(port, b, len, NULL) >= 0);
  }
}

static int echo_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = echo_message;
  o.on_close = close_on_close;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static void exit_seen(muster_thread_t *t, int code) {
  ASSERT_EQ(code, 0);
  muster_thread_close(t, NULL);
}

/* A worker's options: its isolation, callbacks and data. */
static muster_thread_options_t
worker_options(int isolation, muster_thread_message_cb on_message,
               muster_thread_exit_cb on_exit, void *data) {
  muster_thread_options_t o = {0};
  o.isolation = isolation;
  o.on_message = on_message;
  o.on_exit = on_exit;
  o.data = data;
  return o;
}

/* A port sent to a thread inside a message belongs to the thread's loop:
 * messages posted to it before it arrived wait for it there, in order;
 * closing our end closes the thread's, and the thread then ends. To a
 * worker process each port crosses as a socketpair of its own. */
TEST_MODES(port_transfer_to_thread, 30) {
  uv_loop_t loop;
  muster_port_t *mine, *theirs, *x, *y;
  muster_thread_t *t;
  rx_t rx = {0};
  int fds = test_fd_count();
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t to = worker_options(isolation, NULL, exit_seen, NULL);
  ASSERT_OK(muster_thread_create(&loop, echo_entry, &to, &t));
  ASSERT_OK(muster_port_pair(&loop, &mine, &theirs));
  ASSERT_OK(muster_port_pair(&loop, &x, &y));
  for (int i = 0; i < 100; i++)
    ASSERT_OK(post_int(mine, i)); /* queued at `theirs` */
  /* Two ports in one message, with a message queued in `y` too. */
  ASSERT_OK(post_int(x, 0));
  muster_port_t *list[] = {theirs, y};
  muster_transfer_t tr = {.ports = list, .nports = 2};
  json_t *v = json_string("ports");
  ASSERT_OK(muster_port_post(muster_thread_port(t), v, &tr));
  json_decref(v);
  /* Moved: using them again is not allowed; posting to them goes on. */
  for (int i = 100; i < 200; i++)
    ASSERT_OK(post_int(mine, i));
  muster_port_options_t o = rx_options(&rx);
  rx.close_at = 200;
  ASSERT_OK(muster_port_start(mine, &o));
  rx_t rxx = {0};
  o = rx_options(&rxx);
  rxx.close_at = 1;
  ASSERT_OK(muster_port_start(x, &o));
  test_run_loop(&loop, 20000);
  ASSERT_EQ(rx.count, 200);
  ASSERT_EQ(rx.out_of_order, 0);
  ASSERT_EQ(rxx.count, 1);
  /* The thread ended after its last port closed: on_exit closed it. */
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(test_fd_count(), fds);
}

/* The other way: a port made in the thread (the worker process) and
 * sent to us. Our posts reach the thread's end, come back in order, and
 * our close reaches it: it then leaves. */
static void close_and_leave(muster_port_t *port) {
  muster_port_close(port, NULL);
  muster_port_close(muster_thread_parent_port(), NULL);
}

static int give_port_entry(uv_loop_t *loop, void *arg) {
  muster_port_t *a, *b;
  ASSERT_OK(muster_port_pair(loop, &a, &b));
  muster_port_options_t o = {0};
  o.on_message = echo_message;
  o.on_close = close_and_leave;
  ASSERT_OK(muster_port_start(a, &o));
  muster_transfer_t tr = {.ports = &b, .nports = 1};
  json_t *v = json_string("port");
  int r = muster_port_post(muster_thread_parent_port(), v, &tr);
  json_decref(v);
  return r < 0;
}

static void got_port(muster_thread_t *t, muster_message_t *m) {
  rx_t *rx = muster_thread_data(t);
  ASSERT_EQ(muster_message_port_count(m), 1);
  muster_port_t *p = muster_message_take_port(m, 0);
  ASSERT(p != NULL);
  muster_port_options_t o = rx_options(rx);
  rx->close_at = 100;
  ASSERT_OK(muster_port_start(p, &o));
  for (int i = 0; i < 100; i++)
    ASSERT(post_int(p, i) >= 0);
}

TEST_MODES(port_transfer_from_thread, 30) {
  uv_loop_t loop;
  muster_thread_t *t;
  rx_t rx = {0};
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t to =
      worker_options(isolation, got_port, exit_seen, &rx);
  ASSERT_OK(muster_thread_create(&loop, give_port_entry, &to, &t));
  test_run_loop(&loop, 20000);
  ASSERT_EQ(rx.count, 100);
  ASSERT_EQ(rx.out_of_order, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Many posts from two threads at once to one port: each poster's order is
 * kept, nothing is lost. The posters start together at a barrier in a
 * shared buffer, which a worker process sees too (its mapping is
 * inherited). */
typedef struct {
  long long base;
  _Atomic int32_t *ready;
} flood_arg_t;

static int flood_entry(uv_loop_t *loop, void *arg) {
  muster_port_t *p = muster_thread_parent_port();
  flood_arg_t *a = arg;
  atomic_fetch_add(a->ready, 1);
  while (atomic_load(a->ready) < 2)
    ;
  for (long long i = 0; i < 20000; i++) {
    json_t *j = json_integer(a->base + i);
    ASSERT(muster_port_post(p, j, NULL) >= 0);
    json_decref(j);
  }
  return 0;
}

typedef struct {
  long long next[2];
  int count, bad, exits;
} flood_t;

static void flood_message(muster_thread_t *t, muster_message_t *m) {
  flood_t *f = muster_thread_data(t);
  long long v = json_integer_value(muster_message_json(m));
  int who = v >= 1000000;
  if (v - who * 1000000 != f->next[who])
    f->bad++;
  f->next[who]++;
  f->count++;
}

static void flood_exit(muster_thread_t *t, int code) {
  flood_t *f = muster_thread_data(t);
  f->exits++;
  muster_thread_close(t, NULL);
}

TEST_MODES(port_flood_two_threads, 120) {
  uv_loop_t loop;
  flood_t f = {{0, 0}, 0, 0, 0};
  muster_thread_t *t1, *t2;
  muster_shared_t *barrier;
  ASSERT_OK(muster_shared_create(64, &barrier));
  flood_arg_t a1 = {0, muster_shared_i32(barrier, 0)};
  flood_arg_t a2 = {1000000, muster_shared_i32(barrier, 0)};
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o =
      worker_options(isolation, flood_message, flood_exit, &f);
  o.arg = &a1;
  ASSERT_OK(muster_thread_create(&loop, flood_entry, &o, &t1));
  o.arg = &a2;
  ASSERT_OK(muster_thread_create(&loop, flood_entry, &o, &t2));
  test_run_loop(&loop, 100000);
  ASSERT_EQ(f.count, 40000);
  ASSERT_EQ(f.bad, 0);
  ASSERT_EQ(f.exits, 2);
  ASSERT_OK(uv_loop_close(&loop));
  muster_shared_unref(barrier);
}

/* ---- BroadcastChannel ---------------------------------------------------- */

static void post_same(muster_port_t *to, muster_message_t *m) {
  size_t len;
  const char *text = muster_message_text(m, &len);
  ASSERT(muster_port_post_text(to, text, len, NULL) >= 0);
}

static void bc_thread_message(muster_broadcast_t *bc, muster_message_t *m) {
  /* Tell the creator what came, then leave: the thread then ends. */
  post_same(muster_thread_parent_port(), m);
  muster_broadcast_close(bc, NULL);
}

static int bc_entry(uv_loop_t *loop, void *arg) {
  muster_broadcast_t *bc;
  json_t *ready = json_string("ready");
  int r = muster_broadcast_open(loop, "news", bc_thread_message, NULL, &bc);
  if (r == 0)
    r = muster_port_post(muster_thread_parent_port(), ready, NULL);
  json_decref(ready);
  return r;
}

typedef struct {
  int ready, hello, exits;
  muster_broadcast_t *bc;
} bc_state_t;

static void bc_message(muster_thread_t *t, muster_message_t *m) {
  bc_state_t *s = muster_thread_data(t);
  const char *v = json_string_value(muster_message_json(m));
  ASSERT(v != NULL);
  if (strcmp(v, "ready") == 0 && ++s->ready == 2) {
    json_t *hello = json_string("hello");
    ASSERT_EQ(muster_broadcast_post(s->bc, hello), 2);
    json_decref(hello);
  } else if (strcmp(v, "hello") == 0) {
    s->hello++;
  }
}

static void bc_exit(muster_thread_t *t, int code) {
  bc_state_t *s = muster_thread_data(t);
  ASSERT_EQ(code, 0);
  if (++s->exits == 2)
    muster_broadcast_close(s->bc, NULL);
  muster_thread_close(t, NULL);
}

static void bc_never(muster_broadcast_t *bc, muster_message_t *m) {
  TEST_FAIL("a channel got its own message");
}

TEST(port_broadcast) {
  uv_loop_t loop;
  bc_state_t s = {0};
  muster_thread_t *t1, *t2;
  muster_broadcast_t *other;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_broadcast_open(&loop, "", NULL, NULL, &other),
             MUSTER_EINVAL);
  ASSERT_OK(muster_broadcast_open(&loop, "news", bc_never, NULL, &s.bc));
  muster_broadcast_unref(s.bc);
  /* Another name hears nothing. */
  ASSERT_OK(muster_broadcast_open(&loop, "sports", bc_never, NULL, &other));
  muster_broadcast_unref(other);
  muster_thread_options_t o =
      worker_options(MUSTER_THREAD_ISOLATION_THREAD, bc_message, bc_exit, &s);
  ASSERT_OK(muster_thread_create(&loop, bc_entry, &o, &t1));
  ASSERT_OK(muster_thread_create(&loop, bc_entry, &o, &t2));
  test_run_loop(&loop, 20000);
  ASSERT_EQ(s.ready, 2);
  ASSERT_EQ(s.hello, 2);
  ASSERT_EQ(s.exits, 2);
  json_t *late = json_string("late");
  ASSERT_EQ(muster_broadcast_post(other, late), 0); /* nobody else */
  json_decref(late);
  muster_broadcast_close(other, NULL);
  ASSERT_ERR(muster_broadcast_post_bytes(other, "x", 1), MUSTER_ENOTCONN);
  test_run_loop(&loop, 10000);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- shared buffers ------------------------------------------------------ */

/* The thread adds 1 to element 0 of the shared buffer it got, then says
 * so and leaves. */
static void shared_message(muster_port_t *port, muster_message_t *m) {
  ASSERT_EQ(muster_message_shared_count(m), 1);
  muster_shared_t *s = muster_message_take_shared(m, 0);
  ASSERT(s != NULL);
  ASSERT(muster_message_take_shared(m, 0) == NULL);
  atomic_fetch_add(muster_shared_i32(s, 0), 1);
  muster_shared_unref(s);
  ASSERT(muster_port_post_text(port, "1", 1, NULL) >= 0);
  muster_port_close(port, NULL);
}

static int shared_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = shared_message;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static void shared_back(muster_thread_t *t, muster_message_t *m) {
  int *got = muster_thread_data(t);
  (*got)++;
}

/* A shared buffer goes by reference: the thread's write is ours to see,
 * and the sender keeps its own reference. */
TEST_MODES(port_shared_buffer, 30) {
  uv_loop_t loop;
  muster_shared_t *s;
  muster_thread_t *t;
  int got = 0;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_shared_create(4096, &s));
  muster_thread_options_t o =
      worker_options(isolation, shared_back, exit_seen, &got);
  ASSERT_OK(muster_thread_create(&loop, shared_entry, &o, &t));
  muster_shared_t *bad[] = {NULL};
  muster_transfer_t tr = {.shared = bad, .nshared = 1};
  ASSERT_ERR(muster_port_post_text(muster_thread_port(t), "0", 1, &tr),
             MUSTER_EINVAL);
  muster_shared_t *list[] = {s};
  tr = (muster_transfer_t){.shared = list, .nshared = 1};
  ASSERT_OK(muster_port_post_text(muster_thread_port(t), "0", 1, &tr));
  test_run_loop(&loop, 20000);
  ASSERT_EQ(got, 1);
  ASSERT_EQ(atomic_load(muster_shared_i32(s, 0)), 1);
  muster_shared_unref(s);
  ASSERT_OK(uv_loop_close(&loop));
}

