/* A C app that floods stdout with numbered lines: argv[1] of them (0:
 * without end), then sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 0;
  for (long i = 1; n == 0 || i <= n; i++)
    printf("line %08ld of the flood, padded to be a little longer\n", i);
  fflush(stdout);
  for (;;)
    pause();
}
