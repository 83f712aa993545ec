/* muster__jw_*: see src/process_report_json.h.
 *
 * ASYNC-SIGNAL-SAFE ONLY: this file runs inside the fatal-signal handler.
 * No malloc, no stdio, no locks; write(2) is the only call. */
#include "process_report_json.h"

#include <errno.h>
#include <unistd.h>

void muster__jw_init(struct muster__jw *w, int fd) {
  w->fd = fd;
  w->err = 0;
  w->depth = 0;
  w->any = 0;
  w->len = 0;
}

int muster__jw_flush(struct muster__jw *w) {
  size_t off = 0;

  while (off < w->len && w->err == 0) {
    ssize_t n = write(w->fd, w->buf + off, w->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      w->err = -errno;
    else if (n == 0)
      w->err = -EIO;
    else
      off += (size_t)n;
  }
  w->len = 0;
  return w->err;
}

static void put(struct muster__jw *w, const char *s, size_t n) {
  while (n > 0) {
    if (w->len == sizeof w->buf)
      muster__jw_flush(w);
    size_t room = sizeof w->buf - w->len;
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
      w->buf[w->len + i] = s[i];
    w->len += k;
    s += k;
    n -= k;
  }
}

static void putc1(struct muster__jw *w, char c) {
  put(w, &c, 1);
}

void muster__jw_raw(struct muster__jw *w, const char *s, size_t n) {
  put(w, s, n);
}

static size_t cstrlen(const char *s) {
  size_t n = 0;
  while (s[n] != '\0')
    n++;
  return n;
}

static void put_escaped(struct muster__jw *w, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";

  putc1(w, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(w, e, 2);
    } else if (c == '\n') {
      put(w, "\\n", 2);
    } else if (c == '\t') {
      put(w, "\\t", 2);
    } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
      /* Bytes above 0x7f are escaped one by one as if Latin-1: paths and
       * environment values need not be UTF-8, and the document must stay
       * valid JSON whatever they hold. */
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(w, e, 6);
    } else {
      putc1(w, (char)c);
    }
  }
  putc1(w, '"');
}

/* The comma before a member, and its key. */
static void member(struct muster__jw *w, const char *key) {
  uint32_t bit = 1u << (w->depth < 31 ? w->depth : 31);
  if (w->any & bit)
    putc1(w, ',');
  w->any |= bit;
  if (key != NULL) {
    put_escaped(w, key, cstrlen(key));
    putc1(w, ':');
  }
}

static void open_container(struct muster__jw *w, const char *key, char c) {
  member(w, key);
  putc1(w, c);
  if (w->depth < 31)
    w->depth++;
  w->any &= ~(1u << w->depth);
}

void muster__jw_object(struct muster__jw *w, const char *key) {
  open_container(w, key, '{');
}

void muster__jw_array(struct muster__jw *w, const char *key) {
  open_container(w, key, '[');
}

void muster__jw_end(struct muster__jw *w, char close) {
  putc1(w, close);
  if (w->depth > 0)
    w->depth--;
}

void muster__jw_strn(struct muster__jw *w, const char *key, const char *s,
                     size_t n) {
  member(w, key);
  put_escaped(w, s, n);
}

void muster__jw_str(struct muster__jw *w, const char *key, const char *s) {
  if (s == NULL) {
    muster__jw_null(w, key);
    return;
  }
  muster__jw_strn(w, key, s, cstrlen(s));
}

size_t muster__jw_utoa(uint64_t v, char *buf) {
  char tmp[21];
  size_t n = 0, i = 0;

  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0)
    buf[i++] = tmp[--n];
  buf[i] = '\0';
  return i;
}

void muster__jw_uint(struct muster__jw *w, const char *key, uint64_t v) {
  char d[21];
  member(w, key);
  put(w, d, muster__jw_utoa(v, d));
}

void muster__jw_int(struct muster__jw *w, const char *key, int64_t v) {
  char d[21];
  member(w, key);
  if (v < 0) {
    putc1(w, '-');
    put(w, d, muster__jw_utoa((uint64_t)0 - (uint64_t)v, d));
  } else {
    put(w, d, muster__jw_utoa((uint64_t)v, d));
  }
}

void muster__jw_bool(struct muster__jw *w, const char *key, int v) {
  member(w, key);
  if (v)
    put(w, "true", 4);
  else
    put(w, "false", 5);
}

void muster__jw_null(struct muster__jw *w, const char *key) {
  member(w, key);
  put(w, "null", 4);
}

void muster__jw_hex(struct muster__jw *w, const char *key, uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  char d[19] = {'0', 'x'};
  int n = 2, started = 0;

  for (int shift = 60; shift >= 0; shift -= 4) {
    unsigned nib = (unsigned)(v >> shift) & 15;
    if (nib != 0 || started || shift == 0) {
      d[n++] = hex[nib];
      started = 1;
    }
  }
  muster__jw_strn(w, key, d, (size_t)n);
}
