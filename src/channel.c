/* The IPC channel: Node's "json" wire format over an AF_UNIX stream socket,
 * with handles passed in SCM_RIGHTS. See include/muster/channel.h for the
 * contract and docs/channel.md for the design; src/channel_internal.h for
 * how the parts below this file divide the work.
 *
 * The channel does its own I/O on the fd with a uv_poll_t (not a libuv
 * ipc pipe): it needs to see exactly which bytes came with which fds, to
 * coalesce many frames into one sendmsg, and to keep a partial frame in
 * place without copying it per read. This file holds the public calls and
 * the life cycle: the poll, the flush the output queue schedules, and the
 * end. */
#include "channel_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel_private.h"
#include "muster/error.h"

/* ---- life cycle ---------------------------------------------------------- */

static void maybe_free(muster_channel_t *ch) {
  if (!ch->user_closed || ch->handles_open > 0)
    return;
  muster_channel_close_cb cb = ch->close_cb;
  if (cb)
    cb(ch);
  muster__chan_in_free(ch);
  muster__chan_out_free(ch);
  free(ch);
}

static void on_handle_closed(uv_handle_t *h) {
  muster_channel_t *ch = h->data;
  ch->handles_open--;
  maybe_free(ch);
}

/* The fd's end: stop I/O, close the fd and everything owned that came with
 * it. `report`: call on_disconnect(reason). The order matters: the poll
 * handle is closed before the fd (uv_close removes the fd from epoll
 * synchronously), so a reused fd number is never confused with ours. */
