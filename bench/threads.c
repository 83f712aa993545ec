/* bench/threads: worker threads, ports and the pool against the raw limits
 * of this machine and against Node's worker_threads (and piscina).
 *
 *   threads [-q] [-r ROUNDS] [-f FILTER] [-N]
 *     -q         fewer operations per variant (a quick look, noisier)
 *     -r ROUNDS  rounds (default 5; 3 with -q)
 *     -f FILTER  only the variants whose name contains FILTER, or one of
 *                its comma-separated parts (-f mu-oneway,mu-mib)
 *     -N         without the Node variants
 *
 * What is measured (muster | raw anchor | Node):
 *   start        create -> online, create -> first message | pthread
 *                create+join | new Worker -> 'online', -> first message
 *   oneway       small JSON messages/s from a thread, and 8 raw bytes |
 *                a mutex+condvar queue of the same JSON text, encoded by
 *                the port's encoder (so the ratio leaves out what encoding
 *                costs), and of ints | parentPort.postMessage
 *   rtt          round trip of a small message | a futex ping-pong
 *                between two threads | the same in JS
 *   1 MiB        round trip copied and transferred | memcpy of 1 MiB,
 *                twice | the same with a Buffer and a transferred
 *                ArrayBuffer
 *   idle         resident memory per idle thread | - | per idle Worker
 *   pool         tiny tasks/s on 2 threads (1 and 16 handed ahead), and
 *                on 2 worker processes (isolation = process); create ->
 *                first result and close of a 1-worker pool, each mode |
 *                - | piscina, 2 threads (installed with npm into
 *                $TMPDIR/muster-bench-piscina when missing; skipped with a
 *                note if npm fails)
 * The atomics wait/notify round trip is bench/shared's.
 *
 * Every round runs every variant twice: unpinned (the CPUs this process was
 * started on) and pinned (the first of them, as `taskset -c 0`; threads and
 * node inherit it), in an order that rotates per round. A figure is the
 * median across rounds; the ratios divide medians of the same pinning. The
 * last line is one JSON object with every median and ratio. */
#include "bench.h"
/* The port's JSON encoder, for the locked queue of encoded messages. */
#include "../src/json_write.h"

#include <getopt.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static int quick;
/* Operations per variant and round. */
#define OPS(full) (quick ? ((full) / 5 > 0 ? (full) / 5 : 1) : (full))

static double ms_since(uint64_t t0) {
  return (double)(bench_now_ns() - t0) / 1e6;
}

static cpu_set_t all_cpus; /* the affinity this process was started with */

static void pin(int pinned) {
  cpu_set_t set = all_cpus;
  if (pinned) {
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &all_cpus))
      first++;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
  }
  sched_setaffinity(0, sizeof set, &set);
}

/* ---- raw anchors --------------------------------------------------------- */

static void *nothing(void *arg) {
  return arg;
}

static double raw_create_join_us(int n) {
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
  }
  return ms_since(t0) * 1e3 / n;
}

static atomic_int fword;

static void fwait(int expect) {
  while (atomic_load(&fword) == expect)
    syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

static void fwake(int v) {
  atomic_store(&fword, v);
  syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_echo(void *arg) {
  int n = (int)(intptr_t)arg;
  for (int i = 0; i < n; i++) {
    fwait(0); /* ping */
    fwake(0); /* pong */
  }
  return NULL;
}

static double raw_futex_rtt_us(int n) {
  pthread_t t;
  atomic_store(&fword, 0);
  pthread_create(&t, NULL, futex_echo, (void *)(intptr_t)n);
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    fwake(1);
    fwait(1);
  }
  double us = ms_since(t0) * 1e3 / n;
  pthread_join(t, NULL);
  return us;
}

/* A mutex+condvar queue of fixed-size items, one producer thread, the
 * main thread consuming in batches (what a port does, with no loop). */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  char *items;
  size_t size, head, tail, n;
} rawq_t;

static rawq_t rq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
                    0, 0, 0, 0};

