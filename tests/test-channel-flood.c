/* A peer that writes and never reads (issue 9, item 4): whatever it sends,
 * the replies the channel owes it must not grow our memory without bound.
 * The peer here is a raw socket on the test's own loop, writing frames as
 * fast as the socket takes them and reading nothing until told to. */
#include "test-channel-util.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOD_FRAMES 800000
#define STALL_TICKS 20 /* loop turns of 50 ms without a byte written */

typedef struct {
  uv_loop_t loop;
  muster_channel_t *ch;
  tch_t t;
  int raw;           /* the peer's end */
  uv_poll_t poll;    /* the peer: writable while flooding, then readable */
  uv_timer_t timer;  /* notices when the peer's writes stall */
  const char *frame; /* what the peer writes, again and again */
  size_t frame_len;
  char chunk[64 * 1024]; /* frames back to back */
  size_t chunk_len, chunk_off;
  long frames_left;
  long frames_written;
  uint64_t bytes_written, bytes_at_tick;
  int stall_ticks;
  size_t max_queue; /* the channel's queue at its largest, sampled */
  long replies;     /* lines the peer read back */
  long replies_wanted;
  int reading;
} flood_t;

static void flood_stop(flood_t *f) {
  uv_poll_stop(&f->poll);
  uv_timer_stop(&f->timer);
  uv_stop(&f->loop);
}

static void on_raw_writable(uv_poll_t *h, int status, int events) {
  flood_t *f = h->data;
  ASSERT_OK(status);
  while (f->frames_left > 0) {
    if (f->chunk_off == f->chunk_len) {
      size_t n = sizeof f->chunk / f->frame_len;
      if ((long)n > f->frames_left)
        n = (size_t)f->frames_left;
      f->chunk_len = n * f->frame_len;
      f->chunk_off = 0;
    }
    ssize_t w = send(f->raw, f->chunk + f->chunk_off,
                     f->chunk_len - f->chunk_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
      ASSERT(errno == EAGAIN || errno == EINTR);
      return;
    }
    /* Count whole frames as their last byte goes. */
    size_t before = f->chunk_off / f->frame_len;
    f->chunk_off += (size_t)w;
    size_t after = f->chunk_off / f->frame_len;
    f->frames_left -= (long)(after - before);
    f->frames_written += (long)(after - before);
    f->bytes_written += (uint64_t)w;
  }
  uv_poll_stop(&f->poll); /* all written */
}

static void on_tick(uv_timer_t *h) {
  flood_t *f = h->data;
  size_t q = muster_channel_queue_size(f->ch);
  if (q > f->max_queue)
    f->max_queue = q;
  if (f->bytes_written != f->bytes_at_tick) {
    f->bytes_at_tick = f->bytes_written;
    f->stall_ticks = 0;
    return;
  }
  /* All written, or the channel stopped taking more. */
  if (++f->stall_ticks >= STALL_TICKS)
    flood_stop(f);
}

static void flood_open(flood_t *f, const char *frame) {
  memset(f, 0, sizeof *f);
  tch_init(&f->t);
  ASSERT_OK(uv_loop_init(&f->loop));
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  muster_channel_options_t o = tch_options(&f->t);
  ASSERT_OK(muster_channel_open(&f->loop, sv[0], &o, &f->ch));
  f->raw = sv[1];
  f->frame = frame;
  f->frame_len = strlen(frame);
  size_t n = sizeof f->chunk / f->frame_len;
  for (size_t i = 0; i < n; i++)
    memcpy(f->chunk + i * f->frame_len, frame, f->frame_len);
  f->chunk_len = f->chunk_off = 0;
  f->frames_left = FLOOD_FRAMES;
  ASSERT_OK(uv_poll_init(&f->loop, &f->poll, f->raw));
  f->poll.data = f;
  ASSERT_OK(uv_timer_init(&f->loop, &f->timer));
  f->timer.data = f;
}

/* Floods until the peer's writes stall or all frames went; returns how
 * much the process's peak resident set grew, in KiB. */
static long flood_run(flood_t *f) {
  long hwm0 = tch_vm_hwm_kb();
  ASSERT_OK(uv_poll_start(&f->poll, UV_WRITABLE, on_raw_writable));
  ASSERT_OK(uv_timer_start(&f->timer, on_tick, 50, 50));
  uv_run(&f->loop, UV_RUN_DEFAULT);
  return tch_vm_hwm_kb() - hwm0;
}

