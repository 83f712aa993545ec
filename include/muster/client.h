/* The process manager's control protocol, and a client for it.
 *
 *   muster_client_connect()   connect to the daemon of a MUSTER_HOME
 *   muster_client_call()      one request, its reply, with a deadline
 *   muster_client_ping(), _list(), _start(), _stop() ...  the same, typed
 *   muster_client_close()     disconnect
 *   muster_client_request_encode() / _decode()   the codec, one pair per
 *   muster_client_reply_encode() / _decode()     message kind
 *
 * The daemon (`muster daemon`) listens on MUSTER_HOME/daemon.sock, an
 * AF_UNIX stream socket of mode 0600 in a directory of mode 0700; it
 * accepts only peers of its own uid (and root), checked with SO_PEERCRED.
 * The `muster` CLI is a user of this header like any C program.
 *
 * Wire format: JSON lines. Each request is one JSON object on one line,
 *
 *   {"v":1,"id":7,"cmd":"stop","args":{"target":"api"}}
 *
 * and gets one reply line with the same id:
 *
 *   {"v":1,"id":7,"ok":true,"result":[{"pm_id":0,"name":"api"}]}
 *   {"v":1,"id":7,"ok":false,"error":"ESRCH","message":"stop \"nope\": no such
 * app"}
 *
 * A command whose answer comes in parts ("logs") sends any number of
 * partial replies first, each marked "more":true, then one last reply
 * without it (or an error reply):
 *
 *   {"v":1,"id":8,"ok":true,"more":true,"result":{"lines":[...]}}
 *   {"v":1,"id":8,"ok":true,"result":{"dropped":0}}
 *
 * A client reads them with muster_client_send() and muster_client_next().
 *
 * "v" is the protocol version (MUSTER_CLIENT_VERSION); a daemon refuses a
 * request of another version with EPROTONOSUPPORT. "args" is an object
 * (absent means {}). A line longer than MUSTER_CLIENT_MAX_REQUEST, a line
 * that is not such an object, or an unknown "cmd" gets an error reply
 * (EMSGSIZE, EBADMSG, ENOSYS) with the id when one could be read (else 0);
 * after an oversized line the daemon also closes the connection. Replies
 * come in the order of the requests. What each command takes and returns
 * is listed with muster_client_cmd_t below; the app objects of "list" and
 * "describe" have PM2's `pm2 jlist` shape.
 *
 * Unless a function says otherwise: arguments are borrowed for the call;
 * every function may be called from any thread, one thread at a time per
 * client object. The client calls block the calling thread (up to the
 * deadline given); they use no loop.
 */
#ifndef MUSTER_CLIENT_H
#define MUSTER_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The protocol version this header speaks. */
#define MUSTER_CLIENT_VERSION 1
/* Longest request line the daemon reads, newline included. */
#define MUSTER_CLIENT_MAX_REQUEST (1024 * 1024)
/* Longest reply line a client reads (a list of thousands of apps). */
#define MUSTER_CLIENT_MAX_REPLY (256 * 1024 * 1024)

/* The commands. "target" below is an app id ("3"), a name, a namespace or
 * "all"; the result of the commands that act on apps is the array of the
 * instances acted on, as {"pm_id", "name", "namespace"} objects. */
