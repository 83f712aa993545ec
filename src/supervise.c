/* muster_supervise_*: one supervised process as a row of a state table.
 *
 * Every event (a call from the owner, or the row's timer) is looked up in
 * table[state][event], which names the action to run and the state it leads
 * to. Actions do the side effects (hooks, timers) and return the next state;
 * dispatch() then reports the transition. Keeping every decision in the
 * table is what makes the row auditable: a (state, event) pair that is not
 * an action is listed too, as ignored, rejected with an error, or a bug.
 */
#include "muster/error.h"
#include "muster/supervise.h"
#include "supervise_internal.h"
#include "supervise_watch.h"

#include <assert.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum event {
  EV_START,
  EV_STOP,
  EV_RESTART,
  EV_READY,
  EV_EXIT,
  EV_LEAVE,
  EV_TIMER,
  EV_COUNT
};

#define NSTATES (MUSTER_SUPERVISE_ERRORED + 1)

/* Where a STOPPING row goes once the exit is reported. */
enum after_stop { AFTER_STOPPED, AFTER_ERRORED, AFTER_START };

/* How far the stop escalation has gone. */
enum stop_phase { PHASE_GRACEFUL, PHASE_SIGNAL, PHASE_KILL };

struct muster_supervisor_s {
  uv_loop_t *loop;
  uv_timer_t timer; /* the one timer: ready timeout, backoff or escalation */
  muster_supervise_options_t o; /* o.policy.no_restart_codes -> codes */
  int *codes;
  uint64_t *ring; /* times of the last automatic restarts, oldest at head */
  unsigned ring_head, ring_count;

  muster_supervise_state_t state;
  enum after_stop after;
  enum stop_phase phase;
  uint64_t wait_ms; /* the next escalation wait; doubles at each step */

  int pid;
  int started_once;
  unsigned restarts;
  uint64_t start_time;
  uint64_t online_time;
  int was_online;
  uint64_t next_delay; /* the delay of the next automatic restart */
  uint64_t backoff_ms; /* the delay of the pending one (BACKOFF) */
  int restart_now;     /* BACKOFF with no delay: restart in this call */

  int has_exit;
  int64_t exit_status;
  int term_signal;

  muster_supervise_reason_t reason; /* valid in ERRORED */
  int err;
  int error_pending;                     /* on_error still to be called */
  muster_supervise_reason_t stop_reason; /* ERRORED after a failed start */
  int stop_err;

  int in_hook;
  int closing;
  unsigned gen; /* bumped at each transition: detects nested ones */
  int result;   /* what the current event call returns */
  muster_supervise_close_cb close_cb;

  /* supervise_child.c's state, for a supervised child. */
  void *impl;
  muster__supervise_impl_close_fn impl_close;
  const muster__supervise_watch_t *watch; /* a replace operation */
  void *watch_arg;
};

typedef muster_supervise_state_t (*action_fn)(muster_supervisor_t *sup);

static muster_supervise_state_t act_spawn(muster_supervisor_t *sup);
static muster_supervise_state_t act_respawn(muster_supervisor_t *sup);
static muster_supervise_state_t act_online(muster_supervisor_t *sup);
static muster_supervise_state_t act_stop(muster_supervisor_t *sup);
static muster_supervise_state_t act_restart(muster_supervisor_t *sup);
static muster_supervise_state_t act_leave(muster_supervisor_t *sup);
static muster_supervise_state_t act_ready_timeout(muster_supervisor_t *sup);
static muster_supervise_state_t act_exited(muster_supervisor_t *sup);
static muster_supervise_state_t act_escalate(muster_supervisor_t *sup);
static muster_supervise_state_t act_queue_start(muster_supervisor_t *sup);
static muster_supervise_state_t act_unqueue(muster_supervisor_t *sup);
static muster_supervise_state_t act_stopped(muster_supervisor_t *sup);
static muster_supervise_state_t act_cancel(muster_supervisor_t *sup);
static muster_supervise_state_t act_clear(muster_supervisor_t *sup);

/* A cell: run `action`, which must lead to `next` (POLICY: the action
 * decides, e.g. from the restart policy). Without an action the event is
 * ignored (err 0, returns 0), rejected (err < 0, returned to the caller), or
 * impossible (BUG: our own timer fired in a state that never arms it). */
