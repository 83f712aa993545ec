/* The test runner: `muster-test NAME` runs one test; `muster-test --list`
 * prints every name. After the test function returns, the runner fails the
 * test if an fd or a child process was left behind. */
#include "test.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_ENTRY(name) void test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY

struct entry {
  const char *name;
  void (*fn)(void);
};

static const struct entry tests[] = {
#define TEST_ENTRY(name) {#name, test_##name},
#include "test-list.h"
#undef TEST_ENTRY
    {NULL, NULL}};

/* A child still running, or a zombie nobody reaped, is a leak. */
static void check_no_children(void) {
  int status;
  pid_t pid = waitpid(-1, &status, WNOHANG);
  if (pid == 0)
    TEST_FAIL("a child process is still running after the test");
  if (pid > 0)
    TEST_FAIL("child %d was left as a zombie after the test", (int)pid);
  if (errno != ECHILD)
    TEST_FAIL("waitpid: %s", strerror(errno));
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (const struct entry *e = tests; e->name; e++)
      printf("%s\n", e->name);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s NAME | --list\n", argv[0]);
    return 2;
  }
  /* SIGPIPE keeps its default action on purpose: libmuster must report
   * EPIPE without relying on the application ignoring the signal, and a
   * test that triggers one dies visibly. */
  for (const struct entry *e = tests; e->name; e++) {
    if (strcmp(e->name, argv[1]) != 0)
      continue;
    /* libuv's first uv_loop_init() in a process opens a pipe it keeps for
     * the process's life (its signal lock); take that hit before counting,
     * or every test that makes a loop would look like it leaked two fds. */
    uv_loop_t warm;
    if (uv_loop_init(&warm) == 0)
      uv_loop_close(&warm);
    int fds = test_fd_count();
    e->fn();
    int after = test_fd_count();
    if (after != fds)
      TEST_FAIL("fd leak: %d fds before the test, %d after", fds, after);
    check_no_children();
    printf("ok %s\n", e->name);
    return 0;
  }
  fprintf(stderr, "no test named %s\n", argv[1]);
  return 2;
}
