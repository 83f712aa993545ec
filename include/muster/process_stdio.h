/* stdin, stdout and stderr as streams on a loop: Node's process.stdin,
 * process.stdout and process.stderr.
 *
 *   muster_process_stdio_guess()     what an fd is: TTY, pipe, file,
 *                                    socket, or closed
 *   muster_process_stdio_open()      a stream over fd 0, 1 or 2 (or any fd)
 *   muster_process_stdio_read_start(), _read_stop()
 *                                    data, then end of file
 *   muster_process_stdio_write()     queue bytes; a callback when written;
 *                                    backpressure as Node's write() returns
 *   muster_process_stdio_on_drain()  the queue went back under the mark
 *   muster_process_stdio_fd(), _kind(), _is_tty(), _window_size(),
 *   muster_process_stdio_buffered(), _close(), _data(), _set_data()
 *
 * Whatever the fd is, the stream works the same way:
 *   TTY, pipe or FIFO  non-blocking I/O watched by the loop (uv_poll). The
 *                      stream opens its own file description of the fd
 *                      (through /proc/self/fd), so making it non-blocking
 *                      does not change the fd the rest of the program (or
 *                      the parent shell) uses; when that is impossible it
 *                      works on a dup and puts the flags back on close.
 *   socket             the same, with send(MSG_DONTWAIT | MSG_NOSIGNAL) and
 *                      recv(MSG_DONTWAIT): the socket is never switched to
 *                      non-blocking mode.
 *   file (a regular file, /dev/null, other devices)
 *                      writes are synchronous, as Node's are for files
 *                      (their callbacks still come later, from the loop);
 *                      reads run on libuv's thread pool.
 *   closed (the fd is not open)
 *                      as /dev/null: writes succeed and go nowhere, reads
 *                      end at once. (fds 0-2 are never closed in a program
 *                      linked with libmuster: like Node, it opens /dev/null
 *                      on them at load.)
 *
 * Writing to a pipe or socket whose reader is gone completes the write
 * with MUSTER_EPIPE; the process never gets a SIGPIPE from it (for pipes,
 * SIGPIPE is blocked around the write and a SIGPIPE it raised is taken
 * back), whatever SIGPIPE's disposition. After an error, every later write
 * fails with the same error.
 *
 * Callbacks are never called from inside the call that started them. The
 * stream never closes the fd it was opened on (stdio stays open, as in
 * Node); it closes only its own descriptor. Everything here runs on the
 * loop's thread, except muster_process_stdio_guess(), which any thread may
 * call. */
#ifndef MUSTER_PROCESS_STDIO_H
#define MUSTER_PROCESS_STDIO_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "common.h"

typedef enum {
  MUSTER_PROCESS_STDIO_CLOSED = 0, /* not an open fd */
  MUSTER_PROCESS_STDIO_TTY,        /* a terminal (isatty) */
  MUSTER_PROCESS_STDIO_PIPE,       /* a pipe or FIFO */
  MUSTER_PROCESS_STDIO_FILE,       /* a regular file or a non-TTY device */
  MUSTER_PROCESS_STDIO_SOCKET      /* any socket: Unix, TCP, ... */
} muster_process_stdio_kind_t;

typedef struct muster_process_stdio_s muster_process_stdio_t;

/* Data arrived (nread > 0 bytes at `data`, valid during the call), or the
 * input ended (nread == MUSTER_EOF), or failed (nread another negative
 * error; reading has then stopped). */
typedef void (*muster_process_stdio_read_cb)(muster_process_stdio_t *stream,
                                             ssize_t nread, const char *data);
/* A write finished: status 0, or an error (MUSTER_EPIPE: the reader is
 * gone; MUSTER_ECANCELED: the stream was closed first). */
typedef void (*muster_process_stdio_write_cb)(muster_process_stdio_t *stream,
                                              int status, void *arg);
typedef void (*muster_process_stdio_drain_cb)(muster_process_stdio_t *stream);
typedef void (*muster_process_stdio_close_cb)(muster_process_stdio_t *stream);

