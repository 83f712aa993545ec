/* save / resurrect.
 *
 * The dump holds each app's declared spec (the attributes given to
 * `start`, its "env" included) and never the environment the CLI ran in:
 * PM2 stores the whole shell environment, secrets included.
 *
 * Writing: the new text goes to a temporary file next to the dump, is
 * fsync'd, then renamed over dump.json, and the directory fsync'd. Before
 * that, the current dump is hard-linked as dump.json.1 (the older .1
 * renamed to .2), so dump.json itself is never missing: at every instant
 * it is either the old complete file or the new complete file, whatever
 * kills the daemon or fills the disk. */
#include "dump.h"
#include "dump_record.h"
#include "registry.h"
#include "../clock.h"
#include "../config/spec.h"

#include <muster.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int fsync_dir(const char *path) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int r = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int dump_write_file(const char *path, const char *text, size_t len) {
  char tmp[PATH_MAX], g1[PATH_MAX], g2[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
          (int)sizeof tmp ||
      snprintf(g1, sizeof g1, "%s.1", path) >= (int)sizeof g1 ||
      snprintf(g2, sizeof g2, "%s.2", path) >= (int)sizeof g2)
    return MUSTER_ENAMETOOLONG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int r = write_all(fd, text, len);
  if (r == 0 && fsync(fd) < 0)
    r = -errno;
  if (close(fd) < 0 && r == 0)
    r = -errno;
  if (r < 0) {
    unlink(tmp);
    return r;
  }
  /* Keep two older generations; dump.json stays in place meanwhile. */
  if (access(path, F_OK) == 0) {
    if (rename(g1, g2) < 0 && errno != ENOENT) {
      r = -errno;
      unlink(tmp);
      return r;
    }
    if (link(path, g1) < 0 && errno != EEXIST) {
      r = -errno;
      unlink(tmp);
      return r;
    }
  }
  if (rename(tmp, path) < 0) {
    r = -errno;
    unlink(tmp);
    return r;
  }
  return fsync_dir(path);
}

void dump_save(registry_t *r, const home_t *h, ctl_req_t *req, int force) {
  json_t *apps = registry_specs(r);
  size_t n = json_array_size(apps);
  if (n == 0 && !force) {
    json_decref(apps);
    ctl_reply(req, MUSTER_EINVAL,
              "save: no app to save; `muster save --force` saves an empty "
              "list over the dump",
              NULL);
    return;
  }
  size_t len;
  char *text = dump_record_encode(apps, (int64_t)clock_wall_ms(), &len);
  json_decref(apps);
  if (text == NULL) {
    ctl_reply(req, MUSTER_ENOMEM, NULL, NULL);
    return;
  }
  int e = dump_write_file(h->dump, text, len);
  free(text);
  if (e < 0) {
    ctl_replyf(req, e, "save: %s: %s (%s); the previous dump is unchanged",
               h->dump, muster_err_name(e), muster_strerror(e));
    return;
  }
  ctl_reply(req, 0, NULL,
            json_pack("{s:s, s:i}", "path", h->dump, "apps", (int)n));
}

/* The newest generation that parses as a dump; *from says which. */
static json_t *load(const home_t *h, char *from, size_t fromlen, char *err,
                    size_t errlen) {
  const char *sfx[] = {"", ".1", ".2"};
  err[0] = '\0';
  for (size_t i = 0; i < 3; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", h->dump, sfx[i]);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
      if (err[0] == '\0')
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
                 je.text);
      continue;
    }
    char why[PATH_MAX + 64];
    if (dump_record_apps(doc, path, why, sizeof why) == NULL) {
      if (err[0] == '\0')
        snprintf(err, errlen, "%s", why);
      json_decref(doc);
      continue;
    }
    snprintf(from, fromlen, "%s", path);
    return doc;
  }
  return NULL;
}

/* Asks the user database for every user and group of the dump's apps
 * at once: 1 while an answer is not known yet. */
static int asking(const json_t *doc) {
  size_t i;
  json_t *spec;
  int any = 0;
  char why[256];
  spec_cred_t c;
  json_array_foreach(json_object_get(doc, "apps"), i, spec) {
    if (spec_credentials(spec, &c, why, sizeof why) == MUSTER_EAGAIN)
      any = 1;
  }
  return any;
}

int dump_resurrect(registry_t *r, const home_t *h, ctl_req_t *req) {
  char from[PATH_MAX], err[1024];
  json_t *doc = load(h, from, sizeof from, err, sizeof err);
  if (doc == NULL) {
    ctl_replyf(req, MUSTER_ENOENT, "resurrect: no readable dump: %s", err);
    return 0;
  }
  if (asking(doc)) {
    json_decref(doc);
    return MUSTER_EAGAIN;
  }
  json_t *started = json_array(), *skipped = json_array(),
         *warnings = json_array(), *failed = json_array();
  size_t i;
  json_t *spec;
  json_array_foreach(json_object_get(doc, "apps"), i, spec) {
    const char *name = json_string_value(json_object_get(spec, "name"));
    if (name && registry_has_name(r, name)) {
      json_array_append_new(skipped, json_string(name));
      continue;
    }
    if (registry_start_spec(r, spec, NULL, 0, started, warnings, err,
                            sizeof err) < 0)
      json_array_append_new(
          failed, json_pack("{s:s?, s:s}", "name", name, "error", err));
  }
  json_decref(doc);
  ctl_reply(req, 0, NULL,
            json_pack("{s:s, s:o, s:o, s:o, s:o}", "from", from, "started",
                      started, "skipped", skipped, "failed", failed, "warnings",
                      warnings));
  return 0;
}
