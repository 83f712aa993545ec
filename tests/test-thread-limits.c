/* resourceLimits: kernel limits on a process-isolated worker, the reason
 * it ended when it passed one, the parent living on; and the clear error
 * for a limit on a thread. */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
  int error, errors, code, sig, exits;
  char out[64];
  size_t nout;
  long long got; /* the number the worker printed, or -1 */
} lim_t;

/* The worker reports on its stdout: a write(2) to a pipe, which a crash
 * right after cannot lose (a message could still be in its loop). */
static void report(long long n) {
  dprintf(1, "%lld\n", n);
}

static void l_stdout(muster_thread_t *t, const char *data, size_t len) {
  lim_t *s = muster_thread_data(t);
  ASSERT_LE(s->nout + len, sizeof s->out - 1);
  memcpy(s->out + s->nout, data, len);
  s->nout += len;
}

static void l_error(muster_thread_t *t, int err) {
  lim_t *s = muster_thread_data(t);
  ASSERT_EQ(s->exits, 0); /* error, then exit */
  s->error = err;
  s->errors++;
}

static void l_exit(muster_thread_t *t, int code) {
  lim_t *s = muster_thread_data(t);
  s->code = code;
  s->sig = muster_thread_exit_signal(t);
  s->exits++;
  if (s->nout > 0)
    s->got = strtoll(s->out, NULL, 10);
  muster_thread_close(t, NULL);
}

/* Runs `entry` in a worker process with `limits` to its end. */
static void run(muster_thread_entry_cb entry, const muster_thread_limits_t *lim,
                intptr_t arg, lim_t *s) {
  uv_loop_t loop;
  muster_thread_options_t o = {0};
  muster_thread_t *t;
  memset(s, 0, sizeof *s);
  s->got = -1;
  o.isolation = MUSTER_THREAD_ISOLATION_PROCESS;
  if (lim)
    o.limits = *lim;
  o.arg = (void *)arg;
  o.on_stdout = l_stdout;
  o.on_error = l_error;
  o.on_exit = l_exit;
  o.data = s;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_thread_create(&loop, entry, &o, &t));
  test_run_loop(&loop, 60000);
  ASSERT_OK(uv_loop_close(&loop));
  ASSERT_EQ(s->exits, 1);
}

/* ---- memory -------------------------------------------------------------- */

#define MIB (1024 * 1024)
#define LIMIT (64 * MIB)
#define CAP 256 /* MiB: a worker with no limit stops here */

enum { ON_FULL_RETURN, ON_FULL_ABORT, ON_FULL_SEGV };

/* Maps (and touches) 1 MiB at a time until the kernel says no, or CAP
 * MiB; reports how many it got. mmap rather than malloc, so that a
 * sanitizer's allocator (which dies on a failed malloc) stays out of it.
 * Then fails as C programs do when memory runs out. */
static int hog_entry(uv_loop_t *loop, void *arg) {
  long long n = 0;
  char *p = NULL;
  while (n < CAP) {
    char *q = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
      break;
    memset(p = q, 1, MIB);
    n++;
  }
  /* As a real program has some slack left when one allocation fails,
   * give back the last MiB (less than the "full" margin): the C library
   * and a sanitizer's runtime may need some to print the report. */
  if (n < CAP && p)
    munmap(p, MIB);
  report(n);
  if (n == CAP)
    return 0;
  switch ((intptr_t)arg) {
  case ON_FULL_ABORT:
    abort();
  case ON_FULL_SEGV:
    *(volatile char *)NULL = 1;
    return 0;
  default:
    return MUSTER_ENOMEM;
  }
}

static const muster_thread_limits_t mem64 = {.max_memory = LIMIT};

/* Got between the limit less the "full" margin and the limit. */
static void assert_stopped_at_limit(const lim_t *s) {
  ASSERT_LE(s->got, LIMIT / MIB);
  ASSERT_GE(s->got, LIMIT / MIB - LIMIT / MIB / 16 - 1);
}

TEST_T(thread_limits_memory_error_exit, 60) {
  lim_t s;
  run(hog_entry, &mem64, ON_FULL_RETURN, &s);
  assert_stopped_at_limit(&s);
  ASSERT_EQ(s.errors, 1);
  ASSERT_ERR(s.error, MUSTER_ENOMEM);
  ASSERT_EQ(s.code, MUSTER_ENOMEM); /* the entry's error, in full */
  ASSERT_EQ(s.sig, 0);
}

/* abort() after a failed allocation, or the NULL it returned written to:
 * the worker dies of the signal, the reason is memory, the parent goes
 * on to run another worker. */
