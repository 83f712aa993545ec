/* The pool's scheduler, on the pool's loop: a FIFO of tasks, workers that
 * each hold a FIFO of the tasks handed to them, one timer per worker (the
 * running task's timeout, or the idle timeout). src/pool_internal.h has
 * the protocol. */
#include "pool_internal.h"

#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "message_internal.h"
#include "muster/error.h"
#include "muster/thread.h"
#include "port_internal.h"

typedef struct worker_s worker_t;

struct muster_pool_task_s {
  muster_pool_task_t *next;
  muster_pool_t *pool;
  int format; /* MUSTER__PORT_MSG_JSON or _BYTES */
  char *data;
  size_t len;
  uint64_t timeout_ms;
  uint64_t queued_at, started_at; /* uv_hrtime() */
  int tries;
  int canceled; /* handed to a worker, then canceled: drop its reply */
  int died, exit_code, exit_signal; /* its worker died under it */
  muster_pool_done_cb cb;
  void *arg;
};

struct worker_s {
  worker_t *next;
  muster_pool_t *pool;
  muster_thread_t *thread;
  uv_timer_t timer;
  muster_pool_task_t *head, *tail; /* handed to it, in order */
  unsigned n;
  int retiring, closes;
  int hung_up; /* its thread closed its port: on_exit is on its way */
  int error;   /* on_error's: a limit it passed, before on_exit */
  int online;
  uint64_t born, busy_since, busy_ns;
};

struct muster_pool_s {
  uv_loop_t *loop;
  muster_pool_options_t o;
  muster__pool_conf_t conf;
  worker_t *workers;
  unsigned active; /* workers not retiring */
  muster_pool_task_t *qhead, *qtail;
  size_t queued;
  int want_drain, closing, freeing;
  muster_pool_event_cb close_cb;
  uv_timer_t end; /* closed last: the close callback's later turn */
  /* figures */
  uint64_t completed, failed, timed_out, canceled, deaths;
  uint64_t started, wait_ns, wait_max_ns, ran, run_ns;
  uint64_t gone_alive_ns, gone_busy_ns; /* of workers already freed */
};

static void dispatch(muster_pool_t *p);
static void maybe_end(muster_pool_t *p);
static void refill(muster_pool_t *p);

/* ---- tasks --------------------------------------------------------------- */

static void finish(muster_pool_task_t *t, int status, muster_message_t *res) {
  muster_pool_t *p = t->pool;
  if (status == 0)
    p->completed++;
  else if (status == MUSTER_ETIMEDOUT)
    p->timed_out++;
  else if (status == MUSTER_ECANCELED)
    p->canceled++;
  else
    p->failed++;
  if (t->cb)
    t->cb(t, status, res, t->arg);
  free(t->data);
  free(t);
}

static void enqueue_front(muster_pool_t *p, muster_pool_task_t *first,
                          muster_pool_task_t *last, size_t n) {
  if (first == NULL)
    return;
  last->next = p->qhead;
  p->qhead = first;
  if (p->qtail == NULL)
    p->qtail = last;
  p->queued += n;
}

/* ---- workers ------------------------------------------------------------- */

