/* The channel's receive side (src/channel_internal.h): reads with the
 * fds that came with them, lines out of the frame reader, what each line
 * is (a user message, Node's internal message, an ACK, a handle frame),
 * and delivery. */
#include "channel_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "json_check.h"
#include "json_read.h"
#include "message_internal.h"
#include "muster/error.h"

#define READ_CHUNK (64 * 1024)
#define READS_PER_WAKE 32
#define CMSG_FDS 64 /* libuv's UV__CMSG_FD_COUNT: never MSG_CTRUNC */
/* Control replies owed before reading stops, at the least: well above
 * what a peer that follows the protocol makes us owe (a window of ACKs,
 * 64 x 49 bytes), so a tiny high_water_mark cannot stall two channels
 * that both wait for the other to read. */
#define PAUSE_FLOOR (16 * 1024)

/* ---- received fds, waiting for their frames ------------------------------ */

static int fds_push(muster_channel_t *ch, int fd) {
  if (ch->fds_len == ch->fds_cap) {
    size_t cap = ch->fds_cap ? ch->fds_cap * 2 : 8;
    int *n = malloc(cap * sizeof *n);
    if (n == NULL)
      return MUSTER_ENOMEM;
    for (size_t i = 0; i < ch->fds_len; i++)
      n[i] = ch->fds[(ch->fds_head + i) % ch->fds_cap];
    free(ch->fds);
    ch->fds = n;
    ch->fds_cap = cap;
    ch->fds_head = 0;
  }
  ch->fds[(ch->fds_head + ch->fds_len++) % ch->fds_cap] = fd;
  return 0;
}

static int fds_pop(muster_channel_t *ch) {
  if (ch->fds_len == 0)
    return -1;
  int fd = ch->fds[ch->fds_head];
  ch->fds_head = (ch->fds_head + 1) % ch->fds_cap;
  ch->fds_len--;
  return fd;
}

void muster__chan_in_close_fds(muster_channel_t *ch) {
  int fd;
  while ((fd = fds_pop(ch)) >= 0)
    close(fd);
}

/* The one parser of received text: muster__json_read gives what
 * json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL) gives, and when an integer
 * does not fit in 64 bits it reads every number of the text as a real. */
static json_t *parse(const char *s, size_t len) {
  return muster__json_read(s, len, NULL);
}

/* Node's isInternal(): a non-null object whose cmd is a string longer than
 * 5 starting with NODE_. */
static const char *internal_cmd(const json_t *j) {
  const char *cmd = json_string_value(json_object_get(j, "cmd"));
  if (cmd == NULL || json_string_length(json_object_get(j, "cmd")) <= 5 ||
      strncmp(cmd, "NODE_", 5) != 0)
    return NULL;
  return cmd;
}

static void on_json_asked(void *source, muster_message_t *m) {
  muster_channel_t *ch = source;
  ch->value_asked = 1;
}

static const muster__message_hooks_t USER_MESSAGE = {on_json_asked, NULL};

static void deliver(muster_channel_t *ch, muster_message_t *m, int internal) {
  muster_channel_message_cb cb =
      internal ? ch->opt.on_internal : ch->opt.on_message;
  if (!internal && m->fd < 0) {
    /* Does this user read values? (see on_line) */
    muster__message_set_source(m, ch, &USER_MESSAGE);
    ch->value_asked = 0;
  }
  if (cb && ch->state == MUSTER__CHAN_OPEN && !ch->user_closed)
    cb(ch, m);
  muster__message_done(m);
}

