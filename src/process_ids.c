/* muster_process_get*id, set*id, groups and NSS lookups (see
 * include/muster/process_ids.h). */
#include "muster/error.h"
#include "muster/process_ids.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

uid_t muster_process_getuid(void) {
  return getuid();
}
uid_t muster_process_geteuid(void) {
  return geteuid();
}
gid_t muster_process_getgid(void) {
  return getgid();
}
gid_t muster_process_getegid(void) {
  return getegid();
}

int muster_process_getgroups(gid_t *groups, size_t *count) {
  gid_t egid = getegid();
  gid_t *all;
  int n, has_egid = 0;

  if (count == NULL || (groups == NULL && *count > 0))
    return MUSTER_EINVAL;
  /* The list may change between the sizing call and the reading call
   * (another thread calling setgroups): retry when it grew. */
  for (;;) {
    n = getgroups(0, NULL);
    if (n < 0)
      return -errno;
    all = malloc(((size_t)n + 1) * sizeof *all);
    if (all == NULL)
      return MUSTER_ENOMEM;
    int got = getgroups(n, all);
    if (got >= 0) {
      n = got;
      break;
    }
    free(all);
    if (errno != EINVAL)
      return -errno;
  }
  for (int i = 0; i < n; i++)
    has_egid |= all[i] == egid;
  if (!has_egid)
    all[n++] = egid;
  if ((size_t)n > *count) {
    free(all);
    *count = (size_t)n;
    return MUSTER_ENOBUFS;
  }
  for (int i = 0; i < n; i++)
    groups[i] = all[i];
  *count = (size_t)n;
  free(all);
  return 0;
}

static int result(int r) {
  return r == 0 ? 0 : -errno;
}

int muster_process_setuid(uid_t uid) {
  return result(setuid(uid));
}
int muster_process_seteuid(uid_t uid) {
  return result(seteuid(uid));
}
int muster_process_setgid(gid_t gid) {
  return result(setgid(gid));
}
int muster_process_setegid(gid_t gid) {
  return result(setegid(gid));
}

/* The reentrant lookups want a buffer for the strings of the entry; its
 * size is a guess (sysconf's hint, often 1024) doubled on ERANGE. */
#define LOOKUP_BUF_MAX (1u << 20)

typedef int (*lookup_fn)(const char *name, void *entry, char *buf, size_t size,
                         void **found);

static int lookup(const char *name, lookup_fn fn, void *entry) {
  size_t size = 1024;
  void *found = NULL;
  int r;

  if (name == NULL || name[0] == '\0')
    return MUSTER_EINVAL;
  for (;;) {
    char *buf = malloc(size);
    if (buf == NULL)
      return MUSTER_ENOMEM;
    r = fn(name, entry, buf, size, &found);
    free(buf); /* the caller reads only the numeric id */
    if (r != ERANGE || size >= LOOKUP_BUF_MAX)
      break;
    size *= 2;
  }
  if (r != 0)
    return -r;
  return found != NULL ? 0 : MUSTER_ENOENT;
}

static int pw_fn(const char *name, void *entry, char *buf, size_t size,
                 void **found) {
  return getpwnam_r(name, entry, buf, size, (struct passwd **)found);
}

static int gr_fn(const char *name, void *entry, char *buf, size_t size,
                 void **found) {
  return getgrnam_r(name, entry, buf, size, (struct group **)found);
}

int muster_process_user_id(const char *user, uid_t *out) {
  struct passwd pw;
  int r;

  if (out == NULL)
    return MUSTER_EINVAL;
  r = lookup(user, pw_fn, &pw);
  if (r == 0)
    *out = pw.pw_uid;
  return r;
}

int muster_process_group_id(const char *group, gid_t *out) {
  struct group gr;
  int r;

  if (out == NULL)
    return MUSTER_EINVAL;
  r = lookup(group, gr_fn, &gr);
  if (r == 0)
    *out = gr.gr_gid;
  return r;
}

int muster_process_setuid_name(const char *user) {
  uid_t id;
  int r = muster_process_user_id(user, &id);
  return r != 0 ? r : muster_process_setuid(id);
}

int muster_process_seteuid_name(const char *user) {
  uid_t id;
  int r = muster_process_user_id(user, &id);
  return r != 0 ? r : muster_process_seteuid(id);
}

int muster_process_setgid_name(const char *group) {
  gid_t id;
  int r = muster_process_group_id(group, &id);
  return r != 0 ? r : muster_process_setgid(id);
}

int muster_process_setegid_name(const char *group) {
  gid_t id;
  int r = muster_process_group_id(group, &id);
  return r != 0 ? r : muster_process_setegid(id);
}

int muster_process_setgroups(const gid_t *groups, size_t count) {
  if ((groups == NULL && count > 0) || count > NGROUPS_MAX)
    return MUSTER_EINVAL;
  return result(setgroups(count, groups));
}

int muster_process_initgroups(const char *user, gid_t extra_group) {
  uid_t uid;
  int r;

  /* initgroups(3) does not say "no such user": it sets just extra_group.
   * Look the user up first so a typo is an error, as in Node. */
  r = muster_process_user_id(user, &uid);
  if (r != 0)
    return r;
  return result(initgroups(user, extra_group));
}
