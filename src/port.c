/* Message ports: a port is one end of a pair of locked queues
 * (src/port_queue.c), bound to a loop by a wake-up (src/wake.h). */
#include "port_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "message_internal.h"
#include "muster/error.h"

struct muster_port_s {
  muster__wake_t wake; /* first: the handle's address is the port's */
  muster__port_end_t end;
  muster_port_options_t o;
  int started, unrefd, closing;
  int delivering;               /* inside muster__port_deliver */
  muster__port_after_cb direct; /* muster__port_deliver_on_post's */
  int gone; /* transferred away: the object waits only for its close */
  /* The messages of the current wake-up not yet delivered, and its events:
   * a port transferred inside a callback puts them back in its queue. */
  muster__port_msg_t *batch;
  int batch_events;
  muster_port_close_cb close_cb;
  /* Blocks to post in, and blocks of delivered messages to give back
   * (src/port_queue.h). */
  muster__port_blocks_t blocks;
  muster__port_spare_t done;
  /* Spinning before sleep (spin() below): whether this thread may run on
   * more than one CPU, the current budget, sleeps without a spin. */
  int multi_cpu;
  unsigned posts; /* posts that went through, to see a reply being sent */
  uint64_t spin_ns;
  unsigned spin_skipped;
};

/* What a port message's accessors find through muster__message_source. */
typedef struct {
  muster_port_t *port;
  muster__port_msg_t *msg;
} port_source_t;

/* Spinning before sleep, and how long one wake-up may deliver. */
#define SPIN_START_NS 10000u
#define SPIN_MIN_NS 1000u
#define SPIN_MAX_NS 50000u
#define SPIN_PROBE_EVERY 64u
#define DELIVER_MAX_NS 2000000u
#define YIELD_BATCH 16u
/* A batch this large, with no post from its callbacks, is taken as a
 * stream one way: deliver() waits for the next batch with the CPU, and
 * lets it gather for STREAM_GATHER_NS before taking it. */
#define STREAM_BATCH 16u
#define STREAM_GATHER_NS 10000u

/* Marks a message as a port's: nothing to do after the callback (the port
 * frees the message and closes ends nobody took). */
static const muster__message_hooks_t port_hooks = {NULL, NULL};

static void on_wake(uv_poll_t *h, int status, int events);

