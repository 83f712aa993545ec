/* The channel on raw socketpairs: messages, order, limits, backpressure,
 * disconnect, ref/unref. Bad input is in test-channel-bad.c, handles in
 * test-channel-handle.c. */
#include "test-channel-util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

void tch_init(tch_t *t) {
  memset(t, 0, sizeof *t);
  t->taken_fd = -1;
}

static void rec_message(muster_channel_t *ch, muster_message_t *m) {
  tch_t *t = muster_channel_data(ch);
  t->messages++;
  size_t len;
  const char *s = muster_message_text(m, &len);
  t->last_len = len < sizeof t->last - 1 ? len : sizeof t->last - 1;
  memcpy(t->last, s, t->last_len);
  t->last[t->last_len] = '\0';
  muster_handle_type_t type;
  if (muster_message_handle(m, &type) >= 0) {
    t->handles++;
    t->last_type = type;
    if (t->take_handle) {
      if (t->taken_fd >= 0)
        close(t->taken_fd);
      t->taken_fd = muster_message_take_handle(m, NULL);
    }
  }
  if (t->extra)
    t->extra(ch, m);
}

static void rec_internal(muster_channel_t *ch, muster_message_t *m) {
  tch_t *t = muster_channel_data(ch);
  t->internals++;
  size_t len;
  const char *s = muster_message_text(m, &len);
  t->last_len = len < sizeof t->last - 1 ? len : sizeof t->last - 1;
  memcpy(t->last, s, t->last_len);
  t->last[t->last_len] = '\0';
  if (t->extra)
    t->extra(ch, m);
}

static void rec_error(muster_channel_t *ch, int err) {
  tch_t *t = muster_channel_data(ch);
  if (t->nerrors < 16)
    t->errors[t->nerrors] = err;
  t->nerrors++;
}

static void rec_disconnect(muster_channel_t *ch, int reason) {
  tch_t *t = muster_channel_data(ch);
  t->disconnects++;
  t->disconnect_reason = reason;
  ASSERT_EQ(muster_channel_connected(ch), 0);
  ASSERT_EQ(muster_channel_fd(ch), -1);
  if (t->close_on_disconnect)
    muster_channel_close(ch, tch_closed_cb);
}

static void rec_drain(muster_channel_t *ch) {
  tch_t *t = muster_channel_data(ch);
  t->drains++;
}

void tch_closed_cb(muster_channel_t *ch) {
  tch_t *t = muster_channel_data(ch);
  t->closed++;
}

muster_channel_options_t tch_options(tch_t *t) {
  muster_channel_options_t o;
  memset(&o, 0, sizeof o);
  o.on_message = rec_message;
  o.on_internal = rec_internal;
  o.on_error = rec_error;
  o.on_disconnect = rec_disconnect;
  o.on_drain = rec_drain;
  o.data = t;
  return o;
}

static void exit_cb(uv_process_t *p, int64_t status, int sig) {
  p->data = (void *)(intptr_t)(status * 256 + sig + 1);
  uv_close((uv_handle_t *)p, NULL);
}

void tch_spawn(uv_loop_t *loop, uv_process_t *proc, const char *const *argv,
               int *fd) {
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  uv_stdio_container_t stdio[4];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 1;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = sv[1];
  static char *env[256];
  extern char **environ;
  int n = 0;
  for (char **e = environ; *e && n < 250; e++)
    if (strncmp(*e, "NODE_CHANNEL", 12) != 0)
      env[n++] = *e;
  env[n++] = "NODE_CHANNEL_FD=3";
  env[n] = NULL;
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = argv[0];
  o.args = (char **)argv;
  o.env = env;
  o.stdio = stdio;
  o.stdio_count = 4;
  o.exit_cb = exit_cb;
  proc->data = NULL;
  ASSERT_OK(uv_spawn(loop, proc, &o));
  close(sv[1]);
  *fd = sv[0];
}

long tch_vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  ASSERT(f != NULL);
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* Two channel ends on one loop. */
typedef struct {
  uv_loop_t loop;
  muster_channel_t *a, *b;
  tch_t ta, tb;
} pair_t;

