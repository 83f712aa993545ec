/* The JSON encoder: see json_write.h for the text it writes.
 *
 * jansson's json_dump_callback costs ~15 callbacks, a snprintf per number
 * and a hashtable insert per container (its cycle check) for a 24-byte
 * message, and walks strings a code point at a time. Here the output goes
 * straight into the caller's buffer, plain runs of a string are found 16 or
 * 32 bytes at a time and copied with one memcpy, and the tree is walked
 * with an explicit stack instead of recursion. */
#include "json_write.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muster/error.h"

#include "json_scan.h"

/* One open container on the path from the root. */
typedef struct {
  const json_t *v;
  size_t i, n; /* arrays: the element being written, the size */
  void *iter;  /* objects: the member being written */
} frame_t;

/* Frames kept on the C stack; deeper nesting moves them to the heap. */
#define INLINE_FRAMES 32
/* A path this deep is checked for a repeated container (a cycle) ... */
#define CYCLE_CHECK_DEPTH 64

typedef struct {
  char *data;
  size_t len, cap;
  size_t max; /* len may not pass this (the start plus the limit) */
  frame_t *stack;
  size_t depth, stack_cap;
  /* ... and then again each time it doubles past the part already checked:
   * frames [0, checked) hold distinct containers. A cycle makes the path
   * grow without end, so some check finds it; the cost stays O(log depth)
   * a level, and nothing for values shallower than CYCLE_CHECK_DEPTH. */
  size_t checked;
  frame_t inline_stack[INLINE_FRAMES];
} writer_t;

/* ---- the buffer ---------------------------------------------------------- */

static __attribute__((noinline)) int grow(writer_t *w, size_t n) {
  if (n > SIZE_MAX - w->len)
    return MUSTER_ENOMEM;
  size_t need = w->len + n;
  size_t cap = w->cap < 128 ? 256 : w->cap * 2;
  /* Doubling should not allocate twice the limit for a message that must
   * stay under it: stop a little past the limit (a token may overshoot it
   * before the check after it fails the write). */
  size_t ceiling = w->max < SIZE_MAX - 64 ? w->max + 64 : SIZE_MAX;
  if (cap < w->cap || cap > ceiling)
    cap = ceiling;
  if (cap < need)
    cap = need;
  char *d = realloc(w->data, cap);
  if (d == NULL)
    return MUSTER_ENOMEM;
  w->data = d;
  w->cap = cap;
  return 0;
}

/* Room for n more bytes. */
static inline int reserve(writer_t *w, size_t n) {
  if (w->cap - w->len >= n)
    return 0;
  return grow(w, n);
}

static inline int put(writer_t *w, const char *s, size_t n) {
  int err = reserve(w, n);
  if (err)
    return err;
  memcpy(w->data + w->len, s, n);
  w->len += n;
  return 0;
}

static inline int put1(writer_t *w, char c) {
  if (w->len == w->cap) {
    int err = grow(w, 1);
    if (err)
      return err;
  }
  w->data[w->len++] = c;
  return 0;
}

static inline int over(const writer_t *w) {
  return w->len > w->max;
}

/* ---- strings ------------------------------------------------------------- */

/* 1: the byte may be copied as it is (ASCII, not '"', '\\' or a control
 * character). Non-ASCII bytes are 0 here: they leave the fast loop to be
 * checked as UTF-8, and then stay in the run being copied. */
static const uint8_t plain[256] = {
    [0x20 ... 0x21] = 1, /* not 0x22 '"' */
    [0x23 ... 0x5b] = 1, /* not 0x5c '\\' */
    [0x5d ... 0x7f] = 1,
};

/* The first byte at or after p that is not plain, or end. wide: the CPU
 * has AVX2 (looked up once a string, not at every stop). */
static inline const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end, int wide) {
#ifdef __SSE2__
  if (end - p >= 16) {
    unsigned bits = muster__json_special16(p);
    if (bits != 0)
      return p + __builtin_ctz(bits);
    p += 16;
#ifdef HAVE_AVX2_DISPATCH
    /* Text with many stops (escapes, non-ASCII) stays in this inlined
     * code; a run that goes past its first 16 bytes is likely long. */
    if (wide && end - p >= 64)
      p = muster__json_skip_plain_avx2(p, end);
#endif
    p = muster__json_skip_plain_sse2(p, end);
  }
#endif
  (void)wide;
  while (p < end && plain[*p])
    p++;
  return p;
}

