/* libmuster: Node.js's process model in C.
 *
 * Include this one header. Each module has its own header under muster/,
 * whose comments are the reference manual:
 *
 *   muster/error.h    error codes (negative errno, as libuv), names, messages
 *   muster/process.h  this process: pid, argv, env, title, usage, signals
 *   muster/process_build.h  execPath, versions, release, build config
 *   muster/process_ids.h    uid/gid/groups: get, set, by name
 *   muster/process_exit.h   kill, exit and its hooks, beforeExit, run
 *   muster/process_warning.h  emitWarning and the warning event
 *   muster/process_report.h   diagnostic reports: on demand, signal, crash
 *   muster/process_stdio.h    stdin, stdout, stderr as streams on a loop
 *   muster/child.h    child processes: spawn, exec, execFile, sync forms
 *   muster/message.h  a received message: its text, value, bytes, handle
 *   muster/channel.h  IPC channel: messages and handles, Node's wire format
 *   muster/fork.h     fork(): a child with an IPC channel
 *   muster/port.h     message ports between threads, BroadcastChannel
 *   muster/thread.h   worker threads, each with its own loop
 *   muster/pool.h     a pool of worker threads running tasks (piscina)
 *   muster/listen.h   listening sockets (TCP, IPv6, Unix, UDP, reuseport)
 *   muster/acceptor.h the accept loop of a listening socket (batching, EMFILE)
 *   muster/supervise.h  restart policy, backoff, graceful stop, replace
 *   muster/cluster.h  primary and workers sharing servers
 *   muster/appspec.h  app specs and ecosystem files (PM2 names, JSON, YAML)
 *   muster/buffer.h   buffers whose ownership moves (ArrayBuffer transfer)
 *   muster/shared.h   shared memory, atomics wait/notify (SharedArrayBuffer)
 *   muster/client.h   the process manager's control protocol and client
 *   muster/logfile.h  log files: lines, rotation, never blocking the loop
 *
 * Every asynchronous object is bound to a libuv loop that the caller owns.
 *
 * Loading libmuster (shared, or static through its link flags) opens each
 * of fds 0, 1 and 2 that is closed on /dev/null before main() runs, as Node
 * does at startup: otherwise the first descriptors a program opens (libuv's
 * epoll fd, a channel) take those numbers, log lines go into them, and
 * libuv aborts when it closes them.
 */
#ifndef MUSTER_H
#define MUSTER_H

#include <uv.h>

#include "muster/common.h"
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_build.h"
#include "muster/process_ids.h"
#include "muster/process_exit.h"
#include "muster/process_warning.h"
#include "muster/process_report.h"
#include "muster/process_stdio.h"
#include "muster/child.h"
#include "muster/message.h"
#include "muster/channel.h"
#include "muster/fork.h"
#include "muster/listen.h"
#include "muster/acceptor.h"
#include "muster/supervise.h"
#include "muster/cluster.h"
#include "muster/appspec.h"
#include "muster/buffer.h"
#include "muster/shared.h"
#include "muster/client.h"
#include "muster/logfile.h"
#include "muster/port.h"
#include "muster/thread.h"
#include "muster/pool.h"

#endif