static void on_handle_frame(muster_channel_t *ch, json_t *env) {
  int fd = fds_pop(ch);
  if (fd < 0) {
    muster__chan_ack_reply(ch, 0);
    muster__chan_report(ch, MUSTER_EPROTO);
    json_decref(env);
    return;
  }
  muster__chan_ack_reply(ch, 1);
  /* A double-wrapped envelope (Node's retransmission) is one fd, one ACK. */
  json_t *msg = env, *type = NULL;
  for (;;) {
    const char *cmd = json_string_value(json_object_get(msg, "cmd"));
    if (cmd == NULL || strcmp(cmd, "NODE_HANDLE") != 0)
      break;
    type = json_object_get(msg, "type");
    msg = json_object_get(msg, "msg");
  }
  if (!json_is_string(type) || msg == NULL) {
    close(fd);
    muster__chan_report(ch, MUSTER_EPROTO);
    json_decref(env);
    return;
  }
  muster_message_t m;
  char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL) {
    close(fd);
    muster__chan_report(ch, MUSTER_ENOMEM);
    json_decref(env);
    return;
  }
  muster__message_init_text(&m, text, strlen(text), json_incref(msg));
  muster__message_set_handle(&m, fd, json_string_value(type));
  deliver(ch, &m, internal_cmd(msg) != NULL);
  free(text);
  json_decref(env);
}

static const char ENVELOPE[] = "{\"cmd\":\"NODE_HANDLE\",\"type\":\"";
static const char *const HANDLE_KINDS[] = {"net.Server",   "net.Socket",
                                           "net.Native",   "dgram.Socket",
                                           "dgram.Native", "muster.Fd"};

/* A NODE_HANDLE envelope exactly as muster and Node write it,
 * {"cmd":"NODE_HANDLE","type":"<known type>","msg":M}, with a user message
 * M, is delivered without jansson: M's text is handed out as received.
 * The line as a whole was checked to be JSON; M is checked to be one value
 * (so `"msg":1,"key":2` does not pass), and a user message, not internal
 * (a nested envelope goes the slow way). 1 when it was one (and was
 * handled). */
static int handle_frame_fast(muster_channel_t *ch, const char *line,
                             size_t len) {
  size_t p = sizeof ENVELOPE - 1;
  if (len < p + 10 || memcmp(line, ENVELOPE, p) != 0)
    return 0;
  const char *t = line + p, *end = line + len;
  const char *q = memchr(t, '"', (size_t)(end - t));
  if (q == NULL)
    return 0;
  const char *kind = NULL;
  for (size_t i = 0; i < sizeof HANDLE_KINDS / sizeof *HANDLE_KINDS; i++)
    if (strlen(HANDLE_KINDS[i]) == (size_t)(q - t) &&
        memcmp(HANDLE_KINDS[i], t, (size_t)(q - t)) == 0)
      kind = HANDLE_KINDS[i];
  if (kind == NULL || end - q < 10 || memcmp(q, "\",\"msg\":", 8) != 0 ||
      end[-1] != '}')
    return 0;
  const char *msg = q + 8;
  size_t mlen = (size_t)(end - 1 - msg);
  if (muster__json_check(msg, mlen) != MUSTER__JSON_USER)
    return 0;
  int fd = fds_pop(ch);
  if (fd < 0) {
    muster__chan_ack_reply(ch, 0);
    muster__chan_report(ch, MUSTER_EPROTO);
    return 1;
  }
  muster__chan_ack_reply(ch, 1);
  muster_message_t m;
  muster__message_init_text(&m, msg, mlen, NULL);
  muster__message_set_handle(&m, fd, kind);
  deliver(ch, &m, 0);
  return 1;
}

/* An internal message, line[0..len) parsed: j (taken) and its cmd. */
static void on_internal_value(muster_channel_t *ch, const char *line,
                              size_t len, json_t *j, const char *cmd) {
  if (strcmp(cmd, "NODE_HANDLE") == 0) {
    on_handle_frame(ch, j);
    return;
  }
  if (strcmp(cmd, "NODE_HANDLE_ACK") == 0 ||
      strcmp(cmd, "NODE_HANDLE_NACK") == 0) {
    muster__chan_ack_parsed(ch, cmd, j);
    json_decref(j);
    return;
  }
  if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0 ||
      strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0) {
    if (ch->state == MUSTER__CHAN_OPEN)
      muster__chan_ack_socket_list(ch, cmd, j);
    json_decref(j);
    return;
  }
  if (ch->opt.on_internal == NULL) {
    json_decref(j);
    return;
  }
  muster_message_t m;
  muster__message_init_text(&m, line, len, j);
  deliver(ch, &m, 1);
}

