/* Helpers shared by tests/test-child*.c (defined in test-child-util.c). */
#ifndef MUSTER_TEST_CHILD_H
#define MUSTER_TEST_CHILD_H

#include "test.h"

/* Records a child's events in order, and its output. */
typedef struct {
  char log[512];     /* "spawn data1 exit close ..." */
  char out[1 << 16]; /* slot 1 */
  size_t out_len;
  char err[1 << 16]; /* slot 2 */
  size_t err_len;
  char other[4096]; /* slots 3 and up */
  size_t other_len;
  int eof[MUSTER_STDIO_MAX];
  int spawned, exited, closed, freed;
  int64_t exit_status;
  int term_signal;
  int close_on_close; /* 1: muster_child_close() in on_close (default) */
} rec_t;

void rec_init(rec_t *r);
/* The start of most child tests: initializes `loop`, clears `r` and `o`,
 * and points o's callbacks at `r`. */
void rec_setup(uv_loop_t *loop, rec_t *r, muster_spawn_options_t *o);
/* Fills the callbacks and data of `o` to record into `r`. */
void rec_options(muster_spawn_options_t *o, rec_t *r);
void rec_event(rec_t *r, const char *ev);
void rec_freed_cb(muster_child_t *child);

/* Number of zombie processes whose parent is this process. */
int test_zombie_count(void);

/* Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), so that
 * what a test's children leave behind becomes this process's child, not
 * init's, and can be counted by test_descendants_end(). */
void test_subreaper_begin(void);

/* Waits up to `ms` milliseconds for every process below this one to end,
 * reaping them (waitpid(-1): call once the test's own children are
 * reaped). Returns how many still ran at the deadline; those are killed
 * with SIGKILL and reaped before it returns, so nothing is left. */
int test_descendants_end(int ms);

/* 1 if `hay` contains `needle`. */
int test_contains(const char *hay, const char *needle);

#endif