static void end_channel(muster_channel_t *ch, int reason, int report) {
  if (ch->state == MUSTER__CHAN_ENDED)
    return;
  ch->state = MUSTER__CHAN_ENDED;
  muster__chan_out_unschedule(ch);
  uv_close((uv_handle_t *)&ch->poll, on_handle_closed);
  close(ch->fd);
  ch->fd = -1;
  muster__chan_in_close_fds(ch);
  muster__chan_out_drop(ch);
  if (ch->end_hook) {
    void (*hook)(void *) = ch->end_hook;
    ch->end_hook = NULL;
    hook(ch->end_hook_arg);
  }
  muster__chan_out_fail_sends(ch, MUSTER_EPIPE);
  if (report && !ch->user_closed && ch->opt.on_disconnect)
    ch->opt.on_disconnect(ch, reason);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(muster_channel_t *ch) {
  if (ch->state == MUSTER__CHAN_ENDED)
    return;
  int want = muster__chan_in_paused(ch) ? 0 : UV_READABLE;
  if (muster__chan_out_pending(ch) && !ch->flush_scheduled)
    want |= UV_WRITABLE;
  if (want != ch->poll_events) {
    ch->poll_events = want;
    uv_poll_start(&ch->poll, want, on_poll);
  }
}

/* Reads, and ends the channel when the reads say so; stops reading while
 * the replies owed to the peer wait for it to read them. */
static void read_input(muster_channel_t *ch, int drain) {
  int reason;
  if (muster__chan_in_read(ch, drain, &reason))
    end_channel(ch, reason, 1);
  else if (muster__chan_in_paused(ch))
    update_poll(ch);
}

/* A write failed: read what the peer sent before it went away (its last
 * messages and its end of file are worth more than our error), then end. */
static void write_failed(muster_channel_t *ch, int err) {
  if (ch->state != MUSTER__CHAN_ENDED)
    read_input(ch, 1);
  if (ch->state != MUSTER__CHAN_ENDED)
    end_channel(ch, err == MUSTER_EPIPE ? 0 : err, 1);
}

/* Writes as much as the socket takes; then on_drain when a user's send
 * waits for it, the end of a disconnect once everything left, and the
 * poll for what is still to write. */
static void flush(muster_channel_t *ch) {
  muster__chan_out_unschedule(ch);
  if (ch->state == MUSTER__CHAN_ENDED || ch->in_flush)
    return;
  ch->in_flush = 1;
  int err = muster__chan_out_write(ch);
  ch->in_flush = 0;
  if (err < 0) {
    write_failed(ch, err);
    return;
  }
  if (ch->state == MUSTER__CHAN_ENDED)
    return;
  if (ch->need_drain && muster__chan_out_size(ch) <= ch->opt.high_water_mark) {
    ch->need_drain = 0;
    if (ch->opt.on_drain)
      ch->opt.on_drain(ch);
    if (ch->state == MUSTER__CHAN_ENDED)
      return;
  }
  if (ch->state == MUSTER__CHAN_DISCONNECTING && muster__chan_out_idle(ch)) {
    end_channel(ch, 0, 1);
    return;
  }
  update_poll(ch);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  muster_channel_t *ch = h->data;
  if (status < 0) {
    end_channel(ch, status, 1);
    return;
  }
  if (events & (UV_READABLE | UV_DISCONNECT))
    read_input(ch, 0);
  if (ch->state != MUSTER__CHAN_ENDED && (events & UV_WRITABLE))
    flush(ch);
}

/* ---- the public calls ---------------------------------------------------- */

int muster_channel_open(uv_loop_t *loop, int fd,
                        const muster_channel_options_t *options,
                        muster_channel_t **out) {
  if (loop == NULL || out == NULL || fd < 0)
    return MUSTER_EINVAL;
  int domain, type;
  socklen_t sl = sizeof domain;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return MUSTER_EBADF;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) != 0)
    return MUSTER_ENOTSOCK;
  sl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) != 0 ||
      domain != AF_UNIX || type != SOCK_STREAM)
    return MUSTER_ENOTSOCK;
  muster_channel_t *ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return MUSTER_ENOMEM;
  if (options)
    ch->opt = *options;
  if (ch->opt.max_message_size == 0)
    ch->opt.max_message_size = MUSTER_CHANNEL_MAX_MESSAGE_SIZE;
  if (ch->opt.max_message_size > SIZE_MAX / 4)
    ch->opt.max_message_size = SIZE_MAX / 4; /* buffer sizes cannot wrap */
  if (ch->opt.high_water_mark == 0)
    ch->opt.high_water_mark = MUSTER_CHANNEL_HIGH_WATER_MARK;
  int err = uv_poll_init(loop, &ch->poll, fd);
  if (err) {
    free(ch);
    return err;
  }
  /* Only now, when nothing can fail any more, change the fd's flags: a
   * failed open leaves the caller's fd as it was. */
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  ch->loop = loop;
  ch->fd = fd;
  ch->state = MUSTER__CHAN_OPEN;
  ch->flush = flush;
  ch->poll.data = ch;
  uv_idle_init(loop, &ch->idle);
  uv_check_init(loop, &ch->check);
  ch->idle.data = ch;
  ch->check.data = ch;
  ch->handles_open = 3;
  ch->window = 1; /* the first handle always goes by Node's rule */
  muster__frame_init(&ch->rx, ch->opt.max_message_size);
  ch->poll_events = UV_READABLE;
  uv_poll_start(&ch->poll, UV_READABLE, on_poll);
  *out = ch;
  return 0;
}

int muster_channel_from_parent(uv_loop_t *loop,
                               const muster_channel_options_t *options,
                               muster_channel_t **out) {
  if (loop == NULL || out == NULL)
    return MUSTER_EINVAL;
  const char *s = getenv("NODE_CHANNEL_FD");
  if (s == NULL || *s == '\0')
    return MUSTER_ENOTCONN;
  char *end;
  long fd = strtol(s, &end, 10);
  int bad_number = *end != '\0' || fd < 0 || fd > INT32_MAX;
  const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
  int unsupported = mode != NULL && *mode != '\0' && strcmp(mode, "json");
  /* Like Node: forget the variables at once, whatever comes next, so a
   * grandchild never thinks our channel is its own. */
  unsetenv("NODE_CHANNEL_FD");
  unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
  if (bad_number)
    return MUSTER_EBADF;
  if (unsupported)
    return MUSTER_ENOTSUP;
  return muster_channel_open(loop, (int)fd, options, out);
}

