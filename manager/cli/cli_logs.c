/* `logs`: the lines the daemon streams (MUSTER_CMD_LOGS), printed as they
 * come: raw, with the app in front when there are several, with a time
 * (--timestamp [format], PM2's), or as JSON lines (--json); --highlight
 * TEXT colours each TEXT in the messages on a terminal (PM2's).
 *
 * With --follow the command runs until the daemon goes, Ctrl-C, or the
 * reader of stdout goes: `muster logs --follow | head -3` must end as
 * soon as head does, even when no line comes to find the broken pipe,
 * so the wait polls stdout too (a pipe whose reader closed reports
 * POLLERR), as GNU tail -f does. */
#include "cli.h"

#include <muster.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* PM2's default for `logs --timestamp`. */
#define TIME_FORMAT "YYYY-MM-DD-HH:mm:ss"

typedef struct {
  int json, raw;
  const char *timestamp; /* the format, or NULL */
  const char *highlight; /* the text, or NULL */
  int color;             /* stdout is a terminal */
  int prefix;            /* several apps or instances: say which */
} view_t;

static void print_iso(int64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char buf[64];
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  printf("\"%s.%03dZ\"", buf, (int)(ms % 1000));
}

/* The message, with each `highlight` in it coloured as PM2 does (chalk's
 * bgBlackBright) when stdout is a terminal. */
static void print_message(const view_t *v, const char *p, size_t n) {
  size_t hl = v->highlight && v->color ? strlen(v->highlight) : 0;
  while (hl > 0 && n >= hl) {
    const char *m = memmem(p, n, v->highlight, hl);
    if (m == NULL)
      break;
    fwrite(p, 1, (size_t)(m - p), stdout);
    printf("\033[100m%s\033[49m", v->highlight);
    n -= (size_t)(m - p) + hl;
    p = m + hl;
  }
  fwrite(p, 1, n, stdout);
}

static void print_line(const view_t *v, const json_t *l) {
  const char *app = json_string_value(json_object_get(l, "app"));
  const char *stream = json_string_value(json_object_get(l, "stream"));
  json_t *msg = json_object_get(l, "message");
  json_t *time = json_object_get(l, "time");
  if (v->json) {
    json_t *o = json_pack("{s:n, s:s?, s:O?, s:s?, s:O?}", "time", "app", app,
                          "instance", json_object_get(l, "instance"), "stream",
                          stream, "message", msg);
    char *text = NULL;
    if (o && json_is_integer(time)) {
      /* time first, as in the files' JSON layout */
      printf("{\"time\":");
      print_iso(json_integer_value(time));
      json_object_del(o, "time");
      text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
      printf(",%s\n", text ? text + 1 : "}");
    } else if (o) {
      text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
      printf("%s\n", text ? text : "{}");
    }
    free(text);
    json_decref(o);
    return;
  }
  char stamp[256];
  if (v->timestamp && json_is_integer(time) &&
      muster_logfile_format_time(v->timestamp, json_integer_value(time), stamp,
                                 sizeof stamp) > 0)
    printf("%s: ", stamp);
  if (v->prefix && !v->raw)
    printf("%lld|%s |%s ",
           (long long)json_integer_value(json_object_get(l, "pm_id")),
           app ? app : "?", stream && strcmp(stream, "err") == 0 ? "err|" : "");
  print_message(v, json_string_value(msg), json_string_length(msg));
  putchar('\n');
}

/* One partial or last reply. */
static void show(view_t *v, const json_t *result) {
  json_t *apps = json_object_get(result, "apps");
  if (apps)
    v->prefix = json_array_size(apps) > 1 ||
                json_integer_value(json_object_get(result, "instances")) > 1;
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(result, "lines"), i, l) print_line(v, l);
  fflush(stdout);
  json_int_t dropped = json_integer_value(json_object_get(result, "dropped"));
  if (dropped > 0 && json_object_get(result, "lines"))
    fprintf(stderr,
            "muster: logs: %lld lines dropped (this reader fell behind)\n",
            (long long)dropped);
}

/* Waits for the next reply or the end of stdout's reader: 1 when stdout's
 * reader is gone, 0 when a reply can be read, < 0 on a timeout. */
