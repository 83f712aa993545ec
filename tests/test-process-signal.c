/* Signal subscriptions: real signals, raised at ourselves or sent to a
 * fixture. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int calls;
static int closes;
static int last_signum;

static void close_cb(muster_signal_t *sig) {
  (void)sig;
  closes++;
}

/* Counts the call and ends the subscription from inside its callback. */
static void count_and_close(muster_signal_t *sig, int signum) {
  calls++;
  last_signum = signum;
  ASSERT_EQ(muster_signal_signum(sig), signum);
  muster_signal_close(sig, close_cb);
}

static void count_only(muster_signal_t *sig, int signum) {
  (void)sig;
  (void)signum;
  calls++;
}

static void not_called(muster_signal_t *sig, int signum) {
  TEST_FAIL("signal %d delivered to a subscription that was refused", signum);
}

TEST(process_signal_subscribe_invalid) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  muster_signal_t *sig = (muster_signal_t *)&loop; /* must be reset */
  const int refused[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,  SIGFPE,
                         SIGILL,  SIGABRT, SIGCHLD, SIGPIPE, SIGALRM,
                         0,       -1,      65,      1000};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    ASSERT_ERR(
        muster_signal_subscribe(&loop, refused[i], not_called, NULL, &sig),
        MUSTER_EINVAL);
    ASSERT(sig == NULL);
  }
  ASSERT_ERR(muster_signal_subscribe(NULL, SIGINT, not_called, NULL, &sig),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_signal_subscribe(&loop, SIGINT, NULL, NULL, &sig),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_signal_subscribe(&loop, SIGINT, not_called, NULL, NULL),
             MUSTER_EINVAL);
  /* Nothing was left on the loop, and SIGINT still has its default. */
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGINT, NULL, &sa), 0);
  ASSERT(sa.sa_handler == SIG_DFL);
  ASSERT_OK(uv_run(&loop, UV_RUN_NOWAIT));
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(process_signal_delivered) {
  uv_loop_t loop;
  int token;
  ASSERT_OK(uv_loop_init(&loop));
  const int all[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                     SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    muster_signal_t *sig;
    calls = closes = last_signum = 0;
    ASSERT_OK(
        muster_signal_subscribe(&loop, all[i], count_and_close, &token, &sig));
    ASSERT(muster_signal_data(sig) == &token);
    muster_signal_set_data(sig, &calls);
    ASSERT(muster_signal_data(sig) == &calls);
    ASSERT_EQ(muster_signal_signum(sig), all[i]);
    muster_signal_ref(sig); /* so that uv_run waits for the signal */
    ASSERT_EQ(kill(getpid(), all[i]), 0);
    test_run_loop(&loop, 5000);
    ASSERT_EQ(calls, 1);
    ASSERT_EQ(last_signum, all[i]);
    ASSERT_EQ(closes, 1);
    /* The last subscription closed: the default action is back. */
    struct sigaction sa;
    ASSERT_EQ(sigaction(all[i], NULL, &sa), 0);
    ASSERT(sa.sa_handler == SIG_DFL);
  }
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(process_signal_replaces_default_action) {
  /* While subscribed, SIGTERM does not kill us: raise it several times. */
  uv_loop_t loop;
  muster_signal_t *sig;
  ASSERT_OK(uv_loop_init(&loop));
  calls = 0;
  ASSERT_OK(muster_signal_subscribe(&loop, SIGTERM, count_only, NULL, &sig));
  muster_signal_ref(sig); /* else uv_run has nothing to run */
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGTERM, NULL, &sa), 0);
  ASSERT(sa.sa_handler != SIG_DFL);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(kill(getpid(), SIGTERM), 0);
    /* A signal a thread sends itself is handled before kill() returns
     * (libuv's handler notes it); the loop's next poll delivers it. The
     * subscription is still open, so uv_run reports the loop alive. */
    ASSERT_EQ(uv_run(&loop, UV_RUN_NOWAIT), 1);
    ASSERT_EQ(calls, i + 1);
  }
  ASSERT_EQ(calls, 3);
  muster_signal_close(sig, NULL);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- every subscriber, on every loop ------------------------------------ */

struct other_loop {
  uv_loop_t loop;
  muster_signal_t *sig;
  uv_sem_t subscribed;
  pthread_t self;
  int calls;
};

static void other_cb(muster_signal_t *sig, int signum) {
  struct other_loop *o = muster_signal_data(sig);
  ASSERT(pthread_equal(pthread_self(), o->self));
  ASSERT_EQ(signum, SIGUSR2);
  o->calls++;
  muster_signal_close(sig, NULL);
}

