/* The apps' process groups on disk (groups.h).
 *
 * Why: an app's main process dies with the daemon (the parent-death signal
 * it is spawned with, instance.c), but what the app forked itself does
 * not: the kernel clears that setting in a fork. After a kill -9 of the
 * daemon those processes would run on unseen, and a resurrect would start
 * the app again next to them (PM2's duplicates). Every app is its own session and process group
 * (instance.c), so the group id names all of it; this file keeps the list
 * of live groups in MUSTER_HOME/groups.json and the next daemon ends them.
 *
 * The record: {"muster_groups": 1, "boot_id": "...", "groups": [{"pgid",
 * "start", "signal", "kill_timeout"}]}, where `start` is the leader's start
 * time in clock ticks since boot (/proc/<pid>/stat, field 22). It is
 * rewritten whole at every change (temporary file, rename): a reader sees
 * the old or the new list, never a mix. No fsync: the record only matters
 * while the machine is up, and one from an earlier boot is ignored (its
 * boot_id differs), since its pids and start times mean nothing now.
 *
 * Against pid reuse. The kernel never hands out a pid that is still the id
 * of a process group or session, so while any member of our group lives,
 * no new process can be `pgid`. A group is taken as ours when
 *   - its leader still runs (or is a zombie) with the recorded start time;
 *     a leader pid that runs with another start time means the group died
 *     and the pid was reused: nothing is signalled;
 *   - or its leader is gone and some process has pgid and session equal to
 *     the recorded id and started no earlier than the leader did.
 * The only false match left needs the whole group to die while no daemon
 * ran, then a new process to get that very pid and make itself a session
 * leader: far less likely than the duplicate it prevents.
 *
 * The window: a group is recorded when libmuster reports the new process
 * (on_child), a moment after the spawn, and the file is written from the
 * end of that loop turn (a uv_check handle) by one job on the threadpool,
 * so an ecosystem of 100 apps started by one request costs one write, not
 * 100, and neither the leader's start time (its stat waits while it is
 * still in execve) nor the rename holds up the loop; changes made while a
 * job runs are written by the next one. A daemon killed inside that
 * window leaves a main process that dies by its parent-death signal
 * before it could fork much; that is accepted. */
#include "groups.h"
#include "groups_record.h"

#include <muster.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A leftover group that outlives its kill timeout plus this after SIGKILL
 * (a process in uninterruptible sleep) is given up with a note. */
#define GROUPS_KILL_GRACE_MS 5000
/* The CLI that started this daemon waits 10 s for its first answer: a
 * leftover's kill timeout is cut to this much. */
#define GROUPS_MAX_KILL_TIMEOUT_MS 3000

typedef struct {
  const void *key; /* NULL for a leftover read from the file */
  int pgid;
  unsigned long long start;
  int signo;
  uint64_t kill_timeout_ms;
  uint64_t deadline_ms; /* leftovers: when SIGKILL is due */
  int killed;           /* leftovers: SIGKILL sent */
  int alive;            /* leftovers: members seen by the last scan */
  int start_state;      /* START_KNOWN, or see job_work */
} group_t;

enum {
  START_KNOWN,   /* start holds the leader's start time */
  START_PENDING, /* not read yet: the next write job reads it */
  START_READ,    /* in a job's copy: read by the job */
  START_GONE     /* in a job's copy: the leader was gone */
};

/* A write of the record on the threadpool: a copy of the groups, whose
 * pending start times it reads first. */
typedef struct {
  uv_work_t req;
  group_t *v;
  size_t n;
  int err;
} job_t;

static group_t *groups;
static size_t ngroups, cap;
static uv_check_t flush;
static uv_loop_t *loop;
static job_t *job;  /* the write in flight, or NULL */
static int again;   /* changed since that job's copy: write once more */
static int opened;
static char path[PATH_MAX + 16], tmp[PATH_MAX + 32], boot_id[64];

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* /proc/<pid>/stat: state, process group, session and start time. The
 * name (field 2) may hold spaces and parentheses: parse after the last
 * ')'. Returns 0, or -1 when the process does not exist. */
static int proc_stat(int pid, char *state, int *pgrp, int *session,
                     unsigned long long *start) {
  char p[64], buf[1024];
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char *s = strrchr(buf, ')');
  if (s == NULL)
    return -1;
  /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
   * cmajflt utime stime cutime cstime priority nice num_threads
   * itrealvalue starttime */
  if (sscanf(s + 1,
             " %c %*d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
             "%*d %*d %*d %*d %llu",
             state, pgrp, session, start) != 4)
    return -1;
  return 0;
}

static void read_boot_id(void) {
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
  boot_id[0] = '\0';
  if (f == NULL)
    return;
  if (fgets(boot_id, sizeof boot_id, f))
    boot_id[strcspn(boot_id, "\n")] = '\0';
  fclose(f);
}

/* Writes the groups g[0..n) whose start is known (temporary file,
 * rename). Called on the loop thread or, for a job, on the threadpool:
 * it touches only g and what groups_open() set before any job. */
