/* The channel's JSON decoder (src/json_read.c) against its oracle, jansson's
 * json_loadb with the channel's flags (JSON_DECODE_ANY | JSON_ALLOW_NUL, and
 * JSON_DECODE_INT_AS_REAL again when that fails): the same value, member
 * order and real bits included, for every kind of text; the same refusals,
 * with the documented error, for texts jansson refuses. */
#include "test.h"
#include "test-json-random.h"

#include <math.h>

#include "../src/json_check.h"
#include "../fuzz/json_oracle.h"
#include "../src/json_read.h"
#include "../src/json_write.h"

/* Asserts json_read gives jansson's value for s[0..len); returns it (a new
 * reference) or NULL when both refuse, with *errp our error. */
static json_t *check_n(const char *s, size_t len, int *errp) {
  int err = 12345;
  json_t *mine = muster__json_read(s, len, &err);
  json_t *theirs = json_oracle(s, len);
  if (theirs == NULL) {
    if (mine != NULL)
      TEST_FAIL("jansson refuses, json_read accepts: %.*s", (int)len, s);
    ASSERT(err == MUSTER_EBADMSG || err == MUSTER_ERANGE);
  } else {
    if (mine == NULL)
      TEST_FAIL("json_read refuses (%d): %.*s", err, (int)len, s);
    ASSERT_OK(err);
    if (!json_identical(mine, theirs))
      TEST_FAIL("different values: %.*s", (int)len, s);
  }
  json_decref(theirs);
  if (errp)
    *errp = err;
  return mine;
}

static void same(const char *s) {
  json_decref(check_n(s, strlen(s), NULL));
}

static void refused(const char *s, size_t len, int want) {
  int err;
  json_t *v = check_n(s, len, &err);
  ASSERT(v == NULL);
  ASSERT_ERR(err, want);
}

