/* The parts of a diagnostic report, shared by src/process_report*.c.
 *
 * ASYNC-SIGNAL-SAFE when ctx->fatal is set: every function declared here
 * may run inside the fatal-signal handler and keeps to async-signal-safe
 * calls (open, read, readlink, fstat, getsockname, write ...; no heap, no
 * stdio, no locks). */
#ifndef MUSTER_PROCESS_REPORT_INTERNAL_H
#define MUSTER_PROCESS_REPORT_INTERNAL_H

#include "muster/process_report.h"
#include "process_report_json.h"

#include <signal.h>
#include <sys/types.h>

/* What the public muster_report_t hands the crash hook. */
struct muster_report_s {
  struct muster__jw *jw;
};

struct muster__report_ctx {
  uv_loop_t *loop;     /* NULL: no "libuv" entries */
  const char *event;   /* header "event" */
  const char *trigger; /* "API", "Signal", "FatalSignal" */
  int fatal;           /* in a signal handler: async-signal-safe only */
  int signum;          /* 0: no "signal" section */
  const siginfo_t *info;
  uint64_t pc;       /* where the fault happened, or 0 */
  int signal_tid;    /* the thread the signal hit, or 0 */
  char *const *argv; /* NULL: read /proc/self/cmdline */
  int argc;
  /* More top-level members after the standard ones (nativeStack,
   * custom); may be NULL. */
  void (*extra)(struct muster__jw *w, void *arg);
  void *extra_arg;
};

/* The whole document. */
void muster__report_write(struct muster__jw *w,
                          const struct muster__report_ctx *ctx);

/* "fds" and "threads", and the small /proc helpers the other report files
 * use (src/process_report_fds.c). */
void muster__report_fds(struct muster__jw *w);
void muster__report_threads(struct muster__jw *w, int signal_tid);

/* Reads at most size - 1 bytes of a small file (/proc) into buf and
 * NUL-terminates it; the length, or a negative errno. */
ssize_t muster__report_read_file(const char *path, char *buf, size_t size);

/* Appends s to buf (size bytes, NUL-terminated) at *len; cut when full. */
void muster__report_cat(char *buf, size_t size, size_t *len, const char *s);

#endif
