/* Helpers shared by tests/test-thread*.c (defined in test-thread-util.c). */
#ifndef MUSTER_TEST_THREAD_H
#define MUSTER_TEST_THREAD_H

#include "test.h"

/* What a worker's creator saw, in order: "o" online, "m" message, "e"
 * error, "x" exit (each file records the events it needs). */
typedef struct {
  char log[64];
  int n, code, err, exits, sig;
  json_t *last;          /* the last message's value (a reference) */
  muster_buffer_t *back; /* the buffer a message carried, taken */
} seen_t;

/* Appends `c` to the log (silently full at 63 events). */
void seen_add(seen_t *s, char c);
/* on_online and on_message recorders; the thread's data is the seen_t. */
void seen_online(muster_thread_t *t);
void seen_message(muster_thread_t *t, muster_message_t *m);
/* on_exit: records the code and signal, checks that terminate is now a
 * no-op, and closes the thread. */
void seen_exit(muster_thread_t *t, int code);

#endif
