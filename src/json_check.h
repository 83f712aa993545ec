/* A fast, non-allocating JSON syntax check for one received line, and the
 * one fact about it the channel needs before deciding whether to parse it:
 * is it one of Node's internal messages (a top-level object whose "cmd" is
 * a string longer than 5 that starts with "NODE_")?
 *
 * The check accepts exactly what RFC 8259 calls a JSON text, encoded as
 * valid UTF-8 (no overlong forms, no encoded surrogates, nothing above
 * U+10FFFF), with two restrictions that keep it in step with jansson, which
 * parses the lines users ask for: containers nest at most
 * MUSTER__JSON_MAX_DEPTH deep, and a \uXXXX escape of a surrogate must be a
 * high surrogate immediately followed by an escaped low one. */
#ifndef MUSTER_JSON_CHECK_H
#define MUSTER_JSON_CHECK_H

#include <stddef.h>

/* jansson's JSON_PARSER_MAX_DEPTH: 2048 nested containers parse, 2049 do
 * not. */
#define MUSTER__JSON_MAX_DEPTH 2048

enum {
  /* Not a JSON text. */
  MUSTER__JSON_INVALID = -1,
  /* Valid; certainly not internal. */
  MUSTER__JSON_USER = 0,
  /* Valid; certainly internal (the raw bytes of the last top-level "cmd"
   * key's value start with NODE_ and have no escapes). */
  MUSTER__JSON_INTERNAL = 1,
  /* Valid, but an escape sequence in a top-level key or in the value of
   * "cmd" hides the answer: parse the line to decide. */
  MUSTER__JSON_MAYBE = 2,
};

/* Checks s[0..len) (which need not be NUL-terminated). Returns one of the
 * values above. Never allocates; uses about 300 bytes of stack. */
int muster__json_check(const char *s, size_t len);

#endif
