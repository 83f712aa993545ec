/* Errors.
 *
 * Every muster call that can fail returns an int: 0 (or a count) on success,
 * a negative MUSTER_E* code on failure. The codes are negated errno values,
 * the same numbers as libuv's UV_E* codes on Linux, so a libuv result and a
 * muster result can be compared and printed the same way.
 *
 * Meanings muster gives them, beyond plain errno:
 *   MUSTER_ENOTCONN  the channel is closed, or there is no channel
 *   MUSTER_EBADMSG   a peer sent a malformed frame
 *   MUSTER_EMSGSIZE  a message is over the configured maximum size
 *   MUSTER_ESRCH     no such process (already reaped), or no such app
 *   MUSTER_ETIMEDOUT a timeout expired (child killed, or readiness missed)
 *   MUSTER_ENOBUFS   output went over maxBuffer
 *   MUSTER_ENOTSUP   a peer asked for a mode muster does not speak
 */
#ifndef MUSTER_ERROR_H
#define MUSTER_ERROR_H

#include <errno.h>

#include "common.h"

#define MUSTER_E2BIG (-E2BIG)
#define MUSTER_EACCES (-EACCES)
#define MUSTER_EADDRINUSE (-EADDRINUSE)
#define MUSTER_EADDRNOTAVAIL (-EADDRNOTAVAIL)
#define MUSTER_EAFNOSUPPORT (-EAFNOSUPPORT)
#define MUSTER_EAGAIN (-EAGAIN)
#define MUSTER_EALREADY (-EALREADY)
#define MUSTER_EBADF (-EBADF)
#define MUSTER_EBADMSG (-EBADMSG)
#define MUSTER_EBUSY (-EBUSY)
#define MUSTER_ECANCELED (-ECANCELED)
#define MUSTER_ECHILD (-ECHILD)
#define MUSTER_ECONNREFUSED (-ECONNREFUSED)
#define MUSTER_ECONNRESET (-ECONNRESET)
#define MUSTER_EEXIST (-EEXIST)
#define MUSTER_EINVAL (-EINVAL)
#define MUSTER_EIO (-EIO)
#define MUSTER_EMFILE (-EMFILE)
#define MUSTER_EMSGSIZE (-EMSGSIZE)
#define MUSTER_ENAMETOOLONG (-ENAMETOOLONG)
#define MUSTER_ENFILE (-ENFILE)
#define MUSTER_ENOBUFS (-ENOBUFS)
#define MUSTER_ENOENT (-ENOENT)
#define MUSTER_ENOMEM (-ENOMEM)
#define MUSTER_ENOSPC (-ENOSPC)
#define MUSTER_ENOSYS (-ENOSYS)
#define MUSTER_ENOTCONN (-ENOTCONN)
#define MUSTER_ENOTDIR (-ENOTDIR)
#define MUSTER_ENOTSOCK (-ENOTSOCK)
#define MUSTER_ENOTSUP (-ENOTSUP)
#define MUSTER_ENOTTY (-ENOTTY)
#define MUSTER_EPERM (-EPERM)
#define MUSTER_EPIPE (-EPIPE)
#define MUSTER_EPROTO (-EPROTO)
#define MUSTER_EPROTONOSUPPORT (-EPROTONOSUPPORT)
#define MUSTER_ERANGE (-ERANGE)
#define MUSTER_ESRCH (-ESRCH)
#define MUSTER_ETIMEDOUT (-ETIMEDOUT)
#define MUSTER_EOF (-4095) /* = UV_EOF */

/* A short English description of a muster (or libuv) error code, such as
 * "no such file or directory". Never NULL; unknown codes give
 * "unknown error". The string is static. Any thread. */
MUSTER_EXTERN const char *muster_strerror(int err);

/* The symbolic name of an error code, such as "ENOENT". Never NULL; unknown
 * codes give "UNKNOWN". The string is static. Any thread. */
MUSTER_EXTERN const char *muster_err_name(int err);

#endif
