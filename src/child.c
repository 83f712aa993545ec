/* muster_spawn(): the child object, its events, kill, close and reaping.
 *
 * Event order (Node's): on_spawn first of all; on_data as output arrives;
 * on_exit when the process was reaped; on_close once the process exited,
 * every output pipe reached end of file and a taken IPC fd was reported
 * closed. The exit and the end of the pipes race (a grandchild may hold
 * stdout long after the child died), which is why close is its own event.
 *
 * on_spawn is deferred to the idle phase of the next loop turn, but the
 * process may already be dead by then and its exit or output may be seen
 * first (say, the spawn happened in a poll-phase callback and the next poll
 * phase is reached through a path that skips idle handles). So every event
 * emits on_spawn first if it has not been emitted yet.
 *
 * Two backends start and watch the process (docs/child.md): on Linux,
 * our own vfork() spawn and a pidfd polled on the loop
 * (child_spawn_posix.c, child_vfork.c); else uv_spawn() (child_spawn_uv.c),
 * which cannot do a parent-death signal or a list of groups.
 * spawn_process() picks one; both report the exit through child_exited(),
 * given to them as a function pointer, and exit_watch() is the handle that
 * watches it. The stdio pipes
 * (child_stdio.c) report through pipe_cbs below; neither knows the child.
 *
 * Reaping: each backend waitpid()s only its own pid, and only while its
 * watcher is open (libuv: the uv_process_t; ours: the pidfd poll). If the
 * user closes the child object while the process runs, we keep that
 * watcher open (unreferenced) until the exit is reaped, and free the object
 * then. Closing it early would leave a zombie forever.
 */
#include "child_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static int valid_signal(int signum) {
  return signum > 0 && signum < NSIG;
}

static muster_stdio_kind_t slot_kind(const muster_spawn_options_t *o, int i) {
  if (o->stdio != NULL && i < o->stdio_count)
    return o->stdio[i].kind;
  return i < 3 ? MUSTER_STDIO_PIPE : MUSTER_STDIO_IGNORE;
}

static int validate(uv_loop_t *loop, const char *file, const char *const argv[],
                    const muster_spawn_options_t *o, muster_child_t **out,
                    int *ipc_slot) {
  const unsigned known = MUSTER_SPAWN_DETACHED | MUSTER_SPAWN_SETUID |
                         MUSTER_SPAWN_SETGID | MUSTER_SPAWN_SHELL |
                         MUSTER_SPAWN_PROCESS_GROUP | MUSTER_SPAWN_SETGROUPS;
  if (loop == NULL || file == NULL || *file == '\0' || out == NULL)
    return MUSTER_EINVAL;
  if (argv != NULL && argv[0] == NULL && !(o->flags & MUSTER_SPAWN_SHELL))
    return MUSTER_EINVAL;
  if (o->stdio_count < 0 || o->stdio_count > MUSTER_STDIO_MAX)
    return MUSTER_EINVAL;
  if ((o->flags & ~known) != 0)
    return MUSTER_EINVAL;
  if (o->kill_signal != 0 && !valid_signal(o->kill_signal))
    return MUSTER_EINVAL;
  if (o->death_signal != 0 && !valid_signal(o->death_signal))
    return MUSTER_EINVAL;
  if ((o->flags & MUSTER_SPAWN_SETGROUPS) &&
      ((o->groups == NULL && o->ngroups > 0) ||
       o->ngroups > MUSTER_SPAWN_MAX_GROUPS))
    return MUSTER_EINVAL;
  if (o->env_mode != MUSTER_ENV_EXTEND && o->env_mode != MUSTER_ENV_EXACT)
    return MUSTER_EINVAL;
  if ((o->flags & MUSTER_SPAWN_SHELL) && o->shell != NULL && *o->shell == 0)
    return MUSTER_EINVAL;
  *ipc_slot = -1;
  for (int i = 0; i < o->stdio_count && o->stdio != NULL; i++) {
    switch (o->stdio[i].kind) {
    case MUSTER_STDIO_PIPE:
    case MUSTER_STDIO_INHERIT:
    case MUSTER_STDIO_IGNORE:
      break;
    case MUSTER_STDIO_FD:
      if (o->stdio[i].fd < 0)
        return MUSTER_EINVAL;
      break;
    case MUSTER_STDIO_IPC:
      if (*ipc_slot >= 0)
        return MUSTER_EINVAL;
      *ipc_slot = i;
      break;
    default:
      return MUSTER_EINVAL;
    }
  }
  return 0;
}

