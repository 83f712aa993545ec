/* muster-fixture NAME args...: the small child programs tests run. Each is a
 * FIXTURE(name) function in tests/fixtures/; its return value is the exit
 * code. argv[0] of the fixture function is NAME. */
#include "test.h"

#define FIXTURE_ENTRY(name) int fixture_##name(int argc, char **argv);
#include "fixture-list.h"
#undef FIXTURE_ENTRY

struct entry {
  const char *name;
  int (*fn)(int argc, char **argv);
};

static const struct entry fixtures[] = {
#define FIXTURE_ENTRY(name) {#name, fixture_##name},
#include "fixture-list.h"
#undef FIXTURE_ENTRY
    {NULL, NULL}};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s NAME [args...]\n", argv[0]);
    return 2;
  }
  for (const struct entry *e = fixtures; e->name; e++)
    if (strcmp(e->name, argv[1]) == 0)
      return e->fn(argc - 1, argv + 1);
  fprintf(stderr, "no fixture named %s\n", argv[1]);
  return 2;
}