TEST_T(thread_limits_memory_crash, 90) {
  lim_t s;
  run(hog_entry, &mem64, ON_FULL_ABORT, &s);
  assert_stopped_at_limit(&s);
  ASSERT_ERR(s.error, MUSTER_ENOMEM);
  ASSERT_EQ(s.sig, SIGABRT);
  ASSERT_EQ(s.code, 128 + SIGABRT);
  run(hog_entry, &mem64, ON_FULL_SEGV, &s);
  assert_stopped_at_limit(&s);
  ASSERT_ERR(s.error, MUSTER_ENOMEM);
  ASSERT_EQ(s.sig, SIGSEGV);
  run(hog_entry, NULL, ON_FULL_RETURN, &s);
  ASSERT_EQ(s.got, CAP);
  ASSERT_EQ(s.code, 0);
}

/* Without the limit the same worker gets all it asks for; with it, an
 * error that is not about memory is not reported as memory. */
static int fail5_entry(uv_loop_t *loop, void *arg) {
  return muster_thread_exit(5) == 0 ? 0 : 1;
}

TEST_T(thread_limits_memory_only_when_full, 60) {
  lim_t s;
  run(hog_entry, NULL, ON_FULL_RETURN, &s);
  ASSERT_EQ(s.got, CAP);
  ASSERT_EQ(s.errors, 0);
  run(fail5_entry, &mem64, 0, &s);
  ASSERT_EQ(s.code, 5);
  ASSERT_EQ(s.errors, 0);
}

/* ---- CPU time, descriptors ----------------------------------------------- */

static int spin_entry(uv_loop_t *loop, void *arg) {
  for (volatile unsigned long i = 0;; i++)
    ;
  return 0;
}

TEST_T(thread_limits_cpu, 90) {
  muster_thread_limits_t l = {.max_cpu_seconds = 1};
  lim_t s;
  run(spin_entry, &l, 0, &s);
  ASSERT_EQ(s.sig, SIGXCPU);
  ASSERT_EQ(s.code, 128 + SIGXCPU);
  ASSERT_ERR(s.error, MUSTER_ETIMEDOUT);
}

static int open_entry(uv_loop_t *loop, void *arg) {
  long long n = 0;
  int fd;
  /* Counts what it can open (0, 1, 2 and the library's own are open
   * already), then the next one fails with EMFILE. */
  while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    n++;
  report(errno == EMFILE ? n : -errno);
  return 0;
}

TEST_T(thread_limits_open_files, 60) {
  muster_thread_limits_t l = {.max_open_files = 32};
  lim_t s;
  run(open_entry, &l, 0, &s);
  ASSERT_GE(s.got, 1);
  ASSERT_LE(s.got, 32 - 3);
  ASSERT_EQ(s.code, 0);
  run(open_entry, NULL, 0, &s);
  ASSERT_GE(s.got, 64); /* no limit of ours */
}

/* A limit the worker cannot set: it ends at once with the reason. More
 * descriptors than the kernel allows anyone (fs.nr_open) is EPERM even
 * for root. */
TEST_T(thread_limits_cannot_set, 60) {
  muster_thread_limits_t l = {.max_open_files = UINT_MAX};
  lim_t s;
  run(open_entry, &l, 0, &s);
  ASSERT_EQ(s.got, -1); /* the entry never ran */
  ASSERT_ERR(s.error, MUSTER_EPERM);
  ASSERT_EQ(s.code, 1);
}

/* ---- thread mode --------------------------------------------------------- */

static int never_entry(uv_loop_t *loop, void *arg) {
  TEST_FAIL("a thread with limits must not start");
  return 0;
}

/* The kernel limits processes, not threads: a clear error, nothing
 * started, nothing left open. */
TEST(thread_limits_thread_mode_rejected) {
  static const muster_thread_limits_t each[] = {
      {.max_memory = LIMIT}, {.max_cpu_seconds = 1}, {.max_open_files = 16}};
  uv_loop_t loop;
  muster_thread_options_t o = {0};
  muster_thread_t *t = NULL;
  int fds;
  ASSERT_OK(uv_loop_init(&loop));
  fds = test_fd_count();
  for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) {
    o.limits = each[i];
    ASSERT_ERR(muster_thread_create(&loop, never_entry, &o, &t),
               MUSTER_ENOTSUP);
    ASSERT(t == NULL);
  }
  /* A failed create frees its wake-up on the next loop turn. */
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_OK(uv_loop_close(&loop));
}