typedef enum {
  MUSTER_CMD_UNKNOWN = 0,
  /* {} → {"pid", "version", "home", "apps"} */
  MUSTER_CMD_PING,
  /* {"app": spec, "env": {inherited environment}, "force": bool} →
   * {"started": instances, "warnings": [strings]}. spec is PM2's app
   * object (name, script, args, interpreter, cwd, instances, namespace,
   * env, autorestart, max_restarts, ...). "apps": [spec...] in place of
   * "app" starts several (an ecosystem file) in one request: all are
   * checked first, and an error in any starts none. */
  MUSTER_CMD_START,
  /* {"target"} → instances */
  MUSTER_CMD_STOP,
  /* {"target", "update_env": bool, "env": {...}} → instances */
  MUSTER_CMD_RESTART,
  MUSTER_CMD_RELOAD,
  /* {"target"} → instances */
  MUSTER_CMD_DELETE,
  /* {"target", "signal": "SIGUSR2" or a number} → instances */
  MUSTER_CMD_SIGNAL,
  /* {"target"} → instances (restart counters set to 0) */
  MUSTER_CMD_RESET,
  /* {} → {} once every app is stopped; then the daemon exits */
  MUSTER_CMD_KILL,
  /* {} → the array of every instance, PM2's jlist shape;
   * {"fields": "table"} → the same with only what `muster ls` shows (pid,
   * name, pm_id, monit, pm2_env.namespace/status/restart_time/pm_uptime/
   * username/error);
   * {"fields": "rows"} → the same values as lines of text:
   * {"columns": [names], "lines": "..."}, one line per instance, each
   * ended by "\n", of one field per column separated by "\t"; a
   * backslash, a tab or a newline inside a field is written as a
   * backslash then '\\', 't' or 'n'; numbers in decimal (cpu with one
   * decimal). The columns are pm_id, name, namespace, pid, status,
   * restart_time, pm_uptime, cpu, memory, username, error (a client finds
   * each by its name: later versions may add columns). What `muster ls`
   * asks for: one string costs a reader a fraction of ~20 values per
   * instance. (Earlier daemons answered {"columns", "rows": [[value
   * per column]...]}.) */
  MUSTER_CMD_LIST,
  /* {"target"} → the matching instances, jlist shape plus details */
  MUSTER_CMD_DESCRIBE,
  /* {"force": bool} → {"path", "apps"} */
  MUSTER_CMD_SAVE,
  /* {} → instances started */
  MUSTER_CMD_RESURRECT,
  /* {"target"?} → {} */
  MUSTER_CMD_FLUSH,
  /* {} → {} */
  MUSTER_CMD_RELOAD_LOGS,
  /* {"target"?: all, "lines"?: 15, "stream"?: "out"|"err"|"all",
   *  "follow"?: false} → partial replies {"lines": [line...], "dropped"?}
   * then a last reply {"dropped": n}. A line is {"app", "pm_id",
   * "instance", "stream": "out"|"err", "message", "time"?: ms since the
   * epoch; absent for a line read back from a file whose layout has no
   * time}. First the last `lines` lines of each file (out, then err, per
   * instance; from the files and their rotations), then, with follow,
   * every new line as it is written, until the client disconnects: the
   * last reply then never comes. A client that does not read fast enough
   * loses lines rather than stall the daemon: the next partial reply says
   * how many in "dropped". The first partial reply, and one each time an
   * instance started later joins a follow (target all, its name or its
   * namespace), has "apps" (the names shown) and "instances" (the most
   * instances of one app): with more than one of either, a client should
   * say which app and instance each line is from. */
  MUSTER_CMD_LOGS,
  MUSTER_CMD_COUNT_ /* not a command */
} muster_client_cmd_t;

/* "ping", "start", ... as on the wire; NULL for an unknown value. */
MUSTER_EXTERN const char *muster_client_cmd_name(muster_client_cmd_t cmd);
/* The command of a wire name, or MUSTER_CMD_UNKNOWN. */
MUSTER_EXTERN muster_client_cmd_t muster_client_cmd_parse(const char *name);

/* ---- the codec -----------------------------------------------------------
 * One struct per message kind and one encode/decode pair each. Encoding
 * borrows every field; decoding fills a struct whose pointers the caller
 * owns and frees with the matching _clear(). */

typedef struct {
  int version;             /* encode: 0 means MUSTER_CLIENT_VERSION */
  uint64_t id;             /* chosen by the client; echoed in the reply */
  muster_client_cmd_t cmd; /* decode: MUSTER_CMD_UNKNOWN with ENOSYS */
  json_t *args;            /* an object or NULL ({}) */
} muster_client_request_t;

