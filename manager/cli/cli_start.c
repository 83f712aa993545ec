/* `muster start`: the command line becomes one PM2-style app object. */
#include "cli.h"

#include <muster.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_MS 86400000LL

/* Options taking a number of milliseconds (or a count): PM2's names. */
static const struct {
  const char *opt, *attr;
  long long max;
} numbers[] = {
    {"--max-restarts", "max_restarts", 1000},
    {"--min-uptime", "min_uptime", DAY_MS},
    {"--restart-delay", "restart_delay", DAY_MS},
    {"--exp-backoff-restart-delay", "exp_backoff_restart_delay", DAY_MS},
    {"--kill-timeout", "kill_timeout", DAY_MS},
    {"-k", "kill_timeout", DAY_MS},
    {"--listen-timeout", "listen_timeout", DAY_MS},
    {"-i", "instances", 4096},
    {"--instances", "instances", 4096},
};

static const struct {
  const char *opt, *attr;
} strings[] = {
    {"--name", "name"},
    {"-n", "name"},
    {"--namespace", "namespace"},
    {"--cwd", "cwd"},
    {"--interpreter", "interpreter"},
    {"--output", "out_file"},
    {"-o", "out_file"},
    {"--error", "error_file"},
    {"--uid", "uid"},
    {"--gid", "gid"},
    {"-e", "error_file"},
    {"--log", "log_file"},
    {"-l", "log_file"},
};

/* The script as an absolute path: relative to our cwd when it has a '/'
 * or exists here, else found on our PATH; left as given otherwise (the
 * daemon then says ENOENT with the path). */
static json_t *resolve(const char *script) {
  char buf[PATH_MAX];
  struct stat st;
  if (strchr(script, '/') == NULL && stat(script, &st) < 0) {
    const char *path = getenv("PATH");
    while (path && *path) {
      const char *end = strchr(path, ':');
      size_t n = end ? (size_t)(end - path) : strlen(path);
      snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, script);
      if (n && access(buf, X_OK) == 0)
        return json_string(buf);
      path += n + (end != NULL);
    }
  }
  if (realpath(script, buf))
    return json_string(buf);
  if (script[0] == '/' || getcwd(buf, sizeof buf) == NULL)
    return json_string(script);
  size_t len = strlen(buf);
  snprintf(buf + len, sizeof buf - len, "/%s", script);
  return json_string(buf);
}

static int option(json_t *app, int argc, char **argv, int *i) {
  const char *o = argv[*i];
  const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  for (size_t k = 0; k < sizeof numbers / sizeof *numbers; k++) {
    if (strcmp(o, numbers[k].opt) != 0)
      continue;
    long long v;
    if (val && strcmp(numbers[k].attr, "instances") == 0 &&
        (strcmp(val, "max") == 0 || strcmp(val, "-1") == 0)) {
      json_object_set_new(app, "instances", json_string("max"));
    } else {
      if (cli_number(o, val, numbers[k].max, &v) != CLI_OK)
        return CLI_USAGE;
      json_object_set_new(app, numbers[k].attr, json_integer(v));
    }
    (*i)++;
    return CLI_OK;
  }
  for (size_t k = 0; k < sizeof strings / sizeof *strings; k++) {
    if (strcmp(o, strings[k].opt) != 0)
      continue;
    if (val == NULL || *val == '\0')
      return cli_usage("%s needs a value", o);
    json_t *s = strcmp(strings[k].attr, "cwd") == 0 ||
                        strcmp(strings[k].attr, "out_file") == 0 ||
                        strcmp(strings[k].attr, "error_file") == 0 ||
                        strcmp(strings[k].attr, "log_file") == 0
                    ? resolve(val)
                    : json_string(val);
    if (s == NULL)
      return cli_usage("%s: not UTF-8", o);
    json_object_set_new(app, strings[k].attr, s);
    (*i)++;
    return CLI_OK;
  }
  if (strcmp(o, "--env") == 0) {
    const char *eq = val ? strchr(val, '=') : NULL;
    if (eq == NULL || eq == val)
      return cli_usage("--env: expected NAME=value");
    json_t *env = json_object_get(app, "env");
    char *k = strndup(val, (size_t)(eq - val));
    json_object_set_new(env, k, json_string(eq + 1));
    free(k);
    (*i)++;
    return CLI_OK;
  }
  if (strcmp(o, "--kill-signal") == 0) {
    int s = muster_appspec_parse_signal(val);
    if (s < 0)
      return cli_usage("--kill-signal: \"%s\" is not a signal", val ? val : "");
    json_object_set_new(app, "kill_signal", json_string(muster_signal_name(s)));
    (*i)++;
    return CLI_OK;
  }
  if (strcmp(o, "--stop-exit-codes") == 0) {
    json_t *codes = json_array();
    char *copy = strdup(val ? val : ""), *save = NULL;
    int bad = *copy == '\0';
    for (char *t = strtok_r(copy, ", ", &save); t && !bad;
         t = strtok_r(NULL, ", ", &save)) {
      long long v;
      if (cli_number("--stop-exit-codes", t, 255, &v) != CLI_OK)
        bad = 2;
      else
        json_array_append_new(codes, json_integer(v));
    }
    free(copy);
    if (bad) {
      json_decref(codes);
      return bad == 2 ? CLI_USAGE
                      : cli_usage("--stop-exit-codes: expected codes");
    }
    json_object_set_new(app, "stop_exit_codes", codes);
    (*i)++;
    return CLI_OK;
  }
  if (strcmp(o, "--interpreter-args") == 0 || strcmp(o, "--node-args") == 0) {
    if (val == NULL)
      return cli_usage("%s needs a value", o);
    json_object_set_new(app, "interpreter_args", json_string(val));
    (*i)++;
    return CLI_OK;
  }
  if (strcmp(o, "--autorestart") == 0) {
    json_object_set_new(app, "autorestart", json_true());
    return CLI_OK;
  }
  if (strcmp(o, "--no-autorestart") == 0) {
    json_object_set_new(app, "autorestart", json_false());
    return CLI_OK;
  }
  if (strcmp(o, "--wait-ready") == 0) {
    json_object_set_new(app, "wait_ready", json_true());
    return CLI_OK;
  }
  if (strcmp(o, "--time") == 0 || strcmp(o, "--merge-logs") == 0) {
    json_object_set_new(app, o[2] == 't' ? "time" : "merge_logs", json_true());
    return CLI_OK;
  }
  return cli_usage("start: unknown option %s", o);
}

