/* Anonymous memory files mapped shared: the memory that buffers and shared
 * buffers use so that another process can map the same pages from a
 * descriptor (process isolation). */
#ifndef MUSTER_MEMFD_H
#define MUSTER_MEMFD_H

#include <stddef.h>

/* Creates a memory file of `len` (> 0) zero bytes named `name` (shown in
 * /proc/PID/maps and fd links), O_CLOEXEC, and maps it read-write,
 * MAP_SHARED. On success *fd and *data are set. Errors: negative errno of
 * memfd_create, ftruncate or mmap; nothing is left open. */
int muster__memfd_create(const char *name, size_t len, int *fd, void **data);

/* Maps `len` (> 0) bytes of the memory file `fd` read-write, MAP_SHARED,
 * after checking that the file holds at least that many. Does not take
 * `fd`. Errors: MUSTER_EINVAL (short file or not a regular file), fstat's
 * and mmap's. */
int muster__memfd_map(int fd, size_t len, void **data);

#endif
