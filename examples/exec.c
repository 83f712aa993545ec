/* Node's child_process.exec() example:
 *
 *   exec('cat *.js missing_file | wc -l', (error, stdout, stderr) => {
 *     if (error) { console.error(`exec error: ${error}`); return; }
 *     console.log(`stdout: ${stdout}`);
 *     console.error(`stderr: ${stderr}`);
 *   });
 *
 * Usage: exec [COMMAND]
 *
 * Like Node, a command that exits non-zero is reported as an exec error;
 * muster itself reports that in exit_status, and keeps result.error for a
 * run that failed (timeout, maxBuffer).
 */
#include <muster.h>

#include <stdio.h>

static int status = 0;

static void done(const muster_exec_result_t *r, void *data) {
  const char *command = data;
  if (r->error != 0 || r->exit_status != 0 || r->term_signal != 0) {
    if (r->error != 0)
      fprintf(stderr, "exec error: %s: %s\n", command,
              muster_strerror(r->error));
    else if (r->term_signal != 0)
      fprintf(stderr, "exec error: Command failed: %s (signal %d)\n", command,
              r->term_signal);
    else
      fprintf(stderr, "exec error: Command failed: %s (exit code %lld)\n%s",
              command, (long long)r->exit_status, r->stderr_buf);
    status = 1;
    return;
  }
  printf("stdout: %s\n", r->stdout_buf);
  fprintf(stderr, "stderr: %s\n", r->stderr_buf);
}

int main(int argc, char **argv) {
  const char *command = argc > 1 ? argv[1] : "cat *.js missing_file | wc -l";
  int err =
      muster_exec(uv_default_loop(), command, NULL, done, (void *)command);
  if (err < 0) {
    fprintf(stderr, "exec error: %s\n", muster_strerror(err));
    return 1;
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  uv_loop_close(uv_default_loop());
  return status;
}
