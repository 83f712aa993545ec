/* Line framing for the channel's receive side; see channel_frame.h. */
#include "channel_frame.h"

#include <stdlib.h>
#include <string.h>

#include "muster/error.h"

/* After a large message the buffer is given back once it is empty, so one
 * 64 MiB message does not pin 64 MiB for the life of the channel; up to
 * this size it is kept, so a stream of 1 MiB messages does not regrow it
 * (and copy its partial contents) for each one. */
#define KEEP_CAP (4 * 1024 * 1024)

void muster__frame_init(muster__frame_reader_t *r, size_t max) {
  memset(r, 0, sizeof *r);
  r->max = max;
}

void muster__frame_free(muster__frame_reader_t *r) {
  free(r->buf);
  r->buf = NULL;
  r->cap = r->start = r->len = r->scan = 0;
}

int muster__frame_space(muster__frame_reader_t *r, size_t want, char **space,
                        size_t *avail) {
  if (r->start > 0) {
    /* Only the tail of an incomplete line moves: complete lines were
     * consumed, so this is cheap except right after a burst. */
    size_t keep = r->len - r->start;
    if (keep == 0 && r->cap > KEEP_CAP) {
      free(r->buf);
      r->buf = NULL;
      r->cap = 0;
    } else if (keep > 0) {
      memmove(r->buf, r->buf + r->start, keep);
    }
    r->scan -= r->start;
    r->len = keep;
    r->start = 0;
  }
  if (r->cap - r->len < want) {
    /* The bound: a line of max bytes, its '\n', and one read more. */
    size_t limit = r->max + 1 + want;
    size_t cap = r->cap ? r->cap : want;
    while (cap - r->len < want && cap < limit)
      cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit)
      cap = limit;
    if (cap > r->cap) {
      char *grown = realloc(r->buf, cap);
      if (grown == NULL)
        return MUSTER_ENOMEM;
      r->buf = grown;
      r->cap = cap;
    }
  }
  *space = r->buf + r->len;
  *avail = r->cap - r->len;
  return 0;
}

void muster__frame_commit(muster__frame_reader_t *r, size_t n) {
  r->len += n;
}

int muster__frame_next(muster__frame_reader_t *r, const char **line,
                       size_t *len) {
  char *nl = NULL;
  if (r->scan < r->len)
    nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
  if (nl == NULL) {
    r->scan = r->len;
    if (r->len - r->start > r->max)
      return MUSTER_EMSGSIZE;
    return 0;
  }
  size_t n = (size_t)(nl - (r->buf + r->start));
  if (n > r->max)
    return MUSTER_EMSGSIZE;
  *line = r->buf + r->start;
  *len = n;
  r->start += n + 1;
  r->scan = r->start;
  return 1;
}

size_t muster__frame_pending(const muster__frame_reader_t *r) {
  return r->len - r->start;
}