void muster_channel_close(muster_channel_t *ch, muster_channel_close_cb cb) {
  if (ch == NULL || ch->user_closed)
    return;
  ch->user_closed = 1;
  ch->close_cb = cb;
  end_channel(ch, MUSTER_ECANCELED, 0);
  muster__chan_out_fail_sends(ch, MUSTER_ECANCELED);
  uv_close((uv_handle_t *)&ch->idle, on_handle_closed);
  uv_close((uv_handle_t *)&ch->check, on_handle_closed);
}

int muster_channel_disconnect(muster_channel_t *ch) {
  if (ch == NULL)
    return MUSTER_EINVAL;
  if (ch->state != MUSTER__CHAN_OPEN)
    return MUSTER_ENOTCONN;
  ch->state = MUSTER__CHAN_DISCONNECTING;
  /* The end comes from flush(), on the loop, once the queue is empty. */
  muster__chan_out_schedule(ch);
  return 0;
}

int muster_channel_connected(const muster_channel_t *ch) {
  return ch != NULL && ch->state == MUSTER__CHAN_OPEN;
}

void muster_channel_ref(muster_channel_t *ch) {
  uv_ref((uv_handle_t *)&ch->poll);
}

void muster_channel_unref(muster_channel_t *ch) {
  uv_unref((uv_handle_t *)&ch->poll);
}

void *muster_channel_data(const muster_channel_t *ch) {
  return ch->opt.data;
}
void muster_channel_set_data(muster_channel_t *ch, void *data) {
  ch->opt.data = data;
}
uv_loop_t *muster_channel_loop(const muster_channel_t *ch) {
  return ch->loop;
}
int muster_channel_fd(const muster_channel_t *ch) {
  return ch->fd;
}

void muster__channel_flush(muster_channel_t *ch) {
  if (ch->flush_scheduled)
    flush(ch);
}

void muster__channel_set_end_hook(muster_channel_t *ch, void (*fn)(void *),
                                  void *arg) {
  ch->end_hook = fn;
  ch->end_hook_arg = arg;
}

size_t muster_channel_queue_size(const muster_channel_t *ch) {
  return muster__chan_out_size(ch);
}

/* A message whose cmd is one of the handle protocol's own would confuse a
 * peer (a stray ACK crashes Node), so users may not send one. */
static int reserved_cmd(const json_t *msg) {
  const char *cmd = json_string_value(json_object_get(msg, "cmd"));
  return cmd != NULL && (strcmp(cmd, "NODE_HANDLE") == 0 ||
                         strcmp(cmd, "NODE_HANDLE_ACK") == 0 ||
                         strcmp(cmd, "NODE_HANDLE_NACK") == 0);
}

int muster_channel_send(muster_channel_t *ch, const json_t *message,
                        int handle_fd, const muster_send_options_t *options,
                        muster_send_cb cb, void *arg) {
  if (ch == NULL || message == NULL || reserved_cmd(message))
    return MUSTER_EINVAL;
  return muster__chan_out_send(ch, NULL, 0, message, handle_fd, options, cb,
                               arg);
}

int muster_channel_send_text(muster_channel_t *ch, const char *json, size_t len,
                             int handle_fd,
                             const muster_send_options_t *options,
                             muster_send_cb cb, void *arg) {
  if (ch == NULL || json == NULL || len == 0)
    return MUSTER_EINVAL;
  if (ch->state != MUSTER__CHAN_OPEN)
    return MUSTER_ENOTCONN;
  if (len > ch->opt.max_message_size)
    return MUSTER_EMSGSIZE;
  if (memchr(json, '\n', len) != NULL)
    return MUSTER_EINVAL;
  return muster__chan_out_send(ch, json, len, NULL, handle_fd, options, cb,
                               arg);
}
