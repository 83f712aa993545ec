/* resourceLimits for a process-isolated worker (src/thread_limits.h). */
#include "thread_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "muster/error.h"

/* What the worker tells its creator, in memory both processes map. */
typedef struct {
  atomic_int full;  /* its memory was full when it ended */
  atomic_int error; /* its limits could not be set */
} note_t;

struct muster__thread_limits_s {
  muster_thread_limits_t l;
  note_t *note;
  size_t margin;
};

/* The worker process's limits, for its fatal-signal handler: set once in
 * the worker (a process of its own, one thread at that point). */
static muster__thread_limits_t *worker_limits;
static char altstack[64 * 1024];

/* "Full" means: there is no room for `margin` more bytes of data under
 * the limit. The kernel does not say that an allocation failed, nor keep
 * a peak of the data size; but it answers exactly whether a mapping of
 * that size would fit, so ask it. One mmap and one munmap: both are
 * plain system calls, safe in a signal handler. */
static void note_if_full(muster__thread_limits_t *l) {
  int saved = errno;
  void *p = mmap(NULL, l->margin, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    atomic_store(&l->note->full, errno == ENOMEM);
  else
    munmap(p, l->margin);
  errno = saved;
}

/* A worker whose malloc failed usually dies of it: a NULL dereference
 * (SIGSEGV, SIGBUS) or abort() from an allocation wrapper. Note whether
 * its memory is full, then die of the same signal (SA_RESETHAND put the
 * default back; the raised signal waits until the handler returns). */
static void on_fatal(int sig) {
  if (worker_limits)
    note_if_full(worker_limits);
  raise(sig);
}

static void catch_fatal(void) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT};
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaltstack(&ss, NULL); /* a stack overflow must still reach it */
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction(sigs[i], &sa, NULL);
}

/* The data size (VmData: what RLIMIT_DATA counts) in bytes, or an error. */
static int64_t data_size(void) {
  char buf[8192], *p;
  ssize_t n, len = 0;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  while (len < (ssize_t)sizeof buf - 1 &&
         (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
    len += n;
  close(fd);
  buf[len] = '\0';
  p = strstr(buf, "\nVmData:");
  if (p == NULL)
    return MUSTER_ENOSYS;
  return strtoll(p + 8, NULL, 10) * 1024;
}

static int set(int resource, uint64_t soft, uint64_t hard) {
  struct rlimit r = {(rlim_t)soft, (rlim_t)hard};
  return setrlimit(resource, &r) == 0 ? 0 : -errno;
}

/* The worker may grow its data by max_memory from what it has now: what
 * it inherited with the fork (its creator's heap, mapped copy-on-write)
 * is not its own doing. Its hard limit goes down too, so it cannot lift
 * it again. */
static int limit_memory(muster__thread_limits_t *l) {
  int64_t base = data_size();
  uint64_t max;
  if (base < 0)
    return (int)base;
  max = (uint64_t)base + l->l.max_memory;
  if (max < (uint64_t)base || max >= (uint64_t)RLIM_INFINITY)
    max = (uint64_t)RLIM_INFINITY - 1;
  int r = set(RLIMIT_DATA, max, max);
  if (r == 0) {
    worker_limits = l;
    catch_fatal();
  }
  return r;
}

int muster__thread_limits_child(muster__thread_limits_t *l) {
  int r = 0;
  if (l == NULL)
    return 0;
  if (l->l.max_memory)
    r = limit_memory(l);
  /* CPU: SIGXCPU at the soft limit (its default action ends the worker),
   * SIGKILL a second later if the worker catches it. */
  if (r == 0 && l->l.max_cpu_seconds)
    r = set(RLIMIT_CPU, l->l.max_cpu_seconds,
            (uint64_t)l->l.max_cpu_seconds + 1);
  if (r == 0 && l->l.max_open_files)
    r = set(RLIMIT_NOFILE, l->l.max_open_files, l->l.max_open_files);
  if (r != 0)
    atomic_store(&l->note->error, r);
  return r;
}

void muster__thread_limits_end(muster__thread_limits_t *l) {
  if (l && l->l.max_memory)
    note_if_full(l);
}

int muster__thread_limits_reason(const muster__thread_limits_t *l, int sig) {
  int err;
  if (l == NULL)
    return 0;
  if ((err = atomic_load(&l->note->error)) != 0)
    return err;
  if (atomic_load(&l->note->full))
    return MUSTER_ENOMEM;
  if (l->l.max_cpu_seconds && sig == SIGXCPU)
    return MUSTER_ETIMEDOUT;
  return 0;
}

int muster__thread_limits_create(const muster_thread_limits_t *l, int process,
                                 muster__thread_limits_t **out) {
  muster__thread_limits_t *m;
  *out = NULL;
  if (!l->max_memory && !l->max_cpu_seconds && !l->max_open_files)
    return 0;
  if (!process)
    return MUSTER_ENOTSUP;
  m = calloc(1, sizeof *m);
  if (m == NULL)
    return MUSTER_ENOMEM;
  m->note = mmap(NULL, sizeof *m->note, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m->note == MAP_FAILED) {
    int r = -errno;
    free(m);
    return r;
  }
  m->l = *l;
  m->margin = l->max_memory / 16;
  if (m->margin < (1u << 20))
    m->margin = 1u << 20;
  *out = m;
  return 0;
}

void muster__thread_limits_free(muster__thread_limits_t *l) {
  if (l == NULL)
    return;
  munmap(l->note, sizeof *l->note);
  free(l);
}