static void pair_open(pair_t *p, const muster_channel_options_t *oa,
                      const muster_channel_options_t *ob) {
  int sv[2];
  ASSERT_OK(uv_loop_init(&p->loop));
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  muster_channel_options_t a = oa ? *oa : tch_options(&p->ta);
  muster_channel_options_t b = ob ? *ob : tch_options(&p->tb);
  ASSERT_OK(muster_channel_open(&p->loop, sv[0], &a, &p->a));
  ASSERT_OK(muster_channel_open(&p->loop, sv[1], &b, &p->b));
}

static void pair_close(pair_t *p) {
  muster_channel_close(p->a, NULL);
  muster_channel_close(p->b, NULL);
  ASSERT_OK(uv_run(&p->loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&p->loop));
}

/* ---- basics -------------------------------------------------------------- */

static int sent_ok;
static void count_sent(muster_channel_t *ch, int status, void *arg) {
  ASSERT_OK(status);
  sent_ok += arg == NULL ? 1 : *(int *)arg;
}

static void stop_after_one(muster_channel_t *ch, muster_message_t *m) {
  uv_stop(muster_channel_loop(ch));
}

TEST(channel_send_both_ways) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  p.tb.extra = stop_after_one;
  p.ta.extra = stop_after_one;
  pair_open(&p, NULL, NULL);
  json_t *msg = json_pack("{s:s, s:i}", "hello", "w\xc3\xb6rld", "n", 1);
  sent_ok = 0;
  ASSERT_OK(muster_channel_send(p.a, msg, -1, NULL, count_sent, NULL));
  json_decref(msg);
  ASSERT_EQ(sent_ok, 0); /* never from inside send */
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(sent_ok, 1);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_STR_EQ(p.tb.last, "{\"hello\":\"w\xc3\xb6rld\",\"n\":1}");
  const char *txt = "[1,2,\"three\"]";
  ASSERT_OK(
      muster_channel_send_text(p.b, txt, strlen(txt), -1, NULL, NULL, NULL));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.ta.messages, 1);
  ASSERT_STR_EQ(p.ta.last, txt);
  ASSERT_EQ(muster_channel_connected(p.a), 1);
  ASSERT(muster_channel_fd(p.a) >= 0);
  ASSERT_EQ(p.ta.nerrors + p.tb.nerrors, 0);
  pair_close(&p);
}

static void check_json(muster_channel_t *ch, muster_message_t *m) {
  json_t *j = muster_message_json(m);
  ASSERT(j != NULL);
  ASSERT(muster_message_json(m) == j);
  /* With one integer beyond 64 bits, jansson reads every number as real. */
  ASSERT(json_number_value(json_object_get(j, "i")) == 42.0);
  ASSERT(json_is_real(json_object_get(j, "big")));
  ASSERT_EQ(muster_message_handle(m, NULL), -1);
  ASSERT(muster_message_handle_kind(m) == NULL);
  /* A channel's messages are JSON; their bytes are their text. */
  ASSERT_EQ(muster_message_format(m), MUSTER_MESSAGE_JSON);
  size_t tlen, blen;
  ASSERT(muster_message_bytes(m, &blen) == muster_message_text(m, &tlen));
  ASSERT_EQ(blen, tlen);
}

TEST(channel_message_json) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  p.tb.extra = check_json;
  pair_open(&p, NULL, NULL);
  /* An integer beyond 64 bits (JSON.stringify(2**70) writes one). */
  const char *t = "{\"i\":42,\"big\":1180591620717411303424}";
  ASSERT_OK(muster_channel_send_text(p.a, t, strlen(t), -1, NULL, NULL, NULL));
  ASSERT_OK(muster_channel_disconnect(p.a));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_EQ(p.tb.disconnects, 1);
  ASSERT_EQ(p.tb.disconnect_reason, 0);
  ASSERT_EQ(p.ta.disconnects, 1);
  ASSERT_EQ(p.ta.disconnect_reason, 0);
  pair_close(&p);
}

/* Order is kept over many messages, callbacks come in order, and the
 * receiver sees each message exactly once. */
static int next_expected;
static void check_seq(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  char buf[32];
  ASSERT(len < sizeof buf);
  memcpy(buf, s, len);
  buf[len] = '\0';
  ASSERT_EQ(atoi(buf), next_expected);
  next_expected++;
}

