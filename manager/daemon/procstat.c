#include "procstat.h"

#include <muster.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstat_read(int pid, procstat_t *out) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return MUSTER_ESRCH;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return MUSTER_EIO;
  buf[n] = '\0';
  /* The name in parentheses may hold spaces and ')': skip to the last. */
  char *p = strrchr(buf, ')');
  if (p == NULL)
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

long procstat_hz(void) {
  static long hz;
  if (hz == 0)
    hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? hz : 100;
}

void procstat_sample(procstat_sample_t *s, int pid, uint64_t start_ms,
                     uint64_t now_ms) {
  if (pid <= 0) {
    *s = (procstat_sample_t){0};
    return;
  }
  if (s->pid == pid && s->at_ms && now_ms - s->at_ms < PROCSTAT_REFRESH_MS)
    return;
  procstat_t ps;
  if (procstat_read(pid, &ps) < 0) {
    *s = (procstat_sample_t){0};
    return;
  }
  /* The first sample of a process counts from its start. */
  int first = s->pid != pid || s->at_ms == 0;
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
  s->pid = pid;
}
