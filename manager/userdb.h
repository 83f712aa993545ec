/* The user database (users, groups, a user's supplementary groups) as the
 * system's NSS configuration answers it: asked of `getent`, a dynamically
 * linked program of the C library, run on the daemon's PATH. The muster
 * binary is linked statically, glibc included (docs/manager.md, "One
 * binary"); a static glibc cannot load the NSS modules of the system
 * (systemd, LDAP, sss users), so the program never calls getpwnam() and
 * its kin itself.
 *
 * Each call runs `getent` to completion (a few milliseconds) and blocks
 * the caller meanwhile, as getpwnam() did: only starts of apps with a
 * uid or gid call it, and the idle daemon never does. An answer is kept
 * for USERDB_FRESH_MS, so an ecosystem of 100 apps of one user, or a crash
 * loop, asks once a second at most. */
#ifndef MANAGER_USERDB_H
#define MANAGER_USERDB_H

#include <stddef.h>
#include <sys/types.h>

/* How long an answer is reused. */
#define USERDB_FRESH_MS 1000

typedef struct {
  char name[256];
  uid_t uid;
  gid_t gid; /* the primary group */
} userdb_user_t;

/* The user of a name, or of a uid given in decimal. Returns 0,
 * MUSTER_ENOENT (no such user; also for a key no user may have: empty,
 * starting with '-', holding ':' or a newline), or another negative error
 * when the database could not be asked (MUSTER_ENOENT is never that:
 * MUSTER_ENOSYS when getent cannot be run, MUSTER_ETIMEDOUT after 10 s,
 * MUSTER_EIO for an answer that does not parse); `why` then says what
 * happened. */
int userdb_user(const char *key, userdb_user_t *out, char *why,
                size_t whylen);
/* The gid of a group name, or of a gid in decimal; errors as userdb_user. */
int userdb_group(const char *key, gid_t *gid, char *why, size_t whylen);
/* What initgroups(user, gid) would set: `gid`, then the groups the
 * database lists `user` in, without repeats, in *out (malloc'd, the
 * caller frees it), *count of them. Errors as userdb_user, and
 * MUSTER_ENOMEM. */
int userdb_groups(const char *user, gid_t gid, gid_t **out, size_t *count,
                  char *why, size_t whylen);
/* The name of the process's effective user, asked once and then kept;
 * "?" when the database has none. */
const char *userdb_self(void);

#endif
