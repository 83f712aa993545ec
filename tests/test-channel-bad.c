/* A peer that writes garbage: every case reports the exact error, never
 * crashes, and leaks no fd (the runner counts /proc/self/fd around each
 * test). The peer is the raw other end of a socketpair. */
#include "test-channel-util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  uv_loop_t loop;
  int raw;
  muster_channel_t *ch;
  tch_t t;
} raw_t;

static void raw_open(raw_t *r, size_t max) {
  int sv[2];
  ASSERT_OK(uv_loop_init(&r->loop));
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  tch_init(&r->t);
  muster_channel_options_t o = tch_options(&r->t);
  o.max_message_size = max;
  ASSERT_OK(muster_channel_open(&r->loop, sv[1], &o, &r->ch));
  r->raw = sv[0];
}

static void raw_write(raw_t *r, const char *s, size_t n) {
  ASSERT_EQ(write(r->raw, s, n), (ssize_t)n);
}

static void raw_write_fd(raw_t *r, const char *s, size_t n, int fd) {
  ASSERT_EQ(test_send_fds(r->raw, s, n, &fd, 1), (ssize_t)n);
}

/* Reads what the channel wrote to the raw end, with a deadline. */
static size_t raw_read(raw_t *r, char *buf, size_t cap) {
  size_t got = 0;
  uint64_t t0 = test_now_ms();
  while (got == 0 && test_now_ms() - t0 < 5000) {
    uv_run(&r->loop, UV_RUN_NOWAIT);
    ssize_t n = recv(r->raw, buf, cap - 1, MSG_DONTWAIT);
    if (n > 0)
      got = (size_t)n;
    else
      usleep(1000);
  }
  buf[got] = '\0';
  return got;
}

static void stop_on_any(muster_channel_t *ch, muster_message_t *m) {
  uv_stop(muster_channel_loop(ch));
}

/* Runs until the channel delivered a message (or ended). */
static void raw_run(raw_t *r) {
  r->t.extra = stop_on_any;
  test_run_loop(&r->loop, 10000);
}

static void raw_close(raw_t *r) {
  if (r->raw >= 0)
    close(r->raw);
  muster_channel_close(r->ch, NULL);
  ASSERT_OK(uv_run(&r->loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&r->loop));
}

/* Lines that are not JSON are dropped with EBADMSG; the channel goes on. */
TEST(channel_bad_not_json) {
  raw_t r;
  raw_open(&r, 0);
  const char bad[] = "not json\n{\"a\":}\n\n  \n{\"a\":1}}\n\xef\xbb\xbf{}\n"
                     "'x'\n[1,]\n{\"ok\":1}\n";
  raw_write(&r, bad, sizeof bad - 1);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_STR_EQ(r.t.last, "{\"ok\":1}");
  ASSERT_EQ(r.t.nerrors, 8);
  for (int i = 0; i < 8; i++)
    ASSERT_ERR(r.t.errors[i], MUSTER_EBADMSG);
  ASSERT_EQ(muster_channel_connected(r.ch), 1);
  /* JSON whitespace and a \r\n terminator are fine (Node accepts them). */
  raw_write(&r, " [1] \r\n", 7);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 2);
  ASSERT_STR_EQ(r.t.last, " [1] \r");
  raw_close(&r);
}

