/* The C app of bench/manager.sh, built by the script with cc (it is not
 * one of the bench C files, which are benchmarks of their own).
 *
 *   app PORT            a tiny HTTP server on 127.0.0.1:PORT: one reply
 *                       ("ok\n") per connection, then close
 *   app flood SECONDS MB [CHUNK]
 *                       writes 100-byte lines to stdout, CHUNK bytes (6400
 *                       by default, rounded down to whole lines) a write,
 *                       for SECONDS or until MB megabytes are written,
 *                       then sleeps (so the manager does not restart it)
 *   app relay FILE SECONDS MB [CHUNK]
 *                       the yardstick for a manager's log throughput: runs
 *                       `app flood` with its stdout on a socketpair (what
 *                       libuv and muster give an app), reads it 64 KiB at
 *                       a time and writes what it reads to FILE, nothing
 *                       else; prints "relay MB SECONDS MB/s" (from the
 *                       first byte to the last). Variants, for what a
 *                       manager could do instead (docs/benchmarks.md):
 *                       RELAY_READ=BYTES a read (65536), RELAY_SNDBUF=BYTES
 *                       SO_SNDBUF on the app's end, RELAY_PIPE=BYTES a pipe
 *                       of that size (F_SETPIPE_SZ; 0: the default size)
 *                       instead of the socketpair, RELAY_SPLICE=1 with a
 *                       pipe: splice() into FILE instead of read + write
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int flood(double seconds, double mb, long chunk) {
  long lines = chunk / 100 > 0 ? chunk / 100 : 1;
  char *buf = malloc((size_t)lines * 100);
  if (buf == NULL)
    return 1;
  for (long i = 0; i < lines; i++) {
    memset(buf + i * 100, 'x', 99);
    buf[i * 100 + 99] = '\n';
  }
  double end = now() + seconds, left = mb * 1e6;
  while (left > 0 && now() < end) {
    ssize_t n = write(1, buf, (size_t)lines * 100);
    if (n < 0) return 1;
    left -= (double)n;
  }
  for (;;) pause();
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? atol(v) : dflt;
}

static int relay(const char *file, char **flood_args) {
  long rsize = env_long("RELAY_READ", 65536), sndbuf = env_long("RELAY_SNDBUF", 0);
  long pipe_size = env_long("RELAY_PIPE", -1);
  int use_splice = pipe_size >= 0 && env_long("RELAY_SPLICE", 0) != 0;
  int sv[2], r;
  /* splice() into a file refuses O_APPEND */
  int out = open(file, O_WRONLY | O_CREAT | O_TRUNC | (use_splice ? 0 : O_APPEND), 0644);
  if (pipe_size >= 0) {
    r = pipe(sv);
    if (r == 0 && pipe_size > 0 && fcntl(sv[1], F_SETPIPE_SZ, (int)pipe_size) < 0)
      r = -1;
  } else {
    r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv); /* the app gets sv[1] */
    int b = (int)sndbuf;
    if (r == 0 && sndbuf > 0)
      r = setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
  }
  char *buf = malloc((size_t)rsize);
  if (out < 0 || r != 0 || buf == NULL || rsize <= 0) {
    perror("app relay");
    return 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sv[1], 1);
    close(sv[0]);
    close(sv[1]);
    execv("/proc/self/exe", flood_args);
    _exit(127);
  }
  close(sv[1]);
  double total = 0, want = atof(flood_args[3]) * 1e6, t0 = 0, t1 = 0;
  ssize_t n;
  struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
  /* The flood ends at MB or after SECONDS: then nothing comes for 0.5 s */
  while (total < want && poll(&pfd, 1, 500) > 0) {
    if (use_splice)
      n = splice(sv[0], NULL, out, NULL, (size_t)rsize, SPLICE_F_MOVE);
    else
      n = read(sv[0], buf, (size_t)rsize);
    if (n <= 0)
      break;
    if (t0 == 0)
      t0 = now();
    if (!use_splice && write(out, buf, (size_t)n) != n) {
      perror("app relay: write");
      break;
    }
    total += (double)n;
    t1 = now();
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  printf("relay %.1f %.3f %.1f\n", total / 1e6, t1 - t0,
         t1 > t0 ? total / 1e6 / (t1 - t0) : 0.0);
  return 0;
}

int main(int argc, char **argv) {
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "flood") == 0)
    return flood(atof(argv[2]), atof(argv[3]), argc == 5 ? atol(argv[4]) : 6400);
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "relay") == 0) {
    char *args[] = {argv[0], "flood", argv[3], argv[4],
                    argc == 6 ? argv[5] : "6400", NULL};
    return relay(argv[2], args);
  }
  if (argc != 2) {
    fprintf(stderr, "usage: app PORT | app flood SECONDS MB [CHUNK] | "
                    "app relay FILE SECONDS MB [CHUNK]\n");
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
