/* The control protocol's codec: one request struct, one reply struct, one
 * encode/decode pair each (muster/client.h has the wire format). Both the
 * client and the daemon go through here, and fuzz/fuzz-control.c feeds the
 * decoders any bytes. */
#include <muster/client.h>
#include <muster/error.h>

#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "json_read.h"
#include "json_write.h"

/* Ids must survive a trip through a language whose numbers are doubles. */
#define MAX_ID ((uint64_t)1 << 53)

static const char *const cmd_names[MUSTER_CMD_COUNT_] = {
    [MUSTER_CMD_PING] = "ping",
    [MUSTER_CMD_START] = "start",
    [MUSTER_CMD_STOP] = "stop",
    [MUSTER_CMD_RESTART] = "restart",
    [MUSTER_CMD_RELOAD] = "reload",
    [MUSTER_CMD_DELETE] = "delete",
    [MUSTER_CMD_SIGNAL] = "signal",
    [MUSTER_CMD_RESET] = "reset",
    [MUSTER_CMD_KILL] = "kill",
    [MUSTER_CMD_LIST] = "list",
    [MUSTER_CMD_DESCRIBE] = "describe",
    [MUSTER_CMD_SAVE] = "save",
    [MUSTER_CMD_RESURRECT] = "resurrect",
    [MUSTER_CMD_FLUSH] = "flush",
    [MUSTER_CMD_RELOAD_LOGS] = "reload-logs",
    [MUSTER_CMD_LOGS] = "logs",
};

const char *muster_client_cmd_name(muster_client_cmd_t cmd) {
  if ((int)cmd <= MUSTER_CMD_UNKNOWN || cmd >= MUSTER_CMD_COUNT_)
    return NULL;
  return cmd_names[cmd];
}

muster_client_cmd_t muster_client_cmd_parse(const char *name) {
  if (name == NULL)
    return MUSTER_CMD_UNKNOWN;
  for (int c = MUSTER_CMD_UNKNOWN + 1; c < MUSTER_CMD_COUNT_; c++)
    if (strcmp(cmd_names[c], name) == 0)
      return (muster_client_cmd_t)c;
  return MUSTER_CMD_UNKNOWN;
}

/* Encodes `msg` plus a '\n' into a fresh NUL-terminated buffer. */
static int encode_line(const json_t *msg, size_t limit, char **line,
                       size_t *len) {
  struct muster__buf b = {0};
  int r = muster__json_write(msg, &b, limit - 1);
  if (r == 0) {
    char *grown = realloc(b.data, b.len + 2);
    if (grown == NULL) {
      r = MUSTER_ENOMEM;
    } else {
      b.data = grown;
      b.data[b.len++] = '\n';
      b.data[b.len] = '\0';
      *line = b.data;
      *len = b.len;
      return 0;
    }
  }
  free(b.data);
  return r;
}

/* The header `msg` encoded, then ,"result":<text>} and the '\n': the
 * text checked, never parsed. */
static int encode_with_text(const json_t *msg, const char *text, size_t n,
                            char **line, size_t *len) {
  static const char key[] = ",\"result\":";
  if (muster__json_check(text, n) == MUSTER__JSON_INVALID)
    return MUSTER_EINVAL;
  struct muster__buf b = {0};
  int r = muster__json_write(msg, &b, MUSTER_CLIENT_MAX_REPLY - 1);
  if (r == 0 && b.len + sizeof key + n + 1 > MUSTER_CLIENT_MAX_REPLY)
    r = MUSTER_EMSGSIZE;
  char *grown = r == 0 ? realloc(b.data, b.len + sizeof key + n + 2) : NULL;
  if (r == 0 && grown == NULL)
    r = MUSTER_ENOMEM;
  if (r < 0) {
    free(b.data);
    return r;
  }
  b.data = grown;
  b.len--; /* the header's closing '}' */
  memcpy(b.data + b.len, key, sizeof key - 1);
  b.len += sizeof key - 1;
  memcpy(b.data + b.len, text, n);
  b.len += n;
  b.data[b.len++] = '}';
  b.data[b.len++] = '\n';
  b.data[b.len] = '\0';
  *line = b.data;
  *len = b.len;
  return 0;
}

/* Parses one line (a trailing "\n" or "\r\n" allowed) as a JSON object. */
static json_t *decode_object(const char *line, size_t len, size_t limit,
                             int *err) {
  if (len > limit) {
    *err = MUSTER_EMSGSIZE;
    return NULL;
  }
  if (len > 0 && line[len - 1] == '\n')
    len--;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  json_t *j = muster__json_read(line, len, err);
  if (j == NULL)
    return NULL;
  if (!json_is_object(j)) {
    json_decref(j);
    *err = MUSTER_EBADMSG;
    return NULL;
  }
  return j;
}

/* The "v" and "id" members every message carries. */
static int decode_header(const json_t *j, int *version, uint64_t *id) {
  json_t *v = json_object_get(j, "v");
  json_t *i = json_object_get(j, "id");
  if (json_is_integer(i) && json_integer_value(i) >= 0 &&
      (uint64_t)json_integer_value(i) <= MAX_ID)
    *id = (uint64_t)json_integer_value(i);
  if (json_is_integer(v) && json_integer_value(v) > 0 &&
      json_integer_value(v) < 1000000)
    *version = (int)json_integer_value(v);
  if (*version == 0 || !json_is_integer(i) ||
      *id != (uint64_t)json_integer_value(i))
    return MUSTER_EBADMSG;
  if (*version != MUSTER_CLIENT_VERSION)
    return MUSTER_EPROTONOSUPPORT;
  return 0;
}

static json_t *new_header(int version, uint64_t id) {
  return json_pack("{s:i, s:I}", "v", version ? version : MUSTER_CLIENT_VERSION,
                   "id", (json_int_t)id);
}

