/* muster_supervise_child_create(): a supervisor whose process is a
 * muster_spawn() or muster_fork() child it makes itself. The glue every
 * owner wrote before (start hook spawns, the exit is fed to the row, the
 * signal hook kills) lives here once, and the process group's life too.
 *
 * Each process is a proc_t that lives until its child object has closed
 * (exit and end of every pipe) *and* its exit was fed to the row: output
 * of an old process may still drain while the row has restarted. The
 * row's current process is sc->current until its exit is fed.
 *
 * A group (MUSTER_SPAWN_PROCESS_GROUP or DETACHED): the leader's exit is
 * held back until no member is left. There is no pidfd or wait for a
 * process group, so a timer polls kill(-pgid, 0). A member this process
 * adopted (a child subreaper, such as the manager's daemon) would stay a
 * zombie and keep the group alive forever: waitpid(-pgid, WNOHANG) reaps
 * exactly those. It runs only after the leader was reaped by its own
 * backend, so it can never take the leader's exit from it, and it names
 * one group we made, never -1.
 *
 * With close_wait_ms the exit waits for the child object's close as well
 * (its pipes and channel ended), on the same timer once the group is gone:
 * a grandchild that inherited a pipe or the channel could hold it open
 * for ever, so the wait has a deadline.
 */
#include "muster/error.h"
#include "muster/fork.h"
#include "muster/supervise.h"
#include "strv.h"
#include "supervise_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* How often a group whose leader exited is checked for members. */
#define GROUP_POLL_MS 10

typedef struct sc_s sc_t;

typedef struct proc_s {
  struct proc_s *next;
  sc_t *sc; /* NULL once the supervisor is closed */
  muster_child_t *child;
  muster_channel_t *channel;
  int pid;
  unsigned exited : 1; /* the leader was reaped */
  unsigned fed : 1;    /* its exit was fed to the row (or never will be) */
  unsigned closed : 1; /* the child object's on_close came */
  unsigned freeing : 1;
  unsigned awaiting_close : 1; /* exit known, waiting for the close */
  int64_t exit_status;
  int term_signal;
} proc_t;

struct sc_s {
  muster_supervisor_t *sup;
  uv_loop_t *loop;
  uv_timer_t timer; /* polls a group, then waits for the close */
  uint64_t kill_at; /* when the remaining members get SIGKILL; 0: not due */

  /* The copies of what to run; `process` points into them. */
  char *file;
  char **argv;
  char **env;
  char *cwd, *argv0, *shell;
  gid_t *groups;
  muster_stdio_t stdio[MUSTER_STDIO_MAX];
  muster_fork_options_t process;
  int fork;
  int group;
  int stop_signal;
  uint64_t kill_timeout_ms;
  uint64_t close_wait_ms;

  muster_supervise_prepare_cb on_prepare;
  muster_supervise_child_cb on_child;
  muster_supervise_data_cb on_data;
  muster_supervise_alloc_cb on_alloc;
  muster_supervise_exit_cb on_exit;
  muster_supervise_exit_cb on_exited;
  muster_supervise_signaled_cb on_signal;

  proc_t *procs;
  proc_t *current;
};

static sc_t *sc_of(const muster_supervisor_t *sup) {
  return muster__supervise_impl(sup);
}

/* ---- one process's life ------------------------------------------------- */

static void proc_freed(muster_child_t *child) {
  free(muster_child_data(child));
}