static int wait_reply(cli_t *cli, int timeout_ms) {
  if (muster_client_pending(cli->client))
    return 0;
  struct pollfd p[2] = {{.fd = muster_client_fd(cli->client), .events = POLLIN},
                        {.fd = STDOUT_FILENO, .events = 0}};
  for (;;) {
    int n = poll(p, 2, timeout_ms ? timeout_ms : -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      return MUSTER_ETIMEDOUT;
    if (p[1].revents & (POLLERR | POLLHUP))
      return 1;
    return 0;
  }
}

static int stream(cli_t *cli, view_t *v, json_t *args, int follow) {
  uint64_t id;
  int r = muster_client_send(cli->client, MUSTER_CMD_LOGS, args,
                             cli->timeout_ms, &id);
  while (r == 0) {
    /* Between lines a follower may wait forever; a reply once begun,
     * or the first one, has the call's timeout. */
    int w = wait_reply(cli, follow ? 0 : cli->timeout_ms);
    if (w == 1)
      return CLI_OK;
    muster_client_reply_t rep;
    r = w < 0 ? w : muster_client_next(cli->client, cli->timeout_ms, &rep);
    if (r < 0)
      break;
    if (rep.error) {
      fprintf(stderr, "muster: %s\n", rep.message);
      muster_client_reply_clear(&rep);
      return CLI_FAIL;
    }
    int last = rep.id == id && !rep.more;
    if (rep.id == id)
      show(v, rep.result);
    muster_client_reply_clear(&rep);
    if (last)
      return CLI_OK;
  }
  if (r == MUSTER_ETIMEDOUT)
    fprintf(stderr,
            "muster: logs: the daemon did not answer within %d ms "
            "(--timeout)\n",
            cli->timeout_ms);
  else if (cli_lost(r))
    fprintf(stderr,
            "muster: logs: the daemon went away before the end of the "
            "stream (%s)\n",
            muster_err_name(r));
  else
    fprintf(stderr, "muster: logs: %s (%s)\n", muster_err_name(r),
            muster_strerror(r));
  return CLI_FAIL;
}

/* Whether `w`, the word after --timestamp, is its format (PM2's option
 * takes one when given) rather than the app: it holds a '%', or is made
 * of moment.js tokens and other characters than letters ("HH:mm:ss"). */
static int is_time_format(const char *w) {
  static const char *const tokens[] = {"YYYY", "SSS", "MMM", "ddd", "YY", "MM",
                                       "DD",   "HH",  "hh",  "mm",  "ss", "ZZ",
                                       "Z",    "A"};
  int found = 0;
  if (strchr(w, '%'))
    return 1;
  while (*w) {
    size_t k, n = 0;
    for (k = 0; k < sizeof tokens / sizeof tokens[0]; k++)
      if (strncmp(w, tokens[k], n = strlen(tokens[k])) == 0)
        break;
    if (k < sizeof tokens / sizeof tokens[0]) {
      found = 1;
      w += n;
    } else if (isalpha((unsigned char)*w)) {
      return 0;
    } else {
      w++;
    }
  }
  return found;
}

int cli_logs(cli_t *cli, int argc, char **argv) {
  const char *target = NULL, *streams = "all";
  long long lines = 15;
  int follow = 0;
  view_t v = {.color = cli->color};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--lines") == 0) {
      if (cli_number("--lines", i + 1 < argc ? argv[i + 1] : NULL, 10000000,
                     &lines) != CLI_OK)
        return CLI_USAGE;
      i++;
    } else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
      follow = 1;
    } else if (strcmp(a, "--nostream") == 0) {
      follow = 0;
    } else if (strcmp(a, "--err") == 0 || strcmp(a, "--out") == 0) {
      streams = a + 2;
    } else if (strcmp(a, "--json") == 0) {
      v.json = 1;
    } else if (strcmp(a, "--timestamp") == 0) {
      v.timestamp = TIME_FORMAT;
      if (i + 1 < argc && is_time_format(argv[i + 1]))
        v.timestamp = argv[++i];
    } else if (strncmp(a, "--timestamp=", 12) == 0) {
      v.timestamp = a + 12;
      if (*v.timestamp == '\0')
        return cli_usage("logs: --timestamp= needs a format");
    } else if (strcmp(a, "--highlight") == 0 ||
               strncmp(a, "--highlight=", 12) == 0) {
      v.highlight = a[11] == '=' ? a + 12
                    : i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i]
                                                            : "";
      if (*v.highlight == '\0')
        return cli_usage("logs: --highlight needs a text");
    } else if (strcmp(a, "--raw") == 0) {
      v.raw = 1;
    } else if (a[0] == '-') {
      return cli_usage("logs: unknown option %s", a);
    } else if (target == NULL) {
      target = a;
    } else {
      return cli_usage("logs: one app (an id, a name, a namespace or all)");
    }
  }
  char probe[256];
  if (v.timestamp && muster_logfile_format_time(v.timestamp, 0, probe,
                                                sizeof probe) < 0)
    return cli_usage("logs: --timestamp \"%s\": the time would be empty or "
                     "longer than 255 bytes",
                     v.timestamp);
  int rc = cli_connect(cli);
  if (rc != CLI_OK)
    return rc;
  json_t *args = json_pack("{s:s, s:I, s:s, s:b}", "target",
                           target ? target : "all", "lines", (json_int_t)lines,
                           "stream", streams, "follow", follow);
  if (args == NULL)
    return cli_usage("logs: the app name is not UTF-8");
  rc = stream(cli, &v, args, follow);
  json_decref(args);
  return rc;
}
