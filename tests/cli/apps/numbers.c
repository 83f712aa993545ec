/* A C app that writes numbered lines to stdout, argv[1] lines every
 * argv[2] microseconds, until the file argv[3] exists; then it writes
 * "end <the last number>" and waits. Its stdio buffer is 1000 bytes, so
 * writes cut lines anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4)
    return 2;
  long burst = atol(argv[1]), pause_us = atol(argv[2]), i = 0;
  static char buf[1000];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  while (access(argv[3], F_OK) != 0) {
    for (long k = 0; k < burst; k++)
      printf("%08ld of the numbers\n", ++i);
    usleep((useconds_t)pause_us);
  }
  printf("end %08ld\n", i);
  fflush(stdout);
  for (;;)
    pause();
}