struct cell {
  action_fn action;
  int next;
  int err;
};
/* The table is laid out by hand. */
/* clang-format off */
#define POLICY (-1)
#define KEEP (-2)
#define BUG (-3)
#define GO(fn, to) {fn, to, 0}
#define IGNORE {NULL, KEEP, 0}
#define REJECT(e) {NULL, KEEP, e}
#define NEVER {NULL, BUG, 0}

#define S_STOPPED MUSTER_SUPERVISE_STOPPED
#define S_STARTING MUSTER_SUPERVISE_STARTING
#define S_ONLINE MUSTER_SUPERVISE_ONLINE
#define S_STOPPING MUSTER_SUPERVISE_STOPPING
#define S_BACKOFF MUSTER_SUPERVISE_BACKOFF
#define S_ERRORED MUSTER_SUPERVISE_ERRORED

/* The state table. docs/supervise.md has the same table with the reasons;
 * change both together. POLICY cells name the possible states. */
static const struct cell table[NSTATES][EV_COUNT] = {
  [S_STOPPED] = {
    [EV_START]   = GO(act_spawn, POLICY),       /* STARTING ONLINE ERRORED */
    [EV_STOP]    = IGNORE,                      /* nothing to stop */
    [EV_RESTART] = GO(act_spawn, POLICY),       /* STARTING ONLINE ERRORED */
    [EV_READY]   = IGNORE,                      /* late word of the last one */
    [EV_EXIT]    = REJECT(MUSTER_ESRCH),        /* there is no process */
    [EV_LEAVE]   = IGNORE,                      /* late word of the last one */
    [EV_TIMER]   = NEVER,
  },
  [S_STARTING] = {
    [EV_START]   = REJECT(MUSTER_EALREADY),
    [EV_STOP]    = GO(act_stop, S_STOPPING),
    [EV_RESTART] = GO(act_restart, S_STOPPING),
    [EV_READY]   = GO(act_online, S_ONLINE),
    [EV_EXIT]    = GO(act_exited, POLICY),      /* BACKOFF STOPPED ERRORED */
    [EV_LEAVE]   = GO(act_leave, S_STOPPING),
    [EV_TIMER]   = GO(act_ready_timeout, S_STOPPING), /* then ERRORED */
  },
  [S_ONLINE] = {
    [EV_START]   = REJECT(MUSTER_EALREADY),
    [EV_STOP]    = GO(act_stop, S_STOPPING),
    [EV_RESTART] = GO(act_restart, S_STOPPING),
    [EV_READY]   = IGNORE,                      /* e.g. a second 'listening' */
    [EV_EXIT]    = GO(act_exited, POLICY),      /* BACKOFF STOPPED ERRORED */
    [EV_LEAVE]   = GO(act_leave, S_STOPPING),
    [EV_TIMER]   = NEVER,
  },
  [S_STOPPING] = {
    [EV_START]   = GO(act_queue_start, S_STOPPING),
    [EV_STOP]    = GO(act_unqueue, S_STOPPING),
    [EV_RESTART] = GO(act_queue_start, S_STOPPING),
    [EV_READY]   = IGNORE,                      /* too late to matter */
    [EV_EXIT]    = GO(act_stopped, POLICY),     /* STOPPED ERRORED STARTING
                                                   ONLINE (queued start) */
    [EV_LEAVE]   = IGNORE,                      /* already on its way out */
    [EV_TIMER]   = GO(act_escalate, S_STOPPING),
  },
  [S_BACKOFF] = {
    [EV_START]   = GO(act_spawn, POLICY),       /* at once */
    [EV_STOP]    = GO(act_cancel, S_STOPPED),   /* no restart */
    [EV_RESTART] = GO(act_spawn, POLICY),
    [EV_READY]   = IGNORE,
    [EV_EXIT]    = REJECT(MUSTER_ESRCH),
    [EV_LEAVE]   = IGNORE,
    [EV_TIMER]   = GO(act_respawn, POLICY),     /* STARTING ONLINE ERRORED */
  },
  [S_ERRORED] = {
    [EV_START]   = GO(act_spawn, POLICY),
    [EV_STOP]    = GO(act_clear, S_STOPPED),
    [EV_RESTART] = GO(act_spawn, POLICY),
    [EV_READY]   = IGNORE,
    [EV_EXIT]    = REJECT(MUSTER_ESRCH),
    [EV_LEAVE]   = IGNORE,
    [EV_TIMER]   = NEVER,
  },
};
/* clang-format on */

/* ---- helpers ------------------------------------------------------------ */

