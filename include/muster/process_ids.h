/* Users and groups of this process: Node's process.getuid() ... setgroups()
 * and initgroups().
 *
 *   muster_process_getuid(), _geteuid(), _getgid(), _getegid()
 *   muster_process_getgroups()             supplementary groups (+ egid)
 *   muster_process_setuid(), _seteuid(), _setgid(), _setegid()  by number
 *   muster_process_setuid_name(), ... _setegid_name()           by name
 *   muster_process_setgroups(), _initgroups()
 *   muster_process_user_id(), _group_id()  name → number (reentrant NSS)
 *
 * Names are looked up with getpwnam_r()/getgrnam_r(), through NSS (files,
 * LDAP, systemd-userdb ... as /etc/nsswitch.conf says), so a lookup may
 * block on the network: do it at startup, not on a busy loop.
 *
 * Threads. The kernel keeps credentials per thread, but glibc's set*id()
 * and setgroups() (which these call) change them in every thread of the
 * process at once, as POSIX requires, by signalling each thread: so after
 * muster_process_setuid() returns, every thread, libuv's thread pool
 * included, runs as the new user. Calling a raw syscall instead would
 * change only the calling thread; muster never does. A thread that is
 * inside a blocking system call finishes it under the old credentials.
 * The setters may be called from any thread; do not call them
 * concurrently with each other. The getters may be called from any
 * thread at any time.
 *
 * Results are 0 or a negative MUSTER_E* code. Nothing is changed when a
 * call fails. */
#ifndef MUSTER_PROCESS_IDS_H
#define MUSTER_PROCESS_IDS_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

/* Real and effective user and group ids. Cannot fail. */
MUSTER_EXTERN uid_t muster_process_getuid(void);
MUSTER_EXTERN uid_t muster_process_geteuid(void);
MUSTER_EXTERN gid_t muster_process_getgid(void);
MUSTER_EXTERN gid_t muster_process_getegid(void);

/* Copies the supplementary group ids into groups; the effective group id
 * is always among them (Node's guarantee; POSIX leaves it open). On entry
 * *count is the room in `groups`; on success the number written; on
 * MUSTER_ENOBUFS the number needed.
 * Errors: MUSTER_EINVAL (NULL count, NULL groups with *count > 0),
 * MUSTER_ENOBUFS. */
MUSTER_EXTERN int muster_process_getgroups(gid_t *groups, size_t *count);

/* setuid(2) and friends. Errors: MUSTER_EPERM (not allowed: the caller
 * lacks CAP_SETUID/CAP_SETGID and the id is not one of its own),
 * MUSTER_EINVAL (an id the kernel cannot map, such as (uid_t)-1),
 * MUSTER_EAGAIN (setuid: RLIMIT_NPROC of the target user). */
MUSTER_EXTERN int muster_process_setuid(uid_t uid);
MUSTER_EXTERN int muster_process_seteuid(uid_t uid);
MUSTER_EXTERN int muster_process_setgid(gid_t gid);
MUSTER_EXTERN int muster_process_setegid(gid_t gid);

/* The same, by user or group name (borrowed for the call). Errors, besides
 * the above: MUSTER_EINVAL (NULL or empty name), MUSTER_ENOENT (no such
 * user or group), MUSTER_ENOMEM, and NSS errors (MUSTER_EIO ...). */
MUSTER_EXTERN int muster_process_setuid_name(const char *user);
MUSTER_EXTERN int muster_process_seteuid_name(const char *user);
MUSTER_EXTERN int muster_process_setgid_name(const char *group);
MUSTER_EXTERN int muster_process_setegid_name(const char *group);

/* Replaces the supplementary groups with groups[0..count) (borrowed);
 * count 0 clears them. Errors: MUSTER_EPERM (needs CAP_SETGID),
 * MUSTER_EINVAL (NULL groups with count > 0, more than NGROUPS_MAX). */
MUSTER_EXTERN int muster_process_setgroups(const gid_t *groups, size_t count);

/* Sets the supplementary groups to those `user` belongs to in the group
 * database, plus extra_group (Node's initgroups(user, extraGroup)).
 * Errors: MUSTER_EINVAL (NULL or empty user), MUSTER_ENOENT (no such
 * user), MUSTER_EPERM (needs CAP_SETGID), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_process_initgroups(const char *user,
                                            gid_t extra_group);

/* Looks up a user or group name. Errors: MUSTER_EINVAL (NULL name or out,
 * empty name), MUSTER_ENOENT (no such name), MUSTER_ENOMEM, NSS errors. */
MUSTER_EXTERN int muster_process_user_id(const char *user, uid_t *out);
MUSTER_EXTERN int muster_process_group_id(const char *group, gid_t *out);

#endif
