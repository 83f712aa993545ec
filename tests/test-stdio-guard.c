/* A program using libmuster started with stdin, stdout and stderr closed
 * finds them open on /dev/null (src/stdio_guard.c), as Node does. */
#include "test.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_with_closed(const int *fds, int n) {
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    static const char *num[] = {"0", "1", "2"};
    for (int i = 0; i < n; i++)
      close(fds[i]);
    const char *const *argv = test_fixture_argv(
        "stdio_guard_probe", n > 0 ? num[fds[0]] : NULL,
        n > 1 ? num[fds[1]] : NULL, n > 2 ? num[fds[2]] : NULL, NULL);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
}

TEST(stdio_guard_all_closed) {
  int fds[] = {0, 1, 2};
  ASSERT_EQ(run_with_closed(fds, 3), 0);
}

TEST(stdio_guard_stdout_closed) {
  int fds[] = {1};
  ASSERT_EQ(run_with_closed(fds, 1), 0);
}
