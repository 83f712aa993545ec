/* Reading logs back: the last N lines of a file and of its rotated files
 * (gzipped or not), for `muster logs`. Blocking; the async form runs it in
 * the threadpool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "logfile_internal.h"
#include "muster/error.h"

typedef struct {
  char *data;
  size_t len;
} text_t;

/* Start of the last `lines` lines of t (a final line without '\n'
 * counts), and how many there are. */
static size_t last_lines(const text_t *t, size_t lines, size_t *found) {
  *found = 0;
  if (t->len == 0 || lines == 0)
    return t->len;
  size_t pos = t->len - (t->data[t->len - 1] == '\n');
  for (;;) {
    const char *nl = pos ? memrchr(t->data, '\n', pos) : NULL;
    size_t start = nl ? (size_t)(nl - t->data) + 1 : 0;
    if (++*found == lines || nl == NULL)
      return start;
    pos = start - 1; /* the '\n' that ends the line before */
  }
}

/* The tail of a plain file: read backwards in blocks until `lines` line
 * ends are seen or max_bytes is reached. */
static int read_plain(const char *path, size_t lines, size_t max_bytes,
                      text_t *t) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0) {
    int r = -errno;
    close(fd);
    return r;
  }
  size_t size = (size_t)st.st_size, take = 0, seen = 0;
  while (take < size && take < max_bytes && seen <= lines) {
    size_t step = size - take < 65536 ? size - take : 65536;
    char block[65536];
    ssize_t got = pread(fd, block, step, (off_t)(size - take - step));
    if (got != (ssize_t)step)
      break;
    for (size_t i = 0; i < step; i++)
      seen += block[i] == '\n';
    take += step;
  }
  if (take > max_bytes)
    take = max_bytes;
  t->data = malloc(take + 1);
  t->len = 0;
  if (t->data == NULL) {
    close(fd);
    return MUSTER_ENOMEM;
  }
  ssize_t got = pread(fd, t->data, take, (off_t)(size - take));
  close(fd);
  t->len = got > 0 ? (size_t)got : 0;
  /* Read from the middle of a line: that piece is no line of ours. */
  if (take < size) {
    const char *nl = memchr(t->data, '\n', t->len);
    size_t skip = nl ? (size_t)(nl - t->data) + 1 : t->len;
    memmove(t->data, t->data + skip, t->len - skip);
    t->len -= skip;
  }
  return 0;
}

/* A gzipped file can only be read forwards: keep the last 2 * max_bytes
 * while inflating, which holds the last lines we may return. */
static int read_gz(const char *path, size_t max_bytes, text_t *t) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  gzFile z = gzdopen(fd, "rb");
  if (z == NULL) {
    close(fd);
    return MUSTER_ENOMEM;
  }
  size_t cap = 2 * max_bytes + 65536;
  t->data = malloc(cap);
  t->len = 0;
  int r = t->data ? 0 : MUSTER_ENOMEM;
  while (r == 0) {
    if (t->len + 65536 > cap) {
      memmove(t->data, t->data + t->len - max_bytes, max_bytes);
      t->len = max_bytes;
    }
    int got = gzread(z, t->data + t->len, 65536);
    if (got < 0)
      r = MUSTER_EIO;
    if (got <= 0)
      break;
    t->len += (size_t)got;
  }
  gzclose(z);
  return r;
}

