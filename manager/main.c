/* The `muster` program: the CLI and the daemon (`muster daemon`), in one
 * binary. */
#include <muster.h>

#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"

int main(int argc, char **argv) {
  argv = muster_process_setup(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "daemon") == 0)
    return daemon_main(argc - 1, argv + 1);
  return cli_main(argc, argv);
}
