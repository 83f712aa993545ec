#include <muster/error.h>
#include <muster/listen.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_BACKLOG 511

static int close_fail(int fd, int err) {
  close(fd);
  return err;
}

/* Binds (and for streams listens) a socket of `family` at `sa`. */
static int bind_inet(const muster_listen_options_t *o,
                     const struct sockaddr *sa, socklen_t salen, int *out) {
  int type = o->kind == MUSTER_LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
  int fd = socket(sa->sa_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  int on = 1;
  /* SO_REUSEADDR on a stream socket only lets us rebind over TIME_WAIT
   * leftovers (what Node and nginx do); it never lets two live listeners
   * share a port on Linux. On UDP it would, so UDP does not get it. */
  if (type == SOCK_STREAM &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
    return close_fail(fd, -errno);
  if ((o->flags & MUSTER_LISTEN_REUSEPORT) &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    return close_fail(fd, -errno);
  if (sa->sa_family == AF_INET6) {
    int v6only = (o->flags & MUSTER_LISTEN_IPV6ONLY) ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only))
      return close_fail(fd, -errno);
  }
  if (bind(fd, sa, salen) != 0)
    return close_fail(fd, -errno);
  if (type == SOCK_STREAM && !(o->flags & MUSTER_LISTEN_BIND_ONLY) &&
      listen(fd, o->backlog > 0 ? o->backlog : DEFAULT_BACKLOG) != 0)
    return close_fail(fd, -errno);
  *out = fd;
  return 0;
}

/* No address: "::" (which takes IPv4 too), or "0.0.0.0" on a host whose
 * kernel has no IPv6, as Node's net._createServerHandle does. */
static int listen_any(const muster_listen_options_t *o, int *out) {
  struct sockaddr_in6 a6;
  memset(&a6, 0, sizeof a6);
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_any;
  a6.sin6_port = htons((uint16_t)o->port);
  int r = bind_inet(o, (struct sockaddr *)&a6, sizeof a6, out);
  if (r != MUSTER_EAFNOSUPPORT && r != MUSTER_EADDRNOTAVAIL)
    return r;
  struct sockaddr_in a4;
  memset(&a4, 0, sizeof a4);
  a4.sin_family = AF_INET;
  a4.sin_addr.s_addr = htonl(INADDR_ANY);
  a4.sin_port = htons((uint16_t)o->port);
  return bind_inet(o, (struct sockaddr *)&a4, sizeof a4, out);
}

static int getaddrinfo_error(int rc) {
  switch (rc) {
  case EAI_NONAME:
  case EAI_NODATA:
    return MUSTER_ENOENT;
  case EAI_FAMILY:
  case EAI_ADDRFAMILY:
    return MUSTER_EAFNOSUPPORT;
  case EAI_MEMORY:
    return MUSTER_ENOMEM;
  case EAI_AGAIN:
    return MUSTER_EAGAIN;
  case EAI_SYSTEM:
    return -errno;
  default:
    return MUSTER_EINVAL;
  }
}

static int listen_host(const muster_listen_options_t *o, int *out) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = o->kind == MUSTER_LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port[8];
  snprintf(port, sizeof port, "%d", o->port);
  int rc = getaddrinfo(o->address, port, &hints, &res);
  if (rc != 0)
    return getaddrinfo_error(rc);
  int r = bind_inet(o, res->ai_addr, res->ai_addrlen, out);
  freeaddrinfo(res);
  return r;
}

static int listen_unix(const muster_listen_options_t *o, int *out) {
  struct sockaddr_un sun;
  if (o->address == NULL || o->address[0] == '\0')
    return MUSTER_EINVAL;
  size_t len = strlen(o->address);
  if (len >= sizeof sun.sun_path)
    return MUSTER_ENAMETOOLONG;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, o->address, len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
    return close_fail(fd, -errno);
  if (!(o->flags & MUSTER_LISTEN_BIND_ONLY) &&
      listen(fd, o->backlog > 0 ? o->backlog : DEFAULT_BACKLOG) != 0) {
    int err = -errno;
    unlink(o->address);
    return close_fail(fd, err);
  }
  *out = fd;
  return 0;
}

int muster_listen(const muster_listen_options_t *options, int *fd) {
  if (options == NULL || fd == NULL)
    return MUSTER_EINVAL;
  switch (options->kind) {
  case MUSTER_LISTEN_UNIX:
    return listen_unix(options, fd);
  case MUSTER_LISTEN_TCP:
  case MUSTER_LISTEN_UDP:
    if (options->port < 0 || options->port > 65535)
      return MUSTER_EINVAL;
    if (options->address == NULL || options->address[0] == '\0')
      return listen_any(options, fd);
    return listen_host(options, fd);
  default:
    return MUSTER_EINVAL;
  }
}

int muster_listen_address(int fd, char *addr, size_t len, int *port) {
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
    return -errno;
  char text[INET6_ADDRSTRLEN > sizeof(((struct sockaddr_un *)0)->sun_path)
                ? INET6_ADDRSTRLEN
                : sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  int p = 0;
  memset(text, 0, sizeof text);
  switch (ss.ss_family) {
  case AF_INET: {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    p = ntohs(a->sin_port);
    break;
  }
  case AF_INET6: {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    p = ntohs(a->sin6_port);
    break;
  }
  case AF_UNIX: {
    struct sockaddr_un *a = (struct sockaddr_un *)&ss;
    size_t n = sslen > offsetof(struct sockaddr_un, sun_path)
                   ? sslen - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    if (n > sizeof a->sun_path)
      n = sizeof a->sun_path;
    memcpy(text, a->sun_path, n);
    break;
  }
  default:
    return MUSTER_EAFNOSUPPORT;
  }
  if (addr != NULL) {
    if (strlen(text) + 1 > len)
      return MUSTER_ENOBUFS;
    memcpy(addr, text, strlen(text) + 1);
  }
  if (port != NULL)
    *port = p;
  return 0;
}
