/* A blocking client of the daemon's control socket (muster/client.h): one
 * socket, one request at a time, a deadline per call. */
#include <muster/client.h>
#include <muster/error.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct muster_client_s {
  int fd;
  uint64_t next_id;
  char *buf; /* bytes read past the last reply line */
  size_t len, cap;
};

int muster_client_home(char *buf, size_t size) {
  if (buf == NULL || size == 0)
    return MUSTER_EINVAL;
  const char *home = getenv("MUSTER_HOME");
  const char *suffix = "";
  if (home == NULL || *home == '\0') {
    home = getenv("HOME");
    suffix = "/.muster";
    if (home == NULL || *home == '\0')
      return MUSTER_ENOENT;
  }
  int n = snprintf(buf, size, "%s%s", home, suffix);
  if (n < 0 || (size_t)n >= size)
    return MUSTER_ENAMETOOLONG;
  return 0;
}

static int connect_to(const char *home, muster_client_t **out) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/daemon.sock", home);
  if (n < 0 || (size_t)n >= sizeof sa.sun_path)
    return MUSTER_ENAMETOOLONG;
  muster_client_t *c = calloc(1, sizeof *c);
  if (c == NULL)
    return MUSTER_ENOMEM;
  c->next_id = 1;
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    int e = -errno;
    free(c);
    return e;
  }
  while (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    if (errno == EINTR)
      continue;
    int e = -errno;
    close(c->fd);
    free(c);
    return e;
  }
  *out = c;
  return 0;
}

/* Apart, so that a caller naming its home does not take a page of stack
 * for the path (a fresh page costs a CLI call a page fault). */
__attribute__((noinline)) static int connect_default(muster_client_t **out) {
  char dir[4096];
  int r = muster_client_home(dir, sizeof dir);
  return r < 0 ? r : connect_to(dir, out);
}

int muster_client_connect(const char *home, muster_client_t **out) {
  if (out == NULL)
    return MUSTER_EINVAL;
  return home ? connect_to(home, out) : connect_default(out);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on the socket until `deadline` (0: none). */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int timeout = -1;
    if (deadline) {
      int64_t left = deadline - now_ms();
      if (left <= 0)
        return MUSTER_ETIMEDOUT;
      timeout = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, timeout);
    if (r > 0)
      return 0;
    if (r < 0 && errno != EINTR)
      return -errno;
  }
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN)
      return errno == ECONNRESET ? MUSTER_ECONNRESET : -errno;
    int r = wait_fd(fd, POLLOUT, deadline);
    if (r < 0)
      return r;
  }
  return 0;
}

/* The length of the whole line at the start of the buffer ('\n'
 * counted), or 0. `scanned` bytes are known to hold no '\n'. */
static size_t buffered_line(const muster_client_t *c, size_t scanned) {
  char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned)
                              : NULL;
  return nl ? (size_t)(nl - c->buf) + 1 : 0;
}

/* Reads until a whole line is buffered; returns its length ('\n' counted).
 * On a timeout the bytes read stay buffered for the next call. */
static int64_t read_line(muster_client_t *c, int64_t deadline) {
  size_t scanned = 0;
  for (;;) {
    size_t n = buffered_line(c, scanned);
    if (n > 0)
      return (int64_t)n;
    scanned = c->len;
    if (c->len >= MUSTER_CLIENT_MAX_REPLY)
      return MUSTER_EMSGSIZE;
    if (c->cap - c->len < 65536) {
      size_t cap = c->cap ? c->cap * 2 : 131072;
      char *grown = realloc(c->buf, cap);
      if (grown == NULL)
        return MUSTER_ENOMEM;
      c->buf = grown;
      c->cap = cap;
    }
    ssize_t got = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (got > 0) {
      c->len += (size_t)got;
      continue;
    }
    if (got == 0)
      return MUSTER_ECONNRESET;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return errno == ECONNRESET ? MUSTER_ECONNRESET : -errno;
    int r = wait_fd(c->fd, POLLIN, deadline);
    if (r < 0)
      return r;
  }
}

/* Decodes the next reply line, waiting until `deadline`. */
static int next_reply(muster_client_t *c, int64_t deadline,
                      muster_client_reply_t *reply) {
  int64_t n = read_line(c, deadline);
  if (n < 0)
    return (int)n;
  int r = muster_client_reply_decode(c->buf, (size_t)n, reply);
  memmove(c->buf, c->buf + n, c->len - (size_t)n);
  c->len -= (size_t)n;
  if (r < 0)
    muster_client_reply_clear(reply);
  return r;
}

static int send_request(muster_client_t *c, muster_client_cmd_t cmd,
                        const json_t *args, int64_t deadline, uint64_t *id) {
  muster_client_request_t req = {
      .id = c->next_id++, .cmd = cmd, .args = (json_t *)args};
  char *line;
  size_t len;
  int r = muster_client_request_encode(&req, &line, &len);
  if (r < 0)
    return r;
  *id = req.id;
  r = send_all(c->fd, line, len, deadline);
  free(line);
  return r;
}

