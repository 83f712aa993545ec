/* The user database (users, groups, a user's supplementary groups) as the
 * system's NSS configuration answers it: asked of `getent`, a dynamically
 * linked program of the C library, run on the daemon's PATH. The muster
 * binary is linked statically, glibc included (docs/manager.md, "One
 * binary"); a static glibc cannot load the NSS modules of the system
 * (systemd, LDAP, sss users), so the program never calls getpwnam() and
 * its kin itself.
 *
 * Without userdb_init(), each call runs `getent` to completion (a few
 * milliseconds) and blocks the caller meanwhile, as getpwnam() did. The
 * daemon calls userdb_init() with its loop: a call then never waits. It
 * answers from what getent said before; a key not known yet is asked off
 * the loop (a getent child, watched by the loop) and the call returns
 * MUSTER_EAGAIN; userdb_wait() says when an answer has come, and the
 * caller asks again. An answer is fresh for USERDB_FRESH_MS, so an
 * ecosystem of 100 apps of one user, or a crash loop, asks once a second
 * at most. With a loop, an older answer is still given (and asked again
 * in the background: the call after the new answer sees it); an error
 * (getent could not be run, or timed out) only while fresh. At most
 * CACHE_SIZE (64) keys are kept: the least recently read goes. */
#ifndef MANAGER_USERDB_H
#define MANAGER_USERDB_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

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
 * MUSTER_EIO for an answer that does not parse; MUSTER_EAGAIN after
 * userdb_init() while the answer is being asked); `why` then says what
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
 * "?" when the database has none; the uid in decimal while it is being
 * asked (userdb_init). */
const char *userdb_self(void);
/* The same in *name; returns MUSTER_EAGAIN while it is being asked, else
 * 0. */
int userdb_me(const char **name);

/* From now on, getent runs as a child on `loop` and calls answer
 * MUSTER_EAGAIN meanwhile (see above). Once, on the loop's thread; every
 * call is then made on that thread. */
void userdb_init(uv_loop_t *loop);

typedef struct userdb_waiter_s {
  void (*cb)(void *data);
  void *data;
  struct userdb_waiter_s *next;
} userdb_waiter_t;
/* cb(data) is called once, on the loop, when the next answer has come
 * (any key's: the caller asks again, and may wait again). There is one
 * whenever a call answered MUSTER_EAGAIN. w is the caller's until then. */
void userdb_wait(userdb_waiter_t *w, void (*cb)(void *data), void *data);

/* 1 when `pid` is a getent this file runs (the daemon's reaper leaves it
 * to libmuster, which reaps it). */
int userdb_owns_pid(int pid);

#endif
