/* App specs and ecosystem files: PM2's attribute names, one canonical form.
 *
 *   muster_appspec_normalize()   check one spec and return its canonical form
 *   muster_appspec_load()        read an ecosystem file (.json, .yaml, .yml,
 *                                .js/.cjs through node) into canonical specs
 *   muster_appspec_parse()       the same from text in memory
 *   muster_appspec_parse_size(), _duration(), _signal(), _args()
 *                                the unit rules, for a CLI's flags
 *
 * An app spec is a jansson object with PM2's attribute names. Whoever builds
 * one (an ecosystem file, the CLI from its flags, a C program) passes it
 * through muster_appspec_normalize(), and only the canonical form travels
 * further (to the daemon, into dump.json). The CLI builds the object from
 * flags with the same names: `--name N` is "name", `-i 4` is "instances",
 * `--env K=V` goes into "env", `-- a b` is "args": ["a", "b"],
 * `--log-max-size 10M` is "log_max_size": "10M", and so on.
 *
 * ---- The canonical form ----------------------------------------------------
 * Every attribute below is present after normalization, with exactly this
 * type (defaults in brackets), except those marked "absent when unset".
 *
 *   name             string, non-empty, no '/' and no control characters
 *                    [the script's file name without its extension]
 *   script           string, required: the program or script to run. When
 *                    relative it is resolved against cwd, unless it names
 *                    no file there and has no '/' (then it is left as given,
 *                    for a lookup on PATH at start)
 *   args             array of strings [[]]; a string is split as a shell
 *                    would split words (quotes, backslash), nothing expanded
 *   interpreter      string; absent when unset (the daemon picks one from
 *                    the extension). PM2's "none" means "run directly" and is
 *                    kept as "none"
 *   interpreter_args array of strings [[]] (PM2's node_args is an alias)
 *   cwd              absolute string [the base directory: the ecosystem
 *                    file's directory, or options.base_dir]
 *   instances        integer >= 1 [1]; "max" or 0 is the number of CPUs, a
 *                    negative n is CPUs + n (at least 1), as in PM2
 *   exec_mode        "fork" or "cluster" ["fork"] (PM2's "fork_mode" and
 *                    "cluster_mode" are accepted)
 *   env              object of string values [{}]; numbers and booleans
 *                    become strings. With options.env_name = "production",
 *                    the attribute env_production is merged over env (and
 *                    every env_<x> attribute is then dropped)
 *   namespace        string ["default"]
 *   autorestart      boolean [true]
 *   max_restarts     integer >= 0 [16]
 *   min_uptime       integer milliseconds [1000]
 *   restart_delay    integer milliseconds [0]
 *   exp_backoff_restart_delay  integer milliseconds [0 = off]
 *   stop_exit_codes  array of integers 0..255 [[]]
 *   kill_timeout     integer milliseconds [1600]
 *   kill_signal      string, a signal name like "SIGTERM" ["SIGTERM"];
 *                    accepts "SIGINT", "INT", "int" or a number
 *   wait_ready       boolean [false]: the process is online once it sends
 *                    the message "ready" on its IPC channel (Node's
 *                    process.send('ready')); it then runs with one
 *                    (NODE_CHANNEL_FD)
 *   listen_timeout   integer milliseconds [3000]: how long a wait_ready
 *                    process has to send it; later, its start failed
 *   out_file, error_file, log_file
 *                    strings; absent when unset (the daemon's defaults).
 *                    Relative paths are resolved against cwd; "/dev/null"
 *                    discards the stream. log_file (both streams in one
 *                    file) may also be true: the daemon's default path
 *                    (false: absent)
 *   merge_logs       boolean [false]
 *   time             boolean [false]: prefix each line with a timestamp
 *   log_date_format  string (strftime, see muster/logfile.h); absent when
 *                    unset
 *   log_type         "raw" or "json" ["raw"]
 *   uid, gid         integer id or user/group name string; absent when unset
 *   log_max_size     integer bytes [10485760]; 0 = no size rotation
 *   log_retain       integer >= 0 rotated files kept [5]
 *   log_compress     boolean [false]: gzip rotated files
 *   log_rotate_interval  "daily", "hourly" or "none" ["daily"]
 *   log_max_total    integer bytes for all files of the app [0 = only
 *                    log_retain limits them]
 *
 * Units, as PM2 accepts them (see muster_appspec_parse_size/_duration):
 * a size is a number of bytes or a string "512", "10K", "10M", "1G" (also
 * "10KB", "10MB"; powers of 1024); a duration is a number of milliseconds or
 * a string "500", "500ms", "1s", "2m", "1h", "1d".
 *
 * Known PM2 attributes muster does not support yet (watch, max_memory_restart,
 * cron_restart, ...) and unknown attributes are dropped from the
 * canonical form with a warning naming each one; nothing is ignored silently.
 *
 * ---- Errors ----------------------------------------------------------------
 * A bad spec or file gives MUSTER_EINVAL (or the errno of a failed read,
 * MUSTER_ENOENT for a missing file, MUSTER_ENOSYS for a .js file without
 * node) and fills a muster_appspec_error_t: the file, the line and column
 * (1-based; 0 when unknown) of the offending value in JSON and YAML, the
 * attribute's path ("apps[1].instances") and a message saying what was
 * expected. `text` holds the whole ready-to-print line:
 *   ecosystem.json:12:20: apps[1].instances: expected an integer or "max", got
 * "many" Nothing is returned on error: a file is all good or nothing.
 *
 * Warnings go to a jansson array of strings the caller passes (or NULL to
 * drop them), one line each in the same shape as `text`.
 *
 * Every function here is pure (no loop, no global state) and may be called
 * from any thread; muster_appspec_load() blocks on the file read (and, for
 * .js, on node).
 */
