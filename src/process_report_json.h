/* muster__jw_*: the JSON writer of diagnostic reports.
 *
 * ASYNC-SIGNAL-SAFE: every function here runs inside the fatal-signal
 * handler (src/process_report_fatal.c). They use no heap, no stdio, no
 * locks and no locale: bytes go into the writer's own buffer and out with
 * write(2). Keep it that way.
 *
 * Members are written with a key (inside an object) or with key NULL
 * (inside an array). The writer inserts commas and escapes strings; it
 * checks nothing else: the callers write well-formed documents. A failed
 * write(2) is remembered in `err` and later output is dropped. */
#ifndef MUSTER_PROCESS_REPORT_JSON_H
#define MUSTER_PROCESS_REPORT_JSON_H

#include <stddef.h>
#include <stdint.h>

struct muster__jw {
  int fd;
  int err;      /* first write error, negative errno, or 0 */
  int depth;    /* open objects and arrays */
  uint32_t any; /* bit d: something was written at depth d (needs a comma) */
  size_t len;
  char buf[4096];
};

void muster__jw_init(struct muster__jw *w, int fd);
/* Writes out what is buffered; returns w->err. */
int muster__jw_flush(struct muster__jw *w);

void muster__jw_object(struct muster__jw *w, const char *key);
void muster__jw_array(struct muster__jw *w, const char *key);
void muster__jw_end(struct muster__jw *w, char close); /* '}' or ']' */

void muster__jw_str(struct muster__jw *w, const char *key, const char *s);
void muster__jw_strn(struct muster__jw *w, const char *key, const char *s,
                     size_t n);
void muster__jw_int(struct muster__jw *w, const char *key, int64_t v);
void muster__jw_uint(struct muster__jw *w, const char *key, uint64_t v);
void muster__jw_bool(struct muster__jw *w, const char *key, int v);
void muster__jw_null(struct muster__jw *w, const char *key);
/* Bytes as they are (a newline after the document). */
void muster__jw_raw(struct muster__jw *w, const char *s, size_t n);
/* "0x7f12..." as a string: pointers and program counters. */
void muster__jw_hex(struct muster__jw *w, const char *key, uint64_t v);

/* Decimal digits of v into buf (room for 21), NUL-terminated; returns
 * the length. For building names and paths without snprintf. */
size_t muster__jw_utoa(uint64_t v, char *buf);

#endif
