/* What the benchmarks in bench/ share: clocks, medians, a description of
 * the machine, and running the Node side of a benchmark. Header-only, with
 * static inline functions: each bench/NAME.c is a program of its own.
 * docs/benchmarks.md says how the figures are measured. */
#ifndef MUSTER_BENCH_H
#define MUSTER_BENCH_H

#include <muster.h>

#include <jansson.h>

#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---- clocks and statistics ---------------------------------------------- */

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) so far of this process (RUSAGE_SELF) or of its
 * children that were waited for, theirs included (RUSAGE_CHILDREN). */
static inline uint64_t bench_rusage_ns(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
             1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
             1000u;
}

/* CPU time (user + system) of this process so far. */
static inline uint64_t bench_cpu_ns(void) {
  return bench_rusage_ns(RUSAGE_SELF);
}

/* A count from the command line, in [min, max]; a bad one ends the
 * program with status 2, naming the benchmark and the text. */
static inline long bench_parse_count(const char *bench, const char *s,
                                     long min, long max) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "%s: bad count '%s' (%ld to %ld)\n", bench, s, min, max);
    exit(2);
  }
  return v;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of xs[0..count-1], which it sorts in place (so xs[0] and
 * xs[count - 1] are then the min and the max). */
static inline double bench_median(double *xs, int count) {
  qsort(xs, (size_t)count, sizeof *xs, bench_cmp_double);
  if (count % 2 == 1)
    return xs[count / 2];
  return (xs[count / 2 - 1] + xs[count / 2]) / 2;
}

/* x to the nearest 1/scale, so the JSON line stays short. */
static inline double bench_rounded(double x, double scale) {
  return (double)(long long)(x * scale + 0.5) / scale;
}

/* ---- the machine --------------------------------------------------------- */

static inline void bench_cpu_model(char *buf, size_t size) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  snprintf(buf, size, "?");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f) != NULL) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
      colon += 2;
      colon[strcspn(colon, "\n")] = '\0';
      snprintf(buf, size, "%s", colon);
      break;
    }
  }
  fclose(f);
}

/* The CPUs this process may run on, as a list ("0" when pinned with
 * taskset -c 0, "0-1" when free on two CPUs). */
static inline void bench_cpu_affinity(char *buf, size_t size) {
  cpu_set_t set;
  size_t used = 0;
  buf[0] = '\0';
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    snprintf(buf, size, "?");
    return;
  }
  for (int c = 0; c < CPU_SETSIZE && used + 16 < size; c++) {
    int end = c;
    if (!CPU_ISSET(c, &set))
      continue;
    while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, &set))
      end++;
    used +=
        (size_t)snprintf(buf + used, size - used, "%s%d", used ? "," : "", c);
    if (end > c)
      used += (size_t)snprintf(buf + used, size - used, "-%d", end);
    c = end;
  }
}

/* The 1-minute load average: how busy the rest of the machine was. */
static inline double bench_load_average(void) {
  double load = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f != NULL) {
    if (fscanf(f, "%lf", &load) != 1)
      load = -1;
    fclose(f);
  }
  return load;
}

/* ---- the Node side --------------------------------------------------------
 */

/* Whether `name` is an executable on PATH. */
static inline int bench_on_path(const char *name) {
  const char *path = getenv("PATH");
  char buf[PATH_MAX];
  while (path != NULL && *path != '\0') {
    size_t len = strcspn(path, ":");
    if (len > 0 && len + strlen(name) + 2 < sizeof buf) {
      snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, name);
      if (access(buf, X_OK) == 0)
        return 1;
    }
    path += len;
    if (*path == ':')
      path++;
  }
  return 0;
}

/* Whether the Node variants can run: node on PATH and `script` readable.
 * When not, says why on stdout (a "# " line) and returns 0. */
static inline int bench_node_usable(const char *script) {
  if (!bench_on_path("node")) {
    printf("# node is not on PATH: the Node variants are skipped\n");
    return 0;
  }
  if (access(script, R_OK) != 0) {
    printf("# %s not found (use -s): the Node variants are skipped\n", script);
    return 0;
  }
  return 1;
}

/* bench/node/<name> in the source tree (next to this header). The result
 * is a static buffer. */
static inline const char *bench_node_script(const char *name) {
  static char buf[PATH_MAX];
  const char *slash = strrchr(__FILE__, '/');
  int dir = slash ? (int)(slash - __FILE__) : 1;
  snprintf(buf, sizeof buf, "%.*s/node/%s", dir, slash ? __FILE__ : ".", name);
  return buf;
}

