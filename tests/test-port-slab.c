/* Small message blocks carved from slabs (src/port_slab.h) under stress.
 *
 * A slab is carved by its poster's thread and its blocks are given back
 * by whoever is done with them: the receiving thread after delivery, the
 * closing thread for messages a close drops, the poster's thread for what
 * it never carved when its port goes; a slab whose blocks all came back
 * goes to a process-wide pool that every poster takes from. A block given
 * back too early, or a count that loses a give-back, shows here as a
 * message whose bytes changed under the receiver (another message was
 * written into its block), a message lost or out of order, or (under
 * ASan and TSan) a use after free or a data race.
 *
 * Three worker threads stream bytes messages to the creator's loop at
 * once, each message [sender][sequence number][filler from both] with a
 * length that cycles across the small-block size (some in slab blocks,
 * some malloc'd); two on their parent ports, the third on a port the
 * creator transferred to it, which the creator closes after a while with
 * messages still queued (dropped, so given back on the creator's thread
 * while the poster still carves). Thread mode only: a slab is memory of
 * one process. A second run has every thread on one CPU. */
#include "test.h"

#include <stdint.h>
#include <string.h>

#define SENDERS 3
#define PER_SENDER 30000
#define CLOSE_AT 7000 /* the transferred port's messages before its close */

static size_t msg_len(uint64_t seq) {
  return 9 + (size_t)(seq % 112); /* 9..120 bytes: both sides of 88 */
}

static void msg_fill(unsigned char *b, int sender, uint64_t seq) {
  size_t len = msg_len(seq);
  b[0] = (unsigned char)sender;
  memcpy(b + 1, &seq, sizeof seq);
  for (size_t i = 9; i < len; i++)
    b[i] = (unsigned char)(seq * 7 + i + (unsigned)sender);
}

static void stream(muster_port_t *p, int sender) {
  unsigned char b[128];
  for (uint64_t seq = 0; seq < PER_SENDER; seq++) {
    msg_fill(b, sender, seq);
    if (muster_port_post_bytes(p, b, msg_len(seq), NULL) < 0)
      break; /* the other end closed (the third sender) */
  }
}

typedef struct {
  uint64_t next[SENDERS];
  int bad, exits;
  muster_port_t *third; /* the creator's end of the transferred pair */
} slab_rx_t;

static void check(slab_rx_t *rx, muster_message_t *m) {
  unsigned char want[128];
  uint64_t seq;
  size_t len;
  const unsigned char *b = muster_message_bytes(m, &len);
  if (b == NULL || len < 9 || b[0] >= SENDERS) {
    rx->bad++;
    return;
  }
  memcpy(&seq, b + 1, sizeof seq);
  msg_fill(want, b[0], rx->next[b[0]]);
  if (seq != rx->next[b[0]] || len != msg_len(seq) || memcmp(b, want, len))
    rx->bad++;
  rx->next[b[0]]++;
}

static void on_thread_message(muster_thread_t *t, muster_message_t *m) {
  check(muster_thread_data(t), m);
}

static void on_third_message(muster_port_t *p, muster_message_t *m) {
  slab_rx_t *rx = muster_port_data(p);
  check(rx, m);
  if (rx->next[2] == CLOSE_AT) {
    muster_port_close(p, NULL); /* drops what is queued behind */
    rx->third = NULL;
  }
}

static void on_exit_close(muster_thread_t *t, int code) {
  slab_rx_t *rx = muster_thread_data(t);
  rx->exits++;
  if (code != 0)
    rx->bad++;
  muster_thread_close(t, NULL);
}

static int streamer(uv_loop_t *loop, void *arg) {
  stream(muster_thread_parent_port(), (int)(intptr_t)arg);
  return 0;
}

/* The third sender: waits for a port on its parent port, streams on it,
 * then closes both. */
static void got_port(muster_port_t *parent, muster_message_t *m) {
  muster_port_t *p = muster_message_take_port(m, 0);
  if (p == NULL)
    return;
  stream(p, 2);
  muster_port_close(p, NULL);
  muster_port_close(parent, NULL);
}

