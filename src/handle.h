/* Handle kinds: what an fd is, and the type Node names it by on the wire.
 * muster_handle_type() itself is public (muster/message.h). */
#ifndef MUSTER_HANDLE_H
#define MUSTER_HANDLE_H

#include "muster/message.h"

/* As muster_handle_type(fd); *domain gets the socket's domain (AF_UNSPEC
 * when fd is not a socket). */
muster_handle_type_t muster__handle_classify(int fd, int *domain);

/* The type string Node uses for a handle of this kind ("net.Server", ...),
 * native: "net.Native"/"dgram.Native". */
const char *muster__handle_node_type(muster_handle_type_t type, int native);

#endif
