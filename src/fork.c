/* muster_fork(): muster_spawn() with an IPC slot, and a channel on the
 * parent's end of it. See include/muster/fork.h. */
#include "muster/fork.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "channel_private.h"
#include "child_internal.h"
#include "muster/error.h"

/* Node's 'close' waits for the channel: tell the child object when it
 * ends, whichever way. The two objects are freed independently, so each
 * unhooks itself from the other when it goes: without that, a child freed
 * while its channel is still open would be written to by the channel's end
 * hook after free. */
static void channel_ended(void *arg) {
  muster_child_t *c = arg;
  muster__child_set_close_hook(c, NULL, NULL);
  muster_child_ipc_closed(c);
}

static void child_closing(void *arg) {
  muster__channel_set_end_hook(arg, NULL, NULL);
}

int muster_fork(uv_loop_t *loop, const char *program, const char *const argv[],
                const muster_fork_options_t *options, muster_child_t **child,
                muster_channel_t **channel) {
  if (loop == NULL || program == NULL || child == NULL || channel == NULL)
    return MUSTER_EINVAL;
  muster_fork_options_t o;
  if (options)
    o = *options;
  else
    memset(&o, 0, sizeof o);
  muster_stdio_t stdio[4];
  if (o.spawn.stdio_count > 0) {
    if (o.spawn.stdio == NULL)
      return MUSTER_EINVAL;
    int ipc = 0;
    for (int i = 0; i < o.spawn.stdio_count; i++)
      ipc += o.spawn.stdio[i].kind == MUSTER_STDIO_IPC;
    if (ipc != 1)
      return MUSTER_EINVAL;
  } else {
    muster_stdio_kind_t k = o.silent ? MUSTER_STDIO_PIPE : MUSTER_STDIO_INHERIT;
    for (int i = 0; i < 3; i++) {
      stdio[i].kind = k;
      stdio[i].fd = -1;
    }
    stdio[3].kind = MUSTER_STDIO_IPC;
    stdio[3].fd = -1;
    o.spawn.stdio = stdio;
    o.spawn.stdio_count = 4;
  }
  muster_child_t *c;
  int err = muster_spawn(loop, program, argv, &o.spawn, &c);
  if (err)
    return err;
  int fd = muster_child_take_ipc_fd(c);
  muster_channel_t *ch = NULL;
  err = fd < 0 ? fd : muster_channel_open(loop, fd, &o.channel, &ch);
  if (err) {
    /* Only ENOMEM gets here. The child runs with no parent channel, which
     * is not what the caller asked for: end it, and let libuv reap it. */
    if (fd >= 0)
      close(fd);
    muster_child_kill(c, SIGKILL);
    muster_child_close(c, NULL);
    return err;
  }
  muster__channel_set_end_hook(ch, channel_ended, c);
  muster__child_set_close_hook(c, child_closing, ch);
  *child = c;
  *channel = ch;
  return 0;
}
