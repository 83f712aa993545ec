/* muster_listen(): real sockets on loopback. */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_tcp(int family, const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    ASSERT_EQ(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    ASSERT_EQ(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    len = sizeof *a;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

/* Accepts one connection on a non-blocking listener, waiting for it. */
static int accept_one(int lfd) {
  for (int i = 0; i < 500; i++) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0)
      return c;
    ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
    usleep(2000);
  }
  TEST_FAIL("no connection arrived");
}

static int has_ipv6(void) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

TEST(listen_tcp4_ephemeral) {
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP,
                               .address = "127.0.0.1"};
  int lfd = -1, port = 0;
  char addr[64];
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_OK(muster_listen_address(lfd, addr, sizeof addr, &port));
  ASSERT_STR_EQ(addr, "127.0.0.1");
  ASSERT(port > 0);
  ASSERT(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
  ASSERT(fcntl(lfd, F_GETFL) & O_NONBLOCK);
  int c = connect_tcp(AF_INET, "127.0.0.1", port);
  ASSERT_GE(c, 0);
  int s = accept_one(lfd);
  ASSERT_EQ(write(c, "hi", 2), 2);
  char buf[2];
  ASSERT_EQ(read(s, buf, 2), 2);
  ASSERT(memcmp(buf, "hi", 2) == 0);
  close(s);
  close(c);
  close(lfd);
}

/* No address: "::" takes IPv4 connections too, as in Node. */
TEST(listen_tcp_any_dual_stack) {
  if (!has_ipv6())
    TEST_SKIP("this host has no IPv6 loopback");
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP};
  int lfd, port;
  char addr[64];
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_OK(muster_listen_address(lfd, addr, sizeof addr, &port));
  ASSERT_STR_EQ(addr, "::");
  int c4 = connect_tcp(AF_INET, "127.0.0.1", port);
  ASSERT_GE(c4, 0);
  int c6 = connect_tcp(AF_INET6, "::1", port);
  ASSERT_GE(c6, 0);
  int s1 = accept_one(lfd), s2 = accept_one(lfd);
  close(s1);
  close(s2);
  close(c4);
  close(c6);
  close(lfd);
}

TEST(listen_tcp6_only) {
  if (!has_ipv6())
    TEST_SKIP("this host has no IPv6 loopback");
  /* Take an IPv4 port first, bound and not listening: no other test
   * running meanwhile can then use that port number for IPv4, and IPv4
   * connections to it are refused. Choosing the IPv6 port first and
   * binding IPv4 after raced with other tests' ephemeral ports. */
  int v4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(v4, 0);
  struct sockaddr_in a4 = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
  ASSERT_EQ(bind(v4, (struct sockaddr *)&a4, sizeof a4), 0);
  socklen_t len = sizeof a4;
  ASSERT_EQ(getsockname(v4, (struct sockaddr *)&a4, &len), 0);
  int port = ntohs(a4.sin_port);

  /* Dual stack, the same port is taken; v6only leaves it free. */
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP,
                               .address = "::",
                               .port = port};
  int lfd;
  ASSERT_ERR(muster_listen(&o, &lfd), MUSTER_EADDRINUSE);
  o.flags = MUSTER_LISTEN_IPV6ONLY;
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_ERR(connect_tcp(AF_INET, "127.0.0.1", port), MUSTER_ECONNREFUSED);
  int c6 = connect_tcp(AF_INET6, "::1", port);
  ASSERT_GE(c6, 0);
  close(accept_one(lfd));
  close(c6);
  close(lfd);
  close(v4);
}

TEST(listen_tcp_in_use_and_reuseport) {
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP,
                               .address = "127.0.0.1"};
  int a, b, port;
  int fds = test_fd_count();
  ASSERT_OK(muster_listen(&o, &a));
  ASSERT_OK(muster_listen_address(a, NULL, 0, &port));
  o.port = port;
  ASSERT_ERR(muster_listen(&o, &b), MUSTER_EADDRINUSE);
  ASSERT_EQ(test_fd_count(), fds + 1); /* the failed call left nothing */
  close(a);

  /* Two reuseport sockets on one port: the kernel spreads connections. */
  o.port = 0;
  o.flags = MUSTER_LISTEN_REUSEPORT;
  ASSERT_OK(muster_listen(&o, &a));
  ASSERT_OK(muster_listen_address(a, NULL, 0, &port));
  o.port = port;
  ASSERT_OK(muster_listen(&o, &b));
  int hits_a = 0, hits_b = 0;
  for (int i = 0; i < 64; i++) {
    int c = connect_tcp(AF_INET, "127.0.0.1", port);
    ASSERT_GE(c, 0);
    usleep(1000);
    int s = accept4(a, NULL, NULL, SOCK_CLOEXEC);
    if (s >= 0) {
      hits_a++;
    } else {
      s = accept_one(b);
      hits_b++;
    }
    close(s);
    close(c);
  }
  ASSERT(hits_a > 0 && hits_b > 0);
  close(a);
  close(b);
}

