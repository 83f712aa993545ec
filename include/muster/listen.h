/* Listening sockets.
 *
 * muster_listen() makes the socket behind a server: TCP over IPv4 or IPv6,
 * a Unix-domain stream socket, or UDP, bound and (for streams) listening,
 * as Node's net.Server.listen() and dgram.bind() do. The cluster module
 * creates one per key and shares it with workers; the process manager binds
 * sockets for apps in any language; handle passing sends them to children.
 *
 * Every fd it returns is O_CLOEXEC and O_NONBLOCK, and belongs to the caller.
 * No loop is involved: these calls may be made on any thread. The calls
 * block only as long as the bind itself (and, for a host name, a
 * getaddrinfo() look-up).
 */
#ifndef MUSTER_LISTEN_H
#define MUSTER_LISTEN_H

#include <stddef.h>

#include "common.h"

typedef enum {
  MUSTER_LISTEN_TCP = 0,
  MUSTER_LISTEN_UNIX,
  MUSTER_LISTEN_UDP,
} muster_listen_kind_t;

/* Bits of muster_listen_options_t.flags. */
enum {
  /* Bind only: do not call listen(). Node's SCHED_NONE primary hands out a
   * bound, not yet listening, socket and each worker calls listen(). */
  MUSTER_LISTEN_BIND_ONLY = 1 << 0,
  /* SO_REUSEPORT: several sockets bound to the same address and port, the
   * kernel spreading connections (or datagrams) among them. */
  MUSTER_LISTEN_REUSEPORT = 1 << 1,
  /* IPV6_V6ONLY on an IPv6 socket (Node's ipv6Only). Without it, "::"
   * accepts IPv4 connections too. */
  MUSTER_LISTEN_IPV6ONLY = 1 << 2,
};

typedef struct {
  muster_listen_kind_t kind;
  /* TCP/UDP: a numeric IPv4 or IPv6 address or a host name (resolved with
   * getaddrinfo, first result); NULL or "" means any address: "::", or
   * "0.0.0.0" when this host has no IPv6 (Node's rule). UNIX: the socket's
   * path (required; an existing file gives MUSTER_EADDRINUSE, as in Node). */
  const char *address;
  int port;    /* TCP/UDP: 0 picks a free port; ignored for UNIX */
  int backlog; /* streams: 0 means 511 (Node's default) */
  unsigned flags; /* MUSTER_LISTEN_* */
} muster_listen_options_t;

/* Creates the socket described by `options` and stores it in *fd.
 * Errors: MUSTER_EINVAL (NULL argument, unknown kind, port outside
 * 0-65535, missing UNIX path), MUSTER_ENAMETOOLONG (UNIX path longer than
 * sun_path), MUSTER_EADDRINUSE, MUSTER_EADDRNOTAVAIL (not an address of this
 * host), MUSTER_EACCES (privileged port, or the path's directory),
 * MUSTER_EAFNOSUPPORT (IPv6 asked on a host without it), MUSTER_ENOENT (host
 * name not found), MUSTER_EMFILE. On error nothing is left open. */
MUSTER_EXTERN int muster_listen(const muster_listen_options_t *options,
                                int *fd);

/* The local address of a socket as text: "127.0.0.1", "::1", or the path
 * of a Unix socket, into `addr` (`len` bytes, NUL-terminated), and its port
 * into *port (0 for Unix sockets). Either output may be NULL.
 * Errors: MUSTER_EBADF, MUSTER_ENOTSOCK, MUSTER_ENOBUFS (addr too small). */
MUSTER_EXTERN int muster_listen_address(int fd, char *addr, size_t len,
                                        int *port);

#endif
