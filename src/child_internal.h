/* Private to src/child*.c: the child object and the pieces its files share.
 *
 *   child.c        spawn, events, kill, close and reaping; picks the backend
 *   child_spawn_posix.c  the Linux backend: posix_spawn() + a pidfd
 *   child_fds.c    the uv_spawn() backend's fd hiding (atfork hook)
 *   child_stdio.c  the parent's end of each stdio socketpair: read, write
 *   child_env.c    the child's environment and argv
 *   child_exec.c   exec / execFile: buffered output
 *   child_sync.c   the blocking forms, on a private loop
 */
#ifndef MUSTER_CHILD_INTERNAL_H
#define MUSTER_CHILD_INTERNAL_H

#include <muster/child.h>
#include <muster/error.h>

#include <stddef.h>
#include <stdint.h>

/* Bytes read from a pipe per recv(). */
#define CHILD_RBUF_SIZE (64 * 1024)

/* One queued write. Its bytes follow the struct. */
typedef struct child_write_s {
  struct child_write_s *next;
  muster_write_cb cb;
  void *arg;
  size_t len;
  size_t off;
  int status; /* once done: 0 or a negative error */
} child_write_t;

/* The parent's end of one MUSTER_STDIO_PIPE slot. */
typedef struct {
  muster_child_t *child;
  uv_poll_t poll;
  int fd; /* parent's end; -1 once closed */
  int slot;
  unsigned is_pipe : 1;
  unsigned readable : 1;     /* output is delivered (slots 1 and up) */
  unsigned read_done : 1;    /* end of file seen, or never readable */
  unsigned ending : 1;       /* muster_child_end() was called */
  unsigned write_closed : 1; /* shut down, or a write failed */
  unsigned poll_open : 1;    /* the uv_poll_t needs uv_close() */
  unsigned paused : 1;       /* muster_child_read_stop() */
  int events;                /* what the poll watches now */
  child_write_t *wq_head;
  child_write_t *wq_tail;
  size_t wq_size;
} child_pipe_t;

struct muster_child_s {
  uv_loop_t *loop;
  /* The process is watched by exactly one of these (see exit_watch() in
   * child.c): libuv's process handle (uv_spawn() backend), or a poll on a
   * pidfd, readable once the process exited (posix_spawn() backend). */
  uv_process_t proc;
  uv_poll_t exit_poll;
  int pidfd; /* -1 unless the pidfd backend watches the process */
  uv_timer_t timer;
  uv_idle_t idle; /* defers on_spawn, write callbacks, ipc close */
  child_pipe_t pipes[MUSTER_STDIO_MAX];
  int nslots;
  char *rbuf; /* read buffer, shared by the pipes */

  int ipc_slot; /* -1: none */
  int ipc_fd;   /* parent's end until taken; -1 after */

  muster_spawn_cb on_spawn;
  muster_data_cb on_data;
  muster_exit_cb on_exit;
  muster_close_cb on_close;
  void *data;

  int pid;
  int kill_signal;
  uint64_t timeout_ms;
  int64_t exit_status;
  int term_signal;

  unsigned spawned : 1;       /* the process was started */
  unsigned use_pidfd : 1;     /* started by the posix_spawn() backend */
  unsigned spawn_emitted : 1; /* on_spawn was called (or is being) */
  unsigned exited : 1;        /* the process was reaped */
  unsigned close_emitted : 1; /* on_close was called */
  unsigned killed : 1;
  unsigned timed_out : 1;
  unsigned ipc_taken : 1;
  unsigned ipc_closed : 1;
  unsigned check_close : 1; /* the idle callback should try on_close */
  unsigned unrefd : 1;
  unsigned closing : 1;         /* muster_child_close() was called */
  unsigned user_closed : 1;     /* the close callback was called */
  unsigned proc_waiting : 1;    /* closing; the exit watcher waits for exit */
  unsigned drop_on_timeout : 1; /* exec: the timeout also drops output */
  unsigned own_group : 1;  /* leads a process group (PROCESS_GROUP, DETACHED) */
  unsigned group_kill : 1; /* the timeout and exec's limits signal the group */

  /* Writes that finished, waiting for their callback on the idle turn. */
  child_write_t *done_head;
  child_write_t *done_tail;

  int pending_closes;
  muster_child_close_cb close_cb;

