/* The Linux spawn backend: our own vfork() spawn (child_vfork.c), and a
 * pidfd polled on the loop to learn of the exit.
 *
 * Why (docs/benchmarks.md, "spawn"): libuv 1.44's uv_spawn() fork()s, which
 * copies the parent's page tables and takes copy-on-write faults on both
 * sides, and wraps the fork in ~25 syscalls (its SIGCHLD handler installed
 * again for every spawn, an exec-error pipe). A vfork() shares the
 * parent's memory until the exec, as glibc's posix_spawn() does (this
 * backend used it until it needed a parent-death signal and a change of
 * ids, which posix_spawn() cannot express); a pidfd (Linux 5.3) becomes
 * readable when the process exits, with no signal and no handler involved.
 *
 * What uv_spawn() does in the child, and how it is done here (the child's
 * half is in child_vfork.c):
 *   stdio slots      dup3() onto each slot; for an fd already in place its
 *                    close-on-exec flag is cleared, as libuv does; IGNORE
 *                    is /dev/null on 0-2 and closed above
 *   every other fd   closed: close_range(nslots, ~0) (Linux 5.9; a loop
 *                    before). The atfork hook of child_spawn_uv.c is not
 *                    needed here, and would not run anyway: vfork() skips
 *                    atfork handlers
 *   O_NONBLOCK off   on slots 0-2; done on the source in the parent, which
 *                    shares the open file description with the child's copy
 *                    (libuv changes that same description from the child)
 *   cwd              chdir()
 *   detached         setsid()
 *   process group    setpgid(0, 0) (uv_spawn(): the atfork hook)
 *   signals          dispositions 1-31 (and any other with a handler) to
 *                    default and an empty mask, as libuv's child does
 *   uid, gid         setgroups(), setresgid(), setresuid(), raw (libuv:
 *                    setgroups(0), setgid(), setuid())
 *   PATH search      on the *child's* PATH (libuv sets environ, then
 *                    execvp()); we search ourselves, in the parent, and
 *                    pass the full path
 * plus what uv_spawn() cannot do: MUSTER_SPAWN_SETGROUPS and death_signal.
 * The exit is reported through the child_exit_fn the caller gave
 * (child_spawn.h): this file never names the child object.
 *
 * Reaping: waitpid() of exactly our pid once the pidfd is readable. No
 * SIGCHLD handler is installed and waitpid(-1) is never called, so libuv's
 * own handler (installed if the application or our fallback uses
 * uv_spawn()) keeps reaping only its own pids, and never sees ours.
 */
#include "child_spawn.h"
#include "child_vfork.h"

#include <muster/error.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && defined(SYS_pidfd_open) &&                           \
    defined(SYS_pidfd_send_signal)
#define HAVE_POSIX_BACKEND 1
#include <sys/wait.h>
#endif

#ifdef HAVE_POSIX_BACKEND

/* What execvp() searches when the environment has no PATH (glibc's
 * confstr(_CS_PATH)). */
#define DEFAULT_PATH "/bin:/usr/bin"

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int pidfd_ok;

static void probe(void) {
  const char *forced = getenv("MUSTER_SPAWN_BACKEND");
  if ((forced != NULL && strcmp(forced, "uv") == 0) ||
      !muster__child_vfork_usable())
    return;
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd >= 0) {
    close(fd);
    pidfd_ok = 1;
    return;
  }
  /* ENOSYS: before Linux 5.3 (or valgrind); EPERM: a seccomp filter. Any
   * other error (EMFILE) says the call exists. */
  pidfd_ok = errno != ENOSYS && errno != EPERM;
}

int muster__child_spawn_posix_usable(void) {
  pthread_once(&probe_once, probe);
  return pidfd_ok;
}

/* ---- the PATH search ---------------------------------------------------- */

static const char *child_path(char *const *env) {
  for (; env != NULL && *env != NULL; env++)
    if (strncmp(*env, "PATH=", 5) == 0)
      return *env + 5;
  return DEFAULT_PATH;
}

/* 0 if execve() of `path` could succeed; else the error that makes
 * execvp() go on to the next directory or stop. */
static int check_exec(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode))
    return MUSTER_EACCES; /* what execve() says for a directory */
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) != 0)
    return -errno;
  return 0;
}

