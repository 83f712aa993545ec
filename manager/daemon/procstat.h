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

#endif