static uint64_t now_ms(const muster_supervisor_t *sup) {
  return uv_now(sup->loop);
}

static void timer_cb(uv_timer_t *timer);

/* A wait counts from the moment its action was taken. uv_now() is the time
 * the loop iteration began; after a slow fork and exec in the start hook
 * (tens of ms on a loaded machine) a ready timeout armed from it would give
 * the process that much less than ready_timeout_ms. */
static void arm(muster_supervisor_t *sup, uint64_t ms) {
  uv_update_time(sup->loop);
  uv_timer_start(&sup->timer, timer_cb, ms, 0);
}

/* The next escalation wait, without wrapping for absurd timeouts. */
static void double_wait(muster_supervisor_t *sup) {
  if (sup->wait_ms <= UINT64_MAX / 2)
    sup->wait_ms *= 2;
}

static void disarm(muster_supervisor_t *sup) {
  uv_timer_stop(&sup->timer);
  sup->restart_now = 0;
}

/* The first delay of a series: none with MUSTER_SUPERVISE_RESTART_AT_ONCE
 * (and the base after that one, see grow()). */
static uint64_t first_delay(const muster_supervisor_t *sup) {
  if (sup->o.policy.flags & MUSTER_SUPERVISE_RESTART_AT_ONCE)
    return 0;
  return sup->o.policy.backoff_base_ms;
}

static void set_error(muster_supervisor_t *sup,
                      muster_supervise_reason_t reason, int err) {
  sup->reason = reason;
  sup->err = err;
  sup->error_pending = 1;
}

static int call_signal(muster_supervisor_t *sup, int signo) {
  sup->in_hook = 1;
  int r = sup->o.signal(sup, signo);
  sup->in_hook = 0;
  return r;
}

/* A start asked for by the owner is a fresh beginning: the crash history
 * and the backoff belong to the runs before it. */
static void forget_history(muster_supervisor_t *sup) {
  sup->ring_head = 0;
  sup->ring_count = 0;
  sup->next_delay = first_delay(sup);
}

static muster_supervise_state_t spawn(muster_supervisor_t *sup) {
  disarm(sup);
  sup->backoff_ms = 0;
  sup->reason = MUSTER_SUPERVISE_NO_ERROR;
  sup->err = 0;
  if (sup->started_once)
    sup->restarts++;
  sup->started_once = 1;

  int pid = 0;
  sup->in_hook = 1;
  int r = sup->o.start(sup, &pid);
  sup->in_hook = 0;
  if (r < 0) {
    set_error(sup, MUSTER_SUPERVISE_START_FAILED, r);
    sup->result = r;
    return S_ERRORED;
  }
  sup->pid = pid;
  uv_update_time(sup->loop); /* see arm() */
  sup->start_time = now_ms(sup);
  sup->was_online = 0;
  if (sup->o.policy.flags & MUSTER_SUPERVISE_WAIT_READY) {
    arm(sup, sup->o.policy.ready_timeout_ms);
    return S_STARTING;
  }
  sup->online_time = sup->start_time;
  sup->was_online = 1;
  return S_ONLINE;
}

/* The first step of the stop schedule. The graceful hook gets the first
 * wait; when there is none, or it fails (say the channel is already gone),
 * the stop signal goes out at once and gets the first wait instead. */
static muster_supervise_state_t begin_stop(muster_supervisor_t *sup) {
  disarm(sup);
  sup->wait_ms = sup->o.policy.kill_timeout_ms;
  int r = -1;
  if (sup->o.graceful != NULL) {
    sup->in_hook = 1;
    r = sup->o.graceful(sup);
    sup->in_hook = 0;
  }
  if (r == 0) {
    sup->phase = PHASE_GRACEFUL;
  } else {
    call_signal(sup, sup->o.policy.stop_signal);
    sup->phase = PHASE_SIGNAL;
  }
  arm(sup, sup->wait_ms);
  double_wait(sup);
  return S_STOPPING;
}

static void record_exit(muster_supervisor_t *sup) {
  /* exit_status / term_signal were stored by muster_supervise_exited. */
  disarm(sup);
  sup->has_exit = 1;
  sup->pid = 0;
}

static int no_restart_code(const muster_supervisor_t *sup) {
  if (sup->term_signal != 0)
    return 0;
  for (size_t i = 0; i < sup->o.policy.no_restart_count; i++)
    if ((int64_t)sup->codes[i] == sup->exit_status)
      return 1;
  return 0;
}