/* Inlined at each call with its constant size, so the copy is a store. */
static inline void rawq_push(rawq_t *q, const void *item, size_t size) {
  pthread_mutex_lock(&q->lock);
  memcpy(q->items + q->tail++ * size, item, size);
  if (q->tail - q->head == 1)
    pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

/* Runs `producer` on a thread pushing n items of `size` bytes; returns
 * items per second. `use` reads each item (so the consumer touches it). */
static double rawq_per_s(int n, size_t size, void *(*producer)(void *),
                         size_t (*use)(const char *item)) {
  pthread_t t;
  size_t sum = 0;
  rq.items = malloc((size_t)n * size);
  rq.size = size;
  rq.head = rq.tail = 0;
  rq.n = (size_t)n;
  uint64_t t0 = bench_now_ns();
  pthread_create(&t, NULL, producer, NULL);
  for (size_t got = 0; got < rq.n;) {
    pthread_mutex_lock(&rq.lock);
    while (rq.head == rq.tail)
      pthread_cond_wait(&rq.cond, &rq.lock);
    size_t end = rq.tail;
    pthread_mutex_unlock(&rq.lock);
    for (; rq.head < end; rq.head++, got++)
      sum += use(rq.items + rq.head * size);
  }
  double s = ms_since(t0) / 1e3;
  pthread_join(t, NULL);
  free(rq.items);
  return sum > 0 ? n / s : 0;
}

static void *raw_producer(void *arg) {
  for (size_t i = 0; i < rq.n; i++) {
    int v = (int)i + 1;
    rawq_push(&rq, &v, sizeof v);
  }
  return arg;
}

static size_t use_int(const char *item) {
  int v;
  memcpy(&v, item, sizeof v);
  return (size_t)v;
}

static double raw_queue_per_s(int n) {
  return rawq_per_s(n, sizeof(int), raw_producer, use_int);
}

/* The same queue carrying what a port carries for a small JSON message:
 * the producer makes the value and encodes it with the port's encoder
 * (src/json_write.c) into the item, the consumer takes the text. It is
 * the locked-queue limit for JSON messages: the int queue above plus the
 * encoding, the part of a JSON post that is not the port's. */
typedef struct {
  unsigned len;
  char text[20];
} json_item_t;

static void *raw_json_producer(void *arg) {
  struct muster__buf b = {NULL, 0, 0};
  json_item_t it;
  for (size_t i = 0; i < rq.n; i++) {
    json_t *j = json_integer((json_int_t)i);
    b.len = 0;
    if (muster__json_write(j, &b, sizeof it.text) != 0)
      abort();
    json_decref(j);
    it.len = (unsigned)b.len;
    memcpy(it.text, b.data, b.len);
    rawq_push(&rq, &it, sizeof it);
  }
  free(b.data);
  return arg;
}

static size_t use_json(const char *item) {
  return ((const json_item_t *)item)->len;
}

static double raw_json_queue_per_s(int n) {
  return rawq_per_s(n, sizeof(json_item_t), raw_json_producer, use_json);
}

static double raw_memcpy_us(int n) {
  char *a = malloc(1 << 20), *b = malloc(1 << 20);
  memset(a, 1, 1 << 20);
  memset(b, 2, 1 << 20);
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    memcpy(i & 1 ? a : b, i & 1 ? b : a, 1 << 20);
    __asm__ volatile("" : : "r"(a), "r"(b) : "memory");
  }
  double us = ms_since(t0) * 1e3 / n;
  free(a);
  free(b);
  return us;
}

/* ---- muster: start, one way, echo ---------------------------------------- */

typedef struct {
  uint64_t t0, online_ns, first_ns, last_ns;
  int got, want, closed;
  muster_buffer_t *buf;
} run_t;

static void r_online(muster_thread_t *t) {
  run_t *r = muster_thread_data(t);
  r->online_ns = bench_now_ns();
}

static void r_message(muster_thread_t *t, muster_message_t *m) {
  run_t *r = muster_thread_data(t);
  if (r->got++ == 0)
    r->first_ns = bench_now_ns();
  if (r->got == r->want)
    r->last_ns = bench_now_ns();
}

static void r_exit(muster_thread_t *t, int code) {
  muster_thread_close(t, NULL);
}

static muster_thread_options_t r_options(run_t *r) {
  muster_thread_options_t o = {0};
  o.on_online = r_online;
  o.on_message = r_message;
  o.on_exit = r_exit;
  o.data = r;
  return o;
}

static int post_int(muster_port_t *p, int v) {
  json_t *j = json_integer(v);
  int r = muster_port_post(p, j, NULL);
  json_decref(j);
  return r;
}

static int hello_entry(uv_loop_t *loop, void *arg) {
  return post_int(muster_thread_parent_port(), 1) < 0;
}

