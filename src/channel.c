/* The IPC channel: Node's "json" wire format over an AF_UNIX stream socket,
 * with handles passed in SCM_RIGHTS. See include/muster/channel.h for the
 * contract and docs/channel.md for the design.
 *
 * The channel does its own I/O on the fd with a uv_poll_t (not a libuv
 * ipc pipe): it needs to see exactly which bytes came with which fds, to
 * coalesce many frames into one sendmsg, and to keep a partial frame in
 * place without copying it per read.
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
 * poll. When the socket is full the
 * poll handle waits for POLLOUT. */
#include "muster/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel_frame.h"
#include "json_write.h"
#include "channel_private.h"
#include "handle.h"
#include "message_internal.h"
#include "json_check.h"
#include "json_read.h"
#include "muster/error.h"

#define READ_CHUNK (64 * 1024)
#define READS_PER_WAKE 32
#define BLOCK_CAP (64 * 1024)
#define MAX_IOV 64
#define CMSG_FDS 64      /* libuv's UV__CMSG_FD_COUNT: never MSG_CTRUNC */
#define MAX_RETRANSMIT 3 /* Node: 4 attempts in all */
/* Handle frames a muster sender may have unacknowledged once the peer's
 * ACK advertised a window (docs/channel.md, "The handle window"). */
#define MAX_WINDOW 64

/* Our ACK advertises the window. Node's sender looks only at "cmd" (in
 * lib/internal/child_process.js: message.cmd === 'NODE_HANDLE_ACK'), so a
 * Node peer never notices the extra field; a muster sender that sees it
 * may keep that many handle frames in flight. */
static const char ACK_FRAME[] =
    "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":64,\"batch\":1}\n";
static const char NACK_FRAME[] = "{\"cmd\":\"NODE_HANDLE_NACK\"}\n";
static const char PLAIN_ACK[] = "{\"cmd\":\"NODE_HANDLE_ACK\"}";
static const char WINDOW_ACK[] = "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":";
static const char BATCH_TAIL[] = ",\"batch\":1}";

typedef struct block_s {
  struct block_s *next;
  char *data;
  size_t len, off, cap;
  int fd;        /* a handle to send with the first byte, or -1 */
  int fd_sent;   /* this attempt's fd went out */
  int coalesce;  /* small frames may be appended */
  int uncounted; /* a retransmission: bytes do not advance written_pos */
  int retries;
  uint64_t seq; /* ch->tx_seq when its last byte was written */
} block_t;

typedef struct {
  uint64_t end; /* the counted stream position of the frame's last byte */
  muster_send_cb cb;
  void *arg;
} send_req_t;

enum { ST_OPEN, ST_DISCONNECTING, ST_ENDED };

struct muster_channel_s {
  uv_loop_t *loop;
  int fd;
  int state;
  int user_closed;
  int handles_open; /* uv handles not yet closed */
  int poll_events;
  int flush_scheduled;
  int in_flush;
  int need_drain;
  uv_poll_t poll;
  uv_idle_t idle;
  uv_check_t check;
  muster_channel_options_t opt;
  muster_channel_close_cb close_cb;
  void (*end_hook)(void *);
  void *end_hook_arg;

  /* receive */
  muster__frame_reader_t rx;
  int *fds; /* FIFO of received fds no message claimed yet */
  size_t fds_head, fds_len, fds_cap;
  int fd_reads_idle; /* reads after an fd's read found nothing, in a row */
  unsigned fd_reads_skipped;
  int value_asked; /* the last user message's value was asked for */

  /* send */
  block_t *head, *tail;              /* data frames, in order */
  block_t *inflight, *inflight_tail; /* handle frames awaiting ACKs, FIFO */
  size_t inflight_count;
  size_t window;   /* handle frames allowed in flight: 1 is Node's rule */
  int window_off;  /* a NACK came: Node's rule for good */
  int batch_ok;    /* the peer's last ACK offered batches ("batch":1) */
  uint64_t tx_seq; /* data blocks written in full so far */
  block_t *spare;
  char *ctrl; /* ACK/NACK frames, which may pass held data */
  size_t ctrl_len, ctrl_off, ctrl_cap;
  uint64_t queued_pos, written_pos;
  send_req_t *reqs;
  size_t reqs_head, reqs_len, reqs_cap;
};

/* ---- small containers ---------------------------------------------------- */

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