int muster_logfile_tail_sync(const char *path, size_t lines, size_t max_bytes,
                             char **out, size_t *len) {
  if (path == NULL || out == NULL || len == NULL)
    return MUSTER_EINVAL;
  if (max_bytes == 0)
    max_bytes = 16u << 20;
  char **rotated = NULL;
  int count = muster__logdisk_rotated(path, &rotated);
  if (count < 0)
    return count;
  char *res = NULL; /* built newest first: each older piece goes before */
  size_t rlen = 0, need = lines;
  int r = 0, any = count > 0 || access(path, F_OK) == 0;
  for (int i = count; i >= 0 && need > 0 && rlen < max_bytes; i--) {
    const char *name = i == count ? path : rotated[i];
    size_t n = strlen(name);
    text_t t = {NULL, 0};
    int gz = n > 3 && strcmp(name + n - 3, ".gz") == 0;
    int e = gz ? read_gz(name, max_bytes, &t)
               : read_plain(name, need, max_bytes, &t);
    if (e == MUSTER_ENOENT && !gz && i < count) {
      /* gzipped since we listed it (the prune job runs meanwhile): the
       * .gz holds its lines */
      free(t.data);
      t.data = NULL;
      char *z = malloc(n + 4);
      if (z != NULL) {
        memcpy(z, name, n);
        memcpy(z + n, ".gz", 4);
        e = read_gz(z, max_bytes, &t);
      }
      free(z);
    }
    if (e == MUSTER_ENOENT) { /* rotated or pruned meanwhile */
      free(t.data);
      continue;
    }
    if (e != 0) {
      free(t.data);
      r = e;
      break;
    }
    size_t found, start = last_lines(&t, need, &found);
    size_t piece = t.len - start;
    int add_nl = piece > 0 && t.data[t.len - 1] != '\n';
    if (rlen + piece + add_nl > max_bytes) { /* drop the oldest part */
      size_t room = max_bytes - rlen;
      const char *nl = memchr(t.data + start + (piece - room), '\n', room);
      start = nl ? (size_t)(nl - t.data) + 1 : t.len;
      piece = t.len - start;
      need = 1;
    }
    char *grown = malloc(rlen + piece + add_nl + 1);
    if (grown == NULL) {
      free(t.data);
      r = MUSTER_ENOMEM;
      break;
    }
    memcpy(grown, t.data + start, piece);
    if (add_nl)
      grown[piece] = '\n';
    if (rlen > 0)
      memcpy(grown + piece + add_nl, res, rlen);
    free(res);
    res = grown;
    rlen += piece + add_nl;
    need -= found < need ? found : need;
    free(t.data);
  }
  for (int i = 0; i < count; i++)
    free(rotated[i]);
  free(rotated);
  if (r == 0 && !any)
    r = MUSTER_ENOENT;
  if (r != 0) {
    free(res);
    return r;
  }
  if (res == NULL && (res = malloc(1)) == NULL)
    return MUSTER_ENOMEM;
  res[rlen] = '\0';
  *out = res;
  *len = rlen;
  return 0;
}

typedef struct {
  uv_work_t req;
  char *path;
  size_t lines, max_bytes;
  muster_logfile_tail_cb cb;
  void *data;
  int status;
  char *buf;
  size_t len;
} tail_t;

static void tail_work(uv_work_t *req) {
  tail_t *t = (tail_t *)req; /* its first member; req->data is libuv's to
                              * write on the loop's thread */
  muster__logfile_hand_over();
  t->status = muster_logfile_tail_sync(t->path, t->lines, t->max_bytes, &t->buf,
                                       &t->len);
  muster__logfile_hand_over();
}

static void tail_done(uv_work_t *req, int status) {
  tail_t *t = req->data;
  muster__logfile_hand_over();
  if (status != 0 && t->status == 0) {
    free(t->buf);
    t->buf = NULL;
    t->len = 0;
    t->status = status;
  }
  t->cb(t->status, t->status == 0 ? t->buf : NULL, t->len, t->data);
  free(t->path);
  free(t);
}

int muster_logfile_tail(uv_loop_t *loop, const char *path, size_t lines,
                        size_t max_bytes, muster_logfile_tail_cb cb,
                        void *data) {
  if (loop == NULL || path == NULL || cb == NULL)
    return MUSTER_EINVAL;
  tail_t *t = calloc(1, sizeof *t);
  if (t == NULL || (t->path = strdup(path)) == NULL) {
    free(t);
    return MUSTER_ENOMEM;
  }
  t->lines = lines;
  t->max_bytes = max_bytes;
  t->cb = cb;
  t->data = data;
  t->req.data = t;
  muster__logfile_hand_over();
  int r = uv_queue_work(loop, &t->req, tail_work, tail_done);
  if (r != 0) {
    free(t->path);
    free(t);
  }
  return r;
}
