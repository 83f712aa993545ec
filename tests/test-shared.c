/* Shared buffers and Atomics: references, wait/notify between threads and
 * between processes, Node's three results, notify counts, waitAsync on a
 * loop, cancel with nothing leaked.
 *
 * A case with another side (a waiter, a notifier, a partner) is a
 * function of the mode, registered as NAME (the other side a thread) and
 * NAME_process (a forked process: process isolation's case, where only
 * the memory file's pages are shared). The cases with no other side
 * (references, arguments, one waiter and its own timeout, waitAsync's
 * bookkeeping) have no mode. */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

TEST(shared_create_ref_unref) {
  int fds = test_fd_count();
  muster_shared_t *s;
  ASSERT_OK(muster_shared_create(4096, &s));
  ASSERT_EQ(test_fd_count(), fds + 1);
  ASSERT_EQ(muster_shared_length(s), 4096);
  ASSERT(muster_shared_data(s) != NULL);
  ASSERT_EQ(atomic_load(muster_shared_i32(s, 1023)), 0);
  ASSERT(muster_shared_i32(s, 1024) == NULL);
  ASSERT(muster_shared_i64(s, 511) != NULL);
  ASSERT(muster_shared_i64(s, 512) == NULL);
  ASSERT(muster_shared_ref(s) == s);
  muster_shared_unref(s);
  /* Still mapped after one of two references went. */
  atomic_store(muster_shared_i32(s, 0), 7);
  muster_shared_unref(s);
  ASSERT_EQ(test_fd_count(), fds);
  muster_shared_unref(NULL);
}

