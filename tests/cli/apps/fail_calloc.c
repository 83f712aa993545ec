/* An LD_PRELOAD shim for tests: makes one calloc() fail in one process.
 * MUSTER_FAIL_CALLOC names a file holding "PID K": the K-th calloc() made
 * by process PID from then on returns NULL with ENOMEM, and the file is
 * removed then (so a test sees that it fired). Every other process and
 * call goes to glibc's calloc. Only calls, no allocation, in the check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_calloc(size_t n, size_t size);

static int fire(void) {
  static int busy; /* not thread-local: TLS may allocate */
  const char *path = getenv("MUSTER_FAIL_CALLOC");
  if (path == NULL || busy)
    return 0;
  busy = 1;
  int hit = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[64];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    long pid = 0, k = 0;
    if (len > 0) {
      buf[len] = '\0';
      char *end;
      pid = strtol(buf, &end, 10);
      k = strtol(end, NULL, 10);
    }
    if (pid == (long)getpid() && k <= 1) {
      unlink(path);
      hit = 1;
    } else if (pid == (long)getpid()) {
      int n = snprintf(buf, sizeof buf, "%ld %ld\n", pid, k - 1);
      fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd >= 0) {
        if (write(fd, buf, (size_t)n) < 0) {
        }
        close(fd);
      }
    }
  }
  busy = 0;
  return hit;
}

void *calloc(size_t n, size_t size) {
  if (fire()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_calloc(n, size);
}
