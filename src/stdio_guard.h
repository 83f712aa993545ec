/* Opens each of fds 0, 1, 2 that is closed on /dev/null; runs as a
 * constructor (src/stdio_guard.c says why). Internal. */
#ifndef MUSTER_STDIO_GUARD_H
#define MUSTER_STDIO_GUARD_H

void muster__stdio_guard(void);

#endif
