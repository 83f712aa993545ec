/* A C app: prints its instance and a line every 100 ms; exits with the
 * code given as its first argument when that is given. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *i = getenv("MUSTER_INSTANCE");
  printf("c app instance %s\n", i ? i : "?");
  fflush(stdout);
  if (argc > 1)
    return atoi(argv[1]);
  for (;;) {
    usleep(100000);
    puts("tick");
    fflush(stdout);
  }
}
