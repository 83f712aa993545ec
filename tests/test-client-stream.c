/* Replies in parts (muster/client.h: "more", muster_client_send / _next /
 * _pending), against a hand-driven server socket. */
#include "test.h"

#include <muster/client.h>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

TEST(client_reply_more_codec) {
  json_t *lines = json_pack("{s:[s]}", "lines", "x");
  muster_client_reply_t rep = {.id = 4, .result = lines, .more = 1}, back;
  char *line;
  size_t len;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), 0);
  ASSERT(strstr(line, "\"more\":true") != NULL);
  ASSERT_EQ(muster_client_reply_decode(line, len, &back), 0);
  ASSERT_EQ(back.more, 1);
  ASSERT_EQ(back.id, 4);
  ASSERT(json_equal(back.result, lines));
  muster_client_reply_clear(&back);
  free(line);
  rep.more = 0;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), 0);
  ASSERT(strstr(line, "more") == NULL);
  ASSERT_EQ(muster_client_reply_decode(line, len, &back), 0);
  ASSERT_EQ(back.more, 0);
  muster_client_reply_clear(&back);
  free(line);
  json_decref(lines);
  static const char bad[] = "{\"v\":1,\"id\":1,\"ok\":true,\"more\":1}";
  ASSERT_EQ(muster_client_reply_decode(bad, sizeof bad - 1, &back),
            MUSTER_EBADMSG);
  muster_client_reply_clear(&back);
  ASSERT_STR_EQ(muster_client_cmd_name(MUSTER_CMD_LOGS), "logs");
  ASSERT_EQ(muster_client_cmd_parse("logs"), MUSTER_CMD_LOGS);
}

static void put(int fd, const char *s) {
  ASSERT_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

TEST(client_stream_parts) {
  char dir[] = "/tmp/muster-client-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/daemon.sock", dir);
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(srv >= 0);
  ASSERT_EQ(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ(listen(srv, 1), 0);
  muster_client_t *c;
  ASSERT_EQ(muster_client_connect(dir, &c), 0);
  int peer = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
  ASSERT(peer >= 0);

  uint64_t id = 0;
  json_t *args = json_pack("{s:b}", "follow", 1);
  ASSERT_EQ(muster_client_send(c, MUSTER_CMD_LOGS, args, 1000, &id), 0);
  json_decref(args);
  char req[256];
  ssize_t n = read(peer, req, sizeof req - 1);
  ASSERT(n > 0);
  req[n] = '\0';
  ASSERT(strstr(req, "\"cmd\":\"logs\"") != NULL);

  char head[128];
  snprintf(head, sizeof head, "{\"v\":1,\"id\":%llu,\"ok\":true,\"more\":tr",
           (unsigned long long)id);
  put(peer, head);
  muster_client_reply_t rep;
  /* Half a line: a timeout that keeps what was read. */
  ASSERT_EQ(muster_client_pending(c), 0);
  ASSERT_EQ(muster_client_next(c, 50, &rep), MUSTER_ETIMEDOUT);
  char rest[256];
  snprintf(rest, sizeof rest,
           "ue,\"result\":{\"lines\":[1]}}\n"
           "{\"v\":1,\"id\":%llu,\"ok\":true,\"result\":{\"dropped\":0}}\n",
           (unsigned long long)id);
  put(peer, rest);
  ASSERT_EQ(muster_client_next(c, 1000, &rep), 0);
  ASSERT_EQ(rep.more, 1);
  ASSERT_EQ(rep.id, id);
  ASSERT_EQ(json_array_size(json_object_get(rep.result, "lines")), 1);
  muster_client_reply_clear(&rep);
  /* The last reply was read with the first: poll() would not say so. */
  ASSERT_EQ(muster_client_pending(c), 1);
  ASSERT_EQ(muster_client_next(c, 1000, &rep), 0);
  ASSERT_EQ(rep.more, 0);
  ASSERT_EQ(muster_client_pending(c), 0);
  muster_client_reply_clear(&rep);

  /* A plain call skips the parts of a stream before its own reply. */
  ASSERT_EQ(muster_client_send(c, MUSTER_CMD_LOGS, NULL, 1000, &id), 0);
  n = read(peer, req, sizeof req - 1);
  ASSERT(n > 0);
  snprintf(rest, sizeof rest,
           "{\"v\":1,\"id\":%llu,\"ok\":true,\"more\":true,\"result\":{}}\n"
           "{\"v\":1,\"id\":%llu,\"ok\":true,\"result\":{}}\n"
           "{\"v\":1,\"id\":%llu,\"ok\":true,\"result\":{\"pid\":1}}\n",
           (unsigned long long)id, (unsigned long long)id,
           (unsigned long long)id + 1);
  put(peer, rest);
  ASSERT_EQ(muster_client_call(c, MUSTER_CMD_PING, NULL, 1000, &rep), 0);
  ASSERT_EQ(rep.id, id + 1);
  ASSERT_EQ(json_integer_value(json_object_get(rep.result, "pid")), 1);
  muster_client_reply_clear(&rep);

  muster_client_close(c);
  close(peer);
  close(srv);
  unlink(sa.sun_path);
  rmdir(dir);
}