static void mu_start(int n, double *online_ms, double *first_ms) {
  uv_loop_t loop;
  double on = 0, first = 0;
  uv_loop_init(&loop);
  for (int i = 0; i < n; i++) {
    run_t r = {0};
    muster_thread_options_t o = r_options(&r);
    muster_thread_t *t;
    r.want = 1;
    r.t0 = bench_now_ns();
    if (muster_thread_create(&loop, hello_entry, &o, &t) != 0)
      abort();
    uv_run(&loop, UV_RUN_DEFAULT);
    on += (double)(r.online_ns - r.t0) / 1e6;
    first += (double)(r.first_ns - r.t0) / 1e6;
  }
  uv_loop_close(&loop);
  *online_ms = on / n;
  *first_ms = first / n;
}

static int oneway_entry(uv_loop_t *loop, void *arg) {
  int n = (int)(intptr_t)arg;
  muster_port_t *p = muster_thread_parent_port();
  for (int i = 0; i < n; i++)
    if (post_int(p, i) < 0)
      return 1;
  return 0;
}

/* The same with 8 raw bytes: the port's own cost, without JSON. */
static int oneway_bytes_entry(uv_loop_t *loop, void *arg) {
  int n = (int)(intptr_t)arg;
  muster_port_t *p = muster_thread_parent_port();
  for (long long i = 0; i < n; i++)
    if (muster_port_post_bytes(p, &i, sizeof i, NULL) < 0)
      return 1;
  return 0;
}

static double mu_oneway(int n, int bytes) {
  uv_loop_t loop;
  run_t r = {0};
  muster_thread_options_t o = r_options(&r);
  muster_thread_t *t;
  uv_loop_init(&loop);
  r.want = n;
  o.arg = (void *)(intptr_t)n;
  /* One way: posts never wait for the reader, so a high-water mark of the
   * whole run (advice only anyway). */
  o.high_water_mark = (size_t)-1;
  if (muster_thread_create(&loop, bytes ? oneway_bytes_entry : oneway_entry, &o,
                           &t) != 0)
    abort();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return n / ((double)(r.last_ns - r.online_ns) / 1e9);
}

/* The echo thread: every message straight back, buffers too; "null"
 * closes. */
static void echo(muster_port_t *port, muster_message_t *m) {
  size_t len;
  const void *b = muster_message_bytes(m, &len);
  if (muster_message_buffer_count(m)) {
    muster_buffer_t *buf = muster_message_take_buffer(m, 0);
    muster_transfer_t t = {.buffers = &buf, .nbuffers = 1};
    muster_port_post_bytes(port, NULL, 0, &t);
    muster_buffer_free(buf);
  } else if (muster_message_format(m) == MUSTER_MESSAGE_BYTES) {
    muster_port_post_bytes(port, b, len, NULL);
  } else if (len == 4 && memcmp(b, "null", 4) == 0) {
    muster_port_close(port, NULL);
  } else {
    muster_port_post_text(port, b, len, NULL);
  }
}

static int echo_entry(uv_loop_t *loop, void *arg) {
  muster_port_options_t o = {0};
  o.on_message = echo;
  o.high_water_mark = (size_t)-1;
  return muster_port_start(muster_thread_parent_port(), &o);
}

typedef struct {
  int left, kind; /* 0 small JSON, 1 1 MiB copied, 2 1 MiB transferred */
  uint64_t t0;
  double per_us;
  char *mib;
  muster_buffer_t *buf;
} ping_t;

static void ping_send(muster_thread_t *t, ping_t *p) {
  muster_port_t *port = muster_thread_port(t);
  if (p->kind == 0) {
    post_int(port, 1);
  } else if (p->kind == 1) {
    muster_port_post_bytes(port, p->mib, 1 << 20, NULL);
  } else {
    muster_transfer_t tr = {.buffers = &p->buf, .nbuffers = 1};
    muster_port_post_bytes(port, NULL, 0, &tr);
    muster_buffer_free(p->buf);
    p->buf = NULL;
  }
}

static void ping_back(muster_thread_t *t, muster_message_t *m) {
  ping_t *p = muster_thread_data(t);
  if (p->kind == 2)
    p->buf = muster_message_take_buffer(m, 0);
  if (--p->left > 0) {
    ping_send(t, p);
    return;
  }
  p->per_us = ms_since(p->t0) * 1e3;
  json_t *null = json_null();
  muster_port_post(muster_thread_port(t), null, NULL);
  muster_buffer_free(p->buf);
  p->buf = NULL;
}

static void ping_online(muster_thread_t *t) {
  ping_t *p = muster_thread_data(t);
  p->t0 = bench_now_ns();
  ping_send(t, p);
}

