/* The channel's JSON encoder (src/json_write.c) against its oracle,
 * jansson's json_dumps(JSON_COMPACT | JSON_ENCODE_ANY): the same bytes for
 * every kind of value, and clean failures (EMSGSIZE at the limit, EINVAL for
 * cycles and broken UTF-8) that leave the buffer as it was. */
#include "test.h"
#include "test-json-random.h"

#include <math.h>

#include "../src/json_write.h"

/* jansson 2.14 writes reals with "%.17g"; 2.14.1 and later (with dtoa)
 * write the shortest form, which the encoder does not imitate. Where the
 * installed jansson is the newer kind, texts holding reals are compared by
 * value instead of by bytes. */
static int jansson_g17(void) {
  json_t *r = json_real(0.1);
  char *s = json_dumps(r, JSON_ENCODE_ANY);
  int g17 = s != NULL && strcmp(s, "0.10000000000000001") == 0;
  free(s);
  json_decref(r);
  return g17;
}

static int has_real(const json_t *v) {
  if (json_is_real(v))
    return 1;
  for (size_t i = 0; i < json_array_size(v); i++)
    if (has_real(json_array_get(v, i)))
      return 1;
  for (void *it = json_object_iter((json_t *)v); it != NULL;
       it = json_object_iter_next((json_t *)v, it))
    if (has_real(json_object_iter_value(it)))
      return 1;
  return 0;
}

/* Our text of v (NUL-terminated, malloc'd), or NULL with *err set. */
static char *ours(const json_t *v, size_t limit, int *err, size_t *len) {
  struct muster__buf b = {NULL, 0, 0};
  *err = muster__json_write(v, &b, limit);
  if (*err) {
    ASSERT_EQ(b.len, 0);
    free(b.data);
    return NULL;
  }
  char *s = malloc(b.len + 1);
  ASSERT(s != NULL);
  memcpy(s, b.data, b.len);
  s[b.len] = '\0';
  *len = b.len;
  free(b.data);
  return s;
}

