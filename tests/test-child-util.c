/* Helpers for the child-process tests; see test-child.h. */
#include "test-child.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void rec_init(rec_t *r) {
  memset(r, 0, sizeof *r);
  r->close_on_close = 1;
}

void rec_event(rec_t *r, const char *ev) {
  size_t n = strlen(r->log);
  snprintf(r->log + n, sizeof r->log - n, "%s%s", n ? " " : "", ev);
}

static void on_spawn(muster_child_t *c) {
  rec_t *r = muster_child_data(c);
  r->spawned++;
  rec_event(r, "spawn");
}

static void append(char *buf, size_t cap, size_t *len, const char *b,
                   size_t n) {
  if (*len + n >= cap)
    n = cap - *len - 1;
  memcpy(buf + *len, b, n);
  *len += n;
  buf[*len] = '\0';
}

static void on_data(muster_child_t *c, int slot, const char *buf, size_t len) {
  rec_t *r = muster_child_data(c);
  char ev[32];
  if (buf == NULL) {
    ASSERT_EQ(len, 0);
    ASSERT_EQ(r->eof[slot], 0);
    r->eof[slot] = 1;
    snprintf(ev, sizeof ev, "eof%d", slot);
    rec_event(r, ev);
    return;
  }
  ASSERT(len > 0);
  ASSERT_EQ(r->eof[slot], 0);
  snprintf(ev, sizeof ev, "data%d", slot);
  /* Log a run of chunks from one slot once. */
  size_t n = strlen(r->log);
  size_t k = strlen(ev);
  if (!(n >= k && strcmp(r->log + n - k, ev) == 0))
    rec_event(r, ev);
  if (slot == 1)
    append(r->out, sizeof r->out, &r->out_len, buf, len);
  else if (slot == 2)
    append(r->err, sizeof r->err, &r->err_len, buf, len);
  else
    append(r->other, sizeof r->other, &r->other_len, buf, len);
}

static void on_exit_cb(muster_child_t *c, int64_t status, int sig) {
  rec_t *r = muster_child_data(c);
  ASSERT_EQ(r->exited, 0);
  r->exited++;
  r->exit_status = status;
  r->term_signal = sig;
  rec_event(r, "exit");
  int64_t s2 = -1;
  int sig2 = -1;
  ASSERT_EQ(muster_child_exited(c, &s2, &sig2), 1);
  ASSERT_EQ(s2, status);
  ASSERT_EQ(sig2, sig);
}

void rec_freed_cb(muster_child_t *c) {
  rec_t *r = muster_child_data(c);
  r->freed++;
}

static void on_close(muster_child_t *c) {
  rec_t *r = muster_child_data(c);
  ASSERT_EQ(r->closed, 0);
  r->closed++;
  rec_event(r, "close");
  if (r->close_on_close)
    muster_child_close(c, rec_freed_cb);
}

void rec_setup(uv_loop_t *loop, rec_t *r, muster_spawn_options_t *o) {
  ASSERT_OK(uv_loop_init(loop));
  rec_init(r);
  memset(o, 0, sizeof *o);
  rec_options(o, r);
}

void rec_options(muster_spawn_options_t *o, rec_t *r) {
  o->on_spawn = on_spawn;
  o->on_data = on_data;
  o->on_exit = on_exit_cb;
  o->on_close = on_close;
  o->data = r;
}

/* Children of this process: zombies (`zombies` 1) or those still running
 * (0). *first, when not NULL, gets one of them. */
static int count_children(int zombies, pid_t *first) {
  DIR *d = opendir("/proc");
  int me = (int)getpid(), n = 0;
  struct dirent *e;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL) {
    char path[300], buf[512];
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
      continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* pid (comm) state ppid ...; comm may hold spaces and parentheses */
    char *p = strrchr(buf, ')');
    char state;
    int ppid;
    if (p == NULL || sscanf(p + 1, " %c %d", &state, &ppid) != 2 ||
        ppid != me || (state == 'Z') != zombies)
      continue;
    if (n++ == 0 && first != NULL)
      *first = (pid_t)atoi(e->d_name);
  }
  closedir(d);
  return n;
}

int test_zombie_count(void) {
  return count_children(1, NULL);
}

int test_contains(const char *hay, const char *needle) {
  return hay != NULL && strstr(hay, needle) != NULL;
}

void test_subreaper_begin(void) {
  ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}

static void reap_zombies(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

int test_descendants_end(int ms) {
  int alive = 0;
  for (int waited = 0;; waited += 20) {
    reap_zombies();
    alive = count_children(0, NULL);
    if (alive == 0 || waited >= ms)
      break;
    usleep(20 * 1000);
  }
  /* Leave nothing behind whatever the verdict: kill and reap, deepest
   * first as they are reparented to us. */
  pid_t pid;
  while (count_children(0, &pid) > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    reap_zombies();
  }
  reap_zombies();
  return alive;
}
