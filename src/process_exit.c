/* muster_process_exit, _run, exit and beforeExit hooks, the exit code (see
 * include/muster/process_exit.h).
 *
 * The hooks and the exit code are process-wide state, as they are in Node
 * (one `process` object): two hook lists behind one lock. A list is copied
 * before its hooks are called, without the lock held, so a hook may add or
 * remove hooks (the change counts from the next firing, as Node's emit()
 * copies its listener array) or call muster_process_exit(). */
#include "muster/error.h"
#include "muster/process_exit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct hook {
  void (*cb)(int code, void *arg);
  void *arg;
};

struct hook_list {
  struct hook *items;
  size_t count;
  size_t cap;
};

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hook_list exit_hooks;
static struct hook_list before_exit_hooks;
static atomic_int exit_code;
static atomic_int exiting;

static int list_add(struct hook_list *l, void (*cb)(int, void *), void *arg) {
  int r = 0;

  if (cb == NULL)
    return MUSTER_EINVAL;
  pthread_mutex_lock(&hooks_lock);
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct hook *items = realloc(l->items, cap * sizeof *items);
    if (items == NULL) {
      r = MUSTER_ENOMEM;
      goto out;
    }
    l->items = items;
    l->cap = cap;
  }
  l->items[l->count++] = (struct hook){cb, arg};
out:
  pthread_mutex_unlock(&hooks_lock);
  return r;
}

static int list_remove(struct hook_list *l, void (*cb)(int, void *),
                       void *arg) {
  int r = MUSTER_ENOENT;

  pthread_mutex_lock(&hooks_lock);
  for (size_t i = 0; i < l->count; i++) {
    if (l->items[i].cb == cb && l->items[i].arg == arg) {
      memmove(&l->items[i], &l->items[i + 1],
              (l->count - i - 1) * sizeof l->items[0]);
      l->count--;
      r = 0;
      break;
    }
  }
  pthread_mutex_unlock(&hooks_lock);
  return r;
}

/* Calls every hook of the list as it is now, with the current exit code
 * for each (an earlier hook may have changed it). */
static void list_fire(struct hook_list *l) {
  struct hook *copy;
  size_t n;

  pthread_mutex_lock(&hooks_lock);
  n = l->count;
  copy = n > 0 ? malloc(n * sizeof *copy) : NULL;
  if (copy != NULL)
    memcpy(copy, l->items, n * sizeof *copy);
  pthread_mutex_unlock(&hooks_lock);
  if (n > 0 && copy == NULL) {
    /* No memory for the copy: call the live list by index. A hook that
     * removes itself may then make the next one be skipped; better than
     * skipping them all. */
    for (size_t i = 0;; i++) {
      struct hook h;
      pthread_mutex_lock(&hooks_lock);
      if (i >= l->count) {
        pthread_mutex_unlock(&hooks_lock);
        break;
      }
      h = l->items[i];
      pthread_mutex_unlock(&hooks_lock);
      h.cb(atomic_load(&exit_code), h.arg);
    }
    return;
  }
  for (size_t i = 0; i < n; i++)
    copy[i].cb(atomic_load(&exit_code), copy[i].arg);
  free(copy);
}

int muster_process_on_exit(muster_process_exit_cb cb, void *arg) {
  return list_add(&exit_hooks, cb, arg);
}

int muster_process_on_before_exit(muster_process_before_exit_cb cb, void *arg) {
  return list_add(&before_exit_hooks, cb, arg);
}

int muster_process_off_exit(muster_process_exit_cb cb, void *arg) {
  return list_remove(&exit_hooks, cb, arg);
}

int muster_process_off_before_exit(muster_process_before_exit_cb cb, void *arg) {
  return list_remove(&before_exit_hooks, cb, arg);
}

void muster_process_set_exit_code(int code) { atomic_store(&exit_code, code); }

int muster_process_exit_code(void) { return atomic_load(&exit_code); }

/* The 'exit' event, at most once per process: the first caller fires it,
 * and whoever comes later (an exit hook calling muster_process_exit, or
 * another thread) goes straight on. Returns 1 when this call fired it. */
static int fire_exit_once(void) {
  if (atomic_exchange(&exiting, 1) != 0)
    return 0;
  list_fire(&exit_hooks);
  return 1;
}

void muster_process_exit(int code) {
  atomic_store(&exit_code, code);
  if (!fire_exit_once())
    exit(code);
  exit(atomic_load(&exit_code));
}

void muster_process_abort(void) { abort(); }

int muster_process_run(uv_loop_t *loop) {
  if (loop == NULL)
    return MUSTER_EINVAL;
  /* Node's SpinEventLoop: 'beforeExit' only when the loop has emptied by
   * itself, and the loop goes on if the hooks gave it work. */
  for (;;) {
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_alive(loop))
      continue;
    list_fire(&before_exit_hooks);
    if (!uv_loop_alive(loop))
      break;
  }
  fire_exit_once();
  return atomic_load(&exit_code);
}
