/* The test runner's own guarantees. */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* A test whose grandchild outlives it fails, and the grandchild is killed:
 * the runner is a child subreaper and sweeps what comes back to it. */
TEST_T(runner_fails_orphans, 20) {
  char file[] = "/tmp/muster-probe-XXXXXX";
  int fd = mkstemp(file);
  ASSERT(fd >= 0);
  close(fd);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(devnull, 2);
    execl(MUSTER_TEST_PATH, MUSTER_TEST_PATH, "--orphan-probe", file,
          (char *)NULL);
    _exit(127);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 1);
  FILE *f = fopen(file, "re");
  ASSERT(f != NULL);
  int orphan = 0;
  ASSERT_EQ(fscanf(f, "%d", &orphan), 1);
  fclose(f);
  unlink(file);
  ASSERT(orphan > 0);
  /* Gone, not just reparented elsewhere. */
  ASSERT_EQ(kill(orphan, 0), -1);
  ASSERT_EQ(errno, ESRCH);
}
