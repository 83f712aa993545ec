/* stdin/stdout/stderr as streams (muster/process_stdio.h), with each kind
 * of fd: pipe, regular file, socket, /dev/null, closed, and a real
 * terminal (a pty from openpty). The programs under test are
 * examples/stdin-echo (the seed's process.stdin example) and the
 * stdio_info / stdio_flood fixtures. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int wait_status(pid_t pid) {
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

/* Reads the child's whole output from out_fd (then closed), which must
 * be `want`, and reaps it: exit 0. */
static void expect_output(pid_t pid, int out_fd, const char *want) {
  char buf[256];
  test_read_all(out_fd, buf, sizeof buf);
  close(out_fd);
  ASSERT_STR_EQ(buf, want);
  int st = wait_status(pid);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const char *echo_path(void) {
  return MUSTER_EXAMPLES_DIR "/stdin-echo";
}

/* stdin-echo with stdin and stdout both pipes, or both socketpairs. */
static void echo_through(int use_sockets) {
  int in[2], out[2];
  if (use_sockets) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
  } else {
    ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  }
  const char *argv[] = {echo_path(), NULL};
  pid_t pid = test_spawn_fds(argv, in[0], out[1], -1, -1);
  close(in[0]);
  close(out[1]);
  ASSERT_EQ(write(in[1], "hello\n", 6), 6);
  close(in[1]);
  expect_output(pid, out[0], "data: hello\nend");
}

TEST(process_stdio_pipe) {
  echo_through(0);
}

TEST(process_stdio_socket) {
  echo_through(1);
}

/* A regular file in, a regular file out (appended where the fd was). */
TEST(process_stdio_file) {
  char in_path[] = "/tmp/muster-stdio-in-XXXXXX";
  char out_path[] = "/tmp/muster-stdio-out-XXXXXX";
  int in = mkostemp(in_path, O_CLOEXEC), out = mkostemp(out_path, O_CLOEXEC);
  ASSERT(in >= 0 && out >= 0);
  ASSERT_EQ(write(in, "from a file\n", 12), 12);
  ASSERT_EQ(lseek(in, 0, SEEK_SET), 0);
  ASSERT_EQ(write(out, "before|", 7), 7);
  const char *argv[] = {echo_path(), NULL};
  int st = wait_status(test_spawn_fds(argv, in, out, -1, -1));
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char buf[256];
  ASSERT_EQ(lseek(out, 0, SEEK_SET), 0);
  test_read_all(out, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "before|data: from a file\nend");
  close(in);
  close(out);
  unlink(in_path);
  unlink(out_path);
}

/* /dev/null and a closed fd read as empty; a closed stdout swallows. */
TEST(process_stdio_null_and_closed) {
  int out[2];
  const char *argv[] = {echo_path(), NULL};
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT(nul >= 0);
  for (int closed = 0; closed <= 1; closed++) {
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    pid_t pid =
        test_spawn_fds(argv, closed ? TEST_FD_CLOSED : nul, out[1], -1, -1);
    close(out[1]);
    expect_output(pid, out[0], "end");
  }
  /* stdout closed: writes vanish (Node's /dev/null), no error. */
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  pid_t pid = test_spawn_fds(argv, in[0], TEST_FD_CLOSED, -1, -1);
  close(in[0]);
  ASSERT_EQ(write(in[1], "lost\n", 5), 5);
  close(in[1]);
  int st = wait_status(pid);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(nul);
}

/* A real terminal: stdin and stdout on a pty's slave. The line discipline
 * echoes what we type, turns "\n" into "\r\n" on output, and Ctrl-D at the
 * start of a line is end of file. */
