/* Shared buffers and futex wait/notify (muster/shared.h). */
#include "muster/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "memfd.h"
#include "muster/error.h"
#include "shared_internal.h"

struct muster_shared_s {
  atomic_size_t refs;
  void *data;
  size_t len;
  int fd;
};

static int wrap(int fd, void *data, size_t len, muster_shared_t **out) {
  muster_shared_t *s = malloc(sizeof *s);
  if (s == NULL)
    return MUSTER_ENOMEM;
  atomic_init(&s->refs, 1);
  s->data = data;
  s->len = len;
  s->fd = fd;
  *out = s;
  return 0;
}

int muster_shared_create(size_t len, muster_shared_t **out) {
  if (len == 0 || out == NULL)
    return MUSTER_EINVAL;
  if (len > PTRDIFF_MAX)
    return MUSTER_ENOMEM;
  int fd;
  void *data;
  int err = muster__memfd_create("muster-shared", len, &fd, &data);
  if (err == MUSTER_EINVAL || err == -EFBIG || err == MUSTER_ENOSPC)
    err = MUSTER_ENOMEM;
  if (err == 0 && (err = wrap(fd, data, len, out)) != 0) {
    munmap(data, len);
    close(fd);
  }
  return err;
}

int muster_shared_open(int fd, muster_shared_t **out) {
  struct stat st;
  if (out == NULL)
    return MUSTER_EINVAL;
  if (fstat(fd, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode) || st.st_size <= 0)
    return MUSTER_EINVAL;
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0)
    return -errno;
  size_t len = (size_t)st.st_size;
  void *data;
  int err = muster__memfd_map(own, len, &data);
  if (err == 0 && (err = wrap(own, data, len, out)) != 0)
    munmap(data, len);
  if (err != 0)
    close(own);
  return err;
}

muster_shared_t *muster_shared_ref(muster_shared_t *s) {
  /* Relaxed is enough: whoever refs already holds a reference, so the
   * object cannot go away under it (the shared_ptr argument). */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void muster_shared_unref(muster_shared_t *s) {
  if (s == NULL)
    return;
  /* Release so that this thread's writes to the buffer happen before the
   * unmap in whichever thread drops the last reference; that thread takes
   * them with the acquire fence. */
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release) != 1)
    return;
  atomic_thread_fence(memory_order_acquire);
  munmap(s->data, s->len);
  close(s->fd);
  free(s);
}

void *muster_shared_data(const muster_shared_t *s) {
  return s->data;
}

size_t muster_shared_length(const muster_shared_t *s) {
  return s->len;
}

int muster_shared_fd(const muster_shared_t *s) {
  return s->fd;
}

_Atomic int32_t *muster_shared_i32(muster_shared_t *s, size_t index) {
  if (s == NULL || index >= s->len / sizeof(int32_t))
    return NULL;
  return (_Atomic int32_t *)s->data + index;
}

_Atomic int64_t *muster_shared_i64(muster_shared_t *s, size_t index) {
  if (s == NULL || index >= s->len / sizeof(int64_t))
    return NULL;
  return (_Atomic int64_t *)s->data + index;
}

int muster__shared_check_addr(const _Atomic int32_t *addr) {
  if (addr == NULL || (uintptr_t)addr % sizeof(int32_t) != 0)
    return MUSTER_EINVAL;
  return 0;
}

int muster__shared_deadline(uint64_t timeout_ns, struct timespec *ts) {
  if (timeout_ns == MUSTER_SHARED_FOREVER)
    return 0;
  clock_gettime(CLOCK_MONOTONIC, ts);
  uint64_t sec = timeout_ns / 1000000000u;
  long nsec = ts->tv_nsec + (long)(timeout_ns % 1000000000u);
  /* A deadline past what time_t holds is as good as no deadline. */
  if (sec > (uint64_t)(INT64_MAX / 2) - (uint64_t)ts->tv_sec)
    return 0;
  ts->tv_sec += (time_t)sec + nsec / 1000000000;
  ts->tv_nsec = nsec % 1000000000;
  return 1;
}

int muster_shared_wait(_Atomic int32_t *addr, int32_t expected,
                       uint64_t timeout_ns) {
  int err = muster__shared_check_addr(addr);
  if (err != 0)
    return err;
  if (timeout_ns == 0)
    return atomic_load(addr) == expected ? MUSTER_SHARED_TIMED_OUT
                                         : MUSTER_SHARED_NOT_EQUAL;
  struct timespec ts;
  int timed = muster__shared_deadline(timeout_ns, &ts);
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
   * wait interrupted by a signal resumes with the same end instead of
   * starting its timeout again. No FUTEX_PRIVATE_FLAG: the key is the
   * memory file's page, which other processes reach too. */
  for (;;) {
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected,
                     timed ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
      return MUSTER_SHARED_OK;
    if (errno == EAGAIN)
      return MUSTER_SHARED_NOT_EQUAL;
    if (errno == ETIMEDOUT)
      return MUSTER_SHARED_TIMED_OUT;
    if (errno != EINTR)
      return MUSTER_EINVAL; /* EFAULT: not mapped */
  }
}

int muster_shared_notify(_Atomic int32_t *addr, uint32_t count) {
  int err = muster__shared_check_addr(addr);
  if (err != 0)
    return err;
  int n = count > INT_MAX ? INT_MAX : (int)count;
  if (n == 0)
    return 0;
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
  return r < 0 ? MUSTER_EINVAL : (int)r;
}

const char *muster_shared_result_name(int result) {
  switch (result) {
  case MUSTER_SHARED_OK:
    return "ok";
  case MUSTER_SHARED_NOT_EQUAL:
    return "not-equal";
  case MUSTER_SHARED_TIMED_OUT:
    return "timed-out";
  case MUSTER_SHARED_PENDING:
    return "pending";
  default:
    return muster_err_name(result);
  }
}
