/* The disk half of a log file: the fd, writes, rotation, pruning and gzip.
 * Everything here runs in a libuv threadpool thread (src/logfile.c makes
 * sure that one job at a time touches a file's mutable state), so blocking
 * calls are fine here and nowhere else. The hand-over step below is here,
 * the lowest of the logfile files, because both the write job
 * (src/logfile.c) and the tail job (src/logfile_tail.c, which the write
 * job calls for a history) take it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "logfile_internal.h"
#include "muster/error.h"

/* Ownership of the disk half, a batch or a tail request passes between
 * the loop and a threadpool job. libuv's queue already orders the two, but
 * with a mutex inside a library TSan does not see (Debian's libuv is not
 * instrumented), so each hand-over is also an acq_rel step on this counter,
 * which makes the order visible to TSan for one atomic add per batch. It
 * is static, not in the file: TSan would take the zeroing of a fresh
 * allocation, seen by a pool thread through the counter itself, for a
 * race. It holds no state; only its order matters. */
static atomic_uint hand_over_order;

void muster__logfile_hand_over(void) {
  atomic_fetch_add_explicit(&hand_over_order, 1, memory_order_acq_rel);
}

/* "<path>." + "YYYYmmdd-HHMMSS-NNN" */
#define STAMP_LEN 19

long muster__logdisk_period(muster_logfile_interval_t interval, time_t t) {
  struct tm tm;
  if (interval == MUSTER_LOGFILE_NEVER || localtime_r(&t, &tm) == NULL)
    return 0;
  long day = (long)tm.tm_year * 1000 + tm.tm_yday;
  return interval == MUSTER_LOGFILE_HOURLY ? day * 24 + tm.tm_hour : day;
}

static void fail(muster__logdisk_t *d, int err) {
  d->errors++;
  d->last_error = err;
}

int muster__logdisk_open(muster__logdisk_t *d) {
  struct stat st;
  int fd = open(d->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, d->mode);
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  d->fd = fd;
  d->regular = S_ISREG(st.st_mode);
  d->size = d->regular ? (uint64_t)st.st_size : 0;
  d->period = muster__logdisk_period(d->interval,
                                     d->size > 0 ? st.st_mtime : time(NULL));
  return 0;
}

void muster__logdisk_close(muster__logdisk_t *d) {
  if (d->fd >= 0)
    close(d->fd);
  d->fd = -1;
}

void muster__logdisk_reopen(muster__logdisk_t *d) {
  muster__logdisk_close(d);
  int r = muster__logdisk_open(d);
  if (r != 0)
    fail(d, r);
}

void muster__logdisk_truncate(muster__logdisk_t *d) {
  if (d->fd < 0 || !d->regular)
    return;
  if (ftruncate(d->fd, 0) != 0) {
    fail(d, -errno);
    return;
  }
  d->size = 0;
  d->period = muster__logdisk_period(d->interval, time(NULL));
}

/* Renames <path> to its rotated name without replacing anything: two
 * rotations in one second get counters 000, 001, ... in order. */
static int rename_away(muster__logdisk_t *d) {
  size_t n = strlen(d->path);
  char *name = malloc(n + STAMP_LEN + 2);
  time_t now = time(NULL);
  struct tm tm;
  if (name == NULL)
    return MUSTER_ENOMEM;
  gmtime_r(&now, &tm);
  d->last_seq = now == d->last_stamp ? d->last_seq + 1 : 0;
  d->last_stamp = now;
  int r = MUSTER_EEXIST;
  for (; d->last_seq < 1000 && r == MUSTER_EEXIST; d->last_seq++) {
    snprintf(name, n + STAMP_LEN + 2, "%s.%04d%02d%02d-%02d%02d%02d-%03u",
             d->path, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, d->last_seq);
    r = renameat2(AT_FDCWD, d->path, AT_FDCWD, name, RENAME_NOREPLACE) == 0
            ? 0
            : -errno;
    /* Filesystems without RENAME_NOREPLACE say EINVAL: check, then rename
     * (we are the only writer of these names). */
    if (r == MUSTER_EINVAL)
      r = access(name, F_OK) == 0      ? MUSTER_EEXIST
          : rename(d->path, name) == 0 ? 0
                                       : -errno;
    if (r == 0)
      break;
  }
  free(name);
  return r;
}

