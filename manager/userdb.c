/* The user database through `getent`. See userdb.h. */
#include "userdb.h"

#include <muster.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest a lookup may take (an LDAP server that does not answer). */
#define ASK_TIMEOUT_MS 10000
/* Most output of one getent kept (an initgroups line of 65,536 groups is
 * under 500 kB); more is an answer that does not parse. */
#define ASK_MAX_OUTPUT (1024 * 1024)
#define CACHE_SIZE 64

/* One (db, key) and what is known of it: its last answer (the first line
 * getent printed, or NULL for "no such entry", or an error with a sentence)
 * and whether a getent for it runs now. */
typedef struct {
  char db[16];
  char key[256];
  int used;
  int answered;     /* err, text and why hold an answer */
  uint64_t at_ms;   /* when it came */
  uint64_t read_ms; /* when it was last read (the least recent goes) */
  int err;          /* 0, MUSTER_ENOENT, or why the database was not asked */
  char *text;
  char why[200];
  muster_child_t *child; /* the getent asking now, or NULL */
  int pid;
  char *out; /* its stdout so far */
  size_t out_len;
} answer_t;

static answer_t cache[CACHE_SIZE];
static uv_loop_t *async_loop; /* userdb_init(): getent runs off the caller */
static userdb_waiter_t *waiters;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A key getent would read as an option, or that no entry may have. */
static int bad_key(const char *key) {
  return *key == '\0' || *key == '-' || strlen(key) >= sizeof cache[0].key ||
         strpbrk(key, ":\n") != NULL;
}

static answer_t *find(const char *db, const char *key) {
  for (unsigned i = 0; i < CACHE_SIZE; i++) {
    answer_t *a = &cache[i];
    if (a->used && strcmp(a->db, db) == 0 && strcmp(a->key, key) == 0)
      return a;
  }
  return NULL;
}

/* A slot for a new key: a free one, else the least recently read one that
 * is not being asked; NULL when all are being asked. */
static answer_t *slot(const char *db, const char *key) {
  answer_t *best = NULL;
  for (unsigned i = 0; i < CACHE_SIZE; i++) {
    answer_t *a = &cache[i];
    if (!a->used) {
      best = a;
      break;
    }
    if (a->child == NULL && (best == NULL || a->read_ms < best->read_ms))
      best = a;
  }
  if (best == NULL)
    return NULL;
  free(best->text);
  memset(best, 0, sizeof *best);
  best->used = 1;
  snprintf(best->db, sizeof best->db, "%s", db);
  snprintf(best->key, sizeof best->key, "%s", key);
  return best;
}

/* Records how a getent run ended (r: its start or run error) as a's
 * answer; takes `out`. */
static void settle(answer_t *a, int r, int64_t status, int sig, char *out) {
  free(a->text);
  a->text = NULL;
  a->answered = 1;
  a->at_ms = now_ms();
  a->why[0] = '\0';
  if (r == 0 && sig == 0 && status == 2) {
    a->err = MUSTER_ENOENT;
  } else if (r < 0 || sig != 0 || status != 0) {
    if (r < 0 && r != MUSTER_ETIMEDOUT)
      snprintf(a->why, sizeof a->why,
               "the user database: could not run getent: %s",
               muster_err_name(r));
    else if (r < 0)
      snprintf(a->why, sizeof a->why,
               "the user database: `getent %s` did not answer within %d s",
               a->db, ASK_TIMEOUT_MS / 1000);
    else
      snprintf(a->why, sizeof a->why,
               "the user database: `getent %s` failed (exit %d%s%s)", a->db,
               (int)status, sig ? ", signal " : "",
               sig ? muster_signal_name(sig) : "");
    a->err = r == MUSTER_ETIMEDOUT ? r : MUSTER_ENOSYS;
  } else if (out == NULL) {
    snprintf(a->why, sizeof a->why, "the user database: out of memory");
    a->err = MUSTER_ENOMEM;
  } else {
    out[strcspn(out, "\n")] = '\0';
    a->text = out;
    a->err = 0;
    return;
  }
  free(out);
}

static void wake_waiters(void) {
  userdb_waiter_t *w = waiters;
  waiters = NULL;
  while (w) {
    userdb_waiter_t *next = w->next;
    w->cb(w->data);
    w = next;
  }
}

