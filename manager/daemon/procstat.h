/* CPU and memory of a process, from /proc (for `ls` and `jlist`). */
#ifndef MANAGER_PROCSTAT_H
#define MANAGER_PROCSTAT_H

#include <stdint.h>

typedef struct {
  uint64_t cpu_ticks; /* utime + stime, in clock ticks */
  uint64_t rss;       /* bytes */
} procstat_t;

/* Reads an open /proc/<pid>/stat (pread at offset 0). Errors:
 * MUSTER_ESRCH (the process is gone), MUSTER_EIO. */
int procstat_read_fd(int fd, procstat_t *out);
/* Clock ticks per second. */
long procstat_hz(void);

/* The figures `ls` shows for one process, sampled at most once per
 * PROCSTAT_REFRESH_MS: a list of 1,000 apps spent most of its time in the
 * kernel formatting /proc/<pid>/stat (~9 us each), and the cpu share needs
 * a window that long anyway. The file stays open from the first sample of
 * a process, so a refresh is one pread: an open and a close cost two more
 * system calls and a path walk in /proc each (7 us a call on a virtual
 * machine; for 1,000 apps, 90-110 ms per refresh against 45-55 ms with
 * pread, at load 7 on 2 CPUs). The fd names the process, not its number:
 * once the process is gone it reads ESRCH, whoever gets the pid next. All
 * zero is a valid start (a new process). */
#define PROCSTAT_REFRESH_MS 1000
/* A process younger than this is shown with zero figures and not read:
 * it may still be inside execve(), and a read of its stat waits until the
 * exec is done (20 ms seen on a loaded machine; the daemon's loop waits
 * with it, and so does every request behind the `ls`). */
#define PROCSTAT_YOUNG_MS 100
typedef struct {
  uint64_t at_ms;     /* wall clock of the sample, 0 for none yet */
  uint64_t cpu_ticks; /* at that moment */
  uint64_t rss;       /* bytes */
  double cpu;         /* percent of one CPU over the last window */
  int pid;
  int stat_fd; /* /proc/<pid>/stat + 1, 0 when not open */
} procstat_sample_t;

/* Refreshes `s` for `pid` (started at `start_ms`, wall clock) when its
 * sample is older than PROCSTAT_REFRESH_MS or was of another pid; on a
 * process that is gone the figures are zero. */
void procstat_sample(procstat_sample_t *s, int pid, uint64_t start_ms,
                     uint64_t now_ms);
/* Closes the file of `s` and zeroes it (a new process, or the end). */
void procstat_reset(procstat_sample_t *s);

#endif
