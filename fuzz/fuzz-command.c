/* Fuzz target for the way from a request line to what the daemon acts on:
 * the line decoded as the control socket decodes it (muster/client.h),
 * its arguments read by manager/daemon/cmdargs.c (targets, signals,
 * numbers, options, environments), and for `start` each app spec checked
 * by manager/config/spec.c, as commands.c and registry.c do before
 * anything starts or stops. Any bytes give a command to run or an error
 * with a sentence; what is accepted holds what the daemon relies on. */
#include <muster.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../manager/daemon/cmdargs.h"
#include "spec_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NULL, or an object of strings whose names are not empty and have no
 * '=': each becomes "name=value" in an app's environment. */
static void check_env(const json_t *env) {
  const char *k;
  json_t *v;
  if (env == NULL)
    return;
  if (!json_is_object(env))
    abort();
  json_object_foreach((json_t *)env, k, v) {
    if (*k == '\0' || strchr(k, '=') || json_string_value(v) == NULL)
      abort();
  }
}

static void check_target(const cmdargs_target_t *t) {
  if (t->text == NULL || *t->text == '\0' ||
      t->all != (strcmp(t->text, "all") == 0))
    abort();
  size_t n = strlen(t->text);
  int digits = strspn(t->text, "0123456789") == n;
  if (t->id >= 0 ? !digits || n > 9 || atoi(t->text) != t->id
                 : digits && n <= 9)
    abort();
}

static void check(const cmdargs_t *a) {
  switch (a->cmd) {
  case MUSTER_CMD_START: {
    if ((a->app == NULL) == (a->apps == NULL))
      abort();
    check_env(a->env);
    if (a->app != NULL)
      spec_check(a->app);
    size_t i;
    json_t *app;
    json_array_foreach(a->apps, i, app) {
      if (!json_is_object(app))
        abort();
      spec_check(app);
    }
    break;
  }
  case MUSTER_CMD_RESTART:
  case MUSTER_CMD_RELOAD:
    check_env(a->env);
    check_env(a->set_env);
    check_target(&a->target);
    break;
  case MUSTER_CMD_SIGNAL:
    if (a->signo < 1 || a->signo > 31 || muster_signal_name(a->signo) == NULL)
      abort();
    check_target(&a->target);
    break;
  case MUSTER_CMD_STOP:
  case MUSTER_CMD_DELETE:
  case MUSTER_CMD_RESET:
  case MUSTER_CMD_DESCRIBE:
  case MUSTER_CMD_FLUSH:
    check_target(&a->target);
    break;
  case MUSTER_CMD_LIST:
    if (a->fields != CMDARGS_FULL && a->fields != CMDARGS_TABLE &&
        a->fields != CMDARGS_ROWS)
      abort();
    break;
  case MUSTER_CMD_LOGS:
    check_target(&a->target);
    if (a->lines < 0 || a->lines > 10000000 || a->streams < 1 ||
        a->streams > 3 || (a->follow != 0 && a->follow != 1))
      abort();
    break;
  default:
    if (a->target.text != NULL)
      abort();
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  muster_client_request_t req;
  if (muster_client_request_decode((const char *)data, size, &req) != 0) {
    muster_client_request_clear(&req);
    return 0;
  }
  json_t *args = req.args ? json_incref(req.args) : json_object();
  cmdargs_t a;
  char err[256] = "";
  int r = cmdargs_decode(req.cmd, args, &a, err, sizeof err);
  if (r == 0)
    check(&a);
  else if (r != MUSTER_EINVAL || err[0] == '\0')
    abort();
  json_decref(args);
  muster_client_request_clear(&req);
  return 0;
}
