/* bench/threads: worker threads, ports and the pool against the raw limits
 * of this machine and against Node's worker_threads (and piscina), in one
 * run. docs/benchmarks.md records the figures.
 *
 *   threads [-q]      -q: fewer rounds (a quick look, noisier)
 *
 * What is measured (muster | raw anchor | Node):
 *   start        create -> online, create -> first message | pthread
 *                create+join | new Worker -> 'online', -> first message
 *   oneway       small JSON messages/s from a thread | a mutex+condvar
 *                queue of pointers | parentPort.postMessage
 *   rtt          round trip of a small message, unpinned and pinned to
 *                CPU 0 | a futex ping-pong between two threads | the same
 *   1 MiB        round trip copied and transferred | memcpy of 1 MiB | the
 *                same with a Buffer and a transferred ArrayBuffer
 *   idle         resident memory per idle thread | - | per idle Worker
 *   pool         tiny tasks/s on 2 threads (1 and 16 handed ahead) | - |
 *                piscina, 2 threads (installed with npm into
 *                $TMPDIR/muster-bench-piscina when missing; skipped with a
 *                note if npm fails)
 * The atomics wait/notify round trip is bench/shared's.
 * The last line is one JSON object with every figure. */
#include "bench.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static int quick;
#define ROUNDS(full, q) (quick ? (q) : (full))

static double ms_since(uint64_t t0) {
  return (double)(bench_now_ns() - t0) / 1e6;
}

static void pin(int cpu0) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu0)
    CPU_SET(0, &set);
  else
    for (int c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
      CPU_SET(c, &set);
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

/* A mutex+condvar queue of small items, one producer thread, the main
 * thread consuming in batches (what a port does, with no loop). */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int *items;
  size_t head, tail, n;
} rq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

static void *raw_producer(void *arg) {
  for (size_t i = 0; i < rq.n; i++) {
    pthread_mutex_lock(&rq.lock);
    rq.items[rq.tail++] = (int)i;
    if (rq.tail - rq.head == 1)
      pthread_cond_signal(&rq.cond);
    pthread_mutex_unlock(&rq.lock);
  }
  return arg;
}