/* The errors on which execvp() tries the next PATH entry (EACCES too, but
 * it is remembered). */
static int search_goes_on(int err) {
  return err == MUSTER_ENOENT || err == MUSTER_ENOTDIR || err == -ESTALE ||
         err == -ENODEV || err == MUSTER_ETIMEDOUT;
}

/* Searches `file` (no '/') on the child's PATH as glibc's execvp() does:
 * each entry in order, an empty entry meaning the current directory;
 * EACCES is remembered and the search goes on; it ends with EACCES if one
 * was seen, else ENOENT. The child runs in `cwd`, so a relative entry is
 * checked from there. On success *out (free it) holds the path to check,
 * and *out + *spawn_off the same path as the child, after its chdir, must
 * see it. */
static int search_path(const char *file, char *const *env, const char *cwd,
                       char **out, size_t *spawn_off) {
  const char *path = child_path(env);
  size_t flen = strlen(file), clen = cwd != NULL ? strlen(cwd) : 0;
  int eacces = 0;
  char *buf = malloc(clen + 1 + strlen(path) + 1 + flen + 1);
  if (buf == NULL)
    return MUSTER_ENOMEM;
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p), off = 0;
    if (cwd != NULL && (dlen == 0 || *p != '/')) {
      memcpy(buf, cwd, clen);
      buf[clen] = '/';
      off = clen + 1;
    }
    char *q = buf + off;
    memcpy(q, p, dlen);
    q += dlen;
    if (dlen > 0)
      *q++ = '/';
    memcpy(q, file, flen + 1);
    int r = check_exec(buf);
    if (r == 0) {
      *out = buf;
      *spawn_off = off;
      return 0;
    }
    if (r == MUSTER_EACCES) {
      eacces = 1;
    } else if (!search_goes_on(r)) {
      free(buf);
      return r;
    }
    if (*end == '\0')
      break;
    p = end;
  }
  free(buf);
  return eacces ? MUSTER_EACCES : MUSTER_ENOENT;
}

/* ---- the request for child_vfork.c ------------------------------------- */

/* A source fd that is also the target of another slot (say slot 0 gets
 * the parent's fd 1 and slot 1 its fd 0) would be overwritten by an
 * earlier dup before it is read: libuv works around that in its child.
 * Here, such a source is first copied, in the parent, to an fd >= nslots,
 * which no slot targets; the copy is O_CLOEXEC and closed after the
 * spawn. `moved` gets those copies. */
