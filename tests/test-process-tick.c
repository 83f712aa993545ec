/* muster_next_tick: order, nesting, before I/O, several loops in several
 * threads, and no handle left behind. */
#include "test.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A log of events: ticks record small numbers, I/O records 1000+. */
static int events[4096];
static int nevents;

static void record(int what) {
  ASSERT(nevents < (int)(sizeof events / sizeof events[0]));
  events[nevents++] = what;
}

static void record_tick(void *arg) {
  record((int)(intptr_t)arg);
}

TEST(process_tick_fifo) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  nevents = 0;
  /* More than the queue's first capacity, so it grows while in use. */
  for (int i = 0; i < 100; i++)
    ASSERT_OK(muster_next_tick(&loop, record_tick, (void *)(intptr_t)i));
  ASSERT_EQ(nevents, 0); /* not before the loop runs */
  /* The pending ticks keep the loop alive; then it ends by itself. */
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(nevents, 100);
  for (int i = 0; i < 100; i++)
    ASSERT_EQ(events[i], i);
  /* The queue's handle closed itself: nothing for the user to close. */
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(process_tick_invalid) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_next_tick(NULL, record_tick, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_next_tick(&loop, NULL, NULL), MUSTER_EINVAL);
  /* A refused tick leaves no queue behind. */
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- nested ticks ------------------------------------------------------- */

static uv_loop_t *nest_loop;
static int chain_left;

static void chain_tick(void *arg) {
  record(3);
  if (--chain_left > 0)
    ASSERT_OK(muster_next_tick(nest_loop, chain_tick, NULL));
}

/* Tick 1 queues tick 3; tick 2 was queued before it. */
static void tick_one(void *arg) {
  record(1);
  ASSERT_OK(muster_next_tick(nest_loop, chain_tick, NULL));
}

/* Data already waiting on a socketpair: the read callback is ready as soon
 * as the loop polls. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[256];
  buf->base = slab;
  buf->len = sizeof slab;
}

static void read_once_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread == 0)
    return;
  ASSERT(nread > 0);
  record(1000);
  uv_close((uv_handle_t *)s, NULL);
}

static void open_ready_pipe(uv_loop_t *loop, uv_pipe_t *p, int *peer) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(write(sv[1], "x", 1), 1);
  ASSERT_OK(uv_pipe_init(loop, p, 0));
  ASSERT_OK(uv_pipe_open(p, sv[0])); /* the pipe now owns sv[0] */
  *peer = sv[1];
}

TEST(process_tick_nested) {
  uv_loop_t loop;
  uv_pipe_t p;
  int peer;
  ASSERT_OK(uv_loop_init(&loop));
  nest_loop = &loop;
  nevents = 0;
  chain_left = 1000;
  open_ready_pipe(&loop, &p, &peer);
  ASSERT_OK(uv_read_start((uv_stream_t *)&p, alloc_cb, read_once_cb));
  ASSERT_OK(muster_next_tick(&loop, tick_one, NULL));
  ASSERT_OK(muster_next_tick(&loop, record_tick, (void *)(intptr_t)2));
  test_run_loop(&loop, 10000);
  /* 1, 2 (queued first), then the tick 1 queued, then the 999 it chained:
   * all in the same drain, before the read that was ready all along. */
  ASSERT_EQ(nevents, 1 + 1 + 1000 + 1);
  ASSERT_EQ(events[0], 1);
  ASSERT_EQ(events[1], 2);
  for (int i = 2; i < 1002; i++)
    ASSERT_EQ(events[i], 3);
  ASSERT_EQ(events[1002], 1000);
  close(peer);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- before I/O, turn after turn ---------------------------------------- */

static int io_peer;
static uv_loop_t *io_loop;
static int reads;

static void io_tick(void *arg) {
  record((int)(intptr_t)arg);
}

static void read_twice_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread == 0)
    return;
  ASSERT(nread > 0);
  reads++;
  record(1000 + reads);
  if (reads == 1) {
    /* Make the next read ready before queueing: the tick still comes
     * first, because it runs before the loop polls again. */
    ASSERT_EQ(write(io_peer, "y", 1), 1);
    ASSERT_OK(muster_next_tick(io_loop, io_tick, (void *)(intptr_t)2));
  } else {
    uv_close((uv_handle_t *)s, NULL);
  }
}

