/* A C app that writes argv[1] numbered lines to stdout in bursts of
 * argv[2] lines, argv[3] microseconds apart, once the file argv[4] exists
 * (so that a follower can be in place first). Its stdio buffer is 1000
 * bytes, so writes cut lines anywhere. Prints "ready" first. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 5)
    return 2;
  long n = atol(argv[1]), burst = atol(argv[2]), pause_us = atol(argv[3]);
  static char buf[1000];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  printf("ready\n");
  fflush(stdout);
  while (access(argv[4], F_OK) != 0)
    usleep(10000);
  for (long i = 1; i <= n; i++) {
    printf("line %08ld of the burst, padded to be a little longer\n", i);
    if (i % burst == 0)
      usleep((useconds_t)pause_us);
  }
  fflush(stdout);
  for (;;)
    pause();
}
