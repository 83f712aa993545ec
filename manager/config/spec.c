#include "spec.h"

#include <muster.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
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

/* A user or group attribute: its number, or the entry of its name. */
static int user_of(const json_t *v, struct passwd **pw, uid_t *uid) {
  if (json_is_integer(v)) {
    *uid = (uid_t)json_integer_value(v);
    *pw = getpwuid(*uid);
    return 0;
  }
  *pw = getpwnam(json_string_value(v));
  if (*pw == NULL)
    return MUSTER_ENOENT;
  *uid = (*pw)->pw_uid;
  return 0;
}

static int group_of(const json_t *v, gid_t *gid) {
  if (json_is_integer(v)) {
    *gid = (gid_t)json_integer_value(v);
    return 0;
  }
  struct group *gr = getgrnam(json_string_value(v));
  if (gr == NULL)
    return MUSTER_ENOENT;
  *gid = gr->gr_gid;
  return 0;
}

int spec_credentials(const json_t *spec, spec_cred_t *c, char *err,
                     size_t errlen) {
  json_t *u = json_object_get(spec, "uid"), *g = json_object_get(spec, "gid");
  struct passwd *pw = NULL;
  memset(c, 0, sizeof *c);
  if (u == NULL && g == NULL)
    return 0;
  if (u && user_of(u, &pw, &c->uid) < 0) {
    snprintf(err, errlen, "uid: no user named \"%s\"", json_string_value(u));
    return MUSTER_EINVAL;
  }
  c->set_uid = u != NULL;
  if (g && group_of(g, &c->gid) < 0) {
    snprintf(err, errlen, "gid: no group named \"%s\"", json_string_value(g));
    return MUSTER_EINVAL;
  }
  if (g == NULL && pw == NULL) {
    snprintf(err, errlen,
             "uid %u has no entry in the user database: give its gid too",
             (unsigned)c->uid);
    return MUSTER_EINVAL;
  }
  if (g == NULL)
    c->gid = pw->pw_gid;
  c->set_gid = 1;
  if (geteuid() != 0 && ((c->set_uid && c->uid != geteuid()) ||
                         (c->gid != getegid() && c->gid != getgid()))) {
    struct passwd *me = getpwuid(geteuid());
    snprintf(err, errlen,
             "%s%s%s: EPERM (the daemon runs as %s, not root: it can start "
             "apps only as its own user and group)",
             u ? "uid" : "", u && g ? "/" : "", g ? "gid" : "",
             me ? me->pw_name : "another user");
    return MUSTER_EPERM;
  }
  return 0;
}
