/* App specs: PM2's app object (name, script, args, ...), checked and given
 * its defaults: the one place the daemon reads a spec. */
#ifndef MANAGER_SPEC_H
#define MANAGER_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "../userdb.h"

/* Checks `in` with muster_appspec_normalize() (include/muster/appspec.h
 * has the canonical form and its defaults) and returns a new canonical
 * spec in *out. Attributes muster does not support are named in *warnings
 * (a new array of strings), never silently dropped. On top of appspec's
 * rules, a name may not be "all" or a number (they select in commands).
 * It also checks uid/gid as spec_credentials() does. Returns 0, or
 * MUSTER_EINVAL (MUSTER_EPERM for a user the daemon may not become) with a
 * sentence in err; MUSTER_EAGAIN as spec_credentials(). */
int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen);

/* Who an app runs as: set_uid / set_gid say which ids change. */
typedef struct {
  int set_uid, set_gid;
  uid_t uid;
  gid_t gid;
  int has_user;        /* the uid has an entry: */
  userdb_user_t user;  /* that entry */
} spec_cred_t;

/* Resolves a canonical spec's uid and gid (numbers, or names looked up in
 * the system's user database, userdb.h; the gid defaults to the user's
 * primary group) into *c. Errors, with a sentence in err: MUSTER_EINVAL
 * (no such user or group; a uid without a user entry and no gid),
 * MUSTER_EPERM (the daemon is not root and the app asks for another user
 * or group), userdb's other errors (the database could not be asked), and
 * MUSTER_EAGAIN in the daemon while an answer is being asked (userdb.h:
 * every lookup the spec needs, the groups of a launch as root included,
 * is then under way: ask again after userdb_wait()). */
int spec_credentials(const json_t *spec, spec_cred_t *c, char *err,
                     size_t errlen);

#endif
