/* Helpers shared by tests/test-channel*.c (defined in test-channel.c). */
#ifndef MUSTER_TEST_CHANNEL_H
#define MUSTER_TEST_CHANNEL_H

#include "test.h"

/* What one channel end saw. */
typedef struct {
  int messages;
  int internals;
  int errors[16];
  int nerrors;
  int disconnects;
  int disconnect_reason;
  int drains;
  int closed;
  int handles;
  muster_handle_type_t last_type;
  char last[4096];
  size_t last_len;
  int take_handle; /* keep the handle: stored in taken_fd */
  int taken_fd;
  int close_on_disconnect; /* muster_channel_close() in on_disconnect */
  void (*extra)(muster_channel_t *ch, muster_message_t *m);
} tch_t;

void tch_init(tch_t *t);
/* Options whose callbacks record into `t`. */
muster_channel_options_t tch_options(tch_t *t);
void tch_closed_cb(muster_channel_t *ch);

/* Spawns the fixture `argv` (muster-fixture NAME ...) with the other end of
 * a socketpair on fd 3 and NODE_CHANNEL_FD=3, without muster_fork (so the
 * channel is tested on its own). *fd is the parent's end. */
void tch_spawn(uv_loop_t *loop, uv_process_t *proc, const char *const *argv,
               int *fd);

/* This process's peak resident set (VmHWM) in KiB. */
long tch_vm_hwm_kb(void);

#endif
