/* bench/shared: an atomics wait/notify round trip between two threads.
 *
 *   build/bench/shared [-n N] [-r ROUNDS] [-w WARMUP] [-s SCRIPT]
 *
 * Two threads play ping-pong on one 32-bit word: the word's parity says
 * whose turn it is; a side waits while it is not its turn, then stores the
 * next value and wakes the other. One round trip is two such turns.
 *
 * Variants:
 *   raw           FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE on a plain int:
 *                 the limit
 *   muster        muster_shared_wait / muster_shared_notify on a shared
 *                 buffer (shared futexes: they also reach other processes)
 *   muster-async  the main thread waits with muster_shared_wait_async on a
 *                 libuv loop, the other thread with muster_shared_wait
 *   node          Atomics.wait / Atomics.notify, main thread and a Worker
 *   node-async    the main thread awaits Atomics.waitAsync, the Worker
 *                 blocks in Atomics.wait
 * each once unpinned and once pinned (both threads on CPU 0: the wake-up
 * is then a switch on one CPU, no cross-CPU wake-up).
 *
 * R rounds run every variant once (N round trips after WARMUP), in an order
 * that rotates per round; a figure is the median across rounds of
 * microseconds per round trip, ratios divide by raw's median of the same
 * pinning. The node variants run bench/node/shared.js once per round (its
 * start-up is not timed); pinned, node inherits our affinity.
 *
 * The last line of output is one JSON object with every figure.
 */
#include <muster.h>

#include "bench.h"

#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#define DEFAULT_N 20000
#define DEFAULT_ROUNDS 7
#define DEFAULT_WARMUP 1000
#define NODE_TIMEOUT_MS (5 * 60 * 1000)

enum { RAW, MUSTER, MUSTER_ASYNC, NODE, NODE_ASYNC, KINDS };
static const char *const kind_names[KINDS] = {"raw", "muster", "muster-async",
                                              "node", "node-async"};

typedef struct {
  _Atomic int32_t *word;
  int kind;
  int total; /* warmup + n */
  int warmup;
  uint64_t t0, t1;
} game_t;

