/* CPU and memory of a process, from /proc (for `ls` and `jlist`). */
#ifndef MANAGER_PROCSTAT_H
#define MANAGER_PROCSTAT_H

#include <stdint.h>

typedef struct {
  uint64_t cpu_ticks; /* utime + stime, in clock ticks */
  uint64_t rss;       /* bytes */
} procstat_t;

/* Reads /proc/<pid>/stat. Errors: MUSTER_ESRCH (gone), MUSTER_EIO. */
int procstat_read(int pid, procstat_t *out);
/* Clock ticks per second. */
long procstat_hz(void);

/* The figures `ls` shows for one process, sampled at most once per
 * PROCSTAT_REFRESH_MS: a list of 1,000 apps spent most of its time in the
 * kernel formatting /proc/<pid>/stat (~9 us each), and the cpu share needs
 * a window that long anyway. All zero is a valid start (a new process). */
#define PROCSTAT_REFRESH_MS 1000
typedef struct {
  uint64_t at_ms;     /* wall clock of the sample, 0 for none yet */
  uint64_t cpu_ticks; /* at that moment */
  uint64_t rss;       /* bytes */
  double cpu;         /* percent of one CPU over the last window */
  int pid;
} procstat_sample_t;

/* Refreshes `s` for `pid` (started at `start_ms`, wall clock) when its
 * sample is older than PROCSTAT_REFRESH_MS or was of another pid; on a
 * process that is gone the figures are zero. */
void procstat_sample(procstat_sample_t *s, int pid, uint64_t start_ms,
                     uint64_t now_ms);

#endif
