/* muster_process_report_on_fatal: a diagnostic report from a crashing
 * process (see include/muster/process_report.h).
 *
 * Everything that could fail or allocate happens at setup: the report's
 * file is opened (unnamed, O_TMPFILE, linked to its name only at a crash),
 * the alternate signal stack mapped, a pipe made for symbol names, argv
 * captured, and glibc's backtrace() called once so that its unwinder
 * (libgcc_s, loaded with dlopen and malloc on first use) is ready. The
 * handler then only writes. */
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_report.h"
#include "process_report_internal.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_FATAL (sizeof fatal_signals / sizeof fatal_signals[0])

#define ALTSTACK_SIZE (256 * 1024)
#define MAX_FRAMES 64

/* The setup, read by the handler. Written only while no handler is
 * installed (setup installs last, stop uninstalls first). */
static struct {
  int installed;
  int file_fd;             /* the report, unnamed until the crash (or named) */
  int dir_fd;              /* path's directory, for linkat */
  int named;               /* 1: file_fd already has its name (no O_TMPFILE) */
  char name[NAME_MAX + 1]; /* path's last component */
  char fd_link[64];        /* "/proc/self/fd/<file_fd>" */
  int sym_pipe[2];         /* backtrace_symbols_fd() → us */
  void *altstack;
  uv_loop_t *loop;
  muster_report_fatal_cb hook;
  void *hook_arg;
  char *const *argv;
  int argc;
} fatal;

static atomic_int busy_tid; /* the thread writing a report, or 0 */

/* ==== ASYNC-SIGNAL-SAFE ONLY from here to the matching banner below =====
 * Runs inside the signal handler, on a crashed process: no malloc, no
 * stdio, no locks, nothing that may wait for another thread. */

void muster_report_add_string(muster_report_t *report, const char *key,
                              const char *value) {
  if (report != NULL && key != NULL)
    muster__jw_str(report->jw, key, value);
}

void muster_report_add_int(muster_report_t *report, const char *key,
                           int64_t value) {
  if (report != NULL && key != NULL)
    muster__jw_int(report->jw, key, value);
}

struct fatal_extra {
  int signum;
  uint64_t pc; /* the faulting instruction, or 0 */
  void **frames;
  int nframes;
};

/* "nativeStack": each frame's pc and the symbol glibc names it with
 * (backtrace_symbols_fd writes "prog(func+0x1a) [0x55...]" lines without
 * allocating; they come back through the pipe made at setup). */
static void write_stack(struct muster__jw *w, uint64_t pc, void **frames,
                        int n) {
  static char text[MAX_FRAMES * 256];
  ssize_t len = 0, k;

  /* The first frames are this handler's and the kernel's signal
   * trampoline; the crash starts at the faulting pc, when the unwinder
   * found it (it does for faults: glibc unwinds through signal frames). */
  for (int i = 0; pc != 0 && i < n; i++) {
    if ((uint64_t)(uintptr_t)frames[i] == pc) {
      frames += i;
      n -= i;
      break;
    }
  }
  backtrace_symbols_fd(frames, n, fatal.sym_pipe[1]);
  while (len < (ssize_t)sizeof text &&
         (k = read(fatal.sym_pipe[0], text + len, sizeof text - (size_t)len)) >
             0)
    len += k;
  muster__jw_array(w, "nativeStack");
  const char *line = text, *end = text + len;
  for (int i = 0; i < n; i++) {
    const char *nl = line;
    while (nl < end && *nl != '\n')
      nl++;
    muster__jw_object(w, NULL);
    muster__jw_hex(w, "pc", (uint64_t)(uintptr_t)frames[i]);
    muster__jw_strn(w, "symbol", line, (size_t)(nl - line));
    muster__jw_end(w, '}');
    line = nl < end ? nl + 1 : end;
  }
  muster__jw_end(w, ']');
}

static void write_extra(struct muster__jw *w, void *arg) {
  struct fatal_extra *x = arg;
  write_stack(w, x->pc, x->frames, x->nframes);
  if (fatal.hook != NULL) {
    struct muster_report_s report = {w};
    muster__jw_object(w, "custom");
    fatal.hook(&report, x->signum, fatal.hook_arg);
    muster__jw_end(w, '}');
  }
}

static uint64_t fault_pc(const void *uc) {
#if defined(__x86_64__)
  return (uint64_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uint64_t)((const ucontext_t *)uc)->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

/* Gives the prepared file its name: linkat() of the unnamed O_TMPFILE
 * through /proc (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). A report
 * from an earlier crash at that name is replaced. */
static void name_file(void) {
  if (fatal.named)
    return;
  if (linkat(AT_FDCWD, fatal.fd_link, fatal.dir_fd, fatal.name,
             AT_SYMLINK_FOLLOW) != 0 &&
      errno == EEXIST) {
    unlinkat(fatal.dir_fd, fatal.name, 0);
    linkat(AT_FDCWD, fatal.fd_link, fatal.dir_fd, fatal.name,
           AT_SYMLINK_FOLLOW);
  }
}

static void write_fatal_report(int signum, siginfo_t *info, void *uc) {
  void *frames[MAX_FRAMES];
  struct fatal_extra extra = {signum, fault_pc(uc), frames, 0};
  struct muster__report_ctx ctx;
  struct muster__jw w;

  extra.nframes = backtrace(frames, MAX_FRAMES);
  memset(&ctx, 0, sizeof ctx);
  ctx.loop = fatal.loop;
  ctx.event = muster_signal_name(signum);
  ctx.trigger = "FatalSignal";
  ctx.fatal = 1;
  ctx.signum = signum;
  ctx.info = info;
  ctx.pc = extra.pc;
  ctx.signal_tid = (int)syscall(SYS_gettid);
  ctx.argv = fatal.argv;
  ctx.argc = fatal.argc;
  ctx.extra = write_extra;
  ctx.extra_arg = &extra;
  lseek(fatal.file_fd, 0, SEEK_SET);
  ftruncate(fatal.file_fd, 0);
  muster__jw_init(&w, fatal.file_fd);
  muster__report_write(&w, &ctx);
  muster__jw_flush(&w);
  fsync(fatal.file_fd);
  name_file();
}

static void on_fatal(int signum, siginfo_t *info, void *uc) {
  int saved_errno = errno;
  int tid = (int)syscall(SYS_gettid), expected = 0;

  if (atomic_compare_exchange_strong(&busy_tid, &expected, tid)) {
    write_fatal_report(signum, info, uc);
  } else if (expected != tid) {
    /* Another thread is writing its report: give it time to finish
     * (the process dies when either of us re-raises). */
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 500 && atomic_load(&busy_tid) != 0; i++)
      nanosleep(&ms10, NULL);
  }
  /* Else: a second fatal signal inside our own report (it crashed):
   * go straight to the default action. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(signum, &dfl, NULL);
  /* The signal is blocked while this handler runs, so this stays pending
   * and is delivered, with the default action, as the handler returns. A
   * fault would also recur when the faulting instruction runs again; a
   * signal sent with kill() would not, hence the raise. */
  raise(signum);
  errno = saved_errno;
}