/* ---- deferred work (the idle handle) ------------------------------------ */

static void emit_spawn(muster_child_t *c) {
  if (c->spawn_emitted)
    return;
  c->spawn_emitted = 1;
  if (c->on_spawn != NULL)
    c->on_spawn(c);
}

static void deliver_writes(muster_child_t *c) {
  while (c->done_head != NULL && !c->closing) {
    child_write_t *w = c->done_head;
    c->done_head = w->next;
    if (c->done_head == NULL)
      c->done_tail = NULL;
    if (w->cb != NULL)
      ((muster_write_cb)w->cb)(c, w->status, w->arg);
    free(w);
  }
}

static void maybe_close(muster_child_t *c);
static void defer(muster_child_t *c);

static void idle_cb(uv_idle_t *h) {
  muster_child_t *c = h->data;
  uv_idle_stop(h);
  emit_spawn(c);
  if (c->closing)
    return;
  deliver_writes(c);
  if (c->closing)
    return;
  if (c->check_close) {
    c->check_close = 0;
    maybe_close(c);
  }
}

static void defer(muster_child_t *c) {
  if (!c->closing)
    uv_idle_start(&c->idle, idle_cb);
}

static void maybe_close(muster_child_t *c) {
  if (c->closing || c->close_emitted || !c->exited)
    return;
  for (int i = 0; i < c->nslots; i++) {
    const child_pipe_t *p = &c->pipes[i];
    if (p->is_pipe && p->readable && !p->read_done)
      return;
  }
  if (c->ipc_taken && !c->ipc_closed)
    return;
  c->close_emitted = 1;
  emit_spawn(c);
  if (c->closing)
    return;
  if (c->on_close != NULL)
    c->on_close(c);
}

/* ---- closing ------------------------------------------------------------ */

/* Every uv_close() of the child's handles ends here. Once the child is
 * closing and nothing is left to close, the user's callback runs; the
 * memory goes once the process handle is closed too. */
static void closed_one(muster_child_t *c) {
  if (--c->pending_closes > 0 || !c->closing)
    return;
  if (!c->user_closed) {
    c->user_closed = 1;
    while (c->done_head != NULL) {
      child_write_t *w = c->done_head;
      c->done_head = w->next;
      if (w->cb != NULL)
        ((muster_write_cb)w->cb)(c, w->status, w->arg);
      free(w);
    }
    c->done_tail = NULL;
    if (c->close_cb != NULL)
      c->close_cb(c);
  }
  if (c->proc_waiting)
    return;
  free(c->rbuf);
  free(c);
}

static void handle_closed_cb(uv_handle_t *h) {
  closed_one(h->data);
}

static void close_handle(muster_child_t *c, uv_handle_t *h) {
  c->pending_closes++;
  uv_close(h, handle_closed_cb);
}

/* The handle that learns of the exit: the pidfd poll or libuv's process.
 * Its data pointer is the backend's, so it closes with its own callback. */
static uv_handle_t *exit_watch(muster_child_t *c) {
  return c->use_pidfd ? (uv_handle_t *)&c->posix.poll
                      : (uv_handle_t *)&c->uv.proc;
}

static void posix_watch_closed(uv_handle_t *h) {
  closed_one(container_of(h, muster_child_t, posix.poll));
}

static void uv_watch_closed(uv_handle_t *h) {
  closed_one(container_of(h, muster_child_t, uv.proc));
}

static void close_exit_watch(muster_child_t *c) {
  c->pending_closes++;
  uv_close(exit_watch(c), c->use_pidfd ? posix_watch_closed : uv_watch_closed);
  /* After uv_close(), which has taken the fd out of epoll: see
   * muster__child_stdio_close(). */
  if (c->posix.pidfd >= 0) {
    close(c->posix.pidfd);
    c->posix.pidfd = -1;
  }
}

/* Shared by muster_child_close() and a failed spawn. `watch_inited`: the
 * exit watcher was initialised (and must be closed). */
static void teardown(muster_child_t *c, int watch_inited) {
  c->closing = 1;
  uv_timer_stop(&c->timer);
  close_handle(c, (uv_handle_t *)&c->timer);
  uv_idle_stop(&c->idle);
  close_handle(c, (uv_handle_t *)&c->idle);
  for (int i = 0; i < MUSTER_STDIO_MAX; i++)
    muster__child_stdio_close(&c->pipes[i], MUSTER_ECANCELED);
  if (c->ipc_fd >= 0) {
    close(c->ipc_fd);
    c->ipc_fd = -1;
  }
  if (!watch_inited)
    return;
  if (!c->spawned || c->exited) {
    close_exit_watch(c);
  } else {
    /* Still running: its watcher must stay to reap it. */
    c->proc_waiting = 1;
    uv_unref(exit_watch(c));
  }
}