TEST(process_tick_before_io) {
  uv_loop_t loop;
  uv_pipe_t p;
  ASSERT_OK(uv_loop_init(&loop));
  io_loop = &loop;
  nevents = 0;
  reads = 0;
  open_ready_pipe(&loop, &p, &io_peer);
  /* Reading starts first, and its data is already there; the tick was
   * queued after, and runs before it. */
  ASSERT_OK(uv_read_start((uv_stream_t *)&p, alloc_cb, read_twice_cb));
  ASSERT_OK(muster_next_tick(&loop, io_tick, (void *)(intptr_t)1));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(nevents, 4);
  ASSERT_EQ(events[0], 1);    /* tick queued before the loop ran */
  ASSERT_EQ(events[1], 1001); /* the ready read */
  ASSERT_EQ(events[2], 2);    /* tick queued by the read callback */
  ASSERT_EQ(events[3], 1002); /* the read that was ready when it was queued */
  close(io_peer);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- the queue closes and comes back ------------------------------------ */

static void timer_close_cb(uv_handle_t *h) {
  /* The closing phase, after the tick queue emptied and closed itself: a
   * new queue must be made, and it must still run. */
  record(20);
  ASSERT_OK(muster_next_tick(h->loop, record_tick, (void *)(intptr_t)21));
}

static void close_timer_tick(void *arg) {
  record(11);
  uv_close((uv_handle_t *)arg, timer_close_cb);
}

static void timer_cb(uv_timer_t *t) {
  record(10);
  ASSERT_OK(muster_next_tick(t->loop, close_timer_tick, t));
}

TEST(process_tick_queue_recreated) {
  uv_loop_t loop;
  uv_timer_t t;
  ASSERT_OK(uv_loop_init(&loop));
  nevents = 0;
  ASSERT_OK(uv_timer_init(&loop, &t));
  ASSERT_OK(uv_timer_start(&t, timer_cb, 1, 0));
  test_run_loop(&loop, 10000);
  ASSERT_EQ(nevents, 4);
  ASSERT_EQ(events[0], 10);
  ASSERT_EQ(events[1], 11);
  ASSERT_EQ(events[2], 20);
  ASSERT_EQ(events[3], 21);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- several loops in several threads ----------------------------------- */

#define THREADS 4
#define TICKS 20000

struct worker {
  uv_loop_t loop;
  pthread_t self;
  int next; /* the number the next tick must carry */
  int count;
  int nested;
};

static void worker_tick(void *arg) {
  struct worker *w = arg;
  /* Runs on its own loop's thread, in order. */
  ASSERT(pthread_equal(pthread_self(), w->self));
  w->count++;
  if (w->nested < TICKS / 10) {
    w->nested++;
    ASSERT_OK(muster_next_tick(&w->loop, worker_tick, w));
  }
}

struct seq {
  struct worker *w;
  int n;
};

static void worker_seq_tick(void *arg) {
  struct seq *s = arg;
  ASSERT(pthread_equal(pthread_self(), s->w->self));
  ASSERT_EQ(s->n, s->w->next);
  s->w->next++;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct seq *seqs = malloc(TICKS * sizeof *seqs);
  ASSERT(seqs != NULL);
  w->self = pthread_self();
  ASSERT_OK(uv_loop_init(&w->loop));
  /* Several rounds: each drains, closes its queue, and the next round
   * makes a new one, while other threads do the same with theirs. */
  for (int round = 0; round < 5; round++) {
    w->next = 0;
    for (int i = 0; i < TICKS; i++) {
      seqs[i] = (struct seq){w, i};
      ASSERT_OK(muster_next_tick(&w->loop, worker_seq_tick, &seqs[i]));
      if (i % 100 == 0)
        ASSERT_OK(muster_next_tick(&w->loop, worker_tick, w));
    }
    ASSERT_EQ(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(w->next, TICKS);
  }
  ASSERT_OK(uv_loop_close(&w->loop));
  free(seqs);
  return NULL;
}

TEST_T(process_tick_threads, 60) {
  static struct worker workers[THREADS];
  pthread_t threads[THREADS];
  memset(workers, 0, sizeof workers);
  for (int i = 0; i < THREADS; i++)
    ASSERT_EQ(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
  for (int i = 0; i < THREADS; i++)
    ASSERT_EQ(pthread_join(threads[i], NULL), 0);
  for (int i = 0; i < THREADS; i++) {
    ASSERT_EQ(workers[i].nested, TICKS / 10);
    ASSERT_EQ(workers[i].count, 5 * (TICKS / 100) + TICKS / 10);
  }
}
