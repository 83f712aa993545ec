/* Random JSON values for the codec tests (test-json-read.c,
 * test-json-write.c): a fixed xorshift sequence, so a failure repeats. */
#include "test-json-random.h"

#include <math.h>

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void random_string(char *s, size_t *len, size_t max, int nul) {
  static const char *pieces[] = {"a",
                                 "xyz",
                                 " ",
                                 "\"",
                                 "\\",
                                 "/",
                                 "\n",
                                 "\x01",
                                 "\x1f",
                                 "\x7f",
                                 "\0",
                                 "\xc3\xa9",
                                 "\xe2\x82\xac",
                                 "\xf0\x9f\x98\x80",
                                 "0123456789abcdef"};
  size_t n = 0, want = rnd() % 4 == 0 ? rnd() % max : rnd() % 12;
  while (n < want) {
    const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
    size_t pl = *p ? strlen(p) : 1;
    if (n + pl > max)
      break;
    if (*p == '\0' && !nul)
      continue;
    memcpy(s + n, p, pl);
    n += pl;
  }
  *len = n;
}

static json_t *random_value(int depth, int nul_in_keys) {
  char s[200];
  size_t n;
  int kind = (int)(rnd() % (depth > 4 ? 6 : 8));
  switch (kind) {
  case 0:
    return json_null();
  case 1:
    return json_boolean(rnd() & 1);
  case 2: {
    int shift = (int)(rnd() % 64);
    return json_integer((json_int_t)(rnd() >> shift) * (rnd() & 1 ? 1 : -1));
  }
  case 3: {
    double d;
    uint64_t bits = rnd();
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d) || rnd() % 2)
      d = (double)(int64_t)(rnd() >> (rnd() % 64)) / (double)(1 + rnd() % 1000);
    return json_real(d);
  }
  case 4:
  case 5:
    random_string(s, &n, sizeof s, 1);
    return json_stringn(s, n);
  case 6: {
    json_t *a = json_array();
    for (size_t i = rnd() % 6; i > 0; i--)
      ASSERT_OK(json_array_append_new(a, random_value(depth + 1, nul_in_keys)));
    return a;
  }
  default: {
    json_t *o = json_object();
    for (size_t i = rnd() % 6; i > 0; i--) {
      random_string(s, &n, 40, nul_in_keys);
      ASSERT_OK(json_object_setn_new(o, s, n, random_value(depth + 1, nul_in_keys)));
    }
    return o;
  }
  }
}

json_t *test_random_json(int nul_in_keys) {
  return random_value(0, nul_in_keys);
}