static int cb_expected;
static void cb_in_order(muster_channel_t *ch, int status, void *arg) {
  ASSERT_OK(status);
  ASSERT_EQ((intptr_t)arg, cb_expected);
  cb_expected++;
}

TEST(channel_order_many) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  p.tb.extra = check_seq;
  pair_open(&p, NULL, NULL);
  next_expected = 0;
  cb_expected = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%d", i);
    ASSERT(muster_channel_send_text(p.a, buf, (size_t)len, -1, NULL,
                                    cb_in_order, (void *)(intptr_t)i) >= 0);
  }
  ASSERT(muster_channel_queue_size(p.a) > 0);
  ASSERT_OK(muster_channel_disconnect(p.a));
  ASSERT_ERR(muster_channel_disconnect(p.a), MUSTER_ENOTCONN);
  ASSERT_ERR(muster_channel_send_text(p.a, "1", 1, -1, NULL, NULL, NULL),
             MUSTER_ENOTCONN);
  test_run_loop(&p.loop, 20000);
  ASSERT_EQ(next_expected, n);
  ASSERT_EQ(cb_expected, n);
  ASSERT_EQ(p.tb.disconnects, 1);
  ASSERT_EQ(muster_channel_queue_size(p.a), 0);
  pair_close(&p);
}

/* Coalescing: 2000 small sends in one loop turn leave in a few sendmsg
 * calls, counted by strace around a fixture that does just that. */
static int64_t strace_status;
static void strace_exit(uv_process_t *p, int64_t status, int sig) {
  strace_status = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)p, NULL);
}

TEST_T(channel_coalesces_writes, 60) {
  const char *strace = test_which("strace");
  if (strace == NULL)
    TEST_SKIP("strace is not on PATH");
  char strace_path[4096], out[] = "/tmp/muster-strace-XXXXXX";
  snprintf(strace_path, sizeof strace_path, "%s", strace);
  int tmp = mkstemp(out);
  ASSERT(tmp >= 0);
  close(tmp);
  const char *argv[] = {strace_path,
                        "-qq",
                        "-e",
                        "trace=sendmsg,sendto,write",
                        "-o",
                        out,
                        test_fixture_path(),
                        "channel_burst",
                        "2000",
                        NULL};
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  uv_stdio_container_t stdio[3] = {
      {UV_IGNORE, {0}}, {UV_INHERIT_FD, {.fd = 1}}, {UV_INHERIT_FD, {.fd = 2}}};
  /* LeakSanitizer cannot run under ptrace: off for the traced fixture. */
  static char *env[512];
  extern char **environ;
  int n = 0;
  for (char **e = environ; *e && n < 510; e++)
    if (strncmp(*e, "ASAN_OPTIONS=", 13) != 0)
      env[n++] = *e;
  env[n++] = "ASAN_OPTIONS=detect_leaks=0";
  env[n] = NULL;
  o.file = argv[0];
  o.args = (char **)argv;
  o.env = env;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.exit_cb = strace_exit;
  uv_process_t proc;
  strace_status = -1;
  ASSERT_OK(uv_spawn(&loop, &proc, &o));
  test_run_loop(&loop, 50000);
  ASSERT_OK(uv_loop_close(&loop));
  FILE *f = fopen(out, "r");
  ASSERT(f != NULL);
  char line[512];
  int sendmsgs = 0, ptraced = 1;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "sendmsg(") == line || strstr(line, "sendto(") == line)
      sendmsgs++; /* send() is sendto() */
    if (strstr(line, "PTRACE") || strstr(line, "Operation not permitted"))
      ptraced = 0;
  }
  fclose(f);
  unlink(out);
  if (!ptraced || (strace_status == 1 && sendmsgs == 0))
    TEST_SKIP("cannot ptrace here");
  ASSERT_EQ(strace_status, 0);
  fprintf(stderr, "2000 sends, %d send/sendmsg calls\n", sendmsgs);
  ASSERT_GE(sendmsgs, 1);
  ASSERT_LE(sendmsgs, 4);
}

/* A 64 MiB message, each way. */
static void big_check(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  ASSERT_EQ(len, (size_t)64 * 1024 * 1024 + 2);
  ASSERT_EQ(s[0], '"');
  ASSERT_EQ(s[len - 1], '"');
  for (size_t i = 1; i < len - 1; i += 4093)
    ASSERT_EQ(s[i], 'a' + (char)(i % 26));
  muster_channel_disconnect(ch);
}