/* One complete line. */
static void on_line(muster_channel_t *ch, const char *line, size_t len) {
  if (len <= MUSTER__CHAN_ACK_MAX_LEN && muster__chan_ack_fast(ch, line, len))
    return;
  /* When the user asked for the last message's value, it will likely ask
   * for this one's too: muster__json_read checks everything json_check
   * does, so one pass can check and parse. Its failures go the checked
   * way, and so do handle envelopes (for the fast path below), so what is
   * delivered or reported is the same either way; only the time differs
   * (docs/channel.md, "Receiving"). */
  if (ch->value_asked && !(len > sizeof ENVELOPE &&
                           memcmp(line, ENVELOPE, sizeof ENVELOPE - 1) == 0)) {
    json_t *j = muster__json_read(line, len, NULL);
    if (j != NULL) {
      const char *cmd = internal_cmd(j);
      if (cmd != NULL) {
        on_internal_value(ch, line, len, j, cmd);
        return;
      }
      muster_message_t m;
      muster__message_init_text(&m, line, len, j);
      deliver(ch, &m, 0);
      return;
    }
  }
  int kind = muster__json_check(line, len);
  if (kind == MUSTER__JSON_INVALID) {
    muster__chan_report(ch, MUSTER_EBADMSG);
    return;
  }
  muster_message_t m;
  muster__message_init_text(&m, line, len, NULL);
  if (kind == MUSTER__JSON_USER) {
    deliver(ch, &m, 0);
    return;
  }
  if (kind == MUSTER__JSON_INTERNAL && handle_frame_fast(ch, line, len))
    return;
  json_t *j = parse(line, len);
  const char *cmd = j ? internal_cmd(j) : NULL;
  if (cmd == NULL) {
    if (kind == MUSTER__JSON_INTERNAL) {
      /* Valid JSON jansson cannot hold (1e400): we cannot tell a Node
       * internal message's fields, so it is dropped. */
      muster__chan_report(ch, MUSTER_EBADMSG);
      json_decref(j);
      return;
    }
    m.json = j;
    deliver(ch, &m, 0);
    return;
  }
  on_internal_value(ch, line, len, j, cmd);
}

/* Takes the fds out of a received control message. */
static void take_fds(muster_channel_t *ch, struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fds_push(ch, fd) != 0)
        close(fd);
    }
  }
  if (mh->msg_flags & MSG_CTRUNC)
    muster__chan_report(ch, MUSTER_EPROTO);
  if (ch->fds_len > MUSTER__CHAN_MAX_WINDOW) {
    /* More fds waiting for their frames than any sender may have in
     * flight (Node: 1, muster: the window): a peer flooding us with fds
     * behind a line it never ends. Close them rather than hold them. */
    muster__chan_in_close_fds(ch);
    muster__chan_report(ch, MUSTER_EPROTO);
  }
}

/* Called when the last read ended where an skb (one sendmsg, or its first
 * part) ended. The fds of a sendmsg ride on its first skb, and every frame
 * that claims one lies within that skb: Node sends one handle frame per
 * sendmsg, starting it, and a muster sender keeps a batch of them inside
 * the first skb. So when every byte read is a complete line, no frame still
 * to come can claim the fds left over: close them. */
static void close_unclaimed(muster_channel_t *ch) {
  if (ch->fds_len > 0 && muster__frame_pending(&ch->rx) == 0) {
    muster__chan_in_close_fds(ch);
    muster__chan_report(ch, MUSTER_EPROTO);
  }
}

/* One recvmsg into the frame reader's free space; fds to the FIFO. The
 * bytes read, 0 at end of file, or a negative error. */
