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