static int save_groups(const group_t *g, size_t n) {
  groups_entry_t *v = malloc((n ? n : 1) * sizeof *v);
  if (v == NULL)
    return MUSTER_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (g[i].start_state == START_KNOWN || g[i].start_state == START_READ)
      v[k++] = (groups_entry_t){.pgid = g[i].pgid,
                                .start = g[i].start,
                                .signo = g[i].signo,
                                .kill_timeout_ms = g[i].kill_timeout_ms};
  char *text = groups_record_encode(v, k, boot_id);
  free(v);
  if (text == NULL)
    return MUSTER_ENOMEM;
  int r = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    r = -errno;
  } else {
    size_t len = strlen(text), off = 0;
    while (off < len && r == 0) {
      ssize_t w = write(fd, text + off, len - off);
      if (w < 0 && errno != EINTR)
        r = -errno;
      else if (w > 0)
        off += (size_t)w;
    }
    if (close(fd) < 0 && r == 0)
      r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
      r = -errno;
    if (r < 0)
      unlink(tmp);
  }
  free(text);
  return r;
}

static void say(int r) {
  if (r < 0)
    fprintf(stderr,
            "muster daemon: %s: %s (%s): a daemon started after this one "
            "is killed may not see every app process\n",
            path, muster_err_name(r), muster_strerror(r));
}

/* On the loop thread, with no job in flight (groups_open, groups_close,
 * job_done); a group whose start is still pending is left out. */
static void save_or_say(void) { say(save_groups(groups, ngroups)); }

/* The threadpool's part: the start times not read yet, then the file.
 * Reading /proc/<pid>/stat of a process that is still inside execve()
 * waits until the exec is done (milliseconds, longer under load): on
 * the loop that held back the reply to `start` and every request after
 * it. A process cannot fork before its exec is done, so nothing it
 * starts can be missed meanwhile. */
static void job_work(uv_work_t *req) {
  job_t *j = req->data;
  for (size_t i = 0; i < j->n; i++) {
    group_t *g = &j->v[i];
    char state;
    int pgrp, sid;
    /* The leader may be gone already (it exited at once): then its
     * group is empty or on its way out, and the row will report it. */
    if (g->start_state == START_PENDING)
      g->start_state = proc_stat(g->pgid, &state, &pgrp, &sid, &g->start) < 0
                           ? START_GONE
                           : START_READ;
  }
  j->err = save_groups(j->v, j->n);
}

static void start_job(void);

/* Back on the loop: what the job read goes to the groups still the same
 * (same key and group id, still pending). */
static void job_done(uv_work_t *req, int status) {
  job_t *j = req->data;
  (void)status;
  job = NULL;
  for (size_t i = 0; i < j->n; i++) {
    const group_t *c = &j->v[i];
    if (c->start_state != START_READ && c->start_state != START_GONE)
      continue;
    for (size_t k = 0; k < ngroups; k++) {
      group_t *g = &groups[k];
      if (g->key != c->key || g->pgid != c->pgid ||
          g->start_state != START_PENDING)
        continue;
      if (c->start_state == START_GONE) {
        groups[k] = groups[--ngroups];
      } else {
        g->start = c->start;
        g->start_state = START_KNOWN;
      }
      break;
    }
  }
  say(j->err);
  free(j->v);
  free(j);
  if (!opened)
    save_or_say(); /* closed meanwhile: the last word is the loop's */
  else if (again)
    start_job();
}

static void start_job(void) {
  again = 0;
  job_t *j = calloc(1, sizeof *j);
  group_t *v = malloc((ngroups ? ngroups : 1) * sizeof *v);
  if (j == NULL || v == NULL) {
    free(j);
    free(v);
    say(MUSTER_ENOMEM);
    return;
  }
  memcpy(v, groups, ngroups * sizeof *v);
  *j = (job_t){.v = v, .n = ngroups};
  j->req.data = j;
  if (uv_queue_work(loop, &j->req, job_work, job_done) < 0) {
    free(v);
    free(j);
    say(MUSTER_ENOMEM);
    return;
  }
  job = j;
}

static void on_flush(uv_check_t *c) {
  uv_check_stop(c);
  if (job)
    again = 1; /* the job in flight has an older copy */
  else
    start_job();
}

/* Written from the end of this loop turn on, on the threadpool. */
static void changed(void) {
  if (opened)
    uv_check_start(&flush, on_flush);
}

static int push(const group_t *g) {
  if (ngroups == cap) {
    size_t n = cap ? cap * 2 : 16;
    group_t *v = realloc(groups, n * sizeof *v);
    if (v == NULL)
      return MUSTER_ENOMEM;
    groups = v;
    cap = n;
  }
  groups[ngroups++] = *g;
  return 0;
}

/* The groups a previous daemon recorded (same boot only). A missing or
 * unreadable record is none (first start, a clean home). */
