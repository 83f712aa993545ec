/* App specs: PM2's app object (name, script, args, ...), checked and given
 * its defaults: the one place the daemon reads a spec. */
#ifndef MANAGER_SPEC_H
#define MANAGER_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* Checks `in` with muster_appspec_normalize() (include/muster/appspec.h
 * has the canonical form and its defaults) and returns a new canonical
 * spec in *out. Attributes muster does not support are named in *warnings
 * (a new array of strings), never silently dropped. On top of appspec's
 * rules, a name may not be "all" or a number (they select in commands).
 * Returns 0, or MUSTER_EINVAL with a sentence in err. */
int spec_normalize(const json_t *in, json_t **out, json_t **warnings, char *err,
                   size_t errlen);

#endif
