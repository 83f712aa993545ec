/* The JSON decoder: see json_read.h for the value it builds.
 *
 * One pass over the text, no recursion: containers are created when their
 * opening bracket is read and attached to their parent at once (a member's
 * place in an object is its key's place either way), so the only state is
 * a stack of open containers. Strings without escapes go from the text to
 * json_stringn_nocheck directly; others are decoded into a scratch buffer
 * reused for the whole text. The plain-byte scan is json_check's. */
#include "json_read.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "muster/error.h"

#include "json_scan.h"

/* An integer beyond json_int_t: start again with every number a real. */
#define BIG_INT 1

struct scratch {
  char *data;
  size_t len, cap;
};

struct reader {
  const unsigned char *p, *end;
  int as_real;
  struct scratch key, str;
  json_t **stack;
  size_t stack_cap;
  json_t *small_stack[64];
};

/* Bytes a string body must stop at: quote, backslash, controls, and
 * non-ASCII (which is checked as UTF-8). */
static const uint8_t special[256] = {
    [0x00 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

/* The first special byte at or after p, or end. */
static const unsigned char *skip_plain(const unsigned char *p,
                                       const unsigned char *end) {
#ifdef HAVE_AVX2_DISPATCH
  if (end - p >= 64 && muster__have_avx2())
    p = muster__json_skip_plain_avx2(p, end);
#endif
#ifdef __SSE2__
  p = muster__json_skip_plain_sse2(p, end);
#endif
  while (p < end && !special[*p])
    p++;
  return p;
}

static long hex4(const unsigned char *p, const unsigned char *end) {
  if (end - p < 4)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i];
    int h;
    if (c >= '0' && c <= '9')
      h = (int)(c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      h = (int)((c | 0x20) - 'a' + 10);
    else
      return -1;
    v = v << 4 | h;
  }
  return v;
}

static int reserve(struct scratch *s, size_t more) {
  if (s->cap - s->len >= more)
    return 0;
  size_t cap = s->cap ? s->cap : 256;
  while (cap - s->len < more) {
    if (cap > SIZE_MAX / 2)
      return MUSTER_ENOMEM;
    cap *= 2;
  }
  char *d = realloc(s->data, cap);
  if (d == NULL)
    return MUSTER_ENOMEM;
  s->data = d;
  s->cap = cap;
  return 0;
}

/* p points after "\u"; decodes one code point (a surrogate pair as one)
 * into out (4 bytes), returns its length and advances *pp, or 0. */
static int unicode_escape(const unsigned char **pp, const unsigned char *end,
                          char *out) {
  const unsigned char *p = *pp;
  long cp = hex4(p, end);
  if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
    return 0;
  p += 4;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
      return 0;
    long lo = hex4(p + 2, end);
    if (lo < 0xdc00 || lo > 0xdfff)
      return 0;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    p += 6;
  }
  *pp = p;
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* r->p points after an opening quote. Reads the string up to and past its
 * closing quote; *s and *n are its decoded bytes, either in the text or in
 * buf (valid until buf's next use). *nul is set when it holds U+0000. */
static int read_string(struct reader *r, struct scratch *buf, const char **s,
                       size_t *n, int *nul) {
  const unsigned char *p = r->p, *end = r->end;
  const unsigned char *run = p;
  int escaped = 0;
  buf->len = 0;
  for (;;) {
    p = skip_plain(p, end);
    if (p >= end)
      return MUSTER_EBADMSG;
    unsigned c = *p;
    if (c >= 0x80) {
      p = muster__json_skip_utf8(p, end);
      if (p == NULL)
        return MUSTER_EBADMSG;
      continue;
    }
    if (c == '"')
      break;
    if (c != '\\')
      return MUSTER_EBADMSG; /* a raw control character */
    /* Copy the run before the escape, then decode the escape. */
    size_t k = (size_t)(p - run);
    if (reserve(buf, k + 4) != 0)
      return MUSTER_ENOMEM;
    memcpy(buf->data + buf->len, run, k);
    buf->len += k;
    escaped = 1;
    p++;
    if (p >= end)
      return MUSTER_EBADMSG;
    char *out = buf->data + buf->len;
    switch (*p++) {
    case '"':
      *out = '"';
      break;
    case '\\':
      *out = '\\';
      break;
    case '/':
      *out = '/';
      break;
    case 'b':
      *out = '\b';
      break;
    case 'f':
      *out = '\f';
      break;
    case 'n':
      *out = '\n';
      break;
    case 'r':
      *out = '\r';
      break;
    case 't':
      *out = '\t';
      break;
    case 'u': {
      int m = unicode_escape(&p, end, out);
      if (m == 0)
        return MUSTER_EBADMSG;
      if (m == 1 && *out == '\0')
        *nul = 1;
      buf->len += (size_t)m - 1;
      break;
    }
    default:
      return MUSTER_EBADMSG;
    }
    buf->len++;
    run = p;
  }
  if (escaped) {
    size_t k = (size_t)(p - run);
    if (reserve(buf, k) != 0)
      return MUSTER_ENOMEM;
    memcpy(buf->data + buf->len, run, k);
    buf->len += k;
    *s = buf->data;
    *n = buf->len;
  } else {
    *s = (const char *)r->p;
    *n = (size_t)(p - r->p);
  }
  r->p = p + 1;
  return 0;
}

/* strtod of text[0..n), which is a JSON number, as jansson's jsonp_strtod
 * does it: '.' becomes the locale's decimal point. */
static int read_real(const char *text, size_t n, double *out) {
  char small[64];
  char *s = n < sizeof small ? small : malloc(n + 1);
  if (s == NULL)
    return MUSTER_ENOMEM;
  memcpy(s, text, n);
  s[n] = '\0';
  const char *point = localeconv()->decimal_point;
  if (point[0] != '.' && point[0] != '\0' && point[1] == '\0') {
    char *dot = memchr(s, '.', n);
    if (dot)
      *dot = point[0];
  }
  errno = 0;
  double d = strtod(s, NULL);
  int e = errno;
  if (s != small)
    free(s);
  if ((d == HUGE_VAL || d == -HUGE_VAL) && e == ERANGE)
    return MUSTER_ERANGE;
  *out = d;
  return 0;
}

/* r->p points at the first byte of a number (or of garbage). */
static int read_number(struct reader *r, json_t **v) {
  const unsigned char *p = r->p, *end = r->end, *start = p;
  int neg = 0, integral = 1;
  uint64_t acc = 0;
  int overflow = 0;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end)
    return MUSTER_EBADMSG;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    /* 19 digits always fit in 64 bits; only longer runs need the check. */
    const unsigned char *fast_end = end - p > 19 ? p + 19 : end;
    while (p < fast_end && *p >= '0' && *p <= '9')
      acc = acc * 10 + (unsigned)(*p++ - '0');
    while (p < end && *p >= '0' && *p <= '9') {
      unsigned d = (unsigned)(*p - '0');
      if (acc > (UINT64_MAX - d) / 10)
        overflow = 1;
      else
        acc = acc * 10 + d;
      p++;
    }
  } else {
    return MUSTER_EBADMSG;
  }
  if (p < end && *p == '.') {
    integral = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return MUSTER_EBADMSG;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integral = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return MUSTER_EBADMSG;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  r->p = p;
  if (integral && !r->as_real) {
    /* strtoll's range: -2^63 .. 2^63 - 1. */
    uint64_t lim = (uint64_t)INT64_MAX + (uint64_t)neg;
    if (overflow || acc > lim)
      return BIG_INT;
    json_int_t i = neg ? (json_int_t)(0 - acc) : (json_int_t)acc;
    if (neg && acc == (uint64_t)INT64_MAX + 1)
      i = INT64_MIN;
    *v = json_integer(i);
    return *v ? 0 : MUSTER_ENOMEM;
  }
  double d;
  int err = read_real((const char *)start, (size_t)(p - start), &d);
  if (err)
    return err;
  *v = json_real(d);
  return *v ? 0 : MUSTER_ENOMEM;
}

static int read_literal(struct reader *r, const char *lit, size_t n, json_t *v,
                        json_t **out) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
    return MUSTER_EBADMSG;
  r->p += n;
  *out = v;
  return 0;
}