static void on_out(muster_child_t *child, int slot_no, const char *buf,
                   size_t len) {
  answer_t *a = muster_child_data(child);
  if (slot_no != 1 || len == 0 || a->out_len == SIZE_MAX)
    return;
  char *more = a->out_len + len <= ASK_MAX_OUTPUT
                   ? realloc(a->out, a->out_len + len + 1)
                   : NULL;
  if (more == NULL) {
    /* Too much, or no memory: the answer is dropped. */
    free(a->out);
    a->out = NULL;
    a->out_len = SIZE_MAX;
    muster_child_kill_group(child, SIGKILL);
    return;
  }
  memcpy(more + a->out_len, buf, len);
  a->out_len += len;
  more[a->out_len] = '\0';
  a->out = more;
}

static void on_done(muster_child_t *child) {
  answer_t *a = muster_child_data(child);
  int64_t status = 0;
  int sig = 0;
  muster_child_exited(child, &status, &sig);
  int r = muster_child_timed_out(child) ? MUSTER_ETIMEDOUT : 0;
  if (a->out == NULL) /* no output, or over ASK_MAX_OUTPUT (then killed) */
    a->out = strdup("");
  settle(a, r, status, sig, a->out);
  a->out = NULL;
  a->out_len = 0;
  a->child = NULL;
  a->pid = 0;
  muster_child_close(child, NULL);
  wake_waiters();
}

/* Starts a getent for a on the loop; a start error is a's answer. */
static void ask_async(answer_t *a) {
  const char *argv[] = {"getent", a->db, a->key, NULL};
  const muster_stdio_t stdio[3] = {{MUSTER_STDIO_IGNORE, -1},
                                   {MUSTER_STDIO_PIPE, -1},
                                   {MUSTER_STDIO_IGNORE, -1}};
  muster_spawn_options_t o = {
      .stdio = stdio,
      .stdio_count = 3,
      .flags = MUSTER_SPAWN_PROCESS_GROUP,
      .death_signal = SIGKILL,
      .timeout_ms = ASK_TIMEOUT_MS,
      .kill_signal = SIGKILL,
      .on_data = on_out,
      .on_close = on_done,
      .data = a,
  };
  int r = muster_spawn(async_loop, "getent", argv, &o, &a->child);
  if (r < 0) {
    a->child = NULL;
    settle(a, r, 0, 0, NULL);
    return;
  }
  a->pid = muster_child_pid(a->child);
}

/* The caller's thread waits for getent (no loop given to userdb_init). */
static void ask_sync(answer_t *a) {
  const char *argv[] = {"getent", a->db, a->key, NULL};
  muster_exec_options_t o = {.spawn.timeout_ms = ASK_TIMEOUT_MS,
                             .max_buffer = ASK_MAX_OUTPUT};
  muster_exec_result_t res;
  int r = muster_exec_file_sync("getent", argv, &o, &res);
  char *out = res.stdout_buf;
  res.stdout_buf = NULL;
  settle(a, r, res.exit_status, res.term_signal,
         out);
  muster_exec_result_free(&res);
}

/* `getent db key`: 0 with its first line in *line (the cache's: valid
 * until the next call), MUSTER_ENOENT when there is no such entry (exit
 * code 2), MUSTER_EAGAIN while the answer is being asked (userdb_init),
 * another error with a sentence in why. */
static int ask(const char *db, const char *key, const char **line, char *why,
               size_t whylen) {
  if (bad_key(key))
    return MUSTER_ENOENT;
  uint64_t now = now_ms();
  answer_t *a = find(db, key);
  int fresh = a && a->answered && now - a->at_ms < USERDB_FRESH_MS;
  if (a == NULL && (a = slot(db, key)) == NULL) {
    snprintf(why, whylen, "the user database has not answered yet");
    return MUSTER_EAGAIN;
  }
  a->read_ms = now;
  if (!fresh && a->child == NULL) {
    if (async_loop == NULL) {
      ask_sync(a);
      fresh = 1;
    } else {
      ask_async(a);
      fresh = a->child == NULL; /* could not start: that is the answer */
    }
  }
  /* Off the loop, an older answer serves until the new one comes; an
   * error serves only while fresh. */
  if (!a->answered || (!fresh && a->err != 0 && a->err != MUSTER_ENOENT)) {
    snprintf(why, whylen, "the user database has not answered yet");
    return MUSTER_EAGAIN;
  }
  if (a->err != 0 && a->err != MUSTER_ENOENT)
    snprintf(why, whylen, "%s", a->why);
  if (a->err != 0)
    return a->err;
  *line = a->text;
  return 0;
}

