#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

int test_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    TEST_FAIL("opendir /proc/self/fd");
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

const char *test_fixture_path(void) { return MUSTER_FIXTURE_PATH; }

const char *const *test_fixture_argv(const char *name, ...) {
  static const char *argv[64];
  int n = 0;
  argv[n++] = MUSTER_FIXTURE_PATH;
  argv[n++] = name;
  va_list ap;
  va_start(ap, name);
  const char *arg;
  while ((arg = va_arg(ap, const char *)) != NULL) {
    if (n == 63)
      TEST_FAIL("test_fixture_argv: too many arguments");
    argv[n++] = arg;
  }
  va_end(ap);
  argv[n] = NULL;
  return argv;
}

static void watchdog_cb(uv_timer_t *t) {
  (void)t;
  TEST_FAIL("the loop was still running at the watchdog's deadline");
}

void test_run_loop(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t watchdog;
  ASSERT_OK(uv_timer_init(loop, &watchdog));
  ASSERT_OK(uv_timer_start(&watchdog, watchdog_cb, ms, 0));
  uv_unref((uv_handle_t *)&watchdog);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&watchdog, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

const char *test_which(const char *prog) {
  static char buf[4096];
  const char *path = getenv("PATH");
  if (path == NULL)
    return NULL;
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    if (len > 0 && len + strlen(prog) + 2 < sizeof buf) {
      memcpy(buf, path, len);
      buf[len] = '/';
      strcpy(buf + len + 1, prog);
      if (access(buf, X_OK) == 0)
        return buf;
    }
    if (end == NULL)
      break;
    path = end + 1;
  }
  return NULL;
}

uint64_t test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define TEST_MAX_FDS 64

ssize_t test_send_fds(int sock, const void *buf, size_t n, const int *fds,
                      int nfds) {
  union {
    char b[CMSG_SPACE(TEST_MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } cm;
  ASSERT(nfds >= 0 && nfds <= TEST_MAX_FDS);
  struct iovec iov = {(void *)buf, n};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    memset(&cm, 0, sizeof cm);
    mh.msg_control = cm.b;
    mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
  }
  return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

ssize_t test_recv_fds(int sock, void *buf, size_t cap, int *fds, int max,
                      int *nfds) {
  union {
    char b[CMSG_SPACE(TEST_MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } cm;
  struct iovec iov = {buf, cap};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.b;
  mh.msg_controllen = sizeof cm.b;
  *nfds = 0;
  ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (r < 0)
    return r;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      ASSERT(*nfds < max);
      memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  return r;
}

extern char **environ;

pid_t test_spawn_fds(const char *const *argv, int in, int out, int err,
                     int extra) {
  posix_spawn_file_actions_t fa;
  const int want[4] = {in, out, err, extra};
  pid_t pid;
  ASSERT_EQ(posix_spawn_file_actions_init(&fa), 0);
  for (int fd = 0; fd < 4; fd++) {
    if (want[fd] == TEST_FD_CLOSED)
      ASSERT_EQ(posix_spawn_file_actions_addclose(&fa, fd), 0);
    else if (want[fd] >= 0)
      ASSERT_EQ(posix_spawn_file_actions_adddup2(&fa, want[fd], fd), 0);
  }
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                        environ),
            0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

size_t test_read_all(int fd, char *buf, size_t size) {
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, size - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
    ASSERT(n < size - 1);
  }
  buf[n] = '\0';
  return n;
}

void test_pin_one_cpu(void) {
  cpu_set_t all, one;
  int cpu = -1;
  if (sched_getaffinity(0, sizeof all, &all) != 0)
    TEST_SKIP("sched_getaffinity: %s", strerror(errno));
  for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
    if (CPU_ISSET(i, &all))
      cpu = i;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0)
    TEST_SKIP("sched_setaffinity: %s", strerror(errno));
}
