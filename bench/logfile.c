/* Log throughput: how fast an app's output gets into log files, and what it
 * costs in CPU. Each variant takes the same bytes (100-byte lines in 64 KiB
 * reads, as a daemon reads a flooding app's pipe) into a file in a fresh
 * temporary directory:
 *
 *   raw          write(2) of each 64 KiB chunk straight into the file, on
 *                one thread: the limit (no framing, no rotation)
 * Each variant's time ends after its files are deleted again, so deleting
 * rotated files (muster) and the one big file (raw) are both counted.
 *   muster       muster_logsource_write() into a muster_logfile (raw
 *                layout, default 10 MiB rotation, retain 2), pausing the
 *                writer on pressure as a daemon pauses the pipe
 *   muster-time  the same with the timestamp prefix (--time)
 *   muster-json  the same with JSON lines (--log-type json)
 *
 * Figures: MB/s of input bytes (median across rounds), CPU ms per MB of
 * the whole process (loop + threadpool), and of the loop thread alone:
 * the part that would delay a daemon's other work.
 * Usage: logfile [MiB per variant per round (default 128)] [rounds (5)] */
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench.h"

#define CHUNK 65536
#define NV 4

static const char *const names[NV] = {"raw", "muster", "muster-time",
                                      "muster-json"};
static char chunk[CHUNK];

static void clean(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
}

typedef struct {
  muster_logsource_t *src;
  uv_idle_t idle;
  uint64_t left;
  int closed;
} run_t;

static void feed(uv_idle_t *h) {
  run_t *r = h->data;
  muster_logsource_write(r->src, chunk, CHUNK);
  r->left -= CHUNK;
  if (r->left == 0)
    uv_idle_stop(h);
}

static void pressure(muster_logfile_t *f, int paused) {
  run_t *r = muster_logfile_data(f);
  if (paused)
    uv_idle_stop(&r->idle);
  else if (r->left > 0)
    uv_idle_start(&r->idle, feed);
}

static void closed(muster_logfile_t *f) {
  run_t *r = muster_logfile_data(f);
  r->closed = 1;
}

static void run_raw(const char *path, uint64_t bytes) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  for (uint64_t done = 0; done < bytes; done += CHUNK)
    if (write(fd, chunk, CHUNK) != CHUNK)
      abort();
  close(fd);
}

static void run_muster(const char *path, uint64_t bytes, unsigned flags) {
  uv_loop_t loop;
  run_t r = {0};
  muster_logfile_options_t o = {
      .flags = flags, .retain = 2, .on_pressure = pressure, .data = &r};
  muster_logfile_t *f;
  muster_logsource_options_t so = {"bench", 0, MUSTER_LOG_OUT};
  uv_loop_init(&loop);
  if (muster_logfile_open(&loop, path, &o, &f) != 0 ||
      muster_logsource_open(f, &so, &r.src) != 0)
    abort();
  r.left = bytes;
  uv_idle_init(&loop, &r.idle);
  r.idle.data = &r;
  uv_idle_start(&r.idle, feed);
  uv_run(&loop, UV_RUN_DEFAULT); /* ends when the writer has caught up */
  muster_logsource_close(r.src);
  muster_logfile_close(f, closed);
  uv_close((uv_handle_t *)&r.idle, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (!r.closed)
    abort();
  uv_loop_close(&loop);
}

int main(int argc, char **argv) {
  uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 128;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  uint64_t bytes = mib << 20;
  char dir[] = "/tmp/muster-bench-log-XXXXXX", path[600];
  double mbs[NV][64], cpu[NV][64], loop_cpu[NV][64];
  bench_machine_t machine;
  if (rounds < 1 || rounds > 64 || mkdtemp(dir) == NULL)
    return 2;
  for (size_t i = 0; i < CHUNK; i++)
    chunk[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
  snprintf(path, sizeof path, "%s/app-out.log", dir);
  bench_machine_start(&machine);
  printf("# %" PRIu64 " MiB of 100-byte lines per variant per round, %d "
         "rounds, into %s\n",
         mib, rounds, dir);
  for (int round = 0; round < rounds; round++) {
    for (int k = 0; k < NV; k++) {
      int v = (k + round) % NV;
      clean(dir);
      uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns(),
               l0 = bench_rusage_ns(RUSAGE_THREAD);
      if (v == 0)
        run_raw(path, bytes);
      else
        run_muster(path, bytes,
                   v == 2   ? MUSTER_LOGFILE_TIME
                   : v == 3 ? MUSTER_LOGFILE_JSON
                            : 0);
      /* Removing what was written is part of the cost (raw leaves one
       * big file, muster its rotated ones, after deleting older ones). */
      clean(dir);
      double s = (double)(bench_now_ns() - t0) / 1e9;
      double mb = (double)bytes / 1e6;
      mbs[v][round] = mb / s;
      cpu[v][round] = (double)(bench_cpu_ns() - c0) / 1e6 / mb;
      loop_cpu[v][round] =
          (double)(bench_rusage_ns(RUSAGE_THREAD) - l0) / 1e6 / mb;
    }
  }
  clean(dir);
  rmdir(dir);
  bench_machine_end(&machine);
  printf("%-12s %9s %9s %9s %8s %10s %10s\n", "variant", "MB/s", "min", "max",
         "x raw", "cpu ms/MB", "loop ms/MB");
  json_t *figures = json_object();
  double raw = 0;
  for (int v = 0; v < NV; v++) {
    double m = bench_median(mbs[v], rounds);
    double c = bench_median(cpu[v], rounds);
    double l = bench_median(loop_cpu[v], rounds);
    if (v == 0)
      raw = m;
    printf("%-12s %9.0f %9.0f %9.0f %7.2fx %10.3f %10.3f\n", names[v], m,
           mbs[v][0], mbs[v][rounds - 1], m / raw, c, l);
    json_object_set_new(figures, names[v],
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "mb_s",
                                  bench_rounded(m, 1), "min",
                                  bench_rounded(mbs[v][0], 1), "max",
                                  bench_rounded(mbs[v][rounds - 1], 1), "ratio",
                                  bench_rounded(m / raw, 1000), "cpu_ms_per_mb",
                                  bench_rounded(c, 1000), "loop_cpu_ms_per_mb",
                                  bench_rounded(l, 1000)));
  }
  printf("(MB/s: median across rounds of input bytes per second, until the "
         "file is closed; x raw: ratio of medians; cpu: whole process per "
         "MB; loop: the loop thread alone)\n");
  bench_print_json(json_pack(
      "{s:s, s:i, s:i, s:i, s:s, s:[f, f], s:s, s:o}", "bench", "logfile",
      "mib", (int)mib, "rounds", rounds, "cpus", (int)machine.cpus, "affinity",
      machine.affinity, "load", bench_rounded(machine.load_before, 100),
      bench_rounded(machine.load_after, 100), "kernel", machine.uts.release,
      "figures", figures));
  return 0;
}