TEST(process_stdio_tty) {
  int master, slave;
  struct winsize ws = {.ws_row = 40, .ws_col = 100};
  if (openpty(&master, &slave, NULL, NULL, &ws) != 0)
    TEST_SKIP("openpty: %s", strerror(errno));
  fcntl(master, F_SETFD, FD_CLOEXEC);
  fcntl(slave, F_SETFD, FD_CLOEXEC);

  int info[2];
  ASSERT_EQ(pipe2(info, O_CLOEXEC), 0);
  const char *const *argv = test_fixture_argv("stdio_info", NULL);
  pid_t pid = test_spawn_fds(argv, slave, slave, -1, info[1]);
  close(info[1]);
  char buf[1024];
  test_read_all(info[0], buf, sizeof buf);
  close(info[0]);
  ASSERT(wait_status(pid) == 0);
  ASSERT(strstr(buf, "fd=0 kind=tty tty=1 size=100x40\n") != NULL);
  ASSERT(strstr(buf, "fd=1 kind=tty tty=1 size=100x40\n") != NULL);

  const char *echo[] = {echo_path(), NULL};
  pid = test_spawn_fds(echo, slave, slave, -1, -1);
  close(slave);
  ASSERT_EQ(write(master, "typed\n", 6), 6);
  /* Wait for the echo of the data before Ctrl-D: an EOF in the same
   * read as the line would arrive before it was processed. */
  size_t n = 0;
  while (strstr(buf, "data: typed") == NULL) {
    struct pollfd p = {master, POLLIN, 0};
    ASSERT(poll(&p, 1, 10000) == 1);
    ssize_t r = read(master, buf + n, sizeof buf - 1 - n);
    ASSERT(r > 0);
    n += (size_t)r;
    buf[n] = '\0';
  }
  ASSERT_EQ(write(master, "\x04", 1), 1);
  n += test_read_all(master, buf + n, sizeof buf - n);
  close(master);
  int st = wait_status(pid);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT(strstr(buf, "data: typed\r\n") != NULL);
  ASSERT(strstr(buf, "end") != NULL);
}