/* The sliding window: `limit` timestamps of the last automatic restarts.
 * If the oldest of a full ring is younger than the window, `limit` restarts
 * already happened within it and this one would be one too many. The age
 * of the process plays no part (PM2 counts only in an app's first
 * min_uptime * max_restarts ms, so a loop that starts later runs forever). */
static int crash_loop(muster_supervisor_t *sup, uint64_t now) {
  unsigned limit = sup->o.policy.crash_limit;
  if (sup->ring_count == limit) {
    if (now - sup->ring[sup->ring_head] < sup->o.policy.crash_window_ms)
      return 1;
    sup->ring[sup->ring_head] = now;
    sup->ring_head = (sup->ring_head + 1) % limit;
    return 0;
  }
  sup->ring[(sup->ring_head + sup->ring_count) % limit] = now;
  sup->ring_count++;
  return 0;
}

static uint64_t grow(const muster_supervisor_t *sup, uint64_t delay) {
  const muster_supervise_policy_t *p = &sup->o.policy;
  if (delay == 0)
    return p->backoff_base_ms; /* after a restart at once */
  double next = (double)delay * p->backoff_factor;
  if (next >= (double)p->backoff_max_ms)
    return p->backoff_max_ms;
  return (uint64_t)next;
}

/* ---- actions -------------------------------------------------------------
 * Each runs inside dispatch() and returns the next state; none calls the
 * owner's callbacks (dispatch does, once the state is set). */

static muster_supervise_state_t act_spawn(muster_supervisor_t *sup) {
  forget_history(sup);
  return spawn(sup);
}

static muster_supervise_state_t act_respawn(muster_supervisor_t *sup) {
  return spawn(sup);
}

static muster_supervise_state_t act_online(muster_supervisor_t *sup) {
  disarm(sup);
  sup->online_time = now_ms(sup);
  sup->was_online = 1;
  return S_ONLINE;
}

static muster_supervise_state_t act_stop(muster_supervisor_t *sup) {
  sup->after = AFTER_STOPPED;
  return begin_stop(sup);
}

static muster_supervise_state_t act_restart(muster_supervisor_t *sup) {
  sup->after = AFTER_START;
  return begin_stop(sup);
}

/* The process is draining by itself: no graceful hook, the first wait is
 * its to use. */
static muster_supervise_state_t act_leave(muster_supervisor_t *sup) {
  disarm(sup);
  sup->after = AFTER_STOPPED;
  sup->phase = PHASE_GRACEFUL;
  sup->wait_ms = sup->o.policy.kill_timeout_ms;
  arm(sup, sup->wait_ms);
  double_wait(sup);
  return S_STOPPING;
}

/* Never "ready anyway": a process that missed its deadline is stopped and
 * the start reported as failed, so a rolling reload keeps the old one. */
static muster_supervise_state_t act_ready_timeout(muster_supervisor_t *sup) {
  sup->after = AFTER_ERRORED;
  sup->stop_reason = MUSTER_SUPERVISE_START_FAILED;
  sup->stop_err = MUSTER_ETIMEDOUT;
  return begin_stop(sup);
}

static muster_supervise_state_t act_exited(muster_supervisor_t *sup) {
  const muster_supervise_policy_t *p = &sup->o.policy;
  uint64_t now = now_ms(sup);
  int stable = sup->was_online && now - sup->online_time >= p->min_uptime_ms;
  int failed = sup->term_signal != 0 || sup->exit_status != 0;
  record_exit(sup);

  if (p->restart == MUSTER_RESTART_NEVER || no_restart_code(sup))
    return S_STOPPED;
  if (p->restart == MUSTER_RESTART_ON_FAILURE && !failed)
    return S_STOPPED;
  if (crash_loop(sup, now)) {
    set_error(sup, MUSTER_SUPERVISE_CRASH_LOOP, 0);
    return S_ERRORED;
  }
  if (stable)
    sup->next_delay = first_delay(sup);
  sup->backoff_ms = sup->next_delay;
  sup->next_delay = grow(sup, sup->next_delay);
  /* No delay: no timer either (libuv's smallest is a loop turn away, a
   * millisecond or more); dispatch() restarts once BACKOFF is reported. */
  if (sup->backoff_ms == 0)
    sup->restart_now = 1;
  else
    arm(sup, sup->backoff_ms);
  return S_BACKOFF;
}

