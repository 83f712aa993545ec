#include "applog.h"

#include <muster.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct applog_s {
  int fd;
  int timestamps;
  int at_line_start;
  uint64_t dropped;
  char path[];
};

int applog_open(const char *path, int timestamps, applog_t **out) {
  size_t n = strlen(path);
  applog_t *l = malloc(sizeof *l + n + 1);
  if (l == NULL)
    return MUSTER_ENOMEM;
  memcpy(l->path, path, n + 1);
  l->timestamps = timestamps;
  l->at_line_start = 1;
  l->dropped = 0;
  l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (l->fd < 0) {
    int e = -errno;
    free(l);
    return e;
  }
  *out = l;
  return 0;
}

static void put(applog_t *l, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(l->fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      l->dropped += len;
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

void applog_write(applog_t *l, const char *buf, size_t len) {
  if (!l->timestamps) {
    put(l, buf, len);
    return;
  }
  while (len > 0) {
    if (l->at_line_start) {
      char ts[64];
      time_t t = time(NULL);
      struct tm tm;
      localtime_r(&t, &tm);
      size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S: ", &tm);
      put(l, ts, n);
      l->at_line_start = 0;
    }
    const char *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) + 1 : len;
    put(l, buf, n);
    l->at_line_start = nl != NULL;
    buf += n;
    len -= n;
  }
}

int applog_reopen(applog_t *l) {
  int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    return -errno;
  close(l->fd);
  l->fd = fd;
  return 0;
}

int applog_truncate(applog_t *l) {
  return ftruncate(l->fd, 0) < 0 ? -errno : 0;
}

uint64_t applog_dropped(const applog_t *l) {
  return l->dropped;
}
const char *applog_path(const applog_t *l) {
  return l->path;
}

void applog_close(applog_t *l) {
  if (l == NULL)
    return;
  close(l->fd);
  free(l);
}