void muster_child_close(muster_child_t *c, muster_child_close_cb cb) {
  if (c == NULL || c->closing)
    return;
  if (c->close_hook != NULL) {
    void (*hook)(void *) = c->close_hook;
    c->close_hook = NULL;
    hook(c->close_hook_arg);
  }
  c->close_cb = cb;
  teardown(c, 1);
}

void muster__child_set_close_hook(muster_child_t *c, void (*fn)(void *),
                                  void *arg) {
  c->close_hook = fn;
  c->close_hook_arg = arg;
}

/* ---- process events ----------------------------------------------------- */

/* Reads, once, what the output pipes already hold. */
static void drain_output(muster_child_t *c) {
  for (int i = 1; i < c->nslots && !c->closing; i++)
    muster__child_stdio_read(&c->pipes[i]);
}

/* The process was reaped (child_exit_fn of both backends): records it and
 * emits on_exit (or, for a closed child, frees what waited for the exit). */
static void child_exited(void *arg, int64_t exit_status, int term_signal) {
  muster_child_t *c = arg;
  /* Output the child wrote before it exited comes before on_exit. The
   * exit and that output become readable at about the same moment, and
   * the pidfd is often reported first in the same epoll batch (with
   * uv_spawn() the exit came later, through libuv's signal pipe): an
   * `ls` whose whole output is flushed by exit() would have its on_exit
   * before its listing. Only what is already in the socket is read here;
   * a grandchild's later output still comes after. */
  if (!c->closing) {
    emit_spawn(c);
    if (!c->closing)
      drain_output(c);
  }
  c->exited = 1;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  uv_timer_stop(&c->timer);
  if (c->closing) {
    if (c->proc_waiting) {
      c->proc_waiting = 0;
      close_exit_watch(c);
    }
    return;
  }
  emit_spawn(c);
  if (c->closing)
    return;
  /* Node destroys stdin when the process exits: nobody will read it. */
  muster__child_stdio_close(&c->pipes[0], MUSTER_EPIPE);
  if (c->on_exit != NULL)
    c->on_exit(c, exit_status, term_signal);
  if (c->closing)
    return;
  maybe_close(c);
}

static int send_signal(muster_child_t *c, int signum) {
  if (c->use_pidfd)
    return muster__child_spawn_posix_kill(&c->posix, signum);
  return uv_process_kill(&c->uv.proc, signum);
}

static int send_group_signal(muster_child_t *c, int signum) {
  if (kill(-c->pid, signum) != 0)
    return -errno;
  return 0;
}

/* What the timeout and exec's limits signal: the group when the child was
 * given one for that (a shell's pipeline must not outlive it), else the
 * child alone, as Node does. */
static int send_kill(muster_child_t *c, int signum) {
  if (c->group_kill)
    return send_group_signal(c, signum);
  return send_signal(c, signum);
}

static void drop_output(muster_child_t *c) {
  for (int i = 1; i < c->nslots; i++)
    if (c->pipes[i].readable)
      muster__child_stdio_close(&c->pipes[i], MUSTER_EPIPE);
  /* on_close may be due now; not from inside the caller's callback. */
  c->check_close = 1;
  defer(c);
}

static void timeout_cb(uv_timer_t *t) {
  muster_child_t *c = t->data;
  if (c->exited)
    return;
  if (send_kill(c, c->kill_signal) == 0) {
    c->timed_out = 1;
    c->killed = 1;
  }
  if (c->drop_on_timeout)
    drop_output(c);
}

int muster__child_kill_and_drop(muster_child_t *c, int signum) {
  int r = MUSTER_ESRCH;
  if (!c->exited || c->group_kill)
    r = send_kill(c, signum);
  if (r == 0 && !c->exited)
    c->killed = 1;
  drop_output(c);
  return r;
}

/* ---- spawn -------------------------------------------------------------- */

