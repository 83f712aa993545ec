/* The user database through `getent`. See userdb.h. */
#include "userdb.h"

#include <muster.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest a lookup may take (an LDAP server that does not answer). */
#define ASK_TIMEOUT_MS 10000
#define CACHE_SIZE 8

/* A recent answer: the text getent printed, or NULL for "no such entry". */
typedef struct {
  char db[16];
  char key[256];
  uint64_t at_ms;
  char *text;
  int used;
} answer_t;

static answer_t cache[CACHE_SIZE];
static unsigned cache_next;

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

static answer_t *cached(const char *db, const char *key, uint64_t now) {
  for (unsigned i = 0; i < CACHE_SIZE; i++) {
    answer_t *a = &cache[i];
    if (a->used && now - a->at_ms < USERDB_FRESH_MS &&
        strcmp(a->db, db) == 0 && strcmp(a->key, key) == 0)
      return a;
  }
  return NULL;
}

static void keep(const char *db, const char *key, uint64_t now, char *text) {
  answer_t *a = &cache[cache_next++ % CACHE_SIZE];
  free(a->text);
  snprintf(a->db, sizeof a->db, "%s", db);
  snprintf(a->key, sizeof a->key, "%s", key);
  a->at_ms = now;
  a->text = text;
  a->used = 1;
}

/* `getent db key`: 0 with its first line in *line (the cache's: valid
 * until the next call), MUSTER_ENOENT when there is no such entry (exit
 * code 2), another error with a sentence in why. */
static int ask(const char *db, const char *key, const char **line, char *why,
               size_t whylen) {
  if (bad_key(key))
    return MUSTER_ENOENT;
  uint64_t now = now_ms();
  answer_t *a = cached(db, key, now);
  if (a == NULL) {
    const char *argv[] = {"getent", db, key, NULL};
    muster_exec_options_t o = {.spawn.timeout_ms = ASK_TIMEOUT_MS};
    muster_exec_result_t res;
    int r = muster_exec_file_sync("getent", argv, &o, &res);
    if (r == 0 && res.term_signal == 0 && res.exit_status == 2) {
      muster_exec_result_free(&res);
      keep(db, key, now, NULL);
      return MUSTER_ENOENT;
    }
    if (r < 0 || res.term_signal != 0 || res.exit_status != 0) {
      if (r < 0)
        snprintf(why, whylen, "the user database: could not run getent: %s",
                 muster_err_name(r));
      else
        snprintf(why, whylen,
                 "the user database: `getent %s` failed (exit %d%s%s)", db,
                 (int)res.exit_status, res.term_signal ? ", signal " : "",
                 res.term_signal ? muster_signal_name(res.term_signal) : "");
      muster_exec_result_free(&res);
      return r == MUSTER_ETIMEDOUT ? r : MUSTER_ENOSYS;
    }
    char *text = res.stdout_buf;
    res.stdout_buf = NULL;
    muster_exec_result_free(&res);
    text[strcspn(text, "\n")] = '\0';
    keep(db, key, now, text);
    a = cached(db, key, now);
  }
  if (a->text == NULL)
    return MUSTER_ENOENT;
  *line = a->text;
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

const char *userdb_self(void) {
  static char name[sizeof((userdb_user_t *)0)->name];
  if (name[0] == '\0') {
    char key[32], why[256];
    userdb_user_t u;
    snprintf(key, sizeof key, "%u", (unsigned)geteuid());
    if (userdb_user(key, &u, why, sizeof why) == 0)
      snprintf(name, sizeof name, "%s", u.name);
    else
      snprintf(name, sizeof name, "?");
  }
  return name;
}