static double raw_queue_per_s(int n) {
  pthread_t t;
  long long sum = 0;
  rq.items = malloc((size_t)n * sizeof *rq.items);
  rq.head = rq.tail = 0;
  rq.n = (size_t)n;
  uint64_t t0 = bench_now_ns();
  pthread_create(&t, NULL, raw_producer, NULL);
  for (size_t got = 0; got < rq.n;) {
    pthread_mutex_lock(&rq.lock);
    while (rq.head == rq.tail)
      pthread_cond_wait(&rq.cond, &rq.lock);
    size_t end = rq.tail;
    pthread_mutex_unlock(&rq.lock);
    for (; rq.head < end; rq.head++, got++)
      sum += rq.items[rq.head];
  }
  double s = ms_since(t0) / 1e3;
  pthread_join(t, NULL);
  free(rq.items);
  return sum >= 0 ? n / s : 0;
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

static double mu_pool(int n, unsigned ahead) {
  uv_loop_t loop;
  muster_pool_t *p;
  muster_pool_options_t o = {0};
  uv_loop_init(&loop);
  o.handler = tiny;
  o.min_threads = o.max_threads = 2;
  o.tasks_per_worker = ahead;
  if (muster_pool_create(&loop, &o, &p) != 0)
    abort();
  pool_round(&loop, p, 1000); /* warm up */
  uint64_t t0 = bench_now_ns();
  pool_round(&loop, p, n);
  double s = ms_since(t0) / 1e3;
  muster_pool_close(p, MUSTER_POOL_FINISH, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return n / s;
}

/* ---- Node ---------------------------------------------------------------- */

static json_t *node(const char *mode, int n, const char *extra) {
  char nn[32];
  snprintf(nn, sizeof nn, "%d", n);
  const char *argv[] = {
      "node", bench_node_script("threads.js"), mode, nn, extra, NULL};
  return bench_node_run("threads", argv, 300000);
}

static double node_num(json_t *o, const char *key) {
  json_t *v = o ? json_object_get(o, key) : NULL;
  return v ? json_number_value(v) : -1;
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

/* ---- main ---------------------------------------------------------------- */

static double ratio(double a, double b) {
  return a > 0 && b > 0 ? a / b : -1;
}

int main(int argc, char **argv) {
  bench_machine_t m;
  quick = argc > 1 && strcmp(argv[1], "-q") == 0;
  const char *script = bench_node_script("threads.js");
  int node_ok = bench_node_usable(script);
  bench_machine_start(&m);

  int nstart = ROUNDS(200, 30), nmsg = ROUNDS(1000000, 100000),
      nrtt = ROUNDS(50000, 5000), nmib = ROUNDS(500, 50),
      nidle = ROUNDS(100, 20), npool = ROUNDS(200000, 20000);

  double raw_cj = raw_create_join_us(ROUNDS(2000, 200));
  double raw_q = raw_queue_per_s(nmsg);
  double raw_mc = raw_memcpy_us(ROUNDS(2000, 200));
  double raw_rtt = raw_futex_rtt_us(nrtt);
  pin(1);
  double raw_rtt_pin = raw_futex_rtt_us(nrtt / 5);
  pin(0);

  double on_ms, first_ms;
  mu_start(nstart, &on_ms, &first_ms);
  double mps = mu_oneway(nmsg, 0), mps_bytes = mu_oneway(nmsg, 1);
  double rtt = mu_ping(0, nrtt);
  pin(1);
  double rtt_pin = mu_ping(0, nrtt / 5);
  pin(0);
  double copied = mu_ping(1, nmib), moved = mu_ping(2, nmib);
  double idle = mu_idle_kib(nidle);
  double pool1 = mu_pool(npool, 1), pool16 = mu_pool(npool, 16);

  json_t *n_start = NULL, *n_one = NULL, *n_rtt = NULL, *n_rttp = NULL,
         *n_mib = NULL, *n_idle = NULL, *n_pool = NULL;
  if (node_ok) {
    n_start = node("start", ROUNDS(30, 5), NULL);
    n_one = node("oneway", ROUNDS(400000, 50000), NULL);
    n_rtt = node("rtt", ROUNDS(20000, 2000), NULL);
    pin(1);
    n_rttp = node("rtt", ROUNDS(5000, 500), NULL);
    pin(0);
    n_mib = node("mib", ROUNDS(200, 20), NULL);
    n_idle = node("idle", ROUNDS(20, 5), NULL);
    const char *dir = piscina_dir();
    if (dir)
      n_pool = node("pool", ROUNDS(100000, 10000), dir);
  }

  printf("%-34s %12s %12s %12s\n", "", "muster", "raw", "node");
  printf("%-34s %12.3f %12.3f %12.3f\n", "start -> online (ms)", on_ms,
         raw_cj / 1e3, node_num(n_start, "online_ms"));
  printf("%-34s %12.3f %12s %12.3f\n", "start -> first message (ms)", first_ms,
         "", node_num(n_start, "first_message_ms"));
  printf("%-34s %12.0f %12.0f %12.0f\n", "messages/s one way", mps, raw_q,
         node_num(n_one, "messages_per_s"));
  printf("%-34s %12.0f %12.0f %12s\n", "8-byte messages/s one way", mps_bytes,
         raw_q, "");
  printf("%-34s %12.2f %12.2f %12.2f\n", "round trip unpinned (us)", rtt,
         raw_rtt, node_num(n_rtt, "rtt_us"));
  printf("%-34s %12.2f %12.2f %12.2f\n", "round trip pinned to CPU 0 (us)",
         rtt_pin, raw_rtt_pin, node_num(n_rttp, "rtt_us"));
  printf("%-34s %12.1f %12.1f %12.1f\n", "1 MiB round trip copied (us)", copied,
         2 * raw_mc, node_num(n_mib, "copied_ms") * 1e3);
  printf("%-34s %12.1f %12s %12.1f\n", "1 MiB round trip transferred (us)",
         moved, "", node_num(n_mib, "transferred_ms") * 1e3);
  printf("%-34s %12.0f %12s %12.0f\n", "RSS per idle thread (KiB)", idle, "",
         node_num(n_idle, "rss_per_worker_kib"));
  printf("%-34s %12.0f %12s %12.0f\n", "pool tiny tasks/s (1 ahead)", pool1, "",
         node_num(n_pool, "tasks_per_s"));
  printf("%-34s %12.0f %12s %12s\n", "pool tiny tasks/s (16 ahead)", pool16, "",
         "");
  printf("# ratios: start %.1fx faster than node; one way %.1fx node, "
         "%.2fx the locked queue (bytes %.2fx); rtt %.2fx the futex (pinned "
         "%.2fx); "
         "transfer %.0fx faster than copy; pool %.1fx piscina (16 ahead "
         "%.1fx)\n",
         ratio(node_num(n_start, "online_ms"), on_ms),
         ratio(mps, node_num(n_one, "messages_per_s")), ratio(mps, raw_q),
         ratio(mps_bytes, raw_q), ratio(rtt, raw_rtt),
         ratio(rtt_pin, raw_rtt_pin), ratio(copied, moved),
         ratio(pool1, node_num(n_pool, "tasks_per_s")),
         ratio(pool16, node_num(n_pool, "tasks_per_s")));
  bench_machine_end(&m);

  json_t *out = json_pack(
      "{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
      "s:f, s:f, s:f, s:f, s:f}",
      "bench", "threads", "start_online_ms", bench_rounded(on_ms, 1e4),
      "start_first_message_ms", bench_rounded(first_ms, 1e4), "messages_per_s",
      bench_rounded(mps, 1), "bytes_messages_per_s",
      bench_rounded(mps_bytes, 1), "rtt_us", bench_rounded(rtt, 100),
      "rtt_pinned_us", bench_rounded(rtt_pin, 100), "mib_copied_us",
      bench_rounded(copied, 10), "mib_transferred_us", bench_rounded(moved, 10),
      "idle_thread_kib", bench_rounded(idle, 1), "pool_tasks_per_s",
      bench_rounded(pool1, 1), "pool16_tasks_per_s", bench_rounded(pool16, 1),
      "raw_create_join_us", bench_rounded(raw_cj, 100), "raw_queue_per_s",
      bench_rounded(raw_q, 1), "raw_futex_rtt_us", bench_rounded(raw_rtt, 100),
      "raw_futex_rtt_pinned_us", bench_rounded(raw_rtt_pin, 100),
      "raw_memcpy_mib_us", bench_rounded(raw_mc, 100), "load_after",
      m.load_after);
  json_t *nodes =
      json_pack("{s:o?, s:o?, s:o?, s:o?, s:o?, s:o?, s:o?}", "start", n_start,
                "oneway", n_one, "rtt", n_rtt, "rtt_pinned", n_rttp, "mib",
                n_mib, "idle", n_idle, "piscina", n_pool);
  json_object_set_new(out, "node", nodes);
  char *line = json_dumps(out, JSON_COMPACT);
  printf("%s\n", line);
  free(line);
  json_decref(out);
  return 0;
}