TEST(shared_bad_arguments) {
  muster_shared_t *s = NULL;
  ASSERT_ERR(muster_shared_create(0, &s), MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_create(8, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_create((size_t)-1, &s), MUSTER_ENOMEM);
  ASSERT_ERR(muster_shared_open(-1, &s), MUSTER_EBADF);
  int p[2];
  ASSERT_OK(pipe(p));
  ASSERT_ERR(muster_shared_open(p[0], &s), MUSTER_EINVAL);
  close(p[0]);
  close(p[1]);
  int fd = memfd_create("empty", MFD_CLOEXEC);
  ASSERT_ERR(muster_shared_open(fd, &s), MUSTER_EINVAL);
  close(fd);
  ASSERT(s == NULL);

  int32_t words[2];
  _Atomic int32_t *odd = (_Atomic int32_t *)((char *)words + 1);
  ASSERT_ERR(muster_shared_wait(NULL, 0, 0), MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_wait(odd, 0, MS), MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_notify(odd, 1), MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_notify(NULL, 1), MUSTER_EINVAL);
  ASSERT_STR_EQ(muster_shared_result_name(MUSTER_EINVAL), "EINVAL");
}

TEST(shared_open_maps_same_pages) {
  muster_shared_t *a, *b;
  ASSERT_OK(muster_shared_create(8192, &a));
  ASSERT_OK(muster_shared_open(muster_shared_fd(a), &b));
  ASSERT(muster_shared_data(a) != muster_shared_data(b));
  ASSERT_EQ(muster_shared_length(b), 8192);
  atomic_store(muster_shared_i32(a, 2000), 42);
  ASSERT_EQ(atomic_load(muster_shared_i32(b, 2000)), 42);
  muster_shared_unref(a);
  /* b has its own descriptor: the memory outlives a. */
  ASSERT_EQ(atomic_load(muster_shared_i32(b, 2000)), 42);
  muster_shared_unref(b);
}

TEST(shared_wait_not_equal_and_timeout) {
  muster_shared_t *s;
  ASSERT_OK(muster_shared_create(64, &s));
  _Atomic int32_t *w = muster_shared_i32(s, 0);
  ASSERT_EQ(muster_shared_wait(w, 1, MUSTER_SHARED_FOREVER),
            MUSTER_SHARED_NOT_EQUAL);
  ASSERT_EQ(muster_shared_wait(w, 1, 0), MUSTER_SHARED_NOT_EQUAL);
  ASSERT_EQ(muster_shared_wait(w, 0, 0), MUSTER_SHARED_TIMED_OUT);
  uint64_t t0 = test_now_ms();
  ASSERT_EQ(muster_shared_wait(w, 0, 50 * MS), MUSTER_SHARED_TIMED_OUT);
  ASSERT_GE(test_now_ms() - t0, 50);
  ASSERT_EQ(muster_shared_notify(w, MUSTER_SHARED_ALL), 0);
  ASSERT_EQ(muster_shared_notify(w, 0), 0);
  ASSERT_STR_EQ(muster_shared_result_name(MUSTER_SHARED_OK), "ok");
  ASSERT_STR_EQ(muster_shared_result_name(MUSTER_SHARED_NOT_EQUAL),
                "not-equal");
  ASSERT_STR_EQ(muster_shared_result_name(MUSTER_SHARED_TIMED_OUT),
                "timed-out");
  muster_shared_unref(s);
}

/* Calls notify until `want` waiters in total have been woken: a waiter
 * joins the kernel's queue at a moment no one can observe, so the
 * notifier repeats instead of sleeping a guessed time. */
static void notify_until(_Atomic int32_t *w, int want) {
  int got = 0;
  uint64_t t0 = test_now_ms();
  while (got < want) {
    int n = muster_shared_notify(w, (uint32_t)(want - got));
    ASSERT_GE(n, 0);
    got += n;
    ASSERT(test_now_ms() - t0 < 10000);
    if (got < want)
      usleep(200);
  }
  ASSERT_EQ(got, want);
}

/* Where the other side of a case runs: a thread of ours, or a child
 * process forked for it, which sees our shared buffer through the mapping
 * it inherited and nothing else we change: what the sides tell each other
 * lives in the buffer. */
typedef struct {
  int process;
  pthread_t th;
  pid_t pid;
} side_t;

static void side_start(side_t *s, int isolation, void *(*fn)(void *),
                       void *arg) {
  s->process = isolation == MUSTER_THREAD_ISOLATION_PROCESS;
  if (!s->process) {
    ASSERT_OK(pthread_create(&s->th, NULL, fn, arg));
    return;
  }
  s->pid = fork();
  ASSERT(s->pid >= 0);
  if (s->pid == 0) {
    fn(arg);
    _exit(0);
  }
}

static void side_signal(side_t *s, int sig) {
  if (s->process)
    ASSERT_OK(kill(s->pid, sig));
  else
    ASSERT_OK(pthread_kill(s->th, sig));
}

static void side_join(side_t *s) {
  int status;
  if (!s->process) {
    ASSERT_OK(pthread_join(s->th, NULL));
    return;
  }
  ASSERT_EQ(waitpid(s->pid, &status, 0), s->pid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* Waiters on one word, counted in the shared buffer itself. */
typedef struct {
  _Atomic int32_t *word;
  atomic_int done;
  atomic_int ok;
} waiters_t;

static waiters_t *waiters_in(muster_shared_t *s, size_t word) {
  waiters_t *ws = (waiters_t *)muster_shared_i64(s, 64);
  ws->word = muster_shared_i32(s, word);
  return ws;
}

static void *waiter(void *arg) {
  waiters_t *ws = arg;
  int r = muster_shared_wait(ws->word, 0, MUSTER_SHARED_FOREVER);
  if (r == MUSTER_SHARED_OK)
    atomic_fetch_add(&ws->ok, 1);
  atomic_fetch_add(&ws->done, 1);
  return NULL;
}

TEST_MODES(shared_wait_notify_two_threads, 30) {
  muster_shared_t *s;
  side_t side;
  ASSERT_OK(muster_shared_create(4096, &s));
  waiters_t *ws = waiters_in(s, 0);
  side_start(&side, isolation, waiter, ws);
  notify_until(ws->word, 1);
  side_join(&side);
  ASSERT_EQ(atomic_load(&ws->ok), 1);
  muster_shared_unref(s);
}

/* Eight waiters; notify(3) wakes exactly three, then ALL the rest. */
TEST_MODES(shared_notify_count_many_waiters, 60) {
  muster_shared_t *s;
  side_t side[8];
  ASSERT_OK(muster_shared_create(4096, &s));
  waiters_t *ws = waiters_in(s, 3);
  for (int i = 0; i < 8; i++)
    side_start(&side[i], isolation, waiter, ws);
  notify_until(ws->word, 3);
  /* Give a wrong implementation time to wake more than asked. */
  usleep(50 * 1000);
  while (atomic_load(&ws->done) < 3)
    usleep(1000);
  ASSERT_EQ(atomic_load(&ws->done), 3);
  notify_until(ws->word, 5);
  for (int i = 0; i < 8; i++)
    side_join(&side[i]);
  ASSERT_EQ(atomic_load(&ws->ok), 8);
  ASSERT_EQ(muster_shared_notify(ws->word, MUSTER_SHARED_ALL), 0);
  muster_shared_unref(s);
}

/* A ping-pong: each side stores its turn, notifies, and waits for the
 * other's; a lost wake-up would hang the test. */
typedef struct {
  _Atomic int32_t *turn;
  int rounds;
} pingpong_t;

static void pong_side(pingpong_t *p, int me) {
  for (int i = 0; i < p->rounds; i++) {
    int32_t v;
    while ((v = atomic_load(p->turn)) % 2 != me)
      muster_shared_wait(p->turn, v, MUSTER_SHARED_FOREVER);
    atomic_store(p->turn, v + 1);
    muster_shared_notify(p->turn, 1);
  }
}

static void *pong_thread(void *arg) {
  pong_side(arg, 1);
  return NULL;
}

TEST_MODES(shared_ping_pong_threads, 30) {
  muster_shared_t *s;
  side_t side;
  ASSERT_OK(muster_shared_create(64, &s));
  pingpong_t p = {muster_shared_i32(s, 0), 2000};
  side_start(&side, isolation, pong_thread, &p);
  pong_side(&p, 0);
  side_join(&side);
  ASSERT_EQ(atomic_load(p.turn), 4000);
  muster_shared_unref(s);
}

/* A signal delivered to a waiter does not end its wait early. */
static void on_sigusr1(int sig) {}

TEST_MODES(shared_wait_survives_signal, 30) {
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_sigusr1;
  ASSERT_OK(sigaction(SIGUSR1, &sa, &old));
  muster_shared_t *s;
  side_t side;
  ASSERT_OK(muster_shared_create(4096, &s));
  waiters_t *ws = waiters_in(s, 0);
  side_start(&side, isolation, waiter, ws);
  for (int i = 0; i < 20; i++) {
    side_signal(&side, SIGUSR1);
    usleep(2000);
  }
  ASSERT_EQ(atomic_load(&ws->done), 0);
  notify_until(ws->word, 1);
  side_join(&side);
  ASSERT_EQ(atomic_load(&ws->ok), 1);
  ASSERT_OK(sigaction(SIGUSR1, &old, NULL));
  muster_shared_unref(s);
}

/* Across processes: a child (fork) maps the memory file anew from its
 * descriptor, at an address of its own, and plays the other side of a
 * ping-pong; then it blocks on a second word until the parent's notify
 * counts it. A private futex would hang here: its key is the address
 * space, which the two processes do not share. */
TEST_T(shared_futex_across_processes, 60) {
  muster_shared_t *s;
  ASSERT_OK(muster_shared_create(4096, &s));
  pingpong_t p = {muster_shared_i32(s, 0), 500};
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    muster_shared_t *mine;
    if (muster_shared_open(muster_shared_fd(s), &mine) != 0)
      _exit(2);
    pingpong_t c = {muster_shared_i32(mine, 0), p.rounds};
    pong_side(&c, 1);
    int r = muster_shared_wait(muster_shared_i32(mine, 1), 0, 20000 * MS);
    _exit(r == MUSTER_SHARED_OK ? 0 : 3);
  }
  pong_side(&p, 0);
  notify_until(muster_shared_i32(s, 1), 1);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(atomic_load(p.turn), 1000);
  muster_shared_unref(s);
}

/* ---- waitAsync ---------------------------------------------------------- */

typedef struct {
  int calls;
  int result;
  uv_thread_t loop_thread;
  int on_loop_thread;
  uint64_t at_ms;
} async_rec_t;

static void on_wait(muster_shared_wait_t *w, int result, void *data) {
  async_rec_t *r = data;
  uv_thread_t self = uv_thread_self();
  r->calls++;
  r->result = result;
  r->on_loop_thread = uv_thread_equal(&self, &r->loop_thread);
  r->at_ms = test_now_ms();
}

static void *notify_one(void *arg) {
  notify_until(arg, 1);
  return NULL;
}

/* A loop and a shared buffer for the asynchronous tests. */
typedef struct {
  uv_loop_t loop;
  muster_shared_t *s;
} async_fix_t;

static void async_setup(async_fix_t *f) {
  ASSERT_OK(uv_loop_init(&f->loop));
  ASSERT_OK(muster_shared_create(64, &f->s));
}

static void async_teardown(async_fix_t *f) {
  ASSERT_OK(uv_loop_close(&f->loop));
  muster_shared_unref(f->s);
}

/* Starts a wait for element `i` to leave 0, recorded in *r. */
static muster_shared_wait_t *start_wait(async_fix_t *f, size_t i,
                                        uint64_t timeout_ns, async_rec_t *r) {
  muster_shared_wait_t *w = NULL;
  memset(r, 0, sizeof *r);
  r->loop_thread = uv_thread_self();
  ASSERT_EQ(muster_shared_wait_async(&f->loop, muster_shared_i32(f->s, i), 0,
                                     timeout_ns, on_wait, r, &w),
            MUSTER_SHARED_PENDING);
  ASSERT(w != NULL);
  return w;
}

TEST_MODES(shared_wait_async_resolves_on_loop, 30) {
  async_fix_t f;
  side_t side;
  async_setup(&f);
  async_rec_t r;
  int fds = test_fd_count();
  start_wait(&f, 0, MUSTER_SHARED_FOREVER, &r);
  ASSERT_EQ(test_fd_count(), fds + 1); /* the wait's eventfd */
  side_start(&side, isolation, notify_one, muster_shared_i32(f.s, 0));
  test_run_loop(&f.loop, 10000);
  side_join(&side);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(r.result, MUSTER_SHARED_OK);
  ASSERT(r.on_loop_thread);
  ASSERT_EQ(test_fd_count(), fds); /* and closed once it resolved */
  async_teardown(&f);
}

TEST(shared_wait_async_sync_results) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int32_t word = 5;
  _Atomic int32_t *a = (_Atomic int32_t *)&word;
  async_rec_t r = {0};
  muster_shared_wait_t *w = NULL;
  ASSERT_EQ(muster_shared_wait_async(&loop, a, 4, MS, on_wait, &r, &w),
            MUSTER_SHARED_NOT_EQUAL);
  ASSERT_EQ(muster_shared_wait_async(&loop, a, 5, 0, on_wait, &r, &w),
            MUSTER_SHARED_TIMED_OUT);
  ASSERT_ERR(muster_shared_wait_async(NULL, a, 5, MS, on_wait, &r, &w),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_wait_async(&loop, a, 5, MS, NULL, &r, &w),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_shared_wait_async(&loop, NULL, 5, MS, on_wait, &r, &w),
             MUSTER_EINVAL);
  ASSERT(w == NULL);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(r.calls, 0);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST(shared_wait_async_timeout) {
  async_fix_t f;
  async_setup(&f);
  async_rec_t r;
  uint64_t t0 = test_now_ms();
  start_wait(&f, 0, 60 * MS, &r);
  test_run_loop(&f.loop, 10000);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(r.result, MUSTER_SHARED_TIMED_OUT);
  ASSERT_GE(r.at_ms - t0, 60);
  async_teardown(&f);
}

static int calls_of(const async_rec_t *r, int count) {
  int sum = 0;
  for (int i = 0; i < count; i++)
    sum += r[i].calls;
  return sum;
}

/* Many asynchronous waits on one word: notify(2) counts and resolves
 * exactly two, then the rest. */
TEST(shared_wait_async_notify_counts) {
  async_fix_t f;
  async_setup(&f);
  _Atomic int32_t *word = muster_shared_i32(f.s, 0);
  async_rec_t r[5];
  for (int i = 0; i < 5; i++)
    start_wait(&f, 0, MUSTER_SHARED_FOREVER, &r[i]);
  notify_until(word, 2);
  uint64_t t0 = test_now_ms();
  while (calls_of(r, 5) < 2) {
    uv_run(&f.loop, UV_RUN_ONCE);
    ASSERT(test_now_ms() - t0 < 10000);
  }
  /* Give a wrong implementation time to resolve more than two. */
  usleep(50 * 1000);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  ASSERT_EQ(calls_of(r, 5), 2);
  notify_until(word, 3);
  test_run_loop(&f.loop, 10000);
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(r[i].calls, 1);
    ASSERT_EQ(r[i].result, MUSTER_SHARED_OK);
  }
  async_teardown(&f);
}

/* Closing a loop with pending waits: cancel them, the callbacks say
 * ECANCELED, the threads are joined, the loop closes, nothing leaks
 * (ASan checks the memory, the runner the fds). */
TEST(shared_wait_async_cancel_then_close_loop) {
  int fds = test_fd_count();
  async_fix_t f;
  async_setup(&f);
  async_rec_t r[3];
  muster_shared_wait_t *w[3];
  for (int i = 0; i < 3; i++)
    w[i] = start_wait(&f, (size_t)i,
                      i == 2 ? 3600000 * MS : MUSTER_SHARED_FOREVER, &r[i]);
  /* One canceled before its thread can have started, two later. */
  muster_shared_wait_cancel(w[0]);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  usleep(20 * 1000);
  muster_shared_wait_cancel(w[1]);
  muster_shared_wait_cancel(w[2]);
  test_run_loop(&f.loop, 10000);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(r[i].calls, 1);
    ASSERT_ERR(r[i].result, MUSTER_ECANCELED);
    ASSERT(r[i].on_loop_thread);
  }
  /* The waits were the only waiters: nothing is left in the queues. */
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(muster_shared_notify(muster_shared_i32(f.s, (size_t)i),
                                   MUSTER_SHARED_ALL),
              0);
  async_teardown(&f);
  ASSERT_EQ(test_fd_count(), fds);
}