TEST_T(channel_large_64mib, 120) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  p.tb.extra = big_check;
  pair_open(&p, NULL, NULL);
  size_t n = (size_t)64 * 1024 * 1024 + 2;
  char *s = malloc(n);
  ASSERT(s != NULL);
  s[0] = '"';
  for (size_t i = 1; i < n - 1; i++)
    s[i] = 'a' + (char)(i % 26);
  s[n - 1] = '"';
  sent_ok = 0;
  ASSERT_EQ(muster_channel_send_text(p.a, s, n, -1, NULL, count_sent, NULL),
            1); /* over the high-water mark */
  free(s);
  test_run_loop(&p.loop, 100000);
  ASSERT_EQ(sent_ok, 1);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_EQ(p.ta.drains, 1);
  ASSERT_EQ(p.ta.disconnects, 1);
  ASSERT_EQ(p.ta.disconnect_reason, 0);
  pair_close(&p);
}

TEST(channel_max_size_send) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  muster_channel_options_t oa = tch_options(&p.ta);
  oa.max_message_size = 10;
  p.tb.extra = stop_after_one;
  pair_open(&p, &oa, NULL);
  ASSERT_ERR(
      muster_channel_send_text(p.a, "\"0123456789\"", 12, -1, NULL, NULL, NULL),
      MUSTER_EMSGSIZE);
  json_t *j = json_string("0123456789");
  ASSERT_ERR(muster_channel_send(p.a, j, -1, NULL, NULL, NULL),
             MUSTER_EMSGSIZE);
  json_decref(j);
  ASSERT_EQ(muster_channel_queue_size(p.a), 0);
  /* Still usable, and nothing of the refused messages went out. */
  ASSERT_OK(
      muster_channel_send_text(p.a, "\"01234567\"", 10, -1, NULL, NULL, NULL));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_STR_EQ(p.tb.last, "\"01234567\"");
  ASSERT_EQ(p.tb.nerrors, 0);
  pair_close(&p);
}

TEST(channel_max_size_receive) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  muster_channel_options_t ob = tch_options(&p.tb);
  ob.max_message_size = 1000;
  pair_open(&p, NULL, &ob);
  ASSERT_OK(muster_channel_send_text(p.a, "\"ok\"", 4, -1, NULL, NULL, NULL));
  char big[1100];
  memset(big, 'x', sizeof big);
  big[0] = big[sizeof big - 1] = '"';
  ASSERT_OK(
      muster_channel_send_text(p.a, big, sizeof big, -1, NULL, NULL, NULL));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_EQ(p.tb.disconnects, 1);
  ASSERT_ERR(p.tb.disconnect_reason, MUSTER_EMSGSIZE);
  /* The sender sees the receiver go away in order. */
  ASSERT_EQ(p.ta.disconnects, 1);
  ASSERT_EQ(p.ta.disconnect_reason, 0);
  pair_close(&p);
}

