/* Byte scans shared by the JSON checker, reader and writer (json_check.c,
 * json_read.c, json_write.c). Inline, because they sit on the hot path of
 * every string byte the channel sends or receives. */
#ifndef MUSTER_JSON_SCAN_H
#define MUSTER_JSON_SCAN_H

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_DISPATCH 1
/* Whether the CPU and the kernel let us use AVX2. glibc has already asked
 * the CPU at start-up; <sys/platform/x86.h> (glibc 2.33) reads its answer.
 * __builtin_cpu_supports would link libgcc's own start-up probe, a dozen
 * more CPUID instructions in every program that links libmuster: each one
 * traps to the hypervisor on a virtual machine (tens of microseconds). */
#if defined(__has_include) && __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define muster__have_avx2() CPU_FEATURE_ACTIVE(AVX2)
#else
#define muster__have_avx2() __builtin_cpu_supports("avx2")
#endif
#endif

/* p points at a byte >= 0x80; returns the byte after a well-formed UTF-8
 * sequence, or NULL. Well-formed as RFC 3629 has it, and as jansson's
 * utf8_iterate checks: no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF. */
static inline const unsigned char *
muster__json_skip_utf8(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  unsigned lo = 0x80, hi = 0xbf;
  int more;
  if (c < 0xc2)
    return NULL; /* continuation byte or overlong 2-byte lead */
  if (c < 0xe0) {
    more = 1;
  } else if (c < 0xf0) {
    more = 2;
    if (c == 0xe0)
      lo = 0xa0; /* overlong */
    else if (c == 0xed)
      hi = 0x9f; /* UTF-16 surrogates */
  } else if (c < 0xf5) {
    more = 3;
    if (c == 0xf0)
      lo = 0x90; /* overlong */
    else if (c == 0xf4)
      hi = 0x8f; /* above U+10FFFF */
  } else {
    return NULL;
  }
  if (end - p <= more)
    return NULL;
  if (p[1] < lo || p[1] > hi)
    return NULL;
  for (int i = 2; i <= more; i++)
    if ((p[i] & 0xc0) != 0x80)
      return NULL;
  return p + more + 1;
}

#ifdef __SSE2__
/* The bytes of p[0..16) that end a run of plain string bytes: a quote, a
 * backslash, or (as a signed byte) below 0x20, which takes in both the
 * control characters and every byte >= 0x80. As a vector of 0xff bytes,
 * and as a bit mask. */
static inline __m128i muster__json_special_v16(const unsigned char *p) {
  __m128i v = _mm_loadu_si128((const __m128i *)p);
  return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                      _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
}

static inline unsigned muster__json_special16(const unsigned char *p) {
  return (unsigned)_mm_movemask_epi8(muster__json_special_v16(p));
}

/* Whether any of p[0..64) ends a run: one test for four blocks. */
static inline int muster__json_special64(const unsigned char *p) {
  __m128i m = _mm_or_si128(_mm_or_si128(muster__json_special_v16(p),
                                        muster__json_special_v16(p + 16)),
                           _mm_or_si128(muster__json_special_v16(p + 32),
                                        muster__json_special_v16(p + 48)));
  return _mm_movemask_epi8(m) != 0;
}

/* Skips plain string bytes 16 at a time: returns the first byte that ends
 * the run (see muster__json_special16), or the point where fewer than 16
 * bytes remain. Long strings (a big message is mostly one) then cost about
 * as much as memchr. */
static inline const unsigned char *
muster__json_skip_plain_sse2(const unsigned char *p, const unsigned char *end) {
  while (end - p >= 16) {
    unsigned bits = muster__json_special16(p);
    if (bits != 0)
      return p + __builtin_ctz(bits);
    p += 16;
  }
  return p;
}
#endif

#ifdef HAVE_AVX2_DISPATCH
/* Skips plain string bytes 32 at a time, on CPUs that have AVX2 (callers
 * check muster__have_avx2() first): returns the first byte that
 * is a quote, a backslash, or (as a signed byte) below 0x20 — the control
 * characters and every byte >= 0x80 — or the point where fewer than 32
 * bytes remain. A big message is mostly one string, and this scan is then
 * the largest cost after the kernel's copies. */
__attribute__((target("avx2"))) static inline const unsigned char *
muster__json_skip_plain_avx2(const unsigned char *p, const unsigned char *end) {
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i bslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  while (end - p >= 32) {
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i m = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                        _mm256_cmpeq_epi8(v, bslash)),
        _mm256_cmpgt_epi8(space, v)); /* signed: also every byte >= 0x80 */
    unsigned bits = (unsigned)_mm256_movemask_epi8(m);
    if (bits != 0)
      return p + __builtin_ctz(bits);
    p += 32;
  }
  return p;
}
#endif

#endif