static int third_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = got_port;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static void stress(void) {
  uv_loop_t loop;
  slab_rx_t rx;
  muster_thread_t *t;
  muster_port_t *mine, *theirs;
  memset(&rx, 0, sizeof rx);
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = {0};
  o.on_message = on_thread_message;
  o.on_exit = on_exit_close;
  o.data = &rx;
  o.high_water_mark = (size_t)-1;
  for (intptr_t i = 0; i < 2; i++) {
    o.arg = (void *)i;
    ASSERT_OK(muster_thread_create(&loop, streamer, &o, &t));
  }
  ASSERT_OK(muster_thread_create(&loop, third_entry, &o, &t));
  ASSERT_OK(muster_port_pair(&loop, &mine, &theirs));
  muster_port_options_t po = {0};
  po.on_message = on_third_message;
  po.data = &rx;
  ASSERT_OK(muster_port_start(mine, &po));
  rx.third = mine;
  json_t *v = json_true();
  muster_transfer_t tr = {.ports = &theirs, .nports = 1};
  ASSERT(muster_port_post(muster_thread_port(t), v, &tr) >= 0);
  test_run_loop(&loop, 100000);
  ASSERT_EQ(rx.bad, 0);
  ASSERT_EQ(rx.exits, 3);
  ASSERT_EQ(rx.next[0], PER_SENDER);
  ASSERT_EQ(rx.next[1], PER_SENDER);
  ASSERT_EQ(rx.next[2], CLOSE_AT);
  ASSERT(rx.third == NULL);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST_T(port_slab_stress, 120) {
  stress();
}

/* Ping-pong: each side answers the other's message, so each waits for
 * the other's post to wake it. */
#define ROUND_TRIPS 3000

static void pong(muster_port_t *p, muster_message_t *m) {
  size_t len;
  const void *b = muster_message_bytes(m, &len);
  if (len == 0)
    muster_port_close(p, NULL);
  else if (muster_port_post_bytes(p, b, len, NULL) < 0)
    muster_port_close(p, NULL);
}

static int pong_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = pong;
  return muster_port_start(muster_thread_parent_port(), &o);
}

static void ping(muster_thread_t *t, muster_message_t *m) {
  slab_rx_t *rx = muster_thread_data(t);
  size_t len;
  const unsigned char *b = muster_message_bytes(m, &len);
  uint64_t seq;
  if (len != sizeof seq) {
    rx->bad++;
    return;
  }
  memcpy(&seq, b, sizeof seq);
  if (seq != rx->next[0])
    rx->bad++;
  seq = ++rx->next[0];
  if (seq < ROUND_TRIPS)
    muster_port_post_bytes(muster_thread_port(t), &seq, sizeof seq, NULL);
  else
    muster_port_post_bytes(muster_thread_port(t), NULL, 0, NULL); /* stop */
}

static void ping_pong(void) {
  uv_loop_t loop;
  slab_rx_t rx;
  muster_thread_t *t;
  uint64_t first = 0;
  memset(&rx, 0, sizeof rx);
  ASSERT_OK(uv_loop_init(&loop));
  muster_thread_options_t o = {0};
  o.on_message = ping;
  o.on_exit = on_exit_close;
  o.data = &rx;
  ASSERT_OK(muster_thread_create(&loop, pong_entry, &o, &t));
  ASSERT(muster_port_post_bytes(muster_thread_port(t), &first, sizeof first,
                                NULL) >= 0);
  test_run_loop(&loop, 60000);
  ASSERT_EQ(rx.bad, 0);
  ASSERT_EQ(rx.exits, 1);
  ASSERT_EQ(rx.next[0], ROUND_TRIPS);
  ASSERT_OK(uv_loop_close(&loop));
}

/* The same, then a ping-pong, with every thread on one CPU: there a port
 * yields the CPU after a small batch with its queue held awake
 * (src/port.c, yield_for_more), so posts come in while it neither sleeps
 * nor looks; a wake-up lost there leaves a side asleep with messages
 * queued (the test times out), one taken twice or out of order fails the
 * checks. */
TEST_T(port_slab_stress_one_cpu, 120) {
  /* The threads the test creates inherit it; the test is a process of
   * its own. */
  test_pin_one_cpu();
  stress();
  ping_pong();
}
