/* Helpers for the cluster tests: blocking clients for threads. */
#include "test-cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_to(const char *addr, int port, int type) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  int family;
  if (port < 0) {
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", addr);
    len = sizeof *un;
    family = AF_UNIX;
  } else if (strchr(addr, ':')) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, addr, &in6->sin6_addr);
    len = sizeof *in6;
    family = AF_INET6;
  } else {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &in->sin_addr);
    len = sizeof *in;
    family = AF_INET;
  }
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

static int read_pid(int fd) {
  char buf[64];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r == 0 ? -ECONNRESET : -errno;
    n += (size_t)r;
    if (memchr(buf, '\n', n))
      break;
  }
  buf[n] = '\0';
  return atoi(buf);
}

int tc_request(const char *addr, int port, const char *line, int *hold_fd) {
  int fd = connect_to(addr, port, SOCK_STREAM);
  if (fd < 0)
    return fd;
  if (write(fd, line, strlen(line)) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  int pid = read_pid(fd);
  if (hold_fd && pid > 0)
    *hold_fd = fd;
  else
    close(fd);
  return pid;
}

int tc_http_request(const char *addr, int port) {
  int fd = connect_to(addr, port, SOCK_STREAM);
  if (fd < 0)
    return fd;
  const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req, sizeof req - 1) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  char buf[4096];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
    if (n == sizeof buf - 1)
      break;
  }
  close(fd);
  buf[n] = '\0';
  char *body = strstr(buf, "\r\n\r\n");
  if (body == NULL)
    return -ECONNRESET;
  return atoi(body + 4);
}

int tc_udp_request(const char *addr, int port) {
  int fd = connect_to(addr, port, SOCK_DGRAM);
  if (fd < 0)
    return fd;
  int pid = -ETIMEDOUT;
  for (int i = 0; i < 20 && pid < 0; i++) {
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, "x\n", 2, 0) < 0)
      continue;
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      pid = atoi(buf);
    }
  }
  close(fd);
  return pid;
}

static void *client_main(void *arg) {
  tc_client_t *c = arg;
  const int cap = (int)(sizeof c->pids / sizeof c->pids[0]);
  while (c->n ? c->made < c->n && c->made < cap : !c->stop) {
    int pid = c->http ? tc_http_request(c->addr, c->port)
                      : tc_request(c->addr, c->port, "x\n", NULL);
    if (pid <= 0) {
      c->failures++;
      c->last_err = pid;
    }
    c->pids[c->made % cap] = pid;
    c->made++;
    if (c->n == 0)
      usleep(1000); /* a steady trickle, not a flood, on a shared box */
  }
  __atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
  uv_async_send(c->done);
  return NULL;
}

void tc_client_start(tc_client_t *c) {
  ASSERT_OK(-pthread_create(&c->thread, NULL, client_main, c));
}

void tc_client_join(tc_client_t *c) {
  pthread_join(c->thread, NULL);
}

int tc_count(const tc_client_t *c, int pid) {
  int n = 0;
  int cap = (int)(sizeof c->pids / sizeof c->pids[0]);
  for (int i = 0; i < c->made && i < cap; i++)
    n += c->pids[i] == pid;
  return n;
}

int tc_alive(int pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}
