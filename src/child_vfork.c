/* muster__child_vfork(): what runs between fork and exec, written by us.
 *
 * Why not glibc's posix_spawn() any more: it has no attribute for
 * prctl(PR_SET_PDEATHSIG) nor for a change of user and groups, so a
 * process manager that wants its apps to die with it, as another user,
 * had to start each app through an exec trampoline (one more exec, with
 * its dynamic loading: milliseconds per start). This file does what
 * posix_spawn() did for us (docs/child.md has the table) plus those.
 *
 * How, and the rules (git's run-command.c banner applies here):
 *
 *   vfork()  The child borrows the parent's memory and the calling
 *            thread waits until it has exec'd or exited, as glibc's
 *            posix_spawn() does with clone(CLONE_VM | CLONE_VFORK): no
 *            page tables copied, whatever the parent's size. The child
 *            runs child_main() on the stack below the caller's frame and
 *            never returns from it. (Under ThreadSanitizer, whose vfork()
 *            is a fork(), the same code runs in a copy: nothing below
 *            depends on sharing the memory.)
 *
 *   BANNER: in the child only raw system calls (syscall(2)). No malloc,
 *   no stdio, no libc wrapper that keeps state: the memory is the
 *   parent's. That rules out glibc's setuid()/setgid()/setgroups() in
 *   particular: in a multithreaded process they signal every thread of
 *   the thread list to change its ids too (the "setxid broadcast"), and
 *   that list is the parent's: the parent's threads would be the ones
 *   changed. The raw setresuid()/setresgid()/setgroups() change only the
 *   calling process. Looking a user's groups up (NSS) is the caller's job,
 *   in the parent. No function here is instrumented by a sanitizer
 *   (NO_INSTRUMENT): an instrumented call would write the runtime's shadow
 *   memory or thread state, which are the parent's too.
 *
 *   Signals. All are blocked in the parent thread around vfork(), so no
 *   handler of the parent runs in the child on its memory (a libuv signal
 *   handler would write to the parent's signal pipe). The child sets every
 *   signal that has a handler back to SIG_DFL, and 1-31 whatever they
 *   were (libuv's child does that, and the old posix_spawn attributes did),
 *   then unblocks all just before execve(). A signal that arrives in
 *   between gets its default action, as it would after the exec.
 *
 *   Errors. The child writes errno of the failed step to a close-on-exec
 *   pipe and exits 127; the parent reads the pipe, which reaches end of
 *   file at the exec. (With a true vfork the parent reads after the child
 *   is done either way; under a fork it blocks until then.) A failed
 *   child is reaped before returning, so nothing is left.
 *
 * The order in the child: signal dispositions, session or group, the
 * stdio slots, closing every other fd, the cwd, groups/gid/uid (last, so
 * the steps before still have the parent's rights, as in libuv), the
 * parent-death signal (after the ids: a change of credentials clears it),
 * the signal mask, execve().
 */
#include "child_vfork.h"

#include <muster/error.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

/* The kernel's struct sigaction starts with the handler on these, and the
 * rest may be zero (flags, restorer where there is one, mask). */
#if defined(__linux__) &&                                                      \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) ||       \
     defined(__arm__) || defined(__riscv) || defined(__powerpc__) ||           \
     defined(__s390__))
#define HAVE_VFORK 1
#endif

#ifdef HAVE_VFORK

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture */
#endif

/* 16-bit ids on the old 32-bit calls of these architectures. */
#ifdef SYS_setresuid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#define SYS_SETGROUPS SYS_setgroups
#endif

/* The kernel's signal numbers: 1 .. KERNEL_NSIG-1; its sigset is 8 bytes. */
#define KERNEL_NSIG 65
#define KERNEL_SIGSET 8

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define NO_INSTRUMENT __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef NO_INSTRUMENT
#define NO_INSTRUMENT                                                          \
  __attribute__((no_sanitize("address", "thread", "undefined")))
#endif
#define CHILD_FN static NO_INSTRUMENT

int muster__child_vfork_usable(void) {
  return 1;
}

