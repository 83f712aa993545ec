/* Helpers shared by the log file tests. */
#ifndef MUSTER_TEST_LOGFILE_H
#define MUSTER_TEST_LOGFILE_H

#include "test.h"

/* A fresh directory under /tmp, removed with everything in it by
 * tlog_rmdir(). Returns static storage. */
const char *tlog_dir(void);
void tlog_rmdir(const char *dir);

/* The whole content of a file (gunzipped when it ends in .gz); malloc'd,
 * NUL-terminated; *len may be NULL. */
char *tlog_read(const char *path, size_t *len);

/* Opens a log file at dir/name with the options, a source, and returns
 * both. */
muster_logfile_t *tlog_open(uv_loop_t *loop, const char *dir, const char *name,
                            const muster_logfile_options_t *o);

/* How many files in dir start with prefix and end with suffix. */
int tlog_count(const char *dir, const char *prefix, const char *suffix);

/* Runs the loop until the handles the test closed are gone, then asserts
 * that uv_loop_close() succeeds (nothing left open, no job pending). */
void tlog_loop_close(uv_loop_t *loop);

/* Closes the file and runs the loop until it is closed. */
void tlog_close(uv_loop_t *loop, muster_logfile_t *f);

#endif