/* PM2 takes these as ecosystem files, not as scripts. */
static int is_ecosystem(const char *path) {
  static const char *const ends[] = {".json", ".yaml", ".yml", ".config.js",
                                     ".config.cjs"};
  size_t n = strlen(path);
  for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
    size_t m = strlen(ends[i]);
    if (n > m && strcmp(path + n - m, ends[i]) == 0)
      return 1;
  }
  return 0;
}

/* Sends the canonical specs in one request (the daemon checks them all
 * before it starts any); prints warnings and what started. One request
 * rather than one per app: on a busy machine each round trip waits for
 * the scheduler twice, which made a 100-app file take seconds. */
static int start_apps(cli_t *cli, json_t *apps, int force) {
  json_t *req =
      json_array_size(apps) == 1
          ? json_pack("{s:O, s:o, s:b}", "app", json_array_get(apps, 0), "env",
                      cli_environ(), "force", force)
          : json_pack("{s:O, s:o, s:b}", "apps", apps, "env", cli_environ(),
                      "force", force);
  json_t *result;
  int rc = cli_call(cli, MUSTER_CMD_START, req, &result);
  json_decref(req);
  if (rc != CLI_OK)
    return rc;
  size_t k;
  json_t *e;
  json_array_foreach(json_object_get(result, "warnings"), k, e)
      fprintf(stderr, "muster: warning: %s\n", json_string_value(e));
  json_array_foreach(json_object_get(result, "started"), k, e)
      printf("[muster] started %s (id %d)\n",
             json_string_value(json_object_get(e, "name")),
             (int)json_integer_value(json_object_get(e, "pm_id")));
  json_decref(result);
  return CLI_OK;
}

static void print_warnings(json_t *warnings) {
  size_t k;
  json_t *e;
  json_array_foreach(warnings, k, e)
      fprintf(stderr, "muster: warning: %s\n", json_string_value(e));
}

/* The apps to start: an ecosystem file's, or the one the flags describe,
 * in canonical form (include/muster/appspec.h). */
