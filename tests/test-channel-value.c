/* The value path (docs/channel.md, "Receiving"): when the user asked for
 * the last message's value, the next one is checked and parsed in one
 * pass. What is delivered or reported must not depend on it: the same
 * bytes fed to a channel that always asks, one that never asks and one
 * that asks every other time give the same transcript, and every value
 * equals what jansson builds from the text. */
#include "test-channel-util.h"
#include "test-json-random.h"
#include "../fuzz/json_oracle.h"

#include <sys/socket.h>
#include <unistd.h>

/* What one channel saw, one event a line: "M <text>", "I <text>" or
 * "E <error name>". */
typedef struct {
  char *log;
  size_t len, cap;
  int ask; /* 0 never, 1 always, 2 every other message */
  int seen;
  int values; /* values checked against jansson */
  int ended;
} rec_t;

static void rec_put(rec_t *r, const char *tag, const char *s, size_t n) {
  size_t need = r->len + 3 + n;
  if (need > r->cap) {
    r->cap = need * 2;
    r->log = realloc(r->log, r->cap);
    ASSERT(r->log != NULL);
  }
  memcpy(r->log + r->len, tag, 2);
  memcpy(r->log + r->len + 2, s, n);
  r->len += 2 + n;
  r->log[r->len++] = '\n';
}

/* The value must be what json_loadb gives under the channel's rule
 * (include/muster/channel.h, muster_message_json). */
static void check_value(rec_t *r, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  json_t *v = muster_message_json(m);
  json_t *want = json_oracle(s, len);
  ASSERT((v == NULL) == (want == NULL));
  if (v != NULL)
    ASSERT(json_identical(v, want));
  json_decref(want);
  r->values++;
}

static void on_msg(muster_channel_t *ch, muster_message_t *m) {
  rec_t *r = muster_channel_data(ch);
  size_t len;
  const char *s = muster_message_text(m, &len);
  rec_put(r, "M ", s, len);
  if (r->ask == 1 || (r->ask == 2 && (r->seen & 1)))
    check_value(r, m);
  r->seen++;
}

static void on_int(muster_channel_t *ch, muster_message_t *m) {
  rec_t *r = muster_channel_data(ch);
  size_t len;
  const char *s = muster_message_text(m, &len);
  rec_put(r, "I ", s, len);
  ASSERT(muster_message_json(m) != NULL);
}

static void on_err(muster_channel_t *ch, int err) {
  rec_t *r = muster_channel_data(ch);
  const char *name = muster_err_name(err);
  rec_put(r, "E ", name, strlen(name));
}

static void on_end(muster_channel_t *ch, int reason) {
  rec_t *r = muster_channel_data(ch);
  ASSERT_OK(reason);
  r->ended = 1;
  muster_channel_close(ch, NULL);
}

/* Feeds `text` to a fresh channel that asks as r->ask says. */
static void feed(const char *text, size_t n, rec_t *r) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  muster_channel_options_t o;
  memset(&o, 0, sizeof o);
  o.on_message = on_msg;
  o.on_internal = on_int;
  o.on_error = on_err;
  o.on_disconnect = on_end;
  o.data = r;
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, sv[0], &o, &ch));
  /* A writer thread is not needed: the peer writes as the loop reads. */
  size_t off = 0;
  while (off < n) {
    ssize_t w = send(sv[1], text + off, n - off, MSG_DONTWAIT);
    if (w > 0)
      off += (size_t)w;
    else
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  close(sv[1]);
  test_run_loop(&loop, 10000);
  ASSERT(r->ended);
  ASSERT_OK(uv_loop_close(&loop));
}

static void append(char **buf, size_t *len, size_t *cap, const char *s,
                   size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *buf = realloc(*buf, *cap);
    ASSERT(*buf != NULL);
  }
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[(*len)++] = '\n';
}

TEST_T(channel_value_path_same_results, 60) {
  static const char *lines[] = {
      "{\"i\":1,\"s\":\"hello\"}",
      "{\"i\":2,\"s\":\"hello\"}",
      "not json",
      "{\"i\":3}",
      "\"\xff\"",                                      /* bad UTF-8 */
      "{\"n\":1e400}",                                 /* valid, no double */
      "{\"big\":1180591620717411303424,\"x\":1.5}",    /* 2**70 */
      "{\"\\u0000\":1}",                               /* NUL in a key */
      "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\"}", /* internal */
      "{\"cmd\":\"NODE_\"}",                           /* user */
      "{\"cmd\":\"\\u004eODE_X\"}",                    /* internal, escaped */
      "{\"cmd\":\"NODE_Y\",\"n\":1e400}",              /* internal, no double */
      "{\"cmd\":\"NODE_HANDLE_ACK\"}",                 /* nobody waits */
      "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":1}", /* no fd */
      "[1,2,3]",
      "{\"a\":1,\"a\":2}",
      "  {\"sp\" : true }  ",
      "-0",
      "18446744073709551616",
      "9223372036854775807",
      "-9223372036854775808",
      "12345678901234567890123",
      "",
      "{\"i\":4,\"s\":\"hello\"}",
  };
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
      append(&text, &len, &cap, lines[i], strlen(lines[i]));
  /* Deep nesting: 2048 arrays around a 1 is valid JSON jansson refuses. */
  char deep[2 * 2048 + 2];
  memset(deep, '[', 2048);
  deep[2048] = '1';
  memset(deep + 2049, ']', 2048);
  append(&text, &len, &cap, deep, 2 * 2048 + 1);
  for (int i = 0; i < 500; i++) {
    json_t *v = test_random_json(i % 7 == 0);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ASSERT(s != NULL);
    append(&text, &len, &cap, s, strlen(s));
    free(s);
    json_decref(v);
  }
  int fds = test_fd_count();
  rec_t never = {.ask = 0}, always = {.ask = 1}, half = {.ask = 2};
  feed(text, len, &never);
  feed(text, len, &always);
  feed(text, len, &half);
  ASSERT(never.len > 0);
  ASSERT_EQ(always.len, never.len);
  ASSERT(memcmp(always.log, never.log, never.len) == 0);
  ASSERT_EQ(half.len, never.len);
  ASSERT(memcmp(half.log, never.log, never.len) == 0);
  ASSERT(always.values > 500);
  ASSERT(half.values > 250);
  ASSERT_EQ(test_fd_count(), fds);
  free(never.log);
  free(always.log);
  free(half.log);
  free(text);
}