static muster_supervise_state_t act_escalate(muster_supervisor_t *sup) {
  if (sup->phase == PHASE_GRACEFUL) {
    call_signal(sup, sup->o.policy.stop_signal);
    sup->phase = PHASE_SIGNAL;
    arm(sup, sup->wait_ms);
    double_wait(sup);
  } else if (sup->phase == PHASE_SIGNAL) {
    /* No timer after SIGKILL: it cannot be refused, and all that can still
     * be missing is the exit report. */
    call_signal(sup, SIGKILL);
    sup->phase = PHASE_KILL;
  }
  return S_STOPPING;
}

static muster_supervise_state_t act_queue_start(muster_supervisor_t *sup) {
  sup->after = AFTER_START;
  return S_STOPPING;
}

/* A stop cancels a queued start; a failed start stays failed. */
static muster_supervise_state_t act_unqueue(muster_supervisor_t *sup) {
  if (sup->after == AFTER_START)
    sup->after = AFTER_STOPPED;
  return S_STOPPING;
}

static muster_supervise_state_t act_stopped(muster_supervisor_t *sup) {
  record_exit(sup);
  switch (sup->after) {
  case AFTER_START:
    forget_history(sup);
    return spawn(sup);
  case AFTER_ERRORED:
    set_error(sup, sup->stop_reason, sup->stop_err);
    return S_ERRORED;
  case AFTER_STOPPED:
    break;
  }
  return S_STOPPED;
}

static muster_supervise_state_t act_cancel(muster_supervisor_t *sup) {
  disarm(sup);
  sup->backoff_ms = 0;
  return S_STOPPED;
}

static muster_supervise_state_t act_clear(muster_supervisor_t *sup) {
  sup->reason = MUSTER_SUPERVISE_NO_ERROR;
  sup->err = 0;
  return S_STOPPED;
}

/* ---- dispatch ----------------------------------------------------------- */

/* Sets the state, then tells the owner: on_error first (the cause), then
 * on_state (the effect), so that an owner who closes the row on
 * on_state(..., ERRORED) has already heard why. A callback may send the row
 * a new event (say, start it again); that nested transition reports itself,
 * and whatever this one still had to report is dropped as stale (gen
 * tells). */
static void enter(muster_supervisor_t *sup, muster_supervise_state_t next) {
  muster_supervise_state_t old = sup->state;
  unsigned gen = ++sup->gen;
  sup->state = next;
  if (sup->error_pending && next == S_ERRORED) {
    sup->error_pending = 0;
    if (sup->o.on_error != NULL && !sup->closing)
      sup->o.on_error(sup, sup->reason, sup->err);
    if (sup->gen != gen || sup->closing)
      return;
  }
  if (old != next && sup->o.on_state != NULL && !sup->closing)
    sup->o.on_state(sup, old, next);
  if (old != next && sup->watch != NULL && sup->gen == gen && !sup->closing)
    sup->watch->on_state(sup->watch_arg, sup, next);
}

int muster__supervise_watch(muster_supervisor_t *sup,
                            const muster__supervise_watch_t *watch, void *arg) {
  if (watch == NULL) {
    if (sup->watch_arg == arg) /* only its own */
      sup->watch = NULL;
    return 0;
  }
  if (sup->closing)
    return MUSTER_ECANCELED;
  if (sup->watch != NULL)
    return MUSTER_EBUSY;
  sup->watch = watch;
  sup->watch_arg = arg;
  return 0;
}

static int dispatch(muster_supervisor_t *sup, enum event ev) {
  if (sup->closing)
    return MUSTER_ECANCELED;
  if (sup->in_hook)
    return MUSTER_EBUSY;
  const struct cell *c = &table[sup->state][ev];
  if (c->action == NULL) {
    assert(c->next != BUG);
    return c->err;
  }
  sup->result = 0;
  sup->error_pending = 0;
  muster_supervise_state_t next = c->action(sup);
  assert(c->next == POLICY || (int)next == c->next);
  int result = sup->result;
  enter(sup, next);
  /* A restart without delay, in the call that reported the exit: BACKOFF
   * has been reported (the owner saw the exit judged), and unless a
   * callback moved the row on meanwhile (every action that leaves BACKOFF
   * disarms, which clears the flag), the restart is the timer's event run
   * now. Its outcome is reported through on_state / on_error as the
   * timer's would be; this call's result stays the exit's. */
  if (sup->restart_now && sup->state == S_BACKOFF && !sup->closing) {
    sup->restart_now = 0;
    dispatch(sup, EV_TIMER);
  }
  return result;
}

