/* The channel's JSON decoder: a jansson value from one received line,
 * without jansson's per-character lexer.
 *
 * The value is the one jansson 2.14 builds with the channel's rule (see
 * muster_message_json): json_loadb(text, len, JSON_DECODE_ANY |
 * JSON_ALLOW_NUL, NULL), and when that fails, the same with
 * JSON_DECODE_INT_AS_REAL added, so that an integer beyond json_int_t turns
 * every number of the text into a real. In detail:
 *   - strings with their escapes decoded, surrogate pairs joined, "\u0000"
 *     kept (JSON_ALLOW_NUL);
 *   - integers as json_integer when they fit json_int_t (strtoll's range);
 *   - reals (and, under the big-integer rule, all numbers) as strtod reads
 *     the text in the "C" locale, whatever the current one;
 *   - object members in text order; a repeated key keeps its first place
 *     and its last value;
 *   - at most MUSTER__JSON_MAX_DEPTH (2048) nested values, counting
 *     scalars: 2048 nested empty arrays parse, 2048 arrays around a 1 do
 *     not (jansson's JSON_PARSER_MAX_DEPTH; json_check lets those by).
 *
 * The decoder checks everything it reads (grammar, UTF-8, escapes), so it
 * is safe on any bytes, and accepts exactly the texts muster__json_check
 * accepts, less those jansson refuses as well (see the errors below). */
#ifndef MUSTER_JSON_READ_H
#define MUSTER_JSON_READ_H

#include <jansson.h>
#include <stddef.h>

/* Parses text[0..len) (which need not be NUL-terminated) as one JSON text.
 *
 * Returns a new reference, or NULL with *err set to
 *   MUSTER_EBADMSG  not a JSON text muster__json_check accepts (bad
 *                   grammar or UTF-8, an unpaired surrogate escape, nesting
 *                   deeper than 2048); or, refused by jansson though
 *                   json_check passes them, an object key holding U+0000
 *                   or a scalar inside 2048 containers;
 *   MUSTER_ERANGE   a number beyond the range of a double (1e400; also an
 *                   integer of some 310 digits or more);
 *   MUSTER_ENOMEM   out of memory.
 * These are exactly the texts json_loadb refuses under the rule above.
 *
 * `text` is borrowed. Any thread. Uses about 1 KiB of stack; nesting
 * deeper than 64 levels takes a heap array of 8 bytes a level. */
json_t *muster__json_read(const char *text, size_t len, int *err);

#endif