static void wait_turn(const game_t *g, int me) {
  int32_t v;
  while ((v = atomic_load(g->word)) % 2 != me) {
    if (g->kind == RAW)
      syscall(SYS_futex, g->word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
    else
      muster_shared_wait(g->word, v, MUSTER_SHARED_FOREVER);
  }
}

static void give_turn(const game_t *g) {
  atomic_fetch_add(g->word, 1);
  if (g->kind == RAW)
    syscall(SYS_futex, g->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  else
    muster_shared_notify(g->word, 1);
}

static void *other_side(void *arg) {
  game_t *g = arg;
  for (int i = 0; i < g->total; i++) {
    wait_turn(g, 1);
    give_turn(g);
  }
  return NULL;
}

/* muster-async: the main side is a chain of waits on a loop. */
typedef struct {
  game_t *g;
  uv_loop_t *loop;
  int done;
} chain_t;

static void chain_step(chain_t *c);

static void on_turn(muster_shared_wait_t *w, int result, void *data) {
  chain_step(data);
}

static void chain_step(chain_t *c) {
  for (;;) {
    int32_t v = atomic_load(c->g->word);
    if (v % 2 != 0) {
      int r = muster_shared_wait_async(c->loop, c->g->word, v,
                                       MUSTER_SHARED_FOREVER, on_turn, c, NULL);
      if (r == MUSTER_SHARED_PENDING)
        return;
      continue;
    }
    if (c->done == c->g->warmup)
      c->g->t0 = bench_now_ns();
    if (c->done == c->g->total) {
      c->g->t1 = bench_now_ns();
      return;
    }
    c->done++;
    give_turn(c->g);
  }
}

static void pin(pthread_t th, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    for (int c = 0; c < CPU_SETSIZE && c < sysconf(_SC_NPROCESSORS_ONLN); c++)
      CPU_SET(c, &set);
  } else {
    CPU_SET(cpu, &set);
  }
  pthread_setaffinity_np(th, sizeof set, &set);
}

/* One timed game in this process; microseconds per round trip. */
static double play_here(int kind, int pinned, int warmup, int n) {
  muster_shared_t *s;
  if (muster_shared_create(64, &s) != 0)
    abort();
  int32_t plain = 0;
  game_t g = {kind == RAW ? (_Atomic int32_t *)&plain : muster_shared_i32(s, 0),
              kind == MUSTER_ASYNC ? MUSTER : kind,
              warmup + n,
              warmup,
              0,
              0};
  pthread_t th;
  pin(pthread_self(), pinned ? 0 : -1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_create(&th, &attr, other_side, &g);
  pin(th, pinned ? 0 : -1);
  if (kind == MUSTER_ASYNC) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    chain_t c = {&g, &loop, 0};
    chain_step(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  } else {
    for (int i = 0; i < g.total; i++) {
      if (i == warmup)
        g.t0 = bench_now_ns();
      wait_turn(&g, 0);
      give_turn(&g);
    }
    g.t1 = bench_now_ns();
  }
  pthread_join(th, NULL);
  pthread_attr_destroy(&attr);
  pin(pthread_self(), -1);
  muster_shared_unref(s);
  return (double)(g.t1 - g.t0) / n / 1000.0;
}

static double play_node(const char *script, int async, int pinned, int warmup,
                        int n) {
  char w[32], nn[32];
  snprintf(w, sizeof w, "%d", warmup);
  snprintf(nn, sizeof nn, "%d", n);
  const char *argv[] = {"node", script, async ? "async" : "sync", w, nn, NULL};
  pin(pthread_self(), pinned ? 0 : -1);
  json_t *answer = bench_node_run("shared", argv, NODE_TIMEOUT_MS);
  pin(pthread_self(), -1);
  double ns = -1;
  if (answer != NULL)
    ns = json_number_value(json_object_get(answer, "ns_per_rtt"));
  json_decref(answer);
  return ns < 0 ? -1 : ns / 1000.0;
}

static int parse_count(const char *s, int min) {
  return (int)bench_parse_count("shared", s, min, INT_MAX);
}

int main(int argc, char **argv) {
  int n = DEFAULT_N, rounds = DEFAULT_ROUNDS, warmup = DEFAULT_WARMUP;
  const char *script = bench_node_script("shared.js");
  int opt;
  while ((opt = getopt(argc, argv, "n:r:w:s:")) != -1) {
    switch (opt) {
    case 'n':
      n = parse_count(optarg, 1);
      break;
    case 'r':
      rounds = parse_count(optarg, 1);
      break;
    case 'w':
      warmup = parse_count(optarg, 0);
      break;
    case 's':
      script = optarg;
      break;
    default:
      fprintf(stderr, "usage: shared [-n N] [-r ROUNDS] [-w WARMUP] "
                      "[-s SCRIPT]\n");
      return 2;
    }
  }
  bench_machine_t m;
  bench_machine_start(&m);
  int node_ok = bench_node_usable(script);
  printf("# %d rounds of %d round trips (after %d) per variant\n", rounds, n,
         warmup);

  enum { V = KINDS * 2 };
  double *xs[V];
  for (int v = 0; v < V; v++)
    xs[v] = calloc((size_t)rounds, sizeof(double));
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < V; k++) {
      int v = (k + r) % V, kind = v / 2, pinned = v % 2;
      if (kind >= NODE)
        xs[v][r] =
            node_ok ? play_node(script, kind == NODE_ASYNC, pinned, warmup, n)
                    : -1;
      else
        xs[v][r] = play_here(kind, pinned, warmup, n);
    }
  }
  bench_machine_end(&m);

  double med[V], lo[V], hi[V];
  for (int v = 0; v < V; v++) {
    med[v] = bench_median(xs[v], rounds);
    lo[v] = xs[v][0];
    hi[v] = xs[v][rounds - 1];
  }
  printf("%-22s %10s %10s %10s %8s\n", "variant", "us/rtt", "min", "max",
         "x raw");
  json_t *doc = json_pack("{s:s, s:i, s:i, s:i}", "bench", "shared", "rounds",
                          rounds, "n", n, "warmup", warmup);
  for (int v = 0; v < V; v++) {
    int kind = v / 2, pinned = v % 2;
    char name[64];
    snprintf(name, sizeof name, "%s%s", kind_names[kind],
             pinned ? " (pinned)" : "");
    if (med[v] < 0) {
      printf("%-22s %10s\n", name, "skipped");
      continue;
    }
    double ratio = med[v] / med[pinned];
    printf("%-22s %10.2f %10.2f %10.2f %8.2f\n", name, med[v], lo[v], hi[v],
           ratio);
    char key[80];
    snprintf(key, sizeof key, "%s%s_us", kind_names[kind],
             pinned ? "_pinned" : "");
    for (char *p = key; *p; p++)
      if (*p == '-')
        *p = '_';
    json_object_set_new(doc, key, json_real(bench_rounded(med[v], 100)));
    snprintf(key + strlen(key) - 3, sizeof key - strlen(key) + 3, "_x_raw");
    json_object_set_new(doc, key, json_real(bench_rounded(ratio, 100)));
  }
  for (int v = 0; v < V; v++)
    free(xs[v]);
  bench_print_json(doc);
  return 0;
}