/* Bytes queued at which muster_process_stdio_write() starts returning 0 (Node's
 * highWaterMark for streams). */
#define MUSTER_PROCESS_STDIO_HIGH_WATER (16 * 1024)

/* What `fd` is. A negative fd is CLOSED. Any thread. */
MUSTER_EXTERN muster_process_stdio_kind_t muster_process_stdio_guess(int fd);

/* A stream over `fd` (borrowed: never closed by the stream) on `loop`.
 * Errors: MUSTER_EINVAL (NULL loop or out, fd < 0), MUSTER_EMFILE,
 * MUSTER_ENOMEM, and libuv's errors for a fd it cannot watch. On error
 * *out is NULL. Thread: the loop's. */
MUSTER_EXTERN int muster_process_stdio_open(uv_loop_t *loop, int fd,
                                            muster_process_stdio_t **out);

/* Starts delivering input to cb; while reading, the stream keeps the loop
 * alive (as process.stdin does once read from). Errors: MUSTER_EINVAL
 * (NULL cb, closing stream), MUSTER_EALREADY (already reading). After end
 * of file, a new read_start delivers MUSTER_EOF again. */
MUSTER_EXTERN int
muster_process_stdio_read_start(muster_process_stdio_t *stream,
                                muster_process_stdio_read_cb cb);

/* Stops delivering input; data that arrives meanwhile waits in the fd (a
 * file read already under way is kept and delivered by the next
 * read_start). Stopping a stream that is not reading is 0. */
MUSTER_EXTERN int
muster_process_stdio_read_stop(muster_process_stdio_t *stream);

/* Queues a copy of buf[0..len) (borrowed for the call) and calls cb(arg)
 * (may be NULL) once it is written or failed. Writes are written in
 * order. Returns 1 while the bytes still queued are below
 * MUSTER_PROCESS_STDIO_HIGH_WATER, 0 once they are not: the caller should then
 * wait for the drain callback before writing more (the write is queued
 * either way, as Node's write() returning false).
 * Errors (cb never called): MUSTER_EINVAL (NULL stream, NULL buf with
 * len > 0, a closing stream), MUSTER_ENOMEM. */
MUSTER_EXTERN int muster_process_stdio_write(muster_process_stdio_t *stream,
                                             const void *buf, size_t len,
                                             muster_process_stdio_write_cb cb,
                                             void *arg);

/* Sets the callback run when the queue has emptied after a write returned
 * 0 (Node's 'drain'). NULL removes it. */
MUSTER_EXTERN void
muster_process_stdio_on_drain(muster_process_stdio_t *stream,
                              muster_process_stdio_drain_cb cb);

/* Bytes queued and not yet written (Node's writableLength). */
MUSTER_EXTERN size_t
muster_process_stdio_buffered(const muster_process_stdio_t *stream);

/* The fd the stream was opened on, and what it is. */
MUSTER_EXTERN int muster_process_stdio_fd(const muster_process_stdio_t *stream);
MUSTER_EXTERN muster_process_stdio_kind_t
muster_process_stdio_kind(const muster_process_stdio_t *stream);
MUSTER_EXTERN int
muster_process_stdio_is_tty(const muster_process_stdio_t *stream);

/* The terminal's size (Node's stdout.columns / rows).
 * Errors: MUSTER_EINVAL (NULL arguments), MUSTER_ENOTTY (not a TTY). */
MUSTER_EXTERN int
muster_process_stdio_window_size(const muster_process_stdio_t *stream,
                                 int *columns, int *rows);

/* Ends the stream: reading stops, writes not yet written complete with
 * MUSTER_ECANCELED, then cb (may be NULL) runs on a later loop turn and the
 * stream is freed. To flush first, close from the last write's callback. */
MUSTER_EXTERN void muster_process_stdio_close(muster_process_stdio_t *stream,
                                              muster_process_stdio_close_cb cb);

MUSTER_EXTERN void *
muster_process_stdio_data(const muster_process_stdio_t *stream);
MUSTER_EXTERN void muster_process_stdio_set_data(muster_process_stdio_t *stream,
                                                 void *data);

#endif
