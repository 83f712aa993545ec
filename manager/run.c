/* `muster __run <daemon pid>[:<uid>:<gid>] <file> <argv0> [args...]`: the
 * exec trampoline every app process starts as. It takes the app's user and
 * group when asked, arranges that the app dies with the daemon, then
 * becomes the app.
 *
 * libmuster spawns with posix_spawn, which has no hook between fork and
 * exec for prctl(PR_SET_PDEATHSIG); this small step provides it, at the
 * cost of one extra exec. The parent-death signal reaches the app's main
 * process (SIGKILL, so the app cannot ignore it); processes it started
 * itself, in its group, are not covered (the kernel clears the setting in
 * a fork): the daemon kills the whole group on every stop, and after a
 * kill -9 of the daemon its successor ends the group (daemon/groups.c).
 * The check of getppid() covers a daemon that died before the prctl.
 *
 * User and group (the spec's uid/gid, checked by the daemon first): the
 * supplementary groups of the user (initgroups; only the gid for a uid
 * without a user entry, or when only the gid changes), then the gid, then
 * the uid, so that nothing of root's is kept. That comes before the prctl:
 * a change of credentials clears the parent-death signal. "-" for the uid
 * keeps it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int run_main(int argc, char **argv);

static int number(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  *out = strtoul(s, &end, 10);
  if (*s < '0' || *s > '9' || *end != '\0' || errno || *out >= 0xffffffffUL) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

static int become(const char *uid_s, const char *gid_s) {
  unsigned long u = 0, g;
  if (number(gid_s, &g) < 0 ||
      (strcmp(uid_s, "-") != 0 && number(uid_s, &u) < 0))
    return -1;
  gid_t gid = (gid_t)g;
  uid_t uid = (uid_t)u;
  struct passwd *pw = strcmp(uid_s, "-") != 0 ? getpwuid(uid) : NULL;
  if (pw ? initgroups(pw->pw_name, gid) < 0 : setgroups(1, &gid) < 0)
    return -1;
  if (setgid(gid) < 0)
    return -1;
  if (strcmp(uid_s, "-") != 0 && setuid(uid) < 0)
    return -1;
  return 0;
}

int run_main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "muster __run: for the daemon's use only\n");
    return 2;
  }
  char *end;
  pid_t daemon = (pid_t)strtol(argv[2], &end, 10);
  if (*end == ':') {
    char *uid = end + 1, *gid = strchr(uid, ':');
    if (gid == NULL) {
      fprintf(stderr, "muster __run: for the daemon's use only\n");
      return 2;
    }
    *gid++ = '\0';
    if (become(uid, gid) < 0) {
      fprintf(stderr, "muster: cannot run as uid %s gid %s: %s\n", uid, gid,
              strerror(errno));
      return 127;
    }
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != daemon)
    return 128 + SIGKILL;
  execvp(argv[3], &argv[4]);
  fprintf(stderr, "muster: cannot run %s: %s\n", argv[3], strerror(errno));
  return 127;
}