TEST(json_read_scalars) {
  static const char *texts[] = {
      "null",
      "true",
      "false",
      " true ",
      "\n\t\r null\n",
      "0",
      "-0",
      "1",
      "-1",
      "42",
      "123456789",
      "9223372036854775807",
      "-9223372036854775808",
      "9223372036854775806",
      "-9223372036854775807",
      "4294967296",
      "-2147483648",
      "1000000000000000000",
      "0.1",
      "0.5",
      "1e300",
      "-0.0",
      "0.0",
      "-0",
      "5e-324",
      "4.9e-324",
      "2e-324",
      "1e-400",
      "-1e-400",
      "2.2250738585072014e-308",
      "1.7976931348623157e308",
      "1.7976931348623158e308",
      "1E5",
      "1e+5",
      "1e-5",
      "1.5E-5",
      "0.10000000000000001",
      "3.141592653589793",
      "9007199254740993",
      "9007199254740993.0",
      "123456.789e3",
      "0.000000000000000000000000000001",
      "1.0",
      "100.0",
      "7.6",
      "123456789012345678901234567890.5",
      "\"\"",
      "\"abc\"",
      "\"\\u00e9\\u20ac\"",
      "\"\\ud83d\\ude00\"",
      "\"\\uD83D\\uDE00x\"",
      "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
      "\"\\u0000\"",
      "\"a\\u0000b\"",
      "\"\\u001f\\u007f\\u0080\\u07ff\"",
      "\"\\u0800\\uffff\\ufffe\\uDBFF\\uDFFF\"",
      "\"\xc3\xa9\xe2\x82\xac\"",
      "\"\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\xef\xbf\xbf\"",
      "\"plain / text with\\nescape\\u0041\"",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
    same(texts[i]);
  /* Boundaries of every power of ten. */
  char t[64];
  for (int e = 0; e <= 20; e++) {
    snprintf(t, sizeof t, "1%0*d", e, 0);
    same(t);
    snprintf(t, sizeof t, "-1%0*d", e, 0);
    same(t);
    snprintf(t, sizeof t, "1e%d", e * 16 - 20);
    same(t);
  }
  for (int e = -330; e <= 310; e++) {
    snprintf(t, sizeof t, "-1.25e%d", e);
    same(t);
  }
  /* Just past json_int_t: all numbers of the text become reals. */
  same("9223372036854775808");
  same("-9223372036854775809");
  same("18446744073709551616");
  same("[1, 9223372036854775808, -0, 2.5, {\"a\": 7}]");
  same("{\"n\": 123456789012345678901234567890, \"m\": 0}");
  json_t *v = check_n("[1, 99999999999999999999]", 25, NULL);
  ASSERT(json_is_real(json_array_get(v, 0)));
  json_decref(v);
  v = check_n("[1, -9223372036854775808]", 25, NULL);
  ASSERT(json_is_integer(json_array_get(v, 0)));
  ASSERT_EQ(json_integer_value(json_array_get(v, 1)), INT64_MIN);
  json_decref(v);
}

TEST(json_read_containers) {
  static const char *texts[] = {
      "[]",
      "{}",
      " [ ] ",
      "{ }",
      "[[]]",
      "[{}]",
      "{\"a\":[]}",
      "[1,2,3]",
      "[1, \"x\", null, true, false, 2.5, [], {}]",
      "{\"a\":1,\"b\":2,\"c\":3}",
      "{\"c\":1,\"b\":2,\"a\":3}",
      "{\"a\":1,\"b\":2,\"a\":3}",
      "{\"a\":{\"x\":1},\"b\":0,\"a\":[2]}",
      "{\"a\":[1],\"a\":{\"y\":[]}}",
      "{\"\":0}",
      "{\"\\u00e9\":1,\"\xc3\xa9\":2}",
      "{\"k\\n\":\"v\\t\",\"k\\\"\":\"\\\\\"}",
      "{ \"a\" : [ 1 , { \"b\" : null } ] , \"c\" : \"d\" }",
      "[[[[[[[[[[\"deep\"]]]]]]]]]]",
      "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"x\":1}}",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
    same(texts[i]);
}

static char *nest(size_t depth, int objects) {
  char *s = malloc(depth * 6 + 2);
  ASSERT(s != NULL);
  size_t n = 0;
  for (size_t i = 0; i < depth; i++) {
    if (objects) {
      memcpy(s + n, "{\"k\":", 5);
      n += 5;
    } else {
      s[n++] = '[';
    }
  }
  s[n++] = '1';
  for (size_t i = 0; i < depth; i++)
    s[n++] = objects ? '}' : ']';
  s[n] = '\0';
  return s;
}

TEST(json_read_deep) {
  static const size_t depths[] = {1, 63, 64, 65, 129, 2046, 2047};
  for (int o = 0; o < 2; o++) {
    for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
      char *s = nest(depths[i], o);
      same(s);
      free(s);
    }
    char *s = nest(2049, o); /* jansson's limit, and json_check's */
    refused(s, strlen(s), MUSTER_EBADMSG);
    free(s);
    /* jansson counts the scalar too: 2048 empty ones parse, 2048 around a
     * value do not (though json_check accepts both). */
    s = nest(2048, o);
    refused(s, strlen(s), MUSTER_EBADMSG);
    free(s);
    s = malloc(2 * 2048 + 1);
    ASSERT(s != NULL);
    memset(s, '[', 2048);
    memset(s + 2048, ']', 2048);
    json_decref(check_n(s, 2 * 2048, NULL));
    refused(s, 2 * 2048 - 1, MUSTER_EBADMSG);
    s[2047] = '{';
    s[2048] = '}';
    json_decref(check_n(s, 2 * 2048, NULL));
    free(s);
    s = nest(100000, o);
    refused(s, strlen(s), MUSTER_EBADMSG);
    free(s);
  }
}

/* What json_check accepts but jansson refuses: the only refusals the
 * channel can see. */
TEST(json_read_jansson_refuses) {
  refused("1e400", 5, MUSTER_ERANGE);
  refused("-1e400", 6, MUSTER_ERANGE);
  refused("[0, 1.8e308]", 12, MUSTER_ERANGE);
  char big[400];
  memset(big, '9', sizeof big);
  refused(big, sizeof big, MUSTER_ERANGE); /* an integer beyond double too */
  refused("{\"a\\u0000\":1}", 13, MUSTER_EBADMSG);
  refused("{\"\\u0000\":1}", 12, MUSTER_EBADMSG);
  refused("[{\"x\":{\"\\u0000b\":[]}}]", 22, MUSTER_EBADMSG);
  /* ...while NUL in a string value is fine. */
  json_t *v = check_n("{\"a\":\"\\u0000\"}", 14, NULL);
  ASSERT_EQ(json_string_length(json_object_get(v, "a")), 1);
  json_decref(v);
}

TEST(json_read_invalid) {
  static const char *bad[] = {
      "",
      " ",
      "nul",
      "nulll",
      "tru",
      "True",
      "[",
      "]",
      "{",
      "}",
      "[1,]",
      "[,1]",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "{a:1}",
      "{1:1}",
      "[1 2]",
      "{\"a\":1 \"b\":2}",
      "\"abc",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\u12g4\"",
      "\"\\ud800\"",
      "\"\\udc00\"",
      "\"\\ud800\\u0041\"",
      "\"\\ud800x\"",
      "\"\\ud800\\\"",
      "\"\\",
      "01",
      "-",
      "-a",
      "1.",
      ".5",
      "1e",
      "1e+",
      "+1",
      "0x10",
      "1 2",
      "[] []",
      "\"\x01\"",
      "\"\t\"",
      "\"\x80\"",
      "\"\xc0\xaf\"",
      "\"\xe0\x80\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "\"\xf5\x80\x80\x80\"",
      "\"\xc3\"",
      "\"\xe2\x82\"",
      "NaN",
      "Infinity",
      "-Infinity",
      "[1]x",
      "{\"a\":1}}",
      "\xef\xbb\xbf{}",
      "/* */1",
      "1\x0b",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    refused(bad[i], strlen(bad[i]), MUSTER_EBADMSG);
  refused("[1]\0", 4, MUSTER_EBADMSG);
  /* jansson 2.14 drops a NUL byte just after a number or literal (its
   * reader takes the pushed-back NUL for an empty buffer) and accepts
   * "[1\0]"; json_check refuses it, so the channel never parses it, and
   * json_read refuses it too. */
  static const char *nul_after[] = {"[1\0]", "[true\0]", "{\"a\":2.5\0}"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(nul_after[i]) + 2; /* through the byte after the NUL */
    int err = 0;
    ASSERT(muster__json_read(nul_after[i], n, &err) == NULL);
    ASSERT_ERR(err, MUSTER_EBADMSG);
    ASSERT_EQ(muster__json_check(nul_after[i], n), MUSTER__JSON_INVALID);
  }
  refused("\"a\0b\"", 5, MUSTER_EBADMSG);
  refused("\0", 1, MUSTER_EBADMSG);
  /* Every prefix of a valid text is refused (no reads past the end: ASan
   * sees each prefix in an allocation of its own). */
  const char *t = "{\"a\":[1,-2.5e3,\"\\ud83d\\ude00\xc3\xa9\"],\"b\":null}";
  for (size_t n = 0; n < strlen(t); n++) {
    char *p = malloc(n ? n : 1);
    ASSERT(p != NULL);
    memcpy(p, t, n);
    refused(p, n, MUSTER_EBADMSG);
    free(p);
  }
  int err = 0;
  ASSERT(muster__json_read(NULL, 0, &err) == NULL);
  ASSERT_ERR(err, MUSTER_EBADMSG);
}

TEST(json_read_long_strings) {
  /* Plain runs across the vector widths, with escapes and UTF-8 at every
   * offset. */
  static const char *inserts[] = {"\\n",
                                  "\\u00e9",
                                  "\\ud83d\\ude00",
                                  "\xc3\xa9",
                                  "\xf0\x9f\x98\x80",
                                  "\\\"",
                                  "\\u0000",
                                  ""};
  char s[400];
  for (size_t k = 0; k < sizeof inserts / sizeof *inserts; k++) {
    for (size_t at = 0; at < 140; at += 3) {
      size_t n = 0;
      s[n++] = '"';
      for (size_t i = 0; i < at; i++)
        s[n++] = (char)('a' + i % 26);
      size_t m = strlen(inserts[k]);
      memcpy(s + n, inserts[k], m);
      n += m;
      for (size_t i = 0; i < 150 - at; i++)
        s[n++] = (char)('A' + i % 26);
      s[n++] = '"';
      json_decref(check_n(s, n, NULL));
      /* The same as an object key (U+0000 refused there). */
      char o[420];
      o[0] = '{';
      memcpy(o + 1, s, n);
      memcpy(o + 1 + n, ":1}", 3);
      json_decref(check_n(o, n + 4, NULL));
    }
  }
  /* 1 MiB of plain text, and of escapes. */
  size_t big = 1 << 20;
  char *b = malloc(big + 2);
  ASSERT(b != NULL);
  b[0] = '"';
  for (size_t i = 1; i <= big; i++)
    b[i] = (char)('a' + i % 26);
  b[big + 1] = '"';
  json_t *v = check_n(b, big + 2, NULL);
  ASSERT_EQ(json_string_length(v), big);
  json_decref(v);
  for (size_t i = 1; i + 1 <= big; i += 2)
    memcpy(b + i, "\\n", 2);
  json_decref(check_n(b, big + 2, NULL));
  free(b);
}

/* ---- random values (tests/test-json-random.c) ------------------------- */

TEST(json_read_random) {
  for (int i = 0; i < 20000; i++) {
    json_t *v = test_random_json(0);
    ASSERT(v != NULL);
    /* Half through our encoder, half through jansson's (with "%.17g" or
     * shortest reals, whichever it writes). */
    char *text;
    size_t len;
    if (i % 2) {
      struct muster__buf b = {NULL, 0, 0};
      ASSERT_OK(muster__json_write(v, &b, SIZE_MAX));
      text = b.data;
      len = b.len;
    } else {
      text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      ASSERT(text != NULL);
      len = strlen(text);
    }
    json_t *back = check_n(text, len, NULL);
    ASSERT(back != NULL && json_identical(back, v));
    json_decref(back);
    free(text);
    json_decref(v);
  }
}