/* Asserts our text of v is jansson's, and returns its length. */
static size_t check_same(const json_t *v) {
  int err;
  size_t len = 0;
  char *mine = ours(v, SIZE_MAX, &err, &len);
  char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  ASSERT_OK(err);
  ASSERT(theirs != NULL);
  ASSERT_EQ(strlen(mine), len); /* no raw NUL in the text */
  if (jansson_g17() || !has_real(v)) {
    if (strcmp(mine, theirs) != 0)
      TEST_FAIL("ours %s\njansson %s", mine, theirs);
  } else {
    json_t *back = json_loads(mine, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    ASSERT(back != NULL && json_equal(back, v));
    json_decref(back);
  }
  free(mine);
  free(theirs);
  return len;
}

/* A value from JSON text (which must parse). */
static json_t *parse(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
  if (v == NULL)
    TEST_FAIL("%s: %s", text, e.text);
  return v;
}

static void same_new(json_t *v) {
  ASSERT(v != NULL);
  check_same(v);
  json_decref(v);
}

static void expect_text(json_t *v, const char *want) {
  int err;
  size_t len;
  char *mine = ours(v, SIZE_MAX, &err, &len);
  ASSERT_OK(err);
  ASSERT_STR_EQ(mine, want);
  free(mine);
  json_decref(v);
}

TEST(json_write_scalars) {
  same_new(json_null());
  same_new(json_true());
  same_new(json_false());
  static const json_int_t ints[] = {0,
                                    1,
                                    -1,
                                    9,
                                    10,
                                    99,
                                    100,
                                    -100,
                                    12345,
                                    1000000007,
                                    -2147483648LL,
                                    4294967296LL,
                                    999999999999999999LL,
                                    1000000000000000000LL,
                                    INT64_MAX,
                                    INT64_MIN,
                                    INT64_MIN + 1};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
    same_new(json_integer(ints[i]));
  for (json_int_t i = -1000; i <= 1000; i += 7)
    same_new(json_integer(i));
  for (json_int_t p = 1; p < INT64_MAX / 10; p *= 10) {
    same_new(json_integer(p - 1));
    same_new(json_integer(p));
    same_new(json_integer(-p));
  }
  expect_text(json_integer(INT64_MIN), "-9223372036854775808");
}

TEST(json_write_reals) {
  static const double reals[] = {0.1,
                                 0.5,
                                 1e300,
                                 -0.0,
                                 0.0,
                                 1.0,
                                 -1.0,
                                 100.0,
                                 5e-324,
                                 2.2250738585072014e-308,
                                 1.7976931348623157e308,
                                 -1.7976931348623157e308,
                                 3.141592653589793,
                                 1e16,
                                 1e17,
                                 1e21,
                                 1e-4,
                                 1e-5,
                                 1.5e-5,
                                 123456.789,
                                 9007199254740991.0,
                                 9007199254740992.0,
                                 9007199254740993.0,
                                 -9007199254740992.0,
                                 18446744073709551616.0,
                                 123456789012345678.0,
                                 1e100,
                                 2.5e-300,
                                 7.6,
                                 1.0 / 3};
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
    same_new(json_real(reals[i]));
  for (int e = -330; e <= 308; e++) {
    char t[16];
    snprintf(t, sizeof t, "1e%d", e);
    same_new(json_real(strtod(t, NULL)));
    snprintf(t, sizeof t, "-1.25e%d", e);
    same_new(json_real(strtod(t, NULL)));
  }
  /* Integral values take a path of their own below 2^53. */
  for (double d = 1; d < 1e19; d = d * 3 + 1) {
    same_new(json_real(d));
    same_new(json_real(-d));
  }
  /* The text of jansson 2.14, whatever the installed jansson writes. */
  expect_text(json_real(0.1), "0.10000000000000001");
  expect_text(json_real(1e300), "1.0000000000000001e300");
  expect_text(json_real(-0.0), "-0.0");
  expect_text(json_real(1.0), "1.0");
  expect_text(json_real(5e-324), "4.9406564584124654e-324");
  expect_text(json_real(1e17), "1e17");
  expect_text(json_real(1e16), "10000000000000000.0");
  expect_text(json_real(1.5e-5), "1.5e-5");
  expect_text(json_real(0.0001), "0.0001");
  expect_text(json_real(-2.5), "-2.5");
}

TEST(json_write_strings) {
  /* Every single byte that can stand alone, and each inside plain text. */
  for (int c = 0; c < 0x80; c++) {
    char s[40];
    same_new(json_stringn((char[]){(char)c}, 1));
    memcpy(s, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
    s[17] = (char)c;
    same_new(json_stringn(s, 36));
  }
  same_new(json_string(""));
  same_new(json_string("hello"));
  same_new(json_string("a/b\\c\"d\x7f"));
  same_new(json_stringn("nul\0in\0the\0middle", 18));
  same_new(json_string("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                       "\xef\xbf\xbf \xf4\x8f\xbf\xbf \xc2\x80"));
  expect_text(json_string("\x01\x1f\b\f\n\r\t/\"\\"),
              "\"\\u0001\\u001F\\b\\f\\n\\r\\t/\\\"\\\\\"");
  /* Long strings (the vector scans) with one byte to escape, or one
   * multi-byte character, at every position, and runs of escapes. */
  static const char *odd[] = {
      "\"", "\\", "\n", "\x01", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  for (size_t k = 0; k < sizeof odd / sizeof *odd; k++) {
    size_t ol = strlen(odd[k]);
    char s[400];
    for (size_t pos = 0; pos + ol <= 300; pos++) {
      memset(s, 'x', 300);
      memcpy(s + pos, odd[k], ol);
      same_new(json_stringn(s, 300));
      same_new(json_stringn(s, pos + ol));
    }
  }
  char esc[1000];
  for (size_t i = 0; i < sizeof esc; i++)
    esc[i] = (char)(i % 3 == 0 ? i % 32 : 'a' + i % 26);
  same_new(json_stringn(esc, sizeof esc));
  memset(esc, '\0', sizeof esc);
  same_new(json_stringn(esc, sizeof esc));
}

TEST(json_write_bad_utf8) {
  static const char *bad[] = {"\x80",
                              "\xbf",
                              "\xc0\x80",
                              "\xc1\xbf",
                              "\xc3",
                              "\xc3\x41",
                              "\xe0\x80\x80",
                              "\xe0\x9f\xbf",
                              "\xed\xa0\x80",
                              "\xed\xbf\xbf",
                              "\xe2\x82",
                              "\xf0\x80\x80\x80",
                              "\xf0\x8f\xbf\xbf",
                              "\xf4\x90\x80\x80",
                              "\xf5\x80\x80\x80",
                              "\xff",
                              "\xfe",
                              "\xf0\x9f\x98"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char s[300];
    size_t n = strlen(bad[i]);
    for (size_t pos = 0; pos < 200; pos += 37) {
      memset(s, 'y', sizeof s);
      memcpy(s + pos, bad[i], n);
      for (int whole = 0; whole < 2; whole++) {
        size_t len = whole ? sizeof s : pos + n;
        json_t *v = json_stringn_nocheck(s, len);
        char *theirs = json_dumps(v, JSON_ENCODE_ANY);
        ASSERT(theirs == NULL); /* jansson refuses it too */
        struct muster__buf b = {NULL, 0, 0};
        ASSERT_ERR(muster__json_write(v, &b, SIZE_MAX), MUSTER_EINVAL);
        ASSERT_EQ(b.len, 0);
        free(b.data);
        json_decref(v);
      }
    }
  }
  /* A broken key: jansson writes it as a half-open string ({":1}); the
   * encoder refuses. */
  json_t *o = json_object();
  ASSERT_OK(json_object_set_new_nocheck(o, "k\xff", json_integer(1)));
  struct muster__buf b = {NULL, 0, 0};
  ASSERT_ERR(muster__json_write(o, &b, SIZE_MAX), MUSTER_EINVAL);
  free(b.data);
  json_decref(o);
}

TEST(json_write_containers) {
  same_new(json_array());
  same_new(json_object());
  same_new(parse("[[],{},[[]],{\"a\":{}},[null,true,false]]"));
  same_new(parse("{\"i\":42,\"s\":\"hello\"}"));
  same_new(parse("{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\","
                 "\"msg\":{\"a\":[1,2.5,\"x\",{\"b\":null}]}}"));
  /* Keys with escapes, NUL, UTF-8; insertion order, not sorted. */
  json_t *o = json_object();
  ASSERT_OK(json_object_set_new(o, "zeta", json_integer(1)));
  ASSERT_OK(json_object_set_new(o, "a\"b\\c\n\x01", json_integer(2)));
  ASSERT_OK(json_object_setn_new(o, "nul\0key", 7, json_integer(3)));
  ASSERT_OK(json_object_set_new(o, "\xc3\xa9", json_integer(4)));
  ASSERT_OK(json_object_set_new(o, "", json_integer(5)));
  ASSERT_OK(json_object_set_new(o, "alpha", json_integer(6)));
  check_same(o);
  ASSERT_OK(json_object_del(o, "zeta"));
  ASSERT_OK(json_object_set_new(o, "zeta", json_integer(7)));
  ASSERT_OK(json_object_set_new(o, "alpha", json_integer(8)));
  check_same(o);
  /* A container referenced twice, not in a cycle, is written twice. */
  json_t *shared = parse("[1,{\"k\":[2]}]");
  json_t *a = json_array();
  for (int i = 0; i < 5; i++)
    ASSERT_OK(json_array_append(a, shared));
  ASSERT_OK(json_object_set(o, "shared", shared));
  ASSERT_OK(json_object_set_new(o, "arr", a));
  check_same(o);
  json_decref(shared);
  json_decref(o);
  /* A wide array and object. */
  json_t *wide = json_array();
  json_t *wo = json_object();
  for (int i = 0; i < 5000; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    ASSERT_OK(json_array_append_new(wide, json_integer(i * 7919 - 100000)));
    ASSERT_OK(json_object_set_new(wo, k, json_real(i / 7.0)));
  }
  same_new(wide);
  same_new(wo);
}

/* A nested chain of `depth` arrays (or objects {"a":...}), freed from the
 * root down: jansson's json_decref recurses and would overflow the stack on
 * the deepest ones. */
static json_t *chain(size_t depth, int objects) {
  json_t *root = objects ? json_object() : json_array(), *c = root;
  for (size_t i = 1; i < depth; i++) {
    json_t *n = objects ? json_object() : json_array();
    if (objects)
      ASSERT_OK(json_object_set_new(c, "a", n));
    else
      ASSERT_OK(json_array_append_new(c, n));
    c = n;
  }
  return root;
}

static void chain_free(json_t *c) {
  while (c != NULL) {
    json_t *next =
        json_is_array(c) ? json_array_get(c, 0) : json_object_get(c, "a");
    json_incref(next);
    json_decref(c); /* frees c alone: next keeps a reference */
    c = next;
  }
}

TEST(json_write_deep) {
  /* As deep as jansson's parser goes, one more, and far more: jansson
   * writes all of these, and so does the encoder. */
  static const size_t depths[] = {2, 33, 65, 200, 2048, 2049, 10000};
  for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
    for (int objects = 0; objects < 2; objects++) {
      json_t *c = chain(depths[i], objects);
      ASSERT_EQ(check_same(c), objects ? depths[i] * 6 - 4 : depths[i] * 2);
      chain_free(c);
    }
  }
  /* Deeper than jansson's recursion survives: no recursion here. */
  size_t depth = 1000000;
  json_t *c = chain(depth, 0);
  int err;
  size_t len;
  char *mine = ours(c, SIZE_MAX, &err, &len);
  ASSERT_OK(err);
  ASSERT_EQ(len, 2 * depth);
  for (size_t i = 0; i < depth; i++)
    ASSERT(mine[i] == '[' && mine[len - 1 - i] == ']');
  free(mine);
  chain_free(c);
}

TEST(json_write_cycle) {
  /* Cycles of 2, 100 and 5000 containers, reached below some depth. */
  static const size_t lengths[] = {2, 100, 5000};
  for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
    json_t *top = json_array();
    json_t *first = json_object(), *c = first;
    ASSERT_OK(json_array_append_new(top, json_integer(1)));
    ASSERT_OK(json_array_append(top, first));
    for (size_t i = 1; i < lengths[k]; i++) {
      json_t *n = json_array();
      if (json_is_object(c)) {
        ASSERT_OK(json_object_set_new(c, "x", json_string("before")));
        ASSERT_OK(json_object_set_new(c, "n", n));
      } else {
        ASSERT_OK(json_array_append_new(c, json_string("before")));
        ASSERT_OK(json_array_append_new(c, n));
      }
      c = n;
    }
    ASSERT_OK(json_array_append(c, first));        /* closes the cycle */
    ASSERT(json_dumps(top, JSON_COMPACT) == NULL); /* jansson refuses */
    struct muster__buf b = {NULL, 0, 0};
    ASSERT_ERR(muster__json_write(top, &b, SIZE_MAX), MUSTER_EINVAL);
    ASSERT_EQ(b.len, 0);
    ASSERT_ERR(muster__json_write(first, &b, SIZE_MAX), MUSTER_EINVAL);
    ASSERT_EQ(b.len, 0);
    free(b.data);
    /* With a small limit the text runs out first. */
    b = (struct muster__buf){NULL, 0, 0};
    ASSERT_ERR(muster__json_write(top, &b, 10), MUSTER_EMSGSIZE);
    free(b.data);
    ASSERT_OK(json_array_clear(c)); /* break it, so it can be freed */
    json_decref(first);
    json_decref(top);
  }
}

TEST(json_write_null) {
  struct muster__buf b = {NULL, 0, 0};
  ASSERT_ERR(muster__json_write(NULL, &b, SIZE_MAX), MUSTER_EINVAL);
  ASSERT(b.data == NULL);
  json_t *v = json_null();
  ASSERT_ERR(muster__json_write(v, NULL, SIZE_MAX), MUSTER_EINVAL);
}

/* The text goes after what the buffer holds, and the limit counts only the
 * appended bytes. */
TEST(json_write_append) {
  json_t *v = parse("{\"i\":7,\"s\":\"hello\"}");
  const char *want = "{\"i\":7,\"s\":\"hello\"}";
  size_t n = strlen(want);
  struct muster__buf b = {malloc(8), 0, 8};
  ASSERT(b.data != NULL);
  memcpy(b.data, "prefix:", 7);
  b.len = 7;
  ASSERT_OK(muster__json_write(v, &b, n));
  ASSERT_EQ(b.len, 7 + n);
  ASSERT(b.cap >= b.len);
  ASSERT(memcmp(b.data, "prefix:", 7) == 0);
  ASSERT(memcmp(b.data + 7, want, n) == 0);
  ASSERT_OK(muster__json_write(v, &b, n));
  ASSERT_EQ(b.len, 7 + 2 * n);
  ASSERT(memcmp(b.data + 7 + n, want, n) == 0);
  ASSERT_ERR(muster__json_write(v, &b, n - 1), MUSTER_EMSGSIZE);
  ASSERT_EQ(b.len, 7 + 2 * n);
  ASSERT(memcmp(b.data, "prefix:", 7) == 0);
  free(b.data);
  json_decref(v);
}

/* Every limit below the text's length fails with EMSGSIZE and leaves the
 * length as it was; the length itself succeeds. */
static void check_limits(json_t *v) {
  size_t n = check_same(v);
  for (size_t limit = 0; limit <= n + 1; limit++) {
    struct muster__buf b = {NULL, 0, 0};
    int err = muster__json_write(v, &b, limit);
    if (limit >= n) {
      ASSERT_OK(err);
      ASSERT_EQ(b.len, n);
    } else {
      ASSERT_ERR(err, MUSTER_EMSGSIZE);
      ASSERT_EQ(b.len, 0);
    }
    free(b.data);
  }
  json_decref(v);
}

TEST(json_write_limit) {
  check_limits(parse("{\"i\":1234,\"s\":\"hello\",\"r\":0.25,\"t\":true,"
                     "\"a\":[null,false,[],{}]}"));
  check_limits(json_string("esc\n\x01\"\\ape"));
  check_limits(json_string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"));
  check_limits(json_integer(INT64_MIN));
  check_limits(json_real(0.1));
  check_limits(chain(50, 0));
  check_limits(chain(50, 1));
  json_t *a = json_array();
  for (int i = 0; i < 200; i++)
    ASSERT_OK(json_array_append_new(a, json_array()));
  check_limits(a);

  /* A 1 MiB string over a 1000-byte limit fails before it is copied: the
   * buffer never grows anywhere near the string's size. */
  size_t big = 1 << 20;
  char *s = malloc(big);
  ASSERT(s != NULL);
  memset(s, 'x', big);
  json_t *v = json_pack("{s:s%}", "s", s, big);
  free(s);
  struct muster__buf b = {NULL, 0, 0};
  ASSERT_ERR(muster__json_write(v, &b, 1000), MUSTER_EMSGSIZE);
  ASSERT_EQ(b.len, 0);
  ASSERT_LE(b.cap, 4096);
  free(b.data);
  /* ... and just fits its own length, without doubling past it. */
  b = (struct muster__buf){NULL, 0, 0};
  ASSERT_OK(muster__json_write(v, &b, big + 8));
  ASSERT_EQ(b.len, big + 8);
  ASSERT_LE(b.cap, big + 8 + 64);
  free(b.data);
  b = (struct muster__buf){NULL, 0, 0};
  ASSERT_ERR(muster__json_write(v, &b, big + 7), MUSTER_EMSGSIZE);
  ASSERT_EQ(b.len, 0);
  free(b.data);
  json_decref(v);
  /* Escapes make the text longer than the string: caught while escaping. */
  s = malloc(big);
  ASSERT(s != NULL);
  memset(s, '\n', big);
  v = json_stringn(s, big);
  free(s);
  b = (struct muster__buf){NULL, 0, 0};
  ASSERT_ERR(muster__json_write(v, &b, big + 100), MUSTER_EMSGSIZE);
  ASSERT_LE(b.cap, big + 100 + 64);
  free(b.data);
  b = (struct muster__buf){NULL, 0, 0};
  ASSERT_OK(muster__json_write(v, &b, 2 * big + 2));
  ASSERT_EQ(b.len, 2 * big + 2);
  free(b.data);
  json_decref(v);
}

/* ---- random values (tests/test-json-random.c) ------------------------- */

TEST(json_write_random) {
  for (int i = 0; i < 20000; i++) {
    json_t *v = test_random_json(1);
    ASSERT(v != NULL);
    check_same(v);
    json_decref(v);
  }
}
