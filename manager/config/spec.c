#include "spec.h"
#include "../userdb.h"

#include <muster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen) {
  *out = NULL;
  *warnings = json_array();
  if (*warnings == NULL)
    return MUSTER_ENOMEM;
  /* A spec from the CLI or a dump is canonical already, with an absolute
   * cwd; a relative one from another client resolves against "/", never
   * against the daemon's own working directory. */
  muster_appspec_options_t o = {.base_dir = "/"};
  muster_appspec_error_t e;
  json_t *spec;
  int r = muster_appspec_normalize(in, &o, &spec, *warnings, &e);
  if (r < 0) {
    snprintf(err, errlen, "%s", e.text);
    json_decref(*warnings);
    *warnings = NULL;
    return r;
  }
  const char *name = json_string_value(json_object_get(spec, "name"));
  if (strcmp(name, "all") == 0 || strspn(name, "0123456789") == strlen(name)) {
    snprintf(err, errlen,
             "name: \"%s\" cannot be used: it would read as \"all\" or an "
             "id in commands",
             name);
    json_decref(spec);
    json_decref(*warnings);
    *warnings = NULL;
    return MUSTER_EINVAL;
  }
  const char *mode = json_string_value(json_object_get(spec, "exec_mode"));
  if (mode && strcmp(mode, "cluster") == 0)
    json_array_append_new(*warnings,
                          json_string("exec_mode: \"cluster\" is not "
                                      "supported yet: the app runs in fork "
                                      "mode"));
  spec_cred_t cred;
  if ((r = spec_credentials(spec, &cred, err, errlen)) < 0) {
    json_decref(spec);
    json_decref(*warnings);
    *warnings = NULL;
    return r;
  }
  *out = spec;
  return 0;
}

/* A uid or gid attribute as getent's key: its name, or its number. */
static const char *key_of(const json_t *v, char *buf, size_t len) {
  if (json_is_integer(v)) {
    snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    return buf;
  }
  return json_string_value(v);
}

/* The supplementary groups a launch as root will read (userdb_groups),
 * asked now so that they are known by then: MUSTER_EAGAIN while they are
 * being asked; another error is the launch's to report. */
static int groups_known(const spec_cred_t *c) {
  gid_t *groups = NULL;
  size_t n;
  char why[8];
  if (geteuid() != 0 || !c->has_user)
    return 0;
  int r = userdb_groups(c->user.name, c->gid, &groups, &n, why, sizeof why);
  free(groups);
  return r == MUSTER_EAGAIN ? r : 0;
}

int spec_credentials(const json_t *spec, spec_cred_t *c, char *err,
                     size_t errlen) {
  json_t *u = json_object_get(spec, "uid"), *g = json_object_get(spec, "gid");
  char key[32];
  int r, asking = 0;
  memset(c, 0, sizeof *c);
  if (u == NULL && g == NULL)
    return 0;
  if (u) {
    r = userdb_user(key_of(u, key, sizeof key), &c->user, err, errlen);
    if (r == MUSTER_EAGAIN) {
      asking = 1; /* the gid is asked meanwhile too */
    } else if (r == MUSTER_ENOENT && json_is_integer(u)) {
      c->uid = (uid_t)json_integer_value(u); /* a uid without an entry */
    } else if (r == MUSTER_ENOENT) {
      snprintf(err, errlen, "uid: no user named \"%s\"",
               json_string_value(u));
      return MUSTER_EINVAL;
    } else if (r < 0) {
      return r;
    } else {
      c->has_user = 1;
      c->uid = c->user.uid;
    }
  }
  c->set_uid = u != NULL;
  if (json_is_integer(g)) {
    c->gid = (gid_t)json_integer_value(g);
  } else if (g) {
    r = userdb_group(json_string_value(g), &c->gid, err, errlen);
    if (r == MUSTER_ENOENT) {
      snprintf(err, errlen, "gid: no group named \"%s\"",
               json_string_value(g));
      return MUSTER_EINVAL;
    } else if (r == MUSTER_EAGAIN) {
      asking = 1;
    } else if (r < 0) {
      return r;
    }
  }
  if (asking)
    return MUSTER_EAGAIN;
  if (g == NULL && !c->has_user) {
    snprintf(err, errlen,
             "uid %u has no entry in the user database: give its gid too",
             (unsigned)c->uid);
    return MUSTER_EINVAL;
  }
  if (g == NULL)
    c->gid = c->user.gid;
  c->set_gid = 1;
  if (groups_known(c) == MUSTER_EAGAIN) {
    snprintf(err, errlen, "the user database has not answered yet");
    return MUSTER_EAGAIN;
  }
  const char *me;
  if (geteuid() != 0 && ((c->set_uid && c->uid != geteuid()) ||
                         (c->gid != getegid() && c->gid != getgid()))) {
    if (userdb_me(&me) == MUSTER_EAGAIN) { /* named in the refusal */
      snprintf(err, errlen, "the user database has not answered yet");
      return MUSTER_EAGAIN;
    }
    snprintf(err, errlen,
             "%s%s%s: EPERM (the daemon runs as %s, not root: it can start "
             "apps only as its own user and group)",
             u ? "uid" : "", u && g ? "/" : "", g ? "gid" : "", me);
    return MUSTER_EPERM;
  }
  return 0;
}