/* Kinds as seen from inside: pipe, file, socket, closed. */
TEST(process_stdio_kinds) {
  int p[2], sv[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_EQ(muster_process_stdio_guess(p[0]), MUSTER_PROCESS_STDIO_PIPE);
  ASSERT_EQ(muster_process_stdio_guess(sv[0]), MUSTER_PROCESS_STDIO_SOCKET);
  ASSERT_EQ(muster_process_stdio_guess(nul), MUSTER_PROCESS_STDIO_FILE);
  ASSERT_EQ(muster_process_stdio_guess(-1), MUSTER_PROCESS_STDIO_CLOSED);
  ASSERT_EQ(muster_process_stdio_guess(1000), MUSTER_PROCESS_STDIO_CLOSED);

  int info[2];
  ASSERT_EQ(pipe2(info, O_CLOEXEC), 0);
  const char *const *argv = test_fixture_argv("stdio_info", NULL);
  pid_t pid = test_spawn_fds(argv, p[0], sv[1], nul, info[1]);
  close(info[1]);
  char buf[1024];
  test_read_all(info[0], buf, sizeof buf);
  close(info[0]);
  ASSERT(wait_status(pid) == 0);
  ASSERT_STR_EQ(buf, "fd=0 kind=pipe tty=0 size=0x0 (ENOTTY)\n"
                     "fd=1 kind=socket tty=0 size=0x0 (ENOTTY)\n"
                     "fd=2 kind=file tty=0 size=0x0 (ENOTTY)\n");
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
  close(nul);
}

/* 1 MiB through a pipe read slowly: writes return 0 past the high-water
 * mark, 'drain' says when to go on, and every byte arrives. */
TEST_T(process_stdio_backpressure, 60) {
  int out[2], err[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  const char *const *argv = test_fixture_argv("stdio_flood", "1048576", NULL);
  pid_t pid = test_spawn_fds(argv, -1, out[1], err[1], -1);
  close(out[1]);
  close(err[1]);
  usleep(100 * 1000); /* let the pipe fill */
  static char buf[1 << 21];
  size_t n = test_read_all(out[0], buf, sizeof buf);
  close(out[0]);
  char msg[256];
  test_read_all(err[0], msg, sizeof msg);
  close(err[0]);
  int st = wait_status(pid);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_EQ(n, 1048576);
  ASSERT(strncmp(msg, "written=1048576 drains=", 23) == 0);
  ASSERT(atoi(msg + 23) >= 1);
}

/* A reader that went away: EPIPE, and the process lives to say so. */
TEST(process_stdio_epipe) {
  for (int use_socket = 0; use_socket <= 1; use_socket++) {
    int out[2], err[2];
    if (use_socket)
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
    else
      ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
    close(out[0]);
    const char *const *argv = test_fixture_argv("stdio_flood", "1048576", NULL);
    pid_t pid = test_spawn_fds(argv, -1, out[1], err[1], -1);
    close(out[1]);
    close(err[1]);
    char msg[256];
    test_read_all(err[0], msg, sizeof msg);
    close(err[0]);
    int st = wait_status(pid);
    ASSERT(!WIFSIGNALED(st));
    ASSERT_EQ(WEXITSTATUS(st), 3);
    ASSERT_STR_EQ(msg, "EPIPE\n");
  }
}

static int eof_calls, write_calls, last_status, closes;

static void count_read(muster_process_stdio_t *s, ssize_t n, const char *d) {
  (void)s, (void)d;
  if (n == MUSTER_EOF)
    eof_calls++;
}

static void count_write(muster_process_stdio_t *s, int status, void *arg) {
  (void)s, (void)arg;
  write_calls++;
  last_status = status;
}

static void count_close(muster_process_stdio_t *s) {
  (void)s;
  closes++;
}

TEST(process_stdio_errors) {
  uv_loop_t loop;
  muster_process_stdio_t *s = (void *)&loop;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_process_stdio_open(NULL, 0, &s), MUSTER_EINVAL);
  ASSERT(s == NULL);
  ASSERT_ERR(muster_process_stdio_open(&loop, -1, &s), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_stdio_open(&loop, 0, NULL), MUSTER_EINVAL);

  /* A closed fd: end of file, and writes that vanish; never inside the
   * call that asked. */
  ASSERT_OK(muster_process_stdio_open(&loop, 1000, &s));
  ASSERT_EQ(muster_process_stdio_kind(s), MUSTER_PROCESS_STDIO_CLOSED);
  ASSERT_OK(muster_process_stdio_read_start(s, count_read));
  ASSERT_EQ(muster_process_stdio_write(s, "x", 1, count_write, NULL), 1);
  ASSERT_EQ(eof_calls + write_calls, 0);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(eof_calls, 1);
  ASSERT_EQ(write_calls, 1);
  ASSERT_EQ(last_status, 0);
  muster_process_stdio_close(s, count_close);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(closes, 1);

  /* A socket nobody reads: misuse, then a write too big to go out, which
   * close cancels. */
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_OK(muster_process_stdio_open(&loop, sv[0], &s));
  ASSERT_ERR(muster_process_stdio_read_start(s, NULL), MUSTER_EINVAL);
  ASSERT_OK(muster_process_stdio_read_start(s, count_read));
  ASSERT_ERR(muster_process_stdio_read_start(s, count_read), MUSTER_EALREADY);
  ASSERT_OK(muster_process_stdio_read_stop(s));
  ASSERT_ERR(muster_process_stdio_write(s, NULL, 5, count_write, NULL),
             MUSTER_EINVAL);
  int cols, rows;
  ASSERT_ERR(muster_process_stdio_window_size(s, &cols, &rows), MUSTER_ENOTTY);
  ASSERT_ERR(muster_process_stdio_window_size(s, NULL, &rows), MUSTER_EINVAL);
  static char big[8 << 20];
  write_calls = 0;
  ASSERT_EQ(muster_process_stdio_write(s, big, sizeof big, count_write, NULL),
            0);
  ASSERT(muster_process_stdio_buffered(s) > 0);
  /* The socket stayed blocking for everyone else. */
  ASSERT_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
  muster_process_stdio_close(s, count_close);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(write_calls, 1);
  ASSERT_ERR(last_status, MUSTER_ECANCELED);
  ASSERT_EQ(closes, 2);
  /* The stream never closes the fd it was given. */
  ASSERT(fcntl(sv[0], F_GETFD) >= 0);
  close(sv[0]);
  close(sv[1]);

  /* EPIPE in this very process, whose SIGPIPE has its default action:
   * the write fails and the test goes on. */
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  close(p[0]);
  ASSERT_OK(muster_process_stdio_open(&loop, p[1], &s));
  ASSERT_EQ(muster_process_stdio_write(s, "x", 1, count_write, NULL), 1);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_ERR(last_status, MUSTER_EPIPE);
  /* Sticky: later writes fail the same way. */
  ASSERT_EQ(muster_process_stdio_write(s, "y", 1, count_write, NULL), 1);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_ERR(last_status, MUSTER_EPIPE);
  muster_process_stdio_close(s, NULL);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
  close(p[1]);
  ASSERT_OK(uv_loop_close(&loop));
}
