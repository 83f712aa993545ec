/* MUSTER_HOME: where the daemon keeps its lock, socket, logs and dump.
 * Shared by the CLI and the daemon. */
#ifndef MANAGER_HOME_H
#define MANAGER_HOME_H

#include <limits.h>
#include <sys/un.h>

/* A path in the home is the home's path, a slash and a name no longer than
 * "daemon.sock"; the socket's must fit in a socket address, so all do. */
#define HOME_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* Short paths first and the long one last, so that filling a home_t on the
 * stack touches one page, not six: a command-line call pays for each. */
typedef struct {
  char sock[HOME_PATH_MAX];
  char lock[HOME_PATH_MAX];
  char logs[HOME_PATH_MAX];
  char dump[HOME_PATH_MAX];
  char daemon_log[HOME_PATH_MAX];
  char dir[PATH_MAX]; /* the home itself: too long for a socket is an
                         error, reported with the path */
} home_t;

/* Resolves the home (muster_client_home) and the paths in it. With
 * `create`, makes the directory (mode 0700; only the last component) and
 * its logs/ folder, and checks that it is a directory we may write.
 * Returns 0 or a negative error; *what (when not NULL) then names the
 * path that failed. */
int home_init(home_t *h, int create, const char **what);

/* The pid written in the lock file by the daemon holding it, or 0. */
int home_daemon_pid(const home_t *h);

#endif
