/* Worker threads: a pthread (through libuv) with a loop of its own, a port
 * pair to its creator, and a control handle on the creator's loop for the
 * events that are not messages (online, exit). */
#include "thread_internal.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "muster/error.h"
#include "muster/thread.h"
#include "json_read.h"
#include "port_internal.h"
#include "thread_limits.h"
#include "thread_process_worker.h"
#include "thread_stdio.h"

extern char **environ;

struct muster_thread_s {
  /* First: the handle's address is the thread's. A wake-up on an eventfd
   * of its own, not a uv_async_t: in libuv 1.44 the creator's loop woken
   * by uv_async_send() spins while the thread is still inside the send,
   * which delayed every start's 'online' (src/wake.h). */
  muster__wake_t ctrl;
  muster_port_t *port;
  pthread_t tid;
  uint64_t id;
  muster_thread_options_t o;
  muster_thread_entry_cb entry;
  /* Handed to the thread, which takes them at its start. */
  muster__port_end_t child_end;
  char *worker;
  size_t worker_len;
  int worker_json;
  char name[16];
  char **env; /* NULL: share the process's */
  json_t *env_data;
  /* Shared with the thread. `code` and `error` are written before
   * `exited` is set (release) and read after it is seen (acquire). */
  atomic_int online, exited, stop;
  int code, error;
  pthread_mutex_t lock;
  int child_stop; /* the thread's stop doorbell while it may be rung, or -1 */
  /* The creator's own. */
  int online_told, exit_told, closing, unrefd;
  muster_thread_close_cb close_cb;
  /* isolation = process: the worker process, the signal that ended it. */
  muster__tproc_worker_t *proc;
  int signal;
  int proc_fd; /* in the worker process: its end of the channel */
  muster__thread_stdio_t *stdio;   /* captured output, or NULL */
  muster__thread_limits_t *limits; /* resourceLimits, or NULL */
};

/* What the running thread knows about itself. */
typedef struct {
  muster_thread_t *t;
  uv_loop_t loop;
  /* terminate's wake-up: a doorbell, not a uv_async_t (src/wake.h). */
  muster__wake_t stop;
  muster_port_t *parent;
  json_t *worker_json;
  int worker_parsed;
  int exit_called, exit_code;
  struct hook {
    void (*cb)(void *);
    void *arg;
  } * hooks;
  size_t nhooks;
} ctx_t;

static _Thread_local ctx_t *current;
/* setEnvironmentData's store, one per thread (an object, or NULL). */
static _Thread_local json_t *env_data;
static atomic_uint_fast64_t last_id;

/* ---- the creator's side -------------------------------------------------- */

static void tell_online(muster_thread_t *t) {
  if (t->online_told || !atomic_load_explicit(&t->online, memory_order_acquire))
    return;
  t->online_told = 1;
  if (!t->closing && t->o.on_online)
    t->o.on_online(t);
}

static void on_port_message(muster_port_t *port, muster_message_t *m) {
  muster_thread_t *t = muster_port_data(port);
  /* Both handles share the loop's one wake-up; the port's may run first. */
  tell_online(t);
  if (!t->closing && t->o.on_message)
    t->o.on_message(t, m);
}

static void on_output(void *arg, int fd, const char *data, size_t len) {
  muster_thread_t *t = arg;
  muster_thread_output_cb cb = fd == 1 ? t->o.on_stdout : t->o.on_stderr;
  /* Output means the entry runs: online, even if a worker process's
   * online frame is still on its way (the entry wrote before its loop
   * first ran and sent it). */
  if (t->proc)
    atomic_store(&t->online, 1);
  tell_online(t);
  if (!t->closing && cb)
    cb(t, data, len);
}

static void on_port_messageerror(muster_port_t *port, int err) {
  muster_thread_t *t = muster_port_data(port);
  if (!t->closing && t->o.on_messageerror)
    t->o.on_messageerror(t, err);
}

static void free_env(char **env);

