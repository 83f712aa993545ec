/* A reply whose result is JSON text the caller wrote (muster/client.h:
 * result_text): checked, sent as it is, decoded like any other. */
#include "test.h"

#include <muster/client.h>

#include <stdlib.h>

TEST(client_reply_result_text) {
  static const char text[] = "{\"rows\":[[1,\"a\\u0001\",2.5,null]]}";
  muster_client_reply_t rep = {
      .id = 9, .result_text = text, .result_len = sizeof text - 1},
                        back;
  char *line;
  size_t len;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), 0);
  ASSERT_STR_EQ(line, "{\"v\":1,\"id\":9,\"ok\":true,\"result\":"
                      "{\"rows\":[[1,\"a\\u0001\",2.5,null]]}}\n");
  ASSERT_EQ(len, strlen(line));
  ASSERT_EQ(muster_client_reply_decode(line, len, &back), 0);
  ASSERT_EQ(back.id, 9);
  json_t *want = json_loads(text, 0, NULL);
  ASSERT(json_equal(back.result, want));
  json_decref(want);
  muster_client_reply_clear(&back);
  free(line);

  /* The length counts, not a NUL; with more, the flag comes before. */
  rep.result_len = 7; /* {"rows" */
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), MUSTER_EINVAL);
  static const char two[] = "[1][2]", bad_utf8[] = "\"\xff\"";
  rep.result_text = two;
  rep.result_len = 6;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), MUSTER_EINVAL);
  rep.result_text = bad_utf8;
  rep.result_len = 3;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), MUSTER_EINVAL);
  rep.result_text = "[]";
  rep.result_len = 2;
  rep.more = 1;
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), 0);
  ASSERT_STR_EQ(line, "{\"v\":1,\"id\":9,\"ok\":true,\"more\":true,"
                      "\"result\":[]}\n");
  free(line);

  /* An error reply ignores the text. */
  rep = (muster_client_reply_t){.id = 3, .error = MUSTER_ESRCH,
                                .result_text = "[", .result_len = 1};
  ASSERT_EQ(muster_client_reply_encode(&rep, &line, &len), 0);
  ASSERT(strstr(line, "\"error\":\"ESRCH\"") != NULL);
  free(line);
}
