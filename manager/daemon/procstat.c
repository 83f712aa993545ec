#include "procstat.h"

#include <muster.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields 14, 15 and 24 of a stat line. */
static int parse_stat(char *buf, procstat_t *out) {
  /* The name in parentheses may hold spaces and ')': skip to the last. */
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] == '\0')
    return MUSTER_EIO;
  p += 2; /* now at field 3, the state */
  unsigned long long utime = 0, stime = 0;
  long long rss = 0;
  int field = 3;
  for (char *save = NULL, *t = strtok_r(p, " ", &save); t;
       t = strtok_r(NULL, " ", &save), field++) {
    if (field == 14)
      utime = strtoull(t, NULL, 10);
    else if (field == 15)
      stime = strtoull(t, NULL, 10);
    else if (field == 24) {
      rss = strtoll(t, NULL, 10);
      break;
    }
  }
  out->cpu_ticks = utime + stime;
  out->rss = rss > 0 ? (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
  return 0;
}

int procstat_read_fd(int fd, procstat_t *out) {
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0 && errno == ESRCH)
    return MUSTER_ESRCH;
  if (n <= 0)
    return MUSTER_EIO;
  buf[n] = '\0';
  return parse_stat(buf, out);
}

static int open_stat(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  return open(path, O_RDONLY | O_CLOEXEC);
}

long procstat_hz(void) {
  static long hz;
  if (hz == 0)
    hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? hz : 100;
}

void procstat_reset(procstat_sample_t *s) {
  if (s->stat_fd > 0)
    close(s->stat_fd - 1);
  *s = (procstat_sample_t){0};
}

void procstat_sample(procstat_sample_t *s, int pid, uint64_t start_ms,
                     uint64_t now_ms) {
  if (pid <= 0 || s->pid != pid)
    procstat_reset(s);
  if (pid <= 0)
    return;
  if (s->at_ms && now_ms - s->at_ms < PROCSTAT_REFRESH_MS)
    return;
  if (s->at_ms == 0 && now_ms >= start_ms &&
      now_ms - start_ms < PROCSTAT_YOUNG_MS)
    return; /* zero figures, and no sample yet */
  if (s->stat_fd == 0) {
    int fd = open_stat(pid);
    if (fd < 0)
      return;
    s->stat_fd = fd + 1;
    s->pid = pid;
  }
  procstat_t ps;
  if (procstat_read_fd(s->stat_fd - 1, &ps) < 0) {
    /* Gone: zero figures until the instance has a new pid. */
    s->cpu = 0;
    s->rss = 0;
    s->at_ms = now_ms;
    return;
  }
  /* The first sample of a process counts from its start. */
  int first = s->at_ms == 0;
  uint64_t since = first ? start_ms : s->at_ms;
  uint64_t base = first ? 0 : s->cpu_ticks;
  double cpu = 0;
  if (now_ms > since && ps.cpu_ticks >= base)
    cpu = (double)(ps.cpu_ticks - base) * 1000.0 / procstat_hz() * 100.0 /
          (double)(now_ms - since);
  s->cpu = (double)(long long)(cpu * 10 + 0.5) / 10;
  s->rss = ps.rss;
  s->cpu_ticks = ps.cpu_ticks;
  s->at_ms = now_ms;
}