static const char **build_args(const char *file, const char *const argv[],
                               const muster_spawn_options_t *o,
                               const char **exec_file) {
  size_t n = 0;
  const char **v;
  if (o->flags & MUSTER_SPAWN_SHELL) {
    const char *sh = o->shell != NULL ? o->shell : "/bin/sh";
    v = malloc(4 * sizeof *v);
    if (v == NULL)
      return NULL;
    v[0] = o->argv0 != NULL ? o->argv0 : sh;
    v[1] = "-c";
    v[2] = file;
    v[3] = NULL;
    *exec_file = sh;
    return v;
  }
  while (argv != NULL && argv[n] != NULL)
    n++;
  v = malloc((n + 2) * sizeof *v);
  if (v == NULL)
    return NULL;
  if (argv == NULL) {
    v[0] = file;
    n = 1;
  } else {
    memcpy(v, argv, n * sizeof *v);
  }
  if (o->argv0 != NULL)
    v[0] = o->argv0;
  v[n] = NULL;
  *exec_file = file;
  return v;
}

/* ---- the stdio pipes' reports (child_stdio.h) ---------------------------- */

static void pipe_data(child_pipe_t *p, const char *buf, size_t len) {
  muster_child_t *c = p->owner;
  emit_spawn(c);
  if (c->closing)
    return;
  if (c->on_data != NULL)
    c->on_data(c, p->slot, buf, len);
}

static void pipe_alloc(child_pipe_t *p, char **buf, size_t *size) {
  muster_child_t *c = p->owner;
  char *room = NULL;
  size_t len = 0;
  if (c->on_alloc == NULL)
    return;
  emit_spawn(c); /* on_spawn first, as before on_data */
  if (c->closing)
    return;
  c->on_alloc(c, p->slot, *size, &room, &len);
  if (room != NULL && len > 0) {
    *buf = room;
    *size = len;
  }
}

static void pipe_ended(child_pipe_t *p) {
  maybe_close(p->owner);
}

/* The user's callback waits for the idle turn: never from inside
 * muster_child_write() itself. */
static void pipe_write_done(child_pipe_t *p, child_write_t *w) {
  muster_child_t *c = p->owner;
  if (c->done_tail != NULL)
    c->done_tail->next = w;
  else
    c->done_head = w;
  c->done_tail = w;
  defer(c);
}

static void pipe_closing(child_pipe_t *p) {
  muster_child_t *c = p->owner;
  c->pending_closes++;
}

static void pipe_closed(child_pipe_t *p) {
  closed_one(p->owner);
}

static const child_pipe_cbs_t pipe_cbs = {
    pipe_data,    pipe_alloc,  pipe_ended,
    pipe_write_done, pipe_closing, pipe_closed};

/* Creates the parent's end of each slot and fills req->fds with what the
 * child gets; the child's ends of socketpairs also go to `child_ends`, for
 * the parent to close after the spawn. */
static int open_slots(muster_child_t *c, const muster_spawn_options_t *o,
                      child_spawn_req_t *req, int *child_ends) {
  for (int i = 0; i < c->nslots; i++) {
    int sv[2];
    muster_stdio_kind_t kind = slot_kind(o, i);
    req->fds[i] = -1;
    switch (kind) {
    case MUSTER_STDIO_PIPE:
    case MUSTER_STDIO_IPC:
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
      child_ends[i] = sv[1];
      req->fds[i] = sv[1];
      if (kind == MUSTER_STDIO_IPC) {
        c->ipc_fd = sv[0];
      } else {
        int r =
            muster__child_stdio_open(&c->pipes[i], c->loop, sv[0], i != 0,
                                     &pipe_cbs, c, c->rbuf, CHILD_RBUF_SIZE);
        if (r < 0) {
          close(sv[0]);
          return r;
        }
      }
      break;
    case MUSTER_STDIO_INHERIT:
      req->fds[i] = i;
      req->shared |= 1u << i;
      break;
    case MUSTER_STDIO_FD:
      req->fds[i] = o->stdio[i].fd;
      req->shared |= 1u << i;
      break;
    default: /* MUSTER_STDIO_IGNORE */
      break;
    }
  }
  return 0;
}

/* Starts the process with one backend or the other: the only place that
 * chooses. *watch_inited tells whether an exit watcher needs closing. */
