/* dump.json's one codec (save / resurrect): {"muster_dump": 1,
 * "saved_at": <ms>, "apps": [spec...]}. Pure functions, no I/O, so the
 * reader has a fuzz target (fuzz/fuzz-dump.c). */
#ifndef MANAGER_DUMP_RECORD_H
#define MANAGER_DUMP_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Version of the dump's schema ("muster_dump" member). */
#define DUMP_SCHEMA 1

/* The dump of `apps` (borrowed: an array of specs) as indented text ending
 * in a newline, NUL-terminated, for free(), its length in *len; NULL when
 * out of memory. */
char *dump_record_encode(const json_t *apps, int64_t saved_at, size_t *len);

/* The apps of a parsed dump (borrowed from `doc`), or NULL when `doc` is
 * not a dump of this schema, with a sentence naming `file` in err. Each
 * app is still to be checked as any spec a client sends (spec.h). */
json_t *dump_record_apps(const json_t *doc, const char *file, char *err,
                         size_t errlen);

#endif