void userdb_init(uv_loop_t *loop) { async_loop = loop; }

void userdb_wait(userdb_waiter_t *w, void (*cb)(void *data), void *data) {
  w->cb = cb;
  w->data = data;
  w->next = waiters;
  waiters = w;
}

int userdb_owns_pid(int pid) {
  for (unsigned i = 0; i < CACHE_SIZE && pid > 0; i++)
    if (cache[i].child != NULL && cache[i].pid == pid)
      return 1;
  return 0;
}

/* The n-th ':' field of a line (0 is the name), or NULL. */
static const char *field(const char *line, int n, size_t *len) {
  while (n-- > 0) {
    line = strchr(line, ':');
    if (line == NULL)
      return NULL;
    line++;
  }
  *len = strcspn(line, ":");
  return line;
}

static int number(const char *s, size_t len, unsigned long *out) {
  char buf[32], *end;
  if (len == 0 || len >= sizeof buf || *s < '0' || *s > '9')
    return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  errno = 0;
  *out = strtoul(buf, &end, 10);
  return errno != 0 || *end != '\0' || *out > UINT32_MAX - 1 ? -1 : 0;
}

static int unparsable(const char *db, const char *key, char *why,
                      size_t whylen) {
  snprintf(why, whylen, "the user database: `getent %s %s` gave a line "
           "that is not an entry", db, key);
  return MUSTER_EIO;
}

int userdb_user(const char *key, userdb_user_t *out, char *why,
                size_t whylen) {
  const char *line, *f;
  size_t len;
  unsigned long uid, gid;
  int r = ask("passwd", key, &line, why, whylen);
  if (r < 0)
    return r;
  size_t nlen = strcspn(line, ":");
  if (nlen == 0 || nlen >= sizeof out->name ||
      (f = field(line, 2, &len)) == NULL || number(f, len, &uid) < 0 ||
      (f = field(line, 3, &len)) == NULL || number(f, len, &gid) < 0)
    return unparsable("passwd", key, why, whylen);
  memcpy(out->name, line, nlen);
  out->name[nlen] = '\0';
  out->uid = (uid_t)uid;
  out->gid = (gid_t)gid;
  return 0;
}

int userdb_group(const char *key, gid_t *gid, char *why, size_t whylen) {
  const char *line, *f;
  size_t len;
  unsigned long g;
  int r = ask("group", key, &line, why, whylen);
  if (r < 0)
    return r;
  if ((f = field(line, 2, &len)) == NULL || number(f, len, &g) < 0)
    return unparsable("group", key, why, whylen);
  *gid = (gid_t)g;
  return 0;
}

int userdb_groups(const char *user, gid_t gid, gid_t **out, size_t *count,
                  char *why, size_t whylen) {
  const char *line;
  /* "user   g1 g2 ...": the groups getgrouplist() finds besides the
   * primary one (getent's initgroups database). */
  int r = ask("initgroups", user, &line, why, whylen);
  if (r < 0)
    return r;
  size_t cap = 1;
  for (const char *p = line; *p; p++)
    cap += *p == ' ';
  gid_t *g = malloc(cap * sizeof *g);
  if (g == NULL)
    return MUSTER_ENOMEM;
  size_t n = 0;
  g[n++] = gid;
  const char *p = line + strcspn(line, " \t");
  for (;;) {
    p += strspn(p, " \t");
    if (*p == '\0')
      break;
    size_t len = strcspn(p, " \t");
    unsigned long v;
    if (number(p, len, &v) < 0 || n == cap) {
      free(g);
      return unparsable("initgroups", user, why, whylen);
    }
    size_t i = 0;
    while (i < n && g[i] != (gid_t)v)
      i++;
    if (i == n)
      g[n++] = (gid_t)v;
    p += len;
  }
  *out = g;
  *count = n;
  return 0;
}

int userdb_me(const char **name) {
  static char me[sizeof((userdb_user_t *)0)->name];
  static char number[32];
  if (me[0] == '\0') {
    char why[256];
    userdb_user_t u;
    snprintf(number, sizeof number, "%u", (unsigned)geteuid());
    int r = userdb_user(number, &u, why, sizeof why);
    if (r == MUSTER_EAGAIN) { /* asked now: the number meanwhile */
      *name = number;
      return r;
    }
    snprintf(me, sizeof me, "%s", r == 0 ? u.name : "?");
  }
  *name = me;
  return 0;
}

const char *userdb_self(void) {
  const char *name;
  userdb_me(&name);
  return name;
}