  /* Called once when muster_child_close() is called: fork uses it so the
   * channel stops pointing at a child object that is going away. */
  void (*close_hook)(void *arg);
  void *close_hook_arg;
};

/* What muster_spawn() hands to a backend: every option resolved. */
typedef struct {
  const char *file; /* searched on the child's PATH when it has no '/' */
  char *const *args;
  char *const *env; /* the child's whole environment */
  const char *cwd;  /* NULL: the parent's */
  /* Slot i of the child gets a copy of fds[i]; -1: /dev/null on 0-2, closed
   * on 3 and up (MUSTER_STDIO_IGNORE). The caller keeps these fds. */
  int fds[MUSTER_STDIO_MAX];
  unsigned shared; /* bit i: fds[i] is the application's (INHERIT, FD) */
  int nslots;
  unsigned flags; /* MUSTER_SPAWN_*; SHELL is already applied to args */
  uid_t uid;
  gid_t gid;
} child_spawn_req_t;

/* child.c */
void muster__child_emit_spawn(muster_child_t *c);
/* The process was reaped: records it and emits on_exit (or, for a closed
 * child, frees what waited for the exit). Both backends end here. */
void muster__child_exited(muster_child_t *c, int64_t exit_status,
                          int term_signal);
/* Sets (or with fn NULL clears) the close hook; replaces an earlier one. */
void muster__child_set_close_hook(muster_child_t *c, void (*fn)(void *),
                                  void *arg);
void muster__child_maybe_close(muster_child_t *c);
void muster__child_defer(muster_child_t *c);
void muster__child_closed_one(muster_child_t *c);
/* Sends `signum` (to the group, for a child spawned with
 * MUSTER_SPAWN_PROCESS_GROUP) and stops reading the output pipes at once,
 * as Node's exec does on timeout or maxBuffer: a grandchild holding stdout
 * that ignores the signal must not keep the run open. 0 or an error. */
int muster__child_kill_and_drop(muster_child_t *c, int signum);

/* child_stdio.c */
int muster__pipe_open(muster_child_t *c, child_pipe_t *p, int slot, int fd);
void muster__pipe_start(child_pipe_t *p);
void muster__pipe_close(child_pipe_t *p, int write_status);
void muster__pipe_write_done(muster_child_t *c, child_write_t *w, int status);
void muster__child_deliver_writes(muster_child_t *c);
/* Reads, once, what the output pipes already hold (up to the usual
 * per-event amount each), delivering it with on_data. */
void muster__child_drain_output(muster_child_t *c);

/* child_env.c: NULL-terminated arrays, each freed with free() alone. */
int muster__child_env(const muster_spawn_options_t *o, int ipc_slot,
                      char ***out);

/* child_fds.c: uv_spawn() with every fd of the parent hidden from the child
 * except its stdio slots; with `new_group`, the child also leads a new
 * process group. */
int muster__spawn_hidden_fds(uv_loop_t *loop, uv_process_t *proc,
                             const uv_process_options_t *options,
                             int new_group);

/* child_spawn_posix.c: 1 when the posix_spawn() backend can start a child
 * with these MUSTER_SPAWN_* flags here (posix_spawn() cannot change uid or
 * gid; pidfd_open() needs Linux 5.3; MUSTER_SPAWN_BACKEND=uv in the
 * environment, read once, forces the uv_spawn() backend for tests). */
int muster__spawn_posix_usable(unsigned flags);
/* Starts the process and watches its exit on c->exit_poll: on success sets
 * c->pid, c->pidfd, c->use_pidfd. On failure no process is left; when
 * *watch_inited is 1 the poll handle (and c->pidfd) must still be closed. */
int muster__spawn_posix(muster_child_t *c, const child_spawn_req_t *req,
                        int *watch_inited);
/* pidfd_send_signal(): 0 or a negative errno. */
int muster__spawn_posix_kill(muster_child_t *c, int signum);

/* child_exec.c: the buffered run behind muster_exec(), muster_exec_file()
 * and the sync forms. `cb` may take the buffers (set them to NULL). */
typedef void (*muster__exec_cb)(muster_exec_result_t *result, void *data);
int muster__exec_start(uv_loop_t *loop, int shell, const char *file,
                       const char *const argv[],
                       const muster_exec_options_t *options,
                       muster__exec_cb icb, muster_exec_cb cb, void *data);

#endif
