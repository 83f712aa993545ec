/* Warnings: Node's process.emitWarning() and the 'warning' event.
 *
 *   muster_process_emit_warning()   emit one: listeners, then the default
 *                                   printing to stderr
 *   muster_process_on_warning(), _off_warning()   listeners
 *
 * Default printing, as Node prints: one line on stderr (fd 2, one write),
 *
 *     (muster:12345) [CODE] Type: message
 *
 * without "[CODE] " when there is no code. A warning with a code is
 * printed once per code for the life of the process (the first 256
 * distinct codes are remembered; warnings with further new codes are
 * printed every time); a warning without a code every time. Printing is
 * off when the environment variable MUSTER_NO_WARNINGS (or Node's
 * NODE_NO_WARNINGS) is "1" at the time of the call; listeners are called
 * all the same, every time.
 *
 * Unlike Node, which emits on the next tick, listeners are called at once,
 * on the calling thread, in the order they were added; any thread may emit
 * and add or remove listeners (one lock). This is the one place libmuster
 * prints: the caller asked it to. */
#ifndef MUSTER_PROCESS_WARNING_H
#define MUSTER_PROCESS_WARNING_H

#include "common.h"

/* One warning; every string is valid during the listener's call only. */
typedef struct {
  const char *message;
  const char *type; /* "Warning" unless the emitter named another type */
  const char *code; /* NULL when none */
} muster_warning_t;

typedef void (*muster_warning_cb)(const muster_warning_t *warning, void *arg);

/* Emits a warning. `type` NULL or "" means "Warning"; `code` NULL or ""
 * means none. Strings are borrowed for the call.
 * Errors: MUSTER_EINVAL (NULL message); nothing was emitted. A failure to
 * print (stderr closed) is not an error. */
MUSTER_EXTERN int muster_process_emit_warning(const char *message,
                                              const char *type,
                                              const char *code);

/* Adds a listener, after those already there (the same pair may be added
 * twice). Errors: MUSTER_EINVAL (NULL cb), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_process_on_warning(muster_warning_cb cb, void *arg);

/* Removes the first listener added with (cb, arg).
 * Errors: MUSTER_ENOENT (none). */
MUSTER_EXTERN int muster_process_off_warning(muster_warning_cb cb, void *arg);

#endif
