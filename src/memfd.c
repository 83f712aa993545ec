/* Memory files for buffers another process may map. */
#include "memfd.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "muster/error.h"

int muster__memfd_map(int fd, size_t len, void **data) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size < len)
    return MUSTER_EINVAL;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return -errno;
  *data = p;
  return 0;
}

int muster__memfd_create(const char *name, size_t len, int *fd, void **data) {
  int f = memfd_create(name, MFD_CLOEXEC);
  if (f < 0)
    return -errno;
  /* ftruncate only sets the size: pages are allocated (zeroed) on first
   * touch, so a large buffer costs nothing until it is written. */
  if (ftruncate(f, (off_t)len) != 0) {
    int err = -errno;
    close(f);
    return err;
  }
  int err = muster__memfd_map(f, len, data);
  if (err != 0) {
    close(f);
    return err;
  }
  *fd = f;
  return 0;
}
