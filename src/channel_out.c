/* The channel's output queue (src/channel_internal.h): frames built in
 * place, control replies that may pass them, and the write of as much as
 * the socket takes.
 *
 * Output is a queue of blocks. Small frames are appended to the last block,
 * so many sends in one loop turn leave in one writev-style sendmsg; a frame
 * carrying a handle has a block of its own, and its fd rides on the sendmsg
 * that carries the block's first byte. Writing starts from a check and an
 * idle handle, i.e. after the callbacks of the current loop phase ran: a
 * send from an I/O callback is written by the check handle in the same loop
 * iteration (together with every other send of that iteration), a send
 * from a timer by the idle handle before the loop polls. The idle handle
 * also keeps the loop from blocking while output waits: a flush scheduled
 * from a phase after the idle one (a prepare callback, or our own check
 * callback calling on_drain) must not wait for an unrelated fd to wake the
 * poll. When the socket is full the poll handle waits for POLLOUT. */
#include "channel_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handle.h"
#include "json_write.h"
#include "muster/error.h"

#define BLOCK_CAP (64 * 1024)
#define MAX_IOV 64
#define CMSG_FDS 64 /* libuv's UV__CMSG_FD_COUNT: never MSG_CTRUNC */

typedef muster__chan_block_t block_t;

/* ---- blocks and send requests ------------------------------------------ */

void muster__chan_out_block_free(muster_channel_t *ch, block_t *b) {
  if (b->fd >= 0)
    close(b->fd);
  if (ch->spare == NULL && b->cap == BLOCK_CAP) {
    b->next = NULL;
    b->len = b->off = 0;
    b->fd = -1;
    b->fd_sent = b->uncounted = b->retries = 0;
    b->coalesce = 1;
    ch->spare = b;
    return;
  }
  free(b->data);
  free(b);
}

static block_t *block_new(muster_channel_t *ch, size_t cap) {
  block_t *b;
  if (cap <= BLOCK_CAP && ch->spare != NULL) {
    b = ch->spare;
    ch->spare = NULL;
    return b;
  }
  b = calloc(1, sizeof *b);
  if (b == NULL)
    return NULL;
  if (cap < BLOCK_CAP)
    cap = BLOCK_CAP;
  b->data = malloc(cap);
  if (b->data == NULL) {
    free(b);
    return NULL;
  }
  b->cap = cap;
  b->fd = -1;
  b->coalesce = 1;
  return b;
}