/* What the child reads besides the request. */
typedef struct {
  const child_vfork_req_t *req;
  pid_t parent;
  int errfd; /* write end of the error pipe, >= nslots, close-on-exec */
} child_arg_t;

/* The kernel's struct sigaction, as far as we use it: the handler first,
 * all else zero. Bigger than any architecture's, so a read fits. */
typedef struct {
  uintptr_t handler;
  unsigned long rest[4];
} ksigaction_t;

CHILD_FN int reset_signals(void) {
  for (int sig = 1; sig < KERNEL_NSIG; sig++) {
    ksigaction_t dfl, old;
    if (sig == SIGKILL || sig == SIGSTOP)
      continue;
    dfl.handler = (uintptr_t)SIG_DFL;
    for (int i = 0; i < 4; i++)
      dfl.rest[i] = old.rest[i] = 0;
    if (sig >= 32) {
      old.handler = (uintptr_t)SIG_DFL;
      if (syscall(SYS_rt_sigaction, sig, NULL, &old, KERNEL_SIGSET) != 0)
        continue; /* EINVAL: not a signal of this kernel */
      if (old.handler == (uintptr_t)SIG_DFL ||
          old.handler == (uintptr_t)SIG_IGN)
        continue;
    }
    if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, KERNEL_SIGSET) != 0)
      return errno;
  }
  return 0;
}

/* /dev/null on `slot` (0-2). */
CHILD_FN int open_null(int slot) {
  long fd =
      syscall(SYS_openat, AT_FDCWD, "/dev/null", slot == 0 ? O_RDONLY : O_RDWR);
  if (fd < 0)
    return errno;
  if (fd == slot)
    return 0;
  if (syscall(SYS_dup3, fd, slot, 0) < 0)
    return errno;
  syscall(SYS_close, fd);
  return 0;
}

CHILD_FN int set_slots(const child_vfork_req_t *r) {
  for (int i = 0; i < r->spawn->nslots; i++) {
    int src = r->src[i], e = 0;
    if (src == CHILD_VFORK_KEEP)
      continue;
    if (src == CHILD_VFORK_NULL && i >= 3)
      syscall(SYS_close, i);
    else if (src == CHILD_VFORK_NULL)
      e = open_null(i);
    else if (src == i) /* already there: only the flag, as dup2 would */
      e = syscall(SYS_fcntl, i, F_SETFD, 0) < 0 ? errno : 0;
    else
      e = syscall(SYS_dup3, src, i, 0) < 0 ? errno : 0;
    if (e != 0)
      return e;
  }
  return 0;
}

/* close(from .. to), by the range when the kernel has it (5.9). */
CHILD_FN void close_fds(unsigned from, unsigned to) {
  struct {
    uint64_t cur, max;
  } rl; /* the kernel's struct rlimit64 */
  if (from > to || syscall(SYS_close_range, from, to, 0) == 0)
    return;
  if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) != 0)
    rl.cur = 65536;
  for (uint64_t fd = from; fd <= to && fd < rl.cur; fd++)
    syscall(SYS_close, (long)fd);
}

/* Supplementary groups, then the gid, then the uid: once the uid has
 * changed, the rest could no longer be changed. Without a list, a child
 * whose ids change drops the parent's groups when it may (root), as
 * libuv's child does: a failure there is not an error. */
CHILD_FN int set_ids(const child_spawn_req_t *r) {
  if (r->flags & MUSTER_SPAWN_SETGROUPS) {
    if (syscall(SYS_SETGROUPS, r->ngroups, r->groups) != 0)
      return errno;
  } else if (r->flags & (MUSTER_SPAWN_SETUID | MUSTER_SPAWN_SETGID)) {
    syscall(SYS_SETGROUPS, 0, NULL);
  }
  if ((r->flags & MUSTER_SPAWN_SETGID) &&
      syscall(SYS_SETRESGID, r->gid, r->gid, r->gid) != 0)
    return errno;
  if ((r->flags & MUSTER_SPAWN_SETUID) &&
      syscall(SYS_SETRESUID, r->uid, r->uid, r->uid) != 0)
    return errno;
  return 0;
}