TEST(channel_send_errors) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  pair_open(&p, NULL, NULL);
  ASSERT_ERR(muster_channel_send_text(p.a, "1\n2", 3, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_channel_send_text(p.a, "", 0, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_channel_send(p.a, NULL, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  json_t *ack = json_pack("{s:s}", "cmd", "NODE_HANDLE_ACK");
  ASSERT_ERR(muster_channel_send(p.a, ack, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  json_decref(ack);
  ASSERT_ERR(muster_channel_send_text(p.a, "1", 1, 999, NULL, NULL, NULL),
             MUSTER_EBADF);
  /* Values that have no JSON text: a cycle, a string that is not UTF-8.
   * Refused whole, and the channel is still usable (asserted below by
   * queue size 0 and by pair_close's orderly end). */
  json_t *outer = json_array(), *inner = json_array();
  json_array_append(inner, outer);
  json_array_append_new(outer, inner);
  ASSERT_ERR(muster_channel_send(p.a, outer, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  json_array_clear(inner); /* break the cycle so both are freed */
  json_decref(outer);
  json_t *bad = json_stringn_nocheck("\xff\xfe", 2);
  ASSERT_ERR(muster_channel_send(p.a, bad, -1, NULL, NULL, NULL),
             MUSTER_EINVAL);
  json_decref(bad);
  ASSERT_EQ(muster_channel_queue_size(p.a), 0);
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
  uv_loop_t *loop = &p.loop;
  muster_channel_t *c;
  ASSERT_ERR(muster_channel_open(loop, sv[0], NULL, &c), MUSTER_ENOTSOCK);
  ASSERT_ERR(muster_channel_open(loop, 999, NULL, &c), MUSTER_EBADF);
  ASSERT_ERR(muster_channel_open(loop, -1, NULL, &c), MUSTER_EINVAL);
  int pfd[2];
  ASSERT_OK(pipe2(pfd, O_CLOEXEC));
  ASSERT_ERR(muster_channel_open(loop, pfd[0], NULL, &c), MUSTER_ENOTSOCK);
  close(pfd[0]);
  close(pfd[1]);
  close(sv[0]);
  close(sv[1]);
  pair_close(&p);
}

/* Backpressure: send returns 1 over the mark; on_drain when it falls. */
static void drain_then_disconnect(muster_channel_t *ch) {
  tch_t *t = muster_channel_data(ch);
  t->drains++;
  muster_channel_disconnect(ch);
}

TEST(channel_backpressure) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  muster_channel_options_t oa = tch_options(&p.ta);
  oa.high_water_mark = 1000;
  oa.on_drain = drain_then_disconnect;
  pair_open(&p, &oa, NULL);
  int r, sends = 0;
  char msg[100];
  memset(msg, '1', sizeof msg);
  while ((r = muster_channel_send_text(p.a, msg, sizeof msg, -1, NULL, NULL,
                                       NULL)) == 0)
    sends++;
  ASSERT_EQ(r, 1);
  ASSERT_EQ(sends, 9); /* 10 * 101 bytes > 1000 */
  ASSERT(muster_channel_queue_size(p.a) > 1000);
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.ta.drains, 1);
  ASSERT_EQ(p.tb.messages, 10);
  ASSERT_EQ(p.tb.disconnects, 1);
  pair_close(&p);
}

/* An unreferenced channel does not keep the loop alive; ref() again does. */
static void on_timer_send(uv_timer_t *t) {
  muster_channel_t *ch = t->data;
  muster_channel_send_text(ch, "7", 1, -1, NULL, NULL, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

TEST(channel_ref_unref) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  pair_open(&p, NULL, NULL);
  muster_channel_unref(p.a);
  muster_channel_unref(p.b);
  uint64_t t0 = test_now_ms();
  ASSERT_OK(uv_run(&p.loop, UV_RUN_DEFAULT)); /* returns: nothing refs it */
  ASSERT(test_now_ms() - t0 < 1000);
  muster_channel_ref(p.b);
  p.tb.extra = stop_after_one;
  uv_timer_t timer;
  uv_timer_init(&p.loop, &timer);
  timer.data = p.a;
  uv_timer_start(&timer, on_timer_send, 10, 0);
  ASSERT(uv_run(&p.loop, UV_RUN_DEFAULT) != 0); /* stopped by the message */
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_STR_EQ(p.tb.last, "7");
  pair_close(&p);
}

/* Closing cancels queued sends; on_disconnect is not called; the fd of
 * the peer sees end of file. */
static int cancelled;
static void expect_cancel(muster_channel_t *ch, int status, void *arg) {
  ASSERT_ERR(status, MUSTER_ECANCELED);
  cancelled++;
}

TEST(channel_close_cancels) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  pair_open(&p, NULL, NULL);
  cancelled = 0;
  ASSERT_OK(
      muster_channel_send_text(p.a, "1", 1, -1, NULL, expect_cancel, NULL));
  ASSERT_OK(
      muster_channel_send_text(p.a, "2", 1, -1, NULL, expect_cancel, NULL));
  muster_channel_close(p.a, tch_closed_cb);
  ASSERT_EQ(cancelled, 2);
  ASSERT_EQ(p.ta.closed, 0); /* later, from the loop */
  p.tb.close_on_disconnect = 1;
  ASSERT_OK(uv_run(&p.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(p.ta.closed, 1);
  ASSERT_EQ(p.ta.disconnects, 0);
  ASSERT_EQ(p.tb.messages, 0);
  ASSERT_EQ(p.tb.disconnects, 1);
  ASSERT_EQ(p.tb.disconnect_reason, 0);
  ASSERT_EQ(p.tb.closed, 1);
  ASSERT_OK(uv_loop_close(&p.loop));
}

/* Closing inside on_message stops delivery of the rest of the batch. */
static void close_in_message(muster_channel_t *ch, muster_message_t *m) {
  muster_channel_close(ch, tch_closed_cb);
}

TEST(channel_close_in_callback) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  p.tb.extra = close_in_message;
  pair_open(&p, NULL, NULL);
  for (int i = 0; i < 10; i++)
    ASSERT_OK(muster_channel_send_text(p.a, "1", 1, -1, NULL, NULL, NULL));
  p.ta.close_on_disconnect = 1;
  ASSERT_OK(uv_run(&p.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_EQ(p.tb.closed, 1);
  ASSERT_EQ(p.ta.disconnects, 1);
  ASSERT_OK(uv_loop_close(&p.loop));
}

/* A child that exits ends the channel: on_disconnect(0). */
TEST(channel_peer_exit) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uv_process_t proc;
  int fd;
  tch_spawn(&loop, &proc, test_fixture_argv("channel_send_n", "3", NULL), &fd);
  tch_t t;
  tch_init(&t);
  t.close_on_disconnect = 1;
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, fd, &o, &ch));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(t.messages, 3);
  ASSERT_EQ(t.disconnects, 1);
  ASSERT_EQ(t.disconnect_reason, 0);
  ASSERT_EQ(t.closed, 1);
  ASSERT_EQ((intptr_t)proc.data, 1); /* exit 0, no signal */
  ASSERT_OK(uv_loop_close(&loop));
}

/* A producer in another process that refills its queue from on_drain:
 * every message arrives, in order (a flush scheduled from the drain
 * callback must not wait for the poll). */
TEST_T(channel_drain_pump, 60) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uv_process_t proc;
  int fd;
  tch_spawn(&loop, &proc, test_fixture_argv("channel_pump", "300000", NULL),
            &fd);
  tch_t t;
  tch_init(&t);
  t.close_on_disconnect = 1;
  t.extra = check_seq;
  next_expected = 0;
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, fd, &o, &ch));
  test_run_loop(&loop, 50000);
  ASSERT_EQ(next_expected, 300000);
  ASSERT_EQ(t.disconnects, 1);
  ASSERT_EQ(t.disconnect_reason, 0);
  ASSERT_EQ((intptr_t)proc.data, 1);
  ASSERT_OK(uv_loop_close(&loop));
}

/* Internal messages go to on_internal; "NODE_" alone is a user message
 * (Node's rule needs more than 5 characters); escapes are decoded. */
TEST(channel_internal_messages) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  pair_open(&p, NULL, NULL);
  const char *lines[] = {
      "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}", /* internal */
      "{\"cmd\":\"NODE_\"}",                                     /* user */
      "{\"cmd\":\"\\u004eODE_X\"}",                              /* internal */
      "{\"\\u0063md\":\"NODE_Y\"}",                              /* internal */
      "{\"cmd\":\"NODE_Z\",\"cmd\":1}",                          /* user */
      "{\"x\":{\"cmd\":\"NODE_W\"}}",                            /* user */
      "[\"NODE_V\"]",                                            /* user */
  };
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
    ASSERT_OK(muster_channel_send_text(p.a, lines[i], strlen(lines[i]), -1,
                                       NULL, NULL, NULL));
  ASSERT_OK(muster_channel_disconnect(p.a));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.tb.internals, 3);
  ASSERT_EQ(p.tb.messages, 4);
  ASSERT_EQ(p.tb.nerrors, 0);
  pair_close(&p);
}

