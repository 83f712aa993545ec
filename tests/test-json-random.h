/* Random JSON values for the codec tests. */
#ifndef MUSTER_TEST_JSON_RANDOM_H
#define MUSTER_TEST_JSON_RANDOM_H

#include "test.h"

/* A random value: every JSON type, nested up to a few levels, strings with
 * escapes, control characters, NULs and multi-byte UTF-8. With
 * nul_in_keys 0 object keys hold no NUL (jansson's parser refuses them).
 * The sequence is the same in every process: each test runs in its own. */
json_t *test_random_json(int nul_in_keys);

#endif
