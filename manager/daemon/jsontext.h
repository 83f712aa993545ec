/* JSON text written piece by piece into a growing buffer, for a large
 * reply that would cost more as a tree of jansson values (the rows of
 * `ls`: some 20 allocations per app to build and as many to free, on a
 * heap that 1,000 apps have fragmented). Strings are escaped as jansson
 * does; bytes that are not UTF-8 (a path in an error message) become
 * U+FFFD, so the text is always valid. */
#ifndef MANAGER_JSONTEXT_H
#define MANAGER_JSONTEXT_H

#include <stddef.h>

typedef struct {
  char *data; /* malloc'd, NUL-terminated once anything is written */
  size_t len, cap;
  int failed; /* out of memory: the text is incomplete */
} jsontext_t;

/* Literal text (punctuation, a key already quoted). */
void jsontext_raw(jsontext_t *t, const char *s);
/* A string value, quoted and escaped. */
void jsontext_str(jsontext_t *t, const char *s);
/* A field of tab-separated lines, inside a JSON string the caller opened
 * with jsontext_raw(t, "\"") and whose fields and lines it separates with
 * jsontext_raw(t, "\\t") and jsontext_raw(t, "\\n"). A backslash, a tab
 * or a newline of s becomes two characters of the lines (a backslash,
 * then a backslash, a 't' or an 'n'), and the whole is escaped for JSON. */
void jsontext_field(jsontext_t *t, const char *s);
/* A number: a value of its own, or digits inside a string. */
void jsontext_int(jsontext_t *t, long long v);
/* A real with one decimal (1.0, 12.5): read back as a real. */
void jsontext_real1(jsontext_t *t, double v);
/* Frees the buffer and zeroes *t. */
void jsontext_free(jsontext_t *t);

#endif