/* Without on_internal, Node's socket-list queries are answered. */
static void stop_on_message(muster_channel_t *ch, muster_message_t *m) {
  uv_stop(muster_channel_loop(ch));
}

TEST(channel_socket_list_replies) {
  pair_t p;
  tch_init(&p.ta);
  tch_init(&p.tb);
  muster_channel_options_t ob = tch_options(&p.tb);
  ob.on_internal = NULL;
  muster_channel_options_t oa = tch_options(&p.ta);
  p.ta.extra = stop_on_message;
  pair_open(&p, &oa, &ob);
  const char *q = "{\"cmd\":\"NODE_SOCKET_GET_COUNT\",\"key\":\"4:0.0.0.0:0\"}";
  ASSERT_OK(muster_channel_send_text(p.a, q, strlen(q), -1, NULL, NULL, NULL));
  /* Count the answer as a message on a: route internals through extra. */
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.ta.internals, 1);
  ASSERT_STR_EQ(p.ta.last,
                "{\"cmd\":\"NODE_SOCKET_COUNT\",\"key\":\"4:0.0.0.0:0\","
                "\"count\":0}");
  const char *c = "{\"cmd\":\"NODE_SOCKET_NOTIFY_CLOSE\",\"key\":\"k\"}";
  ASSERT_OK(muster_channel_send_text(p.a, c, strlen(c), -1, NULL, NULL, NULL));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.ta.internals, 2);
  ASSERT_STR_EQ(p.ta.last,
                "{\"cmd\":\"NODE_SOCKET_ALL_CLOSED\",\"key\":\"k\"}");
  pair_close(&p);
}

