/* Node's child_process.execFile() example:
 *
 *   const child = execFile('node', ['--version'], (error, stdout, stderr) => {
 *     if (error) { throw error; }
 *     console.log(stdout);
 *   });
 *
 * Usage: execfile [PROGRAM [ARGS...]]
 *
 * Without arguments it runs `node --version`; where node is not installed
 * (ENOENT) it falls back to `uname -sr`, which every system has.
 */
#include <muster.h>

#include <stdio.h>

static int status = 0;

static void done(const muster_exec_result_t *r, void *data) {
  const char *file = data;
  if (r->error != 0 || r->exit_status != 0 || r->term_signal != 0) {
    fprintf(stderr, "execFile %s failed: %s (exit code %lld, signal %d)\n%s",
            file, r->error ? muster_strerror(r->error) : "command failed",
            (long long)r->exit_status, r->term_signal, r->stderr_buf);
    status = 1;
    return;
  }
  printf("%s", r->stdout_buf);
}

int main(int argc, char **argv) {
  static const char *const node[] = {"node", "--version", NULL};
  static const char *const uname[] = {"uname", "-sr", NULL};
  const char *const *args = argc > 1 ? (const char *const *)argv + 1 : node;
  uv_loop_t *loop = uv_default_loop();

  int err = muster_exec_file(loop, args[0], args, NULL, done, (void *)args[0]);
  if (err == MUSTER_ENOENT && argc == 1) {
    fprintf(stderr, "node: not found; running uname -sr instead\n");
    args = uname;
    err = muster_exec_file(loop, args[0], args, NULL, done, (void *)args[0]);
  }
  if (err < 0) {
    fprintf(stderr, "execFile %s: %s\n", args[0], muster_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return status;
}