/* SCHED_NONE's socket: bound, not listening, until its user calls listen. */
TEST(listen_bind_only) {
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP,
                               .address = "127.0.0.1",
                               .flags = MUSTER_LISTEN_BIND_ONLY};
  int lfd, port;
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_OK(muster_listen_address(lfd, NULL, 0, &port));
  ASSERT(port > 0);
  ASSERT_ERR(connect_tcp(AF_INET, "127.0.0.1", port), MUSTER_ECONNREFUSED);
  ASSERT_EQ(listen(lfd, 16), 0);
  int c = connect_tcp(AF_INET, "127.0.0.1", port);
  ASSERT_GE(c, 0);
  close(accept_one(lfd));
  close(c);
  close(lfd);
}

TEST(listen_unix) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/muster-listen-%d.sock", (int)getpid());
  unlink(path);
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_UNIX, .address = path};
  int lfd, port = -1;
  char addr[128];
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_OK(muster_listen_address(lfd, addr, sizeof addr, &port));
  ASSERT_STR_EQ(addr, path);
  ASSERT_EQ(port, 0);
  /* An existing path is in use, as in Node: nothing is unlinked for us. */
  int again;
  ASSERT_ERR(muster_listen(&o, &again), MUSTER_EADDRINUSE);

  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  strcpy(sun.sun_path, path);
  ASSERT_EQ(connect(c, (struct sockaddr *)&sun, sizeof sun), 0);
  close(accept_one(lfd));
  close(c);
  close(lfd);
  unlink(path);
}

TEST(listen_udp) {
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_UDP,
                               .address = "127.0.0.1"};
  int u, port;
  ASSERT_OK(muster_listen(&o, &u));
  ASSERT_OK(muster_listen_address(u, NULL, 0, &port));
  int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(sendto(c, "ping", 4, 0, (struct sockaddr *)&a, sizeof a), 4);
  char buf[8];
  ssize_t n = -1;
  for (int i = 0; i < 500 && n < 0; i++) {
    n = recv(u, buf, sizeof buf, 0);
    if (n < 0)
      usleep(2000);
  }
  ASSERT_EQ(n, 4);
  ASSERT(memcmp(buf, "ping", 4) == 0);
  close(c);
  close(u);
}

TEST(listen_host_name) {
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP,
                               .address = "localhost"};
  int lfd, port;
  char addr[64];
  ASSERT_OK(muster_listen(&o, &lfd));
  ASSERT_OK(muster_listen_address(lfd, addr, sizeof addr, &port));
  ASSERT(strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0);
  close(lfd);
}

TEST(listen_bad_input) {
  int fds = test_fd_count();
  int fd = -1;
  muster_listen_options_t o = {.kind = MUSTER_LISTEN_TCP, .port = 70000};
  ASSERT_ERR(muster_listen(NULL, &fd), MUSTER_EINVAL);
  ASSERT_ERR(muster_listen(&o, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_EINVAL);
  o.port = -1;
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_EINVAL);
  o.port = 0;
  o.kind = (muster_listen_kind_t)42;
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_EINVAL);
  o.kind = MUSTER_LISTEN_UNIX;
  o.address = NULL;
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_EINVAL);
  char longpath[200];
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = '\0';
  o.address = longpath;
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_ENAMETOOLONG);
  o.address = "/nonexistent-dir/sock";
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_ENOENT);
  /* 192.0.2.1 (TEST-NET-1) is no address of this host; bind only, no
   * packet is sent anywhere. */
  o.kind = MUSTER_LISTEN_TCP;
  o.address = "192.0.2.1";
  ASSERT_ERR(muster_listen(&o, &fd), MUSTER_EADDRNOTAVAIL);
  ASSERT_EQ(fd, -1);
  ASSERT_EQ(test_fd_count(), fds);

  char addr[4];
  ASSERT_ERR(muster_listen_address(-1, addr, sizeof addr, NULL), MUSTER_EBADF);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_ERR(muster_listen_address(devnull, addr, sizeof addr, NULL),
             MUSTER_ENOTSOCK);
  close(devnull);
  o.address = "127.0.0.1";
  ASSERT_OK(muster_listen(&o, &fd));
  ASSERT_ERR(muster_listen_address(fd, addr, sizeof addr, NULL),
             MUSTER_ENOBUFS);
  close(fd);
}
