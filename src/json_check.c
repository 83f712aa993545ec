/* The JSON line check: see json_check.h for what it accepts.
 *
 * This runs over every byte a peer sends, so it is written as one pass with
 * no allocation: the nesting is a bit stack (1 = object, 0 = array), string
 * bodies are skipped by a table lookup per byte, and only bytes that matter
 * (quote, backslash, control, non-ASCII) leave the inner loop. */
#include "json_check.h"

#include <stdint.h>
#include <string.h>
#include "json_scan.h"

enum { C_PLAIN = 0, C_CTRL, C_QUOTE, C_BSLASH, C_HIGH };

/* Classes of string bytes. Range designators are a GNU extension both gcc
 * and clang accept in C11 mode. */
static const uint8_t str_class[256] = {
    [0x00 ... 0x1f] = C_CTRL,
    ['"'] = C_QUOTE,
    ['\\'] = C_BSLASH,
    [0x80 ... 0xff] = C_HIGH,
};

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Four hex digits at p; -1 when p does not hold them. */
static long hex4(const unsigned char *p, const unsigned char *end) {
  if (end - p < 4)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return -1;
    v = v << 4 | h;
  }
  return v;
}

/* p points after a backslash; returns the byte after the escape or NULL. */
static const unsigned char *scan_escape(const unsigned char *p,
                                        const unsigned char *end) {
  if (p >= end)
    return NULL;
  switch (*p) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't':
    return p + 1;
  case 'u':
    break;
  default:
    return NULL;
  }
  long cp = hex4(p + 1, end);
  if (cp < 0)
    return NULL;
  p += 5;
  if (cp >= 0xdc00 && cp <= 0xdfff)
    return NULL; /* a low surrogate on its own */
  if (cp >= 0xd800 && cp <= 0xdbff) {
    /* A high surrogate must be followed by an escaped low one: jansson
     * refuses anything else, and a line we deliver must parse. */
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
      return NULL;
    long lo = hex4(p + 2, end);
    if (lo < 0xdc00 || lo > 0xdfff)
      return NULL;
    p += 6;
  }
  return p;
}

/* p points after the opening quote; returns the byte after the closing
 * quote, or NULL. Sets *esc when the body holds an escape. */
static const unsigned char *scan_string(const unsigned char *p,
                                        const unsigned char *end, int *esc) {
  for (;;) {
#ifdef HAVE_AVX2_DISPATCH
    if (end - p >= 64 && muster__have_avx2())
      p = muster__json_skip_plain_avx2(p, end);
#endif
#ifdef __SSE2__
    while (end - p >= 64 && !muster__json_special64(p))
      p += 64;
    p = muster__json_skip_plain_sse2(p, end);
#endif
    while (end - p >= 4 && str_class[p[0]] == C_PLAIN &&
           str_class[p[1]] == C_PLAIN && str_class[p[2]] == C_PLAIN &&
           str_class[p[3]] == C_PLAIN)
      p += 4;
    while (p < end && str_class[*p] == C_PLAIN)
      p++;
    if (p >= end)
      return NULL;
    switch (str_class[*p]) {
    case C_QUOTE:
      return p + 1;
    case C_BSLASH:
      *esc = 1;
      p = scan_escape(p + 1, end);
      break;
    case C_HIGH:
      p = muster__json_skip_utf8(p, end);
      break;
    default:
      return NULL; /* a raw control character */
    }
    if (p == NULL)
      return NULL;
  }
}

static const unsigned char *scan_number(const unsigned char *p,
                                        const unsigned char *end) {
  if (p < end && *p == '-')
    p++;
  if (p >= end)
    return NULL;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return NULL;
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return NULL;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return NULL;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  return p;
}

static const unsigned char *skip_ws(const unsigned char *p,
                                    const unsigned char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  return p;
}

static int is_object(const uint64_t *stack, int i) {
  return (int)(stack[i / 64] >> (i % 64) & 1);
}

static const unsigned char *scan_literal(const unsigned char *p,
                                         const unsigned char *end,
                                         const char *lit, size_t n) {
  if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
    return NULL;
  return p + n;
}