typedef struct {
  int version;
  uint64_t id;
  int error;      /* 0, or a negative MUSTER_E* code */
  char *message;  /* with an error: what failed, for a human; else NULL */
  json_t *result; /* without an error: the result, or NULL (null) */
  int more;       /* a partial reply: more replies to this id follow */
  /* Encode only, instead of result when not NULL: the result as JSON text
   * the caller wrote (result_len bytes, not necessarily NUL-terminated),
   * checked, then sent as it is. For a large result that is cheaper to
   * write than to build as a tree of values (the daemon's `ls` rows).
   * Decoding always fills result. */
  const char *result_text;
  size_t result_len;
} muster_client_reply_t;

/* Writes the request as one line ending in '\n' into a new buffer: *line
 * (malloc'd, NUL-terminated, the caller frees it) and *len (the '\n'
 * counted, the NUL not).
 * Errors: MUSTER_EINVAL (NULL argument, an unknown cmd, args not an object
 * or holding text that is not UTF-8), MUSTER_EMSGSIZE (longer than
 * MUSTER_CLIENT_MAX_REQUEST), MUSTER_ENOMEM. */
MUSTER_EXTERN int
muster_client_request_encode(const muster_client_request_t *req, char **line,
                             size_t *len);

/* Reads one request line (with or without its '\n'). On success *req holds
 * the version, id, cmd and args (a new reference, or NULL). On error the
 * fields that could be read are still set (id, version), so the daemon can
 * answer with the right id; free with _clear() either way.
 * Errors: MUSTER_EMSGSIZE (len over MUSTER_CLIENT_MAX_REQUEST),
 * MUSTER_EBADMSG (not a JSON object; "v", "id", "cmd" or "args" missing
 * or of the wrong type; an id over 2^53), MUSTER_EPROTONOSUPPORT (another
 * version), MUSTER_ENOSYS (an unknown cmd), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_client_request_decode(const char *line, size_t len,
                                               muster_client_request_t *req);
/* Frees what decode stored and zeroes *req. NULL is a no-op. */
MUSTER_EXTERN void muster_client_request_clear(muster_client_request_t *req);

/* As muster_client_request_encode(), for a reply. An error reply carries
 * the error's name (muster_err_name) and the message (NULL: the error's
 * description); a reply with error 0 carries result_text, else result
 * (NULL: null), and "more":true when rep->more is set (an error reply is
 * always the last).
 * Errors: MUSTER_EINVAL (also a result_text that is not one JSON text in
 * UTF-8), MUSTER_EMSGSIZE (over MUSTER_CLIENT_MAX_REPLY), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_client_reply_encode(const muster_client_reply_t *rep,
                                             char **line, size_t *len);
/* As muster_client_request_decode(), for a reply (limit
 * MUSTER_CLIENT_MAX_REPLY). An error name this library does not know
 * decodes as MUSTER_EPROTO. */
MUSTER_EXTERN int muster_client_reply_decode(const char *line, size_t len,
                                             muster_client_reply_t *rep);
MUSTER_EXTERN void muster_client_reply_clear(muster_client_reply_t *rep);

/* ---- the client -------------------------------------------------------- */

typedef struct muster_client_s muster_client_t;

/* The home directory the CLI and the daemon use: $MUSTER_HOME when set and
 * not empty, else $HOME/.muster. Copied into buf (size bytes, with NUL).
 * Errors: MUSTER_EINVAL (NULL buf), MUSTER_ENOENT (neither variable set),
 * MUSTER_ENAMETOOLONG (does not fit). */
MUSTER_EXTERN int muster_client_home(char *buf, size_t size);