static void *other_thread(void *arg) {
  struct other_loop *o = arg;
  o->self = pthread_self();
  ASSERT_OK(uv_loop_init(&o->loop));
  ASSERT_OK(muster_signal_subscribe(&o->loop, SIGUSR2, other_cb, o, &o->sig));
  muster_signal_ref(o->sig);
  uv_sem_post(&o->subscribed);
  uv_run(&o->loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&o->loop));
  return NULL;
}

static int first_calls, second_calls;

static void first_cb(muster_signal_t *sig, int signum) {
  first_calls++;
  muster_signal_close(sig, close_cb);
}

static void second_cb(muster_signal_t *sig, int signum) {
  second_calls++;
  muster_signal_close(sig, close_cb);
}

TEST(process_signal_all_subscribers) {
  uv_loop_t loop;
  muster_signal_t *a, *b;
  struct other_loop o = {0};
  pthread_t thread;

  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_sem_init(&o.subscribed, 0));
  ASSERT_EQ(pthread_create(&thread, NULL, other_thread, &o), 0);
  uv_sem_wait(&o.subscribed);
  /* Two on this loop, one on the other thread's loop. */
  ASSERT_OK(muster_signal_subscribe(&loop, SIGUSR2, first_cb, NULL, &a));
  ASSERT_OK(muster_signal_subscribe(&loop, SIGUSR2, second_cb, NULL, &b));
  /* Both referenced: the loop runs until both were called, however the
   * handler's two notes reach the loop. */
  muster_signal_ref(a);
  muster_signal_ref(b);
  closes = 0;
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  test_run_loop(&loop, 5000);
  ASSERT_EQ(pthread_join(thread, NULL), 0);
  uv_sem_destroy(&o.subscribed);
  ASSERT_EQ(first_calls, 1);
  ASSERT_EQ(second_calls, 1);
  ASSERT_EQ(o.calls, 1);
  ASSERT_EQ(closes, 2);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- ref / unref -------------------------------------------------------- */

TEST(process_signal_unref) {
  uv_loop_t loop;
  muster_signal_t *sig;
  ASSERT_OK(uv_loop_init(&loop));
  calls = closes = 0;
  ASSERT_OK(
      muster_signal_subscribe(&loop, SIGUSR1, count_and_close, NULL, &sig));
  /* Unreferenced by default, as Node's listeners: the loop has nothing to
   * wait for and returns at once, without blocking. */
  uint64_t t0 = test_now_ms();
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(calls, 0);
  ASSERT_LE(test_now_ms() - t0, 2000); /* generous: it must not hang */
  muster_signal_ref(sig);
  muster_signal_unref(sig);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  /* Referenced: the loop waits until the signal comes (here, from another
   * process a moment later). */
  muster_signal_ref(sig);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    usleep(100 * 1000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  test_run_loop(&loop, 10000);
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(closes, 1);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_OK(uv_loop_close(&loop));
}

/* ---- a whole program: graceful shutdown on SIGTERM / SIGINT ------------- */

static void shutdown_on(int signum, const char *name) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  ASSERT_EQ(posix_spawn_file_actions_init(&fa), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
  const char *const *argv = test_fixture_argv("process_signal", NULL);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ),
            0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);

  char buf[256];
  size_t n = 0;
  ssize_t r;
  /* Wait for "ready\n": only then is the subscription in place. */
  while (n < 6 && (r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
  ASSERT_STR_EQ(buf, "ready\n");
  ASSERT_EQ(kill(pid, signum), 0);
  n = 0;
  while ((r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
  close(out[0]);
  char want[64];
  snprintf(want, sizeof want, "got %s\n", name);
  ASSERT_STR_EQ(buf, want);

  /* It exited by itself (not killed), with Node's 128 + signal. */
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), MUSTER_EXIT_SIGNAL(signum));
}

TEST(process_signal_graceful_shutdown) {
  shutdown_on(SIGTERM, "SIGTERM");
  shutdown_on(SIGINT, "SIGINT");
}

TEST(process_signal_name) {
  ASSERT_STR_EQ(muster_signal_name(SIGINT), "SIGINT");
  ASSERT_STR_EQ(muster_signal_name(SIGTERM), "SIGTERM");
  ASSERT_STR_EQ(muster_signal_name(SIGHUP), "SIGHUP");
  ASSERT_STR_EQ(muster_signal_name(SIGUSR1), "SIGUSR1");
  ASSERT_STR_EQ(muster_signal_name(SIGUSR2), "SIGUSR2");
  ASSERT_STR_EQ(muster_signal_name(SIGKILL), "SIGKILL");
  ASSERT_STR_EQ(muster_signal_name(SIGSYS), "SIGSYS");
  for (int s = 1; s < 32; s++)
    ASSERT(muster_signal_name(s) != NULL);
  ASSERT(muster_signal_name(0) == NULL);
  ASSERT(muster_signal_name(-1) == NULL);
  ASSERT(muster_signal_name(32) == NULL);
  ASSERT(muster_signal_name(1000) == NULL);
}
