/* Diagnostic reports (muster/process_report.h): each section checked
 * against what the test itself set up; the fatal report from a fixture
 * that dereferences NULL. */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *load(const char *path) {
  json_error_t err;
  json_t *doc = json_load_file(path, 0, &err);
  if (doc == NULL)
    TEST_FAIL("%s: line %d: %s", path, err.line, err.text);
  return doc;
}

/* The element of array `a` whose member `key` is the integer v. */
static json_t *find_int(json_t *a, const char *key, json_int_t v) {
  size_t i;
  json_t *e;
  json_array_foreach(a, i, e) {
    if (json_integer_value(json_object_get(e, key)) == v)
      return e;
  }
  return NULL;
}

static const char *str_at(json_t *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *key = strtok(buf, "."), *next; key != NULL; key = next) {
    next = strtok(NULL, ".");
    o = json_object_get(o, key);
  }
  return json_string_value(o);
}

static void make_dir(char *tmpl) {
  ASSERT(mkdtemp(tmpl) != NULL);
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  ASSERT_EQ(rmdir(dir), 0);
}

TEST(process_report_on_demand) {
  char dir[] = "/tmp/muster-report-XXXXXX", path[256];
  make_dir(dir);
  snprintf(path, sizeof path, "%s/r.json", dir);
  ASSERT_OK(muster_process_setenv("MUSTER_TEST_API_TOKEN", "hunter2"));
  ASSERT_OK(muster_process_setenv("MUSTER_TEST_PLAIN", "visible"));

  uv_loop_t loop;
  uv_timer_t timer;
  uv_tcp_t tcp;
  struct sockaddr_in addr;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uv_timer_init(&loop, &timer));
  ASSERT_OK(uv_tcp_init(&loop, &tcp));
  ASSERT_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
  ASSERT_OK(uv_tcp_bind(&tcp, (struct sockaddr *)&addr, 0));
  ASSERT_OK(uv_listen((uv_stream_t *)&tcp, 8, NULL));
  struct sockaddr_in bound;
  int blen = sizeof bound;
  ASSERT_OK(uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &blen));
  uv_os_fd_t tcp_fd;
  ASSERT_OK(uv_fileno((uv_handle_t *)&tcp, &tcp_fd));
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int efd = eventfd(0, EFD_CLOEXEC);
  ASSERT(efd >= 0);

  ASSERT_OK(muster_process_report_file(&loop, path, "test"));
  json_t *doc = load(path);
  ASSERT_STR_EQ(str_at(doc, "header.event"), "test");
  ASSERT_STR_EQ(str_at(doc, "header.trigger"), "API");
  json_t *h = json_object_get(doc, "header");
  ASSERT_EQ(json_integer_value(json_object_get(h, "processId")), getpid());
  ASSERT_EQ(json_integer_value(json_object_get(h, "ppid")), getppid());
  ASSERT_STR_EQ(str_at(h, "versions.uv"), uv_version_string());
  ASSERT(json_array_size(json_object_get(h, "commandLine")) >= 2);
  ASSERT(strlen(str_at(h, "dumpEventTime")) == 24);
  ASSERT(json_object_get(doc, "signal") == NULL);

  json_t *ru = json_object_get(doc, "resourceUsage");
  ASSERT(json_integer_value(json_object_get(ru, "rss")) > 0);
  ASSERT(json_is_integer(json_object_get(ru, "heapUsed")));

  json_t *uv = json_object_get(doc, "libuv");
  json_t *th = find_int(uv, "fd", tcp_fd);
  ASSERT(th != NULL);
  ASSERT_STR_EQ(str_at(th, "type"), "tcp");
  ASSERT(json_is_true(json_object_get(th, "is_active")));
  int saw_timer = 0;
  size_t i;
  json_t *e;
  json_array_foreach(uv, i, e) saw_timer |=
      strcmp(str_at(e, "type"), "timer") == 0;
  ASSERT(saw_timer);

  json_t *fds = json_object_get(doc, "fds");
  json_t *sock = find_int(fds, "fd", tcp_fd);
  ASSERT(sock != NULL);
  ASSERT_STR_EQ(str_at(sock, "type"), "socket");
  ASSERT_STR_EQ(str_at(sock, "family"), "inet");
  ASSERT(json_is_true(json_object_get(sock, "listening")));
  ASSERT_STR_EQ(str_at(sock, "local.address"), "127.0.0.1");
  ASSERT_EQ(json_integer_value(
                json_object_get(json_object_get(sock, "local"), "port")),
            ntohs(bound.sin_port));
  ASSERT_STR_EQ(str_at(find_int(fds, "fd", p[0]), "type"), "pipe");
  ASSERT_STR_EQ(str_at(find_int(fds, "fd", p[1]), "mode"), "w");
  ASSERT_STR_EQ(str_at(find_int(fds, "fd", efd), "type"), "eventfd");
  ASSERT(json_is_true(json_object_get(find_int(fds, "fd", efd), "cloexec")));

  json_t *threads = json_object_get(doc, "threads");
  ASSERT(find_int(threads, "tid", getpid()) != NULL);

  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  json_t *nofile =
      json_object_get(json_object_get(doc, "userLimits"), "nofile");
  ASSERT_EQ(json_integer_value(json_object_get(nofile, "soft")), rl.rlim_cur);

  ASSERT_STR_EQ(str_at(doc, "environmentVariables.MUSTER_TEST_API_TOKEN"),
                "[REDACTED]");
  ASSERT_STR_EQ(str_at(doc, "environmentVariables.MUSTER_TEST_PLAIN"),
                "visible");
  json_decref(doc);

  /* To an fd, without a loop. */
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_OK(muster_process_report_fd(NULL, fd, NULL));
  close(fd);
  doc = load(path);
  ASSERT_STR_EQ(str_at(doc, "header.event"), "API");
  ASSERT_EQ(json_array_size(json_object_get(doc, "libuv")), 0);
  json_decref(doc);

  close(p[0]);
  close(p[1]);
  close(efd);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_close((uv_handle_t *)&tcp, NULL);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
  muster_process_unsetenv("MUSTER_TEST_API_TOKEN");
  muster_process_unsetenv("MUSTER_TEST_PLAIN");
  remove_dir(dir);
}