void muster__logdisk_rotate(muster__logdisk_t *d) {
  if (!d->regular || d->fd < 0)
    return;
  int r = rename_away(d);
  if (r != 0) {
    fail(d, r);
    return;
  }
  d->rotations++;
  muster__logdisk_reopen(d);
}

static void write_all(muster__logdisk_t *d, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(d->fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fail(d, n < 0 ? -errno : MUSTER_EIO);
      d->failed += len;
      return;
    }
    buf += n;
    len -= (size_t)n;
    d->size += (uint64_t)n;
    d->written += (uint64_t)n;
  }
}

void muster__logdisk_write(muster__logdisk_t *d, const char *buf, size_t len) {
  if (d->fd < 0)
    muster__logdisk_reopen(d); /* a failed reopen or rotation: retry */
  if (d->fd < 0) {
    d->failed += len;
    return;
  }
  int rotate = d->regular;
  if (rotate && d->size > 0 &&
      muster__logdisk_period(d->interval, time(NULL)) != d->period) {
    uint64_t before = d->rotations;
    muster__logdisk_rotate(d);
    rotate = d->rotations != before && d->fd >= 0;
  }
  while (len > 0 && d->fd >= 0) {
    size_t n = len;
    uint64_t room = d->size < d->max_size ? d->max_size - d->size : 0;
    if (rotate && d->max_size != UINT64_MAX && len > room) {
      /* Only whole lines go into the room left; the batch is whole lines. */
      const char *nl = room > 0 ? memrchr(buf, '\n', (size_t)room) : NULL;
      if (nl != NULL) {
        n = (size_t)(nl - buf) + 1;
      } else if (d->size > 0) {
        uint64_t before = d->rotations;
        muster__logdisk_rotate(d);
        rotate = d->rotations != before && d->fd >= 0;
        continue;
      } else { /* one line longer than max_size: written whole */
        nl = memchr(buf, '\n', len);
        n = nl ? (size_t)(nl - buf) + 1 : len;
      }
    }
    write_all(d, buf, n);
    buf += n;
    len -= n;
  }
  d->failed += len;
}

/* ---- rotated files ---- */

static int is_stamp(const char *s) {
  static const char shape[] = "dddddddd-dddddd-ddd";
  for (size_t i = 0; i < STAMP_LEN; i++)
    if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
      return 0;
  return s[STAMP_LEN] == '\0' || strcmp(s + STAMP_LEN, ".gz") == 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int muster__logdisk_rotated(const char *path, char ***names) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path))
                    : strdup(".");
  const char *base = slash ? slash + 1 : path;
  size_t blen = strlen(base), count = 0, cap = 0;
  char **list = NULL;
  int r = 0;
  /* open() and fdopendir(), not opendir(): this runs on a threadpool
   * thread, and ThreadSanitizer learns of a new fd from open() only.
   * libuv closes fds with a raw syscall it never sees, so after opendir()
   * took the number of a connection libuv had closed, closedir() here was
   * reported as racing with the loop's last use of that connection. */
  int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  DIR *dp = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (dp == NULL) {
    r = dir ? -errno : MUSTER_ENOMEM;
    if (dfd >= 0)
      close(dfd);
    free(dir);
    return r;
  }
  struct dirent *e;
  while (r == 0 && (e = readdir(dp)) != NULL) {
    if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' ||
        !is_stamp(e->d_name + blen + 1))
      continue;
    if (count == cap) {
      char **grown = realloc(list, (cap = cap ? cap * 2 : 8) * sizeof *list);
      if (grown == NULL) {
        r = MUSTER_ENOMEM;
        break;
      }
      list = grown;
    }
    size_t n = strlen(dir) + strlen(e->d_name) + 2;
    if ((list[count] = malloc(n)) == NULL) {
      r = MUSTER_ENOMEM;
      break;
    }
    snprintf(list[count++], n, "%s/%s", dir, e->d_name);
  }
  closedir(dp);
  free(dir);
  if (r != 0) {
    while (count > 0)
      free(list[--count]);
    free(list);
    return r;
  }
  if (count > 1)
    qsort(list, count, sizeof *list, by_name);
  /* "X" sorts right before "X.gz": both exist only for the moment between
   * gzip's rename and the unlink of X, and X is complete: keep X. */
  size_t out = 0;
  for (size_t i = 0; i < count; i++) {
    size_t n = strlen(list[i]);
    if (out > 0 && n == strlen(list[out - 1]) + 3 &&
        strncmp(list[i], list[out - 1], n - 3) == 0) {
      free(list[i]);
      continue;
    }
    list[out++] = list[i];
  }
  *names = list;
  return (int)out;
}