/* The escape of an ASCII byte that is not plain, into out (6 bytes of
 * room); returns its length. */
static size_t escape(unsigned char c, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  out[0] = '\\';
  switch (c) {
  case '"':
  case '\\':
    out[1] = (char)c;
    return 2;
  case '\b':
    out[1] = 'b';
    return 2;
  case '\f':
    out[1] = 'f';
    return 2;
  case '\n':
    out[1] = 'n';
    return 2;
  case '\r':
    out[1] = 'r';
    return 2;
  case '\t':
    out[1] = 't';
    return 2;
  default:
    memcpy(out + 1, "u00", 3);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
  }
}

static int write_string(writer_t *w, const char *str, size_t n) {
  const unsigned char *p = (const unsigned char *)str, *end = p + n;
  const unsigned char *run = p;
  /* The text is at least the string and its quotes: fail before copying
   * anything when that is already too long. */
  if (over(w) || n > w->max - w->len || w->max - w->len - n < 2)
    return MUSTER_EMSGSIZE;
  int err = reserve(w, n + 2);
  if (err)
    return err;
  w->data[w->len++] = '"';
  int wide = 0;
#ifdef HAVE_AVX2_DISPATCH
  wide = n >= 128 && muster__have_avx2();
#endif
  for (;;) {
    p = skip_plain(p, end, wide);
    if (p == end)
      break;
    if (*p >= 0x80) {
      p = muster__json_skip_utf8(p, end);
      if (p == NULL)
        return MUSTER_EINVAL;
      continue;
    }
    size_t copy = (size_t)(p - run);
    size_t rest = (size_t)(end - p) - 1;
    memcpy(w->data + w->len, run, copy);
    w->len += copy;
    /* Room for the escape (at most 6 bytes), the rest of the string as it
     * is, and the closing quote. */
    err = reserve(w, rest + 7);
    if (err)
      return err;
    w->len += escape(*p, w->data + w->len);
    /* The rest and the quote take at least rest + 1 more bytes. */
    if (over(w) || rest >= w->max - w->len)
      return MUSTER_EMSGSIZE;
    run = ++p;
  }
  size_t copy = (size_t)(end - run);
  memcpy(w->data + w->len, run, copy);
  w->len += copy;
  w->data[w->len++] = '"';
  return 0;
}

/* ---- numbers ------------------------------------------------------------- */

/* Digits of u, right-aligned to end; returns where they start. */
static char *format_u64(uint64_t u, char *end) {
  static const char pairs[] = "00010203040506070809"
                              "10111213141516171819"
                              "20212223242526272829"
                              "30313233343536373839"
                              "40414243444546474849"
                              "50515253545556575859"
                              "60616263646566676869"
                              "70717273747576777879"
                              "80818283848586878889"
                              "90919293949596979899";
  char *p = end;
  while (u >= 100) {
    unsigned r = (unsigned)(u % 100);
    u /= 100;
    p -= 2;
    memcpy(p, pairs + 2 * r, 2);
  }
  if (u >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * u, 2);
  } else {
    *--p = (char)('0' + u);
  }
  return p;
}

static int write_integer(writer_t *w, json_int_t v) {
  char buf[24], *end = buf + sizeof buf;
  /* Negate in unsigned arithmetic: -INT64_MIN overflows json_int_t. */
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  char *p = format_u64(u, end);
  if (v < 0)
    *--p = '-';
  return put(w, p, (size_t)(end - p));
}

/* jansson 2.14's jsonp_dtostr: "%.17g", then ".0" when the text would read
 * back as an integer, and an exponent without '+' or leading zeros. */
