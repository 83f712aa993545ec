/* CLI entry: global options and the commands that need no more than a
 * target (connecting is cli_connect.c). */
#include "cli.h"

#include <muster.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_TIMEOUT_MS 30000

int cli_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("muster: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs(" (muster help)\n", stderr);
  va_end(ap);
  return CLI_USAGE;
}

int cli_number(const char *opt, const char *s, long long max, long long *out) {
  char *end;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : -1;
  if (s == NULL || *s == '\0' || *end != '\0' || errno || v < 0 || v > max)
    return cli_usage("%s: \"%s\" is not a number from 0 to %lld", opt,
                     s ? s : "", max);
  *out = v;
  return CLI_OK;
}

json_t *cli_environ(void) {
  json_t *env = json_object();
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL || eq == *e)
      continue;
    char *k = strndup(*e, (size_t)(eq - *e));
    json_t *v = json_string(eq + 1);
    if (v)
      json_object_set_new(env, k, v);
    free(k);
  }
  return env;
}

/* ---- simple commands ---------------------------------------------------- */

int cli_print_acted(const char *verb, const json_t *result) {
  size_t i;
  json_t *e;
  json_array_foreach(result, i, e)
      printf("[muster] %s %s (id %d)\n", verb,
             json_string_value(json_object_get(e, "name")),
             (int)json_integer_value(json_object_get(e, "pm_id")));
  return CLI_OK;
}

static int cmd_target(cli_t *cli, muster_client_cmd_t cmd, const char *verb,
                      int argc, char **argv) {
  json_t *args = json_object();
  const char *target = NULL;
  int update = 0;
  json_t *set_env = json_object();
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--update-env") == 0 || strcmp(argv[i], "-a") == 0) {
      update = 1;
    } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc &&
               strchr(argv[i + 1], '=')) {
      char *eq = strchr(argv[++i], '=');
      char *k = strndup(argv[i], (size_t)(eq - argv[i]));
      json_object_set_new(set_env, k, json_string(eq + 1));
      free(k);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      json_decref(args);
      json_decref(set_env);
      return cli_usage("%s: unknown option %s", argv[0], argv[i]);
    } else if (target == NULL) {
      target = argv[i];
    } else {
      json_decref(args);
      json_decref(set_env);
      return cli_usage("%s: one target (an id, a name, a namespace or all)",
                       argv[0]);
    }
  }
  if (target == NULL) {
    json_decref(args);
    json_decref(set_env);
    return cli_usage("%s: which app? (an id, a name, a namespace or all)",
                     argv[0]);
  }
  json_object_set_new(args, "target", json_string(target));
  if (update) {
    json_object_set_new(args, "update_env", json_true());
    json_object_set_new(args, "env", cli_environ());
    json_object_set(args, "set_env", set_env);
  }
  json_decref(set_env);
  json_t *result;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, cmd, args, &result);
  json_decref(args);
  if (rc == CLI_OK) {
    cli_print_acted(verb, result);
    json_decref(result);
  }
  return rc;
}

static int cmd_signal(cli_t *cli, int argc, char **argv) {
  if (argc != 3)
    return cli_usage("usage: muster signal <SIGNAL> <app>");
  int s = muster_appspec_parse_signal(argv[1]);
  if (s < 0)
    return cli_usage("signal: \"%s\" is not a signal", argv[1]);
  json_t *args = json_pack("{s:s, s:i}", "target", argv[2], "signal", s);
  json_t *result;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, MUSTER_CMD_SIGNAL, args, &result);
  json_decref(args);
  if (rc == CLI_OK) {
    char verb[64];
    snprintf(verb, sizeof verb, "sent %s to", muster_signal_name(s));
    cli_print_acted(verb, result);
    json_decref(result);
  }
  return rc;
}

