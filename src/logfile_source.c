/* Sources: one stream of one instance feeding a log file. Cuts bytes into
 * lines and holds a partial line, bounded by the file's max_line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "logfile_internal.h"
#include "muster/error.h"

struct muster_logsource_s {
  muster_logfile_t *file;
  char *app;
  int instance;
  muster_log_stream_t stream;
  char *part; /* the partial line so far */
  size_t plen, pcap;
  /* muster_logsource_reserve's room in the file's queue: the partial line
   * copied to its start (lead bytes), then `room` for the read. */
  char *resv;
  size_t lead, room;
};

int muster_logsource_open(muster_logfile_t *file,
                          const muster_logsource_options_t *o,
                          muster_logsource_t **out) {
  if (file == NULL || o == NULL || out == NULL ||
      (o->stream != 0 && o->stream != MUSTER_LOG_OUT &&
       o->stream != MUSTER_LOG_ERR))
    return MUSTER_EINVAL;
  muster_logsource_t *s = calloc(1, sizeof *s);
  if (s == NULL || (s->app = strdup(o->app ? o->app : "")) == NULL) {
    free(s);
    return MUSTER_ENOMEM;
  }
  s->file = file;
  s->instance = o->instance;
  s->stream = o->stream ? o->stream : MUSTER_LOG_OUT;
  muster__logfile_sources(file, 1);
  *out = s;
  return 0;
}

static void emit(muster_logsource_t *s, int64_t ms, const char *p, size_t n) {
  muster_logline_t l = {s->app, s->instance, s->stream, ms, p, n};
  muster__logfile_line(s->file, &l);
}

/* Where to cut a piece of p[0..max) when `next` is the byte after it:
 * before the UTF-8 sequence that straddles the cut, not inside it. */
static size_t utf8_cut(const char *p, size_t max, unsigned char next) {
  if ((next & 0xc0) != 0x80)
    return max;
  for (size_t c = max - 1; c > 0 && c + 3 >= max; c--) {
    unsigned char b = (unsigned char)p[c];
    if (b >= 0xc0)
      return c;
    if (b < 0x80)
      break; /* a stray continuation byte: nothing to keep whole */
  }
  return max;
}

static int grow(muster_logsource_t *s, size_t want) {
  return muster__logfile_grow(&s->part, &s->pcap, want, 256);
}

/* Appends to the partial line; whenever it would pass max_line, a piece of
 * max_line bytes (or a little less, to keep UTF-8 whole) goes out as a
 * line of its own. */
static void hold(muster_logsource_t *s, int64_t ms, const char *p, size_t n) {
  size_t max = muster__logfile_max_line(s->file);
  while (s->plen + n > max) {
    size_t c;
    if (s->plen == 0) { /* straight from the input, no copy */
      c = utf8_cut(p, max, (unsigned char)p[max]);
      emit(s, ms, p, c);
      p += c;
      n -= c;
    } else if (grow(s, max) != 0) {
      emit(s, ms, s->part, s->plen); /* no memory: out shorter, not lost */
      s->plen = 0;
      continue;
    } else {
      size_t take = max - s->plen; /* < n */
      memcpy(s->part + s->plen, p, take);
      p += take;
      n -= take;
      c = utf8_cut(s->part, max, (unsigned char)p[0]);
      emit(s, ms, s->part, c);
      memmove(s->part, s->part + c, max - c);
      s->plen = max - c;
    }
    muster__logfile_count_split(s->file);
  }
  if (n == 0)
    return;
  if (grow(s, s->plen + n) != 0) {
    emit(s, ms, s->part, s->plen);
    emit(s, ms, p, n);
    s->plen = 0;
    return;
  }
  memcpy(s->part + s->plen, p, n);
  s->plen += n;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many '\n' bytes p[0..n) holds: 16 bytes a step where SSE2 is there
 * (every x86-64), the byte counters added up before one could wrap. */
static size_t count_newlines(const char *p, size_t n) {
  size_t count = 0, i = 0;
#if defined(__SSE2__) && defined(__x86_64__)
  const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  while (n - i >= 16) {
    __m128i acc = zero; /* 16 byte counters, each at most 255 */
    size_t steps = (n - i) / 16;
    if (steps > 255)
      steps = 255;
    for (size_t k = 0; k < steps; k++, i += 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
    }
    __m128i sums = _mm_sad_epu8(acc, zero); /* two 64-bit sums */
    count += (size_t)_mm_cvtsi128_si64(sums) +
             (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
  }
#endif
  for (; i < n; i++)
    count += p[i] == '\n';
  return count;
}

/* Where a run of whole lines starting at p ends (p: none): the run is
 * found a window of max + 1 bytes at a time, not a line at a time: the
 * last '\n' of a window that starts a line ends a run of lines none longer
 * than max, and a window with none holds a line too long (or the partial
 * line at the end). */
static const char *run_end(const char *p, const char *end, size_t max) {
  for (;;) {
    size_t win = (size_t)(end - p) < max + 1 ? (size_t)(end - p) : max + 1;
    const char *nl = win > 0 ? memrchr(p, '\n', win) : NULL;
    if (nl == NULL)
      return p;
    p = nl + 1;
  }
}

/* Raw layout and nobody following: the bytes go to the file as they are,
 * so a run of whole lines (none over max_line) is queued with one copy
 * instead of one per line. Returns where the run ends: p when there is
 * none, or when it does not fit (the DROP policy: line by line then, so
 * that those that fit still go). */
static const char *queue_run(muster_logsource_t *s, const char *p,
                             const char *end, size_t max) {
  const char *run = p;
  p = run_end(p, end, max);
  if (p > run &&
      muster__logfile_run(s->file, run, (size_t)(p - run),
                          count_newlines(run, (size_t)(p - run))) != 0)
    return run;
  return p;
}

/* Frames p[0..end) into lines and queues them. */
static void frame(muster_logsource_t *s, int64_t ms, const char *p,
                  const char *end) {
  size_t max = muster__logfile_max_line(s->file);
  int raw = muster__logfile_raw(s->file);
  if (raw && s->plen == 0)
    p = queue_run(s, p, end, max);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      hold(s, ms, p, (size_t)(end - p));
      break;
    }
    size_t n = (size_t)(nl - p);
    if (s->plen == 0 && n <= max) {
      emit(s, ms, p, n); /* the common case: a whole line, no copy */
      p = nl + 1;
      continue;
    }
    /* The end of the partial line held from the last read (a read
     * rarely ends at a line's end): then the rest is whole lines again. */
    hold(s, ms, p, n);
    emit(s, ms, s->part, s->plen);
    s->plen = 0;
    p = nl + 1;
    if (raw)
      p = queue_run(s, p, end, max);
  }
}