static void worker_closed(muster_pool_t *p, worker_t *w) {
  uint64_t now = uv_hrtime();
  for (worker_t **pp = &p->workers; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  p->gone_alive_ns += now - w->born;
  p->gone_busy_ns += w->busy_ns;
  free(w);
  maybe_end(p);
}

static void on_thread_closed(muster_thread_t *t) {
  worker_t *w = muster_thread_data(t);
  if (--w->closes == 0)
    worker_closed(w->pool, w);
}

static void on_timer_closed(uv_handle_t *h) {
  worker_t *w = h->data;
  if (--w->closes == 0)
    worker_closed(w->pool, w);
}

static void busy_end(worker_t *w) {
  w->busy_ns += uv_hrtime() - w->busy_since;
}

/* Stops a worker: what it holds is the caller's to deal with first. It
 * is terminated, not closed: its output up to its end is still delivered,
 * and on_worker_exit closes it. */
static void retire(worker_t *w) {
  if (w->retiring)
    return;
  if (w->n)
    busy_end(w);
  w->retiring = 1;
  w->pool->active--;
  uv_timer_stop(&w->timer);
  muster_thread_terminate(w->thread);
}

static void close_worker(worker_t *w) {
  w->closes = 2;
  uv_close((uv_handle_t *)&w->timer, on_timer_closed);
  muster_thread_close(w->thread, on_thread_closed);
}

/* Takes the tasks a worker holds back to the front of the queue, in
 * order, the first one excepted when `skip_head` (the caller deals with
 * it); canceled ones are dropped, their callbacks having run. */
static void requeue(worker_t *w, int skip_head) {
  muster_pool_task_t *t = w->head, *first = NULL, *last = NULL;
  size_t n = 0;
  if (skip_head && t)
    t = t->next;
  w->head = w->tail = NULL;
  w->n = 0;
  while (t) {
    muster_pool_task_t *next = t->next;
    if (t->canceled) {
      free(t->data);
      free(t);
    } else {
      t->next = NULL;
      if (last)
        last->next = t;
      else
        first = t;
      last = t;
      n++;
    }
    t = next;
  }
  enqueue_front(w->pool, first, last, n);
}

static void on_timer(uv_timer_t *timer);

/* A task's time starts when its worker does: not while a worker process
 * is still being forked (milliseconds; far more under a sanitizer). */
static void arm(worker_t *w) {
  muster_pool_t *p = w->pool;
  uint64_t ms;
  if (!w->online) {
    uv_timer_stop(&w->timer);
    return;
  }
  if (w->head) {
    ms = w->head->timeout_ms ? w->head->timeout_ms : p->o.task_timeout_ms;
    w->head->started_at = uv_hrtime();
  } else {
    ms = p->active > p->o.min_threads ? p->o.idle_timeout_ms : 0;
  }
  if (ms)
    uv_timer_start(&w->timer, on_timer, ms, 0);
  else
    uv_timer_stop(&w->timer);
}

static void on_timer(uv_timer_t *timer) {
  worker_t *w = timer->data;
  muster_pool_t *p = w->pool;
  muster_pool_task_t *t = w->head;
  if (t == NULL) { /* idle for idle_timeout_ms */
    if (p->active > p->o.min_threads)
      retire(w);
    return;
  }
  /* The task ran too long. Its thread may be deep in the handler: it is
   * asked to stop and replaced; the tasks behind it run elsewhere. */
  retire(w);
  requeue(w, 1);
  if (t->canceled) {
    free(t->data);
    free(t);
  } else {
    finish(t, MUSTER_ETIMEDOUT, NULL);
  }
  refill(p);
  dispatch(p);
  maybe_end(p);
}

static void on_reply(muster_thread_t *thread, muster_message_t *m) {
  worker_t *w = muster_thread_data(thread);
  muster_pool_t *p = w->pool;
  muster_pool_task_t *t = w->head;
  muster_message_t res;
  int status, r;
  if (t == NULL || w->retiring)
    return;
  w->head = t->next;
  if (w->head == NULL)
    w->tail = NULL;
  w->n--;
  p->ran++;
  p->run_ns += uv_hrtime() - t->started_at;
  if (w->n == 0)
    busy_end(w);
  arm(w);
  r = muster__pool_reply_decode(m, &res, &status);
  if (r != 0)
    status = r;
  if (t->canceled) {
    free(t->data);
    free(t);
  } else {
    finish(t, status, r == 0 && status == 0 ? &res : NULL);
  }
  if (r == 0 && status == 0)
    muster__message_done(&res);
  dispatch(p);
  maybe_end(p);
}

static void on_worker_online(muster_thread_t *thread) {
  worker_t *w = muster_thread_data(thread);
  w->online = 1;
  if (!w->retiring)
    arm(w);
}

/* A process-isolated worker passed one of its limits (it ends next). */
static void on_worker_error(muster_thread_t *thread, int err) {
  worker_t *w = muster_thread_data(thread);
  w->error = err;
}

/* A worker ended: one that was stopped, or one that died while the pool
 * still counted on it. */
static void on_worker_exit(muster_thread_t *thread, int code) {
  worker_t *w = muster_thread_data(thread);
  muster_pool_t *p = w->pool;
  muster_pool_task_t *t = w->head;
  if (w->retiring) {
    close_worker(w);
    return;
  }
  p->deaths++;
  retire(w);
  requeue(w, 1);
  if (t) {
    t->died = 1;
    t->exit_code = code;
    t->exit_signal = muster_thread_exit_signal(thread);
  }
  if (t && t->canceled) {
    free(t->data);
    free(t);
  } else if (t && p->o.retry_on_death && t->tries < 2) {
    t->next = NULL;
    enqueue_front(p, t, t, 1);
  } else if (t) {
    finish(t, w->error ? w->error : MUSTER_ECONNRESET, NULL);
  }
  close_worker(w);
  /* Not for a worker that never came online (it could not set a limit,
   * say): its replacement would die the same way, again and again. */
  if (w->online)
    refill(p);
  dispatch(p);
  maybe_end(p);
}

static void on_worker_output(worker_t *w, muster_pool_output_cb cb,
                             muster_thread_t *thread, const char *data,
                             size_t len) {
  if (cb)
    cb(w->pool, muster_thread_get_id(thread), data, len);
}

static void on_worker_stdout(muster_thread_t *thread, const char *data,
                             size_t len) {
  worker_t *w = muster_thread_data(thread);
  on_worker_output(w, w->pool->o.on_stdout, thread, data, len);
}

static void on_worker_stderr(muster_thread_t *thread, const char *data,
                             size_t len) {
  worker_t *w = muster_thread_data(thread);
  on_worker_output(w, w->pool->o.on_stderr, thread, data, len);
}

static int spawn(muster_pool_t *p, worker_t **out) {
  muster_thread_options_t to = {0};
  worker_t *w = calloc(1, sizeof *w);
  int r;
  if (w == NULL)
    return MUSTER_ENOMEM;
  w->pool = p;
  r = uv_timer_init(p->loop, &w->timer);
  if (r != 0) {
    free(w);
    return r;
  }
  w->timer.data = w;
  to.arg = &p->conf;
  to.name = p->o.name ? p->o.name : "muster-pool";
  to.stack_size = p->o.stack_size;
  to.isolation = p->o.isolation;
  to.terminate_grace_ms = p->o.terminate_grace_ms;
  to.limits = p->o.limits;
  /* A thread need not copy the environment; a process has its own. */
  to.share_env = p->o.isolation == MUSTER_THREAD_ISOLATION_THREAD;
  to.on_online = on_worker_online;
  to.on_message = on_reply;
  to.on_error = on_worker_error;
  to.on_exit = on_worker_exit;
  to.on_stdout = p->o.on_stdout ? on_worker_stdout : NULL;
  to.on_stderr = p->o.on_stderr ? on_worker_stderr : NULL;
  to.data = w;
  r = muster_thread_create(p->loop, muster__pool_worker_entry, &to, &w->thread);
  if (r != 0) {
    uv_close((uv_handle_t *)&w->timer, (uv_close_cb)free);
    return r;
  }
  w->born = uv_hrtime();
  w->next = p->workers;
  p->workers = w;
  p->active++;
  *out = w;
  return 0;
}

/* Replaces dead or timed-out workers up to min_threads. A worker that
 * cannot be made now is made by the next dispatch that needs one. */
static void refill(muster_pool_t *p) {
  worker_t *w;
  while (!p->closing && p->active < p->o.min_threads && spawn(p, &w) == 0)
    ;
}

/* ---- scheduling ---------------------------------------------------------- */

static int hand_over(worker_t *w, muster_pool_task_t *t) {
  int r = muster__port_post_raw(muster_thread_port(w->thread), t->format,
                                t->data, t->len);
  uint64_t now = uv_hrtime(), wait = now - t->queued_at;
  if (r < 0)
    return r;
  t->tries++;
  t->died = 0;
  t->next = NULL;
  if (w->tail)
    w->tail->next = t;
  else
    w->head = t;
  w->tail = t;
  w->pool->started++;
  w->pool->wait_ns += wait;
  if (wait > w->pool->wait_max_ns)
    w->pool->wait_max_ns = wait;
  if (w->n++ == 0) {
    w->busy_since = now;
    arm(w);
  }
  return 0;
}

/* An idle worker first; else a new one while there is room; else the
 * least loaded worker that can take one more. */
static worker_t *pick(muster_pool_t *p) {
  worker_t *best = NULL;
  for (worker_t *w = p->workers; w; w = w->next) {
    if (w->retiring || w->hung_up || w->n >= p->o.tasks_per_worker)
      continue;
    if (w->n == 0)
      return w;
    if (best == NULL || w->n < best->n)
      best = w;
  }
  if (p->active < p->o.max_threads && spawn(p, &best) == 0)
    return best;
  return best;
}

static void dispatch(muster_pool_t *p) {
  while (p->qhead) {
    worker_t *w = pick(p);
    muster_pool_task_t *t = p->qhead;
    int r;
    if (w == NULL)
      break;
    p->qhead = t->next;
    if (p->qhead == NULL)
      p->qtail = NULL;
    p->queued--;
    r = hand_over(w, t);
    if (r == MUSTER_ENOTCONN) { /* its thread is ending: try another */
      w->hung_up = 1;
      t->next = NULL;
      enqueue_front(p, t, t, 1);
    } else if (r != 0) {
      finish(t, r, NULL);
    }
  }
  if (p->want_drain && p->queued < p->o.max_queue && !p->closing) {
    p->want_drain = 0;
    if (p->o.on_drain)
      p->o.on_drain(p);
  }
}

/* ---- the pool ------------------------------------------------------------ */

static void free_pool(uv_handle_t *h) {
  muster_pool_t *p = h->data;
  if (p->close_cb)
    p->close_cb(p);
  free(p);
}

/* Closing: once nothing is queued and no worker holds a task, the workers
 * stop; once the last is freed, so is the pool. */
static void maybe_end(muster_pool_t *p) {
  if (!p->closing || p->freeing || p->qhead)
    return;
  for (worker_t *w = p->workers; w; w = w->next)
    if (w->n)
      return;
  for (worker_t *w = p->workers; w; w = w->next)
    retire(w);
  if (p->workers == NULL) {
    p->freeing = 1;
    uv_close((uv_handle_t *)&p->end, free_pool);
  }
}

int muster_pool_create(uv_loop_t *loop, const muster_pool_options_t *o,
                       muster_pool_t **out) {
  muster_pool_t *p;
  int r = 0;
  if (loop == NULL || o == NULL || out == NULL || o->handler == NULL ||
      (o->max_threads && o->min_threads > o->max_threads) ||
      (o->isolation != MUSTER_THREAD_ISOLATION_THREAD &&
       o->isolation != MUSTER_THREAD_ISOLATION_PROCESS))
    return MUSTER_EINVAL;
  /* Refused here rather than by the first worker: nothing is made. */
  if (o->isolation == MUSTER_THREAD_ISOLATION_THREAD &&
      (o->limits.max_memory || o->limits.max_cpu_seconds ||
       o->limits.max_open_files))
    return MUSTER_ENOTSUP;
  p = calloc(1, sizeof *p);
  if (p == NULL)
    return MUSTER_ENOMEM;
  p->loop = loop;
  p->o = *o;
  if (p->o.max_threads == 0)
    p->o.max_threads = uv_available_parallelism();
  if (p->o.min_threads == 0)
    p->o.min_threads = 1;
  if (p->o.min_threads > p->o.max_threads)
    p->o.min_threads = p->o.max_threads;
  if (p->o.tasks_per_worker == 0)
    p->o.tasks_per_worker = 1;
  if (p->o.max_queue == 0)
    p->o.max_queue = (size_t)-1;
  p->conf.handler = o->handler;
  p->conf.arg = o->handler_arg;
  r = uv_timer_init(loop, &p->end);
  if (r != 0) {
    free(p);
    return r;
  }
  p->end.data = p;
  for (unsigned i = 0; i < p->o.min_threads && r == 0; i++) {
    worker_t *w;
    r = spawn(p, &w);
  }
  if (r != 0) { /* the workers made so far stop; the pool goes after them */
    p->closing = 1;
    maybe_end(p);
    return r;
  }
  *out = p;
  return 0;
}

static int run(muster_pool_t *p, int format, char *data, size_t len,
               const muster_pool_run_options_t *ro, muster_pool_done_cb cb,
               void *arg, muster_pool_task_t **out) {
  muster_pool_task_t *t = calloc(1, sizeof *t);
  if (t == NULL) {
    free(data);
    return MUSTER_ENOMEM;
  }
  t->pool = p;
  t->format = format;
  t->data = data;
  t->len = len;
  t->timeout_ms = ro ? ro->timeout_ms : 0;
  t->queued_at = uv_hrtime();
  t->cb = cb;
  t->arg = arg;
  if (p->qtail)
    p->qtail->next = t;
  else
    p->qhead = t;
  p->qtail = t;
  p->queued++;
  if (out)
    *out = t;
  /* Handed over now when a worker is free; its reply comes on a later
   * turn in any case, so cb never runs inside run(). */
  dispatch(p);
  return 0;
}

static int run_check(muster_pool_t *p, muster_pool_done_cb cb) {
  if (p == NULL || cb == NULL)
    return MUSTER_EINVAL;
  if (p->closing)
    return MUSTER_ENOTCONN;
  if (p->queued >= p->o.max_queue) {
    p->want_drain = 1;
    return MUSTER_EAGAIN;
  }
  return 0;
}

int muster_pool_run(muster_pool_t *pool, const json_t *task,
                    const muster_pool_run_options_t *options,
                    muster_pool_done_cb cb, void *arg,
                    muster_pool_task_t **out) {
  struct muster__buf b = {NULL, 0, 0};
  int r = run_check(pool, cb);
  if (r == 0 && task == NULL)
    r = MUSTER_EINVAL;
  if (r == 0)
    r = muster__json_write(task, &b, MUSTER_PORT_MAX_MESSAGE_SIZE);
  if (r != 0) {
    free(b.data);
    return r;
  }
  return run(pool, MUSTER__PORT_MSG_JSON, b.data, b.len, options, cb, arg, out);
}

int muster_pool_run_bytes(muster_pool_t *pool, const void *bytes, size_t len,
                          const muster_pool_run_options_t *options,
                          muster_pool_done_cb cb, void *arg,
                          muster_pool_task_t **out) {
  char *copy;
  int r = run_check(pool, cb);
  if (r == 0 && bytes == NULL && len)
    r = MUSTER_EINVAL;
  if (r == 0 && len > MUSTER_PORT_MAX_MESSAGE_SIZE)
    r = MUSTER_EMSGSIZE;
  if (r != 0)
    return r;
  copy = malloc(len ? len : 1);
  if (copy == NULL)
    return MUSTER_ENOMEM;
  if (len)
    memcpy(copy, bytes, len);
  return run(pool, MUSTER__PORT_MSG_BYTES, copy, len, options, cb, arg, out);
}

int muster_pool_cancel(muster_pool_task_t *task) {
  muster_pool_t *p;
  muster_pool_done_cb cb;
  if (task == NULL || task->canceled)
    return MUSTER_EINVAL;
  p = task->pool;
  for (muster_pool_task_t **pp = &p->qhead, *prev = NULL; *pp;
       prev = *pp, pp = &(*pp)->next)
    if (*pp == task) {
      *pp = task->next;
      if (p->qtail == task)
        p->qtail = prev;
      p->queued--;
      finish(task, MUSTER_ECANCELED, NULL);
      dispatch(p);
      return 0;
    }
  /* A worker has it: it runs there, and its reply is dropped. */
  task->canceled = 1;
  cb = task->cb;
  task->cb = NULL;
  p->canceled++;
  cb(task, MUSTER_ECANCELED, NULL, task->arg);
  return 0;
}

int muster_pool_task_exit(const muster_pool_task_t *task, int *code,
                          int *signal) {
  if (task == NULL || !task->died)
    return 0;
  if (code)
    *code = task->exit_code;
  if (signal)
    *signal = task->exit_signal;
  return 1;
}

void muster_pool_stats(const muster_pool_t *p, muster_pool_stats_t *s) {
  uint64_t now = uv_hrtime(), alive = p->gone_alive_ns, busy = p->gone_busy_ns;
  memset(s, 0, sizeof *s);
  for (const worker_t *w = p->workers; w; w = w->next) {
    alive += now - w->born;
    busy += w->busy_ns + (w->n && !w->retiring ? now - w->busy_since : 0);
    if (!w->retiring) {
      s->threads++;
      s->busy += w->n > 0;
    }
  }
  s->queued = p->queued;
  s->completed = p->completed;
  s->failed = p->failed;
  s->timed_out = p->timed_out;
  s->canceled = p->canceled;
  s->worker_deaths = p->deaths;
  s->utilization = alive ? (double)busy / (double)alive : 0;
  s->wait_mean_ms = p->started ? p->wait_ns / 1e6 / (double)p->started : 0;
  s->wait_max_ms = p->wait_max_ns / 1e6;
  s->run_mean_ms = p->ran ? p->run_ns / 1e6 / (double)p->ran : 0;
}

void muster_pool_close(muster_pool_t *pool, muster_pool_close_mode_t mode,
                       muster_pool_event_cb cb) {
  if (pool == NULL || pool->closing)
    return;
  pool->closing = 1;
  pool->close_cb = cb;
  if (mode == MUSTER_POOL_CANCEL)
    while (pool->qhead) {
      muster_pool_task_t *t = pool->qhead;
      pool->qhead = t->next;
      pool->queued--;
      finish(t, MUSTER_ECANCELED, NULL);
    }
  if (pool->qhead == NULL)
    pool->qtail = NULL;
  maybe_end(pool);
}

void *muster_pool_data(const muster_pool_t *pool) {
  return pool->o.data;
}