int muster_client_request_encode(const muster_client_request_t *req,
                                 char **line, size_t *len) {
  if (req == NULL || line == NULL || len == NULL || req->id > MAX_ID)
    return MUSTER_EINVAL;
  const char *name = muster_client_cmd_name(req->cmd);
  if (name == NULL || (req->args != NULL && !json_is_object(req->args)))
    return MUSTER_EINVAL;
  json_t *msg = new_header(req->version, req->id);
  if (msg == NULL || json_object_set_new(msg, "cmd", json_string(name)) ||
      (req->args && json_object_set(msg, "args", req->args))) {
    json_decref(msg);
    return MUSTER_ENOMEM;
  }
  int r = encode_line(msg, MUSTER_CLIENT_MAX_REQUEST, line, len);
  json_decref(msg);
  return r;
}

int muster_client_request_decode(const char *line, size_t len,
                                 muster_client_request_t *req) {
  if (req == NULL)
    return MUSTER_EINVAL;
  memset(req, 0, sizeof *req);
  if (line == NULL && len > 0)
    return MUSTER_EINVAL;
  int r;
  json_t *j =
      decode_object(line ? line : "", len, MUSTER_CLIENT_MAX_REQUEST, &r);
  if (j == NULL)
    return r;
  r = decode_header(j, &req->version, &req->id);
  json_t *cmd = json_object_get(j, "cmd");
  json_t *args = json_object_get(j, "args");
  if (r == 0 &&
      (!json_is_string(cmd) || (args != NULL && !json_is_object(args))))
    r = MUSTER_EBADMSG;
  if (r == 0) {
    req->cmd = muster_client_cmd_parse(json_string_value(cmd));
    if (req->cmd == MUSTER_CMD_UNKNOWN)
      r = MUSTER_ENOSYS;
  }
  if (r == 0)
    req->args = json_incref(args);
  json_decref(j);
  return r;
}

void muster_client_request_clear(muster_client_request_t *req) {
  if (req == NULL)
    return;
  json_decref(req->args);
  memset(req, 0, sizeof *req);
}

int muster_client_reply_encode(const muster_client_reply_t *rep, char **line,
                               size_t *len) {
  if (rep == NULL || line == NULL || len == NULL || rep->id > MAX_ID ||
      rep->error > 0)
    return MUSTER_EINVAL;
  json_t *msg = new_header(rep->version, rep->id);
  int bad = msg == NULL;
  if (!bad && rep->error == 0) {
    bad =
        json_object_set_new(msg, "ok", json_true()) ||
        (rep->more && json_object_set_new(msg, "more", json_true())) ||
        (rep->result_text == NULL &&
         json_object_set(msg, "result",
                         rep->result ? rep->result : json_null()));
  } else if (!bad) {
    const char *text =
        rep->message ? rep->message : muster_strerror(rep->error);
    json_t *m = json_string(text);
    bad = m == NULL || json_object_set_new(msg, "ok", json_false()) ||
          json_object_set_new(msg, "error",
                              json_string(muster_err_name(rep->error))) ||
          json_object_set_new(msg, "message", m);
    if (m == NULL) {
      json_decref(msg);
      return MUSTER_EINVAL; /* a message that is not UTF-8 */
    }
  }
  if (bad) {
    json_decref(msg);
    return MUSTER_ENOMEM;
  }
  int r = rep->error == 0 && rep->result_text
              ? encode_with_text(msg, rep->result_text, rep->result_len, line,
                                 len)
              : encode_line(msg, MUSTER_CLIENT_MAX_REPLY, line, len);
  json_decref(msg);
  return r;
}

/* The code of an error name, the inverse of muster_err_name(). */
static int error_code(const char *name) {
  if (strcmp(name, "UNKNOWN") == 0 || strcmp(name, "OK") == 0)
    return MUSTER_EPROTO;
  for (int e = 1; e < 4096; e++)
    if (strcmp(muster_err_name(-e), name) == 0)
      return -e;
  return MUSTER_EPROTO;
}

int muster_client_reply_decode(const char *line, size_t len,
                               muster_client_reply_t *rep) {
  if (rep == NULL)
    return MUSTER_EINVAL;
  memset(rep, 0, sizeof *rep);
  if (line == NULL && len > 0)
    return MUSTER_EINVAL;
  int r;
  json_t *j = decode_object(line ? line : "", len, MUSTER_CLIENT_MAX_REPLY, &r);
  if (j == NULL)
    return r;
  r = decode_header(j, &rep->version, &rep->id);
  json_t *ok = json_object_get(j, "ok");
  json_t *more = json_object_get(j, "more");
  if (r == 0 && (!json_is_boolean(ok) || (more && !json_is_boolean(more))))
    r = MUSTER_EBADMSG;
  if (r == 0 && json_is_true(ok)) {
    rep->more = json_is_true(more);
    json_t *result = json_object_get(j, "result");
    rep->result = json_is_null(result) ? NULL : json_incref(result);
  } else if (r == 0) {
    json_t *e = json_object_get(j, "error");
    json_t *m = json_object_get(j, "message");
    if (!json_is_string(e) || (m != NULL && !json_is_string(m))) {
      r = MUSTER_EBADMSG;
    } else {
      rep->error = error_code(json_string_value(e));
      rep->message =
          strdup(m ? json_string_value(m) : muster_strerror(rep->error));
      if (rep->message == NULL)
        r = MUSTER_ENOMEM;
    }
  }
  json_decref(j);
  return r;
}

void muster_client_reply_clear(muster_client_reply_t *rep) {
  if (rep == NULL)
    return;
  json_decref(rep->result);
  free(rep->message);
  memset(rep, 0, sizeof *rep);
}