/* The versions of Node and of its libuv, as the first answer of
 * bench_node_run() that named them ("node", "uv") gave them; "" before. */
typedef struct {
  char node[64];
  char uv[32];
} bench_node_versions_t;

static inline bench_node_versions_t *bench_node_versions(void) {
  static bench_node_versions_t versions;
  return &versions;
}

/* Runs node with `argv` (argv[0] "node", argv[1] the script, argv[2] a
 * mode) to its end and returns the JSON object of the last line it
 * printed, or NULL with a message on stderr naming `who`. Notes the
 * versions it names (bench_node_versions()).
 * NODE_EXTRA_CA_CERTS is removed from its environment: on these machines
 * it is set and adds tens of milliseconds to every Node start. */
static inline json_t *bench_node_run(const char *who, const char *const argv[],
                                     uint64_t timeout_ms) {
  /* A name without '=' removes that variable (MUSTER_ENV_EXTEND). */
  const char *env[] = {"NODE_EXTRA_CA_CERTS", NULL};
  muster_exec_options_t options;
  muster_exec_result_t result;
  json_error_t jerr;
  json_t *answer = NULL;
  const char *line;
  int err;

  memset(&options, 0, sizeof options);
  options.spawn.env = env;
  options.spawn.timeout_ms = timeout_ms;
  err = muster_spawn_sync("node", argv, &options, &result);
  if (err != 0) {
    fprintf(stderr, "%s: node %s %s: %s\n", who, argv[1], argv[2],
            muster_err_name(err));
  } else if (result.exit_status != 0 || result.term_signal != 0) {
    fprintf(stderr, "%s: node %s %s: exit %lld signal %d: %s\n", who, argv[1],
            argv[2], (long long)result.exit_status, result.term_signal,
            result.stderr_buf ? result.stderr_buf : "");
  } else {
    /* The answer is the last line. */
    line = result.stdout_buf;
    for (const char *p = result.stdout_buf; *p != '\0'; p++)
      if (*p == '\n' && p[1] != '\0')
        line = p + 1;
    answer = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr);
    if (answer == NULL)
      fprintf(stderr, "%s: node %s: bad answer (%s): %s\n", who, argv[2],
              jerr.text, line);
  }
  if (answer != NULL && bench_node_versions()->node[0] == '\0') {
    bench_node_versions_t *v = bench_node_versions();
    const char *ver = NULL, *uv = NULL;
    json_unpack(answer, "{s?s, s?s}", "node", &ver, "uv", &uv);
    snprintf(v->node, sizeof v->node, "%s", ver ? ver : "?");
    snprintf(v->uv, sizeof v->uv, "%s", uv ? uv : "?");
  }
  muster_exec_result_free(&result);
  return answer;
}

/* ---- the header and the last line of a run ------------------------------ */

/* What a benchmark says about the machine it ran on. */
typedef struct {
  char model[128];
  char affinity[128];
  struct utsname uts;
  long cpus;
  double load_before, load_after;
} bench_machine_t;

/* Fills *m and prints the "# machine: ..." line; call before the first
 * round (it takes the load average then). */
static inline void bench_machine_start(bench_machine_t *m) {
  bench_cpu_model(m->model, sizeof m->model);
  bench_cpu_affinity(m->affinity, sizeof m->affinity);
  uname(&m->uts);
  m->cpus = sysconf(_SC_NPROCESSORS_ONLN);
  printf("# machine: %ld CPUs online (%s), running on CPUs %s; Linux %s; "
         "libuv %s\n",
         m->cpus, m->model, m->affinity, m->uts.release, uv_version_string());
  m->load_before = bench_load_average();
}

/* Takes the load average again and prints it, and Node's version when a
 * Node run named it; call after the last round. */
static inline void bench_machine_end(bench_machine_t *m) {
  const bench_node_versions_t *v = bench_node_versions();
  m->load_after = bench_load_average();
  printf("# load average (1 min) %.2f before, %.2f after\n", m->load_before,
         m->load_after);
  if (v->node[0] != '\0')
    printf("# node %s (its libuv %s)\n", v->node, v->uv);
}

/* Prints `doc` as the last line of output, compact, and frees it. */
static inline void bench_print_json(json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                   JSON_REAL_PRECISION(10));
  printf("%s\n", text ? text : "{}");
  free(text);
  json_decref(doc);
}

#endif