static void skip_ws(struct reader *r) {
  const unsigned char *p = r->p, *end = r->end;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  r->p = p;
}

static int push(struct reader *r, size_t depth, json_t *c) {
  if (depth == r->stack_cap) {
    size_t cap = r->stack_cap * 2;
    json_t **s = malloc(cap * sizeof *s);
    if (s == NULL)
      return MUSTER_ENOMEM;
    memcpy(s, r->stack, depth * sizeof *s);
    if (r->stack != r->small_stack)
      free(r->stack);
    r->stack = s;
    r->stack_cap = cap;
  }
  r->stack[depth] = c;
  return 0;
}

/* One pass over the text; 0 with *root set, BIG_INT, or an error. */
static int read_text(struct reader *r, json_t **root) {
  size_t depth = 0;
  const char *key = NULL;
  size_t key_len = 0;
  json_t *v;
  int err;

value:
  /* jansson counts every value, scalars too, against its limit: 2048
   * nested empty arrays parse, but not 2048 around a 1 (which json_check
   * lets through). */
  if (depth == MUSTER__JSON_MAX_DEPTH)
    return MUSTER_EBADMSG;
  skip_ws(r);
  if (r->p >= r->end)
    return MUSTER_EBADMSG;
  switch (*r->p) {
  case '{':
  case '[':
    v = *r->p == '{' ? json_object() : json_array();
    if (v == NULL)
      return MUSTER_ENOMEM;
    r->p++;
    break;
  case '"': {
    const char *s;
    size_t n;
    int nul = 0;
    r->p++;
    err = read_string(r, &r->str, &s, &n, &nul);
    if (err)
      return err;
    v = json_stringn_nocheck(s, n);
    if (v == NULL)
      return MUSTER_ENOMEM;
    break;
  }
  case 't':
    err = read_literal(r, "true", 4, json_true(), &v);
    if (err)
      return err;
    break;
  case 'f':
    err = read_literal(r, "false", 5, json_false(), &v);
    if (err)
      return err;
    break;
  case 'n':
    err = read_literal(r, "null", 4, json_null(), &v);
    if (err)
      return err;
    break;
  default:
    err = read_number(r, &v);
    if (err)
      return err;
    break;
  }

  /* Attach v to its parent (or make it the root); the parent holds the
   * only reference from here on, and frees v with itself on failure. */
  if (depth == 0) {
    *root = v;
  } else {
    json_t *parent = r->stack[depth - 1];
    if (json_is_object(parent))
      err = json_object_setn_new_nocheck(parent, key, key_len, v);
    else
      err = json_array_append_new(parent, v);
    if (err)
      return MUSTER_ENOMEM;
  }
  if (json_is_object(v) || json_is_array(v)) {
    if (push(r, depth, v) != 0)
      return MUSTER_ENOMEM;
    depth++;
    skip_ws(r);
    if (r->p < r->end && *r->p == (json_is_object(v) ? '}' : ']')) {
      r->p++;
      depth--;
      goto after;
    }
    if (json_is_object(v))
      goto key;
    goto value;
  }

after:
  skip_ws(r);
  if (depth == 0)
    return r->p == r->end ? 0 : MUSTER_EBADMSG;
  if (r->p >= r->end)
    return MUSTER_EBADMSG;
  if (json_is_object(r->stack[depth - 1])) {
    if (*r->p == ',') {
      r->p++;
      skip_ws(r);
      goto key;
    }
    if (*r->p != '}')
      return MUSTER_EBADMSG;
  } else {
    if (*r->p == ',') {
      r->p++;
      goto value;
    }
    if (*r->p != ']')
      return MUSTER_EBADMSG;
  }
  r->p++;
  depth--;
  goto after;

key:
  if (r->p >= r->end || *r->p != '"')
    return MUSTER_EBADMSG;
  {
    int nul = 0;
    r->p++;
    err = read_string(r, &r->key, &key, &key_len, &nul);
    if (err)
      return err;
    /* jansson refuses keys holding U+0000 ("NUL byte in object key not
     * supported"), so the whole text fails. */
    if (nul)
      return MUSTER_EBADMSG;
  }
  skip_ws(r);
  if (r->p >= r->end || *r->p != ':')
    return MUSTER_EBADMSG;
  r->p++;
  goto value;
}

