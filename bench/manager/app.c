/* The C app of bench/manager.sh, built by the script with cc (it is not
 * one of the bench C files, which are benchmarks of their own).
 *
 *   app PORT            a tiny HTTP server on 127.0.0.1:PORT: one reply
 *                       ("ok\n") per connection, then close
 *   app flood SECONDS MB
 *                       writes 100-byte lines to stdout, 64 at a time, for
 *                       SECONDS or until MB megabytes are written, then
 *                       sleeps (so the manager does not restart it)
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int flood(double seconds, double mb) {
  char buf[6400];
  for (int i = 0; i < 64; i++) {
    memset(buf + i * 100, 'x', 99);
    buf[i * 100 + 99] = '\n';
  }
  double end = now() + seconds, left = mb * 1e6;
  while (left > 0 && now() < end) {
    ssize_t n = write(1, buf, sizeof buf);
    if (n < 0) return 1;
    left -= (double)n;
  }
  for (;;) pause();
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "flood") == 0)
    return flood(atof(argv[2]), atof(argv[3]));
  if (argc != 2) {
    fprintf(stderr, "usage: app PORT | app flood SECONDS MB\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((unsigned short)atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0) {
    perror("app: listen");
    return 1;
  }
  printf("listening on 127.0.0.1:%s\n", argv[1]);
  fflush(stdout);
  static const char reply[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    char req[1024];
    if (read(c, req, sizeof req) > 0 && write(c, reply, sizeof reply - 1) < 0)
      perror("app: write");
    close(c);
  }
}