static void proc_unlink(proc_t *p) {
  if (p->sc == NULL)
    return;
  for (proc_t **pp = &p->sc->procs; *pp != NULL; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
}

/* Frees the child object and the channel once both the row and the
 * object are done with them. */
static void proc_maybe_free(proc_t *p) {
  if (!(p->closed && p->fed) || p->freeing)
    return;
  p->freeing = 1;
  proc_unlink(p);
  if (p->channel != NULL)
    muster_channel_close(p->channel, NULL);
  muster_child_close(p->child, proc_freed);
}

static void feed_exit(proc_t *p) {
  sc_t *sc = p->sc;
  p->fed = 1;
  p->awaiting_close = 0;
  if (sc != NULL && sc->current == p) {
    sc->current = NULL;
    uv_timer_stop(&sc->timer);
    sc->kill_at = 0;
    if (sc->on_exit != NULL)
      sc->on_exit(sc->sup, p->child, p->exit_status, p->term_signal);
    /* The owner may have closed the row from on_exit, or from what the
     * report calls (on_state, on_error). */
    if (p->sc != NULL)
      muster_supervise_exited(sc->sup, p->exit_status, p->term_signal);
    if (p->sc != NULL && sc->on_exited != NULL)
      sc->on_exited(sc->sup, p->child, p->exit_status, p->term_signal);
  }
  proc_maybe_free(p);
}

static void close_wait_cb(uv_timer_t *t) {
  sc_t *sc = t->data;
  if (sc->current != NULL && sc->current->awaiting_close)
    feed_exit(sc->current); /* something else holds a pipe or the channel */
}

/* The process (and its group) ended: tell the row now, or once the child
 * object has closed too (close_wait_ms). */
static void exit_known(proc_t *p) {
  sc_t *sc = p->sc;
  if (sc == NULL || sc->current != p || sc->close_wait_ms == 0 || p->closed) {
    feed_exit(p);
    return;
  }
  p->awaiting_close = 1;
  uv_timer_start(&sc->timer, close_wait_cb, sc->close_wait_ms, 0);
}

/* Reaps adopted members (see the top of the file); 1 while any is left. */
static int group_alive(int pgid) {
  while (waitpid(-pgid, NULL, WNOHANG) > 0)
    ;
  /* EPERM: a member runs as another user; it is still there. */
  return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/* Every signal the row's process gets goes through here. */
static int send_signal(sc_t *sc, proc_t *p, int signo) {
  if (sc->on_signal != NULL)
    sc->on_signal(sc->sup, signo);
  if (sc->group)
    return muster_child_kill_group(p->child, signo);
  return muster_child_kill(p->child, signo);
}

static void group_poll(uv_timer_t *t) {
  sc_t *sc = t->data;
  proc_t *p = sc->current;
  if (!group_alive(p->pid)) {
    uv_timer_stop(t);
    exit_known(p);
    return;
  }
  if (sc->kill_at != 0 && uv_now(sc->loop) >= sc->kill_at) {
    sc->kill_at = 0;
    send_signal(sc, p, SIGKILL);
  }
}

static void proc_exit_cb(muster_child_t *child, int64_t status, int sig) {
  proc_t *p = muster_child_data(child);
  sc_t *sc = p->sc;
  p->exited = 1;
  p->exit_status = status;
  p->term_signal = sig;
  if (sc == NULL || sc->current != p || !sc->group || !group_alive(p->pid)) {
    exit_known(p);
    return;
  }
  /* Members remain. A stop under way goes on with its own schedule (its
   * signals reach the group through signal_hook); otherwise the leader
   * died alone and what it left is stopped now. */
  if (muster_supervise_state(sc->sup) != MUSTER_SUPERVISE_STOPPING) {
    send_signal(sc, p, sc->stop_signal);
    uv_update_time(sc->loop);
    sc->kill_at = uv_now(sc->loop) + sc->kill_timeout_ms;
  }
  uv_timer_start(&sc->timer, group_poll, GROUP_POLL_MS, GROUP_POLL_MS);
}

static void proc_close_cb(muster_child_t *child) {
  proc_t *p = muster_child_data(child);
  p->closed = 1;
  if (p->awaiting_close) {
    feed_exit(p);
    return;
  }
  proc_maybe_free(p);
}

static void proc_data_cb(muster_child_t *child, int slot, const char *buf,
                         size_t len) {
  proc_t *p = muster_child_data(child);
  if (p->sc != NULL && p->sc->on_data != NULL)
    p->sc->on_data(p->sc->sup, child, slot, buf, len);
}

static void proc_alloc_cb(muster_child_t *child, int slot, size_t suggested,
                          char **buf, size_t *len) {
  proc_t *p = muster_child_data(child);
  if (p->sc != NULL && p->sc->on_alloc != NULL)
    p->sc->on_alloc(p->sc->sup, child, slot, suggested, buf, len);
}

/* ---- the row's hooks ---------------------------------------------------- */

/* What this start runs: the copies made at create, as on_prepare changes
 * them, with what is the row's own put back. */
static int prepare(sc_t *sc, muster_supervise_run_t *run) {
  const unsigned group = MUSTER_SPAWN_PROCESS_GROUP | MUSTER_SPAWN_DETACHED;
  run->file = sc->file;
  run->argv = (const char *const *)sc->argv;
  run->process = sc->process;
  if (sc->on_prepare != NULL) {
    int r = sc->on_prepare(sc->sup, run);
    if (r < 0)
      return r;
    if (run->file == NULL)
      return MUSTER_EINVAL;
  }
  muster_spawn_options_t *so = &run->process.spawn;
  so->flags = (so->flags & ~group) | (sc->process.spawn.flags & group);
  so->timeout_ms = 0;
  so->kill_signal = 0;
  return 0;
}

static int start_hook(muster_supervisor_t *sup, int *pid) {
  sc_t *sc = sc_of(sup);
  muster_supervise_run_t run;
  int r = prepare(sc, &run);
  if (r < 0)
    return r;
  muster_fork_options_t fo = run.process;
  proc_t *p = calloc(1, sizeof *p);
  if (p == NULL)
    return MUSTER_ENOMEM;
  p->sc = sc;
  fo.spawn.on_spawn = NULL;
  fo.spawn.on_data = proc_data_cb;
  fo.spawn.on_alloc = sc->on_alloc ? proc_alloc_cb : NULL;
  fo.spawn.on_exit = proc_exit_cb;
  fo.spawn.on_close = proc_close_cb;
  fo.spawn.data = p;
  if (sc->fork)
    r = muster_fork(sc->loop, run.file, run.argv, &fo, &p->child, &p->channel);
  else
    r = muster_spawn(sc->loop, run.file, run.argv, &fo.spawn, &p->child);
  if (r < 0) {
    free(p);
    return r;
  }
  p->pid = muster_child_pid(p->child);
  p->next = sc->procs;
  sc->procs = p;
  sc->current = p;
  *pid = p->pid;
  if (sc->on_child != NULL)
    sc->on_child(sup, p->child, p->channel);
  return 0;
}

static int signal_hook(muster_supervisor_t *sup, int signo) {
  sc_t *sc = sc_of(sup);
  proc_t *p = sc->current;
  if (p == NULL)
    return MUSTER_ESRCH;
  return send_signal(sc, p, signo);
}

/* ---- create and close --------------------------------------------------- */

static void sc_free(sc_t *sc) {
  free(sc->file);
  muster__strv_free(sc->argv);
  muster__strv_free(sc->env);
  free(sc->cwd);
  free(sc->argv0);
  free(sc->shell);
  free(sc->groups);
  free(sc);
}

static void timer_closed(uv_handle_t *h) {
  sc_free(h->data);
}

/* The row is closing: every child object and channel goes (their
 * processes are not stopped, and are still reaped). */
static void sc_close(void *impl) {
  sc_t *sc = impl;
  proc_t *p = sc->procs;
  sc->procs = NULL;
  sc->current = NULL;
  while (p != NULL) {
    proc_t *next = p->next;
    p->sc = NULL;
    p->fed = 1;
    p->closed = 1;
    p->awaiting_close = 0;
    proc_maybe_free(p);
    p = next;
  }
  uv_close((uv_handle_t *)&sc->timer, timer_closed);
}

static int dup_str(const char *s, char **out) {
  *out = NULL;
  if (s == NULL)
    return 0;
  *out = strdup(s);
  return *out != NULL ? 0 : MUSTER_ENOMEM;
}

/* Copies what to run into `sc` and points sc->process at the copies. */
static int copy_process(sc_t *sc, const char *file, const char *const argv[],
                        const muster_supervise_child_options_t *o) {
  muster_spawn_options_t *so = &sc->process.spawn;
  int r, err;
  sc->process = o->process;
  if (so->stdio_count < 0 || so->stdio_count > MUSTER_STDIO_MAX ||
      (so->stdio == NULL && so->stdio_count > 0))
    return MUSTER_EINVAL;
  if (so->stdio != NULL) {
    memcpy(sc->stdio, so->stdio, (size_t)so->stdio_count * sizeof *so->stdio);
    so->stdio = sc->stdio;
  }
  sc->argv = muster__strv_copy(argv, &err);
  if (err < 0)
    return err;
  sc->env = muster__strv_copy(so->env, &err);
  if (err < 0)
    return err;
  r = dup_str(file, &sc->file);
  if (r == 0)
    r = dup_str(so->cwd, &sc->cwd);
  if (r == 0)
    r = dup_str(so->argv0, &sc->argv0);
  if (r == 0)
    r = dup_str(so->shell, &sc->shell);
  if (r < 0)
    return r;
  if ((so->flags & MUSTER_SPAWN_SETGROUPS) && so->ngroups > 0) {
    if (so->groups == NULL || so->ngroups > MUSTER_SPAWN_MAX_GROUPS)
      return MUSTER_EINVAL;
    sc->groups = malloc(so->ngroups * sizeof *sc->groups);
    if (sc->groups == NULL)
      return MUSTER_ENOMEM;
    memcpy(sc->groups, so->groups, so->ngroups * sizeof *sc->groups);
  }
  so->groups = sc->groups;
  so->env = (const char *const *)sc->env;
  so->cwd = sc->cwd;
  so->argv0 = sc->argv0;
  so->shell = sc->shell;
  so->timeout_ms = 0;
  so->kill_signal = 0;
  return 0;
}

int muster_supervise_child_create(uv_loop_t *loop, const char *file,
                                  const char *const argv[],
                                  const muster_supervise_child_options_t *o,
                                  muster_supervisor_t **out) {
  muster_supervise_options_t so;
  sc_t *sc;
  int r;

  if (loop == NULL || file == NULL || *file == '\0' || o == NULL ||
      out == NULL || (argv != NULL && argv[0] == NULL))
    return MUSTER_EINVAL;
  sc = calloc(1, sizeof *sc);
  if (sc == NULL)
    return MUSTER_ENOMEM;
  r = copy_process(sc, file, argv, o);
  if (r < 0)
    goto fail;
  sc->loop = loop;
  sc->fork = o->fork != 0;
  sc->group = (o->process.spawn.flags &
               (MUSTER_SPAWN_PROCESS_GROUP | MUSTER_SPAWN_DETACHED)) != 0;
  sc->stop_signal =
      o->policy.stop_signal != 0 ? o->policy.stop_signal : SIGTERM;
  sc->kill_timeout_ms =
      o->policy.kill_timeout_ms != 0 ? o->policy.kill_timeout_ms : 1600;
  sc->close_wait_ms = o->close_wait_ms;
  sc->on_prepare = o->on_prepare;
  sc->on_child = o->on_child;
  sc->on_data = o->on_data;
  sc->on_alloc = o->on_alloc;
  sc->on_exit = o->on_exit;
  sc->on_exited = o->on_exited;
  sc->on_signal = o->on_signal;

  memset(&so, 0, sizeof so);
  so.start = start_hook;
  so.graceful = o->graceful;
  so.signal = signal_hook;
  so.on_state = o->on_state;
  so.on_error = o->on_error;
  so.policy = o->policy;
  so.data = o->data;
  r = muster_supervise_create(loop, &so, &sc->sup);
  if (r < 0)
    goto fail;
  r = uv_timer_init(loop, &sc->timer);
  if (r < 0) {
    muster_supervise_close(sc->sup, NULL);
    goto fail;
  }
  sc->timer.data = sc;
  muster__supervise_set_impl(sc->sup, sc, sc_close);
  *out = sc->sup;
  return 0;

fail:
  sc_free(sc);
  return r;
}

muster_child_t *muster_supervise_child(const muster_supervisor_t *sup) {
  sc_t *sc = sc_of(sup);
  return sc != NULL && sc->current != NULL ? sc->current->child : NULL;
}

muster_channel_t *muster_supervise_channel(const muster_supervisor_t *sup) {
  sc_t *sc = sc_of(sup);
  return sc != NULL && sc->current != NULL ? sc->current->channel : NULL;
}