static void fds_close_all(muster_channel_t *ch) {
  int fd;
  while ((fd = fds_pop(ch)) >= 0)
    close(fd);
}

/* Room for one more send request, so that queueing it cannot fail after
 * its frame went into the stream. */
static int reqs_reserve(muster_channel_t *ch) {
  if (ch->reqs_len < ch->reqs_cap)
    return 0;
  size_t cap = ch->reqs_cap ? ch->reqs_cap * 2 : 16;
  send_req_t *n = malloc(cap * sizeof *n);
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
  send_req_t *r = &ch->reqs[(ch->reqs_head + ch->reqs_len++) % ch->reqs_cap];
  r->end = ch->queued_pos;
  r->cb = cb;
  r->arg = arg;
}

static void block_free(muster_channel_t *ch, block_t *b) {
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

/* ---- lifecycle ----------------------------------------------------------- */

static void flush(muster_channel_t *ch);
static void on_poll(uv_poll_t *h, int status, int events);

static void maybe_free(muster_channel_t *ch) {
  if (!ch->user_closed || ch->handles_open > 0)
    return;
  muster_channel_close_cb cb = ch->close_cb;
  if (cb)
    cb(ch);
  muster__frame_free(&ch->rx);
  free(ch->fds);
  free(ch->reqs);
  free(ch->ctrl);
  if (ch->spare) {
    free(ch->spare->data);
    free(ch->spare);
  }
  free(ch);
}

static void on_handle_closed(uv_handle_t *h) {
  muster_channel_t *ch = h->data;
  ch->handles_open--;
  maybe_free(ch);
}

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

static void update_poll(muster_channel_t *ch) {
  if (ch->state == ST_ENDED)
    return;
  int want = UV_READABLE;
  if (ch->ctrl_len > ch->ctrl_off || head_sendable(ch))
    if (!ch->flush_scheduled)
      want |= UV_WRITABLE;
  if (want != ch->poll_events) {
    ch->poll_events = want;
    uv_poll_start(&ch->poll, want, on_poll);
  }
}

/* Fails every send not yet completed with `status`, in order. */
static void fail_sends(muster_channel_t *ch, int status) {
  while (ch->reqs_len > 0 && !ch->user_closed) {
    send_req_t r = ch->reqs[ch->reqs_head];
    ch->reqs_head = (ch->reqs_head + 1) % ch->reqs_cap;
    ch->reqs_len--;
    if (r.cb)
      r.cb(ch, status, r.arg);
  }
  if (ch->user_closed) {
    while (ch->reqs_len > 0) {
      send_req_t r = ch->reqs[ch->reqs_head];
      ch->reqs_head = (ch->reqs_head + 1) % ch->reqs_cap;
      ch->reqs_len--;
      if (r.cb)
        r.cb(ch, MUSTER_ECANCELED, r.arg);
    }
  }
}

static void drop_output(muster_channel_t *ch) {
  while (ch->head) {
    block_t *b = ch->head;
    ch->head = b->next;
    block_free(ch, b);
  }
  ch->tail = NULL;
  while (ch->inflight) {
    block_t *b = ch->inflight;
    ch->inflight = b->next;
    block_free(ch, b);
  }
  ch->inflight_tail = NULL;
  ch->inflight_count = 0;
  ch->ctrl_len = ch->ctrl_off = 0;
}

/* The fd's end: stop I/O, close the fd and everything owned that came with
 * it. `report`: call on_disconnect(reason). The order matters: the poll
 * handle is closed before the fd (uv_close removes the fd from epoll
 * synchronously), so a reused fd number is never confused with ours. */
static void end_channel(muster_channel_t *ch, int reason, int report) {
  if (ch->state == ST_ENDED)
    return;
  ch->state = ST_ENDED;
  uv_idle_stop(&ch->idle);
  uv_check_stop(&ch->check);
  ch->flush_scheduled = 0;
  uv_close((uv_handle_t *)&ch->poll, on_handle_closed);
  close(ch->fd);
  ch->fd = -1;
  fds_close_all(ch);
  drop_output(ch);
  if (ch->end_hook) {
    void (*hook)(void *) = ch->end_hook;
    ch->end_hook = NULL;
    hook(ch->end_hook_arg);
  }
  fail_sends(ch, ch->user_closed ? MUSTER_ECANCELED : MUSTER_EPIPE);
  if (report && !ch->user_closed && ch->opt.on_disconnect) {
    ch->opt.on_disconnect(ch, reason);
  }
}

static void report_error(muster_channel_t *ch, int err) {
  if (ch->opt.on_error && !ch->user_closed)
    ch->opt.on_error(ch, err);
}

static void on_flush_idle(uv_idle_t *h) {
  flush(h->data);
}
static void on_flush_check(uv_check_t *h) {
  flush(h->data);
}

static void schedule_flush(muster_channel_t *ch) {
  if (ch->flush_scheduled || ch->state == ST_ENDED || ch->in_flush)
    return;
  ch->flush_scheduled = 1;
  uv_idle_start(&ch->idle, on_flush_idle);
  uv_check_start(&ch->check, on_flush_check);
}

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
  ch->state = ST_OPEN;
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
  fail_sends(ch, MUSTER_ECANCELED);
  uv_close((uv_handle_t *)&ch->idle, on_handle_closed);
  uv_close((uv_handle_t *)&ch->check, on_handle_closed);
}