TEST(process_report_errors) {
  ASSERT_ERR(muster_process_report_fd(NULL, -1, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_report_file(NULL, NULL, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_report_file(NULL, "", NULL), MUSTER_EINVAL);
  ASSERT_ERR(
      muster_process_report_file(NULL, "/nonexistent-muster/r.json", NULL),
      MUSTER_ENOENT);
  /* A closed fd, and a pipe nobody reads (EPIPE, not a SIGPIPE death). */
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  close(p[0]);
  close(p[1]);
  ASSERT_ERR(muster_process_report_fd(NULL, p[1], NULL), MUSTER_EBADF);
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  close(p[0]);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  ASSERT_ERR(muster_process_report_fd(NULL, p[1], NULL), MUSTER_EPIPE);
  struct timespec zero = {0, 0};
  sigtimedwait(&block, NULL, &zero);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(p[1]);

  uv_loop_t loop;
  muster_report_signal_t *t = (void *)&loop;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(muster_process_report_on_signal(&loop, SIGSEGV, NULL, &t),
             MUSTER_EINVAL);
  ASSERT(t == NULL);
  ASSERT_ERR(muster_process_report_on_signal(NULL, SIGUSR2, NULL, &t),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_process_report_on_signal(&loop, SIGUSR2, NULL, NULL),
             MUSTER_EINVAL);
  ASSERT_OK(uv_loop_close(&loop));

  muster_report_fatal_options_t o;
  memset(&o, 0, sizeof o);
  ASSERT_ERR(muster_process_report_on_fatal(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_report_on_fatal(&o), MUSTER_EINVAL);
  o.path = "/nonexistent-muster/crash.json";
  ASSERT_ERR(muster_process_report_on_fatal(&o), MUSTER_ENOENT);
  o.path = "/tmp/";
  ASSERT_ERR(muster_process_report_on_fatal(&o), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_report_on_fatal_stop(), MUSTER_ENOENT);
  /* Installed and removed in this process: the handler comes and goes,
   * and nothing is left open (the runner counts fds). */
  char dir[] = "/tmp/muster-report-XXXXXX", path[256];
  make_dir(dir);
  snprintf(path, sizeof path, "%s/crash.json", dir);
  o.path = path;
  ASSERT_OK(muster_process_report_on_fatal(&o));
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGSEGV, NULL, &sa), 0);
  ASSERT(sa.sa_flags & SA_SIGINFO);
  ASSERT_OK(muster_process_report_on_fatal(&o)); /* again: replaces */
  ASSERT_OK(muster_process_report_on_fatal_stop());
  ASSERT_EQ(sigaction(SIGSEGV, NULL, &sa), 0);
  ASSERT(sa.sa_handler == SIG_DFL);
  remove_dir(dir);
}

static int report_seen;

static void look_for_report(uv_timer_t *t) {
  DIR *d = opendir(t->data);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "report.", 7) == 0)
      report_seen = 1;
  closedir(d);
  if (report_seen)
    uv_close((uv_handle_t *)t, NULL);
}

