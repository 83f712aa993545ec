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

/* One line of the table. */
typedef struct {
  long long id, pid, restarts, uptime, memory;
  double cpu;
  const char *name, *ns, *status, *user, *error;
} row_t;

/* The columns of a row view, in the order the daemon names them. */
enum {
  C_ID,
  C_NAME,
  C_NS,
  C_PID,
  C_STATUS,
  C_RESTARTS,
  C_UPTIME,
  C_CPU,
  C_MEMORY,
  C_USER,
  C_ERROR,
  C_COUNT
};
static const char *const columns[C_COUNT] = {
    "pm_id",     "name", "namespace", "pid",      "status", "restart_time",
    "pm_uptime", "cpu",  "memory",    "username", "error"};

static const char *cstr(const json_t *v) {
  const char *s = json_string_value(v);
  return s ? s : "";
}

/* A row of {"columns", "rows"}, an older daemon's row view (where[c]: the
 * index of column c, or -1). */
static void from_row(const json_t *a, const int *where, row_t *r) {
#define COL(c) (where[c] < 0 ? NULL : json_array_get(a, (size_t)where[c]))
  r->id = json_integer_value(COL(C_ID));
  r->name = cstr(COL(C_NAME));
  r->ns = cstr(COL(C_NS));
  r->pid = json_integer_value(COL(C_PID));
  r->status = cstr(COL(C_STATUS));
  r->restarts = json_integer_value(COL(C_RESTARTS));
  r->uptime = json_integer_value(COL(C_UPTIME));
  r->cpu = json_number_value(COL(C_CPU));
  r->memory = json_integer_value(COL(C_MEMORY));
  r->user = cstr(COL(C_USER));
  r->error = cstr(COL(C_ERROR));
#undef COL
}

/* An app object of the jlist shape (a daemon older than the row view). */
static void from_object(const json_t *p, row_t *r) {
  json_t *env = json_object_get(p, "pm2_env");
  json_t *monit = json_object_get(p, "monit");
  *r = (row_t){.id = num(p, "pm_id"),
               .pid = num(p, "pid"),
               .restarts = num(env, "restart_time"),
               .uptime = num(env, "pm_uptime"),
               .memory = num(monit, "memory"),
               .cpu = json_number_value(json_object_get(monit, "cpu")),
               .name = str(p, "name"),
               .ns = str(env, "namespace"),
               .status = str(env, "status"),
               .user = str(env, "username"),
               .error = str(env, "error")};
}

/* Undoes the row view's escapes of one field in place (a backslash
 * before a backslash, a 't' or an 'n'); returns the field. */
