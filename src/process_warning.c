/* muster_process_emit_warning and its listeners (see
 * include/muster/process_warning.h). */
#include "muster/error.h"
#include "muster/process_warning.h"
#include "process_hooks.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct muster__hooks listeners = MUSTER__HOOKS_INIT;

/* The codes already printed: a fixed open-addressed set of hashes, so the
 * memory is bounded whatever codes a program invents. Two codes with the
 * same 64-bit hash would share a slot; with 256 codes that chance is
 * about 2^-48. */
#define SEEN_SLOTS 512 /* twice the codes kept: short probe runs */
#define SEEN_MAX 256
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seen[SEEN_SLOTS];
static size_t seen_count;

static uint64_t hash_code(const char *s) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h != 0 ? h : 1; /* 0 marks an empty slot */
}

/* 1 the first time a code is seen (or when the set is full), else 0. */
static int first_time(const char *code) {
  uint64_t h = hash_code(code);
  size_t i = (size_t)(h % SEEN_SLOTS);
  int first = 1;

  pthread_mutex_lock(&seen_lock);
  while (seen[i] != 0 && seen[i] != h)
    i = (i + 1) % SEEN_SLOTS;
  if (seen[i] == h)
    first = 0;
  else if (seen_count < SEEN_MAX) {
    seen[i] = h;
    seen_count++;
  }
  pthread_mutex_unlock(&seen_lock);
  return first;
}

static int silenced(void) {
  const char *m = getenv("MUSTER_NO_WARNINGS");
  const char *n = getenv("NODE_NO_WARNINGS");
  return (m != NULL && strcmp(m, "1") == 0) ||
         (n != NULL && strcmp(n, "1") == 0);
}

static int format(char *buf, size_t size, const muster_warning_t *w) {
  return snprintf(buf, size, "(muster:%d) %s%s%s%s: %s\n", (int)getpid(),
                  w->code ? "[" : "", w->code ? w->code : "",
                  w->code ? "] " : "", w->type, w->message);
}

/* One write(2), so that lines from two threads or processes sharing the
 * terminal do not interleave mid-line. */
static void print_warning(const muster_warning_t *w) {
  char stack[1024];
  char *line = stack;
  int n = format(stack, sizeof stack, w);

  if (n < 0)
    return;
  if ((size_t)n >= sizeof stack) {
    line = malloc((size_t)n + 1);
    if (line == NULL)
      return;
    format(line, (size_t)n + 1, w);
  }
  for (size_t off = 0; off < (size_t)n;) {
    ssize_t k = write(2, line + off, (size_t)n - off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    off += (size_t)k;
  }
  if (line != stack)
    free(line);
}

static void call_listener(const struct muster__hook *hook, void *ctx) {
  ((muster_warning_cb)hook->fn)(ctx, hook->arg);
}

int muster_process_emit_warning(const char *message, const char *type,
                                const char *code) {
  muster_warning_t w;

  if (message == NULL)
    return MUSTER_EINVAL;
  w.message = message;
  w.type = type != NULL && type[0] != '\0' ? type : "Warning";
  w.code = code != NULL && code[0] != '\0' ? code : NULL;
  muster__hooks_each(&listeners, call_listener, &w);
  if (!silenced() && (w.code == NULL || first_time(w.code)))
    print_warning(&w);
  return 0;
}

int muster_process_on_warning(muster_warning_cb cb, void *arg) {
  return muster__hooks_add(&listeners, (muster__hook_fn)cb, arg);
}

int muster_process_off_warning(muster_warning_cb cb, void *arg) {
  return muster__hooks_remove(&listeners, (muster__hook_fn)cb, arg);
}