int muster_client_send(muster_client_t *c, muster_client_cmd_t cmd,
                       const json_t *args, int timeout_ms, uint64_t *id) {
  uint64_t ignored;
  if (c == NULL || timeout_ms < 0)
    return MUSTER_EINVAL;
  return send_request(c, cmd, args, timeout_ms ? now_ms() + timeout_ms : 0,
                      id ? id : &ignored);
}

int muster_client_next(muster_client_t *c, int timeout_ms,
                       muster_client_reply_t *reply) {
  if (c == NULL || reply == NULL || timeout_ms < 0)
    return MUSTER_EINVAL;
  memset(reply, 0, sizeof *reply);
  return next_reply(c, timeout_ms ? now_ms() + timeout_ms : 0, reply);
}

int muster_client_pending(const muster_client_t *c) {
  return c != NULL && buffered_line(c, 0) > 0;
}

int muster_client_call(muster_client_t *c, muster_client_cmd_t cmd,
                       const json_t *args, int timeout_ms,
                       muster_client_reply_t *reply) {
  if (c == NULL || reply == NULL || timeout_ms < 0)
    return MUSTER_EINVAL;
  memset(reply, 0, sizeof *reply);
  int64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
  uint64_t id = 0;
  int r = send_request(c, cmd, args, deadline, &id);
  if (r < 0 && r != MUSTER_EPIPE && r != MUSTER_ECONNRESET)
    return r;
  /* A daemon that refused us (another uid) wrote why, then closed: the
   * send fails, but the reason is there to read. */
  int send_err = r;
  for (;;) {
    if (send_err && !muster_client_pending(c)) {
      int64_t n = read_line(c, deadline);
      if (n < 0)
        return send_err;
    }
    r = next_reply(c, deadline, reply);
    if (r < 0)
      return r;
    /* Id 0 with an error: the daemon refused the connection or could not
     * read the request's id; either way it answers this call. */
    if (reply->id == 0 && reply->error)
      return 0;
    if (send_err == 0 && reply->id == id && !reply->more)
      return 0;
    /* A late reply to an earlier call that timed out on our side. */
    muster_client_reply_clear(reply);
  }
}

int muster_client_command(muster_client_t *c, muster_client_cmd_t cmd,
                          const json_t *args, int timeout_ms, json_t **result,
                          char **message) {
  muster_client_reply_t rep;
  if (result)
    *result = NULL;
  if (message)
    *message = NULL;
  int r = muster_client_call(c, cmd, args, timeout_ms, &rep);
  if (r < 0)
    return r;
  r = rep.error;
  if (r < 0 && message) {
    *message = rep.message;
    rep.message = NULL;
  }
  if (r == 0 && result) {
    *result = rep.result;
    rep.result = NULL;
  }
  muster_client_reply_clear(&rep);
  return r;
}

int muster_client_ping(muster_client_t *c, int timeout_ms, json_t **result,
                       char **message) {
  return muster_client_command(c, MUSTER_CMD_PING, NULL, timeout_ms, result,
                               message);
}

int muster_client_list(muster_client_t *c, int timeout_ms, json_t **result,
                       char **message) {
  return muster_client_command(c, MUSTER_CMD_LIST, NULL, timeout_ms, result,
                               message);
}

/* muster_client_command() with args it takes (NULL: out of memory, or a
 * string that is not UTF-8). */
static int command_taking(muster_client_t *c, muster_client_cmd_t cmd,
                          json_t *args, int timeout_ms, json_t **result,
                          char **message) {
  if (args == NULL)
    return MUSTER_EINVAL;
  int r = muster_client_command(c, cmd, args, timeout_ms, result, message);
  json_decref(args);
  return r;
}

int muster_client_start(muster_client_t *c, const json_t *spec,
                        const json_t *env, int timeout_ms, json_t **result,
                        char **message) {
  if (!json_is_object(spec) || (env != NULL && !json_is_object(env)))
    return MUSTER_EINVAL;
  return command_taking(c, MUSTER_CMD_START,
                        json_pack("{s:O, s:O*}", "app", spec, "env", env),
                        timeout_ms, result, message);
}

int muster_client_stop(muster_client_t *c, const char *target, int timeout_ms,
                       json_t **result, char **message) {
  if (target == NULL)
    return MUSTER_EINVAL;
  return command_taking(c, MUSTER_CMD_STOP,
                        json_pack("{s:s}", "target", target), timeout_ms,
                        result, message);
}

int muster_client_fd(const muster_client_t *c) {
  return c ? c->fd : MUSTER_EINVAL;
}

void muster_client_close(muster_client_t *c) {
  if (c == NULL)
    return;
  close(c->fd);
  free(c->buf);
  free(c);
}
