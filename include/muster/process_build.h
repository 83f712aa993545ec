/* This program and the build of libmuster it runs on: Node's
 * process.execPath, process.version, process.versions, process.release and
 * process.config.
 *
 *   muster_process_exec_path()  absolute path of the running program
 *   muster_process_version()    "v0.1.0": libmuster's version, Node's style
 *   muster_process_versions()   libmuster, libuv, jansson and the kernel
 *   muster_process_release()    name, version and build type
 *   muster_process_config()     the build's options as a JSON object
 *
 * Every function here may be called from any thread and needs no loop.
 * Design notes: docs/process.md. */
#ifndef MUSTER_PROCESS_BUILD_H
#define MUSTER_PROCESS_BUILD_H

#include <jansson.h>
#include <stddef.h>

#include "common.h"

/* Copies the absolute path of the running program (what /proc/self/exe
 * names: symlinks resolved, the file that was executed) into buf,
 * NUL-terminated. *size works as for muster_process_getenv(): on entry
 * buf's size; on success the path's length; on MUSTER_ENOBUFS the size
 * needed (NUL counted).
 * Errors: MUSTER_EINVAL (NULL arguments, *size 0), MUSTER_ENOBUFS,
 * MUSTER_ENOENT (/proc is not mounted, or the file was deleted). */
MUSTER_EXTERN int muster_process_exec_path(char *buf, size_t *size);

/* "v" and MUSTER_VERSION_STRING, as Node writes process.version. Static
 * string. */
MUSTER_EXTERN const char *muster_process_version(void);

/* The versions libmuster runs with: its own, and those of the libuv and
 * jansson it is linked against (read at run time, so a newer shared
 * library shows), and the kernel's release (uname -r). */
typedef struct {
  char muster[16];
  char uv[16];
  char jansson[16];
  char kernel[65];
} muster_versions_t;

/* Fills *out. Errors: MUSTER_EINVAL (NULL out). */
MUSTER_EXTERN int muster_process_versions(muster_versions_t *out);

/* Node's process.release: what was built. Static strings. */
typedef struct {
  const char *name;       /* "muster" */
  const char *version;    /* "0.1.0" */
  const char *build_type; /* CMake's: "RelWithDebInfo", "Debug", ... */
} muster_release_t;

/* The release. Never NULL; static. */
MUSTER_EXTERN const muster_release_t *muster_process_release(void);

/* The build's options, as Node's process.config: a new JSON object the
 * caller owns (json_decref it), or NULL when out of memory. Members:
 *   "compiler"      "gcc 12.2.0", "clang 14.0.6"
 *   "cflags"        the flags libmuster was compiled with
 *   "build_type"    as in muster_process_release()
 *   "sanitizers"    array of names ("address", "undefined", "thread")
 *   "features"      object of booleans: what this build compiled in
 *                   ("avx2", "fuzz", "pidfd", "werror")
 *   "uv_compiled", "jansson_compiled"  header versions built against. */
MUSTER_EXTERN json_t *muster_process_config(void);

#endif