int muster__json_check(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  const unsigned char *end = p + len;
  uint64_t stack[MUSTER__JSON_MAX_DEPTH / 64];
  int depth = 0;
  int top_object = 0;
  int cmd_state = MUSTER__JSON_USER;
  int key_kind = 0; /* of the last top-level key: 0 other, 1 "cmd", 2 ? */

value:
  p = skip_ws(p, end);
  if (p >= end)
    return MUSTER__JSON_INVALID;
  {
    /* Which top-level key this value belongs to, if any. */
    int kk = (depth == 1 && top_object) ? key_kind : 0;
    switch (*p) {
    case '{':
    case '[':
      if (depth == MUSTER__JSON_MAX_DEPTH)
        return MUSTER__JSON_INVALID;
      if (*p == '{')
        stack[depth / 64] |= (uint64_t)1 << (depth % 64);
      else
        stack[depth / 64] &= ~((uint64_t)1 << (depth % 64));
      if (depth == 0)
        top_object = *p == '{';
      if (kk)
        cmd_state = kk == 1 ? MUSTER__JSON_USER : MUSTER__JSON_MAYBE;
      depth++;
      p = skip_ws(p + 1, end);
      if (p < end && (*p == '}' || *p == ']')) {
        if ((*p == '}') != is_object(stack, depth - 1))
          return MUSTER__JSON_INVALID;
        p++;
        depth--;
        goto after;
      }
      if (is_object(stack, depth - 1))
        goto key;
      goto value;
    case '"': {
      const unsigned char *body = p + 1;
      int esc = 0;
      p = scan_string(body, end, &esc);
      if (p == NULL)
        return MUSTER__JSON_INVALID;
      if (kk == 2 || (kk == 1 && esc)) {
        cmd_state = MUSTER__JSON_MAYBE;
      } else if (kk == 1) {
        size_t n = (size_t)(p - 1 - body);
        cmd_state = n > 5 && memcmp(body, "NODE_", 5) == 0
                        ? MUSTER__JSON_INTERNAL
                        : MUSTER__JSON_USER;
      }
      goto after;
    }
    case 't':
      p = scan_literal(p, end, "true", 4);
      break;
    case 'f':
      p = scan_literal(p, end, "false", 5);
      break;
    case 'n':
      p = scan_literal(p, end, "null", 4);
      break;
    default:
      p = scan_number(p, end);
      break;
    }
    if (p == NULL)
      return MUSTER__JSON_INVALID;
    if (kk)
      cmd_state = kk == 1 ? MUSTER__JSON_USER : MUSTER__JSON_MAYBE;
  }

after:
  p = skip_ws(p, end);
  if (depth == 0) {
    if (p != end)
      return MUSTER__JSON_INVALID;
    return top_object ? cmd_state : MUSTER__JSON_USER;
  }
  if (p >= end)
    return MUSTER__JSON_INVALID;
  if (is_object(stack, depth - 1)) {
    if (*p == ',') {
      p = skip_ws(p + 1, end);
      goto key;
    }
    if (*p != '}')
      return MUSTER__JSON_INVALID;
  } else {
    if (*p == ',') {
      p++;
      goto value;
    }
    if (*p != ']')
      return MUSTER__JSON_INVALID;
  }
  p++;
  depth--;
  goto after;

key:
  if (p >= end || *p != '"')
    return MUSTER__JSON_INVALID;
  {
    const unsigned char *body = p + 1;
    int esc = 0;
    p = scan_string(body, end, &esc);
    if (p == NULL)
      return MUSTER__JSON_INVALID;
    if (depth == 1 && top_object) {
      size_t n = (size_t)(p - 1 - body);
      key_kind = esc ? 2 : (n == 3 && memcmp(body, "cmd", 3) == 0) ? 1 : 0;
    }
  }
  p = skip_ws(p, end);
  if (p >= end || *p != ':')
    return MUSTER__JSON_INVALID;
  p++;
  goto value;
}