static char *unescape_field(char *f) {
  char *in = f, *out = f;
  while (*in) {
    if (*in == '\\' && in[1]) {
      in++;
      *out++ = *in == 't' ? '\t' : *in == 'n' ? '\n' : *in;
      in++;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return f;
}

/* A line of {"columns", "lines"}, split in place. */
static void from_line(char *line, const int *where, row_t *r) {
  char *field[C_COUNT + 1] = {0};
  size_t nf = 0;
  for (char *p = line; nf < C_COUNT + 1;) {
    field[nf++] = p;
    p = strchr(p, '\t');
    if (p == NULL)
      break;
    *p++ = '\0';
  }
  const char *v[C_COUNT];
  for (int c = 0; c < C_COUNT; c++)
    v[c] = where[c] >= 0 && (size_t)where[c] < nf
               ? unescape_field(field[where[c]])
               : "";
  *r = (row_t){.id = strtoll(v[C_ID], NULL, 10),
               .pid = strtoll(v[C_PID], NULL, 10),
               .restarts = strtoll(v[C_RESTARTS], NULL, 10),
               .uptime = strtoll(v[C_UPTIME], NULL, 10),
               .memory = strtoll(v[C_MEMORY], NULL, 10),
               .cpu = strtod(v[C_CPU], NULL),
               .name = v[C_NAME],
               .ns = v[C_NS],
               .status = v[C_STATUS],
               .user = v[C_USER],
               .error = v[C_ERROR]};
}

/* The rows of a list reply, any shape: *rows and *n (and in *text the
 * copy of the lines they point into, or NULL), or -1 when it is none. */
static int table_rows(const json_t *list, row_t **rows, size_t *n,
                      char **text) {
  const json_t *lines = json_object_get(list, "lines");
  const json_t *items =
      json_is_array(list) ? list : json_object_get(list, "rows");
  const json_t *names = json_object_get(list, "columns");
  int where[C_COUNT];
  for (int c = 0; c < C_COUNT; c++) {
    where[c] = -1;
    for (size_t i = 0; i < json_array_size(names); i++)
      if (strcmp(cstr(json_array_get(names, i)), columns[c]) == 0)
        where[c] = (int)i;
  }
  *text = NULL;
  if (json_is_string(lines)) {
    *text = strdup(json_string_value(lines));
    if (*text == NULL)
      return -1;
    *n = 0;
    for (const char *p = *text; (p = strchr(p, '\n')) != NULL; p++)
      ++*n;
  } else if (json_is_array(items)) {
    *n = json_array_size(items);
  } else {
    return -1;
  }
  *rows = calloc(*n ? *n : 1, sizeof **rows);
  if (*rows == NULL) {
    free(*text);
    return -1;
  }
  char *line = *text;
  for (size_t i = 0; i < *n; i++) {
    if (line) {
      char *nl = strchr(line, '\n');
      *nl = '\0';
      from_line(line, where, &(*rows)[i]);
      line = nl + 1;
    } else if (json_is_array(list)) {
      from_object(json_array_get(items, i), &(*rows)[i]);
    } else {
      from_row(json_array_get(items, i), where, &(*rows)[i]);
    }
  }
  return 0;
}

int cli_print_table(cli_t *cli, const json_t *list) {
  const char *green = cli->color ? "\033[32m" : "";
  const char *red = cli->color ? "\033[31m" : "";
  const char *bold = cli->color ? "\033[1m" : "";
  const char *off = cli->color ? "\033[0m" : "";
  row_t *rows;
  size_t n;
  char *text;
  if (table_rows(list, &rows, &n, &text) < 0) {
    fprintf(stderr, "muster: the daemon's list is not a table\n");
    return CLI_FAIL;
  }
  int wname = 4, wns = 9;
  for (size_t i = 0; i < n; i++) {
    int a = (int)strlen(rows[i].name), b = (int)strlen(rows[i].ns);
    wname = a > wname ? a : wname;
    wns = b > wns ? b : wns;
  }
  printf("%s%-4s %-*s %-*s %-6s %-8s %-7s %-4s %-16s %-6s %-9s %s%s\n", bold,
         "id", wname, "name", wns, "namespace", "mode", "pid", "uptime", "↺",
         "status", "cpu", "mem", "user", off);
  long long now = (long long)clock_wall_ms();
  for (size_t i = 0; i < n; i++) {
    const row_t *r = &rows[i];
    int online = strcmp(r->status, "online") == 0;
    char up[32] = "0", mem[32], cpu[32], pid[32] = "0";
    if (online) {
      human_time(up, sizeof up, now - r->uptime);
      snprintf(pid, sizeof pid, "%lld", r->pid);
    }
    human_bytes(mem, sizeof mem, r->memory);
    snprintf(cpu, sizeof cpu, "%.0f%%", r->cpu);
    const char *color =
        online ? green
        : strcmp(r->status, "errored") == 0 || strcmp(r->status, "stopped") == 0
            ? red
            : "";
    printf("%-4lld %-*s %-*s %-6s %-8s %-7s %-4lld %s%-16s%s %-6s %-9s %s\n",
           r->id, wname, r->name, wns, r->ns, "fork", pid, up, r->restarts,
           color, r->status, off, cpu, mem, r->user);
    if (*r->error && !online)
      printf("     %s└ %s%s\n", red, r->error, off);
  }
  free(rows);
  free(text);
  return CLI_OK;
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
  /* Only what the table shows, as rows: no key repeated per app. */
  int rc = list_call(cli, MUSTER_CMD_LIST, "fields", "rows", &list);
  if (rc == CLI_OK) {
    rc = cli_print_table(cli, list);
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