static int spawn_process(muster_child_t *c, const char *file,
                         const char *const argv[],
                         const muster_spawn_options_t *o, int *watch_inited) {
  child_spawn_req_t req;
  int child_ends[MUSTER_STDIO_MAX];
  const char **args = NULL;
  char **env = NULL;
  int r;

  *watch_inited = 0;
  for (int i = 0; i < MUSTER_STDIO_MAX; i++)
    child_ends[i] = -1;
  memset(&req, 0, sizeof req);
  r = muster__child_env(o, c->ipc_slot, &env);
  if (r < 0)
    goto done;
  args = build_args(file, argv, o, &req.file);
  r = MUSTER_ENOMEM;
  if (args == NULL)
    goto done;
  r = open_slots(c, o, &req, child_ends);
  if (r < 0)
    goto done;
  req.args = (char *const *)args;
  req.env = env;
  req.cwd = o->cwd;
  req.nslots = c->nslots;
  req.flags = o->flags;
  req.uid = o->uid;
  req.gid = o->gid;
  if (o->flags & MUSTER_SPAWN_SETGROUPS) {
    req.groups = o->groups;
    req.ngroups = o->ngroups;
  }
  req.death_signal = o->death_signal;

  if (muster__child_spawn_posix_usable()) {
    r = muster__child_spawn_posix(&c->posix, c->loop, &req, child_exited, c,
                                  watch_inited);
    c->use_pidfd = *watch_inited;
    if (r == 0)
      c->pid = c->posix.pid;
  } else if (req.death_signal != 0 || (req.flags & MUSTER_SPAWN_SETGROUPS)) {
    r = MUSTER_ENOSYS; /* uv_spawn() has no hook for them */
  } else {
    r = muster__child_spawn_uv(&c->uv, c->loop, &req, child_exited, c,
                               watch_inited);
    if (r == 0)
      c->pid = c->uv.proc.pid;
  }
  if (r == 0)
    c->spawned = 1;

done:
  /* The child holds its ends now (or never will): ours go either way. */
  for (int i = 0; i < MUSTER_STDIO_MAX; i++)
    if (child_ends[i] >= 0)
      close(child_ends[i]);
  free(args);
  free(env);
  return r;
}

