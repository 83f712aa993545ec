/* muster_signal_*: signal subscriptions delivered on a loop (see
 * include/muster/process.h).
 *
 * Each subscription is one uv_signal_t. libuv already does the hard parts:
 * its process-wide handler only writes to a pipe that each loop reads, it
 * calls every handle registered for the signal on every loop, and it puts
 * the default action back when the last handle for a signal stops. So
 * there is no table of subscribers here, and no state outside the objects. */
#include "muster/error.h"
#include "muster/process.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct muster_signal_s {
  uv_signal_t handle;
  muster_signal_cb cb;
  muster_signal_close_cb close_cb;
  void *data;
};

static int signal_allowed(int signum) {
  switch (signum) {
  case SIGINT:
  case SIGTERM:
  case SIGHUP:
  case SIGQUIT:
  case SIGUSR1:
  case SIGUSR2:
  case SIGWINCH:
    return 1;
  default:
    return 0;
  }
}

static void on_signal(uv_signal_t *handle, int signum) {
  muster_signal_t *sig = handle->data;
  sig->cb(sig, signum);
}

static void free_handle(uv_handle_t *handle) {
  free(handle->data);
}

int muster_signal_subscribe(uv_loop_t *loop, int signum, muster_signal_cb cb,
                            void *data, muster_signal_t **out) {
  muster_signal_t *sig;
  int r;

  if (out != NULL)
    *out = NULL;
  if (loop == NULL || cb == NULL || out == NULL || !signal_allowed(signum))
    return MUSTER_EINVAL;
  sig = calloc(1, sizeof *sig);
  if (sig == NULL)
    return MUSTER_ENOMEM;
  r = uv_signal_init(loop, &sig->handle);
  if (r != 0) {
    /* uv_signal_init only fails before the handle is linked to the loop. */
    free(sig);
    return r;
  }
  sig->handle.data = sig;
  sig->cb = cb;
  sig->data = data;
  /* Node unreferences its signal wraps: a listener alone does not keep a
   * program running. Unref before start so there is no moment where the
   * handle is both active and counted. */
  uv_unref((uv_handle_t *)&sig->handle);
  r = uv_signal_start(&sig->handle, on_signal, signum);
  if (r != 0) {
    /* The handle is on the loop now; it can only be freed after close.
     * Nothing calls back into the user: close_cb stays NULL. */
    uv_close((uv_handle_t *)&sig->handle, free_handle);
    return r;
  }
  *out = sig;
  return 0;
}

static void on_close(uv_handle_t *handle) {
  muster_signal_t *sig = handle->data;
  if (sig->close_cb != NULL)
    sig->close_cb(sig);
  free(sig);
}

void muster_signal_close(muster_signal_t *sig, muster_signal_close_cb cb) {
  if (sig == NULL || uv_is_closing((uv_handle_t *)&sig->handle))
    return;
  sig->close_cb = cb;
  uv_close((uv_handle_t *)&sig->handle, on_close);
}

void muster_signal_ref(muster_signal_t *sig) {
  uv_ref((uv_handle_t *)&sig->handle);
}

void muster_signal_unref(muster_signal_t *sig) {
  uv_unref((uv_handle_t *)&sig->handle);
}

int muster_signal_signum(const muster_signal_t *sig) {
  return sig->handle.signum;
}

void *muster_signal_data(const muster_signal_t *sig) {
  return sig->data;
}

void muster_signal_set_data(muster_signal_t *sig, void *data) {
  sig->data = data;
}

const char *muster_signal_name(int signum) {
  static const char *const names[] = {
      [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",
      [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
      [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
      [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
      [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1",
      [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
      [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",
      [SIGTERM] = "SIGTERM", [SIGSTKFLT] = "SIGSTKFLT",
      [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
      [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP",
      [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",
      [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU",
      [SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM",
      [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
      [SIGIO] = "SIGIO",     [SIGPWR] = "SIGPWR",
      [SIGSYS] = "SIGSYS",
  };
  if (signum <= 0 || (size_t)signum >= sizeof names / sizeof names[0])
    return NULL;
  return names[signum];
}

int muster_signal_number(const char *name) {
  if (name == NULL || strncmp(name, "SIG", 3) != 0)
    return MUSTER_EINVAL;
  for (int signum = 1; signum < 32; signum++) {
    const char *n = muster_signal_name(signum);
    if (n != NULL && strcmp(n, name) == 0)
      return signum;
  }
  if (strcmp(name, "SIGIOT") == 0)
    return SIGIOT;
  if (strcmp(name, "SIGPOLL") == 0)
    return SIGPOLL;
  if (strcmp(name, "SIGUNUSED") == 0)
    return SIGSYS;
  return MUSTER_EINVAL;
}