static int cmd_ping(cli_t *cli, int argc, char **argv) {
  (void)argv;
  if (argc != 1)
    return cli_usage("ping takes no argument");
  json_t *result;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, MUSTER_CMD_PING, NULL, &result);
  if (rc == CLI_OK) {
    printf("pong (daemon pid %d, %d apps)\n",
           (int)json_integer_value(json_object_get(result, "pid")),
           (int)json_integer_value(json_object_get(result, "apps")));
    json_decref(result);
  }
  return rc;
}

/* `kill` returns once the daemon is gone: its lock is free, or held by a
 * daemon another CLI started since (cli_wait_pid_gone). With no
 * socket to connect to, a daemon may still hold the lock, starting or
 * exiting: wait until it answers or is gone. */
static int cmd_kill(cli_t *cli, int argc, char **argv) {
  (void)argv;
  if (argc != 1)
    return cli_usage("kill takes no argument");
  int64_t deadline =
      cli_now_ms() + (cli->timeout_ms ? cli->timeout_ms : DEFAULT_TIMEOUT_MS);
  while (muster_client_connect(cli->home.dir, &cli->client) < 0) {
    if (cli_wait_gone(cli, 0) == 0) {
      printf("[muster] no daemon runs for %s\n", cli->home.dir);
      return CLI_OK;
    }
    if (cli_now_ms() > deadline) {
      fprintf(stderr, "muster: kill: a daemon holds %s but does not answer\n",
              cli->home.lock);
      return CLI_FAIL;
    }
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  /* The daemon we reached (it holds the lock): while it exits, another
   * CLI may start the next one, which is not ours to wait for. */
  int pid = home_daemon_pid(&cli->home);
  char *message = NULL;
  int r = muster_client_command(cli->client, MUSTER_CMD_KILL, NULL,
                                cli->timeout_ms, NULL, &message);
  /* Another `kill` came first: the daemon is on its way out already. */
  int already = r == MUSTER_ECANCELED && message != NULL;
  if (r < 0 && !already && !cli_lost(r)) {
    fprintf(stderr, "muster: kill: %s\n",
            message ? message : muster_strerror(r));
    free(message);
    return CLI_FAIL;
  }
  free(message);
  if (cli_wait_pid_gone(cli, pid, deadline) < 0) {
    fprintf(stderr, "muster: kill: the daemon did not exit in time\n");
    return CLI_FAIL;
  }
  if (cli_lost(r)) {
    fprintf(stderr,
            "muster: kill: the daemon went away before it answered (%s); "
            "none runs now\n",
            muster_err_name(r));
    return CLI_FAIL;
  }
  printf(already ? "[muster] the daemon was exiting already; it exited\n"
                 : "[muster] every app stopped; daemon exited\n");
  return CLI_OK;
}

static int cmd_save(cli_t *cli, int argc, char **argv) {
  int force = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
      force = 1;
    else
      return cli_usage("save: unknown argument %s", argv[i]);
  }
  json_t *args = json_pack("{s:b}", "force", force), *result;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, MUSTER_CMD_SAVE, args, &result);
  json_decref(args);
  if (rc == CLI_OK) {
    printf("[muster] saved %d apps to %s\n",
           (int)json_integer_value(json_object_get(result, "apps")),
           json_string_value(json_object_get(result, "path")));
    json_decref(result);
  }
  return rc;
}

static int cmd_resurrect(cli_t *cli, int argc, char **argv) {
  (void)argv;
  if (argc != 1)
    return cli_usage("resurrect takes no argument");
  json_t *result;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, MUSTER_CMD_RESURRECT, NULL, &result);
  if (rc != CLI_OK)
    return rc;
  size_t i;
  json_t *e;
  printf("[muster] resurrecting from %s\n",
         json_string_value(json_object_get(result, "from")));
  cli_print_acted("started", json_object_get(result, "started"));
  json_array_foreach(json_object_get(result, "skipped"), i, e) printf(
      "[muster] %s runs already: not started again\n", json_string_value(e));
  json_array_foreach(json_object_get(result, "warnings"), i, e)
      fprintf(stderr, "muster: warning: %s\n", json_string_value(e));
  json_array_foreach(json_object_get(result, "failed"), i, e) {
    fprintf(stderr, "muster: resurrect \"%s\": %s\n",
            json_string_value(json_object_get(e, "name")),
            json_string_value(json_object_get(e, "error")));
    rc = CLI_FAIL;
  }
  json_decref(result);
  return rc;
}

