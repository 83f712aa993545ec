/* The event recorder of tests/test-thread.h. */
#include "test-thread.h"

void seen_add(seen_t *s, char c) {
  if (s->n < (int)sizeof s->log - 1)
    s->log[s->n++] = c;
}

void seen_online(muster_thread_t *t) {
  seen_add(muster_thread_data(t), 'o');
}

void seen_message(muster_thread_t *t, muster_message_t *m) {
  seen_t *s = muster_thread_data(t);
  seen_add(s, 'm');
  json_decref(s->last);
  s->last = json_incref(muster_message_json(m));
  if (muster_message_buffer_count(m) == 1) {
    muster_buffer_free(s->back);
    s->back = muster_message_take_buffer(m, 0);
  }
}

void seen_exit(muster_thread_t *t, int code) {
  seen_t *s = muster_thread_data(t);
  seen_add(s, 'x');
  s->code = code;
  s->sig = muster_thread_exit_signal(t);
  s->exits++;
  ASSERT(!muster_thread_running(t));
  ASSERT_OK(muster_thread_terminate(t)); /* after exit: a no-op */
  muster_thread_close(t, NULL);
}