static ssize_t read_some(muster_channel_t *ch, size_t *avail, int *got_fds) {
  char *space;
  if (muster__frame_space(&ch->rx, READ_CHUNK, &space, avail) != 0)
    return MUSTER_ENOMEM;
  union {
    char buf[CMSG_SPACE(CMSG_FDS * sizeof(int))];
    struct cmsghdr align;
  } cm;
  struct iovec iov = {space, *avail};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.buf;
  mh.msg_controllen = sizeof cm.buf;
  ssize_t r;
  do
    r = recvmsg(ch->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  *got_fds = mh.msg_controllen > 0;
  if (*got_fds)
    take_fds(ch, &mh);
  return r;
}

/* Hands out every complete line read so far. 0, 1 when the channel ended
 * meanwhile (a callback closed it), or a framing error. */
static int deliver_lines(muster_channel_t *ch) {
  const char *line;
  size_t len;
  int k;
  while ((k = muster__frame_next(&ch->rx, &line, &len)) == 1) {
    on_line(ch, line, len);
    if (ch->state == MUSTER__CHAN_ENDED)
      return 1;
  }
  return k;
}

int muster__chan_in_paused(const muster_channel_t *ch) {
  size_t limit = ch->opt.high_water_mark > PAUSE_FLOOR ? ch->opt.high_water_mark
                                                       : PAUSE_FLOOR;
  return muster__chan_out_ctrl_backlog(ch) > limit;
}

int muster__chan_in_read(muster_channel_t *ch, int drain, int *reason) {
  int after_fds = 0; /* the previous read was short and carried fds */
  for (int i = 0; i < READS_PER_WAKE && ch->state != MUSTER__CHAN_ENDED; i++) {
    /* Before a write failure's end, what is left is read whatever we owe
     * (it goes nowhere anyway). */
    if (!drain && muster__chan_in_paused(ch))
      return 0;
    size_t avail;
    int got_fds = 0;
    ssize_t r = read_some(ch, &avail, &got_fds);
    if (r == MUSTER_EAGAIN) {
      if (after_fds && ch->fd_reads_idle < 2)
        ch->fd_reads_idle++;
      close_unclaimed(ch); /* the last read ended with an skb */
      return 0;
    }
    if (after_fds)
      ch->fd_reads_idle = 0; /* more came behind a handle: a window */
    if (r < 0) {
      *reason = (int)r;
      return 1;
    }
    if (r == 0) {
      /* End of file. A frame cut off in the middle is an error: the peer
       * died or wrote garbage; either way its last message is lost. */
      *reason = muster__frame_pending(&ch->rx) > 0 ? MUSTER_EBADMSG : 0;
      return 1;
    }
    muster__frame_commit(&ch->rx, (size_t)r);
    int k = deliver_lines(ch);
    if (k == 1)
      return 0; /* ended by a callback */
    if (k < 0) {
      *reason = k;
      return 1;
    }
    if ((size_t)r < avail)
      close_unclaimed(ch); /* a short read ends with an skb */
    if ((size_t)r < avail && !got_fds)
      return 0; /* a short read: the socket is empty */
    /* A read stops right after the bytes an fd came with, so a short read
     * with fds says nothing about what is left, and the next read may
     * find more. From a peer that follows Node's rule it never does: that
     * sender waits for the ACK we have not sent yet, and the read just
     * costs an EAGAIN per handle. So once two such reads in a row found
     * nothing, stop after a handle's read (seven times in eight; the
     * eighth probes for a windowed sender). Nothing is lost: the poll is
     * level-triggered and reports the socket readable again at once if
     * anything is left. */
    after_fds = (size_t)r < avail && got_fds;
    if (after_fds && !drain && ch->fd_reads_idle >= 2 &&
        (++ch->fd_reads_skipped & 7) != 0)
      return 0;
  }
  return 0;
}

void muster__chan_in_free(muster_channel_t *ch) {
  muster__frame_free(&ch->rx);
  free(ch->fds);
}
