#include "home.h"

#include <muster.h>
#include <muster/client.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, size_t size, const char *dir, const char *name) {
  int n = snprintf(out, size, "%s/%s", dir, name);
  return n < 0 || (size_t)n >= size ? MUSTER_ENAMETOOLONG : 0;
}

/* mkdir that accepts an existing directory, then checks what is there:
 * ours, a directory, writable. A home left group- or world-accessible by
 * hand is tightened, since the socket's safety rests on it. */
static int make_dir(const char *path) {
  if (mkdir(path, 0700) < 0 && errno != EEXIST)
    return -errno;
  struct stat st;
  if (stat(path, &st) < 0)
    return -errno;
  if (!S_ISDIR(st.st_mode))
    return MUSTER_ENOTDIR;
  if (st.st_uid != geteuid())
    return MUSTER_EPERM;
  if ((st.st_mode & 077) && chmod(path, st.st_mode & 0700) < 0)
    return -errno;
  /* Root passes access(W_OK) on a read-only mount only when it is not
   * one: try the real thing. */
  char probe[PATH_MAX];
  if (join(probe, sizeof probe, path, ".probe") < 0)
    return MUSTER_ENAMETOOLONG;
  int fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  close(fd);
  unlink(probe);
  return 0;
}

int home_init(home_t *h, int create, const char **what) {
  h->sock[0] = h->lock[0] = h->logs[0] = h->dump[0] = h->daemon_log[0] = '\0';
  if (what)
    *what = "MUSTER_HOME";
  int r = muster_client_home(h->dir, sizeof h->dir);
  if (r < 0)
    return r;
  if (what)
    *what = h->dir;
  if (join(h->sock, sizeof h->sock, h->dir, "daemon.sock") < 0 ||
      join(h->lock, sizeof h->lock, h->dir, "daemon.lock") < 0 ||
      join(h->logs, sizeof h->logs, h->dir, "logs") < 0 ||
      join(h->dump, sizeof h->dump, h->dir, "dump.json") < 0 ||
      join(h->daemon_log, sizeof h->daemon_log, h->dir, "daemon.log") < 0)
    return MUSTER_ENAMETOOLONG;
  if (!create)
    return 0;
  r = make_dir(h->dir);
  if (r < 0)
    return r;
  if (what)
    *what = h->logs;
  r = make_dir(h->logs);
  if (r < 0)
    return r;
  if (what)
    *what = NULL;
  return 0;
}

int home_daemon_pid(const home_t *h) {
  char buf[32];
  int fd = open(h->lock, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return atoi(buf);
}