static void free_thread(uv_handle_t *h) {
  muster_thread_t *t = (muster_thread_t *)h;
  close(t->ctrl.fd);
  if (t->close_cb)
    t->close_cb(t);
  free(t->worker);
  free_env(t->env);
  muster__thread_limits_free(t->limits);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static void on_ctrl(muster_thread_t *t) {
  tell_online(t);
  if (t->exit_told || !atomic_load_explicit(&t->exited, memory_order_acquire))
    return;
  t->exit_told = 1;
  /* The thread set `exited` as its last act but one (waking us): the join
   * waits at most for it to return. */
  if (t->proc == NULL)
    pthread_join(t->tid, NULL);
  muster__thread_stdio_drain(t->stdio); /* all output comes before exit */
  muster__thread_stdio_close(t->stdio);
  t->stdio = NULL;
  if (t->port) {
    muster__port_deliver(t->port); /* every message comes before exit */
    muster_port_close(t->port, NULL);
    t->port = NULL;
  }
  if (t->closing) {
    uv_close((uv_handle_t *)&t->ctrl, free_thread);
    return;
  }
  uv_unref((uv_handle_t *)&t->ctrl);
  if (t->error && t->o.on_error)
    t->o.on_error(t, t->error);
  if (!t->closing && t->o.on_exit)
    t->o.on_exit(t, t->code);
}

static void on_ctrl_wake(uv_poll_t *h, int status, int events) {
  muster_thread_t *t = (muster_thread_t *)h;
  muster__wake_clear(&t->ctrl);
  on_ctrl(t);
}

int muster__thread_close_handle(uv_handle_t *h) {
  if (muster__wake_of(h, on_ctrl_wake) == NULL)
    return 0;
  muster_thread_close((muster_thread_t *)h, NULL);
  return 1;
}

/* ---- the thread's side --------------------------------------------------- */

static void on_stop(uv_poll_t *h, int status, int events) {
  muster__wake_clear((muster__wake_t *)h);
  uv_stop(h->loop);
}

static void close_threads(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    muster__thread_close_handle(h);
}

static void close_any(uv_handle_t *h, void *arg) {
  if (uv_is_closing(h))
    return;
  /* A thread object being closed is not closing as a handle yet: its
   * handle waits for the join. */
  if (muster__port_close_handle(h) || muster__broadcast_close_handle(h) ||
      muster__thread_close_handle(h))
    return;
  uv_close(h, NULL);
}

static void cleanup(ctx_t *c) {
  muster_thread_t *t = c->t;
  while (c->nhooks > 0) {
    struct hook *hk = &c->hooks[--c->nhooks];
    hk->cb(hk->arg);
  }
  /* No ring after this: the doorbell closes once the loop is done. */
  pthread_mutex_lock(&t->lock);
  t->child_stop = -1;
  pthread_mutex_unlock(&t->lock);
  muster__wake_close(&c->stop, NULL);
  /* Thread objects first: each closes its own port (closing it as a
   * plain port would leave the object pointing at it). They keep the loop
   * running until their threads are joined. */
  uv_walk(&c->loop, close_threads, NULL);
  uv_walk(&c->loop, close_any, NULL);
  /* A uv_stop() from muster_thread_exit() in the entry (the loop never
   * ran) is still pending and cuts the first run short. */
  do
    uv_run(&c->loop, UV_RUN_DEFAULT);
  while (uv_loop_alive(&c->loop));
  uv_loop_close(&c->loop);
  close(c->stop.fd);
  free(c->hooks);
  json_decref(c->worker_json);
  json_decref(env_data);
  env_data = NULL;
}

/* terminate's doorbell and the handle watching it. */
static int stop_init(ctx_t *c) {
  int fd = muster__wake_fd_new(), r;
  c->stop.fd = fd;
  if (fd < 0)
    return fd;
  r = muster__wake_init(&c->loop, &c->stop, fd, on_stop);
  if (r != 0) {
    close(fd);
    c->stop.fd = -1;
  }
  return r;
}

static int start(ctx_t *c) {
  muster_thread_t *t = c->t;
  int r = uv_loop_init(&c->loop);
  if (r != 0)
    return r;
  r = stop_init(c);
  if (r == 0) {
    uv_unref((uv_handle_t *)&c->stop.poll);
    if (t->o.isolation == MUSTER_THREAD_ISOLATION_PROCESS)
      r = muster__tproc_worker_port(&c->loop, t->proc_fd, muster_thread_at_exit,
                                    &t->stop, &c->parent);
    else
      r = muster__port_adopt(&c->loop, &t->child_end, &c->parent);
    if (r != 0)
      muster__wake_close(&c->stop, NULL);
  }
  if (r != 0) {
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    if (c->stop.fd >= 0)
      close(c->stop.fd);
    return r;
  }
  pthread_mutex_lock(&t->lock);
  t->child_stop = c->stop.fd;
  pthread_mutex_unlock(&t->lock);
  return 0;
}

/* Runs the entry and the loop on a started context; the exit code. */
static int run(ctx_t *c, int *error) {
  muster_thread_t *t = c->t;
  int r, code = 0;
  if (!atomic_load(&t->stop)) {
    r = t->entry(&c->loop, t->o.arg);
    if (r != 0)
      code = *error = r;
    else if (!c->exit_called)
      uv_run(&c->loop, UV_RUN_DEFAULT);
  }
  if (c->exit_called)
    code = c->exit_code;
  else if (!*error && atomic_load(&t->stop))
    code = 1;
  if (t->o.isolation == MUSTER_THREAD_ISOLATION_PROCESS)
    muster__tproc_worker_report(code, *error);
  cleanup(c);
  return code;
}

/* Makes `c` this thread's (or worker process's) context, then starts it. */
static int enter(ctx_t *c, muster_thread_t *t) {
  memset(c, 0, sizeof *c);
  c->t = t;
  current = c;
  env_data = t->env_data;
  t->env_data = NULL;
  pthread_setname_np(pthread_self(), t->name);
  return start(c);
}

static void *thread_main(void *arg) {
  muster_thread_t *t = arg;
  ctx_t c;
  int r, code = 0, error = 0, ctrl = t->ctrl.fd;
  r = enter(&c, t);
  if (r != 0) {
    muster__port_end_close(&t->child_end);
    json_decref(env_data);
    env_data = NULL;
    code = error = r;
    goto out;
  }
  atomic_store_explicit(&t->online, 1, memory_order_release);
  muster__wake_ring(ctrl);
  code = run(&c, &error);
out:
  muster__thread_stdio_worker_end(t->stdio);
  current = NULL;
  t->code = code;
  t->error = error;
  atomic_store_explicit(&t->exited, 1, memory_order_release);
  /* `t` may be gone once `exited` is seen; the descriptor is closed only
   * after the join. */
  muster__wake_ring(ctrl);
  return NULL;
}

/* isolation = process: the worker process's main, on its copy of `t`. It
 * never touches t->ctrl (a handle of the parent's loop). */
static int process_main(int fd, void *arg) {
  muster_thread_t *t = arg;
  ctx_t c;
  int error = 0, code;
  t->proc_fd = fd;
  muster__thread_stdio_child(t->stdio);
  if (muster__thread_limits_child(t->limits) != 0 || enter(&c, t) != 0)
    return 1;
  code = run(&c, &error);
  if (code != 0)
    muster__thread_limits_end(t->limits);
  return code;
}

/* ---- creating ------------------------------------------------------------ */

static void free_env(char **env) {
  if (env == NULL)
    return;
  for (char **e = env; *e; e++)
    free(*e);
  free(env);
}

static char **copy_env(const char *const *src) {
  size_t n = 0;
  char **env;
  while (src && src[n])
    n++;
  env = calloc(n + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((env[i] = strdup(src[i])) == NULL) {
      free_env(env);
      return NULL;
    }
  return env;
}

static int copy_worker_data(muster_thread_t *t,
                            const muster_thread_options_t *o) {
  muster__port_msg_t *msg;
  int r;
  if (o->worker_data)
    r = muster__port_msg_json(o->worker_data, (size_t)-1, &msg);
  else if (o->worker_bytes || o->worker_len)
    r = o->worker_bytes
            ? muster__port_msg_copy(MUSTER__PORT_MSG_BYTES, o->worker_bytes,
                                    o->worker_len, (size_t)-1, &msg)
            : MUSTER_EINVAL;
  else
    return 0;
  if (r != 0)
    return r;
  t->worker = malloc(msg->len + 1);
  if (t->worker) {
    memcpy(t->worker, msg->data, msg->len);
    t->worker[msg->len] = '\0';
    t->worker_len = msg->len;
    t->worker_json = o->worker_data != NULL;
  }
  muster__port_msg_free(msg);
  return t->worker ? 0 : MUSTER_ENOMEM;
}

/* Starts the creator's port with the thread's callbacks. */
static void start_port(muster_thread_t *t) {
  muster_port_options_t po = {0};
  po.high_water_mark = t->o.high_water_mark;
  po.max_message_size = t->o.max_message_size;
  po.on_message = on_port_message;
  po.on_messageerror = on_port_messageerror;
  po.data = t;
  muster_port_start(t->port, &po);
  /* The control handle keeps the loop alive for the thread, not the port. */
  muster_port_unref(t->port);
}

static int setup(uv_loop_t *loop, muster_thread_t *t,
                 const muster_thread_options_t *o) {
  muster__port_end_t mine;
  int r = muster__thread_limits_create(
      &o->limits, o->isolation == MUSTER_THREAD_ISOLATION_PROCESS, &t->limits);
  if (r == 0)
    r = copy_worker_data(t, o);
  if (r != 0)
    return r;
  snprintf(t->name, sizeof t->name, "%s", o->name ? o->name : "muster-thread");
  if (!o->share_env &&
      (t->env = copy_env(o->env ? o->env : (const char *const *)environ)) ==
          NULL)
    return MUSTER_ENOMEM;
  if (env_data && (t->env_data = json_deep_copy(env_data)) == NULL)
    return MUSTER_ENOMEM;
  if ((o->on_stdout || o->on_stderr) &&
      (r = muster__thread_stdio_create(
           loop, o->isolation == MUSTER_THREAD_ISOLATION_PROCESS,
           o->on_stdout != NULL, o->on_stderr != NULL, on_output, t,
           &t->stdio)) != 0)
    return r;
  if (o->isolation == MUSTER_THREAD_ISOLATION_PROCESS)
    return 0; /* the port comes with the process (spawn) */
  r = muster__port_pair_ends(&mine, &t->child_end);
  if (r != 0)
    return r;
  r = muster__port_adopt(loop, &mine, &t->port);
  if (r != 0) {
    muster__port_end_close(&mine);
    return r;
  }
  start_port(t);
  return 0;
}

static void undo(muster_thread_t *t) {
  muster__thread_stdio_close(t->stdio);
  muster__thread_limits_free(t->limits);
  if (t->port)
    muster_port_close(t->port, NULL);
  muster__port_end_close(&t->child_end);
  free(t->worker);
  free_env(t->env);
  json_decref(t->env_data);
}

/* pthreads, not uv_thread_create_ex: ThreadSanitizer must see the create
 * and the join (tests/tsan.supp ignores what libuv calls). */
static void proc_online(void *arg) {
  muster_thread_t *t = arg;
  atomic_store(&t->online, 1);
  tell_online(t);
}

/* The worker process ended (the parent's loop thread). Killed by a
 * signal: 128 + the signal, as a shell reports it, or 1 after
 * terminate(), as Node's terminate() reports. */
static void proc_exit(void *arg, int64_t code, int sig, int error) {
  muster_thread_t *t = arg;
  t->signal = sig;
  t->code = sig == 0 ? (int)code : atomic_load(&t->stop) ? 1 : 128 + sig;
  /* A limit it passed says more than the error it ended with (an
   * allocation that failed deep inside a call it made). */
  t->error = muster__thread_limits_reason(t->limits, sig);
  if (t->error == 0)
    t->error = error;
  muster__tproc_worker_close(t->proc);
  atomic_store(&t->exited, 1);
  on_ctrl(t);
}

static int spawn_process(muster_thread_t *t) {
  muster__tproc_worker_hooks_t h = {proc_online, proc_exit, t};
  int r = muster__tproc_worker_start(t->ctrl.poll.loop, process_main, t, &h,
                                     &t->port, &t->proc);
  if (r != 0)
    return r;
  /* The worker process took its own copy with the fork. */
  json_decref(t->env_data);
  t->env_data = NULL;
  if (t->stdio && (r = muster__thread_stdio_parent(t->stdio)) != 0) {
    muster__tproc_worker_close(t->proc);
    t->proc = NULL;
    return r;
  }
  start_port(t);
  return 0;
}

static int spawn(muster_thread_t *t, size_t stack_size) {
  pthread_attr_t attr;
  if (t->o.isolation == MUSTER_THREAD_ISOLATION_PROCESS)
    return spawn_process(t);
  int r = pthread_attr_init(&attr);
  if (r != 0)
    return -r;
  if (stack_size) {
    long page = sysconf(_SC_PAGESIZE);
    if (stack_size < (size_t)PTHREAD_STACK_MIN)
      stack_size = PTHREAD_STACK_MIN;
    stack_size = (stack_size + (size_t)page - 1) / (size_t)page * (size_t)page;
    r = pthread_attr_setstacksize(&attr, stack_size);
  }
  if (r == 0)
    r = pthread_create(&t->tid, &attr, thread_main, t);
  pthread_attr_destroy(&attr);
  return -r;
}

static void free_failed(uv_handle_t *h) {
  muster_thread_t *t = (muster_thread_t *)h;
  close(t->ctrl.fd);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

int muster_thread_create(uv_loop_t *loop, muster_thread_entry_cb entry,
                         const muster_thread_options_t *options,
                         muster_thread_t **out) {
  static const muster_thread_options_t none;
  const muster_thread_options_t *o = options ? options : &none;
  muster_thread_t *t;
  int r;
  if (loop == NULL || entry == NULL || out == NULL ||
      (o->worker_data == NULL && o->worker_len && o->worker_bytes == NULL) ||
      (o->isolation != MUSTER_THREAD_ISOLATION_THREAD &&
       o->isolation != MUSTER_THREAD_ISOLATION_PROCESS))
    return MUSTER_EINVAL;
  /* Two processes cannot share one environment (thread.h). */
  if (o->share_env && o->isolation == MUSTER_THREAD_ISOLATION_PROCESS)
    return MUSTER_ENOTSUP;
  t = calloc(1, sizeof *t);
  if (t == NULL)
    return MUSTER_ENOMEM;
  t->child_stop = -1;
  if (pthread_mutex_init(&t->lock, NULL) != 0) {
    free(t);
    return MUSTER_ENOMEM;
  }
  r = muster__wake_fd_new();
  if (r >= 0) {
    int fd = r;
    r = muster__wake_init(loop, &t->ctrl, fd, on_ctrl_wake);
    if (r != 0)
      close(fd);
  }
  if (r != 0) {
    pthread_mutex_destroy(&t->lock);
    free(t);
    return r;
  }
  t->o = *o;
  t->entry = entry;
  r = setup(loop, t, o);
  if (r == 0) {
    t->id = atomic_fetch_add(&last_id, 1) + 1;
    r = spawn(t, o->stack_size);
  }
  if (r != 0) {
    undo(t);
    uv_close((uv_handle_t *)&t->ctrl, free_failed);
    return r;
  }
  if (o->unref) {
    t->unrefd = 1;
    uv_unref((uv_handle_t *)&t->ctrl);
  }
  *out = t;
  return 0;
}

/* ---- controlling --------------------------------------------------------- */

muster_port_t *muster_thread_port(muster_thread_t *thread) {
  return thread->port;
}

int muster_thread_terminate(muster_thread_t *thread) {
  if (thread == NULL)
    return MUSTER_EINVAL;
  if (atomic_load(&thread->exited) || atomic_exchange(&thread->stop, 1))
    return 0;
  if (thread->proc != NULL) {
    muster__tproc_worker_terminate(thread->proc,
                                   thread->o.terminate_grace_ms
                                       ? thread->o.terminate_grace_ms
                                       : MUSTER_THREAD_TERMINATE_GRACE_MS);
    return 0;
  }
  /* Under the lock: the thread closes the doorbell only after it said
   * (under the lock) that it may no longer be rung. */
  pthread_mutex_lock(&thread->lock);
  if (thread->child_stop >= 0)
    muster__wake_ring(thread->child_stop);
  pthread_mutex_unlock(&thread->lock);
  return 0;
}

void muster_thread_close(muster_thread_t *thread, muster_thread_close_cb cb) {
  if (thread == NULL || thread->closing)
    return;
  thread->closing = 1;
  thread->close_cb = cb;
  muster_thread_terminate(thread);
  muster__thread_stdio_detach(thread->stdio);
  if (thread->port) { /* no callback will come: nothing to deliver */
    muster_port_close(thread->port, NULL);
    thread->port = NULL;
  }
  if (thread->exit_told) {
    uv_close((uv_handle_t *)&thread->ctrl, free_thread);
    return;
  }
  /* Wait for the exit even on an unref'd handle: the thread must be
   * joined before the object goes. */
  uv_ref((uv_handle_t *)&thread->ctrl);
}

uint64_t muster_thread_get_id(const muster_thread_t *thread) {
  return thread->id;
}

int muster_thread_exit_signal(const muster_thread_t *thread) {
  return thread->signal;
}

int muster_thread_running(const muster_thread_t *thread) {
  return !atomic_load(&((muster_thread_t *)thread)->exited);
}

void muster_thread_ref(muster_thread_t *thread) {
  thread->unrefd = 0;
  if (!thread->exit_told)
    uv_ref((uv_handle_t *)&thread->ctrl);
}

void muster_thread_unref(muster_thread_t *thread) {
  thread->unrefd = 1;
  if (!thread->closing)
    uv_unref((uv_handle_t *)&thread->ctrl);
}

void *muster_thread_data(const muster_thread_t *thread) {
  return thread->o.data;
}

void muster_thread_set_data(muster_thread_t *thread, void *data) {
  thread->o.data = data;
}

/* ---- inside the thread --------------------------------------------------- */

int muster_thread_is_main(void) {
  return current == NULL;
}

uint64_t muster_thread_id(void) {
  return current ? current->t->id : 0;
}

muster_port_t *muster_thread_parent_port(void) {
  return current ? current->parent : NULL;
}

json_t *muster_thread_worker_data(void) {
  muster_thread_t *t = current ? current->t : NULL;
  if (t == NULL || !t->worker_json)
    return NULL;
  if (!current->worker_parsed) {
    current->worker_parsed = 1;
    current->worker_json = muster__json_read(t->worker, t->worker_len, NULL);
  }
  return current->worker_json;
}

const void *muster_thread_worker_bytes(size_t *len) {
  muster_thread_t *t = current ? current->t : NULL;
  if (len)
    *len = t && t->worker ? t->worker_len : 0;
  return t ? t->worker : NULL;
}

int muster_thread_should_stop(void) {
  if (current == NULL)
    return 0;
  return current->exit_called ||
         atomic_load_explicit(&current->t->stop, memory_order_relaxed);
}

int muster_thread_at_exit(void (*cb)(void *arg), void *arg) {
  struct hook *h;
  if (cb == NULL || current == NULL)
    return MUSTER_EINVAL;
  h = realloc(current->hooks, (current->nhooks + 1) * sizeof *h);
  if (h == NULL)
    return MUSTER_ENOMEM;
  current->hooks = h;
  h[current->nhooks++] = (struct hook){cb, arg};
  return 0;
}

int muster_thread_exit(int code) {
  if (current == NULL)
    return MUSTER_EINVAL;
  current->exit_called = 1;
  current->exit_code = code;
  uv_stop(&current->loop);
  return 0;
}

FILE *muster_thread_stdout(void) {
  return muster__thread_stdio_file(current ? current->t->stdio : NULL, 1);
}

FILE *muster_thread_stderr(void) {
  return muster__thread_stdio_file(current ? current->t->stdio : NULL, 2);
}

const char *muster_thread_getenv(const char *name) {
  size_t n;
  if (name == NULL)
    return NULL;
  if (current == NULL || current->t->env == NULL)
    return getenv(name);
  n = strlen(name);
  for (char **e = current->t->env; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
      return *e + n + 1;
  return NULL;
}

int muster_thread_set_environment_data(const char *key, const json_t *value) {
  json_t *copy;
  if (key == NULL)
    return MUSTER_EINVAL;
  if (value == NULL) {
    if (env_data)
      json_object_del(env_data, key);
    if (env_data && json_object_size(env_data) == 0) {
      json_decref(env_data);
      env_data = NULL;
    }
    return 0;
  }
  if (env_data == NULL && (env_data = json_object()) == NULL)
    return MUSTER_ENOMEM;
  copy = json_deep_copy(value);
  if (copy == NULL || json_object_set_new(env_data, key, copy) != 0)
    return MUSTER_ENOMEM;
  return 0;
}

json_t *muster_thread_get_environment_data(const char *key) {
  return env_data && key ? json_object_get(env_data, key) : NULL;
}
