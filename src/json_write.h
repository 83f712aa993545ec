/* The channel's JSON encoder: the compact text of a jansson value, written
 * straight into a growable buffer, without jansson's per-piece callback.
 *
 * The text is byte for byte what jansson 2.14 gives for
 * json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY):
 *   - strings: '"' and '\\' escaped with a backslash; \b \f \n \r \t as
 *     such; the other control characters (U+0000..U+001F) as \u00XX with
 *     upper-case hex; '/', DEL and all non-ASCII UTF-8 as they are;
 *   - integers as "%" JSON_INTEGER_FORMAT;
 *   - reals as "%.17g" with ".0" added when that has neither '.' nor 'e',
 *     the exponent's '+' and leading zeros dropped, and '.' whatever the
 *     locale (1.0, -0.0, 0.10000000000000001, 1e300, 1.5e-5);
 *   - object members in jansson's iteration (insertion) order.
 *
 * Where jansson would write broken text, or refuse, this refuses instead
 * (MUSTER_EINVAL): a string or key that is not valid UTF-8 (only the
 * *_nocheck constructors can make one; jansson fails on such a string but
 * writes a broken key as a half-open string), and a value that contains
 * itself (a cycle; jansson fails too). Nesting depth is not limited, as in
 * jansson, and the encoder does not recurse, so no depth overflows the C
 * stack (jansson's own recursion crashes somewhere near 100,000 levels).
 *
 * Note that newer jansson (2.14.1 and later, built with dtoa) writes reals
 * in their shortest round-trip form (0.1); this encoder keeps 2.14's
 * "%.17g" form, which reads back to the same double in either case. */
#ifndef MUSTER_JSON_WRITE_H
#define MUSTER_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

/* A byte buffer the encoder appends to: data[0..len) is the text so far,
 * cap the size of the allocation (malloc/realloc), data NULL when cap is
 * 0. The caller owns data and frees it. */
struct muster__buf {
  char *data;
  size_t len, cap;
};

/* Appends the compact JSON text of `value` to `buf` (not NUL-terminated),
 * growing buf->data with realloc (geometrically, and not far past what
 * `limit` allows). At most `limit` bytes are appended.
 *
 * Returns 0, or
 *   MUSTER_EMSGSIZE  the text is longer than `limit` bytes; found as soon
 *                    as the text written plus the rest of the current
 *                    string passes it, not after writing everything;
 *   MUSTER_EINVAL    value is NULL, holds a string or key that is not
 *                    valid UTF-8, or contains itself;
 *   MUSTER_ENOMEM    out of memory.
 * On failure buf->len is what it was before the call (the bytes after it
 * are garbage) but buf->data and buf->cap may have changed (the buffer may
 * have grown): copy all three back to wherever they came from either way.
 *
 * `value` is borrowed and only read. Never calls back; any thread, as long
 * as no other thread changes `value` meanwhile. Uses about 1 KiB of stack;
 * nesting deeper than 32 levels takes a heap array of 32 bytes a level. */
int muster__json_write(const json_t *value, struct muster__buf *buf,
                       size_t limit);

/* Appends one byte to `buf` (a closing bracket, a line's end after the
 * text), growing it by realloc when it is full. Returns 0 or
 * MUSTER_ENOMEM (buf unchanged). */
int muster__buf_put1(struct muster__buf *buf, char c);

#endif
