#include "test.h"

TEST(error_names) {
  ASSERT_STR_EQ(muster_err_name(MUSTER_ENOENT), "ENOENT");
  ASSERT_STR_EQ(muster_err_name(MUSTER_EBADMSG), "EBADMSG");
  ASSERT_STR_EQ(muster_err_name(0), "OK");
  ASSERT_STR_EQ(muster_err_name(-123456), "UNKNOWN");
  ASSERT_STR_EQ(muster_strerror(MUSTER_ENOENT), "no such file or directory");
  ASSERT_STR_EQ(muster_strerror(MUSTER_EBADMSG), "bad message");
  ASSERT_STR_EQ(muster_strerror(-123456), "unknown error");
  /* Our codes are libuv's codes. */
  ASSERT_EQ(MUSTER_ENOENT, UV_ENOENT);
  ASSERT_EQ(MUSTER_EOF, UV_EOF);
  ASSERT_EQ(MUSTER_ETIMEDOUT, UV_ETIMEDOUT);
}
