/* The raw limit of a CLI call to the muster daemon, for bench/manager.sh:
 * the system calls of `muster ls` and nothing else. It connects to
 * $MUSTER_HOME/daemon.sock, sends the request line `muster ls` sends
 * (the daemon's row view of every app), reads the one reply line and
 * writes it to stdout as it came: no option parsing, no JSON, no table,
 * no allocation. Built static like the empty program the bench times, so
 * the two differ by the round trip to the daemon alone.
 *
 *   MUSTER_HOME=... rawls        exit 0 when a whole line came back
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char request[] =
    "{\"v\":1,\"id\":1,\"cmd\":\"list\",\"args\":{\"fields\":\"rows\"}}\n";

int main(void) {
  static char reply[1 << 20];
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  const char *home = getenv("MUSTER_HOME");
  if (home == NULL ||
      strlen(home) + sizeof "/daemon.sock" > sizeof a.sun_path)
    return 2;
  strcpy(a.sun_path, home);
  strcat(a.sun_path, "/daemon.sock");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    return 1;
  if (write(fd, request, sizeof request - 1) != (ssize_t)sizeof request - 1)
    return 1;
  size_t len = 0;
  while (len < sizeof reply) {
    ssize_t n = read(fd, reply + len, sizeof reply - len);
    if (n <= 0)
      return 1;
    len += (size_t)n;
    if (memchr(reply + len - (size_t)n, '\n', (size_t)n) != NULL)
      return write(1, reply, len) == (ssize_t)len ? 0 : 1;
  }
  return 1;
}