int muster_spawn(uv_loop_t *loop, const char *file, const char *const argv[],
                 const muster_spawn_options_t *options, muster_child_t **out) {
  static const muster_spawn_options_t defaults;
  const muster_spawn_options_t *o = options != NULL ? options : &defaults;
  muster_child_t *c;
  int watch_inited;
  int ipc_slot;
  int r;

  r = validate(loop, file, argv, o, out, &ipc_slot);
  if (r < 0)
    return r;
  c = calloc(1, sizeof *c);
  if (c == NULL)
    return MUSTER_ENOMEM;
  c->loop = loop;
  c->nslots = o->stdio_count > 3 ? o->stdio_count : 3;
  c->ipc_slot = ipc_slot;
  c->ipc_fd = -1;
  c->posix.pidfd = -1;
  c->on_spawn = o->on_spawn;
  c->on_data = o->on_data;
  c->on_alloc = o->on_alloc;
  c->on_exit = o->on_exit;
  c->on_close = o->on_close;
  c->data = o->data;
  c->kill_signal = o->kill_signal != 0 ? o->kill_signal : SIGTERM;
  c->timeout_ms = o->timeout_ms;
  c->group_kill = (o->flags & MUSTER_SPAWN_PROCESS_GROUP) != 0;
  c->own_group =
      (o->flags & (MUSTER_SPAWN_PROCESS_GROUP | MUSTER_SPAWN_DETACHED)) != 0;
  for (int i = 0; i < MUSTER_STDIO_MAX; i++) {
    c->pipes[i].slot = i;
    c->pipes[i].fd = -1;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_idle_init(loop, &c->idle);
  c->idle.data = c;

  for (int i = 0; i < c->nslots; i++) {
    if (slot_kind(o, i) == MUSTER_STDIO_PIPE && i > 0) {
      c->rbuf = malloc(CHILD_RBUF_SIZE);
      if (c->rbuf == NULL) {
        teardown(c, 0);
        return MUSTER_ENOMEM;
      }
      break;
    }
  }

  r = spawn_process(c, file, argv, o, &watch_inited);
  if (r != 0) {
    teardown(c, watch_inited);
    return r;
  }

  for (int i = 0; i < c->nslots; i++)
    if (c->pipes[i].is_pipe)
      muster__child_stdio_start(&c->pipes[i]);
  /* Count the timeout from now, not from the loop's cached time: the fork
   * of a large parent, or a caller that spent a while since the loop last
   * woke, would otherwise eat into it. */
  if (c->timeout_ms > 0) {
    uv_update_time(loop);
    uv_timer_start(&c->timer, timeout_cb, c->timeout_ms, 0);
  }
  defer(c);
  *out = c;
  return 0;
}

/* ---- the rest of the API ------------------------------------------------ */

int muster_child_kill(muster_child_t *c, int signum) {
  if (c == NULL || signum < 0 || signum >= NSIG)
    return MUSTER_EINVAL;
  if (!c->spawned || c->exited)
    return MUSTER_ESRCH;
  int r = send_signal(c, signum);
  if (r < 0)
    return r;
  if (signum != 0)
    c->killed = 1;
  return 0;
}

int muster_child_kill_group(muster_child_t *c, int signum) {
  if (c == NULL || signum < 0 || signum >= NSIG || !c->own_group)
    return MUSTER_EINVAL;
  int r = send_group_signal(c, signum);
  if (r < 0)
    return r;
  if (signum != 0 && !c->exited)
    c->killed = 1;
  return 0;
}

static void set_ref(muster_child_t *c, int ref) {
  void (*fn)(uv_handle_t *) = ref ? uv_ref : uv_unref;
  c->unrefd = !ref;
  if (c->closing)
    return;
  fn(exit_watch(c));
  fn((uv_handle_t *)&c->timer);
  fn((uv_handle_t *)&c->idle);
  for (int i = 0; i < c->nslots; i++)
    if (c->pipes[i].poll_open)
      fn((uv_handle_t *)&c->pipes[i].poll);
}

void muster_child_ref(muster_child_t *c) {
  set_ref(c, 1);
}

void muster_child_unref(muster_child_t *c) {
  set_ref(c, 0);
}

int muster_child_pid(const muster_child_t *c) {
  return c->pid;
}

uv_loop_t *muster_child_loop(const muster_child_t *c) {
  return c->loop;
}

void *muster_child_data(const muster_child_t *c) {
  return c->data;
}

void muster_child_set_data(muster_child_t *c, void *data) {
  c->data = data;
}

int muster_child_killed(const muster_child_t *c) {
  return c->killed;
}

int muster_child_timed_out(const muster_child_t *c) {
  return c->timed_out;
}

int muster_child_exited(const muster_child_t *c, int64_t *exit_status,
                        int *term_signal) {
  if (!c->exited)
    return 0;
  if (exit_status != NULL)
    *exit_status = c->exit_status;
  if (term_signal != NULL)
    *term_signal = c->term_signal;
  return 1;
}

int muster_child_take_ipc_fd(muster_child_t *c) {
  if (c->ipc_fd < 0)
    return MUSTER_ENOTCONN;
  int fd = c->ipc_fd;
  c->ipc_fd = -1;
  c->ipc_taken = 1;
  return fd;
}

void muster_child_ipc_closed(muster_child_t *c) {
  if (!c->ipc_taken || c->ipc_closed)
    return;
  c->ipc_closed = 1;
  c->check_close = 1;
  defer(c);
}

/* ---- stdio -------------------------------------------------------------- */

static child_pipe_t *pipe_slot(muster_child_t *c, int slot) {
  if (c == NULL || slot < 0 || slot >= c->nslots || !c->pipes[slot].is_pipe)
    return NULL;
  return &c->pipes[slot];
}

int muster_child_write(muster_child_t *c, int slot, const void *buf, size_t len,
                       muster_write_cb cb, void *arg) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL || (buf == NULL && len > 0))
    return MUSTER_EINVAL;
  if (c->closing)
    return MUSTER_EPIPE;
  return muster__child_stdio_write(p, buf, len, (child_write_fn)cb, arg);
}

size_t muster_child_write_queue_size(const muster_child_t *c, int slot) {
  child_pipe_t *p = pipe_slot((muster_child_t *)c, slot);
  return p != NULL ? p->wq_size : 0;
}

int muster_child_end(muster_child_t *c, int slot) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL)
    return MUSTER_EINVAL;
  muster__child_stdio_end(p);
  return 0;
}

static int set_paused(muster_child_t *c, int slot, int paused) {
  child_pipe_t *p = pipe_slot(c, slot);
  if (p == NULL || !p->readable)
    return MUSTER_EINVAL;
  muster__child_stdio_pause(p, paused);
  return 0;
}

int muster_child_read_stop(muster_child_t *c, int slot) {
  return set_paused(c, slot, 1);
}

int muster_child_read_start(muster_child_t *c, int slot) {
  return set_paused(c, slot, 0);
}
