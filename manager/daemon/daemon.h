/* The daemon: one libuv loop owning the control socket, the app registry,
 * the apps' processes and log files. docs/manager.md has the design. */
#ifndef MANAGER_DAEMON_H
#define MANAGER_DAEMON_H

#include <jansson.h>
#include <muster/client.h>
#include <uv.h>

#include "../home.h"

typedef struct registry_s registry_t;
typedef struct control_s control_t;
typedef struct ctl_req_s ctl_req_t;

typedef struct {
  uv_loop_t *loop;
  home_t home;
  int lock_fd;
  control_t *control;
  registry_t *registry;
  int exiting; /* `kill` or SIGTERM: apps are being stopped, then exit */
  uint64_t started_ms; /* wall clock, for `ping` */
  uv_timer_t trim;     /* gives freed heap back to the kernel (trim_soon) */
} daemon_t;

/* `muster daemon`: runs in the foreground until killed. */
int daemon_main(int argc, char **argv);

/* Stops every app, then ends the loop (and the process). `done` (may be
 * NULL) is answered once the apps are stopped, before the exit. */
void daemon_exit(daemon_t *d, ctl_req_t *done);

/* Says that memory was freed in bulk (apps deleted, a large reply sent):
 * once the daemon has been quiet for a moment it returns the free pages of
 * its heap to the kernel. Cheap to call often. */
void daemon_trim_soon(daemon_t *d);

/* ---- control socket (control.c) ---------------------------------------- */

/* Binds MUSTER_HOME/daemon.sock (0600) and serves requests. */
int control_listen(daemon_t *d, control_t **out);
/* Stops accepting and closes every connection (answers still queued are
 * flushed first when possible). */
void control_close(control_t *c);

/* A request being answered. Each gets exactly one ctl_reply(), now or later
 * (an answer to a closed connection is dropped). */
struct ctl_req_s;
/* Answers `req` and frees it: err 0 with result (stolen; NULL for null), or
 * a negative error with a message (copied; NULL for the error's text). */
void ctl_reply(ctl_req_t *req, int err, const char *message, json_t *result);
/* Answers `req` with a result already written as JSON text (len bytes,
 * borrowed), and frees it; a text that is not JSON gets an EINVAL reply. */
void ctl_reply_text(ctl_req_t *req, const char *text, size_t len);
/* The same, with a printf-style message. */
void ctl_replyf(ctl_req_t *req, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Streaming replies (`logs`). ctl_more() sends one partial reply ("more")
 * to req, result stolen, and returns the bytes now waiting to be written
 * to its connection (a caller bounds what it sends by that), or
 * MUSTER_ENOTCONN once the connection is gone (result NULL: sends
 * nothing, only says how much waits). ctl_watch() keeps reading
 * the connection while req is unanswered (bytes that come are dropped) and
 * calls on_gone(data) once when the peer closes it, it fails, or the
 * daemon closes it; req must still get its ctl_reply() (then dropped). */
int64_t ctl_more(ctl_req_t *req, json_t *result);
void ctl_watch(ctl_req_t *req, void (*on_gone)(void *data), void *data);

/* ---- commands (commands.c) --------------------------------------------- */

/* Runs one decoded request; answers it through ctl_reply. */
void commands_run(daemon_t *d, ctl_req_t *req, muster_client_cmd_t cmd,
                  json_t *args);
/* A request that found an answer of the user database not known yet
 * (MUSTER_EAGAIN: userdb.h), before it acted: it is run again from the
 * start, with the same arguments, once an answer comes. The loop goes on
 * meanwhile. */
struct cmdargs_s;
void commands_wait(daemon_t *d, ctl_req_t *req, const struct cmdargs_s *a);

#endif
