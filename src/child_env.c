/* The child's environment: the parent's extended by options.env, or exactly
 * options.env; then the IPC variables, which always win. */
#include "child_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Length of the name part of "NAME=value" (or of "NAME"). */
static size_t name_len(const char *s) {
  const char *eq = strchr(s, '=');
  return eq ? (size_t)(eq - s) : strlen(s);
}

static int same_name(const char *a, const char *b) {
  size_t n = name_len(a);
  return n == name_len(b) && memcmp(a, b, n) == 0;
}

/* Sets or removes (no '=') `entry` in env[0..*n), which has room. */
static void env_apply(const char **env, size_t *n, const char *entry) {
  for (size_t i = 0; i < *n; i++) {
    if (!same_name(env[i], entry))
      continue;
    if (strchr(entry, '=') != NULL) {
      env[i] = entry;
    } else {
      memmove(&env[i], &env[i + 1], (*n - i - 1) * sizeof *env);
      (*n)--;
    }
    return;
  }
  if (strchr(entry, '=') != NULL)
    env[(*n)++] = entry;
}

static size_t count(const char *const *v) {
  size_t n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  return n;
}

/* The result is one allocation: the pointer array, then the strings. */
int muster__child_env(const muster_spawn_options_t *o, int ipc_slot,
                      char ***out) {
  char ipc_fd[32] = "", ipc_mode[] = "NODE_CHANNEL_SERIALIZATION_MODE=json";
  const char **tmp;
  size_t n = 0, cap, bytes = 0;

  if (ipc_slot >= 0)
    snprintf(ipc_fd, sizeof ipc_fd, "NODE_CHANNEL_FD=%d", ipc_slot);
  cap = count(o->env) + 3;
  if (o->env_mode == MUSTER_ENV_EXTEND)
    cap += count((const char *const *)environ);
  tmp = malloc(cap * sizeof *tmp);
  if (tmp == NULL)
    return MUSTER_ENOMEM;

  if (o->env_mode == MUSTER_ENV_EXTEND) {
    for (char **e = environ; e != NULL && *e != NULL; e++)
      if (strchr(*e, '=') != NULL)
        tmp[n++] = *e;
  }
  for (const char *const *e = o->env; e != NULL && *e != NULL; e++) {
    if (o->env_mode == MUSTER_ENV_EXTEND)
      env_apply(tmp, &n, *e);
    else if (strchr(*e, '=') != NULL)
      tmp[n++] = *e;
  }
  if (ipc_slot >= 0) {
    env_apply(tmp, &n, ipc_fd);
    env_apply(tmp, &n, ipc_mode);
  }

  for (size_t i = 0; i < n; i++)
    bytes += strlen(tmp[i]) + 1;
  char **env = malloc((n + 1) * sizeof *env + bytes);
  if (env == NULL) {
    free(tmp);
    return MUSTER_ENOMEM;
  }
  char *p = (char *)(env + n + 1);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(tmp[i]) + 1;
    memcpy(p, tmp[i], len);
    env[i] = p;
    p += len;
  }
  env[n] = NULL;
  free(tmp);
  *out = env;
  return 0;
}
