/* groups.json's one codec: the record of the apps' process groups that a
 * daemon leaves for its successor (groups.h says why). Pure functions, no
 * I/O, so the reader has a fuzz target (fuzz/fuzz-groups.c: the text read
 * with jansson as groups.c reads the file, then decoded). */
#ifndef MANAGER_GROUPS_RECORD_H
#define MANAGER_GROUPS_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Version of the record's schema ("muster_groups" member). */
#define GROUPS_SCHEMA 1
/* A kill timeout read back is at most a day. */
#define GROUPS_MAX_RECORD_TIMEOUT_MS 86400000

typedef struct {
  int pgid;                 /* > 1: the group and its leader's pid */
  unsigned long long start; /* the leader's start time, clock ticks */
  int signo;                /* the app's stop signal, 1 to 31 */
  uint64_t kill_timeout_ms; /* at most GROUPS_MAX_RECORD_TIMEOUT_MS */
} groups_entry_t;

/* The record as text ({"muster_groups": 1, "boot_id", "groups": [...]}),
 * NUL-terminated, for free(); NULL when out of memory. */
char *groups_record_encode(const groups_entry_t *v, size_t n,
                           const char *boot_id);

/* Reads a record (a parsed document; NULL is none). The entries of a record
 * written during boot `boot_id` are put in a new array *out (free()) of *n:
 * each one names its group exactly (pgid > 1, start >= 0); a bad signal or kill
 * timeout gets the default (SIGTERM, 1600 ms), never a group we cannot
 * name. Anything else (no document, another schema or boot, no entry) gives *n
 * = 0 and *out = NULL. Returns 0, or MUSTER_ENOMEM. */
int groups_record_decode(const json_t *doc, const char *boot_id,
                         groups_entry_t **out, size_t *n);

#endif
