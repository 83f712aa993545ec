/* Node's child_process.spawn() example:
 *
 *   const ls = spawn('ls', ['-lh', '/usr']);
 *   ls.stdout.on('data', (data) => console.log(`stdout: ${data}`));
 *   ls.stderr.on('data', (data) => console.error(`stderr: ${data}`));
 *   ls.on('exit', (code) => console.log(`child process exited with code
 * ${code}`)); ls.on('close', (code) => console.log(`child process close all
 * stdio with code ${code}`));
 *
 * Usage: spawn-ls [DIR]   (DIR defaults to /usr)
 */
#include <muster.h>

#include <stdio.h>

static void on_data(muster_child_t *child, int slot, const char *buf,
                    size_t len) {
  if (buf == NULL)
    return; /* end of that stream */
  if (slot == 1)
    printf("stdout: %.*s\n", (int)len, buf);
  else
    fprintf(stderr, "stderr: %.*s\n", (int)len, buf);
}

static void on_exit_cb(muster_child_t *child, int64_t code, int signal) {
  if (signal != 0)
    printf("child process exited with signal %d\n", signal);
  else
    printf("child process exited with code %lld\n", (long long)code);
}

static void on_close(muster_child_t *child) {
  int64_t code = 0;
  muster_child_exited(child, &code, NULL);
  printf("child process close all stdio with code %lld\n", (long long)code);
  muster_child_close(child, NULL);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/usr";
  const char *args[] = {"ls", "-lh", dir, NULL};
  muster_spawn_options_t options = {0};
  muster_child_t *ls;

  setvbuf(stdout, NULL, _IOLBF, 0);
  options.on_data = on_data;
  options.on_exit = on_exit_cb;
  options.on_close = on_close;
  int err = muster_spawn(uv_default_loop(), "ls", args, &options, &ls);
  if (err < 0) {
    fprintf(stderr, "spawn ls: %s\n", muster_strerror(err));
    return 1;
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}