static int write_real(writer_t *w, double v) {
  char buf[48], *end = buf + sizeof buf;
  if (!isfinite(v))
    return MUSTER_EINVAL; /* json_real() refuses these; be sure anyway */
  /* Integral values that %.17g prints in full (all below 2^53 are) skip
   * snprintf, which costs more than the rest of a small message. */
  if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
      v == (double)(int64_t)v) {
    int64_t i = (int64_t)v;
    end -= 2;
    memcpy(end, ".0", 2);
    char *p = format_u64(i < 0 ? 0 - (uint64_t)i : (uint64_t)i, end);
    if (signbit(v))
      *--p = '-'; /* also -0.0 */
    return put(w, p, (size_t)(buf + sizeof buf - p));
  }
  int n = snprintf(buf, sizeof buf, "%.17g", v);
  if (n < 0 || (size_t)n >= sizeof buf)
    return MUSTER_EINVAL;
  /* Rebuild the text from its parts: sign and digits, the decimal point
   * (whatever the locale made of it: one or more bytes that are not digits,
   * signs or 'e'), and the exponent. */
  char out[48];
  size_t o = 0;
  int point = 0;
  const char *s = buf, *e = buf + n;
  while (s < e && *s != 'e') {
    char c = *s++;
    if ((c >= '0' && c <= '9') || c == '-') {
      out[o++] = c;
    } else if (!point) {
      out[o++] = '.';
      point = 1;
    }
  }
  if (s == e) {
    if (!point) {
      out[o++] = '.';
      out[o++] = '0';
    }
  } else {
    out[o++] = 'e';
    s++;
    if (*s == '-')
      out[o++] = '-';
    if (*s == '-' || *s == '+')
      s++;
    while (s < e - 1 && *s == '0')
      s++;
    while (s < e)
      out[o++] = *s++;
  }
  return put(w, out, o);
}

/* ---- containers ---------------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b) {
  const void *pa = *(const void *const *)a, *pb = *(const void *const *)b;
  uintptr_t x = (uintptr_t)pa, y = (uintptr_t)pb;
  return (x > y) - (x < y);
}

/* Whether the path holds one container twice. */
static int path_has_cycle(const writer_t *w) {
  const void **v = malloc(w->depth * sizeof *v);
  if (v == NULL)
    return MUSTER_ENOMEM;
  for (size_t i = 0; i < w->depth; i++)
    v[i] = w->stack[i].v;
  qsort(v, w->depth, sizeof *v, cmp_ptr);
  int found = 0;
  for (size_t i = 1; i < w->depth && !found; i++)
    found = v[i] == v[i - 1];
  free(v);
  return found ? MUSTER_EINVAL : 0;
}

static int push(writer_t *w, const json_t *v) {
  if (w->depth == w->stack_cap) {
    size_t cap = w->stack_cap * 2;
    frame_t *s;
    if (w->stack == w->inline_stack) {
      s = malloc(cap * sizeof *s);
      if (s != NULL)
        memcpy(s, w->stack, w->depth * sizeof *s);
    } else {
      s = cap > SIZE_MAX / sizeof *s ? NULL
                                     : realloc(w->stack, cap * sizeof *s);
    }
    if (s == NULL)
      return MUSTER_ENOMEM;
    w->stack = s;
    w->stack_cap = cap;
  }
  w->stack[w->depth++].v = v;
  size_t at =
      w->checked > CYCLE_CHECK_DEPTH / 2 ? w->checked * 2 : CYCLE_CHECK_DEPTH;
  if (w->depth > at) {
    int err = path_has_cycle(w);
    if (err)
      return err;
    w->checked = w->depth;
  }
  return 0;
}

static void pop(writer_t *w) {
  w->depth--;
  if (w->checked > w->depth)
    w->checked = w->depth;
}

static const char *member_key(void *iter, size_t *len) {
  const char *key = json_object_iter_key(iter);
#if JANSSON_VERSION_HEX >= 0x020e00
  *len = json_object_iter_key_len(iter);
#else
  *len = strlen(key); /* before 2.14 keys could not hold NUL */
#endif
  return key;
}

/* Writes `"key":` of the member at iter; returns its value. */
static const json_t *write_member(writer_t *w, void *iter, int *err) {
  size_t len;
  const char *key = member_key(iter, &len);
  *err = write_string(w, key, len);
  if (*err == 0)
    *err = put1(w, ':');
  return json_object_iter_value(iter);
}

/* Writes v; a non-empty container is opened (its first member or element
 * is left in *next). Returns the error. */
