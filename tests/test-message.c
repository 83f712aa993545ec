/* The message type on its own (src/message_internal.h), as any deliverer
 * builds it: JSON text, a value with no text, raw bytes, a handle, and a
 * source's hooks. The channel's own use is covered by test-channel*.c. */
#include "test.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/message_internal.h"

TEST(message_text) {
  muster_message_t m;
  const char *t = "{\"a\":[1,2]}";
  muster__message_init_text(&m, t, strlen(t), NULL);
  ASSERT_EQ(muster_message_format(&m), MUSTER_MESSAGE_JSON);
  size_t len = 99;
  ASSERT(muster_message_text(&m, &len) == t);
  ASSERT_EQ(len, strlen(t));
  ASSERT(muster_message_bytes(&m, &len) == t);
  ASSERT_EQ(len, strlen(t));
  json_t *j = muster_message_json(&m);
  ASSERT(j != NULL);
  ASSERT(muster_message_json(&m) == j);
  ASSERT_EQ(json_integer_value(json_array_get(json_object_get(j, "a"), 1)), 2);
  ASSERT_EQ(muster_message_handle(&m, NULL), -1);
  ASSERT(muster_message_handle_kind(&m) == NULL);
  muster__message_done(&m);
}

/* A value posted without text: the text is made when asked for, as the
 * channel would write it, and freed with the message (ASan checks). */
TEST(message_value) {
  muster_message_t m;
  json_t *v =
      json_pack("{s:s, s:[i, f, b]}", "k", "w\xc3\xb6rld\n", "l", 1, 0.5, 1);
  muster__message_init_value(&m, v);
  ASSERT(muster_message_json(&m) == v);
  size_t len;
  const char *s = muster_message_text(&m, &len);
  ASSERT(s != NULL);
  const char *want = "{\"k\":\"w\xc3\xb6rld\\n\",\"l\":[1,0.5,true]}";
  ASSERT_EQ(len, strlen(want));
  ASSERT(memcmp(s, want, len) == 0);
  ASSERT(muster_message_text(&m, NULL) == s); /* made once */
  muster__message_done(&m);
}

TEST(message_bytes) {
  muster_message_t m;
  const unsigned char raw[] = {0, 0xff, '\n', 'x'};
  muster__message_init_bytes(&m, raw, sizeof raw);
  ASSERT_EQ(muster_message_format(&m), MUSTER_MESSAGE_BYTES);
  size_t len = 99;
  ASSERT(muster_message_bytes(&m, &len) == raw);
  ASSERT_EQ(len, sizeof raw);
  ASSERT(muster_message_text(&m, &len) == NULL);
  ASSERT_EQ(len, 0);
  ASSERT(muster_message_json(&m) == NULL);
  muster__message_done(&m);
}

/* The message owns its fd: closed after the callback unless taken. */
TEST(message_handle) {
  int fds = test_fd_count();
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  muster_message_t m;
  muster__message_init_text(&m, "1", 1, NULL);
  muster__message_set_handle(&m, sv[0], "net.Socket");
  muster_handle_type_t type;
  ASSERT_EQ(muster_message_handle(&m, &type), sv[0]);
  ASSERT_EQ(type, MUSTER_HANDLE_PIPE);
  ASSERT_STR_EQ(muster_message_handle_kind(&m), "net.Socket");
  muster__message_done(&m);
  ASSERT(fcntl(sv[0], F_GETFD) < 0); /* closed */

  muster__message_init_text(&m, "1", 1, NULL);
  muster__message_set_handle(&m, sv[1], "net.Socket");
  ASSERT_EQ(muster_message_take_handle(&m, NULL), sv[1]);
  ASSERT_EQ(muster_message_take_handle(&m, NULL), -1);
  muster__message_done(&m);
  ASSERT(fcntl(sv[1], F_GETFD) >= 0); /* the caller's now */
  close(sv[1]);
  ASSERT_EQ(test_fd_count(), fds);
}

/* A source learns when the value is first asked for, and releases its own
 * payloads in done, before the message lets go of its value. */
typedef struct {
  int asked, done;
  json_t *extra; /* a payload of the source's own */
} src_t;

static void src_asked(void *source, muster_message_t *m) {
  src_t *s = source;
  ASSERT(muster__message_source(m) == source);
  s->asked++;
}

static void src_done(void *source, muster_message_t *m) {
  src_t *s = source;
  ASSERT(muster_message_json(m) != NULL); /* still whole */
  json_decref(s->extra);
  s->extra = NULL;
  s->done++;
}

static const muster__message_hooks_t SRC_HOOKS = {src_asked, src_done};

TEST(message_source_hooks) {
  src_t s = {0, 0, json_string("payload")};
  muster_message_t m;
  muster__message_init_text(&m, "[true]", 6, NULL);
  muster__message_set_source(&m, &s, &SRC_HOOKS);
  ASSERT_EQ(s.asked, 0);
  muster_message_text(&m, NULL);
  ASSERT_EQ(s.asked, 0);
  ASSERT(muster_message_json(&m) != NULL);
  ASSERT(muster_message_json(&m) != NULL);
  ASSERT_EQ(s.asked, 1);
  muster__message_done(&m);
  ASSERT_EQ(s.done, 1);
  ASSERT(s.extra == NULL);
}
