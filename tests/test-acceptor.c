/* muster_acceptor_*: batching, pause and resume, close from a callback,
 * bad arguments, and a process out of descriptors (the spare-descriptor
 * answer to EMFILE, under a lowered RLIMIT_NOFILE). Clients connect with
 * blocking calls from the loop's thread: the kernel completes a loopback
 * handshake into the backlog without an accept(). */
#include "test.h"

#include "muster/acceptor.h"
#include "muster/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static int lfd = -1, port, n_conn, n_err, last_err, n_closed;
static int keep_conn[16];
static muster_acceptor_t *acc;

static void open_listener(void) {
  muster_listen_options_t lo = {.address = "127.0.0.1"};
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_listen(&lo, &lfd));
  ASSERT_OK(muster_listen_address(lfd, NULL, 0, &port));
}

static int client(void) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static void on_conn(muster_acceptor_t *a, int fd) {
  ASSERT(a == acc);
  ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
  ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  if (n_conn < 16)
    keep_conn[n_conn] = fd;
  else
    close(fd);
  n_conn++;
}

static void on_err(muster_acceptor_t *a, int err) {
  (void)a;
  n_err++;
  last_err = err;
}

static void on_closed(muster_acceptor_t *a) {
  (void)a;
  n_closed++;
}

static void finish(void) {
  for (int i = 0; i < n_conn && i < 16; i++)
    close(keep_conn[i]);
  close(lfd);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* Runs the loop until `want` connections came (or 5 s passed). */
static void run_until(int want) {
  uint64_t deadline = test_now_ms() + 5000;
  while (n_conn < want && test_now_ms() < deadline)
    uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
}

TEST(acceptor_accepts) {
  int c[5];
  open_listener();
  muster_acceptor_options_t o = {.on_connection = on_conn, .data = &port};
  ASSERT_OK(muster_acceptor_open(&loop, lfd, &o, &acc));
  ASSERT_EQ(muster_acceptor_fd(acc), lfd);
  ASSERT(muster_acceptor_data(acc) == &port);
  for (int i = 0; i < 5; i++)
    c[i] = client();
  run_until(5);
  ASSERT_EQ(n_conn, 5);
  ASSERT_EQ((int)muster_acceptor_count(acc), 5);
  muster_acceptor_close(acc, on_closed);
  muster_acceptor_close(acc, on_closed); /* ignored */
  for (int i = 0; i < 5; i++)
    close(c[i]);
  finish();
  ASSERT_EQ(n_closed, 1);
  ASSERT_EQ(n_err, 0);
}

/* One wake-up takes at most `batch` connections; the rest come on the
 * next turns. */
TEST(acceptor_batch) {
  int c[6];
  open_listener();
  muster_acceptor_options_t o = {.on_connection = on_conn, .batch = 2};
  ASSERT_OK(muster_acceptor_open(&loop, lfd, &o, &acc));
  for (int i = 0; i < 6; i++)
    c[i] = client();
  uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_LE(n_conn, 2);
  run_until(6);
  ASSERT_EQ(n_conn, 6);
  muster_acceptor_close(acc, NULL);
  for (int i = 0; i < 6; i++)
    close(c[i]);
  finish();
}

TEST(acceptor_pause_resume) {
  int c[3];
  open_listener();
  muster_acceptor_options_t o = {.on_connection = on_conn};
  ASSERT_OK(muster_acceptor_open(&loop, lfd, &o, &acc));
  muster_acceptor_pause(acc);
  muster_acceptor_pause(acc);
  for (int i = 0; i < 3; i++)
    c[i] = client();
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
  ASSERT_EQ(n_conn, 0); /* they wait in the backlog */
  muster_acceptor_resume(acc);
  run_until(3);
  ASSERT_EQ(n_conn, 3);
  muster_acceptor_close(acc, NULL);
  for (int i = 0; i < 3; i++)
    close(c[i]);
  finish();
}

static void close_in_cb(muster_acceptor_t *a, int fd) {
  on_conn(a, fd);
  muster_acceptor_close(a, on_closed);
}

/* Closed from on_connection: no other connection of the batch is taken. */
TEST(acceptor_close_in_callback) {
  int c[3];
  open_listener();
  muster_acceptor_options_t o = {.on_connection = close_in_cb};
  ASSERT_OK(muster_acceptor_open(&loop, lfd, &o, &acc));
  for (int i = 0; i < 3; i++)
    c[i] = client();
  run_until(1);
  for (int i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(n_conn, 1);
  ASSERT_EQ(n_closed, 1);
  for (int i = 0; i < 3; i++)
    close(c[i]);
  finish();
}

TEST(acceptor_bad_args) {
  muster_acceptor_options_t o = {.on_connection = on_conn};
  muster_acceptor_options_t none = {0};
  open_listener();
  ASSERT_ERR(muster_acceptor_open(NULL, lfd, &o, &acc), MUSTER_EINVAL);
  ASSERT_ERR(muster_acceptor_open(&loop, -1, &o, &acc), MUSTER_EINVAL);
  ASSERT_ERR(muster_acceptor_open(&loop, lfd, NULL, &acc), MUSTER_EINVAL);
  ASSERT_ERR(muster_acceptor_open(&loop, lfd, &none, &acc), MUSTER_EINVAL);
  ASSERT_ERR(muster_acceptor_open(&loop, lfd, &o, NULL), MUSTER_EINVAL);
  /* Not a descriptor at all. */
  ASSERT(muster_acceptor_open(&loop, 1000000, &o, &acc) < 0);
  muster_acceptor_close(NULL, NULL);
  muster_acceptor_pause(NULL);
  muster_acceptor_resume(NULL);
  finish();
}

/* A process out of descriptors: the pending connections are accepted and
 * closed with the spare descriptor's help (their clients see the end of
 * the stream), on_error hears EMFILE once, the loop does not spin on the
 * pending connection, and once descriptors are free again new connections
 * come through. */
TEST_T(acceptor_emfile, 30) {
  int c[3], nfill = 0;
  static int fill[4200];
  struct rlimit old, low;
  open_listener();
  muster_acceptor_options_t o = {.on_connection = on_conn, .on_error = on_err};
  ASSERT_OK(muster_acceptor_open(&loop, lfd, &o, &acc));
  for (int i = 0; i < 3; i++)
    c[i] = client();
  /* Lower the limit just above what is open, then use up the rest. */
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
  int top = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) >= 0)
      top = fd;
  low = old;
  low.rlim_cur = (rlim_t)top + 8;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
  int fd;
  while (nfill < 4200 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    fill[nfill++] = fd;
  ASSERT(nfill < 4200);
  ASSERT_EQ(errno, EMFILE);
  /* Several turns: a spinning loop would return at once each time and
   * keep reporting; the acceptor reports once and goes quiet. */
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
  ASSERT_EQ(n_conn, 0);
  ASSERT_EQ(n_err, 1);
  ASSERT_EQ(last_err, MUSTER_EMFILE);
  for (int i = 0; i < 3; i++) {
    struct pollfd p = {c[i], POLLIN, 0};
    char b;
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    ssize_t r = read(c[i], &b, 1);
    ASSERT(r == 0 || (r < 0 && errno == ECONNRESET));
    close(c[i]);
  }
  /* Descriptors again: the spare came back, new connections are served. */
  while (nfill > 0)
    close(fill[--nfill]);
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
  c[0] = client();
  run_until(1);
  ASSERT_EQ(n_conn, 1);
  muster_acceptor_close(acc, on_closed);
  close(c[0]);
  finish();
  ASSERT_EQ(n_closed, 1);
}