TEST(channel_bad_utf8) {
  raw_t r;
  raw_open(&r, 0);
  const char *bad[] = {
      "\"\xff\"\n",             /* not UTF-8 at all */
      "\"\xc0\xaf\"\n",         /* overlong '/' */
      "\"\xed\xa0\x80\"\n",     /* an encoded surrogate */
      "\"\xf4\x90\x80\x80\"\n", /* above U+10FFFF */
      "\"\xe2\x82\"\n",         /* cut short */
      "\"\\ud800\"\n",          /* a lone escaped surrogate */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    raw_write(&r, bad[i], strlen(bad[i]));
  raw_write(&r, "\"w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80\"\n", 18);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_STR_EQ(r.t.last, "\"w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80\"");
  ASSERT_EQ(r.t.nerrors, 6);
  for (int i = 0; i < 6; i++)
    ASSERT_ERR(r.t.errors[i], MUSTER_EBADMSG);
  raw_close(&r);
}

/* A frame cut off by end of file ends the channel with EBADMSG; the
 * complete messages before it are delivered. */
TEST(channel_bad_torn_frame) {
  raw_t r;
  raw_open(&r, 0);
  raw_write(&r, "1\n{\"a\":[1,2", 11);
  close(r.raw);
  r.raw = -1;
  test_run_loop(&r.loop, 10000);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_EQ(r.t.disconnects, 1);
  ASSERT_ERR(r.t.disconnect_reason, MUSTER_EBADMSG);
  ASSERT_EQ(muster_channel_connected(r.ch), 0);
  raw_close(&r);
}

/* A line with no newline, streamed up to 1 GiB: the channel stops at its
 * limit with EMSGSIZE, and its memory stays near the limit. */
typedef struct {
  int fd;
  size_t written;
} streamer_t;

static void *stream_garbage(void *arg) {
  streamer_t *s = arg;
  static char chunk[1 << 16];
  memset(chunk, 'x', sizeof chunk);
  chunk[0] = '"';
  size_t total = (size_t)1 << 30;
  while (s->written < total) {
    ssize_t n = send(s->fd, chunk + (s->written ? 1 : 0),
                     sizeof chunk - (s->written ? 1 : 0), MSG_NOSIGNAL);
    if (n <= 0)
      break; /* EPIPE/ECONNRESET: the channel gave up, as it should */
    s->written += (size_t)n;
  }
  return NULL;
}

TEST_T(channel_bad_huge_line, 120) {
  raw_t r;
  size_t max = 8 << 20;
  raw_open(&r, max);
  long hwm0 = tch_vm_hwm_kb();
  streamer_t s = {r.raw, 0};
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, stream_garbage, &s));
  test_run_loop(&r.loop, 60000);
  ASSERT_EQ(r.t.disconnects, 1);
  ASSERT_ERR(r.t.disconnect_reason, MUSTER_EMSGSIZE);
  ASSERT_OK(pthread_join(th, NULL));
  long grown = tch_vm_hwm_kb() - hwm0;
  fprintf(stderr, "streamed %zu bytes, peak RSS grew %ld KiB\n", s.written,
          grown);
  ASSERT(s.written < ((size_t)1 << 30));
  ASSERT(s.written >= max);
  /* The buffer is at most ~2 x max; the margin is for ASan's shadow memory
   * and quarantine. Unbounded, this would be 1 GiB. */
  ASSERT_LE(grown, 6 * (long)(max >> 10));
  ASSERT_EQ(r.t.messages, 0);
  raw_close(&r);
}

/* An fd with no NODE_HANDLE message to claim it is closed, and reported. */
TEST(channel_bad_fd_without_handle_message) {
  raw_t r;
  raw_open(&r, 0);
  int fds = test_fd_count();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  raw_write_fd(&r, "{\"plain\":1}\n", 12, devnull);
  close(devnull);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_EQ(r.t.handles, 0);
  ASSERT_EQ(r.t.nerrors, 1);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  ASSERT_EQ(test_fd_count(), fds);
  raw_close(&r);
}