static int gzip_file(const char *name, int mode) {
  size_t n = strlen(name);
  char *gz = malloc(n + 8), *tmp = malloc(n + 8);
  char buf[65536];
  int r = 0;
  int in = -1, out = -1, made = 0;
  gzFile z = NULL;
  if (gz == NULL || tmp == NULL) {
    r = MUSTER_ENOMEM;
    goto done;
  }
  snprintf(gz, n + 8, "%s.gz", name);
  snprintf(tmp, n + 8, "%s.gz~", name);
  in = open(name, O_RDONLY | O_CLOEXEC);
  made = 1;
  out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (in < 0 || out < 0) {
    r = -errno;
    goto done;
  }
  /* gzdopen, not gzopen: our fds are O_CLOEXEC, and a daemon spawns. */
  z = gzdopen(out, "wb6");
  if (z == NULL) {
    r = MUSTER_ENOMEM;
    goto done;
  }
  out = -1; /* z owns it now */
  ssize_t got;
  while ((got = read(in, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
    if (got > 0 && gzwrite(z, buf, (unsigned)got) != (int)got) {
      r = MUSTER_EIO;
      break;
    }
  if (got < 0)
    r = -errno;
  if (gzclose(z) != Z_OK && r == 0)
    r = MUSTER_EIO;
  z = NULL;
  if (r == 0 && rename(tmp, gz) != 0)
    r = -errno;
  if (r == 0)
    unlink(name);
done:
  if (r != 0 && made)
    unlink(tmp);
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  free(gz);
  free(tmp);
  return r;
}

static uint64_t size_of(const char *name) {
  struct stat st;
  return stat(name, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int muster__logdisk_prune(const muster__logdisk_t *d, int compress) {
  char **list;
  int count = muster__logdisk_rotated(d->path, &list), r = 0;
  if (count < 0)
    return count;
  size_t keep = d->retain == MUSTER_LOGFILE_RETAIN_NONE ? 0 : d->retain;
  size_t first = (size_t)count > keep ? (size_t)count - keep : 0;
  for (size_t i = 0; i < first; i++)
    if (unlink(list[i]) != 0 && errno != ENOENT)
      r = -errno;
  for (size_t i = first; compress && i < (size_t)count; i++) {
    size_t n = strlen(list[i]);
    if (n > 3 && strcmp(list[i] + n - 3, ".gz") == 0)
      continue;
    int g = gzip_file(list[i], d->mode);
    if (g != 0)
      r = g;
    else {
      char *gz = realloc(list[i], n + 4);
      if (gz != NULL) {
        memcpy(gz + n, ".gz", 4);
        list[i] = gz;
      }
    }
  }
  if (d->max_total > 0) {
    uint64_t total = size_of(d->path);
    for (size_t i = first; i < (size_t)count; i++)
      total += list[i] ? size_of(list[i]) : 0;
    for (size_t i = first; i < (size_t)count && total > d->max_total; i++) {
      if (list[i] == NULL)
        continue;
      total -= size_of(list[i]);
      if (unlink(list[i]) != 0 && errno != ENOENT)
        r = -errno;
    }
  }
  for (int i = 0; i < count; i++)
    free(list[i]);
  free(list);
  return r;
}