static int block_reserve(block_t *b, size_t n) {
  if (b->cap - b->len >= n)
    return 0;
  size_t cap = b->cap * 2;
  while (cap - b->len < n)
    cap *= 2;
  char *d = realloc(b->data, cap);
  if (d == NULL)
    return MUSTER_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

/* Room for one more send request, so that queueing it cannot fail after
 * its frame went into the stream. */
static int reqs_reserve(muster_channel_t *ch) {
  if (ch->reqs_len < ch->reqs_cap)
    return 0;
  size_t cap = ch->reqs_cap ? ch->reqs_cap * 2 : 16;
  muster__chan_req_t *n = malloc(cap * sizeof *n);
  if (n == NULL)
    return MUSTER_ENOMEM;
  for (size_t i = 0; i < ch->reqs_len; i++)
    n[i] = ch->reqs[(ch->reqs_head + i) % ch->reqs_cap];
  free(ch->reqs);
  ch->reqs = n;
  ch->reqs_cap = cap;
  ch->reqs_head = 0;
  return 0;
}

static void reqs_push(muster_channel_t *ch, muster_send_cb cb, void *arg) {
  muster__chan_req_t *r =
      &ch->reqs[(ch->reqs_head + ch->reqs_len++) % ch->reqs_cap];
  r->end = ch->queued_pos;
  r->cb = cb;
  r->arg = arg;
}

static muster__chan_req_t reqs_shift(muster_channel_t *ch) {
  muster__chan_req_t r = ch->reqs[ch->reqs_head];
  ch->reqs_head = (ch->reqs_head + 1) % ch->reqs_cap;
  ch->reqs_len--;
  return r;
}

void muster__chan_out_fail_sends(muster_channel_t *ch, int status) {
  while (ch->reqs_len > 0) {
    muster__chan_req_t r = reqs_shift(ch);
    if (r.cb)
      r.cb(ch, ch->user_closed ? MUSTER_ECANCELED : status, r.arg);
  }
}

/* Calls the callbacks of every send whose bytes are all written. */
static void complete_sends(muster_channel_t *ch) {
  while (ch->reqs_len > 0 && ch->state != MUSTER__CHAN_ENDED) {
    if (ch->reqs[ch->reqs_head].end > ch->written_pos)
      break;
    muster__chan_req_t done = reqs_shift(ch);
    done.cb(ch, 0, done.arg);
  }
}

/* ---- queueing ----------------------------------------------------------- */

/* A frame is built in place at the end of the queue: begin_frame picks (or
 * makes) the block, the text is appended, and abort_frame undoes it. */
typedef struct {
  block_t *b;
  size_t start;
  int is_new;
} frame_t;

static int begin_frame(muster_channel_t *ch, frame_t *f, size_t hint,
                       int handle) {
  block_t *t = ch->tail;
  if (!handle && t != NULL && t->coalesce && t->cap - t->len >= hint &&
      t->fd < 0) {
    f->b = t;
    f->start = t->len;
    f->is_new = 0;
    return 0;
  }
  block_t *b = block_new(ch, hint);
  if (b == NULL)
    return MUSTER_ENOMEM;
  /* A big frame gets a block of its own; so does a handle frame, whose fd
   * must ride on the sendmsg that carries its first byte. */
  b->coalesce = !handle && hint <= BLOCK_CAP / 2;
  f->b = b;
  f->start = 0;
  f->is_new = 1;
  return 0;
}

static int frame_append(frame_t *f, const char *s, size_t n) {
  int err = block_reserve(f->b, n);
  if (err)
    return err;
  memcpy(f->b->data + f->b->len, s, n);
  f->b->len += n;
  return 0;
}

/* Appends the compact text of `json`, with our own encoder rather than
 * jansson's dump: it copies plain runs whole and stops at the size limit
 * instead of building the whole text first (src/json_write.c has the
 * figures). The block may move. */
static int frame_append_json(frame_t *f, const json_t *json, size_t limit) {
  struct muster__buf mb = {f->b->data, f->b->len, f->b->cap};
  int err = muster__json_write(json, &mb, limit);
  f->b->data = mb.data;
  f->b->cap = mb.cap;
  f->b->len = mb.len;
  return err;
}

static void abort_frame(muster_channel_t *ch, frame_t *f) {
  if (f->is_new) {
    f->b->fd = -1;
    muster__chan_out_block_free(ch, f->b);
  } else {
    f->b->len = f->start;
  }
}

static void commit_frame(muster_channel_t *ch, frame_t *f) {
  if (f->is_new) {
    if (ch->tail)
      ch->tail->next = f->b;
    else
      ch->head = f->b;
    ch->tail = f->b;
  }
  ch->queued_pos += f->b->len - f->start;
}

/* The envelope's head, before the user's message. */
static int append_envelope(frame_t *f, muster_handle_type_t ht, int native) {
  char head[128];
  int n = snprintf(head, sizeof head,
                   "{\"cmd\":\"NODE_HANDLE\",\"type\":\"%s\",\"msg\":",
                   muster__handle_node_type(ht, native));
  return frame_append(f, head, (size_t)n);
}

/* The envelope's tail, after the user's message. */
static int append_envelope_end(frame_t *f, muster_handle_type_t ht, int native,
                               int domain) {
  if (ht == MUSTER_HANDLE_UDP && !native)
    return frame_append(f,
                        domain == AF_INET6 ? ",\"dgramType\":\"udp6\"}"
                                           : ",\"dgramType\":\"udp4\"}",
                        20);
  return frame_append(f, "}", 1);
}

/* The fd the frame carries: the caller's, or (keep_open) our own
 * duplicate, so a NACK can be answered with a retransmission however soon
 * the caller closes theirs. */
static int frame_fd(int handle_fd, int keep_open, int *err) {
  if (!keep_open)
    return handle_fd;
  int fd = fcntl(handle_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    *err = -errno;
  return fd;
}

int muster__chan_out_send(muster_channel_t *ch, const char *text, size_t len,
                          const json_t *json, int handle_fd,
                          const muster_send_options_t *opts, muster_send_cb cb,
                          void *arg) {
  if (ch->state != MUSTER__CHAN_OPEN)
    return MUSTER_ENOTCONN;
  int keep_open = opts && opts->keep_open;
  int native = opts && opts->native;
  muster_handle_type_t ht = MUSTER_HANDLE_NONE;
  int domain = AF_UNSPEC;
  if (handle_fd >= 0) {
    ht = muster__handle_classify(handle_fd, &domain);
    if (ht == MUSTER_HANDLE_NONE)
      return MUSTER_EBADF;
  }
  frame_t f;
  int err = begin_frame(ch, &f, text ? len + 1 : 256, handle_fd >= 0);
  if (err)
    return err;
  if (handle_fd >= 0)
    err = append_envelope(&f, ht, native);
  size_t body = f.b->len;
  if (!err)
    err = text ? frame_append(&f, text, len)
               : frame_append_json(&f, json, ch->opt.max_message_size);
  if (!err && f.b->len - body > ch->opt.max_message_size)
    err = MUSTER_EMSGSIZE;
  if (!err && handle_fd >= 0)
    err = append_envelope_end(&f, ht, native, domain);
  if (!err)
    err = frame_append(&f, "\n", 1);
  if (!err && cb)
    err = reqs_reserve(ch);
  if (!err && handle_fd >= 0)
    f.b->fd = frame_fd(handle_fd, keep_open, &err);
  if (err) {
    abort_frame(ch, &f);
    return err;
  }
  commit_frame(ch, &f);
  if (cb)
    reqs_push(ch, cb, arg);
  muster__chan_out_schedule(ch);
  if (muster__chan_out_size(ch) > ch->opt.high_water_mark) {
    ch->need_drain = 1;
    return 1;
  }
  return 0;
}

void muster__chan_out_ctrl(muster_channel_t *ch, const char *frames, size_t n) {
  if (ch->state == MUSTER__CHAN_ENDED)
    return;
  if (ch->ctrl_cap - ch->ctrl_len < n) {
    if (ch->ctrl_off > 0) {
      memmove(ch->ctrl, ch->ctrl + ch->ctrl_off, ch->ctrl_len - ch->ctrl_off);
      ch->ctrl_len -= ch->ctrl_off;
      ch->ctrl_off = 0;
    }
    if (ch->ctrl_cap - ch->ctrl_len < n) {
      size_t cap = ch->ctrl_cap ? ch->ctrl_cap * 2 : 256;
      while (cap - ch->ctrl_len < n)
        cap *= 2;
      char *c = realloc(ch->ctrl, cap);
      if (c == NULL)
        return; /* the peer's sender times out; nothing better to do */
      ch->ctrl = c;
      ch->ctrl_cap = cap;
    }
  }
  memcpy(ch->ctrl + ch->ctrl_len, frames, n);
  ch->ctrl_len += n;
  muster__chan_out_schedule(ch);
}

size_t muster__chan_out_ctrl_backlog(const muster_channel_t *ch) {
  return ch->ctrl_len - ch->ctrl_off;
}

size_t muster__chan_out_size(const muster_channel_t *ch) {
  return (size_t)(ch->queued_pos - ch->written_pos) +
         muster__chan_out_ctrl_backlog(ch);
}

/* ---- the state of the queue --------------------------------------------- */

/* Whether the head of the data queue may be written now. Node's rule
 * (window 1): nothing after a handle frame until its ACK. With a window
 * (a muster peer), handle frames go while fewer than `window` await their
 * ACKs, and plain frames go behind them: the receiver pairs fds with
 * NODE_HANDLE frames in stream order, so order is kept. A frame already
 * started always continues. */
static int head_sendable(const muster_channel_t *ch) {
  const block_t *b = ch->head;
  if (b == NULL)
    return 0;
  if (b->off > 0)
    return 1;
  if (b->fd >= 0)
    return ch->inflight_count < ch->window;
  return ch->inflight_count == 0 || ch->window > 1;
}

int muster__chan_out_pending(const muster_channel_t *ch) {
  return ch->ctrl_len > ch->ctrl_off || head_sendable(ch);
}

int muster__chan_out_idle(const muster_channel_t *ch) {
  return ch->head == NULL && ch->ctrl_len == ch->ctrl_off &&
         ch->inflight_count == 0;
}

static void free_list(muster_channel_t *ch, block_t *b) {
  while (b) {
    block_t *next = b->next;
    muster__chan_out_block_free(ch, b);
    b = next;
  }
}

void muster__chan_out_drop(muster_channel_t *ch) {
  free_list(ch, ch->head);
  ch->head = ch->tail = NULL;
  free_list(ch, ch->inflight);
  ch->inflight = ch->inflight_tail = NULL;
  ch->inflight_count = 0;
  ch->ctrl_len = ch->ctrl_off = 0;
}

void muster__chan_out_free(muster_channel_t *ch) {
  free(ch->reqs);
  free(ch->ctrl);
  if (ch->spare) {
    free(ch->spare->data);
    free(ch->spare);
  }
}

/* ---- scheduling --------------------------------------------------------- */

static void on_flush_idle(uv_idle_t *h) {
  muster_channel_t *ch = h->data;
  ch->flush(ch);
}

static void on_flush_check(uv_check_t *h) {
  muster_channel_t *ch = h->data;
  ch->flush(ch);
}

void muster__chan_out_schedule(muster_channel_t *ch) {
  if (ch->flush_scheduled || ch->state == MUSTER__CHAN_ENDED || ch->in_flush)
    return;
  ch->flush_scheduled = 1;
  uv_idle_start(&ch->idle, on_flush_idle);
  uv_check_start(&ch->check, on_flush_check);
}

void muster__chan_out_unschedule(muster_channel_t *ch) {
  if (ch->flush_scheduled) {
    ch->flush_scheduled = 0;
    uv_idle_stop(&ch->idle);
    uv_check_stop(&ch->check);
  }
}

/* ---- handle frames in flight -------------------------------------------- */

/* A handle frame written in full waits for its ACK with its fd: a NACK
 * may resend it. */
static void inflight_push(muster_channel_t *ch, block_t *b) {
  b->next = NULL;
  if (ch->inflight_tail)
    ch->inflight_tail->next = b;
  else
    ch->inflight = b;
  ch->inflight_tail = b;
  ch->inflight_count++;
}

block_t *muster__chan_out_inflight_pop(muster_channel_t *ch) {
  block_t *b = ch->inflight;
  if (b == NULL)
    return NULL;
  ch->inflight = b->next;
  if (ch->inflight == NULL)
    ch->inflight_tail = NULL;
  ch->inflight_count--;
  b->next = NULL;
  return b;
}

int muster__chan_out_was_last(const muster_channel_t *ch, const block_t *b) {
  return b->seq == ch->tx_seq && (ch->head == NULL || ch->head->off == 0);
}

void muster__chan_out_resend(muster_channel_t *ch, block_t *b) {
  b->off = 0;
  b->fd_sent = 0;
  b->uncounted = 1;
  b->next = ch->head;
  ch->head = b;
  if (ch->tail == NULL)
    ch->tail = b;
}

/* ---- writing ------------------------------------------------------------ */

/* What one sendmsg carries: control replies first, then data blocks, and
 * the fds of the handle frames among them. */
typedef struct {
  struct iovec iov[MAX_IOV];
  int n, nfds;
  int fds[CMSG_FDS];
  block_t *fd_blocks[CMSG_FDS];
  size_t ctrl, bytes;
} gather_t;

/* The most bytes a sendmsg of several handle frames may have. The kernel
 * attaches a sendmsg's fds to its first skb and ends a read after that skb,
 * so the receiver can tell which fds the frames it read claim (and close
 * the rest) only if all of them lie in the first skb. A Unix stream socket
 * cuts a sendmsg into skbs of min(SO_SNDBUF / 2 - 64, about 36 KiB) bytes
 * (net/unix/af_unix.c, unix_stream_sendmsg); 8 KiB stays under both for
 * any buffer of 16 KiB or more, and a smaller buffer gets its own figure.
 * Asked before each batch: SO_SNDBUF may change while the channel is open,
 * and the kernel cuts by its value at the time of the sendmsg. */
static size_t batch_bytes_for(int fd) {
  int sndbuf = 0;
  socklen_t sl = sizeof sndbuf;
  size_t limit = 8192;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0 &&
      (size_t)sndbuf / 2 < limit + 256)
    limit = (size_t)sndbuf / 2 > 512 ? (size_t)sndbuf / 2 - 256 : 256;
  return limit;
}

/* Whether handle frames go in batches. A muster peer (it offered a window)
 * takes several in one sendmsg, their fds together on its first skb
 * ("Batches" in docs/channel.md); a Node peer gets each alone, with its
 * fd. */
static int batching(const muster_channel_t *ch) {
  return ch->window > 1 && ch->batch_ok;
}

/* How many fds a sendmsg of a batch may carry: the window's free room. */
static size_t batch_fd_room(const muster_channel_t *ch) {
  size_t busy =
      ch->inflight_count + (ch->head && ch->head->fd >= 0 && ch->head->fd_sent);
  size_t room = ch->window > busy ? ch->window - busy : 0;
  return room > CMSG_FDS ? CMSG_FDS : room;
}

/* Control replies only leave at a frame boundary of the data, and first:
 * plain frames that may go join them in the same sendmsg. */
static void gather_ctrl(muster_channel_t *ch, gather_t *g) {
  if (ch->ctrl_len > ch->ctrl_off && (ch->head == NULL || ch->head->off == 0)) {
    g->ctrl = ch->ctrl_len - ch->ctrl_off;
    g->iov[0].iov_base = ch->ctrl + ch->ctrl_off;
    g->iov[0].iov_len = g->ctrl;
    g->bytes = g->ctrl;
    g->n = 1;
  }
}

static void gather_data(muster_channel_t *ch, gather_t *g) {
  if (!head_sendable(ch))
    return;
  int batch = batching(ch);
  size_t room = batch ? batch_fd_room(ch) : 1;
  size_t batch_bytes = 0; /* asked for when needed */
  for (block_t *b = ch->head; b && g->n < MAX_IOV; b = b->next) {
    size_t left = b->len - b->off;
    if (b->fd >= 0 && !batch && g->n > 0)
      break; /* to Node, a handle's fd rides on the first byte... */
    if (b->fd >= 0 && !b->fd_sent) {
      /* ...and to muster, every frame that claims an fd of this sendmsg
       * lies within its first skb. */
      if (g->n > 0 && (size_t)g->nfds == room)
        break;
      if (g->n > 0 && batch_bytes == 0)
        batch_bytes = batch_bytes_for(ch->fd);
      if (g->n > 0 && g->bytes + left > batch_bytes)
        break;
      g->fd_blocks[g->nfds] = b;
      g->fds[g->nfds++] = b->fd;
    }
    g->iov[g->n].iov_base = b->data + b->off;
    g->iov[g->n].iov_len = left;
    g->bytes += left;
    g->n++;
    if (b->fd >= 0 && !batch)
      break; /* ...and ends it: one fd per sendmsg */
    if (g->ctrl == 0 && ch->ctrl_len > ch->ctrl_off)
      break; /* let the control reply out at the next boundary */
  }
}

/* One sendmsg, with `nfds` fds on its first skb. Returns the bytes written
 * or a negative error. */
static ssize_t write_some(muster_channel_t *ch, gather_t *g) {
  ssize_t r;
  if (g->nfds == 0 && g->n == 1) {
    /* The usual case of a small message or a run of them: send() skips
     * the msghdr and iovec copies of sendmsg. */
    do
      r = send(ch->fd, g->iov[0].iov_base, g->iov[0].iov_len,
               MSG_NOSIGNAL | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
  }
  struct msghdr mh;
  union {
    char buf[CMSG_SPACE(CMSG_FDS * sizeof(int))];
    struct cmsghdr align;
  } cm;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = g->iov;
  mh.msg_iovlen = (size_t)g->n;
  if (g->nfds > 0) {
    size_t fds_len = (size_t)g->nfds * sizeof(int);
    mh.msg_control = cm.buf;
    mh.msg_controllen = CMSG_SPACE(fds_len);
    memset(cm.buf, 0, mh.msg_controllen);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds_len);
    memcpy(CMSG_DATA(c), g->fds, fds_len);
  }
  do
    r = sendmsg(ch->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

/* A block written in full leaves the queue: a handle frame waits for its
 * ACK in flight, any other is freed. */
static void retire(muster_channel_t *ch, block_t *b) {
  ch->head = b->next;
  if (ch->head == NULL)
    ch->tail = NULL;
  b->seq = ++ch->tx_seq;
  if (b->fd >= 0)
    inflight_push(ch, b);
  else
    muster__chan_out_block_free(ch, b);
}

/* Takes the `w` bytes written off the control replies and the blocks. */
static void consume(muster_channel_t *ch, gather_t *g, size_t w) {
  if (g->ctrl > 0) {
    size_t take = w < g->ctrl ? w : g->ctrl;
    ch->ctrl_off += take;
    ch->ctrl_writes += take > 0;
    w -= take;
    if (ch->ctrl_off == ch->ctrl_len)
      ch->ctrl_off = ch->ctrl_len = 0;
  }
  for (int i = 0; i < g->nfds; i++)
    g->fd_blocks[i]->fd_sent = 1;
  while (w > 0) {
    block_t *b = ch->head;
    size_t take = b->len - b->off < w ? b->len - b->off : w;
    b->off += take;
    w -= take;
    if (!b->uncounted)
      ch->written_pos += take;
    if (b->off < b->len)
      break;
    retire(ch, b);
  }
}

int muster__chan_out_write(muster_channel_t *ch) {
  while (ch->state != MUSTER__CHAN_ENDED) {
    gather_t g;
    g.n = g.nfds = 0;
    g.ctrl = g.bytes = 0;
    gather_ctrl(ch, &g);
    gather_data(ch, &g);
    if (g.n == 0)
      break;
    ssize_t w = write_some(ch, &g);
    if (w == -EAGAIN)
      break;
    if (w < 0)
      return (int)w;
    consume(ch, &g, (size_t)w);
    complete_sends(ch);
  }
  return 0;
}