static int read_pass(const char *text, size_t len, int as_real, json_t **root) {
  struct reader r;
  r.p = (const unsigned char *)text;
  r.end = r.p + len;
  r.as_real = as_real;
  r.key = (struct scratch){NULL, 0, 0};
  r.str = (struct scratch){NULL, 0, 0};
  r.stack = r.small_stack;
  r.stack_cap = sizeof r.small_stack / sizeof *r.small_stack;
  *root = NULL;
  int err = read_text(&r, root);
  if (err) {
    json_decref(*root);
    *root = NULL;
  }
  free(r.key.data);
  free(r.str.data);
  if (r.stack != r.small_stack)
    free(r.stack);
  return err;
}

json_t *muster__json_read(const char *text, size_t len, int *err) {
  json_t *root = NULL;
  int e = MUSTER_EBADMSG; /* an empty text, however it is given */
  if (len > 0 && text != NULL)
    e = read_pass(text, len, 0, &root);
  if (e == BIG_INT) /* integers beyond 64 bits are still numbers */
    e = read_pass(text, len, 1, &root);
  /* The pass stops at the first number out of range; ERANGE is for a text
   * that is otherwise valid. */
  if (e == MUSTER_ERANGE && muster__json_check(text, len) < 0)
    e = MUSTER_EBADMSG;
  if (err)
    *err = e;
  return root;
}