static int cmd_simple(cli_t *cli, muster_client_cmd_t cmd, int argc,
                      char **argv, const char *done) {
  json_t *args = json_object();
  if (argc > 2 || (argc == 2 && cmd != MUSTER_CMD_FLUSH)) {
    json_decref(args);
    return cli_usage("%s: too many arguments", argv[0]);
  }
  if (argc == 2)
    json_object_set_new(args, "target", json_string(argv[1]));
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, cmd, args, NULL);
  json_decref(args);
  if (rc == CLI_OK)
    printf("[muster] %s\n", done);
  return rc;
}

static const char help[] =
    "usage: muster <command> [options]\n"
    "\n"
    "  start <file|binary> [--name N] [--namespace NS] [--cwd D]\n"
    "        [--env K=V]... [--interpreter I] [-i N] [--force] [-- args]\n"
    "        restart policy: --no-autorestart --max-restarts N\n"
    "        --min-uptime MS --restart-delay MS --exp-backoff-restart-delay "
    "MS\n"
    "        --stop-exit-codes C,... --kill-timeout MS --kill-signal SIG\n"
    "        readiness: --wait-ready --listen-timeout MS\n"
    "        logs: --output F --error F --log F (both streams) --time\n"
    "        --merge-logs (one file for all instances)\n"
    "        as (daemon as root): --uid USER|N --gid GROUP|N\n"
    "  start <id|name|namespace> alone: restart those apps (PM2's)\n"
    "  stop|restart|reload|delete|reset <id|name|namespace|all>\n"
    "        restart, reload: --update-env [--env K=V]...\n"
    "        reload: one instance at a time, the new process online\n"
    "        before the old one stops; a failed one keeps the old (exit 1)\n"
    "  signal <SIG> <app>      send a signal to the app's main process\n"
    "  ls | list | status      the apps as a table\n"
    "  jlist                   the apps as JSON (PM2's shape)\n"
    "  describe <app>          everything about an app\n"
    "  env <app>               the environment an app runs with\n"
    "  logs [app] [--lines N] [--follow] [--err|--out] [--json]\n"
    "       [--timestamp [format]] [--highlight text] [--raw]\n"
    "                          last lines, then (--follow) new ones\n"
    "  flush [app]             empty the log files\n"
    "  reload-logs             reopen the log files (also SIGUSR1)\n"
    "  save [--force]          write the app list to MUSTER_HOME/dump.json\n"
    "  resurrect               start the saved apps that are not running\n"
    "  ping                    start the daemon if needed; show it\n"
    "  kill                    stop every app, then the daemon\n"
    "  daemon                  run the daemon in the foreground\n"
    "\n"
    "  --timeout MS            per-call timeout (default 30000; also\n"
    "                          MUSTER_TIMEOUT)\n"
    "  MUSTER_HOME             the daemon's home (default ~/.muster)\n";