/* ==== end of ASYNC-SIGNAL-SAFE ONLY ====================================== */

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void release(void) {
  close_fd(&fatal.file_fd);
  close_fd(&fatal.dir_fd);
  close_fd(&fatal.sym_pipe[0]);
  close_fd(&fatal.sym_pipe[1]);
  if (fatal.altstack != NULL) {
    stack_t ss, cur;
    /* Disable it only if it is still ours on this thread. */
    if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == fatal.altstack &&
        !(cur.ss_flags & SS_ONSTACK)) {
      memset(&ss, 0, sizeof ss);
      ss.ss_flags = SS_DISABLE;
      sigaltstack(&ss, NULL);
    }
    munmap(fatal.altstack, ALTSTACK_SIZE);
    fatal.altstack = NULL;
  }
}

static void uninstall(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < N_FATAL; i++)
    sigaction(fatal_signals[i], &dfl, NULL);
  fatal.installed = 0;
}

/* Opens the report file: unnamed in path's directory when the file system
 * can, else `path` itself, now. */
static int prepare_file(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  size_t dlen;

  if (slash == NULL) {
    memcpy(dir, ".", 2);
  } else {
    dlen = slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= sizeof dir)
      return MUSTER_ENAMETOOLONG;
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
  }
  const char *base = slash != NULL ? slash + 1 : path;
  if (base[0] == '\0')
    return MUSTER_EINVAL;
  if (strlen(base) > NAME_MAX)
    return MUSTER_ENAMETOOLONG;
  memcpy(fatal.name, base, strlen(base) + 1);
  fatal.dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fatal.dir_fd < 0)
    return -errno;
  fatal.named = 0;
  fatal.file_fd =
      openat(fatal.dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fatal.file_fd < 0 &&
      (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    fatal.named = 1;
    fatal.file_fd = openat(fatal.dir_fd, fatal.name,
                           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  if (fatal.file_fd < 0)
    return -errno;
  size_t len = 0;
  char digits[21];
  muster__jw_utoa((uint64_t)fatal.file_fd, digits);
  fatal.fd_link[0] = '\0';
  muster__report_cat(fatal.fd_link, sizeof fatal.fd_link, &len,
                     "/proc/self/fd/");
  muster__report_cat(fatal.fd_link, sizeof fatal.fd_link, &len, digits);
  return 0;
}

static int prepare_altstack(void) {
  stack_t cur, ss;

  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
    return 0; /* the thread has one already: keep it */
  fatal.altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (fatal.altstack == MAP_FAILED) {
    fatal.altstack = NULL;
    return MUSTER_ENOMEM;
  }
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = fatal.altstack;
  ss.ss_size = ALTSTACK_SIZE;
  if (sigaltstack(&ss, NULL) != 0)
    return -errno;
  return 0;
}

int muster_process_report_on_fatal(
    const muster_report_fatal_options_t *options) {
  void *warm[2];
  int r;

  if (options == NULL || options->path == NULL || options->path[0] == '\0')
    return MUSTER_EINVAL;
  if (fatal.installed)
    muster_process_report_on_fatal_stop();
  fatal.file_fd = fatal.dir_fd = fatal.sym_pipe[0] = fatal.sym_pipe[1] = -1;
  r = prepare_file(options->path);
  if (r == 0 && pipe2(fatal.sym_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    r = -errno;
  if (r == 0)
    r = prepare_altstack();
  if (r != 0) {
    release();
    return r;
  }
  backtrace(warm, 2); /* load the unwinder now, not in the handler */
  fatal.loop = options->loop;
  fatal.hook = options->hook;
  fatal.hook_arg = options->hook_arg;
  fatal.argv = muster_process_argv(&fatal.argc);
  atomic_store(&busy_tid, 0);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  /* While one report is written, the other fatal signals wait (a second
   * thread's crash must not cut the first report short). */
  for (size_t i = 0; i < N_FATAL; i++)
    sigaddset(&sa.sa_mask, fatal_signals[i]);
  for (size_t i = 0; i < N_FATAL; i++)
    sigaction(fatal_signals[i], &sa, NULL);
  fatal.installed = 1;
  return 0;
}

int muster_process_report_on_fatal_stop(void) {
  if (!fatal.installed)
    return MUSTER_ENOENT;
  uninstall();
  release();
  return 0;
}