static void load(void) {
  size_t n;
  groups_entry_t *v;
  json_error_t je;
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  int r = groups_record_decode(doc, boot_id, &v, &n);
  json_decref(doc);
  if (r < 0)
    return;
  for (size_t i = 0; i < n; i++) {
    group_t g = {.pgid = v[i].pgid,
                 .start = v[i].start,
                 .signo = v[i].signo,
                 .kill_timeout_ms = v[i].kill_timeout_ms};
    push(&g);
  }
  free(v);
}

/* Counts the live (non-zombie) members of every leftover group still to
 * end (pgid != 0) into its `alive`, by the rules at the top, in one pass
 * over /proc; a group that cannot be ours (its leader's pid was reused)
 * or has no member left is done (pgid 0). */
static void scan(DIR *proc) {
  char state;
  int pgrp, sid;
  unsigned long long start;
  for (size_t i = 0; i < ngroups; i++) {
    group_t *g = &groups[i];
    g->alive = 0;
    if (g->pgid && proc_stat(g->pgid, &state, &pgrp, &sid, &start) == 0 &&
        start != g->start)
      g->pgid = 0;
  }
  struct dirent *e;
  rewinddir(proc);
  while ((e = readdir(proc)) != NULL) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || proc_stat(pid, &state, &pgrp, &sid, &start) < 0 ||
        pgrp != sid || state == 'Z' || state == 'X')
      continue;
    for (size_t i = 0; i < ngroups; i++)
      if (groups[i].pgid && groups[i].pgid == pgrp && start >= groups[i].start)
        groups[i].alive++;
  }
  for (size_t i = 0; i < ngroups; i++)
    if (groups[i].alive == 0)
      groups[i].pgid = 0;
}

/* Signals every leftover group, then waits for each, with SIGKILL once its
 * kill timeout passed. Returns the number of processes found at first. */
static int end_leftovers(void) {
  DIR *proc = opendir("/proc");
  if (proc == NULL)
    return 0;
  int found = 0;
  uint64_t t0 = now_ms();
  scan(proc);
  for (size_t i = 0; i < ngroups; i++) {
    group_t *g = &groups[i];
    if (g->pgid == 0)
      continue;
    found += g->alive;
    fprintf(stderr,
            "muster daemon: process group %d (%d process%s) outlived the "
            "previous daemon: sending %s\n",
            g->pgid, g->alive, g->alive == 1 ? "" : "es",
            muster_signal_name(g->signo));
    kill(-g->pgid, g->signo);
    g->deadline_ms = t0 + (g->kill_timeout_ms < GROUPS_MAX_KILL_TIMEOUT_MS
                               ? g->kill_timeout_ms
                               : GROUPS_MAX_KILL_TIMEOUT_MS);
  }
  while (found > 0) {
    usleep(10000);
    scan(proc);
    int left = 0;
    uint64_t t = now_ms();
    for (size_t i = 0; i < ngroups; i++) {
      group_t *g = &groups[i];
      if (g->pgid == 0)
        continue;
      if (!g->killed && t >= g->deadline_ms) {
        kill(-g->pgid, SIGKILL);
        g->killed = 1;
      }
      if (g->killed && t >= g->deadline_ms + GROUPS_KILL_GRACE_MS) {
        fprintf(stderr,
                "muster daemon: process group %d survives SIGKILL: given "
                "up\n",
                g->pgid);
        g->pgid = 0;
        continue;
      }
      left++;
    }
    if (left == 0)
      break;
  }
  closedir(proc);
  return found;
}

int groups_open(uv_loop_t *l, const home_t *h) {
  if (snprintf(path, sizeof path, "%s/groups.json", h->dir) >=
          (int)sizeof path ||
      snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return MUSTER_ENAMETOOLONG;
  read_boot_id();
  load();
  int found = end_leftovers();
  ngroups = 0;
  /* A full disk must not keep the apps down: say so and go on. */
  save_or_say();
  loop = l;
  uv_check_init(loop, &flush);
  uv_unref((uv_handle_t *)&flush);
  opened = 1;
  return found;
}

void groups_track(const void *key, int pgid, int signo,
                  uint64_t kill_timeout_ms) {
  if (pgid <= 1)
    return;
  group_t g = {.key = key,
               .pgid = pgid,
               .start_state = START_PENDING,
               .signo = signo > 0 ? signo : SIGTERM,
               .kill_timeout_ms = kill_timeout_ms};
  size_t i;
  for (i = 0; i < ngroups && groups[i].key != key; i++)
    ;
  if (i < ngroups)
    groups[i] = g;
  else if (push(&g) < 0)
    return;
  changed();
}

void groups_untrack(const void *key) {
  for (size_t i = 0; i < ngroups; i++)
    if (groups[i].key == key) {
      groups[i] = groups[--ngroups];
      changed();
      return;
    }
}

void groups_close(void) {
  if (!opened)
    return;
  opened = 0;
  if (uv_is_active((uv_handle_t *)&flush))
    save_or_say();
  uv_close((uv_handle_t *)&flush, NULL);
  free(groups);
  groups = NULL;
  ngroups = cap = 0;
}
