/* fork(): start a program with an IPC channel to it, Node's
 * child_process.fork() in C.
 *
 *   muster_fork()  spawn `program` with the channel on fd 3
 *                  (NODE_CHANNEL_FD=3, NODE_CHANNEL_SERIALIZATION_MODE=json)
 *
 * The child may be a C program using libmuster (it calls
 * muster_channel_from_parent()) or Node (`node script.js`: process.send and
 * process.on('message') just work), or anything speaking Node's json IPC.
 *
 * The child side: muster_channel_from_parent() opens the channel; when the
 * parent ends it or dies, the child's on_disconnect fires (the kernel
 * closes the parent's end), so a worker can exit when its parent is gone.
 */
#ifndef MUSTER_FORK_H
#define MUSTER_FORK_H

#include <uv.h>

#include "channel.h"
#include "child.h"
#include "common.h"

/* Options for muster_fork(); all zero means Node's fork() defaults. */
typedef struct {
  /* Every spawn option applies (env, cwd, argv0, flags, uid/gid, timeout,
   * the callbacks, data). stdio: with stdio_count 0 it is fork's default:
   * inherit, inherit, inherit, IPC (or pipe, pipe, pipe, IPC when silent).
   * An explicit stdio array must hold exactly one MUSTER_STDIO_IPC slot
   * (like Node's 'ipc'), which is where the channel goes; NODE_CHANNEL_FD
   * names that slot. A NODE_CHANNEL_FD in env is overridden. */
  muster_spawn_options_t spawn;
  /* The parent's end of the channel. */
  muster_channel_options_t channel;
  /* Pipe the child's stdin, stdout and stderr to the parent (delivered to
   * spawn.on_data; write with muster_child_write) instead of inheriting
   * them. Ignored when spawn.stdio is given. */
  int silent;
} muster_fork_options_t;

/* Starts `program` (searched on PATH when it has no '/') with `argv`
 * (NULL-terminated; NULL means {program, NULL}) and an IPC channel to it.
 * On success *child is the child process (free it with
 * muster_child_close()) and *channel the parent's end of the channel (free
 * it with muster_channel_close()).
 *
 * The child's on_close (Node's 'close') waits for the channel to end as
 * well as for the exit and the stdio pipes: the channel ends when either
 * side disconnects, when the child exits (its end closes), or when the
 * parent closes it. The two objects are freed independently, in either
 * order: a child object freed first is simply no longer told.
 *
 * Errors: MUSTER_EINVAL (NULL loop/program/child/channel, a stdio array
 * without exactly one MUSTER_STDIO_IPC slot), muster_spawn()'s errors, and
 * MUSTER_ENOMEM. On error nothing was started (or what was started was
 * killed with SIGKILL and will be reaped) and there is nothing to free. */
MUSTER_EXTERN int muster_fork(uv_loop_t *loop, const char *program,
                              const char *const argv[],
                              const muster_fork_options_t *options,
                              muster_child_t **child,
                              muster_channel_t **channel);

#endif