/* NODE_HANDLE without an fd: a NACK goes back, nothing is delivered. */
TEST(channel_bad_handle_message_without_fd) {
  raw_t r;
  raw_open(&r, 0);
  const char h[] =
      "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"x\":1}}\n";
  raw_write(&r, h, sizeof h - 1);
  char buf[256];
  raw_read(&r, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
  ASSERT_EQ(r.t.messages, 0);
  ASSERT_EQ(r.t.nerrors, 1);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  raw_write(&r, "2\n", 2);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  raw_close(&r);
}

/* A malformed envelope with an fd: the fd is closed, an ACK still goes back
 * (the fd did arrive; a NACK would make a Node sender resend it). */
TEST(channel_bad_handle_envelope) {
  raw_t r;
  raw_open(&r, 0);
  int fds = test_fd_count();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const char h[] = "{\"cmd\":\"NODE_HANDLE\",\"msg\":1}\n"; /* no type */
  raw_write_fd(&r, h, sizeof h - 1, devnull);
  close(devnull);
  char buf[256];
  raw_read(&r, buf, sizeof buf);
  /* Our ACK advertises the handle window (a muster sender may use it; a
   * Node sender looks only at "cmd"). */
  ASSERT_STR_EQ(buf,
                "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":64,\"batch\":1}\n");
  ASSERT_EQ(r.t.messages, 0);
  ASSERT_EQ(r.t.nerrors, 1);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  ASSERT_EQ(test_fd_count(), fds);
  raw_close(&r);
}

/* An ACK nobody waits for is reported and ignored (it crashes Node). */
TEST(channel_bad_unsolicited_ack) {
  raw_t r;
  raw_open(&r, 0);
  const char a[] =
      "{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"NODE_HANDLE_NACK\"}"
      "\n3\n";
  raw_write(&r, a, sizeof a - 1);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_STR_EQ(r.t.last, "3");
  ASSERT_EQ(r.t.nerrors, 2);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  ASSERT_ERR(r.t.errors[1], MUSTER_EPROTO);
  ASSERT_EQ(muster_channel_connected(r.ch), 1);
  raw_close(&r);
}

/* Two fds on one NODE_HANDLE message: the first goes with it, the second
 * is closed once no frame can claim it. */
TEST(channel_bad_two_fds) {
  raw_t r;
  raw_open(&r, 0);
  r.t.take_handle = 0;
  int fds = test_fd_count();
  int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const char h[] =
      "{\"cmd\":\"NODE_HANDLE\",\"type\":\"muster.Fd\",\"msg\":\"two\"}\n";
  int both[2] = {a, b};
  ASSERT_EQ(test_send_fds(r.raw, h, sizeof h - 1, both, 2),
            (ssize_t)(sizeof h - 1));
  close(a);
  close(b);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_EQ(r.t.handles, 1);
  ASSERT_EQ(r.t.last_type, MUSTER_HANDLE_FD);
  ASSERT_EQ(r.t.nerrors, 1);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  uv_run(&r.loop, UV_RUN_NOWAIT); /* the ACK goes out */
  ASSERT_EQ(test_fd_count(), fds);
  raw_close(&r);
}

/* A peer that sends fds behind a line it never ends: they cannot be closed
 * as unclaimed (a frame is still open), so the channel holds at most a
 * window's worth (64) and closes the lot, with EPROTO, when more come. */
TEST(channel_bad_fd_flood) {
  raw_t r;
  int base = test_fd_count();
  raw_open(&r, 0);
  int fds = test_fd_count();
  int many[60];
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 60; i++)
      ASSERT((many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    ASSERT_EQ(test_send_fds(r.raw, "x", 1, many, 60), 1);
    for (int i = 0; i < 60; i++)
      close(many[i]);
    for (int i = 0; i < 5; i++)
      uv_run(&r.loop, UV_RUN_NOWAIT);
    ASSERT_LE(test_fd_count(), fds + 64);
  }
  ASSERT_GE(r.t.nerrors, 5);
  ASSERT_ERR(r.t.errors[0], MUSTER_EPROTO);
  ASSERT(muster_channel_connected(r.ch));
  raw_close(&r);
  ASSERT_EQ(test_fd_count(), base); /* the queued ones closed at the end */
}

/* Deeply nested JSON: up to 2048 levels is a message, beyond is not. */
TEST(channel_bad_deep_nesting) {
  raw_t r;
  raw_open(&r, 0);
  char *s = malloc(2 * 2049 + 2);
  for (int depth = 2049; depth >= 2048; depth--) {
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[2 * depth] = '\n';
    raw_write(&r, s, (size_t)(2 * depth + 1));
  }
  free(s);
  raw_run(&r);
  ASSERT_EQ(r.t.messages, 1);
  ASSERT_EQ(r.t.nerrors, 1);
  ASSERT_ERR(r.t.errors[0], MUSTER_EBADMSG);
  raw_close(&r);
}

/* A peer that resets the connection (closes with unread data) ends the
 * channel. */
TEST(channel_bad_peer_reset) {
  raw_t r;
  raw_open(&r, 0);
  /* Queue output the raw end never reads, then close it: our write gets
   * EPIPE/ECONNRESET; the channel reads the end and reports it once. */
  for (int i = 0; i < 100; i++)
    muster_channel_send_text(r.ch, "1", 1, -1, NULL, NULL, NULL);
  close(r.raw);
  r.raw = -1;
  test_run_loop(&r.loop, 10000);
  ASSERT_EQ(r.t.disconnects, 1);
  ASSERT_EQ(r.t.disconnect_reason, 0);
  raw_close(&r);
}
