/* examples/cluster-http comes up whatever its stdio is (issue 9, item 8: a
 * black-box check twice found nothing listening within 5 s with stdout on
 * /dev/null). scripts/hunt-cluster-start.py runs the same start hundreds
 * of times under load; these tests keep the cases in every suite. */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(s >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(getsockname(s, (struct sockaddr *)&a, &len));
  close(s);
  return ntohs(a.sin_port);
}

/* One GET /; 1 when a 200 came back. */
static int served(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(s >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = 0;
  if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char buf[32] = "";
    if (write(s, req, sizeof req - 1) == (ssize_t)sizeof req - 1 &&
        read(s, buf, sizeof buf - 1) > 12)
      ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
  }
  close(s);
  return ok;
}

/* Starts cluster-http with 2 workers; `stdio` says what fds 0-2 are:
 * "closed" or "devnull". Waits for its first answer, stops it with
 * SIGTERM and checks it exits 0 (the runner then checks that no worker
 * is left). */
static void start_and_serve(const char *stdio) {
  int port = free_port();
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  pid_t self = getpid();
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != self)
      _exit(1);
    if (strcmp(stdio, "closed") == 0) {
      close(0);
      close(1);
      close(2);
    } else {
      int n = open("/dev/null", O_RDWR);
      dup2(n, 0);
      dup2(n, 1);
      dup2(n, 2);
      if (n > 2)
        close(n);
    }
    setenv("PORT", port_s, 1);
    setenv("WORKERS", "2", 1);
    execl(MUSTER_EXAMPLES_DIR "/cluster-http", "cluster-http", (char *)NULL);
    _exit(127);
  }
  uint64_t t0 = test_now_ms();
  int ok = 0;
  while (!ok && test_now_ms() - t0 < 15000) {
    ok = served(port);
    if (!ok)
      usleep(5000);
    int status;
    if (!ok && waitpid(pid, &status, WNOHANG) == pid)
      TEST_FAIL("cluster-http (stdio %s) exited before serving", stdio);
  }
  if (!ok)
    kill(pid, SIGKILL);
  ASSERT(ok);
  ASSERT_OK(kill(pid, SIGTERM));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status))
    TEST_FAIL("cluster-http (stdio %s) killed by signal %d on SIGTERM", stdio,
              WTERMSIG(status));
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST_T(example_cluster_http_start_no_stdio, 40) {
  start_and_serve("closed");
}

TEST_T(example_cluster_http_start_devnull, 40) {
  start_and_serve("devnull");
}
