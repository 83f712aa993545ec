/* The receive side of the channel's framing: a byte buffer that bytes are
 * read into and complete lines ('\n'-terminated frames) are taken out of,
 * with a bound on the length of a line. Pure memory, no I/O, so that the
 * fuzz target can drive exactly the code the channel runs. */
#ifndef MUSTER_CHANNEL_FRAME_H
#define MUSTER_CHANNEL_FRAME_H

#include <stddef.h>

typedef struct {
  char *buf;
  size_t cap;   /* bytes allocated */
  size_t start; /* first byte of the line being assembled */
  size_t len;   /* end of the bytes received */
  size_t scan;  /* [start, scan) is known to hold no '\n' */
  size_t max;   /* longest line accepted, without its '\n' */
} muster__frame_reader_t;

/* `max` is the longest line (frame without its '\n') accepted. */
void muster__frame_init(muster__frame_reader_t *r, size_t max);
void muster__frame_free(muster__frame_reader_t *r);

/* Room for the next read: at least `want` bytes (or as many as the bound
 * still allows, but never 0) after the bytes held. Moves an incomplete line
 * to the front of the buffer and grows it by doubling, up to max + 1 + want
 * bytes in all. Returns 0 and sets *space and *avail, or MUSTER_ENOMEM. */
int muster__frame_space(muster__frame_reader_t *r, size_t want, char **space,
                        size_t *avail);

/* `n` bytes were written at the space last returned. */
void muster__frame_commit(muster__frame_reader_t *r, size_t n);

/* The next complete line: returns 1 and sets *line and *len (without the '\n';
 * valid until the next call to muster__frame_space or _free). Returns 0
 * when no complete line is held, MUSTER_EMSGSIZE when a line (complete or
 * not) is longer than max; the reader is then unusable. */
int muster__frame_next(muster__frame_reader_t *r, const char **line,
                       size_t *len);

/* Bytes of an incomplete line held (a frame cut off if the peer ends
 * now). */
size_t muster__frame_pending(const muster__frame_reader_t *r);

#endif
