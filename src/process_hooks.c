/* muster__hooks_*: see src/process_hooks.h. */
#include "process_hooks.h"

#include "muster/error.h"

#include <stdlib.h>
#include <string.h>

int muster__hooks_add(struct muster__hooks *h, muster__hook_fn fn, void *arg) {
  int r = 0;

  if (fn == NULL)
    return MUSTER_EINVAL;
  pthread_mutex_lock(&h->lock);
  if (h->count == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    struct muster__hook *items = realloc(h->items, cap * sizeof *items);
    if (items == NULL) {
      r = MUSTER_ENOMEM;
      goto out;
    }
    h->items = items;
    h->cap = cap;
  }
  h->items[h->count++] = (struct muster__hook){fn, arg};
out:
  pthread_mutex_unlock(&h->lock);
  return r;
}

int muster__hooks_remove(struct muster__hooks *h, muster__hook_fn fn,
                         void *arg) {
  int r = MUSTER_ENOENT;

  pthread_mutex_lock(&h->lock);
  for (size_t i = 0; i < h->count; i++) {
    if (h->items[i].fn == fn && h->items[i].arg == arg) {
      memmove(&h->items[i], &h->items[i + 1],
              (h->count - i - 1) * sizeof h->items[0]);
      h->count--;
      r = 0;
      break;
    }
  }
  pthread_mutex_unlock(&h->lock);
  return r;
}

#define HOOKS_ON_STACK 16

void muster__hooks_each(struct muster__hooks *h,
                        void (*call)(const struct muster__hook *hook,
                                     void *ctx),
                        void *ctx) {
  struct muster__hook stack[HOOKS_ON_STACK];
  struct muster__hook *copy = stack;
  size_t n;

  pthread_mutex_lock(&h->lock);
  n = h->count;
  if (n > HOOKS_ON_STACK)
    copy = malloc(n * sizeof *copy);
  if (copy != NULL && n > 0) /* items is NULL while the list is empty */
    memcpy(copy, h->items, n * sizeof *copy);
  pthread_mutex_unlock(&h->lock);
  if (copy == NULL) {
    /* No memory for a copy of a long list: call the live list by index.
     * A hook that removes itself may make the next one be skipped; better
     * than skipping them all (these may be exit hooks). */
    for (size_t i = 0;; i++) {
      struct muster__hook hook;
      pthread_mutex_lock(&h->lock);
      if (i >= h->count) {
        pthread_mutex_unlock(&h->lock);
        break;
      }
      hook = h->items[i];
      pthread_mutex_unlock(&h->lock);
      call(&hook, ctx);
    }
    return;
  }
  for (size_t i = 0; i < n; i++)
    call(&copy[i], ctx);
  if (copy != stack)
    free(copy);
}