/* Round trips of `kind`, us each. */
static double mu_ping(int kind, int n) {
  uv_loop_t loop;
  ping_t p = {n, kind, 0, 0, NULL, NULL};
  muster_thread_options_t o = {0};
  muster_thread_t *t;
  uv_loop_init(&loop);
  if (kind == 1) {
    p.mib = malloc(1 << 20);
    memset(p.mib, 1, 1 << 20);
  } else if (kind == 2) {
    muster_buffer_create(1 << 20, &p.buf);
    memset(muster_buffer_data(p.buf), 1, 1 << 20);
  }
  o.on_online = ping_online;
  o.on_message = ping_back;
  o.on_exit = r_exit;
  o.data = &p;
  o.high_water_mark = (size_t)-1;
  if (muster_thread_create(&loop, echo_entry, &o, &t) != 0)
    abort();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(p.mib);
  return p.per_us / n;
}

/* ---- idle memory --------------------------------------------------------- */

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  if (f)
    fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int idle_entry(uv_loop_t *loop, void *arg) {
  if (echo_entry(loop, arg) != 0)
    return 1;
  return post_int(muster_thread_parent_port(), 1) < 0;
}

static double mu_idle_kib(int n) {
  uv_loop_t loop;
  run_t r = {0};
  muster_thread_options_t o = r_options(&r);
  muster_thread_t **ts = calloc((size_t)n, sizeof *ts);
  uv_loop_init(&loop);
  long before = rss_kib();
  o.share_env = 1;
  r.want = n;
  for (int i = 0; i < n; i++)
    if (muster_thread_create(&loop, idle_entry, &o, &ts[i]) != 0)
      abort();
  while (r.got < n)
    uv_run(&loop, UV_RUN_ONCE);
  double per = (double)(rss_kib() - before) / n;
  json_t *null = json_null();
  for (int i = 0; i < n; i++)
    muster_port_post(muster_thread_port(ts[i]), null, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(ts);
  return per;
}

/* ---- the pool ------------------------------------------------------------ */

static int tiny(muster_message_t *task, muster_pool_reply_t *reply, void *arg) {
  json_t *v = json_integer(json_integer_value(muster_message_json(task)) + 1);
  int r = muster_pool_reply_json(reply, v);
  json_decref(v);
  return r;
}

static int pool_left;
static void pool_done(muster_pool_task_t *t, int status, muster_message_t *m,
                      void *arg) {
  pool_left--;
}

static void pool_round(uv_loop_t *loop, muster_pool_t *p, int n) {
  json_t *v = json_integer(1);
  pool_left = n;
  for (int i = 0; i < n; i++)
    if (muster_pool_run(p, v, NULL, pool_done, NULL, NULL) != 0)
      abort();
  json_decref(v);
  while (pool_left > 0)
    uv_run(loop, UV_RUN_ONCE);
}

/* A pool of the tiny handler on `loop` with at most `max` workers. */
static muster_pool_t *tiny_pool(uv_loop_t *loop, int isolation, unsigned max,
                                unsigned ahead) {
  muster_pool_t *p;
  muster_pool_options_t o = {0};
  o.handler = tiny;
  o.isolation = isolation;
  o.min_threads = max == 2 ? 2 : 0;
  o.max_threads = max;
  o.tasks_per_worker = ahead;
  if (muster_pool_create(loop, &o, &p) != 0)
    abort();
  return p;
}

static double mu_pool(int n, unsigned ahead, int isolation) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  muster_pool_t *p = tiny_pool(&loop, isolation, 2, ahead);
  pool_round(&loop, p, 1000); /* warm up */
  uint64_t t0 = bench_now_ns();
  pool_round(&loop, p, n);
  double s = ms_since(t0) / 1e3;
  muster_pool_close(p, MUSTER_POOL_FINISH, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return n / s;
}

/* A pool's cold start: create with one worker, one tiny task, close; ms
 * from create to the result, and for the whole (the worker joined or
 * reaped). */
static void mu_pool_start(int n, int isolation, double *first_ms,
                          double *all_ms) {
  double first[n], all[n];
  for (int i = 0; i < n; i++) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint64_t t0 = bench_now_ns();
    muster_pool_t *p = tiny_pool(&loop, isolation, 1, 0);
    pool_round(&loop, p, 1);
    first[i] = ms_since(t0);
    muster_pool_close(p, MUSTER_POOL_FINISH, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    all[i] = ms_since(t0);
    uv_loop_close(&loop);
  }
  *first_ms = bench_median(first, n);
  *all_ms = bench_median(all, n);
}

/* ---- Node ---------------------------------------------------------------- */

static json_t *node(const char *mode, int n, const char *extra) {
  char nn[32];
  snprintf(nn, sizeof nn, "%d", n);
  const char *argv[] = {
      "node", bench_node_script("threads.js"), mode, nn, extra, NULL};
  return bench_node_run("threads", argv, 300000);
}

/* piscina in a folder of its own, installed once with npm. NULL (and a
 * note) when it cannot be had. */
static const char *piscina_dir(void) {
  static char dir[PATH_MAX];
  char probe[PATH_MAX + 64];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/muster-bench-piscina", tmp ? tmp : "/tmp");
  snprintf(probe, sizeof probe, "%s/node_modules/piscina/package.json", dir);
  if (access(probe, R_OK) == 0)
    return dir;
  if (!bench_on_path("npm")) {
    printf("# npm is not on PATH: piscina is skipped\n");
    return NULL;
  }
  const char *argv[] = {"npm",        "install",   "--prefix",  dir,
                        "--no-audit", "--no-fund", "piscina@4", NULL};
  muster_exec_options_t o;
  muster_exec_result_t r;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 300000;
  printf("# installing piscina with npm into %s\n", dir);
  fflush(stdout);
  int err = muster_spawn_sync("npm", argv, &o, &r);
  int ok = err == 0 && r.exit_status == 0 && access(probe, R_OK) == 0;
  if (!ok)
    printf("# npm install piscina failed (%s): piscina is skipped\n",
           err ? muster_err_name(err) : "exit status");
  if (err == 0)
    muster_exec_result_free(&r);
  return ok ? dir : NULL;
}

/* ---- variants and rounds ------------------------------------------------- */

enum {
  F_ONLINE,
  F_FIRST,
  F_ONEWAY,
  F_ONEWAY_BYTES,
  F_RTT,
  F_MIB_COPIED,
  F_MIB_MOVED,
  F_IDLE,
  F_POOL1,
  F_POOL16,
  F_POOLP1,
  F_POOLP16,
  F_POOL_START,
  F_POOL_LIFE,
  F_POOLP_START,
  F_POOLP_LIFE,
  NFIG
};
static const struct {
  const char *label, *key, *fmt;
} figs[NFIG] = {
    {"start -> online (ms)", "start_online_ms", "%12.3f"},
    {"start -> first message (ms)", "start_first_message_ms", "%12.3f"},
    {"small JSON messages/s one way", "messages_per_s", "%12.0f"},
    {"8-byte messages/s one way", "bytes_messages_per_s", "%12.0f"},
    {"round trip (us)", "rtt_us", "%12.2f"},
    {"1 MiB round trip copied (us)", "mib_copied_us", "%12.1f"},
    {"1 MiB round trip transferred (us)", "mib_transferred_us", "%12.1f"},
    {"RSS per idle thread (KiB)", "idle_thread_kib", "%12.0f"},
    {"pool tiny tasks/s (1 ahead)", "pool_tasks_per_s", "%12.0f"},
    {"pool tiny tasks/s (16 ahead)", "pool16_tasks_per_s", "%12.0f"},
    {"pool procs tiny tasks/s (1 ahead)", "pool_process_tasks_per_s", "%12.0f"},
    {"pool procs tiny tasks/s (16 ahead)", "pool16_process_tasks_per_s",
     "%12.0f"},
    {"pool create -> 1st result (ms)", "pool_first_result_ms", "%12.3f"},
    {"pool create -> closed (ms)", "pool_life_ms", "%12.3f"},
    {"pool procs create -> 1st result ms", "pool_process_first_result_ms",
     "%12.3f"},
    {"pool procs create -> closed (ms)", "pool_process_life_ms", "%12.3f"},
};

enum { MU, RAW, NODE, NSIDE };
static const char *const side_names[NSIDE] = {"muster", "raw", "node"};

static const char *piscina;

static void v_raw_start(double *f) {
  f[F_ONLINE] = raw_create_join_us(OPS(500)) / 1e3;
}
static void v_raw_queue(double *f) {
  f[F_ONEWAY_BYTES] = raw_queue_per_s(OPS(1000000));
}
static void v_raw_json_queue(double *f) {
  f[F_ONEWAY] = raw_json_queue_per_s(OPS(1000000));
}
static void v_raw_rtt(double *f) {
  f[F_RTT] = raw_futex_rtt_us(OPS(10000));
}
static void v_raw_memcpy(double *f) {
  f[F_MIB_COPIED] = 2 * raw_memcpy_us(OPS(500));
}
static void v_mu_start(double *f) {
  mu_start(OPS(50), &f[F_ONLINE], &f[F_FIRST]);
}
static void v_mu_oneway(double *f) {
  f[F_ONEWAY] = mu_oneway(OPS(200000), 0);
}
static void v_mu_oneway_bytes(double *f) {
  f[F_ONEWAY_BYTES] = mu_oneway(OPS(200000), 1);
}
static void v_mu_rtt(double *f) {
  f[F_RTT] = mu_ping(0, OPS(10000));
}
static void v_mu_mib(double *f) {
  f[F_MIB_COPIED] = mu_ping(1, OPS(100));
  f[F_MIB_MOVED] = mu_ping(2, OPS(100));
}
static void v_mu_idle(double *f) {
  f[F_IDLE] = mu_idle_kib(OPS(50));
}
static void v_mu_pool(double *f) {
  f[F_POOL1] = mu_pool(OPS(50000), 1, MUSTER_THREAD_ISOLATION_THREAD);
  f[F_POOL16] = mu_pool(OPS(200000), 16, MUSTER_THREAD_ISOLATION_THREAD);
  mu_pool_start(OPS(50), MUSTER_THREAD_ISOLATION_THREAD, &f[F_POOL_START],
                &f[F_POOL_LIFE]);
}
static void v_mu_pool_process(double *f) {
  f[F_POOLP1] = mu_pool(OPS(20000), 1, MUSTER_THREAD_ISOLATION_PROCESS);
  f[F_POOLP16] = mu_pool(OPS(50000), 16, MUSTER_THREAD_ISOLATION_PROCESS);
  mu_pool_start(OPS(50), MUSTER_THREAD_ISOLATION_PROCESS, &f[F_POOLP_START],
                &f[F_POOLP_LIFE]);
}

/* Runs node in `mode` and copies the figures it names into f. */
static void node_figs(double *f, const char *mode, int n, const char *extra) {
  static const struct {
    const char *key;
    int fig;
    double scale;
  } map[] = {
      {"online_ms", F_ONLINE, 1},        {"first_message_ms", F_FIRST, 1},
      {"messages_per_s", F_ONEWAY, 1},   {"rtt_us", F_RTT, 1},
      {"copied_ms", F_MIB_COPIED, 1e3},  {"transferred_ms", F_MIB_MOVED, 1e3},
      {"rss_per_worker_kib", F_IDLE, 1}, {"tasks_per_s", F_POOL1, 1},
  };
  json_t *o = node(mode, n, extra);
  for (size_t i = 0; o && i < sizeof map / sizeof map[0]; i++) {
    json_t *v = json_object_get(o, map[i].key);
    if (v)
      f[map[i].fig] = json_number_value(v) * map[i].scale;
  }
  json_decref(o);
}
static void v_node_start(double *f) {
  node_figs(f, "start", OPS(10), NULL);
}
static void v_node_oneway(double *f) {
  node_figs(f, "oneway", OPS(100000), NULL);
}
static void v_node_rtt(double *f) {
  node_figs(f, "rtt", OPS(5000), NULL);
}
static void v_node_mib(double *f) {
  node_figs(f, "mib", OPS(50), NULL);
}
static void v_node_idle(double *f) {
  node_figs(f, "idle", OPS(10), NULL);
}
static void v_node_pool(double *f) {
  if (piscina)
    node_figs(f, "pool", OPS(20000), piscina);
}

/* Whether `name` contains `filter` (NULL: everything) or one of its
 * comma-separated parts. */
static int selected(const char *name, const char *filter) {
  if (filter == NULL)
    return 1;
  for (const char *p = filter;;) {
    size_t n = strcspn(p, ",");
    for (const char *s = name; n > 0 && strlen(s) >= n; s++)
      if (strncmp(s, p, n) == 0)
        return 1;
    if (p[n] == '\0')
      return 0;
    p += n + 1;
  }
}

static const struct {
  const char *name;
  int side;
  void (*run)(double *f);
} variants[] = {
    {"raw-start", RAW, v_raw_start},
    {"raw-queue", RAW, v_raw_queue},
    {"raw-json-queue", RAW, v_raw_json_queue},
    {"raw-rtt", RAW, v_raw_rtt},
    {"raw-memcpy", RAW, v_raw_memcpy},
    {"mu-start", MU, v_mu_start},
    {"mu-oneway", MU, v_mu_oneway},
    {"mu-oneway-bytes", MU, v_mu_oneway_bytes},
    {"mu-rtt", MU, v_mu_rtt},
    {"mu-mib", MU, v_mu_mib},
    {"mu-idle", MU, v_mu_idle},
    {"mu-pool", MU, v_mu_pool},
    {"mu-pool-process", MU, v_mu_pool_process},
    {"node-start", NODE, v_node_start},
    {"node-oneway", NODE, v_node_oneway},
    {"node-rtt", NODE, v_node_rtt},
    {"node-mib", NODE, v_node_mib},
    {"node-idle", NODE, v_node_idle},
    {"node-pool", NODE, v_node_pool},
};
enum { NVAR = sizeof variants / sizeof variants[0] };

/* xs[pinned][side][fig][round]; NAN where nothing was measured. */
static double *xs[2][NSIDE][NFIG];
static double med[2][NSIDE][NFIG];

static double median_of(double *v, int rounds) {
  double tmp[rounds];
  int n = 0;
  for (int r = 0; r < rounds; r++)
    if (!isnan(v[r]) && v[r] >= 0)
      tmp[n++] = v[r];
  return n ? bench_median(tmp, n) : NAN;
}

static double ratio(double a, double b) {
  return a > 0 && b > 0 ? a / b : NAN;
}

static void print_cell(const char *fmt, double v) {
  if (isnan(v))
    printf("%12s", "-");
  else
    printf(fmt, v);
}

/* The ratios the issue sets targets for, of one pinning. */
enum {
  R_START_X_NODE,
  R_ONEWAY_X_NODE,
  R_ONEWAY_X_RAW,
  R_BYTES_X_RAW,
  R_RTT_X_RAW,
  R_RTT_X_NODE,
  R_MOVED_X_COPIED,
  R_POOL_X_PISCINA,
  R_POOL16_X_PISCINA,
  R_POOLP_X_PISCINA,
  R_POOLP16_X_PISCINA,
  NRATIO
};
static const char *const ratio_keys[NRATIO] = {
    "start_node_over_muster",   "oneway_x_node",  "oneway_x_raw_json_queue",
    "bytes_oneway_x_raw_queue", "rtt_x_futex",    "rtt_x_node",
    "copied_over_transferred",  "pool_x_piscina", "pool16_x_piscina",
    "pool_process_x_piscina",   "pool16_process_x_piscina"};

static void ratios(double m[NSIDE][NFIG], double *r) {
  r[R_START_X_NODE] = ratio(m[NODE][F_ONLINE], m[MU][F_ONLINE]);
  r[R_ONEWAY_X_NODE] = ratio(m[MU][F_ONEWAY], m[NODE][F_ONEWAY]);
  r[R_ONEWAY_X_RAW] = ratio(m[MU][F_ONEWAY], m[RAW][F_ONEWAY]);
  r[R_BYTES_X_RAW] = ratio(m[MU][F_ONEWAY_BYTES], m[RAW][F_ONEWAY_BYTES]);
  r[R_RTT_X_RAW] = ratio(m[MU][F_RTT], m[RAW][F_RTT]);
  r[R_RTT_X_NODE] = ratio(m[MU][F_RTT], m[NODE][F_RTT]);
  r[R_MOVED_X_COPIED] = ratio(m[MU][F_MIB_COPIED], m[MU][F_MIB_MOVED]);
  r[R_POOL_X_PISCINA] = ratio(m[MU][F_POOL1], m[NODE][F_POOL1]);
  r[R_POOL16_X_PISCINA] = ratio(m[MU][F_POOL16], m[NODE][F_POOL1]);
  r[R_POOLP_X_PISCINA] = ratio(m[MU][F_POOLP1], m[NODE][F_POOL1]);
  r[R_POOLP16_X_PISCINA] = ratio(m[MU][F_POOLP16], m[NODE][F_POOL1]);
}

static json_t *num_or_null(double v, double scale) {
  return isnan(v) ? json_null() : json_real(bench_rounded(v, scale));
}

int main(int argc, char **argv) {
  bench_machine_t m;
  const char *filter = NULL;
  int rounds = 0, with_node = 1, opt;
  while ((opt = getopt(argc, argv, "qr:f:N")) != -1) {
    switch (opt) {
    case 'q':
      quick = 1;
      break;
    case 'r':
      rounds = (int)bench_parse_count("threads", optarg, 1, 1000);
      break;
    case 'f':
      filter = optarg;
      break;
    case 'N':
      with_node = 0;
      break;
    default:
      fprintf(stderr, "usage: threads [-q] [-r ROUNDS] [-f FILTER] [-N]\n");
      return 2;
    }
  }
  if (rounds == 0)
    rounds = quick ? 3 : 5;
  sched_getaffinity(0, sizeof all_cpus, &all_cpus);
  bench_machine_start(&m);
  if (with_node)
    with_node = bench_node_usable(bench_node_script("threads.js"));
  if (with_node && selected("node-pool", filter))
    piscina = piscina_dir();
  printf("# %d rounds; each runs every variant unpinned and pinned to one "
         "CPU, in a rotating order\n",
         rounds);
  fflush(stdout);

  for (int p = 0; p < 2; p++)
    for (int s = 0; s < NSIDE; s++)
      for (int f = 0; f < NFIG; f++) {
        xs[p][s][f] = malloc((size_t)rounds * sizeof(double));
        for (int r = 0; r < rounds; r++)
          xs[p][s][f][r] = NAN;
      }
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < NVAR; k++) {
      int v = (k + r) % NVAR;
      if (!selected(variants[v].name, filter) ||
          (!with_node && variants[v].side == NODE))
        continue;
      for (int j = 0; j < 2; j++) {
        int p = (j + r) % 2;
        double f[NFIG];
        for (int i = 0; i < NFIG; i++)
          f[i] = NAN;
        pin(p);
        variants[v].run(f);
        pin(0);
        for (int i = 0; i < NFIG; i++)
          if (!isnan(f[i]))
            xs[p][variants[v].side][i][r] = f[i];
      }
    }
  }
  bench_machine_end(&m);

  printf("%-34s %12s %12s %12s %12s %12s %12s\n", "(medians)", "muster", "raw",
         "node", "muster pin", "raw pin", "node pin");
  for (int f = 0; f < NFIG; f++) {
    printf("%-34s", figs[f].label);
    for (int p = 0; p < 2; p++)
      for (int s = 0; s < NSIDE; s++) {
        med[p][s][f] = median_of(xs[p][s][f], rounds);
        printf(" ");
        print_cell(figs[f].fmt, med[p][s][f]);
      }
    printf("\n");
  }

  json_t *out = json_pack("{s:s, s:i, s:b, s:f, s:f}", "bench", "threads",
                          "rounds", rounds, "quick", quick, "load_before",
                          m.load_before, "load_after", m.load_after);
  for (int p = 0; p < 2; p++) {
    double r[NRATIO];
    json_t *po = json_object();
    ratios(med[p], r);
    printf("# ratios %s: start %.0fx faster than node; one way %.1fx node, "
           "%.2fx the locked queue of JSON (8 bytes %.2fx that of ints); rtt "
           "%.2fx the futex, "
           "%.2fx node; transfer %.0fx faster than copy; pool %.1fx piscina "
           "(16 ahead %.1fx; processes %.1fx, 16 ahead %.1fx)\n",
           p ? "pinned" : "unpinned", r[R_START_X_NODE], r[R_ONEWAY_X_NODE],
           r[R_ONEWAY_X_RAW], r[R_BYTES_X_RAW], r[R_RTT_X_RAW], r[R_RTT_X_NODE],
           r[R_MOVED_X_COPIED], r[R_POOL_X_PISCINA], r[R_POOL16_X_PISCINA],
           r[R_POOLP_X_PISCINA], r[R_POOLP16_X_PISCINA]);
    for (int s = 0; s < NSIDE; s++) {
      json_t *so = json_object();
      for (int f = 0; f < NFIG; f++)
        if (!isnan(med[p][s][f]))
          json_object_set_new(so, figs[f].key, num_or_null(med[p][s][f], 1e3));
      json_object_set_new(po, side_names[s], so);
    }
    for (int i = 0; i < NRATIO; i++)
      if (!isnan(r[i]))
        json_object_set_new(po, ratio_keys[i], num_or_null(r[i], 100));
    json_object_set_new(out, p ? "pinned" : "unpinned", po);
  }
  for (int p = 0; p < 2; p++)
    for (int s = 0; s < NSIDE; s++)
      for (int f = 0; f < NFIG; f++)
        free(xs[p][s][f]);
  bench_print_json(out);
  return 0;
}
