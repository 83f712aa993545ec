/* The `muster` program: the CLI, the daemon (`muster daemon`) and the exec
 * trampoline of the apps (`muster __run`), in one binary. */
#include <muster.h>

#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"

int run_main(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "__run") == 0)
    return run_main(argc, argv);
  argv = muster_process_setup(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "daemon") == 0)
    return daemon_main(argc - 1, argv + 1);
  return cli_main(argc, argv);
}
