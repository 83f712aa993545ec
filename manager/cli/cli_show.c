/* Showing apps: ls (a table like PM2's), jlist, describe, env. */
#include "cli.h"
#include "../clock.h"

#include <muster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long num(const json_t *o, const char *k) {
  return json_integer_value(json_object_get(o, k));
}

static void human_time(char *buf, size_t size, long long ms) {
  long long s = ms / 1000;
  if (s < 60)
    snprintf(buf, size, "%llds", s);
  else if (s < 3600)
    snprintf(buf, size, "%lldm", s / 60);
  else if (s < 86400)
    snprintf(buf, size, "%lldh", s / 3600);
  else
    snprintf(buf, size, "%lldD", s / 86400);
}

static void human_bytes(char *buf, size_t size, long long b) {
  if (b < 1024)
    snprintf(buf, size, "%lldb", b);
  else if (b < 1024 * 1024)
    snprintf(buf, size, "%.1fkb", b / 1024.0);
  else
    snprintf(buf, size, "%.1fmb", b / 1048576.0);
}

void cli_print_table(cli_t *cli, const json_t *list) {
  const char *green = cli->color ? "\033[32m" : "";
  const char *red = cli->color ? "\033[31m" : "";
  const char *bold = cli->color ? "\033[1m" : "";
  const char *off = cli->color ? "\033[0m" : "";
  int wname = 4, wns = 9;
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p) {
    int n = (int)strlen(str(p, "name"));
    int m = (int)strlen(str(json_object_get(p, "pm2_env"), "namespace"));
    wname = n > wname ? n : wname;
    wns = m > wns ? m : wns;
  }
  printf("%s%-4s %-*s %-*s %-6s %-8s %-7s %-4s %-16s %-6s %-9s %s%s\n", bold,
         "id", wname, "name", wns, "namespace", "mode", "pid", "uptime", "↺",
         "status", "cpu", "mem", "user", off);
  long long now = (long long)clock_wall_ms();
  json_array_foreach(list, i, p) {
    json_t *env = json_object_get(p, "pm2_env");
    const char *status = str(env, "status");
    int online = strcmp(status, "online") == 0;
    char up[32] = "0", mem[32], cpu[32], pid[32] = "0";
    if (online) {
      human_time(up, sizeof up, now - num(env, "pm_uptime"));
      snprintf(pid, sizeof pid, "%lld", num(p, "pid"));
    }
    json_t *monit = json_object_get(p, "monit");
    human_bytes(mem, sizeof mem, num(monit, "memory"));
    snprintf(cpu, sizeof cpu, "%.0f%%",
             json_number_value(json_object_get(monit, "cpu")));
    const char *color =
        online ? green
        : strcmp(status, "errored") == 0 || strcmp(status, "stopped") == 0 ? red
                                                                           : "";
    printf("%-4lld %-*s %-*s %-6s %-8s %-7s %-4lld %s%-16s%s %-6s %-9s %s\n",
           num(p, "pm_id"), wname, str(p, "name"), wns, str(env, "namespace"),
           "fork", pid, up, num(env, "restart_time"), color, status, off, cpu,
           mem, str(env, "username"));
    const char *err = str(env, "error");
    if (*err && !online)
      printf("     %s└ %s%s\n", red, err, off);
  }
}

/* `key` = `value` as the request's one argument (none when value is NULL). */
static int list_call(cli_t *cli, muster_client_cmd_t cmd, const char *key,
                     const char *value, json_t **out) {
  json_t *args = value ? json_pack("{s:s}", key, value) : NULL;
  int rc = cli_connect(cli);
  if (rc == CLI_OK)
    rc = cli_call(cli, cmd, args, out);
  json_decref(args);
  return rc;
}

int cli_ls(cli_t *cli, int argc, char **argv) {
  (void)argv;
  if (argc != 1)
    return cli_usage("%s takes no argument", argv[0]);
  json_t *list;
  /* Only what the table shows: a third of the bytes with 1,000 apps. */
  int rc = list_call(cli, MUSTER_CMD_LIST, "fields", "table", &list);
  if (rc == CLI_OK) {
    cli_print_table(cli, list);
    json_decref(list);
  }
  return rc;
}

int cli_jlist(cli_t *cli, int argc, char **argv) {
  (void)argv;
  if (argc != 1)
    return cli_usage("jlist takes no argument");
  json_t *list;
  int rc = list_call(cli, MUSTER_CMD_LIST, NULL, NULL, &list);
  if (rc == CLI_OK) {
    json_dumpf(list, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(list);
  }
  return rc;
}

static void print_value(const char *k, const json_t *v) {
  if (json_is_string(v)) {
    printf("  %-26s %s\n", k, json_string_value(v));
  } else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("  %-26s %s\n", k, s ? s : "?");
    free(s);
  }
}

/* describe and env: the instances one target names. */
static int describe_call(cli_t *cli, int argc, char **argv, json_t **list) {
  if (argc != 2)
    return cli_usage("usage: muster %s <app>", argv[0]);
  return list_call(cli, MUSTER_CMD_DESCRIBE, "target", argv[1], list);
}

int cli_describe(cli_t *cli, int argc, char **argv) {
  json_t *list;
  int rc = describe_call(cli, argc, argv, &list);
  if (rc != CLI_OK)
    return rc;
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p) {
    json_t *env = json_object_get(p, "pm2_env");
    printf("%s (id %lld)\n", str(p, "name"), num(p, "pm_id"));
    print_value("pid", json_object_get(p, "pid"));
    print_value("memory",
                json_object_get(json_object_get(p, "monit"), "memory"));
    print_value("cpu", json_object_get(json_object_get(p, "monit"), "cpu"));
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
      if (strcmp(k, "env") == 0)
        continue;
      if (strcmp(k, "env_source") == 0 &&
          strcmp(str(v, "from"), "update-env") == 0) {
        printf("  %-26s updated by --update-env (%lld)\n", "environment",
               num(v, "at"));
        continue;
      }
      if (strcmp(k, "env_source") == 0) {
        printf("  %-26s as given at start\n", "environment");
        continue;
      }
      print_value(k, v);
    }
  }
  json_decref(list);
  return CLI_OK;
}

int cli_env(cli_t *cli, int argc, char **argv) {
  json_t *list;
  int rc = describe_call(cli, argc, argv, &list);
  if (rc != CLI_OK)
    return rc;
  json_t *env = json_object_get(
      json_object_get(json_array_get(list, 0), "pm2_env"), "env");
  const char *k;
  json_t *v;
  json_object_foreach(env, k, v) printf("%s=%s\n", k, json_string_value(v));
  json_decref(list);
  return CLI_OK;
}