static int setup_fds(child_vfork_req_t *v, const child_spawn_req_t *req,
                     int *moved, int *nmoved) {
  int n = req->nslots;
  for (int i = 0; i < n; i++) {
    int src = req->fds[i];
    v->src[i] = CHILD_VFORK_NULL;
    if (src < 0)
      continue;
    if (i < 3 && (req->shared & (1u << i))) { /* ours are blocking */
      int fl = fcntl(src, F_GETFL);
      if (fl < 0)
        return -errno;
      if ((fl & O_NONBLOCK) && fcntl(src, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return -errno;
    }
    if (src == i && fcntl(src, F_GETFD) < 0) {
      v->src[i] = CHILD_VFORK_KEEP; /* inherit a closed fd: closed in the
                                       child, as in libuv */
      continue;
    }
    if (src < n && src != i) {
      int fd = fcntl(src, F_DUPFD_CLOEXEC, n);
      if (fd < 0)
        return -errno;
      moved[(*nmoved)++] = fd;
      src = fd;
    }
    v->src[i] = src;
  }
  return 0;
}

/* execvp() runs a file the kernel cannot execute (ENOEXEC: a script with
 * no #! line) with /bin/sh; so does uv_spawn(), so we do too. */
static int spawn_sh(pid_t *pid, child_vfork_req_t *v) {
  size_t n = 0;
  char *const *args = v->args;
  while (args[n] != NULL)
    n++;
  char **sh = malloc((n + 2) * sizeof *sh);
  if (sh == NULL)
    return MUSTER_ENOMEM;
  sh[0] = "/bin/sh";
  sh[1] = (char *)v->path;
  for (size_t i = 1; i <= n; i++)
    sh[i + 1] = args[i];
  v->path = "/bin/sh";
  v->args = sh;
  int r = muster__child_vfork(v, pid);
  free(sh);
  return r;
}

static int start(pid_t *pid, const char *path, const child_spawn_req_t *req) {
  child_vfork_req_t v;
  int moved[MUSTER_STDIO_MAX], nmoved = 0;
  v.spawn = req;
  v.path = path;
  v.args = req->args;
  int r = setup_fds(&v, req, moved, &nmoved);
  if (r == 0)
    r = muster__child_vfork(&v, pid);
  if (r == -ENOEXEC)
    r = spawn_sh(pid, &v);
  for (int i = 0; i < nmoved; i++)
    close(moved[i]);
  return r;
}

/* ---- the exit ----------------------------------------------------------- */

static void pidfd_cb(uv_poll_t *h, int status, int events) {
  child_spawn_posix_t *sp = h->data;
  int64_t exit_status = 0;
  int term_signal = 0;
  int ws = 0;
  pid_t r;
  do
    r = waitpid(sp->pid, &ws, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) {
    /* Not exited after all. libuv stops a poll that reports an error. */
    if (status < 0)
      uv_poll_start(h, UV_READABLE, pidfd_cb);
    return;
  }
  uv_poll_stop(h);
  /* r < 0 is ECHILD: someone reaped it behind our back (SIGCHLD set to
   * SIG_IGN, or a waitpid(-1) elsewhere). It did exit; how is unknown. */
  if (r > 0 && WIFEXITED(ws))
    exit_status = WEXITSTATUS(ws);
  if (r > 0 && WIFSIGNALED(ws))
    term_signal = WTERMSIG(ws);
  sp->exited(sp->arg, exit_status, term_signal);
}

/* A process we cannot watch must not outlive the failed call. */
static void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

int muster__child_spawn_posix(child_spawn_posix_t *sp, uv_loop_t *loop,
                              const child_spawn_req_t *req,
                              child_exit_fn exited, void *arg,
                              int *watch_inited) {
  char *found = NULL;
  const char *path = req->file;
  pid_t pid;
  int r;

  *watch_inited = 0;
  if (strchr(req->file, '/') == NULL) {
    size_t off = 0;
    r = search_path(req->file, req->env, req->cwd, &found, &off);
    if (r < 0) {
      /* uv_spawn()'s child fails at chdir() before it searches. */
      struct stat st;
      if (req->cwd != NULL && stat(req->cwd, &st) != 0)
        r = -errno;
      return r;
    }
    path = found + off;
  }
  r = start(&pid, path, req);
  free(found);
  if (r < 0)
    return r;

  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* always O_CLOEXEC */
  if (pidfd < 0) {
    r = -errno;
    kill_and_reap(pid);
    return r;
  }
  /* A failed uv_poll_init() leaves nothing to close. */
  r = uv_poll_init(loop, &sp->poll, pidfd);
  if (r < 0) {
    close(pidfd);
    kill_and_reap(pid);
    return r;
  }
  sp->poll.data = sp;
  sp->pidfd = pidfd;
  sp->exited = exited;
  sp->arg = arg;
  *watch_inited = 1;
  r = uv_poll_start(&sp->poll, UV_READABLE, pidfd_cb);
  if (r < 0) {
    kill_and_reap(pid); /* the caller closes the handle and the pidfd */
    return r;
  }
  sp->pid = pid;
  return 0;
}

int muster__child_spawn_posix_kill(child_spawn_posix_t *sp, int signum) {
  if (syscall(SYS_pidfd_send_signal, sp->pidfd, signum, NULL, 0) != 0)
    return -errno;
  return 0;
}

#else /* !HAVE_POSIX_BACKEND */

int muster__child_spawn_posix_usable(void) {
  return 0;
}

int muster__child_spawn_posix(child_spawn_posix_t *sp, uv_loop_t *loop,
                              const child_spawn_req_t *req,
                              child_exit_fn exited, void *arg,
                              int *watch_inited) {
  *watch_inited = 0;
  return MUSTER_ENOSYS;
}

int muster__child_spawn_posix_kill(child_spawn_posix_t *sp, int signum) {
  return MUSTER_ENOSYS;
}

#endif
