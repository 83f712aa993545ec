/* stdin-echo: the process.stdin 'readable' example of Node's docs, in C.
 *
 *   process.stdin.setEncoding('utf8');
 *   process.stdin.on('readable', () => {
 *     let chunk;
 *     while ((chunk = process.stdin.read()) !== null)
 *       process.stdout.write(`data: ${chunk}`);
 *   });
 *   process.stdin.on('end', () => {
 *     process.stdout.write('end');
 *   });
 *
 * Works whatever stdin and stdout are: a terminal (type, then Ctrl-D), a
 * pipe (`printf 'a\nb\n' | stdin-echo`), a file, a socket, /dev/null, or
 * closed. Writing to a closed pipe (`stdin-echo < big | head -c1`) ends
 * with "stdout: EPIPE" on stderr and exit code 1, not a SIGPIPE death.
 * The lifecycle is Node's (muster_process_run): the program ends when
 * nothing is left to do. */
#include <muster.h>

#include <stdio.h>
#include <string.h>

static muster_process_stdio_t *in, *out;

static void on_written(muster_process_stdio_t *s, int status, void *arg) {
  (void)s, (void)arg;
  if (status != 0 && status != MUSTER_ECANCELED) {
    fprintf(stderr, "stdout: %s\n", muster_err_name(status));
    muster_process_set_exit_code(1);
    muster_process_stdio_close(in, NULL);
    muster_process_stdio_close(out, NULL);
  }
}

static void on_end_written(muster_process_stdio_t *s, int status, void *arg) {
  on_written(s, status, arg);
  if (status == 0)
    muster_process_stdio_close(out, NULL);
}

static void on_read(muster_process_stdio_t *s, ssize_t nread,
                    const char *data) {
  char buf[64 * 1024 + 8];

  if (nread > 0) {
    /* One write per chunk: "data: " and the chunk together. */
    memcpy(buf, "data: ", 6);
    memcpy(buf + 6, data, (size_t)nread);
    if (muster_process_stdio_write(out, buf, (size_t)nread + 6, on_written,
                                   NULL) == 0) {
      /* Over the high-water mark: stop reading until stdout drains. */
      muster_process_stdio_read_stop(s);
    }
    return;
  }
  muster_process_stdio_close(s, NULL);
  if (nread != MUSTER_EOF) {
    fprintf(stderr, "stdin: %s\n", muster_err_name((int)nread));
    muster_process_set_exit_code(1);
    muster_process_stdio_close(out, NULL);
    return;
  }
  muster_process_stdio_write(out, "end", 3, on_end_written, NULL);
}

static void on_drain(muster_process_stdio_t *s) {
  (void)s;
  muster_process_stdio_read_start(in, on_read);
}

int main(int argc, char **argv) {
  uv_loop_t loop;
  int r;

  muster_process_setup(argc, argv);
  uv_loop_init(&loop);
  if ((r = muster_process_stdio_open(&loop, 0, &in)) != 0 ||
      (r = muster_process_stdio_open(&loop, 1, &out)) != 0) {
    fprintf(stderr, "stdin-echo: %s\n", muster_strerror(r));
    return 1;
  }
  muster_process_stdio_on_drain(out, on_drain);
  muster_process_stdio_read_start(in, on_read);
  int code = muster_process_run(&loop);
  uv_loop_close(&loop);
  return code;
}