int cli_main(int argc, char **argv) {
  /* Not "= {...}": that would clear the home's PATH_MAX bytes, pages of
   * stack that home_init() fills only at their start. */
  cli_t cli;
  /* jansson seeds its hash tables from /dev/urandom at the first object
   * (an open, a read and a close). The CLI reads only its own daemon's
   * replies and its user's files, nothing a stranger could fill with
   * colliding keys, so a seed that costs no system call will do. */
  json_object_seed((size_t)getpid() * 2654435761u + (size_t)cli_now_ms());
  cli.timeout_ms = DEFAULT_TIMEOUT_MS;
  cli.color = 0;
  cli.client = NULL;
  const char *t = getenv("MUSTER_TIMEOUT");
  long long v = 0;
  if (t && *t) {
    if (cli_number("MUSTER_TIMEOUT", t, 86400000, &v) != CLI_OK)
      return CLI_USAGE;
    cli.timeout_ms = (int)v;
  }
  int i = 1;
  while (i < argc && strcmp(argv[i], "--timeout") == 0) {
    if (i + 1 >= argc ||
        cli_number("--timeout", argv[i + 1], 86400000, &v) != CLI_OK)
      return CLI_USAGE;
    cli.timeout_ms = (int)v;
    i += 2;
  }
  if (i >= argc || strcmp(argv[i], "help") == 0 ||
      strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
    fputs(help, i >= argc ? stderr : stdout);
    return i >= argc ? CLI_USAGE : CLI_OK;
  }
  if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "version") == 0) {
    printf("%s\n", MUSTER_VERSION_STRING);
    return CLI_OK;
  }
  const char *what;
  int r = home_init(&cli.home, 0, &what);
  if (r < 0) {
    fprintf(stderr, "muster: MUSTER_HOME %s: %s (%s)\n", what,
            muster_err_name(r), muster_strerror(r));
    return CLI_FAIL;
  }
  cli.color = isatty(1) && getenv("NO_COLOR") == NULL;
  const char *c = argv[i];
  int n = argc - i;
  char **a = argv + i;
  int rc;
  if (strcmp(c, "start") == 0)
    rc = cli_start(&cli, n, a);
  else if (strcmp(c, "stop") == 0)
    rc = cmd_target(&cli, MUSTER_CMD_STOP, "stopped", n, a);
  else if (strcmp(c, "restart") == 0)
    rc = cmd_target(&cli, MUSTER_CMD_RESTART, "restarted", n, a);
  else if (strcmp(c, "reload") == 0)
    rc = cmd_target(&cli, MUSTER_CMD_RELOAD, "reloaded", n, a);
  else if (strcmp(c, "delete") == 0 || strcmp(c, "del") == 0)
    rc = cmd_target(&cli, MUSTER_CMD_DELETE, "deleted", n, a);
  else if (strcmp(c, "reset") == 0)
    rc = cmd_target(&cli, MUSTER_CMD_RESET, "reset", n, a);
  else if (strcmp(c, "signal") == 0 || strcmp(c, "sendSignal") == 0)
    rc = cmd_signal(&cli, n, a);
  else if (strcmp(c, "ls") == 0 || strcmp(c, "list") == 0 ||
           strcmp(c, "status") == 0 || strcmp(c, "l") == 0 ||
           strcmp(c, "ps") == 0)
    rc = cli_ls(&cli, n, a);
  else if (strcmp(c, "jlist") == 0)
    rc = cli_jlist(&cli, n, a);
  else if (strcmp(c, "describe") == 0 || strcmp(c, "desc") == 0 ||
           strcmp(c, "info") == 0 || strcmp(c, "show") == 0)
    rc = cli_describe(&cli, n, a);
  else if (strcmp(c, "env") == 0)
    rc = cli_env(&cli, n, a);
  else if (strcmp(c, "logs") == 0)
    rc = cli_logs(&cli, n, a);
  else if (strcmp(c, "flush") == 0)
    rc = cmd_simple(&cli, MUSTER_CMD_FLUSH, n, a, "logs flushed");
  else if (strcmp(c, "reload-logs") == 0 || strcmp(c, "reloadLogs") == 0)
    rc = cmd_simple(&cli, MUSTER_CMD_RELOAD_LOGS, n, a, "logs reopened");
  else if (strcmp(c, "save") == 0 || strcmp(c, "dump") == 0)
    rc = cmd_save(&cli, n, a);
  else if (strcmp(c, "resurrect") == 0)
    rc = cmd_resurrect(&cli, n, a);
  else if (strcmp(c, "ping") == 0)
    rc = cmd_ping(&cli, n, a);
  else if (strcmp(c, "kill") == 0)
    rc = cmd_kill(&cli, n, a);
  else
    rc = cli_usage("unknown command \"%s\"", c);
  muster_client_close(cli.client);
  return rc;
}