static int load_apps(const char *script, json_t *app, const char *env_name,
                     const char *only, json_t **apps) {
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL)
    return cli_usage("start: the current directory is gone");
  muster_appspec_options_t o = {
      .base_dir = cwd, .env_name = env_name, .only = only};
  muster_appspec_error_t err;
  json_t *warnings = json_array();
  int r;
  if (is_ecosystem(script)) {
    r = muster_appspec_load(script, &o, apps, warnings, &err);
  } else {
    json_t *spec;
    r = muster_appspec_normalize(app, &o, &spec, warnings, &err);
    if (r == 0) {
      *apps = json_array();
      json_array_append_new(*apps, spec);
    }
  }
  print_warnings(warnings);
  json_decref(warnings);
  if (r < 0) {
    fprintf(stderr, "muster: start: %s\n", err.text);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* `start api` after `stop api`: PM2 restarts the app named (or numbered,
 * or the namespace) when the word names no file here and comes alone,
 * without options or app arguments. Otherwise it is a script to start. */
static int names_an_app(const char *script, int options, int has_args) {
  struct stat st;
  return !options && !has_args && !is_ecosystem(script) &&
         strchr(script, '/') == NULL && stat(script, &st) < 0;
}

/* Restarts what `target` names; *acted is 0 when it names no app. */
static int restart_existing(cli_t *cli, const char *target, int *acted) {
  *acted = 0;
  int rc = cli_connect(cli);
  if (rc != CLI_OK)
    return rc;
  json_t *args = json_pack("{s:s}", "target", target), *result = NULL;
  char *message = NULL;
  int r = muster_client_command(cli->client, MUSTER_CMD_RESTART, args,
                                cli->timeout_ms, &result, &message);
  json_decref(args);
  if (r == 0) {
    *acted = 1;
    cli_print_acted("restarted", result);
  } else if (r != MUSTER_ESRCH) {
    fprintf(stderr, "muster: start \"%s\": %s\n", target,
            message ? message : muster_strerror(r));
    rc = CLI_FAIL;
  }
  json_decref(result);
  free(message);
  return rc;
}

static int print_list(cli_t *cli) {
  json_t *list, *fields = json_pack("{s:s}", "fields", "rows");
  int rc = cli_call(cli, MUSTER_CMD_LIST, fields, &list);
  json_decref(fields);
  if (rc == CLI_OK) {
    cli_print_table(cli, list);
    json_decref(list);
  }
  return CLI_OK;
}

int cli_start(cli_t *cli, int argc, char **argv) {
  json_t *app = json_object();
  json_object_set_new(app, "env", json_object());
  const char *script = NULL, *env_name = NULL, *only = NULL;
  int force = 0, rc = CLI_OK, flags = 0;
  int i;
  for (i = 1; i < argc && rc == CLI_OK; i++) {
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
      force = 1;
    } else if (strcmp(argv[i], "--only") == 0 && val) {
      only = argv[++i];
    } else if (strcmp(argv[i], "--env") == 0 && val && !strchr(val, '=')) {
      env_name = argv[++i]; /* --env production: env_production */
    } else if (argv[i][0] == '-' && argv[i][1]) {
      rc = option(app, argc, argv, &i);
      flags++;
    } else if (script == NULL) {
      script = argv[i];
    } else {
      rc = cli_usage("start: one script (app arguments go after --)");
    }
  }
  if (rc == CLI_OK && script == NULL)
    rc = cli_usage("start: which script, binary or ecosystem file?");
  if (rc == CLI_OK && is_ecosystem(script) && (flags || i < argc))
    rc = cli_usage("start: with an ecosystem file only --only, --env "
                   "<name> and --force apply");
  if (rc == CLI_OK && !is_ecosystem(script) && (only || env_name))
    rc = cli_usage("start: --only and --env <name> need an ecosystem file "
                   "(--env NAME=value sets a variable)");
  if (rc == CLI_OK && names_an_app(script, flags || force || only || env_name,
                                   i < argc)) {
    int acted;
    rc = restart_existing(cli, script, &acted);
    if (rc == CLI_OK && acted) {
      json_decref(app);
      return print_list(cli);
    }
  }
  if (rc != CLI_OK) {
    json_decref(app);
    return rc;
  }
  json_t *args = json_array();
  for (; i < argc; i++)
    json_array_append_new(args, json_string(argv[i]));
  json_object_set_new(app, "args", args);
  json_object_set_new(app, "script", resolve(script));
  json_t *apps = NULL;
  rc = load_apps(script, app, env_name, only, &apps);
  json_decref(app);
  if (rc == CLI_OK)
    rc = cli_connect(cli);
  if (rc == CLI_OK && json_array_size(apps) > 0)
    rc = start_apps(cli, apps, force);
  json_decref(apps);
  if (rc != CLI_OK)
    return rc;
  return print_list(cli);
}
