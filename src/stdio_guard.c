/* fds 0, 1 and 2 are open before any program using libmuster runs.
 *
 * A process started with stdin, stdout or stderr closed hands those numbers
 * to the first descriptors it opens: libuv's epoll fd becomes 0, its signal
 * pipe 1 and 2, a worker's channel lands on stdout. Then printf() writes
 * log lines into a socket, and uv_loop_close() aborts on libuv's assertion
 * `fd > STDERR_FILENO` (reproduced: examples/cluster-http started with all
 * three closed aborted on SIGTERM). Node avoids it the same way at
 * startup: each of the three that is closed is opened on /dev/null.
 *
 * It runs as a constructor, before main(). The shared library always
 * carries it; for the static library the build adds
 * -Wl,--undefined=muster__stdio_guard to whatever links it (CMake target
 * and muster.pc), so the linker keeps this object. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "stdio_guard.h"

__attribute__((constructor)) void muster__stdio_guard(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    /* The lowest free number is `fd` itself: the lower ones are open. */
    int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (n >= 0 && n != fd) {
      close(n); /* cannot happen; keep nothing that was not asked for */
      return;
    }
    if (n < 0)
      return; /* no /dev/null (a chroot): leave it as it is */
  }
}