static void update_ref(muster_port_t *p) {
  if (p->started && p->o.on_message && !p->unrefd && !p->closing)
    uv_ref((uv_handle_t *)&p->wake.poll);
  else
    uv_unref((uv_handle_t *)&p->wake.poll);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int may_run_on_two_cpus(void) {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
}

static void set_options(muster_port_t *p, const muster_port_options_t *o) {
  if (o)
    p->o = *o;
  if (p->o.high_water_mark == 0)
    p->o.high_water_mark = MUSTER_PORT_HIGH_WATER_MARK;
  if (p->o.max_message_size == 0)
    p->o.max_message_size = MUSTER_PORT_MAX_MESSAGE_SIZE;
}

/* A port on `loop` for `end` (taken on success). */
int muster__port_adopt(uv_loop_t *loop, muster__port_end_t *end,
                       muster_port_t **out) {
  muster_port_t *p = calloc(1, sizeof *p);
  int r;
  if (p == NULL)
    return MUSTER_ENOMEM;
  r = muster__wake_init(loop, &p->wake, end->own->fd, on_wake);
  if (r != 0) {
    free(p);
    return r;
  }
  set_options(p, NULL);
  update_ref(p);
  p->multi_cpu = may_run_on_two_cpus();
  p->spin_ns = SPIN_START_NS;
  p->end = *end;
  end->own = end->peer = NULL;
  muster__port_queue_bind(p->end.own, &p->wake);
  *out = p;
  return 0;
}

int muster__port_pair_ends(muster__port_end_t *a, muster__port_end_t *b) {
  muster__port_queue_t *qa = NULL, *qb = NULL;
  int r = muster__port_queue_new(&qa);
  if (r == 0)
    r = muster__port_queue_new(&qb);
  if (r != 0) {
    muster__port_queue_unref(qa);
    return r;
  }
  muster__port_queue_ref(qa);
  muster__port_queue_ref(qb);
  *a = (muster__port_end_t){qa, qb};
  *b = (muster__port_end_t){qb, qa};
  return 0;
}

int muster_port_pair(uv_loop_t *loop, muster_port_t **a, muster_port_t **b) {
  muster__port_end_t ea, eb;
  int r;
  if (loop == NULL || a == NULL || b == NULL)
    return MUSTER_EINVAL;
  r = muster__port_pair_ends(&ea, &eb);
  if (r != 0)
    return r;
  r = muster__port_adopt(loop, &ea, a);
  if (r != 0)
    goto fail;
  r = muster__port_adopt(loop, &eb, b);
  if (r != 0) {
    muster_port_close(*a, NULL);
    goto fail;
  }
  return 0;
fail:
  muster__port_end_close(&ea);
  muster__port_end_close(&eb);
  return r;
}

int muster_port_start(muster_port_t *port,
                      const muster_port_options_t *options) {
  if (port == NULL)
    return MUSTER_EINVAL;
  if (port->closing)
    return MUSTER_ENOTCONN;
  set_options(port, options);
  port->started = 1;
  update_ref(port);
  muster__port_queue_kick(port->end.own);
  return 0;
}

/* ---- delivery ------------------------------------------------------------ */

static void deliver_one(muster_port_t *p, muster__port_msg_t *msg,
                        muster_port_message_cb cb) {
  muster_message_t m;
  port_source_t src = {p, msg};
  int r = muster__port_msg_open(msg, &m);
  if (r != 0) {
    if (p->o.on_messageerror)
      p->o.on_messageerror(p, r);
  } else {
    muster__message_set_source(&m, &src, &port_hooks);
    if (cb)
      cb(p, &m);
    muster__message_done(&m);
  }
  muster__port_msg_recycle(msg, &p->done);
}

static void deliver_events(muster_port_t *p, int events) {
  if ((events & MUSTER__PORT_EV_DRAINED) && p->o.on_drain)
    p->o.on_drain(p);
  if ((events & MUSTER__PORT_EV_PEER_CLOSED) && !p->closing && !p->gone &&
      p->o.on_close)
    p->o.on_close(p);
}

/* Takes and delivers what is queued now, adding the messages to *count. 0
 * when the port was closed or transferred by a callback (then it must not
 * be touched again). */
static int deliver_batch(muster_port_t *p, unsigned *count) {
  int events = 0;
  p->batch = muster__port_queue_take(p->end.own, MUSTER__PORT_TAKE_AWAKE,
                                     &events, &p->done);
  /* The poster is told at once: its bytes left the queue with this take
   * (so a batch put back by a transfer does not tell it again). */
  p->batch_events = events & ~MUSTER__PORT_EV_DRAIN_WANTED;
  if ((events & MUSTER__PORT_EV_DRAIN_WANTED) && p->end.peer)
    muster__port_queue_signal(p->end.peer, MUSTER__PORT_EV_DRAINED);
  while (p->batch && !p->closing && !p->gone) {
    muster__port_msg_t *msg = p->batch;
    p->batch = msg->next;
    msg->next = NULL;
    deliver_one(p, msg, p->o.on_message);
    ++*count;
  }
  if (p->closing || p->gone)
    return 0; /* close dropped the rest; a transfer put it back */
  /* Still ours: a callback's transfer of this port that failed put the
   * events back in the queue (detach), for the next take. */
  events = p->batch_events;
  p->batch_events = 0;
  deliver_events(p, events);
  return !p->closing && !p->gone && p->started;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Before going back to sleep after a callback posted, or after a batch of
 * a stream, wait a little for the next message with the CPU: the answer
 * to what the callback posted, or the stream's next messages, from a
 * thread running on another CPU, often come within microseconds, and
 * catching them here saves both sides a wake-up (the poster sees the port
 * awake and writes no eventfd; this side skips epoll_wait and the read).
 * The budget adapts: a spin that caught something keeps at least twice
 * what it waited, one that caught nothing halves it (below SPIN_MIN_NS it
 * is 0: the other side was waiting for a CPU, and spinning only kept this
 * one busy), and at 0 one sleep in SPIN_PROBE_EVERY tries SPIN_START_NS
 * again. Never when this thread may run on one CPU only: there the other
 * side cannot run while this one spins. A spin holds the loop for at most
 * SPIN_MAX_NS. Returns 1 when something came. */
static int spin(muster_port_t *p) {
  uint64_t t0, waited;
  if (!p->multi_cpu)
    return 0;
  if (p->spin_ns == 0) {
    /* Spinning lost lately (the other side waited for a CPU): try again
     * now and then, briefly, in case the machine calmed down. */
    if (++p->spin_skipped < SPIN_PROBE_EVERY)
      return 0;
    p->spin_skipped = 0;
    p->spin_ns = SPIN_START_NS;
  }
  t0 = now_ns();
  for (unsigned i = 1;; i++) {
    if (muster__port_queue_ready(p->end.own))
      break;
    cpu_relax();
    if (i % 32 == 0 && now_ns() - t0 > p->spin_ns) {
      p->spin_ns /= 2;
      if (p->spin_ns < SPIN_MIN_NS)
        p->spin_ns = 0;
      return 0;
    }
  }
  waited = now_ns() - t0;
  if (p->spin_ns < 2 * waited + SPIN_MIN_NS)
    p->spin_ns = 2 * waited + SPIN_MIN_NS;
  if (p->spin_ns > SPIN_MAX_NS)
    p->spin_ns = SPIN_MAX_NS;
  return 1;
}

/* On a thread that may run on one CPU only, after a small batch taken for
 * a wake-up (posts from other threads): give the CPU away once, with the
 * queue held awake, and go on when something came meanwhile. Returns 1
 * then.
 *
 * There the poster and this thread share the CPU, and the scheduler lets
 * a woken thread take it at once: a post woke this one, which took that
 * one message, slept in epoll_wait, and gave the CPU back — two context
 * switches and two system calls per message (in `taskset -c 0
 * build/bench/threads -f mu-oneway-bytes`, over 99% of the wake-ups took
 * at most one message; a few long turns of the poster carried the rest).
 * Yielding instead lets the poster run on, into a queue that stays awake
 * (its posts make no system call), and this thread takes the lot when it
 * gets the CPU back; when nobody else wants the CPU the yield returns at
 * once. A large batch means the poster already ran on (no yield), and
 * DELIVER_MAX_NS bounds the loop. */
static int yield_for_more(muster_port_t *p, unsigned count, uint64_t t0) {
  if (count == 0 || count >= YIELD_BATCH || now_ns() - t0 > DELIVER_MAX_NS)
    return 0;
  if (muster__port_queue_hold(p->end.own))
    return 1; /* it came already */
  sched_yield();
  return muster__port_queue_release(p->end.own);
}

/* Leaving the delivery loop: the queue sleeps (the next post wakes the
 * owner) when it is empty; else the owner wakes itself, to come back for
 * the rest after the loop's other handles. */
static void settle(muster_port_t *p) {
  if (muster__port_queue_release(p->end.own))
    muster__port_queue_kick(p->end.own);
}

/* The next batch of a stream is in: let it grow a little before taking
 * it. Taking every few messages makes the queue's lock (and the line the
 * posts write) cross CPUs for each take; a wait of STREAM_GATHER_NS makes
 * the batches a hundred messages or more at full speed. */
static void gather(void) {
  uint64_t t0 = now_ns();
  for (unsigned i = 1;; i++) {
    cpu_relax();
    if (i % 32 == 0 && now_ns() - t0 > STREAM_GATHER_NS)
      return;
  }
}

/* Delivers as muster__port_deliver; `woken`: called for a wake-up of the
 * loop (posts from other threads), where yielding to them can help.
 *
 * The queue stays awake (posts write no eventfd) from the first take to
 * the end of the loop, and every way out of the loop leaves it asleep
 * when empty, or rung: no message can wait there unseen. */
static void deliver(muster_port_t *p, int woken) {
  uint64_t t0;
  unsigned posts;
  if (p->closing || p->gone || !p->started || p->delivering)
    return;
  p->delivering = 1;
  t0 = now_ns();
  for (;;) {
    unsigned count = 0;
    posts = p->posts;
    if (!deliver_batch(p, &count))
      break; /* closed, transferred (its next owner binds and wakes) */
    if (!p->multi_cpu) {
      if (!woken || !yield_for_more(p, count, t0)) {
        settle(p);
        break;
      }
      continue;
    }
    /* Within a bound that keeps the loop's other handles served, the
     * port goes on with the CPU: for an answer, when a callback of the
     * batch posted (a request or a reply), and for the next batch of a
     * stream. Both wait with spin(), whose budget adapts. */
    if (now_ns() - t0 > DELIVER_MAX_NS) {
      settle(p);
      break;
    }
    if (p->posts != posts && spin(p))
      continue;
    if (p->posts == posts && count >= STREAM_BATCH && spin(p)) {
      gather();
      continue;
    }
    if (!muster__port_queue_release(p->end.own))
      break; /* empty: asleep until the next post */
  }
  p->delivering = 0;
}

void muster__port_deliver(muster_port_t *p) {
  deliver(p, 0);
}

void muster__port_deliver_on_post(muster_port_t *port,
                                  muster__port_after_cb after) {
  port->direct = after;
  muster__port_queue_set_direct(port->end.own, port);
}

static void on_wake(uv_poll_t *h, int status, int events) {
  muster_port_t *p = (muster_port_t *)h;
  muster__wake_clear(&p->wake);
  deliver(p, 1);
}

int muster_port_receive(muster_port_t *port, muster_port_message_cb cb) {
  muster__port_msg_t *msg;
  if (port == NULL || cb == NULL)
    return MUSTER_EINVAL;
  if (port->closing || port->gone)
    return MUSTER_ENOTCONN;
  /* Inside a callback, the rest of the wake-up's batch comes first. */
  msg = port->batch;
  if (msg)
    port->batch = msg->next;
  else
    msg = muster__port_queue_take(port->end.own, MUSTER__PORT_TAKE_ONE, NULL,
                                  &port->done);
  if (msg == NULL)
    return 0;
  msg->next = NULL;
  deliver_one(port, msg, cb);
  return 1;
}

/* ---- posting ------------------------------------------------------------- */

static int check_buffers(const muster_transfer_t *t) {
  if (t->nbuffers && t->buffers == NULL)
    return MUSTER_EINVAL;
  for (size_t i = 0; i < t->nbuffers; i++) {
    if (muster__buffer_check(t->buffers[i]) != 0)
      return MUSTER_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (t->buffers[j] == t->buffers[i])
        return MUSTER_EINVAL;
  }
  return 0;
}

static int check_transfer(muster_port_t *p, const muster_transfer_t *t) {
  if (t == NULL)
    return 0;
  if (check_buffers(t) != 0 || (t->nports && t->ports == NULL) ||
      (t->nshared && t->shared == NULL))
    return MUSTER_EINVAL;
  for (size_t i = 0; i < t->nshared; i++)
    if (t->shared[i] == NULL)
      return MUSTER_EINVAL;
  for (size_t i = 0; i < t->nports; i++) {
    muster_port_t *tp = t->ports[i];
    if (tp == NULL || tp == p || tp->closing || tp->gone ||
        tp->wake.poll.loop != p->wake.poll.loop || tp->end.own == p->end.peer)
      return MUSTER_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (t->ports[j] == tp)
        return MUSTER_EINVAL;
  }
  return 0;
}

/* Unbinds a port about to travel; what it had taken but not delivered goes
 * back to its queue first, so its next owner gets everything in order. */
static void detach(muster_port_t *tp, muster__port_end_t *into) {
  muster__port_queue_bind(tp->end.own, NULL);
  if (tp->batch || tp->batch_events)
    muster__port_queue_unget(tp->end.own, tp->batch, tp->batch_events);
  tp->batch = NULL;
  tp->batch_events = 0;
  *into = tp->end;
}

static void free_port(uv_handle_t *h) {
  muster_port_t *p = (muster_port_t *)h;
  muster__port_blocks_free(&p->blocks);
  muster__port_spare_free(&p->done);
  if (p->close_cb)
    p->close_cb(p);
  free(p);
}

/* Buffers move only once the message is sure to be sent: the push calls
 * this under the receiving queue's lock. Detaching cannot fail after the
 * check, and takes no lock. */
static void commit_buffers(muster__port_msg_t *msg, void *arg) {
  const muster_transfer_t *t = arg;
  for (size_t i = 0; i < t->nbuffers; i++) {
    muster__buffer_detach(t->buffers[i], &msg->x->bufs[i].st);
    msg->x->bufs[i].present = 1;
  }
  msg->x->nbufs = t->nbuffers;
}

static int post_msg(muster_port_t *p, muster__port_msg_t *msg,
                    const muster_transfer_t *t) {
  size_t n = t ? t->nports : 0, nb = t ? t->nbuffers : 0;
  size_t ns = t ? t->nshared : 0;
  muster__port_extra_t *x = NULL;
  int r;
  if ((n || nb || ns) &&
      ((x = msg->x = calloc(1, sizeof *x)) == NULL ||
       (nb && (x->bufs = calloc(nb, sizeof *x->bufs)) == NULL) ||
       (ns && (x->shared = calloc(ns, sizeof *x->shared)) == NULL) ||
       (n && (x->ends = calloc(n, sizeof *x->ends)) == NULL))) {
    muster__port_msg_free(msg);
    return MUSTER_ENOMEM;
  }
  /* A shared buffer travels as a reference of its own (freeing an unsent
   * message drops it again). */
  for (size_t i = 0; i < ns; i++)
    x->shared[i] = muster_shared_ref(t->shared[i]);
  if (x)
    x->nshared = ns;
  for (size_t i = 0; i < n; i++)
    detach(t->ports[i], &x->ends[i]);
  if (x)
    x->nends = n;
  r = muster__port_queue_push(p->end.peer, msg, p->o.high_water_mark,
                              nb ? commit_buffers : NULL, (void *)t, &p->blocks.spare);
  if (r < 0) {
    /* The ports stay where they were, bound again (and woken for what
     * detach put back). */
    for (size_t i = 0; i < n; i++)
      muster__port_queue_bind(t->ports[i]->end.own, &t->ports[i]->wake);
    if (x)
      x->nends = 0;
    muster__port_msg_free(msg);
    return r;
  }
  p->posts++;
  for (size_t i = 0; i < n; i++) {
    muster_port_t *tp = t->ports[i];
    tp->end.own = tp->end.peer = NULL;
    tp->gone = 1;
    muster__wake_close(&tp->wake, free_port);
  }
  muster_port_t *direct = muster__port_queue_direct(p->end.peer);
  if (direct && !direct->delivering) {
    muster__port_deliver(direct);
    direct->direct(direct); /* closed meanwhile: freed on a later turn */
  }
  return r;
}

static int post_check(muster_port_t *p, const muster_transfer_t *t) {
  if (p == NULL)
    return MUSTER_EINVAL;
  if (p->closing || p->gone)
    return MUSTER_ENOTCONN;
  return check_transfer(p, t);
}

int muster_port_post(muster_port_t *port, const json_t *value,
                     const muster_transfer_t *transfer) {
  muster__port_msg_t *msg;
  int r = post_check(port, transfer);
  if (r == 0 && value == NULL)
    r = MUSTER_EINVAL;
  if (r == 0)
    r = muster__port_msg_json_in(&port->blocks, value, port->o.max_message_size,
                                 &msg);
  return r != 0 ? r : post_msg(port, msg, transfer);
}

static int post_copy(muster_port_t *port, int format, const void *data,
                     size_t len, const muster_transfer_t *transfer) {
  muster__port_msg_t *msg;
  int r = post_check(port, transfer);
  if (r == 0 && data == NULL && len != 0)
    r = MUSTER_EINVAL;
  if (r == 0)
    r = muster__port_msg_copy_in(&port->blocks, format, data, len,
                                 port->o.max_message_size, &msg);
  return r != 0 ? r : post_msg(port, msg, transfer);
}

int muster__port_post_raw(muster_port_t *port, int format, const void *data,
                          size_t len) {
  return post_copy(port, format, data, len, NULL);
}

int muster_port_post_text(muster_port_t *port, const char *json, size_t len,
                          const muster_transfer_t *transfer) {
  if (json == NULL || len == 0)
    return MUSTER_EINVAL;
  return post_copy(port, MUSTER__PORT_MSG_TEXT, json, len, transfer);
}

int muster_port_post_bytes(muster_port_t *port, const void *bytes, size_t len,
                           const muster_transfer_t *transfer) {
  return post_copy(port, MUSTER__PORT_MSG_BYTES, bytes, len, transfer);
}

/* ---- closing, and the rest ----------------------------------------------- */

void muster_port_close(muster_port_t *port, muster_port_close_cb cb) {
  if (port == NULL || port->closing || port->gone)
    return;
  if (port->direct)
    muster__port_queue_set_direct(port->end.own, NULL);
  port->closing = 1;
  port->close_cb = cb;
  muster__port_msg_free_list(port->batch);
  port->batch = NULL;
  muster__port_queue_bind(port->end.own, NULL);
  /* The handle first: it stops watching the doorbell now, which the
   * queue (freed by the end's close when this was the last reference)
   * closes. */
  muster__wake_close(&port->wake, free_port);
  muster__port_end_close(&port->end);
}

int muster__port_close_handle(uv_handle_t *h) {
  if (muster__wake_of(h, on_wake) == NULL)
    return 0;
  muster_port_close((muster_port_t *)h, NULL);
  return 1;
}

void muster_port_ref(muster_port_t *port) {
  port->unrefd = 0;
  update_ref(port);
}

void muster_port_unref(muster_port_t *port) {
  port->unrefd = 1;
  update_ref(port);
}

void *muster_port_data(const muster_port_t *port) {
  return port->o.data;
}

void muster_port_set_data(muster_port_t *port, void *data) {
  port->o.data = data;
}

uv_loop_t *muster_port_loop(const muster_port_t *port) {
  return port->wake.poll.loop;
}

size_t muster_port_queue_size(const muster_port_t *port) {
  return port->end.peer ? muster__port_queue_bytes(port->end.peer) : 0;
}

/* ---- ports inside messages ----------------------------------------------- */

/* What travelled with a port's message, or NULL. */
static muster__port_extra_t *port_extra(const muster_message_t *m) {
  if (m == NULL || m->hooks != &port_hooks)
    return NULL;
  return ((port_source_t *)muster__message_source(m))->msg->x;
}

size_t muster_message_port_count(const muster_message_t *message) {
  muster__port_extra_t *x = port_extra(message);
  return x ? x->nends : 0;
}

size_t muster_message_buffer_count(const muster_message_t *message) {
  muster__port_extra_t *x = port_extra(message);
  return x ? x->nbufs : 0;
}

size_t muster_message_shared_count(const muster_message_t *message) {
  muster__port_extra_t *x = port_extra(message);
  return x ? x->nshared : 0;
}

muster_shared_t *muster_message_take_shared(muster_message_t *message,
                                            size_t i) {
  muster__port_extra_t *x = port_extra(message);
  muster_shared_t *s;
  if (x == NULL || i >= x->nshared)
    return NULL;
  s = x->shared[i];
  x->shared[i] = NULL;
  return s;
}

muster_buffer_t *muster_message_take_buffer(muster_message_t *message,
                                            size_t i) {
  muster__port_extra_t *x = port_extra(message);
  muster_buffer_t *out;
  if (x == NULL || i >= x->nbufs || !x->bufs[i].present)
    return NULL;
  if (muster__buffer_attach(&x->bufs[i].st, &out) != 0)
    return NULL;
  x->bufs[i].present = 0;
  return out;
}

muster_port_t *muster_message_take_port(muster_message_t *message, size_t i) {
  muster__port_extra_t *x = port_extra(message);
  port_source_t *src;
  muster_port_t *out;
  if (x == NULL || i >= x->nends || x->ends[i].own == NULL)
    return NULL;
  src = muster__message_source(message);
  if (muster__port_adopt(src->port->wake.poll.loop, &x->ends[i], &out) != 0)
    return NULL;
  return out;
}
