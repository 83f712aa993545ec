/* Fuzz target for the channel's receive framing (src/channel_frame.c) and
 * line check, driven the way the channel drives them: bytes arrive in
 * reads of varying sizes into the reader's buffer, complete lines are taken
 * out and checked. The input's first two bytes pick the line limit and the
 * read sizes; the rest is the byte stream.
 *
 * Properties checked: every line returned is exactly the next piece of the
 * stream up to a '\n'; nothing is lost or invented; a line over the limit
 * is reported as EMSGSIZE and never returned; the buffer never grows much
 * past the limit; the line check never reads out of bounds (ASan). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel_frame.h"
#include "json_check.h"
#include "muster/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t max = 1 + (size_t)data[0] * 8; /* 1 .. 2041 bytes */
  size_t chunk = 1 + data[1] % 64;
  size_t want = 16 + (data[1] >> 6) * 100;
  data += 2;
  size_t n = size - 2;
  muster__frame_reader_t r;
  muster__frame_init(&r, max);
  size_t fed = 0, consumed = 0;
  int over = 0;
  while (fed < n && !over) {
    char *space;
    size_t avail;
    if (muster__frame_space(&r, want, &space, &avail) != 0)
      abort();
    if (avail == 0 || r.cap > max + 1 + want)
      abort();
    size_t k = n - fed < chunk ? n - fed : chunk;
    if (k > avail)
      k = avail;
    memcpy(space, data + fed, k);
    muster__frame_commit(&r, k);
    fed += k;
    const char *line;
    size_t len;
    int got;
    while ((got = muster__frame_next(&r, &line, &len)) == 1) {
      /* The line is the stream's next bytes, then a '\n'. */
      if (len > max || consumed + len >= fed)
        abort();
      if (memcmp(line, data + consumed, len) != 0 ||
          data[consumed + len] != '\n' || memchr(line, '\n', len))
        abort();
      consumed += len + 1;
      int kind = muster__json_check(line, len);
      if (kind != MUSTER__JSON_INVALID && kind != MUSTER__JSON_USER) {
        json_t *j = json_loadb(
            line, len,
            JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        json_decref(j);
      }
    }
    if (got == MUSTER_EMSGSIZE) {
      /* Only when the line so far really is over the limit. */
      const uint8_t *nl = memchr(data + consumed, '\n', fed - consumed);
      size_t linelen = nl ? (size_t)(nl - (data + consumed)) : fed - consumed;
      if (linelen <= max)
        abort();
      over = 1;
    } else if (got != 0) {
      abort();
    }
  }
  if (!over) {
    /* What is left is an incomplete line, with no '\n' in it. */
    if (muster__frame_pending(&r) != fed - consumed)
      abort();
    if (memchr(data + consumed, '\n', fed - consumed))
      abort();
  }
  muster__frame_free(&r);
  return 0;
}
