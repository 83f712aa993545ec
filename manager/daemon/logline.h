/* Log lines as `logs` sends them. A line read back from a file is outside
 * input (an app writes what it likes, and a file may have been written
 * with another layout), so these have a fuzz target
 * (fuzz/fuzz-logline-read.c). */
#ifndef MANAGER_LOGLINE_H
#define MANAGER_LOGLINE_H

#include <jansson.h>
#include <stddef.h>

/* The n bytes at p as a JSON string; bytes that are not UTF-8 become
 * U+FFFD, as in the files' JSON layout. NULL when out of memory. */
json_t *logline_text(const char *p, size_t n);

/* A line read back from a file ({app, pm_id, instance, stream} of `file`):
 * a JSON-layout line gives its own message, time, instance and stream;
 * any other is the message, with no time known. NULL when out of
 * memory. */
json_t *logline_history(const json_t *file, const char *p, size_t n);

#endif