/* Connects to the daemon of `home` (NULL: muster_client_home()). Does not
 * start a daemon: the CLI does that (`muster ping`). On success *out is the
 * client; free it with muster_client_close().
 * Errors: MUSTER_ENOENT / MUSTER_ECONNREFUSED (no daemon listens there),
 * MUSTER_EACCES (not allowed to reach the socket), MUSTER_ENAMETOOLONG
 * (home too long for a socket path), MUSTER_ECONNRESET (the daemon refused
 * this uid: seen at the first call), MUSTER_EMFILE, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_client_connect(const char *home,
                                        muster_client_t **out);

/* Sends one request and waits for its reply, at most timeout_ms
 * milliseconds in all (0: wait forever). On success *reply is the decoded
 * reply (free with muster_client_reply_clear); a reply with an error is
 * still a success of this call: look at reply->error.
 * Errors: MUSTER_ETIMEDOUT (no reply in time: the connection is then
 * unusable, close it), MUSTER_ECONNRESET / MUSTER_EPIPE (the daemon closed
 * the connection or exited), MUSTER_EBADMSG (an unreadable reply),
 * MUSTER_EMSGSIZE, the encode errors, MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_client_call(muster_client_t *client,
                                     muster_client_cmd_t cmd,
                                     const json_t *args, int timeout_ms,
                                     muster_client_reply_t *reply);

/* A request whose answer comes in parts (MUSTER_CMD_LOGS), in two
 * steps. muster_client_send() writes the request (waiting at most
 * timeout_ms for room, 0: forever) and gives its id in *id (may be NULL).
 * muster_client_next() then returns each reply line in turn: reply->more
 * is set on the partial ones; the last one has it clear (or an error).
 * It waits at most timeout_ms (0: forever) for a whole line; on
 * MUSTER_ETIMEDOUT what was read so far is kept and the next call goes on
 * from there, so a caller can wait in slices and do other checks between
 * them (poll() muster_client_fd() and its own fds; see
 * muster_client_pending()). Free each reply with
 * muster_client_reply_clear(). To stop a stream early, close the client:
 * the daemon ends it when the connection goes.
 * Errors: as muster_client_call(). */
MUSTER_EXTERN int muster_client_send(muster_client_t *client,
                                     muster_client_cmd_t cmd,
                                     const json_t *args, int timeout_ms,
                                     uint64_t *id);
MUSTER_EXTERN int muster_client_next(muster_client_t *client, int timeout_ms,
                                     muster_client_reply_t *reply);
/* 1 when a whole reply line is already read and waiting, so that
 * muster_client_next() returns it without reading the socket (poll() on
 * muster_client_fd() would not say so); 0 otherwise. */
MUSTER_EXTERN int muster_client_pending(const muster_client_t *client);

/* Typed forms of muster_client_call(): the result is returned as a new
 * reference in *result (may be NULL when not wanted); a reply with an error
 * becomes the call's result, and *message (when not NULL) gets a malloc'd
 * copy of its text (else it is NULL). Same errors as muster_client_call(),
 * plus the daemon's error codes. */
MUSTER_EXTERN int muster_client_ping(muster_client_t *client, int timeout_ms,
                                     json_t **result, char **message);
MUSTER_EXTERN int muster_client_list(muster_client_t *client, int timeout_ms,
                                     json_t **result, char **message);
/* spec: PM2's app object; env: the environment the app inherits (NULL:
 * none, only the daemon's and spec's "env"). */
MUSTER_EXTERN int muster_client_start(muster_client_t *client,
                                      const json_t *spec, const json_t *env,
                                      int timeout_ms, json_t **result,
                                      char **message);
MUSTER_EXTERN int muster_client_stop(muster_client_t *client,
                                     const char *target, int timeout_ms,
                                     json_t **result, char **message);
/* Any command, with its args: the typed forms above are this call. */
MUSTER_EXTERN int muster_client_command(muster_client_t *client,
                                        muster_client_cmd_t cmd,
                                        const json_t *args, int timeout_ms,
                                        json_t **result, char **message);

/* The socket's fd, for poll() between calls (e.g. to see the daemon go). */
MUSTER_EXTERN int muster_client_fd(const muster_client_t *client);

/* Disconnects and frees. NULL is a no-op. */
MUSTER_EXTERN void muster_client_close(muster_client_t *client);

#endif