/* ---- the parent's channel ------------------------------------------------ */

TEST(channel_from_parent_errors) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_channel_t *ch;
  unsetenv("NODE_CHANNEL_FD");
  ASSERT_ERR(muster_channel_from_parent(&loop, NULL, &ch), MUSTER_ENOTCONN);
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  char buf[32];
  snprintf(buf, sizeof buf, "%d", sv[0]);
  setenv("NODE_CHANNEL_FD", buf, 1);
  setenv("NODE_CHANNEL_SERIALIZATION_MODE", "advanced", 1);
  ASSERT_ERR(muster_channel_from_parent(&loop, NULL, &ch), MUSTER_ENOTSUP);
  ASSERT(getenv("NODE_CHANNEL_FD") == NULL);
  ASSERT(getenv("NODE_CHANNEL_SERIALIZATION_MODE") == NULL);
  /* Nothing was read: the bytes are still there. */
  ASSERT_EQ(write(sv[1], "1\n", 2), 2);
  ASSERT_EQ(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), 2);
  setenv("NODE_CHANNEL_FD", "abc", 1);
  ASSERT_ERR(muster_channel_from_parent(&loop, NULL, &ch), MUSTER_EBADF);
  setenv("NODE_CHANNEL_FD", "999", 1);
  ASSERT_ERR(muster_channel_from_parent(&loop, NULL, &ch), MUSTER_EBADF);
  snprintf(buf, sizeof buf, "%d", sv[0]);
  setenv("NODE_CHANNEL_FD", buf, 1);
  setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1);
  ASSERT_OK(muster_channel_from_parent(&loop, NULL, &ch));
  ASSERT_EQ(muster_channel_fd(ch), sv[0]);
  ASSERT_ERR(muster_channel_from_parent(&loop, NULL, &ch), MUSTER_ENOTCONN);
  muster_channel_close(ch, NULL); /* closes sv[0] */
  close(sv[1]);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* A C child finds its parent's channel and talks back. */
TEST(channel_child_echo) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uv_process_t proc;
  int fd;
  tch_spawn(&loop, &proc, test_fixture_argv("channel_echo", NULL), &fd);
  tch_t t;
  tch_init(&t);
  t.close_on_disconnect = 1;
  t.extra = stop_after_one;
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, fd, &o, &ch));
  const char *m = "{\"hello\":[1,2,3]}";
  ASSERT_OK(muster_channel_send_text(ch, m, strlen(m), -1, NULL, NULL, NULL));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(t.messages, 1);
  ASSERT_STR_EQ(t.last, "{\"echo\":{\"hello\":[1,2,3]}}");
  t.extra = NULL;
  ASSERT_OK(muster_channel_disconnect(ch)); /* the child exits on EOF */
  test_run_loop(&loop, 10000);
  ASSERT_EQ(t.disconnects, 1);
  ASSERT_EQ(t.closed, 1);
  ASSERT_EQ((intptr_t)proc.data, 1);
  ASSERT_OK(uv_loop_close(&loop));
}