#ifndef MUSTER_APPSPEC_H
#define MUSTER_APPSPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct muster_appspec_error_s {
  int code;            /* the function's result */
  int line;            /* 1-based; 0 when unknown */
  int column;          /* 1-based; 0 when unknown */
  char file[256];      /* "" when the spec did not come from a file */
  char attribute[128]; /* "apps[1].instances", "" when none */
  char message[256];   /* "expected an integer >= 1, got \"many\"" */
  char text[768];      /* file:line:col: attribute: message */
} muster_appspec_error_t;

/* Zero means the default for each field. */
typedef struct muster_appspec_options_s {
  /* Directory relative paths (cwd, script, log files) resolve against.
   * NULL: the ecosystem file's directory for a file, the process's working
   * directory otherwise. */
  const char *base_dir;
  /* --env <name>: merge env_<name> over env. NULL: plain env only. An
   * env_name no app defines is not an error (PM2 does the same). */
  const char *env_name;
  /* --only a,b: keep only the apps with these names (comma-separated).
   * A name no app has gives MUSTER_ESRCH naming it. NULL keeps all. */
  const char *only;
  /* The program that evaluates .js/.cjs ecosystem files. NULL: "node" on
   * PATH. */
  const char *node;
  /* The CPU count "max" instances stand for. 0: the machine's. */
  unsigned cpus;
} muster_appspec_options_t;

/* The formats muster_appspec_parse() reads. */
typedef enum {
  MUSTER_APPSPEC_AUTO = 0, /* from the file name's extension; JSON if none */
  MUSTER_APPSPEC_JSON,
  MUSTER_APPSPEC_YAML
} muster_appspec_format_t;

/* Checks one app spec and returns its canonical form in *out (a new
 * reference, owned by the caller). `spec` is borrowed and not modified.
 * Attribute paths in errors and warnings are relative to the spec
 * ("instances", "env.PORT").
 * Errors: MUSTER_EINVAL (NULL spec/out, not an object, a bad attribute;
 * `err` says which), MUSTER_ENOMEM. `opts` and `err` may be NULL. */
MUSTER_EXTERN int muster_appspec_normalize(const json_t *spec,
                                           const muster_appspec_options_t *opts,
                                           json_t **out, json_t *warnings,
                                           muster_appspec_error_t *err);

/* Reads an ecosystem file: a JSON or YAML document that is an object with
 * an "apps" array (PM2's form), an array of apps, or one app object; or a
 * PM2 ecosystem.config.js / .cjs, evaluated by `node -e` printing the
 * exported object as JSON. On success *apps is a new array of canonical
 * specs (after --only). Files over 16 MiB are refused (MUSTER_EFBIG is not
 * in error.h: MUSTER_E2BIG).
 * Errors: MUSTER_EINVAL (syntax or a bad attribute, `err` has the position),
 * MUSTER_ENOENT and other read errnos, MUSTER_ESRCH (--only names an app
 * the file lacks), MUSTER_ENOSYS (.js without node), MUSTER_E2BIG,
 * MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_appspec_load(const char *path,
                                      const muster_appspec_options_t *opts,
                                      json_t **apps, json_t *warnings,
                                      muster_appspec_error_t *err);

/* The same as muster_appspec_load() for a JSON or YAML text already in
 * memory (`len` bytes, no NUL needed); `file` names it in messages and,
 * with MUSTER_APPSPEC_AUTO, chooses the format (may be NULL). */
MUSTER_EXTERN int muster_appspec_parse(const char *text, size_t len,
                                       const char *file,
                                       muster_appspec_format_t format,
                                       const muster_appspec_options_t *opts,
                                       json_t **apps, json_t *warnings,
                                       muster_appspec_error_t *err);

/* "10M" → 10485760 and the other size forms above.
 * Errors: MUSTER_EINVAL (not a size), MUSTER_ERANGE (over 2^53). */
MUSTER_EXTERN int muster_appspec_parse_size(const char *s, uint64_t *bytes);

/* "1s" → 1000 and the other duration forms above (result in ms).
 * Errors: MUSTER_EINVAL, MUSTER_ERANGE. */
MUSTER_EXTERN int muster_appspec_parse_duration(const char *s, uint64_t *ms);

/* "SIGTERM", "TERM", "term" or "15" → SIGTERM (Linux signals 1..31).
 * Returns the signal number, or MUSTER_EINVAL. */
MUSTER_EXTERN int muster_appspec_parse_signal(const char *s);

/* Splits a command-line string into words as a POSIX shell would (single
 * and double quotes, backslash escapes), without any expansion. Returns a
 * new array of strings in *words. Errors: MUSTER_EINVAL (an unterminated
 * quote), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_appspec_parse_args(const char *s, json_t **words);

#endif
