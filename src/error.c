#include <muster/error.h>

#include <uv.h>

/* libuv's table covers every errno it knows; the few muster uses that libuv
 * lacks come first. Our own table, rather than uv_strerror(), because
 * libuv allocates (and leaks) a string for a code it does not know. */
#define MUSTER_EXTRA_ERRORS(XX)                                              \
  XX(EBADMSG, "bad message")                                                 \
  XX(ECHILD, "no child processes")

const char *muster_strerror(int err) {
  switch (err) {
#define XX(code, msg)                                                        \
  case -code:                                                                \
    return msg;
    MUSTER_EXTRA_ERRORS(XX)
#undef XX
#define XX(code, msg)                                                        \
  case UV_##code:                                                            \
    return msg;
    UV_ERRNO_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *muster_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define XX(code, msg)                                                        \
  case -code:                                                                \
    return #code;
    MUSTER_EXTRA_ERRORS(XX)
#undef XX
#define XX(code, msg)                                                        \
  case UV_##code:                                                            \
    return #code;
    UV_ERRNO_MAP(XX)
#undef XX
  default:
    return "UNKNOWN";
  }
}
