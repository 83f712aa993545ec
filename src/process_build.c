/* muster_process_exec_path, _version, _versions, _release, _config: the
 * running program and the build of libmuster (see
 * include/muster/process_build.h). The build's options come from a header
 * CMake writes (src/process_build_config.h.in). */
#include "muster/error.h"
#include "muster/process.h"
#include "muster/process_build.h"

#include "process_build_config.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

int muster_process_exec_path(char *buf, size_t *size) {
  char tmp[4096];
  size_t len;
  int r;

  if (buf == NULL || size == NULL || *size == 0)
    return MUSTER_EINVAL;
  /* uv_exepath() truncates silently when buf is short; read into a full
   * buffer so a short one can be told apart and sized. */
  len = sizeof tmp;
  r = uv_exepath(tmp, &len);
  if (r != 0)
    return r;
  if (len + 1 > *size) {
    *size = len + 1;
    return MUSTER_ENOBUFS;
  }
  memcpy(buf, tmp, len + 1);
  *size = len;
  return 0;
}

const char *muster_process_version(void) {
  return "v" MUSTER_VERSION_STRING;
}

int muster_process_versions(muster_versions_t *out) {
  struct utsname u;

  if (out == NULL)
    return MUSTER_EINVAL;
  memset(out, 0, sizeof *out);
  snprintf(out->muster, sizeof out->muster, "%s", MUSTER_VERSION_STRING);
  snprintf(out->uv, sizeof out->uv, "%s", uv_version_string());
  snprintf(out->jansson, sizeof out->jansson, "%s", jansson_version_str());
  if (uname(&u) == 0)
    snprintf(out->kernel, sizeof out->kernel, "%s", u.release);
  return 0;
}

const muster_release_t *muster_process_release(void) {
  static const muster_release_t release = {
      "muster",
      MUSTER_VERSION_STRING,
      MUSTER_BUILD_TYPE,
  };
  return &release;
}

/* "address,undefined" → ["address", "undefined"]. */
static json_t *sanitizer_list(void) {
  json_t *list = json_array();
  const char *p = MUSTER_BUILD_SANITIZE;

  while (list != NULL && *p != '\0') {
    size_t n = strcspn(p, ",; ");
    if (n > 0 && json_array_append_new(list, json_stringn(p, n)) != 0) {
      json_decref(list);
      return NULL;
    }
    p += n;
    p += strspn(p, ",; ");
  }
  return list;
}

static json_t *feature_set(void) {
#ifdef __AVX2__
  const int avx2 = 1;
#else
  const int avx2 = 0;
#endif
#ifdef SYS_pidfd_open
  const int pidfd = 1;
#else
  const int pidfd = 0;
#endif
  return json_pack("{sbsbsbsb}", "avx2", avx2, "fuzz", MUSTER_BUILD_FUZZ,
                   "pidfd", pidfd, "werror", MUSTER_BUILD_WERROR);
}

#define STR2(x) #x
#define STR(x) STR2(x)
#define UV_COMPILED                                                            \
  STR(UV_VERSION_MAJOR) "." STR(UV_VERSION_MINOR) "." STR(UV_VERSION_PATCH)

json_t *muster_process_config(void) {
  char compiler[64];
  const char *id = MUSTER_BUILD_COMPILER;

  /* CMake says "GNU 12.2.0"; people and Node's config say "gcc". */
  if (strncmp(id, "GNU ", 4) == 0)
    snprintf(compiler, sizeof compiler, "gcc %s", id + 4);
  else if (strncmp(id, "Clang ", 6) == 0)
    snprintf(compiler, sizeof compiler, "clang %s", id + 6);
  else
    snprintf(compiler, sizeof compiler, "%s", id);
  return json_pack("{sssssssosossss}", "compiler", compiler, "cflags",
                   MUSTER_BUILD_CFLAGS, "build_type", MUSTER_BUILD_TYPE,
                   "sanitizers", sanitizer_list(), "features", feature_set(),
                   "uv_compiled", UV_COMPILED, "jansson_compiled",
                   JANSSON_VERSION);
}