TEST(process_report_on_signal) {
  char dir[] = "/tmp/muster-report-XXXXXX";
  make_dir(dir);
  uv_loop_t loop;
  uv_timer_t poll;
  muster_report_signal_t *t;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(muster_process_report_on_signal(&loop, SIGUSR2, dir, &t));
  ASSERT_OK(uv_timer_init(&loop, &poll));
  poll.data = dir;
  ASSERT_OK(uv_timer_start(&poll, look_for_report, 10, 10));
  ASSERT_EQ(raise(SIGUSR2), 0);
  test_run_loop(&loop, 10000);
  ASSERT(report_seen);
  muster_process_report_on_signal_close(t);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));

  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512] = "";
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "report.", 7) == 0)
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
  closedir(d);
  /* report.YYYYMMDD.HHMMSS.PID.0.001.json */
  char tail[64];
  snprintf(tail, sizeof tail, ".%d.0.001.json", (int)getpid());
  ASSERT(strstr(path, tail) != NULL);
  json_t *doc = load(path);
  ASSERT_STR_EQ(str_at(doc, "header.trigger"), "Signal");
  ASSERT_STR_EQ(str_at(doc, "header.event"), "SIGUSR2");
  ASSERT_STR_EQ(str_at(doc, "signal.name"), "SIGUSR2");
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  json_decref(doc);
  remove_dir(dir);
}

static json_t *crash(const char *mode, const char *dir, int want_signal) {
  char path[256];
  snprintf(path, sizeof path, "%s/crash.json", dir);
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 30000;
  muster_exec_result_t r;
  ASSERT_OK(muster_spawn_sync(
      test_fixture_path(),
      test_fixture_argv("process_report_crash", path, mode, NULL), &o, &r));
  ASSERT_EQ(r.term_signal, want_signal);
  muster_exec_result_free(&r);
  if (want_signal == 0) {
    ASSERT_ERR(access(path, F_OK) ? -errno : 0, MUSTER_ENOENT);
    return NULL;
  }
  return load(path);
}

/* The nativeStack names the function that dereferenced NULL. */
static int stack_has(json_t *doc, const char *fn) {
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(doc, "nativeStack"), i, f) {
    if (strstr(str_at(f, "symbol"), fn) != NULL)
      return 1;
  }
  return 0;
}

TEST_T(process_report_fatal, 60) {
  char dir[] = "/tmp/muster-report-XXXXXX";
  make_dir(dir);
  json_t *doc = crash("segv", dir, SIGSEGV);
  ASSERT_STR_EQ(str_at(doc, "header.trigger"), "FatalSignal");
  ASSERT_STR_EQ(str_at(doc, "signal.name"), "SIGSEGV");
  ASSERT_STR_EQ(str_at(doc, "signal.address"), "0x0");
  ASSERT(stack_has(doc, "report_crash_deref_null"));
  /* The stack starts at the fault, not in the handler. */
  ASSERT(strstr(str_at(json_array_get(json_object_get(doc, "nativeStack"), 0),
                       "symbol"),
                "report_crash_deref_null") != NULL);
  ASSERT_STR_EQ(str_at(doc, "custom.note"), "from the hook");
  ASSERT_EQ(json_integer_value(
                json_object_get(json_object_get(doc, "custom"), "signum")),
            SIGSEGV);
  ASSERT(json_object_get(json_object_get(doc, "resourceUsage"), "heapUsed") ==
         NULL);
  ASSERT(json_array_size(json_object_get(doc, "libuv")) >= 1);
  json_decref(doc);

  /* In another thread: that thread is the one marked. */
  doc = crash("thread", dir, SIGSEGV);
  ASSERT(stack_has(doc, "report_crash_deref_null"));
  json_int_t tid = json_integer_value(
      json_object_get(json_object_get(doc, "signal"), "thread"));
  ASSERT_NE(tid, json_integer_value(json_object_get(
                     json_object_get(doc, "header"), "processId")));
  json_t *t = find_int(json_object_get(doc, "threads"), "tid", tid);
  ASSERT(t != NULL && json_is_true(json_object_get(t, "signalled")));
  json_decref(doc);

  doc = crash("abort", dir, SIGABRT);
  ASSERT_STR_EQ(str_at(doc, "signal.name"), "SIGABRT");
  json_decref(doc);

  /* No crash, no file: the prepared file had no name. */
  remove_dir(dir);
  memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
  make_dir(dir);
  crash("none", dir, 0);
  remove_dir(dir);
}