static void timer_cb(uv_timer_t *timer) {
  muster_supervisor_t *sup = timer->data;
  dispatch(sup, EV_TIMER);
}

/* ---- public API --------------------------------------------------------- */

static int normalize(muster_supervise_policy_t *p) {
  if (p->restart != MUSTER_RESTART_ALWAYS &&
      p->restart != MUSTER_RESTART_ON_FAILURE &&
      p->restart != MUSTER_RESTART_NEVER)
    return MUSTER_EINVAL;
  if (p->no_restart_count > MUSTER_SUPERVISE_MAX_EXIT_CODES ||
      (p->no_restart_count > 0 && p->no_restart_codes == NULL))
    return MUSTER_EINVAL;
  if (p->backoff_base_ms == 0)
    p->backoff_base_ms = 100;
  if (p->backoff_factor == 0)
    p->backoff_factor = 2;
  if (!(p->backoff_factor >= 1) || isinf(p->backoff_factor))
    return MUSTER_EINVAL;
  if (p->backoff_max_ms == 0)
    p->backoff_max_ms = p->backoff_base_ms > 15000 ? p->backoff_base_ms : 15000;
  if (p->backoff_max_ms < p->backoff_base_ms)
    return MUSTER_EINVAL;
  if (p->min_uptime_ms == 0)
    p->min_uptime_ms = 1000;
  if (p->crash_limit == 0)
    p->crash_limit = 10;
  if (p->crash_limit > MUSTER_SUPERVISE_MAX_CRASH_LIMIT)
    return MUSTER_EINVAL;
  if (p->crash_window_ms == 0)
    p->crash_window_ms = 60000;
  if (p->kill_timeout_ms == 0)
    p->kill_timeout_ms = 1600;
  if (p->ready_timeout_ms == 0)
    p->ready_timeout_ms = 3000;
  if (p->stop_signal == 0)
    p->stop_signal = SIGTERM;
  if (p->stop_signal < 0 || p->stop_signal >= NSIG)
    return MUSTER_EINVAL;
  if (p->flags & ~(unsigned)(MUSTER_SUPERVISE_WAIT_READY |
                             MUSTER_SUPERVISE_RESTART_AT_ONCE))
    return MUSTER_EINVAL;
  return 0;
}

int muster_supervise_create(uv_loop_t *loop,
                            const muster_supervise_options_t *options,
                            muster_supervisor_t **out) {
  if (loop == NULL || options == NULL || out == NULL ||
      options->start == NULL || options->signal == NULL)
    return MUSTER_EINVAL;
  muster_supervise_options_t o = *options;
  int r = normalize(&o.policy);
  if (r < 0)
    return r;

  muster_supervisor_t *sup = calloc(1, sizeof *sup);
  if (sup == NULL)
    return MUSTER_ENOMEM;
  sup->ring = calloc(o.policy.crash_limit, sizeof *sup->ring);
  if (sup->ring == NULL)
    goto fail;
  if (o.policy.no_restart_count > 0) {
    sup->codes = malloc(o.policy.no_restart_count * sizeof *sup->codes);
    if (sup->codes == NULL)
      goto fail;
    memcpy(sup->codes, o.policy.no_restart_codes,
           o.policy.no_restart_count * sizeof *sup->codes);
  }
  o.policy.no_restart_codes = sup->codes;
  sup->o = o;
  sup->loop = loop;
  sup->state = S_STOPPED;
  sup->next_delay = first_delay(sup);
  r = uv_timer_init(loop, &sup->timer);
  if (r < 0) {
    free(sup->codes);
    free(sup->ring);
    free(sup);
    return r;
  }
  sup->timer.data = sup;
  *out = sup;
  return 0;

fail:
  free(sup->codes);
  free(sup->ring);
  free(sup);
  return MUSTER_ENOMEM;
}

int muster_supervise_start(muster_supervisor_t *sup) {
  return dispatch(sup, EV_START);
}

int muster_supervise_stop(muster_supervisor_t *sup) {
  return dispatch(sup, EV_STOP);
}

int muster_supervise_restart(muster_supervisor_t *sup) {
  return dispatch(sup, EV_RESTART);
}

int muster_supervise_ready(muster_supervisor_t *sup) {
  return dispatch(sup, EV_READY);
}

