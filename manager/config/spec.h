/* App specs: PM2's app object (name, script, args, ...), checked and given
 * its defaults. The one place the daemon reads a spec; ecosystem files
 * (JSON, YAML, PM2's .config.js) will come through include/muster/appspec.h
 * and end here as the same objects. */
#ifndef MANAGER_SPEC_H
#define MANAGER_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* Checks `in` and returns a new object in *out with every attribute the
 * daemon uses present and of its type: name, script, namespace ("default"),
 * args ([]), interpreter ("" = by the script), interpreter_args ([]), cwd,
 * instances (1), env ({} of strings), autorestart (true), max_restarts
 * (16), min_uptime (1000), restart_delay (0), exp_backoff_restart_delay
 * (0), stop_exit_codes ([]), kill_timeout (1600), kill_signal ("SIGTERM"),
 * out_file / error_file ("" = the default path), time (false).
 * Attributes it does not know are named in *warnings (a new array of
 * strings; may be empty), never silently dropped from the spec.
 * Returns 0, or MUSTER_EINVAL with a sentence in err (attribute and what
 * was expected). */
int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen);

#endif
