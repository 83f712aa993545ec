/* MUSTER_HOME: where the daemon keeps its lock, socket, logs and dump.
 * Shared by the CLI and the daemon. */
#ifndef MANAGER_HOME_H
#define MANAGER_HOME_H

#include <limits.h>
#include <sys/un.h>

typedef struct {
  char dir[PATH_MAX];
  char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char lock[PATH_MAX];
  char logs[PATH_MAX];
  char dump[PATH_MAX];
  char daemon_log[PATH_MAX];
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
