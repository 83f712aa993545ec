/* The process examples, run as children: examples/stdin-echo (also run
 * with every kind of fd in test-process-stdio.c), examples/signal and
 * examples/process-info. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads from fd until `want` has been seen (10 s at most). */
static void read_until(int fd, char *buf, size_t size, size_t *len,
                       const char *want) {
  while (strstr(buf, want) == NULL) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1)
      TEST_FAIL("no \"%s\" in \"%s\"", want, buf);
    ssize_t r = read(fd, buf + *len, size - 1 - *len);
    ASSERT(r > 0);
    *len += (size_t)r;
    buf[*len] = '\0';
  }
}

TEST(process_example_stdin_echo) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.input = "one\ntwo\n";
  o.input_len = 8;
  o.spawn.timeout_ms = 20000;
  muster_exec_result_t r;
  const char *argv[] = {"stdin-echo", NULL};
  ASSERT_OK(muster_spawn_sync(MUSTER_EXAMPLES_DIR "/stdin-echo", argv, &o, &r));
  ASSERT_EQ(r.exit_status, 0);
  ASSERT_STR_EQ(r.stdout_buf, "data: one\ntwo\nend");
  muster_exec_result_free(&r);
}

/* SIGINT reaches both listeners, SIGTERM the shared one; the process
 * stays up through both and ends with its stdin. */
TEST(process_example_signal) {
  int in[2], out[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  const char *argv[] = {MUSTER_EXAMPLES_DIR "/signal", NULL};
  pid_t pid = test_spawn_fds(argv, in[0], out[1], -1, -1);
  close(in[0]);
  close(out[1]);
  char buf[1024] = "";
  size_t len = 0;
  read_until(out[0], buf, sizeof buf, &len, "end stdin to exit\n");
  ASSERT_EQ(kill(pid, SIGINT), 0);
  read_until(out[0], buf, sizeof buf, &len, "Received SIGINT\n");
  read_until(out[0], buf, sizeof buf, &len,
             "Received SIGINT. Press Control-D to exit.\n");
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  read_until(out[0], buf, sizeof buf, &len, "Received SIGTERM\n");
  close(in[1]);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(out[0]);
}

TEST(process_example_process_info) {
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 20000;
  muster_exec_result_t r;
  const char *argv[] = {"process-info", NULL};
  ASSERT_OK(
      muster_spawn_sync(MUSTER_EXAMPLES_DIR "/process-info", argv, &o, &r));
  ASSERT_EQ(r.exit_status, 0);
  const char *want[] = {"execPath", "version", "uv ",    "jansson",
                        "kernel",   "uid",     "groups", "stdin",
                        "stdout",   "config",  "report"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (strstr(r.stdout_buf, want[i]) == NULL)
      TEST_FAIL("no \"%s\" in:\n%s", want[i], r.stdout_buf);
  ASSERT(strstr(r.stdout_buf, uv_version_string()) != NULL);
  muster_exec_result_free(&r);
}
