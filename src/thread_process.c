/* Process isolation: the worker as a forked process (src/thread_process.h).
 */
#include "thread_process.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "muster/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct muster__tproc_s {
  uv_loop_t *loop;
  pid_t pid;
  int pidfd;
  uv_poll_t poll;
  muster_channel_t *channel;
  muster__tproc_exit_cb on_exit;
  muster__tproc_close_cb on_close;
  muster_channel_disconnect_cb user_disconnect;
  void *data;
  int64_t code;
  int signal;
  unsigned exited : 1;   /* reaped */
  unsigned ended : 1;    /* the channel reached its end */
  unsigned reported : 1; /* on_exit was called */
};

/* ---- the worker's side --------------------------------------------------
 * Runs in the child after fork(). Only the forking thread exists there;
 * glibc's fork leaves malloc usable and libuv's threadpool restarts on
 * first use (its at-fork hook), so a loop of our own is safe. What must
 * not happen: touching the parent's loops (their epoll set is shared with
 * the parent: an epoll_ctl here would change the parent's), or a signal
 * handler of the parent's (libuv's writes to the parent loop's pipe)
 * running here. */

static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) != 0)
      continue;
    if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
      signal(sig, SIG_DFL);
  }
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void worker_main(const muster__tproc_options_t *o, int fd,
                        pid_t parent) {
  reset_signals();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1); /* the parent died before the line above */
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0)
    _exit(1);
  int code = o->entry(&loop, fd, o->arg);
  if (code == 0)
    uv_run(&loop, UV_RUN_DEFAULT);
  uv_walk(&loop, close_walk, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  fflush(NULL);
  /* _exit: the parent's atexit hooks are the parent's. */
  _exit(code < 0 ? -code & 0xff : code & 0xff);
}

/* ---- the parent's side ------------------------------------------------- */

/* Node's order: every message the worker sent, then exit. The pidfd can
 * turn readable before the channel's last bytes are read (both become
 * ready in the same loop turn, in either order), so on_exit waits for
 * both the exit and the channel's end. */
static void maybe_report(muster__tproc_t *p) {
  if (!p->exited || !p->ended || p->reported)
    return;
  p->reported = 1;
  if (p->on_exit != NULL)
    p->on_exit(p, p->code, p->signal);
}

static void on_exit_ready(uv_poll_t *h, int status, int events) {
  muster__tproc_t *p = h->data;
  siginfo_t info = {0};
  if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &info, WEXITED | WNOHANG) !=
          0 ||
      info.si_pid == 0)
    return;
  p->exited = 1;
  uv_poll_stop(&p->poll);
  p->code = info.si_code == CLD_EXITED ? info.si_status : -1;
  p->signal = info.si_code == CLD_EXITED ? 0 : info.si_status;
  maybe_report(p);
}

static void on_channel_end(muster_channel_t *ch, int reason) {
  muster__tproc_t *p = muster_channel_data(ch);
  p->ended = 1;
  if (p->user_disconnect != NULL)
    p->user_disconnect(ch, reason);
  maybe_report(p);
}

/* Kills and reaps a worker that will not be watched. */
static void reap_now(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

static void free_on_close(uv_handle_t *h) {
  muster__tproc_t *p = h->data;
  close(p->pidfd);
  if (p->on_close != NULL)
    p->on_close(p);
  free(p);
}

int muster__tproc_start(uv_loop_t *loop, const muster__tproc_options_t *o,
                        muster__tproc_t **out) {
  if (loop == NULL || o == NULL || o->entry == NULL || out == NULL)
    return MUSTER_EINVAL;
  muster__tproc_t *p = calloc(1, sizeof *p);
  if (p == NULL)
    return MUSTER_ENOMEM;
  int sv[2], err;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    err = -errno;
    free(p);
    return err;
  }
  /* Unwritten stdio buffers would be written twice, by both processes. */
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    worker_main(o, sv[1], parent);
  }
  err = pid < 0 ? -errno : 0;
  close(sv[1]);
  if (err != 0) {
    close(sv[0]);
    free(p);
    return err;
  }
  p->loop = loop;
  p->pid = pid;
  p->on_exit = o->on_exit;
  p->data = o->data;
  p->user_disconnect = o->channel.on_disconnect;
  muster_channel_options_t copt = o->channel;
  copt.data = p;
  copt.on_disconnect = on_channel_end;
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  err = p->pidfd < 0 ? -errno
                     : muster_channel_open(loop, sv[0], &copt, &p->channel);
  if (err != 0) {
    close(sv[0]);
    goto fail;
  }
  /* From here the channel owns sv[0]. */
  err = uv_poll_init(loop, &p->poll, p->pidfd);
  if (err != 0) {
    muster_channel_close(p->channel, NULL);
    goto fail;
  }
  p->poll.data = p;
  err = uv_poll_start(&p->poll, UV_READABLE, on_exit_ready);
  if (err != 0) {
    muster_channel_close(p->channel, NULL);
    reap_now(pid);
    uv_close((uv_handle_t *)&p->poll, free_on_close);
    return err;
  }
  *out = p;
  return 0;

fail:
  reap_now(pid);
  if (p->pidfd >= 0)
    close(p->pidfd);
  free(p);
  return err;
}

muster_channel_t *muster__tproc_channel(const muster__tproc_t *p) {
  return p->channel;
}

pid_t muster__tproc_pid(const muster__tproc_t *p) {
  return p->pid;
}

void *muster__tproc_data(const muster__tproc_t *p) {
  return p->data;
}

int muster__tproc_kill(muster__tproc_t *p, int signum) {
  if (p->exited)
    return MUSTER_ESRCH;
  if (syscall(SYS_pidfd_send_signal, p->pidfd, signum, NULL, 0) != 0)
    return -errno;
  return 0;
}

void muster__tproc_close(muster__tproc_t *p, muster__tproc_close_cb cb) {
  p->on_close = cb;
  p->on_exit = NULL;
  if (!p->exited) {
    /* Closing a running worker: kill it and reap it here; SIGKILL ends it
     * within a scheduler tick, and no zombie may outlive the object. */
    syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    siginfo_t info;
    /* uv_poll_init made the pidfd non-blocking, so waitid says EAGAIN
     * until the process is gone: wait for the pidfd to turn readable. */
    while (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &info, WEXITED) != 0 &&
           (errno == EINTR || errno == EAGAIN)) {
      struct pollfd pfd = {p->pidfd, POLLIN, 0};
      poll(&pfd, 1, -1);
    }
    p->exited = 1;
  }
  if (p->channel != NULL)
    muster_channel_close(p->channel, NULL);
  p->channel = NULL;
  uv_close((uv_handle_t *)&p->poll, free_on_close);
}
