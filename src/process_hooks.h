/* muster__hooks_*: a process-wide list of (callback, arg) hooks, for the
 * exit, beforeExit and warning events (src/process_exit.c,
 * src/process_warning.c). Callbacks are stored as void (*)(void) and cast
 * back by the file that owns the list and knows their type. */
#ifndef MUSTER_PROCESS_HOOKS_H
#define MUSTER_PROCESS_HOOKS_H

#include <pthread.h>
#include <stddef.h>

typedef void (*muster__hook_fn)(void);

struct muster__hook {
  muster__hook_fn fn;
  void *arg;
};

struct muster__hooks {
  pthread_mutex_t lock;
  struct muster__hook *items;
  size_t count;
  size_t cap;
};

#define MUSTER__HOOKS_INIT                                                     \
  { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }

/* Appends (fn, arg); duplicates allowed. MUSTER_EINVAL for a NULL fn,
 * MUSTER_ENOMEM. */
int muster__hooks_add(struct muster__hooks *h, muster__hook_fn fn, void *arg);

/* Removes the first (fn, arg). MUSTER_ENOENT when there is none. */
int muster__hooks_remove(struct muster__hooks *h, muster__hook_fn fn,
                         void *arg);

/* Calls call(hook, ctx) for each hook of the list as it is now, without
 * the lock held: a hook may add or remove hooks, which counts from the
 * next call of this function (Node's emit() copies its listeners). */
void muster__hooks_each(struct muster__hooks *h,
                        void (*call)(const struct muster__hook *hook,
                                     void *ctx),
                        void *ctx);

#endif
