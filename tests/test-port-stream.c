/* A port's delivery loop and its ways out (src/port.c, deliver).
 *
 * A port stays awake from its first take to the end of its delivery loop
 * (posts write no eventfd meanwhile), waits for the next batch of a
 * stream with the CPU and lets it gather, and must leave the queue asleep
 * when empty, or rung when not: a message left behind otherwise sits
 * there unseen until the next post. Here a thread posts bursts of every
 * size around the stream threshold, each followed by an end mark, and
 * posts the next burst only when the creator has acknowledged the mark:
 * a message stranded in the creator's queue leaves both sides waiting,
 * and the watchdog fails the test. One burst lasts 150 ms, during which a
 * 1 ms timer on the creator's loop must keep firing (the loop is bounded
 * per wake-up, so a stream cannot hold its other handles). A second run
 * has both threads on one CPU, where a port yields instead. */
#include "test.h"

#include <stdint.h>
#include <string.h>

/* Burst sizes; 0 means "for LONG_MS". */
static const int bursts[] = {1, 5000, 1, 15, 16, 17, 2, 40000, 0, 3, 64, 1};
#define NBURSTS (int)(sizeof bursts / sizeof bursts[0])
#define LONG_MS 150

/* The thread: posts burst `i` when asked (a message holding i), then a
 * mark [-1, count]. Posts `v` and drops it. */
static int post_value(muster_port_t *p, json_t *v) {
  int r = muster_port_post(p, v, NULL);
  json_decref(v);
  return r;
}

static void on_ask(muster_port_t *p, muster_message_t *m) {
  json_t *v = muster_message_json(m);
  if (!json_is_integer(v)) {
    muster_port_close(p, NULL); /* done */
    return;
  }
  int i = (int)json_integer_value(v);
  json_int_t count = 0;
  if (bursts[i] > 0) {
    for (; count < bursts[i]; count++)
      if (post_value(p, json_integer(count)) < 0)
        return;
  } else {
    uint64_t end = test_now_ms() + LONG_MS;
    do {
      for (int k = 0; k < 256; k++, count++)
        if (post_value(p, json_integer(count)) < 0)
          return;
    } while (test_now_ms() < end);
  }
  post_value(p, json_pack("[iI]", -1, count));
}

static int poster_entry(uv_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  muster_port_options_t o = {0};
  o.on_message = on_ask;
  o.high_water_mark = (size_t)-1;
  return muster_port_start(muster_thread_parent_port(), &o);
}

typedef struct {
  int burst;            /* the one being received */
  json_int_t next;      /* the next value expected in it */
  int bad, exits, done;
  uv_timer_t tick;
  unsigned ticks;       /* of the 1 ms timer, during the long burst */
  unsigned long_ticks;
} rx_t;

static void ask(muster_thread_t *t, rx_t *rx) {
  json_t *v = rx->burst < NBURSTS ? json_integer(rx->burst) : json_null();
  ASSERT(muster_port_post(muster_thread_port(t), v, NULL) >= 0);
  json_decref(v);
}

static void on_tick(uv_timer_t *h) {
  rx_t *rx = h->data;
  rx->ticks++;
}

static void on_value(muster_thread_t *t, muster_message_t *m) {
  rx_t *rx = muster_thread_data(t);
  json_t *v = muster_message_json(m);
  if (json_is_integer(v)) {
    if (json_integer_value(v) != rx->next)
      rx->bad++;
    rx->next++;
    return;
  }
  /* The mark: every value of the burst came, in order, before it. */
  json_int_t count = json_integer_value(json_array_get(v, 1));
  if (!json_is_array(v) || count != rx->next ||
      (bursts[rx->burst] > 0 && count != bursts[rx->burst]))
    rx->bad++;
  if (bursts[rx->burst] == 0) {
    rx->long_ticks = rx->ticks;
    uv_timer_stop(&rx->tick);
  }
  rx->burst++;
  rx->next = 0;
  if (rx->burst < NBURSTS && bursts[rx->burst] == 0) {
    rx->ticks = 0;
    uv_timer_start(&rx->tick, on_tick, 1, 1);
  }
  ask(t, rx);
}

static void on_exit_close(muster_thread_t *t, int code) {
  rx_t *rx = muster_thread_data(t);
  rx->exits++;
  if (code != 0)
    rx->bad++;
  uv_close((uv_handle_t *)&rx->tick, NULL);
  muster_thread_close(t, NULL);
}

static void run(void) {
  uv_loop_t loop;
  rx_t rx;
  muster_thread_t *t;
  memset(&rx, 0, sizeof rx);
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_timer_init(&loop, &rx.tick));
  rx.tick.data = &rx;
  muster_thread_options_t o = {0};
  o.on_message = on_value;
  o.on_exit = on_exit_close;
  o.data = &rx;
  o.high_water_mark = (size_t)-1;
  ASSERT_OK(muster_thread_create(&loop, poster_entry, &o, &t));
  ask(t, &rx);
  test_run_loop(&loop, 30000);
  ASSERT_EQ(rx.bad, 0);
  ASSERT_EQ(rx.exits, 1);
  ASSERT_EQ(rx.burst, NBURSTS);
  /* 150 ms of stream: the 1 ms timer fired all along (at least a few
   * times even on a loaded machine). */
  ASSERT_GE(rx.long_ticks, 10);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST_T(port_stream_bursts, 120) {
  run();
}

TEST_T(port_stream_bursts_one_cpu, 120) {
  test_pin_one_cpu(); /* the thread it creates inherits it */
  run();
}
