/* Fuzz target for reading an app's output straight into a log file's
 * queue (muster_logsource_reserve, src/logfile_source.c): the same bytes,
 * cut into the same reads, go to one file by copy and to another through
 * reservations, some left unused (a read that got nothing), some read
 * short; both files must come out byte for byte the same. The first byte
 * picks the read size, the second when a room goes unused or a read comes
 * short; the rest is what the app wrote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "muster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 64

static muster_logfile_t *open_mem(uv_loop_t *loop, int fd) {
  char path[64];
  muster_logfile_t *f;
  muster_logfile_options_t o = {.max_line = MAX_LINE,
                                .flags = MUSTER_LOGFILE_NO_SIZE_ROTATION,
                                .interval = MUSTER_LOGFILE_NEVER};
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  if (muster_logfile_open(loop, path, &o, &f) != 0)
    abort();
  return f;
}

static char *contents(int fd, size_t *len) {
  off_t n = lseek(fd, 0, SEEK_END);
  char *b = malloc((size_t)n + 1);
  if (n < 0 || b == NULL || pread(fd, b, (size_t)n, 0) != n)
    abort();
  *len = (size_t)n;
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t chunk = (size_t)data[0] % 97 + 1;
  unsigned pattern = data[1];
  data += 2;
  size -= 2;
  uv_loop_t loop;
  muster_logsource_t *sa, *sb;
  muster_logsource_options_t so = {"fuzz", 0, MUSTER_LOG_OUT};
  int fa = memfd_create("copy", MFD_CLOEXEC);
  int fb = memfd_create("room", MFD_CLOEXEC);
  if (fa < 0 || fb < 0)
    abort();
  uv_loop_init(&loop);
  muster_logfile_t *a = open_mem(&loop, fa), *b = open_mem(&loop, fb);
  if (muster_logsource_open(a, &so, &sa) != 0 ||
      muster_logsource_open(b, &so, &sb) != 0)
    abort();
  size_t at = 0;
  for (unsigned k = 0; at < size; k++) {
    size_t want = size - at < chunk ? size - at : chunk, got;
    char *room;
    if (muster_logsource_reserve(sb, want, &room, &got) != 0 || got == 0 ||
        got > want)
      abort(); /* a raw file nobody follows always has room */
    if (k % 2 == 0 && (pattern >> (k / 2 % 8)) & 1)
      continue; /* nothing came (never twice in a row) */
    if (k % 3 == 0 && got > 1)
      got /= 2; /* a short read */
    memcpy(room, data + at, got);
    muster_logsource_write(sb, room, got);
    muster_logsource_write(sa, data + at, got);
    at += got;
    if (k % 16 == 15)
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  muster_logsource_close(sa);
  muster_logsource_close(sb);
  muster_logfile_close(a, NULL);
  muster_logfile_close(b, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    abort();
  size_t la, lb;
  char *ca = contents(fa, &la), *cb = contents(fb, &lb);
  if (la != lb || memcmp(ca, cb, la) != 0)
    abort();
  free(ca);
  free(cb);
  close(fa);
  close(fb);
  return 0;
}