/* A value changed before the helper thread queued: resolves ok, as the
 * header says, instead of hanging. */
TEST(shared_wait_async_value_changed_early) {
  async_fix_t f;
  async_setup(&f);
  async_rec_t r;
  start_wait(&f, 0, MUSTER_SHARED_FOREVER, &r);
  atomic_store(muster_shared_i32(f.s, 0), 1);
  muster_shared_notify(muster_shared_i32(f.s, 0), 1);
  test_run_loop(&f.loop, 10000);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(r.result, MUSTER_SHARED_OK);
  async_teardown(&f);
}

/* waitAsync in the parent resolved by a notify from a child process. */
TEST_T(shared_wait_async_across_processes, 60) {
  async_fix_t f;
  async_setup(&f);
  async_rec_t r;
  start_wait(&f, 0, MUSTER_SHARED_FOREVER, &r);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    muster_shared_t *mine;
    if (muster_shared_open(muster_shared_fd(f.s), &mine) != 0)
      _exit(2);
    _Atomic int32_t *w = muster_shared_i32(mine, 0);
    for (int i = 0; i < 50000; i++) {
      if (muster_shared_notify(w, 1) == 1)
        _exit(0);
      usleep(200);
    }
    _exit(3);
  }
  test_run_loop(&f.loop, 20000);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(r.result, MUSTER_SHARED_OK);
  async_teardown(&f);
}
