/* Fuzz target for the control protocol's codec (muster/client.h): any
 * bytes given to the request and reply decoders must give a result or an
 * error, never a crash; what decodes must encode again, and that text
 * must decode to the same message. */
#include <muster/client.h>
#include <muster/error.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const char *s, size_t size) {
  muster_client_request_t req, again;
  int r = muster_client_request_decode(s, size, &req);
  if (r == 0) {
    char *line;
    size_t len;
    if (muster_client_request_encode(&req, &line, &len) != 0)
      abort();
    /* An absent args and {} are the same request. */
    json_t *empty = json_object();
    if (len == 0 || line[len - 1] != '\n' ||
        muster_client_request_decode(line, len, &again) != 0 ||
        again.id != req.id || again.cmd != req.cmd ||
        !json_equal(again.args ? again.args : empty,
                    req.args ? req.args : empty))
      abort();
    json_decref(empty);
    free(line);
    muster_client_request_clear(&again);
  } else if (r != MUSTER_EBADMSG && r != MUSTER_EMSGSIZE &&
             r != MUSTER_ENOSYS && r != MUSTER_EPROTONOSUPPORT &&
             r != MUSTER_ERANGE && r != MUSTER_ENOMEM) {
    abort();
  }
  muster_client_request_clear(&req);
}

static void check_reply(const char *s, size_t size) {
  muster_client_reply_t rep, again;
  int r = muster_client_reply_decode(s, size, &rep);
  if (r == 0) {
    char *line;
    size_t len;
    if (muster_client_reply_encode(&rep, &line, &len) != 0)
      abort();
    if (muster_client_reply_decode(line, len, &again) != 0 ||
        again.id != rep.id || again.error != rep.error ||
        again.more != rep.more)
      abort();
    free(line);
    muster_client_reply_clear(&again);
  }
  muster_client_reply_clear(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_request((const char *)data, size);
  check_reply((const char *)data, size);
  return 0;
}
