/* NULL-terminated string vectors (argv, env) that the library copies and
 * keeps: each string and the array are separate allocations. */
#ifndef MUSTER_STRV_H
#define MUSTER_STRV_H

#include <stddef.h>

/* Frees `v` and its strings; NULL is fine. */
void muster__strv_free(char **v);
/* A copy of `v`; NULL for a NULL `v` (*err 0) or on failure (*err
 * MUSTER_ENOMEM). */
char **muster__strv_copy(const char *const *v, int *err);
/* Entries before the NULL; 0 for NULL. */
size_t muster__strv_len(const char *const *v);

#endif
