/* signal: the signal example of Node's process docs, in C.
 *
 *   // Begin reading from stdin so the process does not exit.
 *   process.stdin.resume();
 *   process.on('SIGINT', () => {
 *     console.log('Received SIGINT. Press Control-D to exit.');
 *   });
 *   // Using a single function to handle multiple signals
 *   function handle(signal) {
 *     console.log(`Received ${signal}`);
 *   }
 *   process.on('SIGINT', handle);
 *   process.on('SIGTERM', handle);
 *
 * Run it, press Ctrl-C (or `kill -INT`/`kill -TERM` its pid) and watch it
 * stay up; Ctrl-D (end of stdin) ends it. Node calls a signal's listeners
 * in the order they were added; here each is its own subscription. */
#include <muster.h>

#include <signal.h>
#include <stdio.h>

static muster_process_stdio_t *in;
static muster_signal_t *sigint_hint, *sigint, *sigterm;

static void hint(muster_signal_t *sig, int signum) {
  (void)sig, (void)signum;
  printf("Received SIGINT. Press Control-D to exit.\n");
  fflush(stdout);
}

static void handle(muster_signal_t *sig, int signum) {
  (void)sig;
  printf("Received %s\n", muster_signal_name(signum));
  fflush(stdout);
}

/* Input is only read to stay alive; its end ends the program. */
static void on_stdin(muster_process_stdio_t *s, ssize_t nread,
                     const char *data) {
  (void)data;
  if (nread >= 0)
    return;
  muster_process_stdio_close(s, NULL);
  muster_signal_close(sigint_hint, NULL);
  muster_signal_close(sigint, NULL);
  muster_signal_close(sigterm, NULL);
}

int main(int argc, char **argv) {
  uv_loop_t loop;
  int r;

  muster_process_setup(argc, argv);
  uv_loop_init(&loop);
  if ((r = muster_process_stdio_open(&loop, 0, &in)) != 0 ||
      (r = muster_process_stdio_read_start(in, on_stdin)) != 0 ||
      (r = muster_signal_subscribe(&loop, SIGINT, hint, NULL, &sigint_hint)) !=
          0 ||
      (r = muster_signal_subscribe(&loop, SIGINT, handle, NULL, &sigint)) !=
          0 ||
      (r = muster_signal_subscribe(&loop, SIGTERM, handle, NULL, &sigterm)) !=
          0) {
    fprintf(stderr, "signal: %s\n", muster_strerror(r));
    return 1;
  }
  printf("pid %d: send SIGINT or SIGTERM; end stdin to exit\n",
         muster_process_pid());
  fflush(stdout);
  int code = muster_process_run(&loop);
  uv_loop_close(&loop);
  return code;
}