/* A partial line longer than this is not copied into a room: a read that
 * brings no end of line would copy it out and back again. */
#define LEAD_MAX 4096

int muster_logsource_reserve(muster_logsource_t *s, size_t want, char **buf,
                             size_t *len) {
  if (s == NULL || buf == NULL || len == NULL || want == 0 ||
      want > SIZE_MAX - LEAD_MAX)
    return MUSTER_EINVAL;
  s->resv = NULL;
  if (s->plen > LEAD_MAX)
    return MUSTER_ENOBUFS;
  size_t got;
  char *room = muster__logfile_room(s->file, s->plen + want, &got);
  if (room == NULL || got <= s->plen)
    return MUSTER_ENOBUFS;
  /* The partial line goes first, so that the read completes it in place;
   * it stays held too, until a write says the read came. */
  if (s->plen > 0)
    memcpy(room, s->part, s->plen);
  s->resv = room + s->plen;
  s->lead = s->plen;
  s->room = got - s->plen;
  *buf = s->resv;
  *len = s->room;
  return 0;
}

/* A write of what was read into the room: the whole lines it completes
 * are queued where they are; what follows them (the new partial line,
 * a line over max_line) is copied out first, since queueing it writes
 * over the room. */
static void write_in_place(muster_logsource_t *s, int64_t ms, const char *buf,
                           size_t len) {
  muster_logfile_t *f = s->file;
  const char *start = buf - s->lead, *end = buf + len, *p = start;
  s->plen = 0; /* now at the room's start */
  if (muster__logfile_raw(f)) {
    p = run_end(start, end, muster__logfile_max_line(f));
    if (p > start &&
        muster__logfile_commit(f, start, (size_t)(p - start),
                               count_newlines(start, (size_t)(p - start))) != 0)
      p = start;
  }
  size_t rest = (size_t)(end - p);
  if (rest == 0)
    return;
  char small[4096];
  char *copy = rest <= sizeof small ? small : malloc(rest);
  if (copy == NULL) { /* lost, and counted: a line and its pieces */
    muster__logfile_count_dropped(f, rest, count_newlines(p, rest) + 1);
    return;
  }
  memcpy(copy, p, rest);
  frame(s, ms, copy, copy + rest);
  if (copy != small)
    free(copy);
}

void muster_logsource_write(muster_logsource_t *s, const void *buf,
                            size_t len) {
  if (s == NULL || (buf == NULL && len > 0))
    return;
  /* Lines read together arrived together: one clock read per call. */
  int64_t ms = now_ms();
  char *resv = s->resv;
  s->resv = NULL;
  if (resv != NULL && buf == resv) {
    /* The room must still be where it was handed out: another call on
     * the file meanwhile may have moved or written over it (a misuse;
     * its bytes cannot be trusted, so they are counted as lost). */
    if (len <= s->room && muster__logfile_end(s->file) == resv - s->lead)
      write_in_place(s, ms, buf, len);
    else
      muster__logfile_count_dropped(s->file, len, 1);
  } else {
    frame(s, ms, buf, (const char *)buf + len);
  }
  /* A burst leaves a big partial buffer behind: give it back. */
  if (s->plen == 0 && s->pcap > 4096) {
    free(s->part);
    s->part = NULL;
    s->pcap = 0;
  }
  muster__logfile_kick(s->file);
}

void muster_logsource_close(muster_logsource_t *s) {
  if (s == NULL)
    return;
  if (s->plen > 0) {
    emit(s, now_ms(), s->part, s->plen);
    muster__logfile_kick(s->file);
  }
  muster__logfile_sources(s->file, -1);
  free(s->part);
  free(s->app);
  free(s);
}
