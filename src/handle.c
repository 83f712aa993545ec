/* Handle kinds: what an fd is, and how Node names it (src/handle.h). */
#include "handle.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

muster_handle_type_t muster__handle_classify(int fd, int *domain_out) {
  int domain, type, acc = 0;
  socklen_t sl = sizeof domain;
  *domain_out = AF_UNSPEC;
  if (fd < 0)
    return MUSTER_HANDLE_NONE;
  /* getsockopt answers "is it open" too (ENOTSOCK for a file): no
   * fcntl(F_GETFD) first, one system call less per send. EBADF also comes
   * for an O_PATH fd, which is open (and may be sent): ask fcntl then. */
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) != 0)
    return errno == EBADF && fcntl(fd, F_GETFD) < 0 ? MUSTER_HANDLE_NONE
                                                    : MUSTER_HANDLE_FD;
  *domain_out = domain;
  sl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) != 0)
    return MUSTER_HANDLE_FD;
  sl = sizeof acc;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) != 0)
    acc = 0;
  if (domain == AF_INET || domain == AF_INET6) {
    if (type == SOCK_STREAM)
      return acc ? MUSTER_HANDLE_TCP_SERVER : MUSTER_HANDLE_TCP;
    if (type == SOCK_DGRAM)
      return MUSTER_HANDLE_UDP;
  } else if (domain == AF_UNIX && type == SOCK_STREAM) {
    return acc ? MUSTER_HANDLE_PIPE_SERVER : MUSTER_HANDLE_PIPE;
  }
  return MUSTER_HANDLE_FD;
}

muster_handle_type_t muster_handle_type(int fd) {
  int domain;
  return muster__handle_classify(fd, &domain);
}

const char *muster__handle_node_type(muster_handle_type_t type, int native) {
  switch (type) {
  case MUSTER_HANDLE_TCP_SERVER:
  case MUSTER_HANDLE_PIPE_SERVER:
    return native ? "net.Native" : "net.Server";
  case MUSTER_HANDLE_TCP:
  case MUSTER_HANDLE_PIPE:
    return native ? "net.Native" : "net.Socket";
  case MUSTER_HANDLE_UDP:
    return native ? "dgram.Native" : "dgram.Socket";
  default:
    return "muster.Fd";
  }
}