/* The parent-death signal. A parent that died before the prctl is not
 * seen by it: then the child sends the signal to itself, and it is
 * delivered when the mask is lifted (SIGKILL at once). */
CHILD_FN int set_death_signal(const child_arg_t *a) {
  int sig = a->req->spawn->death_signal;
  if (sig == 0)
    return 0;
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0)
    return errno;
  if (syscall(SYS_getppid) != a->parent)
    syscall(SYS_kill, syscall(SYS_getpid), sig);
  return 0;
}

CHILD_FN int setup(const child_arg_t *a) {
  const child_spawn_req_t *r = a->req->spawn;
  int e = reset_signals();
  if (e == 0 && (r->flags & MUSTER_SPAWN_DETACHED))
    e = syscall(SYS_setsid) < 0 ? errno : 0;
  else if (e == 0 && (r->flags & MUSTER_SPAWN_PROCESS_GROUP))
    e = syscall(SYS_setpgid, 0, 0) != 0 ? errno : 0;
  if (e == 0)
    e = set_slots(a->req);
  if (e != 0)
    return e;
  close_fds((unsigned)r->nslots, (unsigned)a->errfd - 1);
  close_fds((unsigned)a->errfd + 1, ~0U);
  if (r->cwd != NULL && syscall(SYS_chdir, r->cwd) != 0)
    return errno;
  e = set_ids(r);
  if (e == 0)
    e = set_death_signal(a);
  return e;
}

/* Never returns: it execs or exits. noinline: it must have a frame of its
 * own below the vfork() caller's, never spill into that one. */
__attribute__((noinline, noreturn)) CHILD_FN void child_main(child_arg_t *a) {
  const child_vfork_req_t *r = a->req;
  uint64_t none = 0;
  int e = setup(a);
  if (e == 0) {
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, KERNEL_SIGSET);
    syscall(SYS_execve, r->path, r->args, r->spawn->env);
    e = errno;
  }
  syscall(SYS_write, a->errfd, &e, sizeof e);
  for (;;)
    syscall(SYS_exit_group, 127);
}

/* ---- the parent --------------------------------------------------------- */

/* The error pipe, its write end moved to an fd the child's slots and
 * their close do not touch. */
static int error_pipe(int fds[2], int nslots) {
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -errno;
  if (fds[1] >= nslots)
    return 0;
  int fd = fcntl(fds[1], F_DUPFD_CLOEXEC, nslots);
  int e = errno;
  close(fds[1]);
  if (fd < 0) {
    close(fds[0]);
    return -e;
  }
  fds[1] = fd;
  return 0;
}

/* The vfork() alone in a frame of its own: the child leaves through
 * child_main(), below this frame, and never returns here; the parent finds
 * the frame as it left it. */
__attribute__((noinline)) static pid_t start_child(child_arg_t *a) {
  pid_t child = vfork();
  if (child == 0)
    child_main(a);
  return child;
}

int muster__child_vfork(const child_vfork_req_t *req, pid_t *pid) {
  child_arg_t a;
  sigset_t all, old;
  int fds[2], err = 0, e;
  ssize_t n;

  e = error_pipe(fds, req->spawn->nslots);
  if (e < 0)
    return e;
  a.req = req;
  a.parent = getpid();
  a.errfd = fds[1];
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t child = start_child(&a);
  e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(fds[1]);
  if (child < 0) {
    close(fds[0]);
    return -e;
  }
  do
    n = read(fds[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == (ssize_t)sizeof err) {
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
      ;
    return err > 0 ? -err : MUSTER_EIO;
  }
  *pid = child;
  return 0;
}

#else /* !HAVE_VFORK */

int muster__child_vfork_usable(void) {
  return 0;
}

int muster__child_vfork(const child_vfork_req_t *req, pid_t *pid) {
  (void)req;
  (void)pid;
  return MUSTER_ENOSYS;
}

#endif
