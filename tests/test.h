/* The test harness: every test is a function declared with TEST(name) (or
 * TEST_T(name, timeout_seconds)) in some tests/test-*.c or tests/interop/ (any .c there).
 * tests/tests.cmake finds them, builds them into one runner, and gives each
 * its own ctest entry: `muster-test NAME` runs exactly one test in its own
 * process.
 *
 * The runner checks after every test that the process holds exactly the fds
 * it held before, and that it has no child left (running or zombie). A test
 * that leaks an fd or a child fails even if all its assertions passed.
 *
 * Child programs used by tests are FIXTURE(name) functions in
 * tests/fixtures/ (any .c there), all built into one program, muster-fixture; a test
 * runs one as `muster-fixture NAME args...` (see test_fixture_argv).
 */
#ifndef MUSTER_TEST_H
#define MUSTER_TEST_H

#include <muster.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define TEST(name)                                                           \
  void test_##name(void);                                                    \
  void test_##name(void)
#define TEST_T(name, seconds) TEST(name)
/* A case of both isolation modes (muster_thread_options_t.isolation):
 * the body that follows runs with `isolation` set, as NAME with a thread
 * and as NAME_process with a forked worker process. tests/tests.cmake
 * registers both, each with `seconds`. */
#define TEST_MODES(name, seconds)                                            \
  static void modes_##name(int isolation);                                   \
  TEST(name) { modes_##name(MUSTER_THREAD_ISOLATION_THREAD); }               \
  TEST(name##_process) { modes_##name(MUSTER_THREAD_ISOLATION_PROCESS); }    \
  static void modes_##name(int isolation)
#define FIXTURE(name)                                                        \
  int fixture_##name(int argc, char **argv);                                 \
  int fixture_##name(int argc, char **argv)

/* Report and abort: a core-dumping failure keeps the stack for gdb. */
#define TEST_FAIL(...)                                                       \
  do {                                                                       \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                          \
    fprintf(stderr, __VA_ARGS__);                                            \
    fprintf(stderr, "\n");                                                   \
    fflush(stderr);                                                          \
    abort();                                                                 \
  } while (0)

#define ASSERT(cond)                                                         \
  do {                                                                       \
    if (!(cond))                                                             \
      TEST_FAIL("assertion failed: %s", #cond);                              \
  } while (0)

#define ASSERT_EQ(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_)                                                            \
      TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                   \
  } while (0)

#define ASSERT_NE(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ == b_)                                                            \
      TEST_FAIL("%s != %s: both %lld", #a, #b, a_);                          \
  } while (0)

#define ASSERT_GE(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ < b_)                                                             \
      TEST_FAIL("%s >= %s: %lld < %lld", #a, #b, a_, b_);                    \
  } while (0)

#define ASSERT_LE(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ > b_)                                                             \
      TEST_FAIL("%s <= %s: %lld > %lld", #a, #b, a_, b_);                    \
  } while (0)

/* Compare a muster result with an expected error, printing both names. */
#define ASSERT_ERR(a, err)                                                   \
  do {                                                                       \
    int a_ = (int)(a), e_ = (int)(err);                                      \
    if (a_ != e_)                                                            \
      TEST_FAIL("%s: got %d (%s), want %d (%s)", #a, a_, muster_err_name(a_),\
                e_, muster_err_name(e_));                                    \
  } while (0)

#define ASSERT_OK(a) ASSERT_ERR(a, 0)

#define ASSERT_STR_EQ(a, b)                                                  \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                     \
      TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",    \
                b_ ? b_ : "(null)");                                         \
  } while (0)

/* Leave the test as skipped (ctest shows "Not Run"), saying why. */
#define TEST_SKIP(...)                                                       \
  do {                                                                       \
    fprintf(stderr, "SKIP: ");                                               \
    fprintf(stderr, __VA_ARGS__);                                            \
    fprintf(stderr, "\n");                                                   \
    fflush(stderr);                                                          \
    exit(77);                                                                \
  } while (0)

/* Number of open fds of this process, from /proc/self/fd. */
int test_fd_count(void);

/* Path of the fixture program, and an argv for it: {path, name, args...,
 * NULL}. The returned array is static storage, valid until the next call. */
const char *test_fixture_path(void);
const char *const *test_fixture_argv(const char *name, ...);

/* Runs the loop with a watchdog: fails the test if it has not ended after
 * `ms` milliseconds (the ctest timeout would only say "timeout"). */
void test_run_loop(uv_loop_t *loop, uint64_t ms);

/* Path of a program on PATH, or NULL. Interop tests skip without node. */
const char *test_which(const char *prog);

/* Milliseconds of a monotonic clock. */
uint64_t test_now_ms(void);

/* Pins the calling thread, and the threads it creates after, to the first
 * CPU it may run on (as `taskset -c`); skips the test when it cannot. */
void test_pin_one_cpu(void);

/* Starts argv (argv[0] a path) with its fds 0, 1, 2 and 3 set to in,
 * out, err and extra: an fd of ours dup2'ed there, -1 to inherit ours,
 * TEST_FD_CLOSED to close it. The caller reaps the pid. */
#define TEST_FD_CLOSED (-2)
pid_t test_spawn_fds(const char *const *argv, int in, int out, int err,
                     int extra);

/* Reads fd to end of file (or an error, such as EIO from a pty whose other
 * side closed) into buf, NUL-terminated; fails the test if it does not
 * fit. Returns the length. */
size_t test_read_all(int fd, char *buf, size_t size);

/* One sendmsg of `n` bytes carrying `nfds` fds (0 to 64) in one
 * SCM_RIGHTS; returns what sendmsg returned. */
ssize_t test_send_fds(int sock, const void *buf, size_t n, const int *fds,
                      int nfds);

/* One recvmsg (MSG_DONTWAIT | MSG_CMSG_CLOEXEC) into buf: the fds that
 * came with it (room for 64) go to `fds` (`max` of them; more fails the
 * test), their number to *nfds; returns what recvmsg returned. */
ssize_t test_recv_fds(int sock, void *buf, size_t cap, int *fds, int max,
                      int *nfds);

#endif