int muster_channel_disconnect(muster_channel_t *ch) {
  if (ch == NULL)
    return MUSTER_EINVAL;
  if (ch->state != ST_OPEN)
    return MUSTER_ENOTCONN;
  ch->state = ST_DISCONNECTING;
  /* The end comes from flush(), on the loop, once the queue is empty. */
  schedule_flush(ch);
  return 0;
}

int muster_channel_connected(const muster_channel_t *ch) {
  return ch != NULL && ch->state == ST_OPEN;
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

void muster__channel_set_end_hook(muster_channel_t *ch, void (*fn)(void *),
                                  void *arg) {
  ch->end_hook = fn;
  ch->end_hook_arg = arg;
}

size_t muster_channel_queue_size(const muster_channel_t *ch) {
  return (size_t)(ch->queued_pos - ch->written_pos);
}

/* ---- sending ------------------------------------------------------------- */

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

static void abort_frame(muster_channel_t *ch, frame_t *f) {
  if (f->is_new) {
    f->b->fd = -1;
    block_free(ch, f->b);
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

/* The part of a send both forms share: `text` (len bytes) or `json`. */
static int do_send(muster_channel_t *ch, const char *text, size_t len,
                   const json_t *json, int handle_fd,
                   const muster_send_options_t *opts, muster_send_cb cb,
                   void *arg) {
  if (ch->state != ST_OPEN)
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
  if (handle_fd >= 0) {
    char head[128];
    int n = snprintf(head, sizeof head,
                     "{\"cmd\":\"NODE_HANDLE\",\"type\":\"%s\",\"msg\":",
                     muster__handle_node_type(ht, native));
    err = frame_append(&f, head, (size_t)n);
  }
  size_t body = f.b->len;
  if (!err) {
    if (text) {
      err = frame_append(&f, text, len);
    } else {
      /* Our own encoder, not jansson's dump: it copies plain runs whole and
       * stops at the size limit instead of building the whole text first
       * (src/json_write.c has the figures). The block may move. */
      struct muster__buf mb = {f.b->data, f.b->len, f.b->cap};
      err = muster__json_write(json, &mb, ch->opt.max_message_size);
      f.b->data = mb.data;
      f.b->cap = mb.cap;
      f.b->len = mb.len;
    }
  }
  if (!err && f.b->len - body > ch->opt.max_message_size)
    err = MUSTER_EMSGSIZE;
  if (!err && handle_fd >= 0) {
    if (ht == MUSTER_HANDLE_UDP && !native) {
      err = frame_append(&f,
                         domain == AF_INET6 ? ",\"dgramType\":\"udp6\"}"
                                            : ",\"dgramType\":\"udp4\"}",
                         20);
    } else {
      err = frame_append(&f, "}", 1);
    }
  }
  if (!err)
    err = frame_append(&f, "\n", 1);
  if (!err && cb)
    err = reqs_reserve(ch);
  if (!err && handle_fd >= 0) {
    int fd = handle_fd;
    if (keep_open) {
      /* Our own duplicate, so a NACK can be answered with a retransmission
       * however soon the caller closes theirs. */
      fd = fcntl(handle_fd, F_DUPFD_CLOEXEC, 0);
      if (fd < 0)
        err = -errno;
    }
    if (!err)
      f.b->fd = fd;
  }
  if (err) {
    abort_frame(ch, &f);
    return err;
  }
  commit_frame(ch, &f);
  if (cb)
    reqs_push(ch, cb, arg);
  schedule_flush(ch);
  if (muster_channel_queue_size(ch) > ch->opt.high_water_mark) {
    ch->need_drain = 1;
    return 1;
  }
  return 0;
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
  return do_send(ch, NULL, 0, message, handle_fd, options, cb, arg);
}

int muster_channel_send_text(muster_channel_t *ch, const char *json, size_t len,
                             int handle_fd,
                             const muster_send_options_t *options,
                             muster_send_cb cb, void *arg) {
  if (ch == NULL || json == NULL || len == 0)
    return MUSTER_EINVAL;
  if (ch->state != ST_OPEN)
    return MUSTER_ENOTCONN;
  if (len > ch->opt.max_message_size)
    return MUSTER_EMSGSIZE;
  if (memchr(json, '\n', len) != NULL)
    return MUSTER_EINVAL;
  return do_send(ch, json, len, NULL, handle_fd, options, cb, arg);
}

static void queue_ctrl(muster_channel_t *ch, const char *frame, size_t n) {
  if (ch->state == ST_ENDED)
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
  memcpy(ch->ctrl + ch->ctrl_len, frame, n);
  ch->ctrl_len += n;
  schedule_flush(ch);
}

/* Calls the callbacks of every send whose bytes are all written. */
static void complete_sends(muster_channel_t *ch) {
  while (ch->reqs_len > 0 && ch->state != ST_ENDED) {
    send_req_t *r = &ch->reqs[ch->reqs_head];
    if (r->end > ch->written_pos)
      break;
    send_req_t done = *r;
    ch->reqs_head = (ch->reqs_head + 1) % ch->reqs_cap;
    ch->reqs_len--;
    done.cb(ch, 0, done.arg);
  }
}

/* One sendmsg, with `nfds` fds on its first skb. Returns the bytes written
 * or a negative error. */
static ssize_t write_some(muster_channel_t *ch, struct iovec *iov, int n,
                          const int *fds, int nfds) {
  ssize_t r;
  if (nfds == 0 && n == 1) {
    /* The usual case of a small message or a run of them: send() skips
     * the msghdr and iovec copies of sendmsg. */
    do
      r = send(ch->fd, iov[0].iov_base, iov[0].iov_len,
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
  mh.msg_iov = iov;
  mh.msg_iovlen = (size_t)n;
  if (nfds > 0) {
    mh.msg_control = cm.buf;
    mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    memset(cm.buf, 0, mh.msg_controllen);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
  }
  do
    r = sendmsg(ch->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

static void on_readable(muster_channel_t *ch, int drain);

/* A write failed: read what the peer sent before it went away (its last
 * messages and its end of file are worth more than our error), then end. */
static void write_failed(muster_channel_t *ch, int err) {
  if (ch->state != ST_ENDED)
    on_readable(ch, 1);
  if (ch->state != ST_ENDED)
    end_channel(ch, err == MUSTER_EPIPE ? 0 : err, 1);
}

/* Writes as much as the socket takes. */
static void flush(muster_channel_t *ch) {
  if (ch->flush_scheduled) {
    ch->flush_scheduled = 0;
    uv_idle_stop(&ch->idle);
    uv_check_stop(&ch->check);
  }
  if (ch->state == ST_ENDED || ch->in_flush)
    return;
  ch->in_flush = 1;
  for (;;) {
    struct iovec iov[MAX_IOV];
    int n = 0, nfds = 0, fds[CMSG_FDS];
    block_t *fd_blocks[CMSG_FDS];
    size_t ctrl = 0, bytes = 0;
    /* A muster peer (it offered a window) takes several handle frames in
     * one sendmsg, their fds together on its first skb ("Batches" in
     * docs/channel.md); a Node peer gets each alone, with its fd. */
    int batch = ch->window > 1 && ch->batch_ok;
    size_t fd_room = 1, batch_bytes = 0; /* asked for when needed */
    if (batch) {
      size_t busy = ch->inflight_count +
                    (ch->head && ch->head->fd >= 0 && ch->head->fd_sent);
      fd_room = ch->window > busy ? ch->window - busy : 0;
      if (fd_room > CMSG_FDS)
        fd_room = CMSG_FDS;
    }
    if (ch->ctrl_len > ch->ctrl_off &&
        (ch->head == NULL || ch->head->off == 0)) {
      /* ACK/NACK frames only leave at a frame boundary of the data, and
       * first: plain frames that may go join them in the same sendmsg. */
      ctrl = ch->ctrl_len - ch->ctrl_off;
      iov[0].iov_base = ch->ctrl + ch->ctrl_off;
      iov[0].iov_len = ctrl;
      bytes = ctrl;
      n = 1;
    }
    if (head_sendable(ch)) {
      for (block_t *b = ch->head; b && n < MAX_IOV; b = b->next) {
        size_t left = b->len - b->off;
        if (b->fd >= 0 && !batch && n > 0)
          break; /* to Node, a handle's fd rides on the first byte... */
        if (b->fd >= 0 && !b->fd_sent) {
          /* ...and to muster, every frame that claims an fd of this
           * sendmsg lies within its first skb. */
          if (n > 0 && nfds == (int)fd_room)
            break;
          if (n > 0 && batch_bytes == 0)
            batch_bytes = batch_bytes_for(ch->fd);
          if (n > 0 && bytes + left > batch_bytes)
            break;
          fd_blocks[nfds] = b;
          fds[nfds++] = b->fd;
        }
        iov[n].iov_base = b->data + b->off;
        iov[n].iov_len = left;
        bytes += left;
        n++;
        if (b->fd >= 0 && !batch)
          break; /* ...and ends it: one fd per sendmsg */
        if (ctrl == 0 && ch->ctrl_len > ch->ctrl_off)
          break; /* let the ACK out at the next boundary */
      }
    }
    if (n == 0)
      break;
    ssize_t w = write_some(ch, iov, n, fds, nfds);
    if (w == -EAGAIN)
      break;
    if (w < 0) {
      ch->in_flush = 0;
      write_failed(ch, (int)w);
      return;
    }
    size_t left = (size_t)w;
    if (ctrl > 0) {
      size_t take = left < ctrl ? left : ctrl;
      ch->ctrl_off += take;
      left -= take;
      if (ch->ctrl_off == ch->ctrl_len)
        ch->ctrl_off = ch->ctrl_len = 0;
    }
    for (int i = 0; i < nfds; i++)
      fd_blocks[i]->fd_sent = 1;
    while (left > 0) {
      block_t *b = ch->head;
      size_t take = b->len - b->off < left ? b->len - b->off : left;
      b->off += take;
      left -= take;
      if (!b->uncounted)
        ch->written_pos += take;
      if (b->off < b->len)
        break;
      ch->head = b->next;
      if (ch->head == NULL)
        ch->tail = NULL;
      b->seq = ++ch->tx_seq;
      if (b->fd >= 0) {
        /* Keep the frame and its fd until the ACK: a NACK may resend it. */
        b->next = NULL;
        if (ch->inflight_tail)
          ch->inflight_tail->next = b;
        else
          ch->inflight = b;
        ch->inflight_tail = b;
        ch->inflight_count++;
      } else {
        block_free(ch, b);
      }
    }
    complete_sends(ch);
    if (ch->state == ST_ENDED) {
      ch->in_flush = 0;
      return;
    }
  }
  ch->in_flush = 0;
  if (ch->need_drain &&
      muster_channel_queue_size(ch) <= ch->opt.high_water_mark) {
    ch->need_drain = 0;
    if (ch->opt.on_drain)
      ch->opt.on_drain(ch);
    if (ch->state == ST_ENDED)
      return;
  }
  if (ch->state == ST_DISCONNECTING && ch->head == NULL &&
      ch->ctrl_len == ch->ctrl_off && ch->inflight_count == 0) {
    end_channel(ch, 0, 1);
    return;
  }
  update_poll(ch);
}

/* ---- receiving ----------------------------------------------------------- */

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
  if (cb && ch->state == ST_OPEN && !ch->user_closed)
    cb(ch, m);
  muster__message_done(m);
}

/* An ACK (with the window it advertised, 0 for none) or a NACK for the
 * oldest handle frame in flight. */
static void on_ack(muster_channel_t *ch, int ack, size_t window, int batch) {
  if (ch->inflight_count == 0) {
    report_error(ch, MUSTER_EPROTO); /* nobody waits: ignore it */
    return;
  }
  block_t *b = ch->inflight;
  ch->inflight = b->next;
  if (ch->inflight == NULL)
    ch->inflight_tail = NULL;
  ch->inflight_count--;
  b->next = NULL;
  if (ack && !ch->window_off) {
    ch->window = window > MAX_WINDOW ? MAX_WINDOW : window > 1 ? window : 1;
    ch->batch_ok = batch;
  }
  if (!ack) {
    /* A NACK ends the window for good: that peer is losing fds (out of
     * descriptors, MSG_CTRUNC), and one frame at a time is the safe way
     * to go on. */
    ch->window = 1;
    ch->window_off = 1;
    ch->batch_ok = 0;
  }
  /* A resend must not overtake: it is only correct when nothing was
   * written after the frame (always so by Node's rule, where everything
   * waits for this answer). With a window, frames sent behind it were
   * already delivered; resending now would hand this handle over after
   * them, so it is dropped and reported instead. */
  int last = b->seq == ch->tx_seq && (ch->head == NULL || ch->head->off == 0);
  if (!ack && last && b->retries < MAX_RETRANSMIT) {
    /* Resend the frame as it was (Node's sender wraps it a second time,
     * which makes a Node receiver ACK twice and crash its sender). */
    b->retries++;
    b->off = 0;
    b->fd_sent = 0;
    b->uncounted = 1;
    b->next = ch->head;
    ch->head = b;
    if (ch->tail == NULL)
      ch->tail = b;
  } else {
    block_free(ch, b); /* closes our copy of the fd */
    if (!ack)          /* given up after 4 attempts, or overtaken */
      report_error(ch, MUSTER_EPROTO);
  }
  schedule_flush(ch);
}

static void socket_list_reply(muster_channel_t *ch, const char *cmd,
                              json_t *j) {
  json_t *reply = NULL;
  json_t *key = json_object_get(j, "key");
  if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0)
    reply = json_pack("{s:s, s:O?, s:i}", "cmd", "NODE_SOCKET_COUNT", "key",
                      key, "count", 0);
  else if (strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0)
    reply =
        json_pack("{s:s, s:O?}", "cmd", "NODE_SOCKET_ALL_CLOSED", "key", key);
  if (reply) {
    do_send(ch, NULL, 0, reply, -1, NULL, NULL, NULL);
    json_decref(reply);
  }
}

static void on_handle_frame(muster_channel_t *ch, json_t *env) {
  int fd = fds_pop(ch);
  if (fd < 0) {
    queue_ctrl(ch, NACK_FRAME, sizeof NACK_FRAME - 1);
    report_error(ch, MUSTER_EPROTO);
    json_decref(env);
    return;
  }
  queue_ctrl(ch, ACK_FRAME, sizeof ACK_FRAME - 1);
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
    report_error(ch, MUSTER_EPROTO);
    json_decref(env);
    return;
  }
  muster_message_t m;
  char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL) {
    close(fd);
    report_error(ch, MUSTER_ENOMEM);
    json_decref(env);
    return;
  }
  muster__message_init_text(&m, text, strlen(text), json_incref(msg));
  muster__message_set_handle(&m, fd, json_string_value(type));
  deliver(ch, &m, internal_cmd(msg) != NULL);
  free(text);
  json_decref(env);
}

/* An ACK exactly as muster or Node writes it, without jansson: 1 when
 * it was one (and was handled). */
static int ack_fast(muster_channel_t *ch, const char *line, size_t len) {
  size_t p = sizeof WINDOW_ACK - 1;
  if (len == sizeof PLAIN_ACK - 1 && memcmp(line, PLAIN_ACK, len) == 0) {
    on_ack(ch, 1, 0, 0);
    return 1;
  }
  if (len < p + 2 || memcmp(line, WINDOW_ACK, p) != 0)
    return 0;
  /* The digits, then "}" or our ',"batch":1}'. */
  size_t end = p, win = 0;
  while (end < len && end < p + 3 && line[end] >= '0' && line[end] <= '9')
    win = win * 10 + (size_t)(line[end++] - '0');
  if (end == p || (line[p] == '0' && end - p > 1))
    return 0; /* not JSON, or not ours: the slow path sorts it out */
  int batch = 0;
  if (len - end == sizeof BATCH_TAIL - 1 &&
      memcmp(line + end, BATCH_TAIL, len - end) == 0)
    batch = 1;
  else if (len - end != 1 || line[end] != '}')
    return 0;
  on_ack(ch, 1, win, batch);
  return 1;
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
    queue_ctrl(ch, NACK_FRAME, sizeof NACK_FRAME - 1);
    report_error(ch, MUSTER_EPROTO);
    return 1;
  }
  queue_ctrl(ch, ACK_FRAME, sizeof ACK_FRAME - 1);
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
    json_t *w = json_object_get(j, "window");
    json_t *bt = json_object_get(j, "batch");
    json_int_t win = json_is_integer(w) ? json_integer_value(w) : 0;
    on_ack(ch, cmd[12] == 'A',
           win > 0 && win <= MAX_WINDOW ? (size_t)win
           : win > 0                    ? MAX_WINDOW
                                        : 0,
           json_is_integer(bt) && json_integer_value(bt) == 1);
    json_decref(j);
    return;
  }
  if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0 ||
      strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0) {
    /* Node's socket-list queries about sockets it sent us: a received fd
     * is the user's, untracked, so the answer is "none left" (which lets a
     * Node parent's server.close(cb) and getConnections(cb) complete). */
    if (ch->state == ST_OPEN)
      socket_list_reply(ch, cmd, j);
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
  if (len <= sizeof WINDOW_ACK + sizeof BATCH_TAIL + 2 &&
      ack_fast(ch, line, len))
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
    report_error(ch, MUSTER_EBADMSG);
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
      report_error(ch, MUSTER_EBADMSG);
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
    report_error(ch, MUSTER_EPROTO);
  if (ch->fds_len > MAX_WINDOW) {
    /* More fds waiting for their frames than any sender may have in
     * flight (Node: 1, muster: the window): a peer flooding us with fds
     * behind a line it never ends. Close them rather than hold them. */
    fds_close_all(ch);
    report_error(ch, MUSTER_EPROTO);
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
    fds_close_all(ch);
    report_error(ch, MUSTER_EPROTO);
  }
}

/* Reads what the socket holds, up to READS_PER_WAKE reads. `drain`: up to
 * that limit even when a read that carried fds was short (see below). */
static void on_readable(muster_channel_t *ch, int drain) {
  int after_fds = 0; /* the previous read was short and carried fds */
  for (int i = 0; i < READS_PER_WAKE && ch->state != ST_ENDED; i++) {
    char *space;
    size_t avail;
    if (muster__frame_space(&ch->rx, READ_CHUNK, &space, &avail) != 0) {
      end_channel(ch, MUSTER_ENOMEM, 1);
      return;
    }
    union {
      char buf[CMSG_SPACE(CMSG_FDS * sizeof(int))];
      struct cmsghdr align;
    } cm;
    struct iovec iov = {space, avail};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof cm.buf;
    ssize_t r = recvmsg(ch->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        if (after_fds && ch->fd_reads_idle < 2)
          ch->fd_reads_idle++;
        close_unclaimed(ch); /* the last read ended with an skb */
        return;
      }
      end_channel(ch, -errno, 1);
      return;
    }
    if (after_fds)
      ch->fd_reads_idle = 0; /* more came behind a handle: a window */
    int got_fds = mh.msg_controllen > 0;
    if (got_fds)
      take_fds(ch, &mh);
    if (r == 0) {
      /* End of file. A frame cut off in the middle is an error: the peer
       * died or wrote garbage; either way its last message is lost. */
      size_t partial = muster__frame_pending(&ch->rx);
      end_channel(ch, partial ? MUSTER_EBADMSG : 0, 1);
      return;
    }
    muster__frame_commit(&ch->rx, (size_t)r);
    const char *line;
    size_t len;
    int k;
    while ((k = muster__frame_next(&ch->rx, &line, &len)) == 1) {
      on_line(ch, line, len);
      if (ch->state == ST_ENDED)
        return;
    }
    if (k < 0) {
      end_channel(ch, k, 1);
      return;
    }
    if ((size_t)r < avail)
      close_unclaimed(ch); /* a short read ends with an skb */
    if ((size_t)r < avail && !got_fds)
      return; /* a short read: the socket is empty */
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
      return;
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  muster_channel_t *ch = h->data;
  if (status < 0) {
    end_channel(ch, status, 1);
    return;
  }
  if (events & (UV_READABLE | UV_DISCONNECT))
    on_readable(ch, 0);
  if (ch->state != ST_ENDED && (events & UV_WRITABLE))
    flush(ch);
}