/* The peer now reads: every reply line is counted until `want` came. */
static void on_raw_readable(uv_poll_t *h, int status, int events) {
  flood_t *f = h->data;
  char buf[64 * 1024];
  ssize_t r = recv(f->raw, buf, sizeof buf, MSG_DONTWAIT);
  if (r < 0 && errno == EAGAIN)
    return;
  ASSERT(r > 0);
  for (ssize_t i = 0; i < r; i++)
    f->replies += buf[i] == '\n';
  if (f->replies >= f->replies_wanted)
    flood_stop(f);
}

static void flood_read_replies(flood_t *f, long want) {
  f->replies_wanted = want;
  ASSERT_OK(uv_poll_start(&f->poll, UV_READABLE, on_raw_readable));
  test_run_loop(&f->loop, 60000);
  ASSERT_EQ(f->replies, want);
}

static void flood_close(flood_t *f) {
  muster_channel_close(f->ch, NULL);
  uv_close((uv_handle_t *)&f->poll, NULL);
  uv_close((uv_handle_t *)&f->timer, NULL);
  ASSERT_OK(uv_run(&f->loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&f->loop));
  close(f->raw);
}

/* Bounds for what the channel may hold for a peer that does not read: its
 * high-water mark, plus what one read (64 KiB of frames) makes it owe. */
#define QUEUE_BOUND (MUSTER_CHANNEL_HIGH_WATER_MARK + 256 * 1024)
/* ASan keeps freed memory in its quarantine (up to 256 MiB), and the
 * socket-list path allocates for every query: there the bound is wider,
 * still far below the flood's unbounded cost (38 MiB without ASan). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(UNDER_ASAN)
#define GROWTH_BOUND_KB (64 * 1024)
#else
#define GROWTH_BOUND_KB (8 * 1024)
#endif

/* NODE_HANDLE frames with no fd: each is reported (EPROTO) and earns a
 * NACK, but a peer that reads none of them is owed no more than a window's
 * worth: the channel keeps reading, and its memory stays flat. */
TEST_T(channel_flood_nack, 120) {
  flood_t *f = malloc(sizeof *f);
  ASSERT(f != NULL);
  flood_open(f,
             "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":1}\n");
  long grown = flood_run(f);
  fprintf(stderr, "%ld frames written, peak RSS grew %ld KiB, queue %zu\n",
          f->frames_written, grown, f->max_queue);
  ASSERT_LE(grown, GROWTH_BOUND_KB);
  ASSERT_LE(f->max_queue, QUEUE_BOUND);
  ASSERT_LE(muster_channel_queue_size(f->ch), QUEUE_BOUND);
  ASSERT_EQ(f->frames_written, FLOOD_FRAMES); /* never blocked */
  ASSERT_EQ(f->t.nerrors, FLOOD_FRAMES);
  ASSERT_EQ(f->t.errors[0], MUSTER_EPROTO);
  ASSERT_EQ(f->t.messages, 0);
  ASSERT_EQ(f->t.drains, 0);
  ASSERT_EQ(f->t.disconnects, 0);
  flood_close(f);
  free(f);
}

/* Node's socket-list queries: each earns a reply. For a peer that reads
 * none, the channel stops reading once the replies it owes pass the
 * high-water mark, so the peer's writes block instead of our memory
 * growing; when the peer reads, every query is answered after all, and
 * on_drain never fires (the user sent nothing). */
TEST_T(channel_flood_socket_count, 120) {
  flood_t *f = malloc(sizeof *f);
  ASSERT(f != NULL);
  flood_open(f, "{\"cmd\":\"NODE_SOCKET_GET_COUNT\",\"key\":\"k\"}\n");
  long grown = flood_run(f);
  fprintf(stderr, "%ld frames written, peak RSS grew %ld KiB, queue %zu\n",
          f->frames_written, grown, f->max_queue);
  ASSERT_LE(grown, GROWTH_BOUND_KB);
  ASSERT_LE(f->max_queue, QUEUE_BOUND);
  ASSERT_LE(muster_channel_queue_size(f->ch), QUEUE_BOUND);
  ASSERT(f->frames_written < FLOOD_FRAMES); /* the peer was held back */
  ASSERT_EQ(f->t.internals, 0);
  ASSERT_EQ(f->t.nerrors, 0);
  flood_read_replies(f, f->frames_written);
  ASSERT_EQ(f->t.drains, 0);
  ASSERT_EQ(f->t.disconnects, 0);
  ASSERT_EQ(muster_channel_queue_size(f->ch), 0);
  flood_close(f);
  free(f);
}