int muster_supervise_exited(muster_supervisor_t *sup, int64_t exit_status,
                            int term_signal) {
  if (sup->closing)
    return MUSTER_ECANCELED;
  if (sup->in_hook)
    return MUSTER_EBUSY;
  /* Only a row with a process takes the exit; others reject it before
   * anything is overwritten. */
  if (table[sup->state][EV_EXIT].action == NULL)
    return table[sup->state][EV_EXIT].err;
  sup->exit_status = exit_status;
  sup->term_signal = term_signal;
  return dispatch(sup, EV_EXIT);
}

int muster_supervise_leave(muster_supervisor_t *sup) {
  return dispatch(sup, EV_LEAVE);
}

static void close_cb(uv_handle_t *handle) {
  muster_supervisor_t *sup = handle->data;
  if (sup->close_cb != NULL)
    sup->close_cb(sup);
  free(sup->codes);
  free(sup->ring);
  free(sup);
}

void muster_supervise_close(muster_supervisor_t *sup,
                            muster_supervise_close_cb cb) {
  assert(!sup->closing);
  sup->closing = 1;
  sup->close_cb = cb;
  disarm(sup);
  if (sup->impl_close != NULL)
    sup->impl_close(sup->impl);
  const muster__supervise_watch_t *watch = sup->watch;
  sup->watch = NULL;
  if (watch != NULL)
    watch->on_close(sup->watch_arg, sup);
  uv_close((uv_handle_t *)&sup->timer, close_cb);
}

muster_supervise_state_t
muster_supervise_state(const muster_supervisor_t *sup) {
  return sup->state;
}

const char *muster_supervise_state_name(muster_supervise_state_t state) {
  switch (state) {
  case MUSTER_SUPERVISE_STOPPED:
    return "stopped";
  case MUSTER_SUPERVISE_STARTING:
    return "starting";
  case MUSTER_SUPERVISE_ONLINE:
    return "online";
  case MUSTER_SUPERVISE_STOPPING:
    return "stopping";
  case MUSTER_SUPERVISE_BACKOFF:
    return "backoff";
  case MUSTER_SUPERVISE_ERRORED:
    return "errored";
  }
  return "unknown";
}

const char *muster_supervise_reason_name(muster_supervise_reason_t reason) {
  switch (reason) {
  case MUSTER_SUPERVISE_NO_ERROR:
    return "none";
  case MUSTER_SUPERVISE_CRASH_LOOP:
    return "crash loop";
  case MUSTER_SUPERVISE_START_FAILED:
    return "start failed";
  }
  return "unknown";
}

int muster_supervise_pid(const muster_supervisor_t *sup) {
  return sup->pid;
}

unsigned muster_supervise_restarts(const muster_supervisor_t *sup) {
  return sup->restarts;
}

uint64_t muster_supervise_uptime(const muster_supervisor_t *sup) {
  if (sup->pid == 0)
    return 0;
  return now_ms(sup) - sup->start_time;
}

uint64_t muster_supervise_backoff_ms(const muster_supervisor_t *sup) {
  return sup->state == S_BACKOFF ? sup->backoff_ms : 0;
}

int muster_supervise_last_exit(const muster_supervisor_t *sup,
                               int64_t *exit_status, int *term_signal) {
  if (!sup->has_exit)
    return 0;
  if (exit_status != NULL)
    *exit_status = sup->exit_status;
  if (term_signal != NULL)
    *term_signal = sup->term_signal;
  return 1;
}

int muster_supervise_error(const muster_supervisor_t *sup,
                           muster_supervise_reason_t *reason) {
  int errored = sup->state == S_ERRORED;
  if (reason != NULL)
    *reason = errored ? sup->reason : MUSTER_SUPERVISE_NO_ERROR;
  return errored ? sup->err : 0;
}

uv_loop_t *muster_supervise_loop(const muster_supervisor_t *sup) {
  return sup->loop;
}

void *muster_supervise_data(const muster_supervisor_t *sup) {
  return sup->o.data;
}

void muster_supervise_set_data(muster_supervisor_t *sup, void *data) {
  sup->o.data = data;
}

void muster__supervise_set_impl(muster_supervisor_t *sup, void *impl,
                                muster__supervise_impl_close_fn close) {
  sup->impl = impl;
  sup->impl_close = close;
}

void *muster__supervise_impl(const muster_supervisor_t *sup) {
  return sup->impl;
}