static int write_value(writer_t *w, const json_t *v, const json_t **next) {
  *next = NULL;
  switch (json_typeof(v)) {
  case JSON_NULL:
    return put(w, "null", 4);
  case JSON_TRUE:
    return put(w, "true", 4);
  case JSON_FALSE:
    return put(w, "false", 5);
  case JSON_INTEGER:
    return write_integer(w, json_integer_value(v));
  case JSON_REAL:
    return write_real(w, json_real_value(v));
  case JSON_STRING:
    return write_string(w, json_string_value(v), json_string_length(v));
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    if (n == 0)
      return put(w, "[]", 2);
    int err = push(w, v);
    if (err)
      return err;
    frame_t *f = &w->stack[w->depth - 1];
    f->i = 0;
    f->n = n;
    f->iter = NULL;
    *next = json_array_get(v, 0);
    if (*next == NULL)
      return MUSTER_EINVAL; /* cannot happen in jansson; it would fail */
    return put1(w, '[');
  }
  case JSON_OBJECT: {
    void *iter = json_object_iter((json_t *)v);
    if (iter == NULL)
      return put(w, "{}", 2);
    int err = push(w, v);
    if (err)
      return err;
    w->stack[w->depth - 1].iter = iter;
    err = put1(w, '{');
    if (err)
      return err;
    *next = write_member(w, iter, &err);
    if (err == 0 && *next == NULL)
      err = MUSTER_EINVAL;
    return err;
  }
  default:
    return MUSTER_EINVAL;
  }
}

/* After a value: closes every container it finished, then writes the
 * separator before the next member or element and returns that, or NULL
 * when the root is done. */
static const json_t *advance(writer_t *w, int *err) {
  *err = 0;
  while (w->depth > 0) {
    frame_t *f = &w->stack[w->depth - 1];
    if (f->iter == NULL) {
      if (++f->i < f->n) {
        *err = put1(w, ',');
        return json_array_get(f->v, f->i);
      }
      *err = put1(w, ']');
    } else {
      f->iter = json_object_iter_next((json_t *)f->v, f->iter);
      if (f->iter != NULL) {
        *err = put1(w, ',');
        return *err ? NULL : write_member(w, f->iter, err);
      }
      *err = put1(w, '}');
    }
    if (*err == 0 && over(w))
      *err = MUSTER_EMSGSIZE;
    if (*err)
      return NULL;
    pop(w);
  }
  return NULL;
}

int muster__json_write(const json_t *value, struct muster__buf *buf,
                       size_t limit) {
  if (value == NULL || buf == NULL)
    return MUSTER_EINVAL;
  writer_t w;
  w.data = buf->data;
  w.len = buf->len;
  w.cap = buf->cap;
  w.max = limit > SIZE_MAX - buf->len ? SIZE_MAX : buf->len + limit;
  w.stack = w.inline_stack;
  w.depth = 0;
  w.stack_cap = INLINE_FRAMES;
  w.checked = 0;
  int err;
  const json_t *v = value;
  do {
    const json_t *next;
    err = write_value(&w, v, &next);
    if (err == 0 && over(&w))
      err = MUSTER_EMSGSIZE;
    if (err)
      break;
    /* A NULL element or member value is no JSON (jansson fails on it):
     * advance() returns NULL with containers still open. */
    v = next != NULL ? next : advance(&w, &err);
    if (err == 0 && v == NULL && w.depth > 0)
      err = MUSTER_EINVAL;
  } while (err == 0 && w.depth > 0);
  if (err == 0 && over(&w))
    err = MUSTER_EMSGSIZE;
  if (w.stack != w.inline_stack)
    free(w.stack);
  buf->data = w.data;
  buf->cap = w.cap;
  if (err == 0)
    buf->len = w.len;
  return err;
}

int muster__buf_put1(struct muster__buf *buf, char c) {
  if (buf->len == buf->cap) {
    char *d = buf->len == SIZE_MAX ? NULL : realloc(buf->data, buf->len + 1);
    if (d == NULL)
      return MUSTER_ENOMEM;
    buf->data = d;
    buf->cap = buf->len + 1;
  }
  buf->data[buf->len++] = c;
  return 0;
}
